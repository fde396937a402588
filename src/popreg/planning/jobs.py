"""The ``planning_projection`` job: a unit's projection under every scenario, its back-test,
the needs and the settlement structure, from a stored snapshot.

The result is written as ``$POPREG_HOME/planning/<job id>/result.json`` (a hidden file
renamed into place in the job's applying step) and read back by the result page and the
five-year-plan sheet (:func:`load_result`).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.planning import forecast as fc
from popreg.planning import needs, settlement
from popreg.planning.events import PlanningDataError, open_snapshot, snapshot_info
from popreg.planning.models import FigureKind, Norm, NormKey, Scenario, StatedFigure
from popreg.planning.scenarios import DEFAULT_SCENARIOS, ScenarioSpec
from popreg.registry import jobs as runner
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.stats.snapshots import snapshot_path

KIND = "planning_projection"
STAGES: dict[str, str] = {
    "projecting": gettext_noop("Projecting %(unit)s under %(n)s scenarios"),
    "backtest": gettext_noop("Back-test: projecting from five years earlier"),
    "needs": gettext_noop("Needs and settlement structure"),
    "done": gettext_noop("Projection of %(unit)s done"),
}
#: Figures the five-year-plan sheet and the needs use when no norm is stored.
FALLBACK_NORMS = {
    NormKey.GRAIN: (750.0, "2000-01-01", "规划常用标准 planning norm (default)"),
    NormKey.CARE_BEDS: (30.0, "2011-12-16", "default"),
}


def result_root() -> Path:
    return Path(settings.POPREG_HOME) / "planning"


def load_result(job_id: int) -> dict[str, Any] | None:
    path = result_root() / str(int(job_id)) / "result.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def scenario_specs() -> list[ScenarioSpec]:
    stored = [s.spec() for s in Scenario.objects.all()]
    return stored or list(DEFAULT_SCENARIOS)


def _norm(key: str, on: date) -> dict[str, Any]:
    n = Norm.in_force(key, on)
    if n is not None:
        return {
            "key": key,
            "value": n.value,
            "valid_from": n.valid_from.isoformat(),
            "source": n.source,
        }
    value, valid_from, source = FALLBACK_NORMS[NormKey(key)]
    return {"key": key, "value": value, "valid_from": valid_from, "source": source}


def _figures(kind: str, unit: str) -> dict[int, float]:
    return {f.year: f.value for f in StatedFigure.objects.filter(kind=kind, unit_id=unit)}


def _latest(kind: str, unit: str) -> dict[str, Any] | None:
    f = StatedFigure.objects.filter(kind=kind, unit_id=unit).order_by("-year").first()
    return None if f is None else {"year": f.year, "value": f.value, "source": f.source}


def _round(values: Any, digits: int = 1) -> Any:
    if isinstance(values, list):
        return [_round(v, digits) for v in values]
    return round(float(values), digits)


def _estimates(est: fc.Estimates) -> dict[str, Any]:
    e0f, e0m = est.e0
    return {
        "years": list(est.years), "tfr": est.tfr, "e0_female": e0f, "e0_male": e0m, "srb": est.srb * 100,
        "net_migrants": float(est.net_migrants.sum()), "deaths": est.deaths, "births": est.births,
        "mortality_method": est.mortality_method, "mortality_factor": est.mortality_factor,
        "fertility_method": est.fertility_method, "fertility_factor": est.fertility_factor,
    }  # fmt: skip


def compute(
    snapshot: Path,
    unit: str,
    base_year: int,
    years: int,
    *,
    pool: int = fc.POOL_YEARS,
    mortality: str = "auto",
    ctx: runner.JobContext | None = None,
) -> dict[str, Any]:
    """Everything the result page and the plan sheet show (plain JSON)."""
    specs = scenario_specs()
    with open_snapshot(snapshot) as con:
        name, _level = fc.unit_row(con, unit)
        if ctx is not None:
            ctx.progress(0, 3, "projecting", unit=name, n=len(specs))
        forecasts = fc.forecast(con, unit, base_year, years, specs, pool=pool, mortality=mortality)
        info = snapshot_info(con)
        if ctx is not None:
            ctx.progress(1, 3, "backtest")
        try:
            bt = fc.backtest(
                con, unit, end=info.reference_date.year, pool=pool, mortality=mortality
            )
            backtest: dict[str, Any] = {
                "start": bt.start, "end": bt.end, "scenario": bt.scenario, "error": bt.error,
                "estimation_years": list(bt.estimation_years), "rows": bt.rows(),
            }  # fmt: skip
        except PlanningDataError as exc:
            zh, _sep, en = str(exc).partition(" / ")
            backtest = {"error_zh": zh, "error_en": en or zh}
        if ctx is not None:
            ctx.progress(2, 3, "needs")
        first = forecasts[0]
        level = first.level
        areas = {
            str(f.unit_id): f.value
            for f in StatedFigure.objects.filter(kind=FigureKind.AREA).order_by("year")
        }
        structure = None
        if level in ("county", "township"):
            structure = settlement.settlement_structure(con, unit[: fc.PREFIX_LENGTH[level]], areas)
    on = date(base_year, 1, 1)
    grain, care = _norm(NormKey.GRAIN, on), _norm(NormKey.CARE_BEDS, on)
    harvest = _figures(FigureKind.GRAIN_OUTPUT, unit)
    capacity = {k: (_latest(k, unit) or {}).get("value") for k, _lo, _hi in needs.SCHOOL_LEVELS}
    beds = _latest(FigureKind.CARE_BEDS, unit)
    scenarios = []
    for f in forecasts:
        cal = f.calendar_years
        pop = f.result.population
        scenarios.append({
            "code": f.scenario.code, "name_zh": f.scenario.name_zh, "name_en": f.scenario.name_en,
            "tfr_offset": f.scenario.tfr_offset, "tfr_target": f.scenario.tfr_target,
            "path_years": f.scenario.path_years, "e0_gain_per_year": f.scenario.e0_gain_per_year,
            "migration_factor": f.scenario.migration_factor,
            "summary": f.summary(), "pyramid_base": f.pyramid(0), "pyramid_end": f.pyramid(f.years),
            "population": _round(pop.tolist()),
            "grain": needs.grain_rows(cal, f.totals(), grain["value"], harvest),
            "schools": needs.school_rows(cal, pop, capacity),
            "care": needs.care_rows(cal, pop, care["value"], None if beds is None else beds["value"]),
        })  # fmt: skip
    return {
        "unit": unit, "unit_name": first.unit_name, "level": level, "base_year": base_year, "years": years,
        "snapshot": snapshot.name, "reference_moment": info.reference_moment, "base_note": first.base_note,
        "estimates": _estimates(first.estimates), "scenarios": scenarios, "backtest": backtest,
        "norms": {"grain": grain, "care": care},
        "stated": {"harvest": {str(y): v for y, v in sorted(harvest.items())},
                   "schools": {k: _latest(k, unit) for k, _lo, _hi in needs.SCHOOL_LEVELS}, "beds": beds},
        "settlement": structure,
    }  # fmt: skip


def run_projection_job(ctx: runner.JobContext) -> None:
    p = ctx.params
    snap = snapshot_path(str(p.get("snapshot", "")))
    if snap is None:
        raise RegistryError("请选择快照", "choose a snapshot", "snapshot")
    try:
        data = compute(
            snap,
            str(p["unit"]),
            int(p["base_year"]),
            int(p["years"]),
            pool=int(p.get("pool", fc.POOL_YEARS)),
            mortality=str(p.get("mortality", "auto")),
            ctx=ctx,
        )
    except PlanningDataError as exc:
        zh, _sep, en = str(exc).partition(" / ")
        raise RegistryError(zh, en or zh) from None
    root = result_root() / str(ctx.job.pk)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".result-{os.getpid()}.json"
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    try:
        with ctx.applying():
            tmp.replace(root / "result.json")
            ctx.progress(3, 3, "done", unit=data["unit_name"])
            medium = next(
                (s for s in data["scenarios"] if s["code"] == "medium"), data["scenarios"][0]
            )
            ctx.set_result(url=reverse("planning:result", args=[ctx.job.pk]), data={
                "unit": data["unit"], "base_year": data["base_year"], "years": data["years"],
                "horizon_total": medium["summary"][-1]["population"],
            })  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)


PROJECTION = runner.register(runner.JobKind(
    name=KIND, label=gettext_noop("Population projection"), permission=Permission.VIEW_STATISTICS,
    handler=run_projection_job, stages=STAGES,
))  # fmt: skip
