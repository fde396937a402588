"""Registry data model: units, households, persons, their event history, and the audit log.

Choice labels are English message ids, translated in the ``web`` catalog; see
``popreg.registry.vocabulary`` for reading them in Chinese (printed lists, stored details).

Current state lives on ``Person`` for fast reads, but it is *derived*: every change is an
``Event`` whose ``changes`` hold the before/after value of each field, and
``popreg.registry.history.rebuild_person`` replays a person's baseline plus events to the
same state (a test proves it).  Nothing here is written directly: use
``popreg.registry.actions``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class UnitLevel(models.TextChoices):
    COUNTY = "county", _("County")
    TOWNSHIP = "township", _("Township (subdistrict)")
    VILLAGE = "village", _("Village (neighbourhood committee)")
    GROUP = "group", _("Villager group")
    # A place outside the county that registry records refer to (where an in-migrant is
    # registered, where an out-migrant lives).  Never part of a jurisdiction or a snapshot.
    EXTERNAL = "external", _("Outside the county")


#: Length of the code prefix that identifies a unit and everything below it.
PREFIX_LENGTH = {"county": 6, "township": 9, "village": 12, "group": 15, "external": 12}


class AdminUnit(models.Model):
    """An administrative unit (行政区划) identified by its statistical division code."""

    code = models.CharField(_("区划代码"), max_length=15, primary_key=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=UnitLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    valid_from = models.DateField(_("启用日期"))
    valid_to = models.DateField(_("停用日期"), null=True, blank=True)
    urban_rural = models.CharField(_("城乡属性"), max_length=10, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        indexes = [models.Index(fields=["level", "parent"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def prefix(self) -> str:
        """Code prefix shared by this unit and every unit below it."""
        return self.code[: PREFIX_LENGTH[self.level]]

    def contains(self, code: str | None) -> bool:
        return bool(code) and str(code).startswith(self.prefix)


class AppendOnlyError(Exception):
    """A change or removal of a row of an append-only table (events, successions, audit)."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Rows are only added (``create``, ``bulk_create``): ``update()`` and ``delete()`` on a
    query set of an append-only table raise, as ``save()`` of a stored row and ``delete()``
    of one row do, so no path (a view, a command, a test shortcut) rewrites history."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only; they cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only; they cannot be deleted")

    def _raw_delete(self, using: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only; they cannot be deleted")


class UnitSuccession(models.Model):
    """A recorded split, merge or rename: history is never rewritten, units are succeeded."""

    objects = AppendOnlyQuerySet.as_manager()

    class Kind(models.TextChoices):
        SPLIT = "split", _("Split")
        MERGE = "merge", _("Merge")
        RENAME = "rename", _("Rename")

    predecessor = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="successions")
    successor = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="predecessions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    effective_date = models.DateField()

    class Meta:
        unique_together = [("predecessor", "successor")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("unit successions are append-only; record a new succession instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("unit successions are append-only; record a new succession instead")


class Household(models.Model):
    """A household (户): family (家庭户) or collective (集体户)."""

    class Kind(models.TextChoices):
        FAMILY = "family", _("Family household")
        COLLECTIVE = "collective", _("Collective household")

    household_no = models.CharField(_("户号"), max_length=20, unique=True)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="households")
    kind = models.CharField(_("户别"), max_length=12, choices=Kind.choices, default=Kind.FAMILY)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    head = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bumped by every action that changes the household; an edit made on an older version
    # is refused (no lost update).  ``db_default`` covers the bulk paths' raw inserts.
    version = models.PositiveIntegerField(default=1, db_default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    # 销户: set when the household was dissolved (its members left, or it was merged into
    # another).  The row stays (its history, campaign lists and its number, never reused).
    dissolved_on = models.DateField(_("销户日期"), null=True, blank=True)

    class Meta:
        ordering = ["household_no"]
        verbose_name = _("户")
        verbose_name_plural = _("户")

    def __str__(self) -> str:
        return self.household_no


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("Registered resident")
    FLOATING_IN = "floating_in", _("Temporary resident (moved in)")
    FLOATING_OUT = "floating_out", _("Living away (moved out)")
    FOREIGN = "foreign", _("Foreign national")
    PENDING = "pending", _("Registration pending")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    DECEASED = "deceased", _("Deceased")
    EMIGRATED = "emigrated", _("Moved out of the county")
    DEREGISTERED = "deregistered", _("Deregistered")


#: Fields of Person whose value is derived from history (baseline + events).
STATE_FIELDS: tuple[str, ...] = (
    "name",
    "former_names",
    "sex",
    "birth_date",
    "ethnicity",
    "id_number",
    "household_id",
    "registered_unit_id",
    "residence_unit_id",
    "residence_type",
    "status",
    "hukou_kind",
    "marital_status",
    "mother_id",
    "father_id",
    "death_date",
    "merged_into_id",
)


#: Name of the partial unique index on the ID number of active records.
ACTIVE_ID_NUMBER_UNIQUE = "person_active_id_number_unique"


class Person(models.Model):
    """A registry record of a person.  Two records may be one human (duplicates)."""

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    name = models.CharField(_("姓名"), max_length=60)
    former_names = models.CharField(_("曾用名"), max_length=120, blank=True)
    # Search keys, recomputed from ``name`` whenever it changes (popreg.core.names).
    name_key = models.CharField(max_length=60, blank=True, db_index=True)
    name_pinyin = models.CharField(max_length=120, blank=True, db_index=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    ethnicity = models.CharField(_("民族"), max_length=20, blank=True, default="汉族")
    id_number = models.CharField(
        _("公民身份号码"), max_length=18, null=True, blank=True, db_index=True
    )
    registered_unit = models.ForeignKey(
        AdminUnit, on_delete=models.PROTECT, related_name="registered_persons"
    )
    residence_unit = models.ForeignKey(
        AdminUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="resident_persons"
    )
    residence_type = models.CharField(
        _("居住类型"), max_length=14, choices=ResidenceType.choices, default=ResidenceType.REGISTERED
    )
    status = models.CharField(_("状态"), max_length=14, choices=Status.choices, default=Status.ACTIVE)
    hukou_kind = models.CharField(_("户口性质"), max_length=20, blank=True)
    marital_status = models.CharField(_("婚姻状况"), max_length=12, blank=True)
    mother = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children_as_mother"
    )
    father = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children_as_father"
    )
    death_date = models.DateField(_("死亡日期"), null=True, blank=True)
    registered_date = models.DateField(_("登记日期"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_records"
    )
    # History: the state when the record entered the registry, and the last event already
    # contained in it (events of a bulk load precede the baseline).
    baseline = models.JSONField(default=dict)
    baseline_event_id = models.BigIntegerField(default=0)
    # Bumped by every event (popreg.registry.actions.events); an edit made on an older
    # version is refused (no lost update).  ``db_default`` covers the bulk paths' raw inserts.
    version = models.PositiveIntegerField(default=1, db_default=1)
    # Loaded from legacy data with an ID number that an earlier active record of the same
    # load already holds: a duplicate left to linkage, outside the uniqueness constraint
    # below until its ID number changes (docs/decisions/0003-integrity.md).
    legacy_duplicate_id = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        indexes = [
            models.Index(fields=["registered_unit", "status"]),
            models.Index(fields=["residence_unit", "status"]),
        ]
        constraints = [
            # One active, unmerged record per ID number: the database decides, so two clerks
            # registering the same number at once cannot both succeed.
            models.UniqueConstraint(
                fields=["id_number"],
                condition=(
                    models.Q(status="active", merged_into__isnull=True, legacy_duplicate_id=False)
                    & ~models.Q(id_number="")
                ),
                name=ACTIVE_ID_NUMBER_UNIQUE,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"

    def state(self) -> dict[str, Any]:
        """The derived state as JSON-able values (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for f in STATE_FIELDS:
            v = getattr(self, f)
            out[f] = v.isoformat() if hasattr(v, "isoformat") else v
        return out


class EventType(models.TextChoices):
    BIRTH = "birth", pgettext_lazy("event type", "Birth")
    DEATH = "death", pgettext_lazy("event type", "Death")
    MOVE_IN = "move_in", pgettext_lazy("event type", "Move in")
    MOVE_OUT = "move_out", pgettext_lazy("event type", "Move out")
    TRANSFER = "transfer", pgettext_lazy("event type", "Transfer within the county")
    MARRIAGE = "marriage", pgettext_lazy("event type", "Marriage")
    DIVORCE = "divorce", pgettext_lazy("event type", "Divorce")
    ENLISTMENT = "enlistment", pgettext_lazy("event type", "Enlistment")
    DISCHARGE = "discharge", pgettext_lazy("event type", "Discharge")
    CORRECTION = "correction", pgettext_lazy("event type", "Correction")
    # Registry housekeeping events, never exported as vital events.
    REGISTRATION = "registration", pgettext_lazy("event type", "Registration")
    MERGE = "merge", pgettext_lazy("event type", "Merge of duplicates")
    UNMERGE = "unmerge", pgettext_lazy("event type", "Undo merge")


class Event(models.Model):
    """One entry in a person's append-only history."""

    objects = AppendOnlyQuerySet.as_manager()

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="events")
    event_type = models.CharField(_("事件"), max_length=14, choices=EventType.choices)
    event_date = models.DateField(_("发生日期"))
    recorded_date = models.DateField(_("登记日期"))
    unit_code = models.CharField(max_length=15, blank=True)
    from_unit = models.CharField(max_length=15, blank=True)
    to_unit = models.CharField(max_length=15, blank=True)
    # {field: [before, after]} for every derived field this event changed.
    changes = models.JSONField(default=dict)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["person", "id"]), models.Index(fields=["event_type", "event_date"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("events are append-only; record a correction instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("events are append-only; record a correction instead")


class SourceRecord(models.Model):
    """A record from an outside source (hospital births, death notices, field lists)."""

    source = models.CharField(max_length=40)
    record_id = models.CharField(max_length=60)
    data = models.JSONField(default=dict)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("source", "record_id")]


class Role(models.TextChoices):
    VILLAGE_CLERK = "village_clerk", _("Village clerk")
    TOWNSHIP_OFFICER = "township_officer", _("Township officer")
    COUNTY_ADMIN = "county_admin", _("County administrator")
    COUNTY_STATISTICIAN = "county_statistician", _("County statistician")
    AUDITOR = "auditor", _("Auditor")
    BENEFITS_OFFICER = "benefits_officer", _("Benefits officer")


class Assignment(models.Model):
    """A user's role and jurisdiction: the unit whose people they may see (and change)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignment"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.unit_id}"


class AuditRecord(models.Model):
    """Who did what, when, to which record, with the state before and after.

    The records form a hash chain (``prev_hash``, ``hash``; :mod:`popreg.registry.audit_chain`):
    ``at`` is set before saving (not by the database) because the hash covers it."""

    objects = AppendOnlyQuerySet.as_manager()

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=60, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=40, blank=True, db_index=True)
    unit_code = models.CharField(max_length=15, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit records are append-only")


# The job runner's tables live in their own module (platform code shared by every app);
# so do the certificate register (households and certificates, registry) and the full-ID
# export requests waiting for a second person's approval (exports, registry).
from popreg.registry.certificate_models import Certificate, CertificateKind  # noqa: E402, F401
from popreg.registry.export_models import ExportApproval  # noqa: E402, F401
from popreg.registry.job_models import Job, JobState, JobWorker  # noqa: E402, F401
from popreg.registry.token_models import ApiToken, TokenScope  # noqa: E402, F401
