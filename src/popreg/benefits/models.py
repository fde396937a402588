"""Benefits records: family facts, eligibility runs, disclosure, approval, payments, recovery.

Nothing here is written directly: every write is a ``do_*`` function of
:mod:`popreg.benefits.actions` (permission, jurisdiction, one audit record).  Family facts
keep their history: a correction or a withdrawal never overwrites a record, it closes it
(``ended_at``, ``end_reason``) and, for a correction, adds the new record pointing back to
the one it replaces.

Choice labels are English message ids; the Chinese is in the app's catalog.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AdminUnit, Person

MONEY = {"max_digits": 14, "decimal_places": 2}


class CertificateKind(models.TextChoices):
    ONLY_CHILD = "only_child", _("Only-child parents' certificate")


class FamilyFactRecord(models.Model):
    """What every family-fact record keeps: where and by whom it was recorded, the record it
    replaces (a correction) and when and why it ended.  A record is never overwritten."""

    unit_code = models.CharField(max_length=15)
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class FamilyCertificate(FamilyFactRecord):
    """An only-child parents' certificate (独生子女父母光荣证) held by a parent."""

    holder = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=CertificateKind.choices, default=CertificateKind.ONLY_CHILD)
    number = models.CharField(max_length=40)
    issued_date = models.DateField()
    child = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta(FamilyFactRecord.Meta):
        indexes = [models.Index(fields=["holder", "ended_at"])]


class DisabilityRecord(FamilyFactRecord):
    """A disability grade (残疾等级 1 = most severe .. 4) recorded for a person."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    grade = models.PositiveSmallIntegerField()
    recorded_date = models.DateField()

    class Meta(FamilyFactRecord.Meta):
        indexes = [models.Index(fields=["person", "ended_at"])]


class PayeeAccount(models.Model):
    """The bank account benefits of a payee are paid into (the latest open one counts)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    bank = models.CharField(max_length=60, blank=True)
    account = models.CharField(max_length=40)
    unit_code = models.CharField(max_length=15)
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class RunStatus(models.TextChoices):
    PREPARED = "prepared", _("Prepared")
    DISCLOSING = "disclosing", _("In public disclosure")
    DISCLOSED = "disclosed", _("Disclosure closed")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Payment file made")


class EligibilityRun(models.Model):
    """One evaluation of a programme for a month over a unit, reproducible from its rules
    version and the checksum of the snapshot it read."""

    programme = models.CharField(max_length=40)
    month = models.DateField()  # the first day of the month
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    rules_version = models.CharField(max_length=80)
    snapshot_sha256 = models.CharField(max_length=64)
    # SHA-256 of the family facts in force (popreg.benefits.evaluate.family_digest); the
    # snapshot, the family facts and the programme document are kept under
    # $POPREG_HOME/benefits/ by these checksums (popreg.benefits.runs.reproduce).
    family_sha256 = models.CharField(max_length=64, blank=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    prepared_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PREPARED)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    considered = models.PositiveIntegerField(default=0)
    eligible_count = models.PositiveIntegerField(default=0)
    total_yuan = models.DecimalField(default=0, **MONEY)
    new_count = models.PositiveIntegerField(default=0)
    continuing_count = models.PositiveIntegerField(default=0)
    ended_count = models.PositiveIntegerField(default=0)
    conditions = models.JSONField(default=list)  # the condition ids, in the engine's order
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["programme", "month", "unit"])]


class Change(models.TextChoices):
    NEW = "new", _("New")
    CONTINUING = "continuing", _("Continuing")
    ENDED = "ended", _("Ended")
    NONE = "none", _("Not eligible")


class DecisionSource(models.TextChoices):
    AUTOMATIC = "auto", _("Found in the registry")
    APPLICATION = "application", _("Application decided by an officer")


class Decision(models.Model):
    """A person's decision in a run, with the outcome of every condition."""

    run = models.ForeignKey(EligibilityRun, on_delete=models.CASCADE, related_name="decisions")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit_code = models.CharField(max_length=15, db_index=True)  # the person's registered unit
    eligible = models.BooleanField()
    amount_yuan = models.DecimalField(default=0, **MONEY)
    reasons = models.TextField(blank=True)
    conditions = models.JSONField(default=dict)  # condition id -> passed | failed | unknown
    change = models.CharField(max_length=12, choices=Change.choices, default=Change.NONE)
    source = models.CharField(max_length=12, choices=DecisionSource.choices, default=DecisionSource.AUTOMATIC)
    # Set when an upheld objection took the person off the list.
    withdrawn_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "eligible"])]


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    GRANTED = "granted", _("Granted")
    REFUSED = "refused", _("Refused")


class Application(models.Model):
    """An application by a person the rules did not find (with evidence), decided by an officer."""

    programme = models.CharField(max_length=40)
    month = models.DateField()
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit_code = models.CharField(max_length=15)
    amount_yuan = models.DecimalField(default=0, **MONEY)
    evidence = models.TextField()
    submitted_by_name = models.CharField(max_length=150)
    submitted_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING)
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]


class DisclosureLevel(models.TextChoices):
    VILLAGE = "village", _("Village level")
    TOWNSHIP = "township", _("Township level")
    COUNTY = "county", _("County level")


#: The order in which a list is published (三级三公示).
LEVEL_ORDER: tuple[str, ...] = ("village", "township", "county")


class Disclosure(models.Model):
    """The publication of a run's list at one level, with its objection window."""

    run = models.ForeignKey(EligibilityRun, on_delete=models.CASCADE, related_name="disclosures")
    level = models.CharField(max_length=10, choices=DisclosureLevel.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    published_by_name = models.CharField(max_length=150)
    published_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "level"], name="benefits_one_disclosure_per_level")]


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("Waiting to be resolved")
    UPHELD = "upheld", _("Upheld: taken off the list")
    DISMISSED = "dismissed", _("Dismissed: stays on the list")


class Objection(models.Model):
    """An objection raised during a disclosure window: who, about whom, what, evidence."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="objections")
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="objections")
    objector = models.CharField(max_length=100)
    contact = models.CharField(max_length=100, blank=True)
    what = models.TextField()
    evidence = models.TextField(blank=True)
    recorded_by_name = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN)
    resolution = models.CharField(max_length=300, blank=True)
    resolved_by_name = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class PaymentBatch(models.Model):
    """The payment file of one programme and month (and its resubmissions)."""

    programme = models.CharField(max_length=40)
    month = models.DateField()
    run = models.ForeignKey(EligibilityRun, on_delete=models.PROTECT, related_name="batches")
    batch_no = models.CharField(max_length=40, unique=True)
    resubmission_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    line_count = models.PositiveIntegerField(default=0)
    total_yuan = models.DecimalField(default=0, **MONEY)
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    return_imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class LineStatus(models.TextChoices):
    SENT = "sent", _("Sent to the bank")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    RESUBMITTED = "resubmitted", _("Failed, resubmitted")


class PaymentLine(models.Model):
    """One payment of a batch: the entitlement of one person for the month."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="lines")
    payment_id = models.CharField(max_length=40, unique=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    payee_name = models.CharField(max_length=60)
    payee_id_number = models.CharField(max_length=18, blank=True)
    account = models.CharField(max_length=40, blank=True)
    amount_yuan = models.DecimalField(**MONEY)
    unit_code = models.CharField(max_length=15)
    status = models.CharField(max_length=12, choices=LineStatus.choices, default=LineStatus.SENT)
    failure_reason = models.CharField(max_length=200, blank=True)
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class RecoveryKind(models.TextChoices):
    ARREARS = "arrears", _("Arrears owed to the person")
    OVERPAYMENT = "overpayment", _("Overpayment to recover")


class RecoveryStatus(models.TextChoices):
    OPEN = "open", _("To be settled")
    SETTLED = "settled", _("Settled")


class Recovery(models.Model):
    """An amount owed to a person (arrears) or to be recovered (overpayment), per month."""

    programme = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=RecoveryKind.choices)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    amount_yuan = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=300)
    unit_code = models.CharField(max_length=15)
    found_in_run = models.ForeignKey(EligibilityRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    line = models.ForeignKey(PaymentLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=RecoveryStatus.choices, default=RecoveryStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["programme", "kind", "person", "month"],
                                               name="benefits_one_recovery_per_month")]
