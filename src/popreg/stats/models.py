"""Assessment and reconciliation data: versioned rule sets, yearly targets, reconciliation items.

Nothing here is written directly: use ``popreg.stats.actions`` (atomic, jurisdiction
checked, audited).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AdminUnit, Event, Person


class RuleSetVersion(models.Model):
    """One version of a scoring rule set (JSON of :mod:`popreg.core.rules`); never edited:
    a change is a new version."""

    name = models.CharField(_("规则集名称"), max_length=120)
    version = models.PositiveIntegerField(_("版本"))
    definition = models.JSONField(_("规则"))
    checksum = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        unique_together = [("name", "version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class UnitTarget(models.Model):
    """A unit's yearly target for one indicator (目标责任书): bounds replacing the rule's."""

    year = models.PositiveIntegerField(_("年份"))
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    indicator = models.CharField(_("指标"), max_length=60)
    low = models.FloatField(_("下限"), null=True, blank=True)
    high = models.FloatField(_("上限"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["year", "unit_id", "indicator"]
        unique_together = [("year", "unit", "indicator")]


class ReconItemStatus(models.TextChoices):
    OPEN = "open", _("待核实")
    RESOLVED = "resolved", _("已处理")
    REJECTED = "rejected", _("无需处理")


class ReconciliationItem(models.Model):
    """An unmatched record of a monthly reconciliation, for the responsible unit to settle:
    a registry event no source confirms, or a source record the registry lacks."""

    class Category(models.TextChoices):
        REGISTRY_ONLY = "registry_only", _("仅登记")
        SOURCE_ONLY = "source_only", _("仅来源")

    class Kind(models.TextChoices):
        BIRTH = "birth", _("出生")
        DEATH = "death", _("死亡")

    #: Identity of the finding, so reconciling a month twice creates nothing new.
    key = models.CharField(max_length=120, unique=True)
    month = models.CharField(_("月份"), max_length=7, db_index=True)
    kind = models.CharField(_("类别"), max_length=8, choices=Kind.choices)
    category = models.CharField(_("比对结果"), max_length=16, choices=Category.choices)
    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=40, blank=True)
    source_record_id = models.CharField(max_length=60, blank=True)
    event_date = models.DateField(_("发生日期"), null=True, blank=True)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=ReconItemStatus.choices, default=ReconItemStatus.OPEN)
    note = models.CharField(_("处理说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["month", "unit_id", "id"]
        indexes = [models.Index(fields=["unit", "status"])]


# Closed periods and their published figures live in their own module (stats/0002).
from popreg.stats.period_models import ClosedPeriod, PeriodKind, PeriodState, PublishedFigure  # noqa: E402, F401
