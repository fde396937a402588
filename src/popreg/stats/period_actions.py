"""Closing statistical periods and approving the closings: the audited writes.

A village or township (or the county) closes a period of its unit once the period is
over: the figures of the statistics snapshot in use are published for the unit and every
unit below it (:mod:`popreg.stats.periods`), and the county approves the closing, a
person other than the one who closed it.  Each ``do_*`` is atomic, checks the role and
the jurisdiction, and writes an audit record; a refusal changes nothing and raises
:class:`PeriodRefused` (Chinese + English, naming the field).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.stats.dashboard import DashboardError, load_dashboard
from popreg.stats.period_models import ClosedPeriod, PeriodState, PublishedFigure
from popreg.stats.periods import PeriodError, parse_period, snapshot_figures, watermark

__all__ = ["PeriodRefused", "do_approve_period", "do_close_period"]

#: Levels whose periods are closed (the statistics count these).
CLOSING_LEVELS = ("county", "township", "village")


class PeriodRefused(RegistryError):
    """A refused closing or approval."""


def _refuse(exc: PeriodError) -> PeriodRefused:
    return PeriodRefused(exc.zh, exc.en, exc.field)


def _ancestors(unit: AdminUnit) -> list[AdminUnit]:
    out: list[AdminUnit] = []
    parent = unit.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


@transaction.atomic
def do_close_period(actor: Actor, unit_code: str, period: str, *, note: str = "") -> ClosedPeriod:
    """Close ``period`` ("2024" or "2024-03") of a unit: publish the figures of the
    statistics snapshot in use for the unit and the units below it."""
    actor.require(Permission.CLOSE_PERIODS, unit_code)
    unit = AdminUnit.objects.select_related("parent").filter(code=unit_code).first()
    if unit is None or unit.level not in CLOSING_LEVELS:
        raise PeriodRefused(
            f"单位 {unit_code} 不存在或不是县、乡镇、村（居）：请选择要结报的单位",
            f"unit {unit_code} does not exist or is not a county, township or village: choose the unit to close",
            "unit",
        )
    try:
        kind, label, _start, end = parse_period(period)
    except PeriodError as exc:
        raise _refuse(exc) from None
    today = timezone.localdate()
    if end > today:
        raise PeriodRefused(
            f"期间 {label} 尚未结束（{end:%Y-%m-%d} 起才能结报）",
            f"period {label} has not ended yet: it can be closed from {end:%Y-%m-%d}",
            "period",
        )
    done = ClosedPeriod.objects.filter(unit=unit, period=label).first()
    if done is not None:
        raise PeriodRefused(
            f"{unit.name} 的 {label} 已于 {timezone.localtime(done.closed_at):%Y-%m-%d %H:%M} 由 {done.closed_by_name} 结报",
            f"{label} of {unit.name} was closed by {done.closed_by_name} on "
            f"{timezone.localtime(done.closed_at):%Y-%m-%d %H:%M}",
            "period",
        )
    above = ClosedPeriod.objects.filter(period=label, unit__in=_ancestors(unit)).select_related("unit").first()
    if above is not None:
        raise PeriodRefused(
            f"{label} 已由上级单位 {above.unit.name} 结报，其中已含 {unit.name} 的数据",
            f"{label} was closed by {above.unit.name} above, which published the figures of {unit.name} too",
            "period",
        )
    try:
        dash = load_dashboard()
        rows = snapshot_figures(dash, kind, label, unit.code, unit.level)
    except DashboardError as exc:
        zh, _sep, en = str(exc).partition(" / ")
        raise PeriodRefused(zh, en or zh, "period") from None
    except PeriodError as exc:
        raise _refuse(exc) from None
    last_person, last_event = watermark(dash.snapshot)
    closing = ClosedPeriod.objects.create(
        unit=unit, kind=kind, period=label, start=_start, end=end, snapshot=dash.snapshot.name,
        reference_moment=dash.reference_moment if timezone.is_aware(dash.reference_moment)
        else timezone.make_aware(dash.reference_moment),
        last_person_id=last_person, last_event_id=last_event, note=note[:200],
        closed_by=_user(actor), closed_by_name=actor.name, closed_at=timezone.now(),
    )  # fmt: skip
    # A unit below already published by its own closing keeps its figures.
    taken = set(PublishedFigure.objects.filter(period=label, unit_code__in={r["unit_code"] for r in rows})
                .values_list("unit_code", "population"))  # fmt: skip
    PublishedFigure.objects.bulk_create([
        PublishedFigure(closing=closing, unit_code=r["unit_code"], unit_name=r["unit_name"], level=r["level"],
                        period=label, population=r["population"], figures=r["figures"])
        for r in rows if (r["unit_code"], r["population"]) not in taken
    ])  # fmt: skip
    own: dict[str, Any] = next((r["figures"] for r in rows if r["unit_code"] == unit.code and r["population"] == "registered"), {})
    audit(actor, AuditAction.CLOSE_PERIOD, closing, unit_code=unit.code,
          after={"period": label, "kind": kind, "snapshot": closing.snapshot,
                 "population_end": own.get("population_end"), "units": len({r["unit_code"] for r in rows})},
          detail={"note": note[:200]} if note else None)  # fmt: skip
    return closing


@transaction.atomic
def do_approve_period(actor: Actor, closing: ClosedPeriod) -> ClosedPeriod:
    """Approve a closing (county): someone other than the person who closed it."""
    actor.require(Permission.APPROVE_PERIODS, closing.unit_id)
    fresh = ClosedPeriod.objects.select_for_update().get(pk=closing.pk)
    if fresh.state != PeriodState.CLOSED:
        raise PeriodRefused(
            f"{fresh.period} 的结报已于 {timezone.localtime(fresh.approved_at):%Y-%m-%d} 由 {fresh.approved_by_name} 审批"
            if fresh.approved_at else f"{fresh.period} 的结报不在待审批状态",
            f"the closing of {fresh.period} was already approved by {fresh.approved_by_name}",
            "period",
        )
    user = _user(actor)
    if (user is not None and fresh.closed_by_id == user.pk) or (user is None and fresh.closed_by_name == actor.name):
        raise PeriodRefused(
            "结报须由另一人审批：您本人办理了这次结报",
            "a closing is approved by someone else: you closed this period yourself",
            "period",
        )
    fresh.state = PeriodState.APPROVED
    fresh.approved_by = user
    fresh.approved_by_name = actor.name
    fresh.approved_at = timezone.now()
    fresh.save(update_fields=["state", "approved_by", "approved_by_name", "approved_at"])
    audit(actor, AuditAction.APPROVE_PERIOD, fresh, unit_code=fresh.unit_id,
          before={"state": PeriodState.CLOSED}, after={"state": PeriodState.APPROVED, "period": fresh.period,
                                                        "closed_by": fresh.closed_by_name})  # fmt: skip
    return fresh
