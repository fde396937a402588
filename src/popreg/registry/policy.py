"""Who may do what: one vocabulary of permissions and one role → permission table.

Every check in the product is ``actor.require(Permission.X, unit_code)`` (or ``actor.can``
for a page that only hides a button).  A check passes when

1. the actor's role holds the permission in :data:`ROLE_PERMISSIONS`,
2. for a permission in :data:`COUNTY_WIDE`, the actor's jurisdiction is the whole county
   (a snapshot, a ranking of every unit or the scoring rules concern all units), and
3. the unit, when one is given, lies within the actor's jurisdiction.

A new role is one row of the table; a new capability is one member of
:class:`Permission` and a line in each row that holds it.  The table is documented in
``docs/permissions.md`` and rendered for administrators at ``/permissions/``; a test
keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import Role


class Permission(models.TextChoices):
    """A capability a role may hold."""

    VIEW_REGISTRY = "view_registry", _("See persons, households and units")
    EDIT_REGISTRY = "edit_registry", _("Register events, households and corrections")
    VIEW_FULL_ID = "view_full_id", _("See a full ID number")
    EXPORT_PERSONS = "export_persons", _("Download person lists")
    IMPORT_PERSONS = "import_persons", _("Import persons from a file")
    MANAGE_UNITS = "manage_units", _("Record unit successions (rename, merge, split)")
    RUN_DEDUP = "run_dedup", _("Start a duplicate search")
    REVIEW_DUPLICATES = "review_duplicates", _("Decide suspected duplicates, merge and undo")
    VIEW_STATISTICS = "view_statistics", _("See statistics and dashboards")
    EXPORT_STATISTICS = "export_statistics", _("Download statistics tables")
    REFRESH_STATISTICS = "refresh_statistics", _("Refresh the statistics snapshot")
    MAINTAIN_ASSESSMENT = "maintain_assessment", _("Maintain the assessment scoring rules")
    SET_TARGETS = "set_targets", _("Set yearly targets of units")
    EXPORT_SCORECARDS = "export_scorecards", _("Download assessment scorecards of every unit")
    RECONCILE = "reconcile", _("Follow up monthly reconciliation differences")
    MANAGE_CAMPAIGNS = "manage_campaigns", _("Create campaigns and move them through phases")
    CAMPAIGN_FIELDWORK = "campaign_fieldwork", _(
        "Print field lists, record field checks, rectify items, spot-check and sign off villages"
    )
    CAMPAIGN_ACCEPTANCE = "campaign_acceptance", _("Sign off campaigns for a township")
    CAMPAIGN_COUNTY_SIGN_OFF = "campaign_county_sign_off", _(
        "Sign off campaigns for the county (locks a township)"
    )
    READ_AUDIT = "read_audit", _("Read and export the audit log")
    MANAGE_USERS = "manage_users", _("Assign roles and jurisdictions to users")
    REPAIR_HISTORY = "repair_history", _("Repair stored records from their history")
    VIEW_JOBS = "view_jobs", _("See background jobs")
    MANAGE_JOBS = "manage_jobs", _("See, cancel and retry other users' jobs in the jurisdiction")
    # migrants (popreg.migrants)
    MANAGE_MIGRANTS = "manage_migrants", _(
        "Register migrants, residence permits, whereabouts and rental places or employers"
    )
    # exchange between deployments (popreg.exchange)
    VIEW_EXCHANGE = "view_exchange", _("See the exchange with other counties: peers, outbox and inbox")
    MANAGE_EXCHANGE = "manage_exchange", _(
        "Trust other counties' deployments, deliver, export and import exchange messages"
    )
    REVIEW_EXCHANGE = "review_exchange", _(
        "Decide incoming exchange notifications that found no certain person"
    )
    # family benefits (popreg.benefits)
    VIEW_BENEFITS = "view_benefits", _("See benefit programmes, runs, disclosure lists and payments")
    PREPARE_BENEFITS = "prepare_benefits", _(
        "Run eligibility, publish disclosure lists, record objections and applications"
    )
    APPROVE_BENEFITS = "approve_benefits", _("Approve an eligibility run prepared by someone else")
    MANAGE_PAYMENTS = "manage_payments", _(
        "Make payment files, import bank returns, resubmit failures, settle recoveries"
    )
    RECORD_FAMILY_FACTS = "record_family_facts", _(
        "Record only-child certificates, disability grades and bank accounts"
    )
    # planning (popreg.planning)
    MAINTAIN_PLANNING = "maintain_planning", _(
        "Maintain planning scenarios, norms and stated figures"
    )
    # households and certificates (registry)
    PRINT_CERTIFICATES = "print_certificates", _(
        "Print certificates (registration, birth, death, move-out, register page)"
    )
    # closed statistical periods (popreg.stats.period_actions)
    CLOSE_PERIODS = "close_periods", _("Close a statistical period of the unit and publish its figures")
    APPROVE_PERIODS = "approve_periods", _("Approve the closing of a statistical period")
    # outside sources arriving in the registry (popreg.sources)
    IMPORT_SOURCES = "import_sources", _("Import hospital births, death notices and marriage registrations")
    REVIEW_SOURCES = "review_sources", _("Review the links of outside-source records to persons")


#: Permissions that concern every unit of the county at once.
COUNTY_WIDE: frozenset[Permission] = frozenset(
    {
        Permission.REFRESH_STATISTICS,
        Permission.MAINTAIN_ASSESSMENT,
        Permission.EXPORT_SCORECARDS,
        Permission.MANAGE_USERS,
        Permission.REPAIR_HISTORY,
        Permission.CAMPAIGN_COUNTY_SIGN_OFF,
        Permission.MANAGE_PAYMENTS,
        # exchange between deployments (popreg.exchange)
        Permission.VIEW_EXCHANGE,
        Permission.MANAGE_EXCHANGE,
        # planning (popreg.planning): the scenarios and norms of the whole county
        Permission.MAINTAIN_PLANNING,
        # closed periods: the county approves what villages and townships close
        Permission.APPROVE_PERIODS,
    }
)

_P = Permission
_CLERK = frozenset(
    {
        _P.VIEW_REGISTRY, _P.EDIT_REGISTRY, _P.VIEW_FULL_ID, _P.EXPORT_PERSONS,
        _P.IMPORT_PERSONS, _P.RUN_DEDUP, _P.REVIEW_DUPLICATES, _P.VIEW_STATISTICS,
        _P.EXPORT_STATISTICS, _P.SET_TARGETS, _P.RECONCILE, _P.CAMPAIGN_FIELDWORK, _P.VIEW_JOBS,
        # migrants (popreg.migrants)
        _P.MANAGE_MIGRANTS,
        # households and certificates (registry)
        _P.PRINT_CERTIFICATES,
        # closed statistical periods (stats)
        _P.CLOSE_PERIODS,
        # outside sources (popreg.sources)
        _P.REVIEW_SOURCES,
    }
)  # fmt: skip

#: The one role → permission table.
ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    Role.VILLAGE_CLERK: _CLERK,
    Role.TOWNSHIP_OFFICER: _CLERK | {_P.MANAGE_UNITS, _P.MANAGE_CAMPAIGNS, _P.CAMPAIGN_ACCEPTANCE,
                                    _P.REVIEW_EXCHANGE, _P.IMPORT_SOURCES},
    Role.COUNTY_ADMIN: frozenset(Permission),
    Role.COUNTY_STATISTICIAN: frozenset(
        {
            _P.VIEW_REGISTRY, _P.VIEW_STATISTICS, _P.EXPORT_STATISTICS,
            _P.REFRESH_STATISTICS, _P.EXPORT_SCORECARDS, _P.VIEW_JOBS,
            # planning (popreg.planning)
            _P.MAINTAIN_PLANNING,
            # closed statistical periods (stats)
            _P.CLOSE_PERIODS, _P.APPROVE_PERIODS,
        }
    ),
    Role.AUDITOR: frozenset({_P.VIEW_REGISTRY, _P.VIEW_STATISTICS, _P.READ_AUDIT, _P.VIEW_JOBS,
                             _P.VIEW_EXCHANGE}),
    # Scoped by the assignment's unit: the county's benefits office or a township's.
    Role.BENEFITS_OFFICER: frozenset({
        _P.VIEW_REGISTRY, _P.VIEW_FULL_ID, _P.VIEW_STATISTICS, _P.VIEW_JOBS, _P.VIEW_BENEFITS, _P.PREPARE_BENEFITS,
        _P.APPROVE_BENEFITS, _P.MANAGE_PAYMENTS, _P.RECORD_FAMILY_FACTS,
    }),
    # Command-line jobs (load, scheduled refreshes) act as the county itself.
    "system": frozenset(Permission),
}  # fmt: skip


def role_has(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` at all (before scope and jurisdiction)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def permissions_of(role: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(role, frozenset())
