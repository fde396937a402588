"""Planning settings: projection scenarios, dated norms with their source, and figures
stated by other offices (grain harvest, school places, care beds, areas).

Nothing here is written directly: use :mod:`popreg.planning.actions` (atomic, permission
``maintain_planning``, audited).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.planning.scenarios import ScenarioSpec
from popreg.registry.models import AdminUnit


class Scenario(models.Model):
    """A projection scenario as data (the statistician edits it on ``/planning/scenarios/``)."""

    code = models.SlugField(_("Code"), max_length=20, unique=True)
    name_zh = models.CharField(_("Name (Chinese)"), max_length=40)
    name_en = models.CharField(_("Name (English)"), max_length=40)
    tfr_offset = models.FloatField(_("TFR change from the estimate"), default=0.0)
    tfr_target = models.FloatField(_("TFR target (replaces the change)"), null=True, blank=True)
    path_years = models.PositiveSmallIntegerField(_("Years to reach the TFR target"), default=5)
    e0_gain_per_year = models.FloatField(_("Life expectancy gain per year"), default=0.0)
    migration_factor = models.FloatField(_("Net migration factor"), default=1.0)
    position = models.PositiveSmallIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.code

    def spec(self) -> ScenarioSpec:
        return ScenarioSpec(
            code=self.code,
            name_zh=self.name_zh,
            name_en=self.name_en,
            tfr_offset=self.tfr_offset,
            tfr_target=self.tfr_target,
            path_years=self.path_years,
            e0_gain_per_year=self.e0_gain_per_year,
            migration_factor=self.migration_factor,
        )


class NormKey(models.TextChoices):
    GRAIN = "grain_per_person", _("Grain per person a year (jin)")
    CARE_BEDS = "care_beds_per_1000", _("Elderly-care beds per 1,000 people aged 65+")


class Norm(models.Model):
    """A planning norm in force from ``valid_from`` until the next one of the same key."""

    key = models.CharField(_("Norm"), max_length=30, choices=NormKey.choices)
    value = models.FloatField(_("Value"))
    valid_from = models.DateField(_("Valid from"))
    source = models.CharField(_("Source"), max_length=300)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "-valid_from"]
        unique_together = [("key", "valid_from")]

    def __str__(self) -> str:
        return f"{self.key} {self.value} ({self.valid_from})"

    @classmethod
    def in_force(cls, key: str, on: date) -> Norm | None:
        return cls.objects.filter(key=key, valid_from__lte=on).order_by("-valid_from").first()


class FigureKind(models.TextChoices):
    GRAIN_OUTPUT = "grain_output", _("Grain harvest (jin)")
    PRIMARY = "school_primary", _("Primary school places")
    JUNIOR = "school_junior", _("Junior secondary school places")
    SENIOR = "school_senior", _("Senior secondary school places")
    CARE_BEDS = "care_beds", _("Elderly-care beds")
    AREA = "area_km2", _("Area (km²)")


class StatedFigure(models.Model):
    """A figure another office states for a unit and year (not computed by popreg)."""

    kind = models.CharField(_("Figure"), max_length=20, choices=FigureKind.choices)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField(_("Year"))
    value = models.FloatField(_("Value"))
    source = models.CharField(_("Source"), max_length=300)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "unit_id", "year"]
        unique_together = [("kind", "unit", "year")]

    def __str__(self) -> str:
        return f"{self.kind} {self.unit_id} {self.year}: {self.value}"
