"""The audit trail: one vocabulary of actions, one function that records them.

Every write, every read of a full ID number and every download leaves an
:class:`~popreg.registry.models.AuditRecord` through :func:`audit`.  The action is a
member of :class:`AuditAction`, never a free string, so the audit-log page can label and
filter every record in both languages and a test can check that each action is documented
(``docs/audit.md``).

The records form a hash chain (:mod:`popreg.registry.audit_chain`): each append locks the
chain, links to the last record and is refused by the database if anyone later tries to
change or delete it (:mod:`popreg.registry.append_only`).

Labels are English message ids; the Chinese text is in the ``web`` catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from popreg.registry.audit_chain import chain, lock_chain
from popreg.registry.models import AuditRecord

if TYPE_CHECKING:
    from popreg.registry.access import Actor


class AuditAction(models.TextChoices):
    """What an audit record says was done.  The value is stored; the label is shown."""

    # registry: persons and their events
    REGISTER_BIRTH = "register_birth", _("Registered a birth")
    REGISTER_DEATH = "register_death", _("Registered a death")
    MOVE_IN = "move_in", _("Registered a move in")
    MOVE_OUT = "move_out", _("Registered a move out")
    TRANSFER = "transfer", _("Registered a transfer within the county")
    REGISTER_MARRIAGE = "register_marriage", _("Registered a marriage")
    REGISTER_DIVORCE = "register_divorce", _("Registered a divorce")
    REGISTER_ENLISTMENT = "register_enlistment", _("Registered an enlistment")
    REGISTER_DISCHARGE = "register_discharge", _("Registered a discharge")
    CORRECT_PERSON = "correct_person", _("Corrected a person record")
    CREATE_HOUSEHOLD = "create_household", _("Created a household")
    SET_HOUSEHOLD_HEAD = "set_household_head", _("Changed the head of a household")
    SUCCEED_UNITS = "succeed_units", _("Recorded a unit succession")
    UNIT_SUCCESSION_PERSON = "unit_succession_person", _("Moved a person to a successor unit")
    IMPORT_PERSONS = "import_persons", _("Imported persons from a file")
    LOAD_SNAPSHOT = "load_snapshot", _("Loaded a snapshot into the registry")
    REPAIR_HISTORY = "repair_history", _("Repaired a person's stored state from its history")
    # reads of personal data and downloads
    VIEW_ID_NUMBER = "view_id_number", _("Viewed a full ID number")
    READ_ID_NUMBER = "read_id_number", _("Read a full ID number through the API")
    CHECK_ID_ELSEWHERE = "check_id_elsewhere", _(
        "Checked an ID number registered outside the jurisdiction"
    )
    BULK_ID_CHECK = "bulk_id_check", _("Checked ID numbers of a file against the registry")
    ENTRY_CHECK_ELSEWHERE = "entry_check_elsewhere", _(
        "Was told that a likely existing record lies outside the jurisdiction"
    )
    EXPORT_PERSONS = "export_persons", _("Exported a person list")
    EXPORT_STATISTICS = "export_statistics", _("Exported statistics")
    EXPORT_SCORECARDS = "export_scorecards", _("Exported assessment scorecards")
    EXPORT_DUPLICATE_LABELS = "export_duplicate_labels", _("Exported duplicate review decisions")
    EXPORT_FILE = "export_file", _("Downloaded a file")
    EXPORT_AUDIT_LOG = "export_audit_log", _("Exported audit records")
    # full-ID exports that need a second person (registry/actions/exports.py)
    REQUEST_FULL_ID_EXPORT = "request_full_id_export", _("Asked for a full-ID person list")
    APPROVE_FULL_ID_EXPORT = "approve_full_id_export", _("Approved a full-ID person list")
    # background jobs
    START_JOB = "start_job", _("Started a background job")
    CANCEL_JOB = "cancel_job", _("Cancelled a background job")
    RETRY_JOB = "retry_job", _("Retried a background job")
    # signing in and out (popreg.registry.auth_audit)
    LOGIN = "login", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Failed to sign in")
    LOGOUT = "logout", _("Signed out")
    # users and roles
    ASSIGN_ROLE = "assign_role", _("Assigned a role and jurisdiction")
    CREATE_USER = "create_user", _("Created a user")
    CHANGE_USER = "change_user", _("Changed a user account")
    DEACTIVATE_USER = "deactivate_user", _("Deactivated a user")
    RESET_PASSWORD = "reset_password", _("Reset a user's password")
    CREATE_API_TOKEN = "create_api_token", _("Created an API token")
    REVOKE_API_TOKEN = "revoke_api_token", _("Revoked an API token")
    # linkage
    START_DEDUP_RUN = "start_dedup_run", _("Started a duplicate search")
    DECIDE_DUPLICATE = "decide_duplicate", _("Decided a suspected duplicate")
    REOPEN_DUPLICATE = "reopen_duplicate", _("Reopened a duplicate decision")
    MERGE_PERSONS = "merge_persons", _("Merged duplicate records")
    UNMERGE_PERSONS = "unmerge_persons", _("Undid a merge")
    CONFIRM_NEW_PERSON = "confirm_new_person", _(
        "Confirmed a new person although likely existing records were shown"
    )
    # statistics
    STATS_REFRESH = "stats_refresh", _("Refreshed the statistics")
    STATS_DSE = "stats_dse", _("Computed a dual-system estimate")
    # closed statistical periods (popreg.stats.period_actions)
    CLOSE_PERIOD = "close_period", _("Closed a statistical period and published its figures")
    APPROVE_PERIOD = "approve_period", _("Approved the closing of a statistical period")
    SAVE_RULE_SET = "save_rule_set", _("Saved assessment scoring rules")
    SAVE_TARGETS = "save_targets", _("Saved yearly targets")
    CREATE_RECONCILIATION_ITEMS = "create_reconciliation_items", _(
        "Created reconciliation follow-up items"
    )
    SETTLE_RECONCILIATION_ITEM = "settle_reconciliation_item", _(
        "Settled a reconciliation item"
    )
    # verification campaigns
    CAMPAIGN_CREATE = "campaign_create", _("Created a campaign")
    CAMPAIGN_ADVANCE_PHASE = "campaign_advance_phase", _("Moved a campaign to its next phase")
    CAMPAIGN_GENERATE_ITEMS = "campaign_generate_items", _("Generated campaign items")
    CAMPAIGN_RECORD_OUTCOME = "campaign_record_outcome", _("Recorded a field check outcome")
    CAMPAIGN_RECORD_FOUND_PERSON = "campaign_record_found_person", _(
        "Recorded a person found in the field"
    )
    CAMPAIGN_UPLOAD_WORKBOOK = "campaign_upload_workbook", _("Uploaded a field workbook")
    CAMPAIGN_RESOLVE_ITEM = "campaign_resolve_item", _("Resolved a campaign item")
    CAMPAIGN_REJECT_ITEM = "campaign_reject_item", _("Rejected a campaign item")
    CAMPAIGN_UPDATE_ITEM = "campaign_update_item", _("Updated a campaign item")
    CAMPAIGN_DRAW_SPOT_CHECK = "campaign_draw_spot_check", _("Drew a spot-check sample")
    CAMPAIGN_RECORD_SPOT_CHECK = "campaign_record_spot_check", _("Recorded a spot-check result")
    CAMPAIGN_SIGN_OFF = "campaign_sign_off", _("Signed off a campaign")
    CAMPAIGN_EXPORT_WORKBOOK = "campaign_export_workbook", _("Exported a field workbook")
    CAMPAIGN_EXPORT_FIELD_LIST = "campaign_export_field_list", _("Exported a field list")
    CAMPAIGN_EXPORT_SUMMARY = "campaign_export_summary", _("Exported a campaign summary")
    # migrants (popreg.migrants)
    MIGRANT_REGISTER = "migrant_register", _("Registered an in-migrant")
    MIGRANT_MOVE = "migrant_move", _("Recorded an in-migrant's change of address")
    MIGRANT_DEPART = "migrant_depart", _("Recorded an in-migrant's departure")
    MIGRANT_PERMIT_DECIDE = "migrant_permit_decide", _("Decided a residence permit application")
    MIGRANT_PERMIT_RENEW = "migrant_permit_renew", _("Renewed a residence permit")
    MIGRANT_WHEREABOUTS = "migrant_whereabouts", _("Recorded an out-migrant's whereabouts")
    MIGRANT_PLACE_SAVE = "migrant_place_save", _("Registered or changed a rental place or employer")
    MIGRANT_OCCUPANT = "migrant_occupant", _("Recorded a tenant or worker of a place")
    MIGRANT_IMPORT = "migrant_import", _("Imported in-migrants from a file")
    MIGRANT_SYNC = "migrant_sync", _("Created migrant records from loaded persons")
    # exchange between deployments (popreg.exchange)
    EXCHANGE_IDENTITY = "exchange_identity", _("Created or changed this deployment's exchange identity")
    EXCHANGE_TRUST_PEER = "exchange_trust_peer", _("Trusted another county's deployment")
    EXCHANGE_DELIVER = "exchange_deliver", _("Delivered exchange messages")
    EXCHANGE_EXPORT_BUNDLE = "exchange_export_bundle", _("Exported an exchange bundle")
    EXCHANGE_IMPORT_BUNDLE = "exchange_import_bundle", _("Imported an exchange bundle")
    EXCHANGE_REFUSE = "exchange_refuse", _("Refused an exchange message or bundle")
    EXCHANGE_REQUEUE = "exchange_requeue", _("Queued failed exchange messages again")
    EXCHANGE_ORIGIN_CONFIRMED = "exchange_origin_confirmed", _("Recorded that the place of registration confirmed an in-migrant")
    EXCHANGE_REVIEW_ACCEPT = "exchange_review_accept", _("Accepted a candidate person for an exchange notification")
    EXCHANGE_REVIEW_LINK = "exchange_review_link", _("Linked an exchange notification to another person")
    EXCHANGE_REVIEW_REJECT = "exchange_review_reject", _("Rejected an exchange notification")
    EXCHANGE_BACKFILL = "exchange_backfill", _("Queued notifications of existing in-migrants for another county")
    # family benefits (popreg.benefits)
    BENEFITS_RECORD_CERTIFICATE = "benefits_record_certificate", _("Recorded an only-child certificate")
    BENEFITS_END_CERTIFICATE = "benefits_end_certificate", _("Withdrew an only-child certificate")
    BENEFITS_RECORD_DISABILITY = "benefits_record_disability", _("Recorded a disability grade")
    BENEFITS_END_DISABILITY = "benefits_end_disability", _("Withdrew a disability record")
    BENEFITS_RECORD_ACCOUNT = "benefits_record_account", _("Recorded a payee's bank account")
    BENEFITS_RUN = "benefits_run", _("Ran a benefit eligibility check")
    BENEFITS_APPLY = "benefits_apply", _("Recorded a benefit application")
    BENEFITS_DECIDE_APPLICATION = "benefits_decide_application", _("Decided a benefit application")
    BENEFITS_PUBLISH = "benefits_publish", _("Published a benefit list for public disclosure")
    BENEFITS_CLOSE_DISCLOSURE = "benefits_close_disclosure", _("Closed a public disclosure")
    BENEFITS_RAISE_OBJECTION = "benefits_raise_objection", _("Recorded an objection to a benefit list")
    BENEFITS_RESOLVE_OBJECTION = "benefits_resolve_objection", _("Resolved an objection to a benefit list")
    BENEFITS_APPROVE_RUN = "benefits_approve_run", _("Approved a benefit eligibility run")
    BENEFITS_PAYMENT_FILE = "benefits_payment_file", _("Made a benefit payment file")
    BENEFITS_IMPORT_RETURN = "benefits_import_return", _("Imported a bank return file")
    BENEFITS_RESUBMIT = "benefits_resubmit", _("Resubmitted failed benefit payments")
    BENEFITS_RECORD_RECOVERY = "benefits_record_recovery", _("Listed arrears or an overpayment")
    BENEFITS_SETTLE_RECOVERY = "benefits_settle_recovery", _("Settled arrears or an overpayment")
    BENEFITS_EXPORT_LIST = "benefits_export_list", _("Downloaded a benefit disclosure list")
    BENEFITS_EXPORT_PAYMENTS = "benefits_export_payments", _("Downloaded a benefit payment file")
    # planning (popreg.planning)
    PLANNING_SAVE_SCENARIO = "planning_save_scenario", _("Saved a projection scenario")
    PLANNING_SAVE_NORM = "planning_save_norm", _("Saved a planning norm")
    PLANNING_SAVE_FIGURE = "planning_save_figure", _("Saved a stated planning figure")
    # households and certificates (registry)
    SPLIT_HOUSEHOLD = "split_household", _("Split a household")
    MERGE_HOUSEHOLDS = "merge_households", _("Merged two households")
    CHANGE_HOUSEHOLD_ADDRESS = "change_household_address", _("Changed the address of a household")
    DISSOLVE_HOUSEHOLD = "dissolve_household", _("Dissolved an empty household")
    PRINT_CERTIFICATE = "print_certificate", _("Printed a certificate")
    # outside sources arriving in the registry (popreg.sources)
    SOURCES_IMPORT = "sources_import", _("Imported an outside-source file")
    SOURCES_REVIEW_ACCEPT = "sources_review_accept", _("Accepted the proposed person of an outside-source record")
    SOURCES_REVIEW_REJECT = "sources_review_reject", _("Rejected the link of an outside-source record")
    SOURCES_REVIEW_LINK = "sources_review_link", _("Linked an outside-source record to another person")


def _record(
    actor: Actor,
    action: AuditAction,
    target: Any,
    *,
    unit_code: str,
    before: Any,
    after: Any,
    detail: Mapping[str, Any] | None,
) -> AuditRecord:
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit action must be an AuditAction member, not {action!r}")
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    return AuditRecord(
        actor=user,
        actor_name=actor.name,
        action=action.value,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "") or ""),
        unit_code=unit_code,
        before=before,
        after=after,
        detail=dict(detail or {}),
    )


def audit(
    actor: Actor,
    action: AuditAction,
    target: Any,
    *,
    unit_code: str = "",
    before: Any = None,
    after: Any = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Record that ``actor`` did ``action`` to ``target`` (a model instance or None)."""
    rec = _record(
        actor, action, target, unit_code=unit_code, before=before, after=after, detail=detail
    )
    with transaction.atomic():
        lock_chain()
        chain([rec])
        rec.save()
    return rec


def audit_many(
    actor: Actor,
    action: AuditAction,
    entries: Iterable[tuple[Any, Mapping[str, Any]]],
) -> int:
    """Record one action over many targets at once (a bulk upload); each entry is
    ``(target, {"unit_code": ..., "before": ..., "after": ..., "detail": ...})``."""
    rows = [
        _record(
            actor,
            action,
            target,
            unit_code=str(fields.get("unit_code", "")),
            before=fields.get("before"),
            after=fields.get("after"),
            detail=fields.get("detail"),
        )
        for target, fields in entries
    ]
    with transaction.atomic():
        lock_chain()
        chain(rows)  # in order: bulk_create inserts them in this order, ids ascending
        AuditRecord.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
