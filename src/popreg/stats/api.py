"""Statistics API: the published figures of closed periods beside their revisions.

``GET /api/stats/units/{code}/periods``: one entry per closed period and population of
the unit, with the published figures, the revised figures of the statistics snapshot in
use and the number of late records (:mod:`popreg.stats.periods`).  A unit outside the
caller's jurisdiction is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router
from ninja.errors import HttpError
from ninja.security import SessionAuth

from popreg.registry.access import Actor, actor_for, scope_units
from popreg.registry.api import TokenAuth
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.stats.dashboard import DashboardError, load_dashboard
from popreg.stats.indicators import POPULATIONS
from popreg.stats.views_periods import unit_revisions

router = Router(tags=["statistics 统计"], auth=[SessionAuth(), TokenAuth()])
NOT_FOUND = "未找到，或不在您的辖区内 / not found, or outside your jurisdiction"


def _actor(request: HttpRequest) -> Actor:
    user = getattr(request, "auth", None) or request.user
    try:
        actor = actor_for(user)
    except RegistryError as exc:
        raise HttpError(403, f"{exc.message_zh} / {exc.message_en}") from exc
    if not actor.can(Permission.VIEW_STATISTICS):
        raise HttpError(403, "当前角色无权查看统计 / your role may not see statistics")
    return actor


@router.get("/stats/units/{code}/periods", response=list[dict[str, Any]],
            summary="结报期间的公布数与修订数 / published and revised figures of closed periods")
def unit_periods(request: HttpRequest, code: str) -> list[dict[str, Any]]:
    """Each closed period of the unit, per population: ``published``, ``revised`` (the
    statistics snapshot in use), ``late_records``, the closing's state and who closed and
    approved it."""
    actor = _actor(request)
    if not scope_units(AdminUnit.objects.filter(code=code[:15]), actor).exists():
        raise HttpError(404, NOT_FOUND)
    return [r.as_dict() for r in unit_revisions(code[:15])]


#: The columns of an indicator row the API gives (docs/indicators.md defines each).
INDICATOR_FIELDS = (
    "period_start", "population_start", "population_end", "births", "male_births", "female_births",
    "deaths", "in_migration", "out_migration", "cbr", "cdr", "rni", "cbr_annualised",
    "cdr_annualised", "rni_annualised", "srb", "srb_low", "srb_high", "srb_insufficient", "tfr",
    "total_dependency_ratio",
)  # fmt: skip


@router.get("/stats/units/{code}/indicators", response=dict[str, Any],
            summary="各年指标与本年累计 / indicators of each year and the year to date")
def unit_indicators(request: HttpRequest, code: str, population: str = "registered") -> dict[str, Any]:
    """The unit's indicator rows of the statistics snapshot in use, oldest first: the full
    years, then the year to date (``period_kind`` ``year_to_date``, labelled
    "2025年本年累计（截至10月31日）", ``period_end`` exclusive, its days and the annualised
    crude rates beside the raw ones; docs/indicators.md)."""
    actor = _actor(request)
    if population not in POPULATIONS:
        raise HttpError(400, "population 只能是 registered（户籍）或 resident（常住） / "
                             "population must be registered or resident")
    try:
        dash = load_dashboard()
    except DashboardError as exc:
        raise HttpError(404, str(exc)) from exc
    unit = dash.unit(code[:15])
    if unit is None or not actor.covers(unit.code):
        raise HttpError(404, NOT_FOUND)
    ytd = dash.year_to_date
    rows = []
    for r in dash.rows(unit.code, population):  # type: ignore[arg-type]
        partial = bool(r.get("year_to_date"))
        assert not partial or ytd is not None
        rows.append({
            "period": r["period"],
            "period_kind": "year_to_date" if partial else "year",
            "period_label": ytd.label_zh if partial and ytd else f"{r['period']}年",
            "period_end": r["period_end"], "period_days": r.get("period_days"),
            "year_days": r.get("year_days"),
            **{k: r.get(k) for k in INDICATOR_FIELDS},
        })
    return {
        "unit_code": unit.code, "unit_name": unit.name, "population": population,
        "snapshot": dash.snapshot.name,
        # the snapshot's moment is local time: given with the county's offset (POPREG_TIME_ZONE)
        "reference_moment": timezone.make_aware(dash.reference_moment).isoformat(),
        "rows": rows,
    }
