"""Closed statistical periods (结报) and their published figures (see ``docs/periods.md``).

A unit closes a period (a year or a month) once its figures are final: the figures of
the statistics snapshot in use are stored as *published* for the unit and every unit
below it, and the county approves the closing.  Published figures are never changed:
a registration made after the closing whose event falls in the period shows as a
*revision* beside the published figure (:mod:`popreg.stats.periods`), never in its place.

Nothing here is written directly: use :mod:`popreg.stats.period_actions` (atomic,
jurisdiction checked, audited).  Imported by ``popreg.stats.models``; the migration is
``stats/0002``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AppendOnlyError


class PeriodKind(models.TextChoices):
    YEAR = "year", _("Year")
    MONTH = "month", _("Month")


class PeriodState(models.TextChoices):
    CLOSED = "closed", _("Closed, awaiting the county's approval")
    APPROVED = "approved", _("Closed and approved")


class ClosedPeriod(models.Model):
    """One unit's closing of one period, with the snapshot its published figures came from."""

    unit = models.ForeignKey("registry.AdminUnit", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("期间类型"), max_length=5, choices=PeriodKind.choices)
    #: "2024" (a year) or "2024-03" (a month).
    period = models.CharField(_("期间"), max_length=7)
    start = models.DateField()
    end = models.DateField()  # exclusive: 00:00 of the first day after the period
    state = models.CharField(max_length=8, choices=PeriodState.choices, default=PeriodState.CLOSED)
    #: The statistics snapshot the published figures were read from, and its moment.
    snapshot = models.CharField(max_length=40)
    reference_moment = models.DateTimeField()
    #: The highest person and event ids in that snapshot: a record above them was
    #: registered after the figures were published (a late record).
    last_person_id = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_by_name = models.CharField(max_length=150)
    closed_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "unit_id"]
        unique_together = [("unit", "period")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.period}"


class PublishedFigure(models.Model):
    """The figures of one unit, period and population as published at a closing.

    Append-only: ``save`` of a stored row and ``delete`` raise, as for events and audit
    records; one row per unit, period and population (the first closing that covers a
    unit publishes its figures, a later closing above it keeps them)."""

    closing = models.ForeignKey(ClosedPeriod, on_delete=models.PROTECT, related_name="figures")
    unit_code = models.CharField(max_length=15)
    unit_name = models.CharField(max_length=100)
    level = models.CharField(max_length=10)
    period = models.CharField(max_length=7)
    population = models.CharField(max_length=12)
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["unit_code", "population"]
        unique_together = [("unit_code", "period", "population")]
        indexes = [models.Index(fields=["unit_code", "period"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("published figures are never changed; a later record shows as a revision")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("published figures are never removed")
