"""Migrant records (流动人口) next to the registry's persons.

The person is the registry's (:class:`popreg.registry.models.Person`): an in-migrant is a
record with ``residence_type`` ``floating_in`` whose registered unit is the external unit of
origin; an out-migrant is a record of this county with ``residence_type`` ``floating_out``.
These tables hold what the registry does not: arrival, reason, place, contact, permits,
whereabouts and their sources, the places (rental housing, employers) and who lives or works
there.  Every change goes through :mod:`popreg.migrants.actions` and leaves a
:class:`MigrantHistory` row (append-only) and an audit record.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AdminUnit, AppendOnlyError, AppendOnlyQuerySet, Person


class Reason(models.TextChoices):
    """Why an in-migrant came (流入原因)."""

    WORK = "work", _("Work")
    BUSINESS = "business", _("Business")
    STUDY = "study", _("Study")
    FAMILY = "family", _("Family")
    OTHER = "other", _("Other")


class InMigrantStatus(models.TextChoices):
    ACTIVE = "active", _("Living here")
    DEPARTED = "departed", _("Left")


class PlaceKind(models.TextChoices):
    RENTAL = "rental", _("Rental housing")
    EMPLOYER = "employer", _("Employer")


class Place(models.Model):
    """A registered place where migrants live or work: 出租房屋 or 用工单位."""

    kind = models.CharField(max_length=10, choices=PlaceKind.choices)
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=200)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    contact_name = models.CharField(max_length=60)
    contact_phone = models.CharField(max_length=30, blank=True)
    agreement_signed = models.DateField(null=True, blank=True)
    agreement_expires = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unit_id", "name", "id"]
        indexes = [models.Index(fields=["unit", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "name": self.name, "address": self.address, "unit": self.unit_id,
            "contact_name": self.contact_name, "contact_phone": self.contact_phone,
            "agreement_signed": _iso(self.agreement_signed),
            "agreement_expires": _iso(self.agreement_expires), "active": self.active,
        }  # fmt: skip


class InMigrant(models.Model):
    """An in-migrant (流入人口) where they live: one registration, until departure."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="in_migrations")
    residence_unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    origin_code = models.CharField(max_length=12)
    arrival_date = models.DateField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=200, blank=True)
    employer = models.CharField(max_length=120, blank=True)
    contact = models.CharField(max_length=60, blank=True)
    status = models.CharField(
        max_length=10, choices=InMigrantStatus.choices, default=InMigrantStatus.ACTIVE
    )
    departure_date = models.DateField(null=True, blank=True)
    departure_destination = models.CharField(max_length=12, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["residence_unit", "status"]),
            models.Index(fields=["origin_code"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=models.Q(status="active"),
                name="migrants_one_active_in_migrant",
            ),
        ]

    def __str__(self) -> str:
        return f"in-migrant {self.pk} ({self.person_id})"

    def state(self) -> dict[str, Any]:
        return {
            "residence_unit": self.residence_unit_id, "origin_code": self.origin_code,
            "arrival_date": _iso(self.arrival_date), "reason": self.reason,
            "place": self.place_id, "address": self.address, "employer": self.employer,
            "contact": self.contact, "status": self.status,
            "departure_date": _iso(self.departure_date),
            "departure_destination": self.departure_destination,
        }  # fmt: skip


class PermitCondition(models.TextChoices):
    """The condition of the Interim Regulations besides six months' residence."""

    WORK = "work", _("Stable employment")
    HOUSING = "housing", _("Stable residence")
    STUDY = "study", _("Continuous study")


class PermitStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    REFUSED = "refused", _("Refused")


class ResidencePermit(models.Model):
    """A residence permit application (居住证) and, when granted, the permit."""

    in_migrant = models.ForeignKey(InMigrant, on_delete=models.PROTECT, related_name="permits")
    applied_on = models.DateField()
    condition = models.CharField(max_length=10, choices=PermitCondition.choices)
    evidence = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=PermitStatus.choices)
    refusal_reasons = models.JSONField(default=list, blank=True)
    number = models.CharField(max_length=24, null=True, blank=True, unique=True)
    issue_date = models.DateField(null=True, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    renewals = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "expiry_date"])]

    def __str__(self) -> str:
        return self.number or f"application {self.pk}"

    def state(self) -> dict[str, Any]:
        return {
            "status": self.status, "condition": self.condition, "evidence": self.evidence,
            "applied_on": _iso(self.applied_on), "number": self.number,
            "issue_date": _iso(self.issue_date), "expiry_date": _iso(self.expiry_date),
            "renewals": self.renewals, "refusal_reasons": list(self.refusal_reasons),
        }  # fmt: skip


class WhereaboutsSource(models.TextChoices):
    OWN_REPORT = "own_report", _("Own report")
    NOTIFICATION = "notification", _("Notification from the place of residence")
    CAMPAIGN = "campaign", _("Verification campaign")


class OutMigrant(models.Model):
    """An out-migrant (流出人口) where they are registered: where they are, as last known."""

    person = models.OneToOneField(Person, on_delete=models.PROTECT, related_name="out_migration")
    destination_code = models.CharField(max_length=15, blank=True)
    destination_name = models.CharField(max_length=100, blank=True)
    employer = models.CharField(max_length=120, blank=True)
    contact = models.CharField(max_length=60, blank=True)
    last_confirmed = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=14, choices=WhereaboutsSource.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["last_confirmed"])]

    def __str__(self) -> str:
        return f"out-migrant {self.pk} ({self.person_id})"

    def state(self) -> dict[str, Any]:
        return {
            "destination_code": self.destination_code, "destination_name": self.destination_name,
            "employer": self.employer, "contact": self.contact,
            "last_confirmed": _iso(self.last_confirmed), "source": self.source,
        }  # fmt: skip


class OccupantRole(models.TextChoices):
    TENANT = "tenant", _("Tenant")
    WORKER = "worker", _("Worker")


class PlaceOccupant(models.Model):
    """Someone living or working at a place, since a date, and whether (when) the landlord
    or employer reported them (the duty to report a new tenant or worker)."""

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="occupants")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=OccupantRole.choices)
    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    reported_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["place_id", "since", "id"]
        indexes = [models.Index(fields=["reported_on", "until"])]

    def state(self) -> dict[str, Any]:
        return {
            "place": self.place_id, "person": self.person_id, "role": self.role,
            "since": _iso(self.since), "until": _iso(self.until),
            "reported_on": _iso(self.reported_on),
        }  # fmt: skip


class HistoryKind(models.TextChoices):
    IN_REGISTERED = "in_registered", _("In-migrant registered")
    IN_MOVED = "in_moved", _("In-migrant changed address")
    IN_DEPARTED = "in_departed", _("In-migrant left")
    PERMIT_APPLIED = "permit_applied", _("Residence permit applied for")
    PERMIT_RENEWED = "permit_renewed", _("Residence permit renewed")
    WHEREABOUTS = "whereabouts", _("Whereabouts recorded")
    PLACE = "place", _("Place changed")
    OCCUPANT = "occupant", _("Occupant changed")


class MigrantHistory(models.Model):
    """One change of a migrant record, permit or place, with before and after (append-only)."""

    objects = AppendOnlyQuerySet.as_manager()

    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    on = models.DateField()
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    actor_name = models.CharField(max_length=150)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["person", "id"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("migrant history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("migrant history is append-only")


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value
