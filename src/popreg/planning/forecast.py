"""Registry-driven population projection (人口预测) of a county, township or village.

From a snapshot (:func:`popreg.snapshot.connect`), for one unit:

1. **Base population** by sex and single year of age 0..100+ at 1 January of the base
   year, reconstructed from the events (:mod:`popreg.planning.events`).  When the base
   date is after the snapshot's reference moment (base year = the reference year + 1), the
   registered population at the reference moment is the base, its ages completed at the
   base date, and the note says so.
2. **Rates** from the last ``pool`` full calendar years of events before the base year
   (at most those the snapshot covers), pooled: exposure of year y = the mean of the
   populations at 1 January of y and y+1.
   - *Mortality*: a unit with at least :data:`OWN_DEATHS` deaths in the pooled years uses
     its own rates (a Gompertz curve fitted by Poisson maximum likelihood to ages 60–99
     replaces the noisy rates from 85 and carries them to 110); a smaller unit borrows the
     county's shape (its rates times one level factor, the standardised mortality ratio
     shrunk towards 1 by :data:`CREDIBILITY` expected deaths) or, when asked, a Brass
     relational logit model to the county's table (β = 1, α fitted so the unit's own
     deaths are reproduced).
   - *Fertility*: own single-year rates per woman-year with at least :data:`OWN_BIRTHS`
     births, else the county's pattern times a shrunk level factor; the sex ratio at birth
     is the county's.
   - *Migration* (moves across the unit's border: the county's border, transfers between
     units, enlistment and discharge): moves in as the mean count per year by sex and age,
     moves out as rates per person-year applied each year to the projected population (a
     small unit cannot lose more people of an age than it has); the net of a year is never
     below minus half of the smaller of the two cohorts it touches.
3. **Scenario** (:class:`ScenarioSpec`): the TFR moves linearly from the estimate to its
   target over ``path_years`` years, e0 rises by ``e0_gain_per_year`` (Brass α of the
   base table, per sex), net migration is multiplied by ``migration_factor``.
4. The single-year cohort-component projection of :func:`popreg.core.projection.project_annual`,
   one year at a time (the net migrants of a year depend on the population at its start).

``backtest`` projects from five years earlier with the rates of the years before that and
compares with the reconstructed population; ``project_registry`` is what ``popreg project
--snapshot`` calls.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from popreg.core import projection as core
from popreg.core.demography import dependency_ratios
from popreg.planning.events import (
    AGES,
    OPEN_AGE,
    PREFIX_LENGTH,
    SEXES,
    PlanningDataError,
    SnapshotInfo,
    UnitCounts,
    open_snapshot,
    read_counts,
    snapshot_info,
    unit_codes,
)
from popreg.planning.scenarios import ScenarioSpec, default_scenario
from popreg.snapshot import SnapshotConnection

#: Ages of the life tables behind the projection (the projection's open group 100+ takes
#: T(100) from them).
TABLE_OPEN_AGE = 110
#: Own mortality from this many deaths in the pooled years, own fertility from this many births.
OWN_DEATHS = 1000
OWN_BIRTHS = 1000
#: Shrinkage of a small unit's level factor: as if this many expected events at the
#: county's rates had been observed at exactly the county's level.
CREDIBILITY = 20.0
#: Ages with fertility.
FERTILE = (12, 55)
#: Default number of years pooled.
POOL_YEARS = 5
GOMPERTZ_FROM, GOMPERTZ_TO, GOMPERTZ_USED_FROM = 60, 99, 85
MORTALITY_METHODS = ("auto", "own", "shape", "brass")
#: Highest rate of moving out per person-year (a unit with no one left at an age).
MAX_OUT_RATE = 0.5


# ---------------------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------------------


@dataclass
class Estimates:
    """What the unit's events say, pooled over ``years`` (first, last)."""

    years: tuple[int, int]
    deaths: float
    births: float
    mortality_method: str  # own | shape | brass
    mortality_factor: float | None  # shape: the level factor; brass: α
    fertility_method: str  # own | shape
    fertility_factor: float | None
    mx: np.ndarray  # (2, TABLE_OPEN_AGE + 1)
    asfr: np.ndarray  # (AGES,)
    srb: float
    net_migrants: np.ndarray  # (2, AGES), observed mean per year
    in_migrants: np.ndarray  # (2, AGES), mean per year (counts)
    out_rates: np.ndarray  # (2, AGES), moves out per person-year
    tables: list[core.LifeTableArrays] = field(default_factory=list)  # F, M

    @property
    def tfr(self) -> float:
        return float(self.asfr.sum())

    @property
    def e0(self) -> tuple[float, float]:
        return self.tables[0].e0, self.tables[1].e0


def _exposure(counts: UnitCounts, years: Sequence[int]) -> np.ndarray:
    """(U, 2, AGES) pooled person-years: mean of 1 January populations of y and y+1
    (computed once per set of years: every unit of a level reads it)."""
    key = ("exposure", tuple(years))
    if key not in counts.cache:
        total = np.zeros((len(counts.codes), 2, AGES))
        for y in years:
            total += (counts.population[date(y, 1, 1)] + counts.population[date(y + 1, 1, 1)]) / 2.0
        counts.cache[key] = total
    return counts.cache[key]


def _pooled(
    counts: UnitCounts, name: str, years: Sequence[int], shape: tuple[int, ...]
) -> np.ndarray:
    """The sum over ``years`` of the counts ``name`` (deaths, births, ...), cached."""
    key = (name, tuple(years))
    if key not in counts.cache:
        data: dict[int, np.ndarray] = getattr(counts, name)
        total = np.zeros(shape)
        for y in years:
            if y in data:
                total += data[y]
        counts.cache[key] = total
    return counts.cache[key]


def gompertz(deaths: np.ndarray, exposure: np.ndarray) -> tuple[float, float]:
    """log m(x) = a + b·x fitted by Poisson maximum likelihood (Newton) over the ages
    GOMPERTZ_FROM..GOMPERTZ_TO; returns (a, b)."""
    x = np.arange(GOMPERTZ_FROM, GOMPERTZ_TO + 1, dtype=float)
    d = deaths[GOMPERTZ_FROM : GOMPERTZ_TO + 1]
    e = exposure[GOMPERTZ_FROM : GOMPERTZ_TO + 1]
    keep = e > 0
    x, d, e = x[keep], d[keep], e[keep]
    if d.sum() <= 0 or x.size < 2:
        raise PlanningDataError(
            "60 岁以上没有死亡记录，无法拟合老年死亡率；请合并更多年份 / "
            "no deaths at ages 60+: old-age mortality cannot be fitted; pool more years"
        )
    a, b = math.log(d.sum() / e.sum()) - 0.09 * (float((x * e).sum() / e.sum())), 0.09
    for _ in range(50):
        mu = e * np.exp(a + b * x)
        g = np.array([(d - mu).sum(), ((d - mu) * x).sum()])
        h = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
        step = np.linalg.solve(h, g)
        a, b = a + float(step[0]), b + float(step[1])
        if abs(step).max() < 1e-10:
            break
    return a, b


def own_mortality(deaths: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """(TABLE_OPEN_AGE + 1,) death rates: observed below 85, Gompertz from 85 to 110."""
    m = np.zeros(TABLE_OPEN_AGE + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.where(exposure > 0, deaths / np.maximum(exposure, 1e-12), 0.0)
    m[:GOMPERTZ_USED_FROM] = observed[:GOMPERTZ_USED_FROM]
    a, b = gompertz(deaths, exposure)
    ages = np.arange(GOMPERTZ_USED_FROM, TABLE_OPEN_AGE + 1, dtype=float)
    m[GOMPERTZ_USED_FROM:] = np.minimum(np.exp(a + b * ages), 1.5)
    return m


def _table(mx: np.ndarray, sex: str) -> core.LifeTableArrays:
    return core.single_year_life_table(mx, np.ones_like(mx), sex)


def _brass_alpha_for_deaths(
    standard: core.LifeTableArrays, deaths: float, exposure: np.ndarray, sex: str
) -> float:
    """α (β = 1) of the Brass model on ``standard`` whose rates give ``deaths`` on ``exposure``."""

    def expected(alpha: float) -> float:
        m = core.life_table_from_lx(core.brass_logit(standard.lx, alpha), sex).mx[:AGES]
        return float((m * exposure).sum())

    lo, hi = -3.0, 3.0
    if deaths <= expected(lo):
        return lo
    if deaths >= expected(hi):
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if expected(mid) < deaths:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _open_exposure(e: np.ndarray) -> np.ndarray:
    """(AGES,) exposure spread onto the table's ages (the 100+ group kept at 100)."""
    out = np.zeros(TABLE_OPEN_AGE + 1)
    out[:AGES] = e
    return out


def estimate(
    counts: UnitCounts,
    i: int,
    years: Sequence[int],
    *,
    county: Estimates | None = None,
    mortality: str = "auto",
) -> Estimates:
    """Rates of unit ``i`` of ``counts`` pooled over ``years`` (see the module docstring);
    ``county`` is the larger unit whose schedules a small unit borrows."""
    if mortality not in MORTALITY_METHODS:
        raise PlanningDataError(
            f"死亡率方法须为 {'/'.join(MORTALITY_METHODS)} / mortality method must be one of "
            f"{', '.join(MORTALITY_METHODS)}"
        )
    u = len(counts.codes)
    exposure = _exposure(counts, years)[i]
    deaths = _pooled(counts, "deaths", years, (u, 2, AGES))[i]
    births_age = _pooled(counts, "births", years, (u, AGES))[i]
    births_sex = _pooled(counts, "births_by_sex", years, (u, 2))[i]
    moves_in = _pooled(counts, "moves_in", years, (u, 2, AGES))[i]
    moves_out = _pooled(counts, "moves_out", years, (u, 2, AGES))[i]
    net = (moves_in - moves_out) / len(years)
    with np.errstate(divide="ignore", invalid="ignore"):
        out_rates = np.where(exposure > 0, moves_out / np.maximum(exposure, 1e-12), 0.0)
    out_rates = np.minimum(out_rates, MAX_OUT_RATE)
    total_deaths = float(deaths.sum())
    method = mortality
    if method == "auto":
        method = "own" if total_deaths >= OWN_DEATHS or county is None else "shape"
    if method in ("shape", "brass") and county is None:
        raise PlanningDataError(
            "借用死亡模式需要上级（县）的死亡率 / borrowing a schedule needs the county's rates"
        )
    mx = np.zeros((2, TABLE_OPEN_AGE + 1))
    tables: list[core.LifeTableArrays] = []
    factor: float | None = None
    if method == "shape":
        assert county is not None
        # one level factor for both sexes (the SMR, shrunk towards the county's level)
        expected = float((county.mx[:, :AGES] * exposure).sum())
        factor = (total_deaths + CREDIBILITY) / (expected + CREDIBILITY)
    for s, sex in enumerate(SEXES):
        if method == "own":
            if exposure[s].sum() <= 0:
                raise PlanningDataError(
                    "该单位没有人口 / the unit has no population in the pooled years"
                )
            mx[s] = own_mortality(deaths[s], exposure[s])
            tables.append(_table(mx[s], sex))
        elif method == "shape":
            assert county is not None and factor is not None
            mx[s] = county.mx[s] * factor
            tables.append(_table(mx[s], sex))
        else:
            assert county is not None
            alpha = _brass_alpha_for_deaths(
                county.tables[s], float(deaths[s].sum()), exposure[s], sex
            )
            table = core.life_table_from_lx(core.brass_logit(county.tables[s].lx, alpha), sex)
            factor = alpha
            mx[s] = np.maximum(table.mx, 1e-9)
            tables.append(_table(mx[s], sex))
    women = exposure[0]
    lo, hi = FERTILE
    total_births = float(births_age.sum())
    f_factor: float | None = None
    if total_births >= OWN_BIRTHS or county is None:
        f_method = "own"
        asfr = np.zeros(AGES)
        with np.errstate(divide="ignore", invalid="ignore"):
            asfr[lo : hi + 1] = np.where(
                women[lo : hi + 1] > 0,
                births_age[lo : hi + 1] / np.maximum(women[lo : hi + 1], 1e-12),
                0.0,
            )
    else:
        f_method = "shape"
        expected_births = float((county.asfr * women).sum())
        f_factor = (total_births + CREDIBILITY) / (expected_births + CREDIBILITY)
        asfr = county.asfr * f_factor
    if county is not None and total_births < OWN_BIRTHS:
        srb = county.srb
    else:
        srb = float(births_sex[1] / births_sex[0]) if births_sex[0] > 0 else 1.06
    return Estimates(
        years=(min(years), max(years)),
        deaths=total_deaths,
        births=total_births,
        mortality_method=method,
        mortality_factor=factor,
        fertility_method=f_method,
        fertility_factor=f_factor,
        mx=mx,
        asfr=asfr,
        srb=srb,
        net_migrants=net,
        in_migrants=moves_in / len(years),
        out_rates=out_rates,
        tables=tables,
    )


# ---------------------------------------------------------------------------------------
# Projection
# ---------------------------------------------------------------------------------------


@dataclass
class Forecast:
    """A projection of one unit under one scenario: ``result.population[t]`` is the
    population at 1 January of ``base_year + t``."""

    unit_code: str
    unit_name: str
    level: str
    base_year: int
    years: int
    scenario: ScenarioSpec
    estimates: Estimates
    result: core.AnnualProjection
    tfr_path: list[float]
    e0_path: list[tuple[float, float]]
    base_note: str = ""

    @property
    def calendar_years(self) -> list[int]:
        return [self.base_year + t for t in range(self.years + 1)]

    def totals(self) -> list[float]:
        return [float(p.sum()) for p in self.result.population]

    def long_rows(self) -> list[tuple[int, str, int, float]]:
        """(year, sex, age, population): the ``--out`` table, the last age open."""
        out: list[tuple[int, str, int, float]] = []
        for t, year in enumerate(self.calendar_years):
            for s, sex in enumerate(SEXES):
                for a in range(AGES):
                    out.append((year, sex, a, float(self.result.population[t, s, a])))
        return out

    def summary(self) -> list[dict[str, Any]]:
        """One row per year: population at 1 January (total, male, female), then births,
        deaths and net migrants during the year (empty in the horizon year), dependency
        ratios, TFR and e0 used in the year."""
        rows = []
        for t, year in enumerate(self.calendar_years):
            p = self.result.population[t]
            both = p.sum(axis=0)
            dep = dependency_ratios(
                float(both[:15].sum()), float(both[15:65].sum()), float(both[65:].sum())
            )
            row: dict[str, Any] = {
                "year": year, "population": float(p.sum()), "male": float(p[1].sum()), "female": float(p[0].sum()),
                "aged_0_14": float(both[:15].sum()), "aged_15_64": float(both[15:65].sum()),
                "aged_65_plus": float(both[65:].sum()),
                "youth_dependency": dep.youth, "old_age_dependency": dep.old_age, "total_dependency": dep.total,
                "births": None, "deaths": None, "net_migrants": None, "tfr": None, "e0_female": None, "e0_male": None,
            }  # fmt: skip
            if t < self.years:
                row.update(births=float(self.result.births[t].sum()), deaths=float(self.result.deaths[t].sum()),
                           net_migrants=float(self.result.net_migrants[t].sum()), tfr=self.tfr_path[t],
                           e0_female=self.e0_path[t][0], e0_male=self.e0_path[t][1])  # fmt: skip
            rows.append(row)
        return rows

    def pyramid(self, t: int) -> dict[str, list[Any]]:
        """Five-year groups 0–4 … 95–99, 100+ (men, women) at index t."""
        p = self.result.population[t]
        groups = [f"{a}–{a + 4}" for a in range(0, 100, 5)] + ["100+"]
        male = [float(p[1, a : a + 5].sum()) for a in range(0, 100, 5)] + [float(p[1, 100])]
        female = [float(p[0, a : a + 5].sum()) for a in range(0, 100, 5)] + [float(p[0, 100])]
        return {"groups": groups, "male": male, "female": female}


def alpha_path(est: Estimates, e0_path: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The Brass α (β = 1) of each year and sex that moves the unit's table to the e0 path."""
    out = []
    for targets in e0_path:
        pair = []
        for s, sex in enumerate(SEXES):
            table = est.tables[s]
            same = abs(targets[s] - table.e0) < 1e-9
            pair.append(0.0 if same else core.alpha_for_e0(table.lx, targets[s], sex=sex))
        out.append((pair[0], pair[1]))
    return out


def person_years_path(
    est: Estimates, alphas: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """(years, 2, AGES): 1Lx (last T(100)) of each year's table, moved by Brass α (β = 1).

    A small unit takes the county's α path (:func:`forecast_level`): its e0 then gains
    about what the county's gains, without a search per unit."""
    years = len(alphas)
    out = np.empty((years, 2, AGES))
    e0s: list[tuple[float, float]] = []
    base = [core.person_years_for_projection(t, OPEN_AGE) for t in est.tables]
    for t, pair in enumerate(alphas):
        e0 = [0.0, 0.0]
        for s, sex in enumerate(SEXES):
            table = est.tables[s]
            alpha = pair[s]
            if alpha == 0.0:
                out[t, s], e0[s] = base[s], table.e0
                continue
            shifted = core.life_table_from_lx(core.brass_logit(table.lx, alpha), sex)
            out[t, s], e0[s] = core.person_years_for_projection(shifted, OPEN_AGE), shifted.e0
        e0s.append((e0[0], e0[1]))
    return out, e0s


def run_projection(
    base: np.ndarray,
    est: Estimates,
    scenario: ScenarioSpec,
    years: int,
    alphas: Sequence[tuple[float, float]] | None = None,
) -> tuple[core.AnnualProjection, list[float], list[tuple[float, float]]]:
    """Project ``base`` with the unit's estimates under ``scenario``; ``alphas``: a Brass α
    path to use instead of the one that reaches the scenario's e0 path exactly."""
    tfr_path = scenario.tfr_path(est.tfr, years)
    e0f, e0m = est.e0
    e0_path = list(zip(scenario.e0_path(e0f, years), scenario.e0_path(e0m, years), strict=True))
    if alphas is None:
        alphas = alpha_path(est, e0_path)
    person_years, e0_path = person_years_path(est, alphas)
    asfr = (
        np.stack([core.asfr_scaled_to_tfr(est.asfr, tfr) for tfr in tfr_path])
        if years
        else est.asfr
    )
    factor = scenario.migration_factor
    population = np.empty((years + 1, 2, AGES))
    population[0] = base
    births, deaths, migrants = np.zeros((years, 2)), np.zeros((years, 2)), np.zeros((years, 2))
    try:
        for t in range(years):
            p = population[t]
            # moves out in proportion to the population at risk, moves in as counts; never
            # more net out-migrants than half of the smaller of the two cohorts they touch
            net = factor * (est.in_migrants - est.out_rates * p)
            floor = -0.5 * np.minimum(p, np.concatenate([p[:, :1], p[:, :-1]], axis=1))
            net = np.maximum(net, floor)
            step = core.project_annual(p, person_years[t], asfr[t], net, 1, est.srb)
            population[t + 1] = step.population[1]
            births[t], deaths[t], migrants[t] = step.births[0], step.deaths[0], step.net_migrants[0]
    except core.ProjectionError as exc:
        raise PlanningDataError(str(exc)) from None
    return core.AnnualProjection(population, births, deaths, migrants), tfr_path, e0_path


def _estimation_years(info: SnapshotInfo, base_year: int, pool: int) -> list[int]:
    last = min(base_year - 1, info.last_full_year)
    first = max(info.first_full_year, last - pool + 1)
    if last < first:
        raise PlanningDataError(
            f"基年 {base_year} 之前快照中没有完整年份的事件（事件自 {info.first_full_year} 年起完整）；请选择更晚的基年 / "
            f"the snapshot has no full year of events before the base year {base_year} (events are complete from "
            f"{info.first_full_year}); choose a later base year"
        )
    return list(range(first, last + 1))


def unit_row(con: SnapshotConnection, code: str) -> tuple[str, str]:
    rows = con.rows("SELECT name, level FROM units WHERE unit_code = ?", [code])
    if not rows:
        raise PlanningDataError(
            f"快照中没有单位代码 {code}；请检查单位 / unit code {code} is not in the snapshot: check the unit"
        )
    name, level = str(rows[0][0]), str(rows[0][1])
    if level not in PREFIX_LENGTH:
        raise PlanningDataError(
            f"单位 {code} 的级别须为县、乡镇或村 / unit {code} must be a county, township or village"
        )
    return name, level


def county_code(con: SnapshotConnection) -> str:
    rows = con.rows("SELECT unit_code FROM units WHERE level = 'county' ORDER BY unit_code LIMIT 1")
    if not rows:
        raise PlanningDataError("快照中没有县级单位 / the snapshot has no county unit")
    return str(rows[0][0])


def _check_years(years: int) -> None:
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 50:
        raise PlanningDataError("预测年数须为 1 至 50 的整数 / years: a whole number from 1 to 50")


def _base(counts: UnitCounts, i: int, info: SnapshotInfo, base_year: int) -> tuple[np.ndarray, str]:
    base_date = date(base_year, 1, 1)
    if base_date <= info.reference_date:
        return counts.population[base_date][i], ""
    return counts.population[info.reference_date][i], (
        f"基年人口取快照标准时点 {info.reference_date.isoformat()} 的户籍人口（其后至 {base_date.isoformat()} 的事件尚未进入快照） / "
        f"base population: the registered population at the reference moment {info.reference_date.isoformat()} "
        f"(events up to {base_date.isoformat()} are not in the snapshot yet)"
    )


def forecast(
    con: SnapshotConnection,
    unit: str,
    base_year: int,
    years: int,
    scenarios: Sequence[ScenarioSpec],
    *,
    pool: int = POOL_YEARS,
    mortality: str = "auto",
) -> list[Forecast]:
    """Project ``unit`` from 1 January ``base_year`` for ``years`` years under each scenario."""
    _check_years(years)
    info = snapshot_info(con)
    if base_year > info.reference_date.year + 1:
        raise PlanningDataError(
            f"基年最晚为快照标准时点的次年 {info.reference_date.year + 1} / the base year can be at most the year after "
            f"the snapshot's reference moment ({info.reference_date.year + 1})"
        )
    est_years = _estimation_years(info, base_year, pool)
    name, level = unit_row(con, unit)
    pop_years = sorted(
        {*est_years, est_years[-1] + 1}
        | ({base_year} if base_year <= info.reference_date.year else set())
    )
    pop_years = [y for y in pop_years if date(y, 1, 1) <= info.reference_date]
    ref = info.reference_date if date(base_year, 1, 1) > info.reference_date else None
    cc = county_code(con)
    county_counts = read_counts(con, "county", [cc], pop_years, est_years, reference_date=ref)
    county_est = estimate(county_counts, 0, est_years)
    if level == "county":
        counts, i, est = county_counts, 0, county_est
    else:
        counts = read_counts(con, level, [unit], pop_years, est_years, reference_date=ref)
        i = 0
        est = estimate(counts, i, est_years, county=county_est, mortality=mortality)
    base, note = _base(counts, i, info, base_year)
    out = []
    for sc in scenarios:
        result, tfr_path, e0_path = run_projection(base, est, sc, years)
        out.append(
            Forecast(unit, name, level, base_year, years, sc, est, result, tfr_path, e0_path, note)
        )
    return out


# ---------------------------------------------------------------------------------------
# Back-test
# ---------------------------------------------------------------------------------------


@dataclass
class BackTest:
    """The projection from ``start`` (rates of the years before it) against what the
    events say happened, at 1 January of each year to ``end``."""

    unit_code: str
    start: int
    end: int
    scenario: str
    estimation_years: tuple[int, int]
    projected: list[float]
    actual: list[float]
    projected_births: list[float]
    actual_births: list[float]
    projected_deaths: list[float]
    actual_deaths: list[float]

    @property
    def error(self) -> float:
        """Projected minus actual total at ``end``, as a share of the actual."""
        return (
            (self.projected[-1] - self.actual[-1]) / self.actual[-1]
            if self.actual[-1]
            else math.nan
        )

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for t, year in enumerate(range(self.start, self.end + 1)):
            p, a = self.projected[t], self.actual[t]
            row: dict[str, Any] = {
                "year": year,
                "projected": p,
                "actual": a,
                "difference": p - a,
                "error": (p - a) / a if a else None,
                "projected_births": None,
                "actual_births": None,
                "projected_deaths": None,
                "actual_deaths": None,
            }
            if t < len(self.projected_births):
                row.update(
                    projected_births=self.projected_births[t],
                    actual_births=self.actual_births[t],
                    projected_deaths=self.projected_deaths[t],
                    actual_deaths=self.actual_deaths[t],
                )
            out.append(row)
        return out


def backtest(
    con: SnapshotConnection,
    unit: str,
    *,
    end: int | None = None,
    span: int = 5,
    scenario: ScenarioSpec | None = None,
    pool: int = POOL_YEARS,
    mortality: str = "auto",
) -> BackTest:
    """Project ``unit`` from 1 January ``end − span`` to 1 January ``end`` (default: the
    last 1 January in the snapshot) and compare with the reconstructed population."""
    info = snapshot_info(con)
    end = end if end is not None else info.reference_date.year
    if date(end, 1, 1) > info.reference_date:
        raise PlanningDataError(
            f"回测终点 {end} 晚于快照标准时点 / back-test end {end} is after the reference moment"
        )
    start = end - span
    sc = scenario or default_scenario("constant")
    fc = forecast(con, unit, start, span, [sc], pool=pool, mortality=mortality)[0]
    _name, level = unit_row(con, unit)
    years = list(range(start, end + 1))
    counts = read_counts(con, level, [unit], years, years[:-1])
    actual = [float(counts.population[date(y, 1, 1)][0].sum()) for y in years]
    births = [float(counts.births_by_sex.get(y, np.zeros((1, 2)))[0].sum()) for y in years[:-1]]
    deaths = [float(counts.deaths.get(y, np.zeros((1, 2, AGES)))[0].sum()) for y in years[:-1]]
    return BackTest(
        unit,
        start,
        end,
        sc.code,
        fc.estimates.years,
        fc.totals(),
        actual,
        [float(b.sum()) for b in fc.result.births],
        births,
        [float(d.sum()) for d in fc.result.deaths],
        deaths,
    )


# ---------------------------------------------------------------------------------------
# Many units at once (every village): the benchmark and the settlement pages
# ---------------------------------------------------------------------------------------


def forecast_level(
    con: SnapshotConnection,
    level: str,
    base_year: int,
    years: int,
    scenario: ScenarioSpec,
    *,
    pool: int = POOL_YEARS,
    within: str = "",
) -> dict[str, Forecast]:
    """Every unit of ``level`` (under the code prefix ``within``) under one scenario: one
    pass over the snapshot for all of them (and one for the county), the county's schedules
    for the small ones and the county's Brass α path for the gain in e0."""
    _check_years(years)
    info = snapshot_info(con)
    est_years = _estimation_years(info, base_year, pool)
    pop_years = [
        y
        for y in sorted({*est_years, est_years[-1] + 1, base_year})
        if date(y, 1, 1) <= info.reference_date
    ]
    ref = info.reference_date if date(base_year, 1, 1) > info.reference_date else None
    cc = county_code(con)
    county_counts = read_counts(con, "county", [cc], pop_years, est_years, reference_date=ref)
    county_est = estimate(county_counts, 0, est_years)
    codes = unit_codes(con, level, within)
    names = dict(con.rows("SELECT unit_code, name FROM units WHERE level = ?", [level]))
    counts = read_counts(con, level, codes, pop_years, est_years, reference_date=ref)
    out: dict[str, Forecast] = {}
    tfr0 = county_est.tfr
    e0f, e0m = county_est.e0
    county_e0 = list(zip(scenario.e0_path(e0f, years), scenario.e0_path(e0m, years), strict=True))
    county_alphas = alpha_path(county_est, county_e0)
    for i, code in enumerate(codes):
        est = estimate(counts, i, est_years, county=county_est)
        base, note = _base(counts, i, info, base_year)
        if base.sum() <= 0:
            continue
        sc = (
            scenario
            if scenario.tfr_target is None
            else replace(scenario, tfr_target=None, tfr_offset=scenario.tfr_target - tfr0)
        )
        result, tfr_path, e0_path = run_projection(base, est, sc, years, county_alphas)
        out[code] = Forecast(
            code,
            str(names.get(code, code)),
            level,
            base_year,
            years,
            scenario,
            est,
            result,
            tfr_path,
            e0_path,
            note,
        )
    return out


# ---------------------------------------------------------------------------------------
# The command's entry point
# ---------------------------------------------------------------------------------------


def scenario_spec(code: str) -> ScenarioSpec:
    """The scenario as stored (Scenario model), the built-in default when not stored."""
    try:
        from popreg.planning.models import Scenario

        row = Scenario.objects.filter(code=code).first()
    except Exception:  # noqa: BLE001 - no database (a plain script): the defaults
        row = None
    return row.spec() if row is not None else default_scenario(code)


def _fmt(v: float | None, digits: int = 0) -> str:
    return "" if v is None else f"{v:,.{digits}f}"


def write_population_csv(fc: Forecast, out: Path) -> None:
    """``year, sex, age, population`` (the last age, 100, open)."""
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "sex", "age", "population"])
        for year, sex, age, pop in fc.long_rows():
            w.writerow([year, sex, age, f"{pop:.3f}"])


def write_summary(fc: Forecast, stdout: TextIO) -> None:
    est = fc.estimates
    stdout.write(
        f"{fc.unit_name} {fc.unit_code}  方案 scenario {fc.scenario.code}  基年 base {fc.base_year}\n"
    )
    if fc.base_note:
        stdout.write(fc.base_note + "\n")
    e0f, e0m = est.e0
    stdout.write(
        f"估计 estimated from {est.years[0]}–{est.years[1]}: TFR {est.tfr:.2f} ({est.fertility_method}), "
        f"e0 F {e0f:.1f} M {e0m:.1f} ({est.mortality_method}), SRB {est.srb * 100:.1f}, "
        f"net migrants/year {est.net_migrants.sum():,.0f}\n"
    )
    header = [
        "year",
        "population",
        "births",
        "deaths",
        "net_migrants",
        "youth_dep",
        "old_dep",
        "total_dep",
    ]
    stdout.write("  ".join(f"{h:>12}" for h in header) + "\n")
    for r in fc.summary():
        cells = [
            str(r["year"]),
            _fmt(r["population"]),
            _fmt(r["births"]),
            _fmt(r["deaths"]),
            _fmt(r["net_migrants"]),
            _fmt(r["youth_dependency"], 1),
            _fmt(r["old_age_dependency"], 1),
            _fmt(r["total_dependency"], 1),
        ]
        stdout.write("  ".join(f"{c:>12}" for c in cells) + "\n")


def project_registry(
    snapshot: Path,
    unit: str,
    base_year: int,
    years: int,
    scenario: str,
    out: Path | None,
    stdout: TextIO,
    *,
    mortality: str = "auto",
    pool: int = POOL_YEARS,
) -> Forecast:
    """``popreg project --snapshot DIR --unit CODE --base-year Y --years N --scenario S [--out F]``:
    the projection's summary to ``stdout``, the population by sex and age to ``out``."""
    spec = scenario_spec(scenario)
    with open_snapshot(snapshot) as con:
        fc = forecast(con, unit, base_year, years, [spec], pool=pool, mortality=mortality)[0]
    if out is not None:
        write_population_csv(fc, Path(out))
    write_summary(fc, stdout)
    return fc
