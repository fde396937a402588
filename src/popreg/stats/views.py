"""Statistics pages: county → township → village dashboards, the dual-system estimate page,
the annual report downloads and the snapshot refresh button.

Views are thin: they read the cached cube of the latest statistics snapshot
(:mod:`popreg.stats.dashboard`) and render it.  Every page and download is scoped by the
user's jurisdiction: a unit outside it is a 404, exactly like a unit that does not exist
(the registry pages do the same), so a village clerk sees only their village.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from popreg.core.dse import ASSUMPTIONS, ASSUMPTIONS_ZH
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.errors import PermissionDeniedError, RegistryError
from popreg.registry.exports import Export, export_response, request_reason
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.stats import report, views_periods
from popreg.stats.dashboard import (
    RANK_KEYS,
    Dashboard,
    DashboardError,
    Unit,
    load_dashboard,
)
from popreg.stats.indicators import POPULATIONS, Population

POPULATION_LABELS = {"registered": _("Registered population"), "resident": _("Resident population")}
LEVEL_LABELS = {"county": _("county"), "township": _("township"), "village": _("village")}
#: Column headings of the ranked indicators, in the order of ``RANK_KEYS`` (whose first
#: element is the Chinese heading these translate to).
RANK_LABELS = {
    "population_end": _("Population at year end"),
    "births": _("Births"),
    "deaths": _("Deaths"),
    "cbr": _("Birth rate"),
    "cdr": _("Death rate"),
    "rni": _("Natural growth rate"),
    "srb": _("Sex ratio at birth"),
    "tfr": _("Total fertility rate"),
    "total_dependency_ratio": _("Total dependency ratio"),
}
def _month_day(day: date) -> str:
    """"10月31日" in Chinese, "31 October" in English."""
    if (get_language() or "zh-hans").startswith("zh"):
        return f"{day.month}月{day.day}日"
    return f"{day.day} {date_format(day, 'F')}"


def period_labels(dash: Dashboard, year: int) -> dict[str, Any]:
    """How the pages name ``year``: a full year by its number; the year to date as
    "2025年本年累计（截至10月31日）" (``title``), "2025（截至10月31日）" (``short``), its
    last month "2025年10月" (``month``), with its days and the days of its year."""
    ytd = dash.year_to_date if dash.is_year_to_date(year) else None
    if ytd is None:
        return {"year": year, "ytd": False, "title": str(year), "short": str(year)}
    to = _month_day(ytd.last_day)
    return {
        "year": year, "ytd": True, "days": ytd.days, "year_days": ytd.year_days,
        "title": _("%(year)s, year to date (to %(date)s)") % {"year": year, "date": to},
        "short": _("%(year)s (to %(date)s)") % {"year": year, "date": to},
        "month": date_format(ytd.last_day, "YEAR_MONTH_FORMAT"),
    }


def window_year_label(year: int, start: date | None, end: date | None) -> str:
    """A year of the estimate's window as the page names it: "2024" when the window covers
    it whole, "2025（截至10月31日）" when the window ends in it, "2021（11月1日起）" when it
    starts in it (``end`` exclusive)."""
    if end is not None and end < date(year + 1, 1, 1) and end > date(year, 1, 1):
        last = date.fromordinal(end.toordinal() - 1)
        return str(_("%(year)s (to %(date)s)") % {"year": year, "date": _month_day(last)})
    if start is not None and date(year, 1, 1) < start < date(year + 1, 1, 1):
        return str(_("%(year)s (from %(date)s)") % {"year": year, "date": _month_day(start)})
    return str(year)


def _dashboard(request: HttpRequest, actor: Actor) -> Dashboard | HttpResponse:
    try:
        return load_dashboard()
    except DashboardError as err:
        return render(request, "stats/no_snapshot.html", {
            "actor": actor, "error": str(err), "can_refresh": actor.can(Permission.REFRESH_STATISTICS),
        }, status=200)


def _unit(dash: Dashboard, actor: Actor, code: str) -> Unit:
    unit = dash.unit(code)
    if unit is None or not actor.covers(unit.code):
        raise Http404("单位不存在或不在您的辖区内 / unit not found or outside your jurisdiction")
    return unit


def _choices(request: HttpRequest, dash: Dashboard) -> tuple[Population, int]:
    raw_pop = request.GET.get("population", "registered")
    population: Population = raw_pop if raw_pop in POPULATIONS else "registered"
    try:
        year = int(request.GET.get("year", dash.last_year))
    except ValueError:
        year = dash.last_year
    return population, year if year in dash.all_years else dash.last_year


def _crumbs(dash: Dashboard, actor: Actor, unit: Unit) -> list[Unit]:
    return [u for u in dash.ancestors(unit) if actor.covers(u.code)]


def _context(dash: Dashboard, actor: Actor, unit: Unit, **extra: Any) -> dict[str, Any]:
    return {
        "actor": actor, "dash": dash, "unit": unit, "crumbs": _crumbs(dash, actor, unit),
        "level_label": LEVEL_LABELS.get(unit.level, unit.level),
        "can_refresh": actor.can(Permission.REFRESH_STATISTICS), "snapshot_name": dash.snapshot.name, **extra,
    }


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    dash = _dashboard(request, actor)
    if isinstance(dash, HttpResponse):
        return dash
    unit = dash.home_unit(actor.prefix)
    if unit is None:
        raise Http404("您的辖区内没有统计单位 / no statistical unit in your jurisdiction")
    return redirect("stats:unit", code=unit.code)


@with_actor
def unit_page(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    dash = _dashboard(request, actor)
    if isinstance(dash, HttpResponse):
        return dash
    unit = _unit(dash, actor, code)
    population, year = _choices(request, dash)
    sort = request.GET.get("sort", "population_end")
    if sort not in RANK_KEYS:
        sort = "population_end"
    ascending = request.GET.get("order") == "asc"
    rows = dash.rows(unit.code, population)
    row = dash.row(unit.code, year, population)
    comparison = [
        r for r in dash.comparison(unit, year, population, sort, descending=not ascending)
        if actor.covers(r["unit_code"])
    ]
    pyramid = dash.age_pyramid(unit.code, year, population)
    for r in [*rows, *comparison]:
        r["label"] = period_labels(dash, int(r["period"]))["short"]
        r["rates"] = [{"key": k, "raw": r[k], "annualised": r.get(f"{k}_annualised")}
                      for k in ("cbr", "cdr", "rni")]  # fmt: skip
    chart_data = {
        "years": [r["label"] for r in rows],
        "population": [r["population_end"] for r in rows],
        "births": [r["births"] for r in rows],
        "deaths": [r["deaths"] for r in rows],
        # per year: the year to date's point is its annualised rate (a full year's is its own)
        "cbr": [r.get("cbr_annualised", r["cbr"]) for r in rows],
        "cdr": [r.get("cdr_annualised", r["cdr"]) for r in rows],
        "rni": [r.get("rni_annualised", r["rni"]) for r in rows],
        "srb": [r["srb"] for r in rows],
        "srb_low": [r["srb_low"] for r in rows],
        "srb_high": [r["srb_high"] for r in rows],
        "pyramid": pyramid,
        "comparison": {
            "names": [r["unit_name"] for r in comparison],
            "values": [r[sort] for r in comparison],
            "label": str(RANK_LABELS[sort]),
        },
        "labels": {
            "male": str(_("Male")), "female": str(_("Female")),
            **{k: str(RANK_LABELS[k]) for k in ("population_end", "births", "deaths", "cbr", "cdr", "rni", "srb")},
            "srb_low": str(_("Lower 95% limit")), "srb_high": str(_("Upper 95% limit")),
        },
    }
    return render(request, "stats/unit.html", _context(
        dash, actor, unit,
        population=population, population_label=POPULATION_LABELS[population],
        populations=POPULATION_LABELS, year=year, rows=rows, row=row,
        period=period_labels(dash, year),
        year_links=[period_labels(dash, y) for y in dash.all_years],
        ytd_in_charts=next((r["label"] for r in rows if r.get("year_to_date")), None),
        now=dash.population_now(unit), comparison=comparison, sort=sort, ascending=ascending,
        rank_keys={k: RANK_LABELS[k] for k in RANK_KEYS}, pyramid=pyramid, chart_data=chart_data,
        child_level_label=LEVEL_LABELS.get(comparison[0]["level"], "") if comparison else "",
        revision_rows=views_periods.page_revisions(unit.code, year, population),
    ))


@with_actor
def dse_page(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    dash = _dashboard(request, actor)
    if isinstance(dash, HttpResponse):
        return dash
    unit = _unit(dash, actor, code)
    years = dash.dse_years()
    raw_year = request.GET.get("year", "")
    chosen = [int(raw_year)] if raw_year.isdigit() and int(raw_year) in years else None
    total = dash.dse_estimate(unit, chosen)
    children = [
        dash.dse_estimate(c, chosen) for c in dash.children(unit) if actor.covers(c.code)
    ]
    info = dash.meta.get("dse", {})
    window = [date.fromisoformat(info[k]) if info.get(k) else None for k in ("window_start", "window_end")]
    labels = {y: window_year_label(y, *window) for y in years}
    by_year = [(labels[y], dash.dse_estimate(unit, [y])) for y in years]
    return render(request, "stats/dse.html", _context(
        dash, actor, unit, total=total, children=children, by_year=by_year, years=years,
        year_links=list(labels.items()),
        year=chosen[0] if chosen else None, info=dash.meta.get("dse", {}),
        assumptions=list(zip(ASSUMPTIONS_ZH, ASSUMPTIONS, strict=True)),
    ))


def _report_response(
    request: HttpRequest, actor: Actor, code: str, fmt: str
) -> HttpResponse:
    dash = _dashboard(request, actor)
    if isinstance(dash, HttpResponse):
        return dash
    unit = _unit(dash, actor, code)
    population, year = _choices(request, dash)
    made_at = timezone.localtime()
    data = report.build_report(dash, unit, year, population, made_by=actor.name, made_at=made_at,
                               covers=actor.covers)
    revised = views_periods.page_revisions(unit.code, year, population)
    export = Export(
        title=data.title, filename=f"statistics-{unit.code}-{year}-{population}.{fmt}",
        format="pdf" if fmt == "pdf" else "xlsx", action=AuditAction.EXPORT_STATISTICS,
        reason="统计报告 statistics report", row_count=len(data.rows),
        # A closed period's published figures beside their revision (docs/periods.md).
        pdf_html=lambda ctx: views_periods.with_revision_html(report.report_html(data), revised),
        xlsx=lambda wb, ctx: (report.fill_report_workbook(wb, data), views_periods.add_revision_sheet(wb, revised)),
        detail={"report": "annual", "year": year, "population": population, "snapshot": dash.snapshot.name},
    )
    return export_response(actor, export, permission=Permission.EXPORT_STATISTICS, unit_code=unit.code,
                           reason=request_reason(request))


@with_actor
def report_pdf(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    return _report_response(request, actor, code, "pdf")


@with_actor
def report_xlsx(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    return _report_response(request, actor, code, "xlsx")


def _start(request: HttpRequest, actor: Actor, kind: str) -> HttpResponse:
    """Start a statistics job and show its progress (the result is linked from the job)."""
    try:
        job = jobs.start_job(actor, kind)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    except RegistryError as err:
        messages.error(request, err.message)
        return redirect("stats:index")
    return redirect("jobs:detail", pk=job.pk)


@require_POST
@with_actor
def refresh(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Start a ``stats_refresh`` job: a new statistics snapshot with its cube (county staff)."""
    return _start(request, actor, "stats_refresh")


@require_POST
@with_actor
def dse_build(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Start a ``stats_dse`` job: link the latest snapshot's hospital births (county staff)."""
    return _start(request, actor, "stats_dse")
