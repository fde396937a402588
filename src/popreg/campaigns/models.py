"""Verification campaigns (户口整顿 / 清查): the data of one campaign.

A campaign covers some units (its *scope*), freezes the list of persons to check per
village when it is created (:class:`ListedPerson`), and then collects:

- field outcomes per listed person (:class:`FieldOutcome`) and newly found persons
  (:class:`FoundPerson`), from the web form or an uploaded workbook (:class:`Upload`);
- rectification items (:class:`RectificationItem`), one per finding, automatic or from the
  field, each settled by a registry action or rejected with a reason;
- spot checks (:class:`SpotCheck`) and sign-offs (:class:`SignOff`) for acceptance.

Progress per unit (persons listed, checked, findings, fixed) is computed from these rows
by ``popreg.campaigns.queries`` at every level, so it can never drift from them.

Nothing here is written directly: use ``popreg.campaigns.actions``.  After the county has
signed off a unit, every write to its campaign data raises ``CampaignLockedError``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AdminUnit, Event, Household, Person

# Choice labels are English message ids, translated in the campaigns catalog; what must stay
# Chinese (printed lists, stored details) reads them through popreg.registry.vocabulary.


class Phase(models.TextChoices):
    PREPARATION = "preparation", _("Preparation")
    VERIFICATION = "verification", _("Door-to-door verification")
    RECTIFICATION = "rectification", _("Rectification")
    SUMMARY = "summary", _("Review and acceptance")
    CLOSED = "closed", _("Closed")


PHASE_ORDER: tuple[str, ...] = tuple(Phase.values)


class Campaign(models.Model):
    name = models.CharField(_("名称"), max_length=120)
    scope_units = models.ManyToManyField(AdminUnit, related_name="+", verbose_name=_("范围"))
    reference_moment = models.DateTimeField(_("标准时点"))
    phase = models.CharField(_("当前阶段"), max_length=14, choices=Phase.choices, default=Phase.PREPARATION)
    preparation_start = models.DateField(_("准备开始"))
    preparation_end = models.DateField(_("准备结束"))
    verification_start = models.DateField(_("入户核对开始"))
    verification_end = models.DateField(_("入户核对结束"))
    rectification_start = models.DateField(_("整改开始"))
    rectification_end = models.DateField(_("整改结束"))
    summary_start = models.DateField(_("总结验收开始"))
    summary_end = models.DateField(_("总结验收结束"))
    #: Spot check: households sampled per village, and the error rate a village must stay under.
    spot_check_households = models.PositiveIntegerField(_("每村抽查户数"), default=5)
    error_threshold = models.FloatField(_("抽查差错率上限"), default=0.05)
    seed = models.BigIntegerField(_("抽样随机种子"), default=20251101)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("整顿活动")
        verbose_name_plural = _("整顿活动")

    def __str__(self) -> str:
        return self.name

    def phase_dates(self) -> list[tuple[str, str, object, object]]:
        """(phase, label, start, end) for the four working phases, in order."""
        return [
            (p.value, str(p.label), getattr(self, f"{p.value}_start"), getattr(self, f"{p.value}_end"))
            for p in (Phase.PREPARATION, Phase.VERIFICATION, Phase.RECTIFICATION, Phase.SUMMARY)
        ]


class ListedPerson(models.Model):
    """A person on a village's field list, frozen when the campaign was created."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="listed")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        unique_together = [("campaign", "person")]
        indexes = [models.Index(fields=["campaign", "unit"])]


class Upload(models.Model):
    """One accepted workbook upload; its SHA-256 makes a second upload of the same file a no-op."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="uploads")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=200, blank=True)
    rows = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("campaign", "sha256")]


class Outcome(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    MOVED_AWAY = "moved_away", _("Moved away")
    DIED = "died", _("Died")
    DUPLICATE = "duplicate", _("Duplicate registration")
    NOT_FOUND = "not_found", _("No such person")
    FIELD_WRONG = "field_wrong", _("Wrong information")


class ResolveAction(models.TextChoices):
    """How a rectification item is settled: the registry action it calls (stored in
    ``RectificationItem.action_taken``)."""

    REGISTER_DEATH = "register_death", _("Deregister a death")
    REGISTER_ENLISTMENT = "register_enlistment", _("Deregister for enlistment")
    CORRECT_PERSON = "correct_person", _("Correct registered items")
    TRANSFER = "transfer", _("Transfer within the county")
    MOVE_OUT = "move_out", _("Move out of the county")
    MERGE_PERSONS = "merge_persons", _("Merge duplicate records")
    REGISTER_BIRTH = "register_birth", _("Register a birth")
    MOVE_IN = "move_in", _("Register a move-in")


class Source(models.TextChoices):
    WEB = "web", _("Web form")
    WORKBOOK = "workbook", _("Uploaded workbook")


class FieldOutcome(models.Model):
    """What the door-to-door check found for one listed person (one row per person)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="outcomes")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("核对结果"), max_length=12, choices=Outcome.choices)
    field_name = models.CharField(_("有误字段"), max_length=40, blank=True)
    corrected_value = models.CharField(_("正确值"), max_length=200, blank=True)
    event_date = models.DateField(_("日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("campaign", "person")]
        indexes = [models.Index(fields=["campaign", "unit"])]


class FoundPerson(models.Model):
    """A person met at the door who is not on the list (漏登): to be registered."""

    class Kind(models.TextChoices):
        BIRTH = "birth", _("Unregistered birth")
        MOVE_IN = "move_in", _("Unregistered move-in")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="found")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices, default=Kind.BIRTH)
    name = models.CharField(_("姓名"), max_length=60)
    sex = models.CharField(_("性别"), max_length=1)
    birth_date = models.DateField(_("出生日期"))
    id_number = models.CharField(_("公民身份号码"), max_length=18, blank=True)
    household_no = models.CharField(_("户号"), max_length=20, blank=True)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    from_unit_code = models.CharField(_("迁出地代码"), max_length=12, blank=True)
    event_date = models.DateField(_("迁入日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)


class ItemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    REJECTED = "rejected", _("Rejected")


class ItemOrigin(models.TextChoices):
    ANOMALY = "anomaly", _("Found automatically")
    FIELD = "field", _("Door-to-door verification")


class RectificationItem(models.Model):
    """One finding to settle (整改事项): an action on the registry, or a reasoned rejection."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    #: Identity of the finding, so generating items twice creates nothing new.
    key = models.CharField(max_length=120)
    origin = models.CharField(_("来源"), max_length=8, choices=ItemOrigin.choices)
    item_type = models.CharField(_("问题类型"), max_length=32)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    found_person = models.ForeignKey(
        FoundPerson, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.ForeignKey(FieldOutcome, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=20, blank=True)
    source_record_id = models.CharField(max_length=60, blank=True)
    detail = models.TextField(_("说明"), blank=True)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("责任人"),
    )
    deadline = models.DateField(_("整改期限"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    reject_reason = models.CharField(_("驳回理由"), max_length=200, blank=True)
    action_taken = models.CharField(_("整改措施"), max_length=40, blank=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    result_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit_id", "id"]
        unique_together = [("campaign", "key")]
        indexes = [models.Index(fields=["campaign", "unit", "status"])]

    @property
    def closed(self) -> bool:
        return self.status in (ItemStatus.RESOLVED, ItemStatus.REJECTED)


class SpotCheck(models.Model):
    """One household drawn for re-verification (抽查) during acceptance."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Pending")
        AGREES = "agrees", _("Agrees")
        DIFFERS = "differs", _("Differs")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="spot_checks")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.PENDING)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["unit_id", "household_id"]
        unique_together = [("campaign", "household")]


class SignOff(models.Model):
    """A signature of acceptance.  ``level`` is who signed: the village itself, its
    township, or the county.  A county sign-off locks the unit's campaign data."""

    class Level(models.TextChoices):
        VILLAGE = "village", _("village level")
        TOWNSHIP = "township", _("township level")
        COUNTY = "county", _("county level")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="signoffs")
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=10, choices=Level.choices)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signer_name = models.CharField(max_length=150)
    note = models.CharField(_("意见"), max_length=200, blank=True)
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["signed_at"]
        unique_together = [("campaign", "unit", "level")]
