"""Words for what an audit record names, in the reader's language.

An :class:`~popreg.registry.models.AuditRecord` stores its target as the class name of the
object (``target_type``: ``DuplicateCandidate``) and its action as the value of
:class:`~popreg.registry.audit.AuditAction`; both are identifiers, never shown as they are.
The audit pages show :func:`object_label` (this table) and the action's label.  A test
(tests/web/test_every_page_language.py) checks that every model of the platform has a
label here, so a new kind of object cannot reach the page as a class name.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = ["OBJECT_LABELS", "object_label"]

#: Class name of an audited object -> its label (English message id, Chinese in the
#: ``web`` catalog).
OBJECT_LABELS: dict[str, Promise] = {
    # registry
    "AdminUnit": _("administrative unit"),
    "UnitSuccession": _("unit succession"),
    "Household": _("household"),
    "Person": _("person"),
    "Event": _("registry event"),
    "SourceRecord": _("source record"),
    "Assignment": _("role assignment"),
    "AuditRecord": _("audit record"),
    "Certificate": _("certificate"),
    "ExportApproval": _("full-ID export request"),
    "Job": _("background job"),
    "JobWorker": _("job worker"),
    "ApiToken": _("API token"),
    "User": _("user account"),
    # duplicate review
    "DedupRun": _("duplicate search run"),
    "DuplicateCandidate": _("possible duplicate pair"),
    "MergeRecord": _("merge of duplicates"),
    "EntryKey": _("entry check key"),
    # campaigns
    "Campaign": _("verification campaign"),
    "ListedPerson": _("person on a field list"),
    "Upload": _("uploaded field results"),
    "FieldOutcome": _("field result"),
    "FoundPerson": _("person found in the field"),
    "RectificationItem": _("rectification item"),
    "SpotCheck": _("spot check"),
    "SignOff": _("sign-off"),
    # statistics
    "RuleSetVersion": _("assessment rules"),
    "UnitTarget": _("unit target"),
    "ReconciliationItem": _("reconciliation item"),
    "ClosedPeriod": _("closed statistical period"),
    "PublishedFigure": _("published figure of a closed period"),
    # migrants
    "Place": _("rental place or employer"),
    "InMigrant": _("in-migrant"),
    "ResidencePermit": _("residence permit"),
    "OutMigrant": _("out-migrant"),
    "PlaceOccupant": _("tenant or worker of a place"),
    "MigrantHistory": _("migrant history entry"),
    # exchange
    "LocalIdentity": _("exchange identity"),
    "Peer": _("trusted county"),
    "OutboxMessage": _("outgoing notification"),
    "InboxMessage": _("incoming notification"),
    "SubjectWatermark": _("exchange watermark"),
    # benefits
    "FamilyCertificate": _("family certificate"),
    "DisabilityRecord": _("disability record"),
    "PayeeAccount": _("payee bank account"),
    "EligibilityRun": _("eligibility batch"),
    "Decision": _("eligibility decision"),
    "Application": _("benefit application"),
    "Disclosure": _("public disclosure"),
    "Objection": _("objection"),
    "PaymentBatch": _("payment batch"),
    "PaymentLine": _("payment"),
    "Recovery": _("overpayment or arrears"),
    # planning
    "Scenario": _("projection scenario"),
    "Norm": _("planning norm"),
    "StatedFigure": _("stated planning figure"),
    # outside sources (popreg.sources)
    "SourceBatch": _("outside-source file"),
    "SourceEntry": _("outside-source record"),
    "SourceLink": _("outside-source link"),
}


def object_label(target_type: str) -> str:
    """The label of an audited object's class name in the active language ("record" for
    a class not in the table)."""
    if not target_type:
        return ""
    label = OBJECT_LABELS.get(target_type)
    return str(label) if label is not None else str(_("record"))
