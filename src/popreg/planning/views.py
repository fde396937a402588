"""Planning pages: start a projection (a job), its result (pyramids, scenario fan, back-test,
needs, settlement structure), the five-year-plan sheet (PDF, Excel), scenarios and norms.

Thin views: parse input, call one action or start the job, render.  Reading needs
``view_statistics`` over the unit; the plan sheet ``export_statistics``; changing scenarios,
norms and stated figures ``maintain_planning`` (county-wide).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from popreg.planning import actions, plan
from popreg.planning.jobs import KIND, load_result, scenario_specs
from popreg.planning.models import FigureKind, Norm, NormKey, Scenario, StatedFigure
from popreg.planning.scenarios import DEFAULT_SCENARIOS
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.exports import Export, export_response, request_reason
from popreg.registry.job_models import JobState
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.snapshot import read_manifest
from popreg.stats.snapshots import snapshot_path, snapshots


def _require(actor: Actor, permission: Permission, unit_code: str | None = None) -> None:
    try:
        actor.require(permission, unit_code)
    except (PermissionDeniedError, JurisdictionError) as err:
        raise PermissionDenied(err.message) from None


def _english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def _int(text: Any, default: int) -> int | None:
    if text in (None, ""):
        return default
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def _units(actor: Actor) -> list[AdminUnit]:
    qs = AdminUnit.objects.filter(
        level__in=("county", "township", "village"), valid_to__isnull=True
    )
    if actor.prefix:
        qs = qs.filter(code__startswith=actor.prefix)
    return list(qs.order_by("code"))


def _reference_year(name: str) -> int | None:
    path = snapshot_path(name)
    if path is None:
        return None
    try:
        return date.fromisoformat(str(read_manifest(path)["reference_moment"])[:10]).year
    except (KeyError, ValueError, OSError):
        return None


def _percent(v: Any, digits: int, *, sign: bool = False) -> str:
    if v is None:
        return "—"
    return f"{float(v) * 100:{'+' if sign else ''}.{digits}f}%"


def _in_language(text: str) -> str:
    """A bilingual text written ``中文 / English``: the part in the page's language."""
    zh, sep, en = str(text).partition(" / ")
    return (en if _english() else zh) if sep else str(text)


def _scenario_name(s: Any) -> str:
    return str(s.name_en if _english() else s.name_zh)


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The form; a POST starts a ``planning_projection`` job and shows its progress."""
    _require(actor, Permission.VIEW_STATISTICS)
    q = request.POST if request.method == "POST" else request.GET
    snaps = snapshots()
    units = _units(actor)
    snap = q.get("snapshot") or (snaps[0] if snaps else "")
    ref_year = _reference_year(snap)
    unit = q.get("unit") or actor.unit_code or (units[0].code if units else "")
    errors: dict[str, str] = {}
    base_year = _int(q.get("base_year"), (ref_year or timezone.localdate().year) + 1)
    years = _int(q.get("years"), 10)
    if request.method == "POST":
        if snapshot_path(snap) is None:
            errors["snapshot"] = _(
                "Snapshot: choose a stored snapshot (refresh the statistics to make one)."
            )
        if unit not in {u.code for u in units}:
            errors["unit"] = _("Unit: choose a county, township or village in your jurisdiction.")
        if base_year is None or (
            ref_year is not None and not ref_year - 8 <= base_year <= ref_year + 1
        ):
            errors["base_year"] = _(
                "Base year: a year from eight years before the snapshot's reference year to the year after it."
            )
        if years is None or not 1 <= years <= 50:
            errors["years"] = _("Years: a whole number from 1 to 50.")
        if not errors:
            _require(actor, Permission.VIEW_STATISTICS, unit)
            params = {"snapshot": snap, "unit": unit, "base_year": base_year, "years": years}
            try:
                job = jobs.start_job(actor, KIND, params, unit_code=unit)
            except RegistryError as err:
                raise PermissionDenied(err.message) from None
            return redirect("jobs:detail", pk=job.pk)
    recent = (
        [j for j in jobs.visible_jobs(actor).filter(kind=KIND)[:10]]
        if actor.can(Permission.VIEW_JOBS)
        else []
    )
    ctx = {
        "snapshots": snaps, "snapshot": snap, "units": units, "unit": unit, "base_year": base_year,
        "years": years, "errors": errors, "recent": recent,
        "scenarios": [{"name": _scenario_name(s), "spec": s} for s in scenario_specs()],
        "norms": [Norm.in_force(k, timezone.localdate()) for k in NormKey.values],
        "can_maintain": actor.can(Permission.MAINTAIN_PLANNING),
    }  # fmt: skip
    return render(request, "planning/index.html", ctx, status=400 if errors else 200)


def _finished_job(request: HttpRequest, actor: Actor, pk: int, permission: Permission) -> Any:
    job = jobs.job_for(actor, pk)
    _require(actor, permission, job.unit_code or None)
    if job.kind != KIND or job.state != JobState.SUCCEEDED:
        return job, None
    data = load_result(job.pk)
    if data is None:
        raise Http404("预测结果已不存在，请重新计算 / the projection result is gone; run it again")
    return job, data


def _chart_data(data: dict[str, Any], scenario: dict[str, Any]) -> dict[str, Any]:
    en = _english()
    years = [r["year"] for r in scenario["summary"]]
    bt = data.get("backtest") or {}
    return {
        "years": years,
        "fan": [{"label": s["name_en"] if en else s["name_zh"],
                 "values": [round(r["population"]) for r in s["summary"]]} for s in data["scenarios"]],
        "base": scenario["pyramid_base"], "end": scenario["pyramid_end"],
        "backtest": {"years": [r["year"] for r in bt.get("rows", [])],
                     "projected": [round(r["projected"]) for r in bt.get("rows", [])],
                     "actual": [round(r["actual"]) for r in bt.get("rows", [])]},
        "labels": {"male": _("Men"), "female": _("Women"), "projected": _("Projected"), "actual": _("Registered")},
    }  # fmt: skip


@with_actor
def result(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    job, data = _finished_job(request, actor, pk, Permission.VIEW_STATISTICS)
    if data is None:
        return redirect("jobs:detail", pk=job.pk)
    code = request.GET.get("scenario") or "medium"
    scenario = (
        next((s for s in data["scenarios"] if s["code"] == code), None) or data["scenarios"][0]
    )
    en = _english()
    for s in data["scenarios"]:
        s["name"] = s["name_en"] if en else s["name_zh"]
    settlement = data.get("settlement")
    bt = data.get("backtest") or {}
    k = plan.plan_end_index(data)
    for s in data["scenarios"]:
        base_total = s["summary"][0]["population"]
        for r in s["summary"]:
            r["change"] = r["population"] - base_total
    size_labels = {"under_100": _("under 100"), "100_199": "100–199", "200_499": "200–499",
                   "500_999": "500–999", "1000_plus": _("1,000 and more")}  # fmt: skip
    ctx = {
        "backtest_percent": _percent(bt.get("error"), 2, sign=True),
        "backtest_rows": [{**r, "error_text": _percent(r["error"], 2, sign=True)} for r in bt.get("rows", [])],
        "grain_rows": [{**r, "share_text": _percent(r["share_of_increase"], 1)} for r in scenario["grain"]],
        "size_rows": [{**c, "label": size_labels.get(c["key"], c["key"])}
                      for c in (settlement or {}).get("classes", [])],
        "township_rows": [{**t, "share_now_text": _percent(t["share_now"], 1),
                           "share_then_text": _percent(t["share_then"], 1),
                           "change_text": _percent(t["change"], 1, sign=True)}
                          for t in (settlement or {}).get("townships", [])],
    }  # fmt: skip
    ctx |= {
        "job": job, "data": data, "scenario": scenario, "chart_data": _chart_data(data, scenario),
        "k": k, "plan_end": data["base_year"] + k,
        "horizon": data["base_year"] + data["years"], "settlement": settlement,
        "backtest_error": bt.get("error_en" if en else "error_zh"),
        "can_export": actor.can(Permission.EXPORT_STATISTICS, job.unit_code or None),
        "grain_source": _in_language(data["norms"]["grain"]["source"]),
        "care_source": _in_language(data["norms"]["care"]["source"]),
    }  # fmt: skip
    return render(request, "planning/result.html", ctx)


def _plan_download(request: HttpRequest, actor: Actor, pk: int, fmt: str) -> HttpResponse:
    job, data = _finished_job(request, actor, pk, Permission.EXPORT_STATISTICS)
    if data is None:
        return redirect("jobs:detail", pk=job.pk)
    s = plan.sheet(data)
    export = Export(
        title=s["title"], filename=f"plan-{data['unit']}-{data['base_year']}.{fmt}",
        format="pdf" if fmt == "pdf" else "xlsx", action=AuditAction.EXPORT_STATISTICS,
        reason="五年规划人口测算表 five-year plan sheet", row_count=len(s["by_scenario"]),
        pdf_html=lambda ctx: plan.plan_html(data, ctx.actor_name),
        xlsx=lambda wb, ctx: plan.fill_plan_workbook(wb, data),
        detail={"report": "five_year_plan", "job": job.pk, "unit": data["unit"], "base_year": data["base_year"]},
    )  # fmt: skip
    return export_response(actor, export, permission=Permission.EXPORT_STATISTICS, unit_code=job.unit_code or None,
                           reason=request_reason(request))  # fmt: skip


@with_actor
def plan_pdf(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _plan_download(request, actor, pk, "pdf")


@with_actor
def plan_xlsx(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _plan_download(request, actor, pk, "xlsx")


def _post_allowed(request: HttpRequest, actor: Actor) -> None:
    if request.method == "POST":
        _require(actor, Permission.MAINTAIN_PLANNING)


@with_actor
def scenarios(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The scenarios; a POST (``maintain_planning``) creates or changes one."""
    _require(actor, Permission.VIEW_STATISTICS)
    _post_allowed(request, actor)
    error, status, form = "", 200, None
    if request.method == "POST":
        p = request.POST
        form = {k: p.get(k, "") for k in ("code", "name_zh", "name_en", "tfr_offset", "tfr_target", "path_years",
                                          "e0_gain_per_year", "migration_factor")}  # fmt: skip
        try:
            actions.do_save_scenario(actor, **form)
            messages.success(request, _("The scenario %(code)s was saved.") % {"code": form["code"]})
            return redirect("planning:scenarios")
        except RegistryError as err:
            error, status = err.message, 400
    rows = list(Scenario.objects.all())
    ctx = {"rows": rows, "defaults": DEFAULT_SCENARIOS if not rows else (), "error": error, "form": form,
           "can_maintain": actor.can(Permission.MAINTAIN_PLANNING)}  # fmt: skip
    return render(request, "planning/scenarios.html", ctx, status=status)


@with_actor
def norms(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Norms and stated figures; a POST (``maintain_planning``) records one."""
    _require(actor, Permission.VIEW_STATISTICS)
    _post_allowed(request, actor)
    error, status = "", 200
    if request.method == "POST":
        p = request.POST
        try:
            if p.get("form") == "figure":
                actions.do_save_figure(
                    actor,
                    kind=p.get("kind", ""),
                    unit_code=p.get("unit", ""),
                    year=p.get("year"),
                    value=p.get("value"),
                    source=p.get("source", ""),
                )
            else:
                actions.do_save_norm(
                    actor,
                    key=p.get("key", ""),
                    value=p.get("value"),
                    valid_from=p.get("valid_from"),
                    source=p.get("source", ""),
                )
            messages.success(request, _("The planning figure was saved.") if p.get("form") == "figure"
                             else _("The planning norm was saved."))
            return redirect("planning:norms")
        except RegistryError as err:
            error, status = err.message, 400
    figures = StatedFigure.objects.select_related("unit")
    if actor.prefix:
        figures = figures.filter(unit__code__startswith=actor.prefix)
    ctx = {
        "norms": Norm.objects.all(), "figures": figures, "norm_keys": NormKey.choices,
        "figure_kinds": FigureKind.choices, "units": _units(actor), "error": error,
        "can_maintain": actor.can(Permission.MAINTAIN_PLANNING), "today": timezone.localdate().isoformat(),
    }  # fmt: skip
    return render(request, "planning/norms.html", ctx, status=status)
