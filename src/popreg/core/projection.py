"""Cohort-component population projection (人口预测, 队列要素法) and the life tables it uses.

Plain typed numpy, no Django.  Two projections share one step (:func:`_step`):

* :func:`project_five_year` — five-year age groups and five-year steps, exactly the method
  of Preston, Heuveline & Guillot (2001), *Demography*, Box 6.2 ("even" migration); the
  ``popreg project --inputs`` command is a thin wrapper around it.
* :func:`project_annual` — single years of age and one-year steps, the same method with
  width 1; the planning app's registry-driven projection calls it.

The method, for each sex, over one step of ``n`` years (n = 5 or 1), with ``L`` the
life table's person-years (``nLx``; the open group's entry is ``T`` of its age) on radix
``radix``::

    start(x)   = P(x) + M(x)/2                  half of the step's net migrants join at the start
    end(x+n)   = start(x) · L(x+n)/L(x)         closed groups, x + n < A
    end(A)     = (start(A−n) + start(A)) · L(A)/(L(A−n) + L(A))     the open group A+
    end(x)    += M(x)/2                         the other half join at the end (x ≥ n)
    births(x)  = n · asfr(x) · (F_start(x) + F_end(x)) / 2          women of age group x
    end(0)     = B · share(sex) · L(0)/(n · radix) + M(0)/2
    share(F)   = 1/(1 + SRB),  share(M) = SRB/(1 + SRB)

``asfr`` is per woman-year; ``M`` is the total net migration over one step.  Deaths are the
balance ``P_start + births + net migrants − P_end``.  See docs/projection.md.

Life-table helpers (single-year tables from deaths and exposure, the Brass relational
logit model, pooling and borrowing a schedule's shape for small areas) are at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from popreg.core import demography as demo

__all__ = [
    "AnnualProjection",
    "FiveYearProjection",
    "LifeTableArrays",
    "NegativePopulationError",
    "ProjectionError",
    "alpha_for_e0",
    "asfr_scaled_to_tfr",
    "InputError",
    "ProjectionInputs",
    "borrow_shape",
    "brass_logit",
    "brass_logit_lx",
    "fit_brass_logit",
    "life_table_from_lx",
    "person_years_for_projection",
    "parse_projection_csv",
    "pool_years",
    "project_annual",
    "project_annual_many",
    "project_five_year",
    "single_year_life_table",
]

FloatArray = npt.NDArray[np.float64]

#: Index of each sex in the projection arrays.
FEMALE, MALE = 0, 1
SEX_LABELS = ("F", "M")


class ProjectionError(ValueError):
    """An input the projection cannot use; the message says which one and how to fix it."""


class NegativePopulationError(ProjectionError):
    """Net out-migration larger than the population: ``group`` (index) of ``sex`` at the
    end of step ``step`` (1-based) would be negative."""

    def __init__(
        self, step: int, sex: int, group: int, width: int, unit_index: int | None = None
    ) -> None:
        self.step, self.sex, self.group, self.unit_index = step, sex, group, unit_index
        unit = "year" if width == 1 else "step"
        age = group * width
        which = "" if unit_index is None else f"unit {unit_index}, "
        super().__init__(
            f"{which}{unit} {step}, {SEX_LABELS[sex]}, age {age}: 净迁出超过人口,结果为负 / net "
            "out-migration exceeds the population and the result is negative: reduce the "
            "out-migration of this group or of the group below it"
        )


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnualProjection:
    """A single-year projection.

    ``population[t, s, a]``: the population at the start of projection year ``t`` (t = 0 is
    the base, t = years the horizon), sex ``s`` (F = 0, M = 1), single year of age ``a``
    (0..A, the last one open).  ``births[t, s]``, ``deaths[t, s]`` and
    ``net_migrants[t, s]`` are the totals during year ``t`` (from ``population[t]`` to
    ``population[t + 1]``), so ``population[t+1].sum(1) = population[t].sum(1) + births[t]
    − deaths[t] + net_migrants[t]`` for each sex.
    """

    population: FloatArray  # (years+1, 2, A+1)
    births: FloatArray  # (years, 2)
    deaths: FloatArray  # (years, 2)
    net_migrants: FloatArray  # (years, 2)


@dataclass(frozen=True)
class FiveYearProjection:
    """A five-year projection: ``population[k, s, g]`` at step k (k = 0 the input) for sex s
    and five-year group g (the last open); ``births_by_mother_age[k, g]`` the births of both
    sexes to women of group g during step k+1 (from ``population[k]`` to
    ``population[k+1]``); ``births``, ``deaths``, ``net_migrants`` per step and sex."""

    population: FloatArray  # (steps+1, 2, G)
    births_by_mother_age: FloatArray  # (steps, G)
    births: FloatArray  # (steps, 2)
    deaths: FloatArray  # (steps, 2)
    net_migrants: FloatArray  # (steps, 2)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def _array(value: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ProjectionError(f"{name}: 含有非数值 / contains a value that is not a finite number")
    return arr


def _per_step(value: npt.ArrayLike, steps: int, shape: tuple[int, ...], name: str) -> FloatArray:
    """``value`` of ``shape`` (constant) or ``(steps, *shape)`` (one per step) → the latter."""
    arr = _array(value, name)
    if arr.shape == shape:
        return np.broadcast_to(arr, (steps, *shape))
    if arr.shape == (steps, *shape):
        return arr
    raise ProjectionError(
        f"{name}: 形状应为 {shape} 或 {(steps, *shape)},实际 {arr.shape} / "
        f"must have shape {shape} or {(steps, *shape)}, got {arr.shape}"
    )


def _check_person_years(big_l: FloatArray, width: int, radix: float, name: str) -> None:
    """Closed groups 0 < L ≤ n·radix, non-increasing; the open group's T > 0."""
    closed = big_l[..., :-1]
    where = np.argwhere(~(closed > 0) | (closed > width * radix * (1 + 1e-12)))
    if where.size:
        idx = tuple(int(i) for i in where[0])
        raise ProjectionError(
            f"{name}{list(idx)}: 生存人年数须大于 0 且不超过 {width}×基数 / person-years must be "
            f"positive and at most {width} × radix ({width * radix:g}); "
            f"got {closed[idx]:g}"
        )
    if not np.all(big_l[..., -1] > 0):
        raise ProjectionError(
            f"{name}: 最高开口组的 T(A) 须大于 0 / the open group's T(A) must be positive"
        )
    rising = np.argwhere(closed[..., 1:] > closed[..., :-1] * (1 + 1e-12))
    if rising.size:
        idx = tuple(int(i) for i in rising[0])
        raise ProjectionError(
            f"{name}{list(idx[:-1]) + [idx[-1] + 1]}: 生存人年数不能随年龄增加(存活比大于 1)/ "
            "person-years cannot increase with age (a survival ratio above 1): check the "
            "life table"
        )


# ---------------------------------------------------------------------------------------
# The step shared by both projections
# ---------------------------------------------------------------------------------------


def _step(
    pop: FloatArray,
    big_l: FloatArray,
    asfr: FloatArray,
    mig: FloatArray,
    width: int,
    srb: FloatArray,
    radix: float,
) -> tuple[FloatArray, FloatArray]:
    """One projection step (module docstring) of U units at once: ``pop``, ``big_l``,
    ``mig`` (U, 2, G), ``asfr`` (U, G), ``srb`` (U,).  Returns (population at the end of
    the step (U, 2, G), births to women of each group during the step (U, G))."""
    half = mig / 2.0
    start = pop + half
    end = np.zeros_like(pop)
    # closed groups 0..A−2n move up one group; A−n and A+ share the open group's survival
    end[..., 1:-1] = start[..., :-2] * (big_l[..., 1:-1] / big_l[..., :-2])
    s_open = big_l[..., -1] / (big_l[..., -2] + big_l[..., -1])
    end[..., -1] = (start[..., -2] + start[..., -1]) * s_open
    end[..., 1:] += half[..., 1:]
    births_by_age = width * asfr * (start[:, FEMALE] + end[:, FEMALE]) / 2.0
    total = births_by_age.sum(axis=-1)
    newborn_survival = big_l[..., 0] / (width * radix)
    end[:, FEMALE, 0] = total / (1.0 + srb) * newborn_survival[:, FEMALE] + half[:, FEMALE, 0]
    end[:, MALE, 0] = total * srb / (1.0 + srb) * newborn_survival[:, MALE] + half[:, MALE, 0]
    return end, births_by_age


def _run(
    base: npt.ArrayLike,
    person_years: npt.ArrayLike,
    asfr: npt.ArrayLike,
    net_migrants: npt.ArrayLike,
    steps: int,
    srb: float | npt.ArrayLike,
    radix: float,
    width: int,
    batched: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Check the inputs and run the steps.  Arrays carry a leading unit axis when
    ``batched`` (U units), and get one of length 1 otherwise; results keep it."""
    unit = "year" if width == 1 else "step"
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ProjectionError(f"{unit}s: 须为非负整数 / must be a whole number ≥ 0")
    if not (math.isfinite(radix) and radix > 0):
        raise ProjectionError(f"radix: 须为正数 / must be a positive number, got {radix}")
    pop0 = _array(base, "base")
    if not batched:
        pop0 = pop0[np.newaxis]
    if pop0.ndim != 3 or pop0.shape[1] != 2 or pop0.shape[2] < 2:
        want = "(units, 2, groups ≥ 2)" if batched else "(2, groups ≥ 2)"
        got = pop0.shape if batched else pop0.shape[1:]
        raise ProjectionError(f"base: 形状应为 {want} / must have shape {want}, got {got}")
    units, groups = pop0.shape[0], pop0.shape[2]

    def where(idx: tuple[int, ...]) -> str:
        return f"unit {idx[0]}, " if batched else ""

    if np.any(pop0 < 0):
        u, s, g = (int(i) for i in np.argwhere(pop0 < 0)[0])
        raise ProjectionError(
            f"base[{where((u,))}{SEX_LABELS[s]}, {g * width}]: 人口数不能为负 / population "
            "cannot be negative"
        )
    rates = _array(srb, "srb")
    if rates.shape not in ((), (units,)) or not (batched or rates.shape == ()):
        raise ProjectionError(
            f"srb: 须为一个数 / must be one number (or one per unit), got {rates.shape}"
        )
    if np.any(~(rates > 0)):
        raise ProjectionError(
            f"srb: 出生性别比须为正数 / must be a positive number, got {rates.tolist()}"
        )
    rates = np.broadcast_to(rates, (units,))

    def per_step(value: npt.ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
        arr = _array(value, name)
        if not batched:
            return _per_step(arr, steps, shape, name)[np.newaxis]
        if arr.shape == (units, *shape):
            return np.broadcast_to(arr[:, np.newaxis], (units, steps, *shape))
        if arr.shape == (units, steps, *shape):
            return arr
        raise ProjectionError(
            f"{name}: 形状应为 {(units, *shape)} 或 {(units, steps, *shape)},实际 {arr.shape} / "
            f"must have shape {(units, *shape)} or {(units, steps, *shape)}, got {arr.shape}"
        )

    big_l = per_step(person_years, (2, groups), "person_years")
    _check_person_years(big_l if batched else big_l[0], width, radix, "person_years")
    fert = per_step(asfr, (groups,), "asfr")
    if np.any(fert < 0):
        raise ProjectionError("asfr: 生育率不能为负 / fertility rates cannot be negative")
    if np.any(fert[..., 0] != 0):
        raise ProjectionError(
            "asfr: 最低年龄组的生育率须为 0 / the youngest group's fertility rate must be 0"
        )
    mig = per_step(net_migrants, (2, groups), "net_migrants")

    population = np.empty((units, steps + 1, 2, groups))
    population[:, 0] = pop0
    births_by_age = np.empty((units, steps, groups))
    births = np.empty((units, steps, 2))
    deaths = np.empty((units, steps, 2))
    migrants = mig.sum(axis=-1) if steps else np.empty((units, 0, 2))
    shares = np.stack([1.0 / (1.0 + rates), rates / (1.0 + rates)], axis=-1)
    for t in range(steps):
        end, by_age = _step(
            population[:, t], big_l[:, t], fert[:, t], mig[:, t], width, rates, radix
        )
        if end.min() < 0:  # rounding (−1e-12 where migrants cancel) or out-migration
            scale = np.maximum(1.0, np.abs(end).max(axis=(1, 2)))
            negative = end < -1e-9 * scale[:, np.newaxis, np.newaxis]
            if np.any(negative):
                u, s, g = (int(i) for i in np.argwhere(negative)[0])
                raise NegativePopulationError(t + 1, s, g, width, u if batched else None)
            np.maximum(end, 0.0, out=end)
        population[:, t + 1] = end
        births_by_age[:, t] = by_age
        births[:, t] = by_age.sum(axis=-1)[:, np.newaxis] * shares
    if steps:
        sums = population.sum(axis=-1)
        deaths[:] = sums[:, :-1] + births + migrants - sums[:, 1:]
    if batched:
        return population, births_by_age, births, deaths, migrants
    return population[0], births_by_age[0], births[0], deaths[0], migrants[0]


def project_annual(
    base: npt.ArrayLike,
    person_years: npt.ArrayLike,
    asfr: npt.ArrayLike,
    net_migrants: npt.ArrayLike,
    years: int,
    srb: float,
    radix: float = 100000.0,
) -> AnnualProjection:
    """Single-year cohort-component projection of both sexes (module docstring, n = 1).

    ``base`` (2, A+1): population at the start by sex (F = 0, M = 1) and single year of age
    0..A, A open.  ``person_years`` (2, A+1) or (years, 2, A+1): the life table's 1Lx on
    ``radix`` with the last entry T(A) (see :func:`person_years_for_projection`).  ``asfr``
    (A+1,) or (years, A+1): births per woman-year by single year of age (0 outside the
    reproductive ages).  ``net_migrants`` (2, A+1) or (years, 2, A+1): net migrants per
    year by sex and age, half joining at the start of the year and half at the end.
    ``srb``: males per female at birth (1.05, not 105).

    Raises :class:`ProjectionError` (a ``ValueError``) for inputs it cannot use and when net
    out-migration would make a group negative.

    Example::

        >>> import numpy as np
        >>> base = np.array([[1000.0, 900, 800, 600, 500]] * 2)
        >>> L = np.array([[100.0, 90, 80, 60, 100]] * 2)
        >>> p = project_annual(base, L, np.zeros(5), np.zeros((2, 5)), 1, 1.05, radix=100)
        >>> p.population[1, 0].tolist()
        [0.0, 900.0, 800.0, 600.0, 687.5]
        >>> p.deaths[0].tolist()
        [812.5, 812.5]
    """
    population, _, births, deaths, migrants = _run(
        base, person_years, asfr, net_migrants, years, srb, radix, 1
    )
    return AnnualProjection(population, births, deaths, migrants)


def project_annual_many(
    base: npt.ArrayLike,
    person_years: npt.ArrayLike,
    asfr: npt.ArrayLike,
    net_migrants: npt.ArrayLike,
    years: int,
    srb: float | npt.ArrayLike,
    radix: float = 100000.0,
) -> AnnualProjection:
    """:func:`project_annual` for U units at once (every village of a county), each array
    with a leading unit axis: ``base`` (U, 2, A+1); ``person_years`` (U, 2, A+1) or
    (U, years, 2, A+1); ``asfr`` (U, A+1) or (U, years, A+1); ``net_migrants`` (U, 2, A+1)
    or (U, years, 2, A+1); ``srb`` one number or (U,).  The result's arrays have the unit
    axis first: ``population`` (U, years+1, 2, A+1), ``births`` etc. (U, years, 2).  Unit
    u's numbers equal ``project_annual`` on unit u's inputs; one step costs about as much
    as one unit's, so a thousand villages take little longer than one."""
    population, _, births, deaths, migrants = _run(
        base, person_years, asfr, net_migrants, years, srb, radix, 1, batched=True
    )
    return AnnualProjection(population, births, deaths, migrants)


def project_five_year(
    base: npt.ArrayLike,
    nlx: npt.ArrayLike,
    asfr: npt.ArrayLike,
    net_migrants: npt.ArrayLike,
    steps: int,
    srb: float,
    radix: float = 100000.0,
) -> FiveYearProjection:
    """Five-year cohort-component projection (PHG Box 6.2, "even" migration).

    ``base`` (2, G): population by sex and five-year group 0–4, 5–9, ..., the last open.
    ``nlx`` (2, G) or (steps, 2, G): 5Lx on ``radix``, the open group's entry T(A).
    ``asfr`` (G,) or (steps, G) per woman-year; ``net_migrants`` (2, G) or (steps, 2, G):
    the total over one five-year step.
    """
    population, by_age, births, deaths, migrants = _run(
        base, nlx, asfr, net_migrants, steps, srb, radix, 5
    )
    return FiveYearProjection(population, by_age, births, deaths, migrants)


# ---------------------------------------------------------------------------------------
# Life tables as arrays
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifeTableArrays:
    """A single-year life table as arrays over ages 0..A (A open): lx, dx, Lx, Tx on the
    table's radix; mx, qx, ax; ex in years."""

    mx: FloatArray
    ax: FloatArray
    qx: FloatArray
    lx: FloatArray
    dx: FloatArray
    Lx: FloatArray  # noqa: N815 - the demographic symbol
    Tx: FloatArray  # noqa: N815
    ex: FloatArray

    @property
    def e0(self) -> float:
        return float(self.ex[0])


def _demo_sex(sex: str) -> str:
    s = {"F": "f", "f": "f", "M": "m", "m": "m"}.get(sex)
    if s is None:
        raise ProjectionError(f"sex: 须为 F 或 M / must be F or M, got {sex!r}")
    return s


def single_year_life_table(
    deaths: npt.ArrayLike,
    exposure: npt.ArrayLike,
    sex: str,
    *,
    radix: float = 100000.0,
    region: str = "w",
) -> LifeTableArrays:
    """Single-year life table from deaths and person-years of exposure at ages 0..A (A open).

    mx = deaths / exposure (0 where both are 0); a0 by Coale–Demeny (``region``, default
    West) from m0, a(x) = 0.5 above, the open group 1/mA; then the standard table of
    :func:`popreg.core.demography.life_table`.  The open group needs deaths; a unit with
    few deaths should pool years (:func:`pool_years`), borrow a larger unit's shape
    (:func:`borrow_shape`) or use a Brass model (:func:`brass_logit`).
    """
    d = _array(deaths, "deaths")
    e = _array(exposure, "exposure")
    if d.ndim != 1 or d.shape != e.shape or d.size < 2:
        raise ProjectionError(
            "deaths, exposure: 须为等长的一维数组(至少两个年龄)/ must be 1-D arrays of the "
            "same length (at least two ages)"
        )
    if np.any(d < 0) or np.any(e < 0):
        raise ProjectionError("deaths, exposure: 不能为负 / cannot be negative")
    bad = np.argwhere((e == 0) & (d > 0))
    if bad.size:
        raise ProjectionError(
            f"age {int(bad[0][0])}: 有死亡但暴露人年为 0 / deaths without exposure: check the data"
        )
    mx = np.divide(d, e, out=np.zeros_like(d), where=e > 0)
    return _table_from_mx(mx, _demo_sex(sex), radix, region)


def _table_from_mx(mx: FloatArray, sex: str, radix: float, region: str) -> LifeTableArrays:
    if mx[-1] <= 0:
        raise ProjectionError(
            f"age {mx.size - 1}+: 最高开口组没有死亡,无法编制寿命表;请合并多年或借用上级单位的"
            "死亡模式 / the open age group has no deaths: pool years, borrow a larger unit's "
            "schedule or use a Brass model"
        )
    ages = [float(a) for a in range(mx.size)]
    ax = [0.5] * (mx.size - 1) + [1.0 / float(mx[-1])]
    ax[0] = demo.coale_demeny_a0(float(mx[0]), sex, region)
    rows = demo.life_table(ages, mx.tolist(), ax, radix=radix)
    return LifeTableArrays(
        mx=mx.copy(),
        ax=np.array([r.ax for r in rows]),
        qx=np.array([r.qx for r in rows]),
        lx=np.array([r.lx for r in rows]),
        dx=np.array([r.dx for r in rows]),
        Lx=np.array([r.Lx for r in rows]),
        Tx=np.array([r.Tx for r in rows]),
        ex=np.array([r.ex for r in rows]),
    )


def person_years_for_projection(table: LifeTableArrays, max_age: int) -> FloatArray:
    """The ``person_years`` row for :func:`project_annual` with open age ``max_age``:
    1Lx for ages 0..max_age−1 and T(max_age) last."""
    if not 1 <= max_age < table.Lx.size:
        raise ProjectionError(
            f"max_age: 须在 1 与 {table.Lx.size - 1} 之间 / must lie between 1 and "
            f"{table.Lx.size - 1}"
        )
    return np.concatenate([table.Lx[:max_age], table.Tx[max_age : max_age + 1]])


def life_table_from_lx(lx: npt.ArrayLike, sex: str = "F") -> LifeTableArrays:
    """Single-year table from survivors lx at ages 0..A (lx[0] the radix, A open).

    L(x) = l(x+1) + a(x)·d(x) with a(0) by Coale–Demeny West from q0 and a(x) = 0.5 above;
    the open group lives with the constant hazard of the last closed year,
    μ = ln(l(A−1)/l(A)), so L(A) = l(A)/μ.
    """
    lxa = _array(lx, "lx")
    if lxa.ndim != 1 or lxa.size < 3 or lxa[0] <= 0:
        raise ProjectionError("lx: 须为一维且 lx[0] > 0 / must be 1-D with lx[0] > 0")
    if np.any(np.diff(lxa) > 0) or lxa[-1] < 0:
        raise ProjectionError(
            "lx: 须随年龄不增且非负 / must not increase with age, nor be negative"
        )
    dx = np.append(lxa[:-1] - lxa[1:], lxa[-1])
    qx = np.divide(dx, lxa, out=np.ones_like(lxa), where=lxa > 0)
    qx[-1] = 1.0
    ax = np.full(lxa.size, 0.5)
    ax[0] = demo.coale_demeny_a0(0.0, _demo_sex(sex), "w", imr=float(qx[0]))
    big_l = lxa[1:] + ax[:-1] * dx[:-1]
    if lxa[-1] > 0:
        mu = math.log(lxa[-2] / lxa[-1]) if lxa[-2] > lxa[-1] else 0.0
        if mu <= 0:
            raise ProjectionError("lx: 最后一年须有死亡 / the last closed year needs deaths")
        l_open = float(lxa[-1]) / mu
        ax[-1] = 1.0 / mu
    else:
        l_open = 0.0
    big_l = np.append(big_l, l_open)
    tx = np.cumsum(big_l[::-1])[::-1]
    ex = np.divide(tx, lxa, out=np.zeros_like(lxa), where=lxa > 0)
    mx = np.divide(dx, big_l, out=np.zeros_like(lxa), where=big_l > 0)
    return LifeTableArrays(mx=mx, ax=ax, qx=qx, lx=lxa.copy(), dx=dx, Lx=big_l, Tx=tx, ex=ex)


# ---------------------------------------------------------------------------------------
# Small areas: pooling, borrowing a shape, the Brass relational logit model
# ---------------------------------------------------------------------------------------


def pool_years(
    deaths_by_year: npt.ArrayLike, exposure_by_year: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Pool several years (axis 0) of deaths and exposure: the sums, for one table of the
    whole period (its rates are the period's deaths over its person-years)."""
    d = _array(deaths_by_year, "deaths")
    e = _array(exposure_by_year, "exposure")
    if d.shape != e.shape or d.ndim < 2:
        raise ProjectionError(
            "deaths, exposure: 须为同形的 (年份, 年龄) 数组 / must be (years, ages) arrays of "
            "the same shape"
        )
    return d.sum(axis=0), e.sum(axis=0)


def borrow_shape(
    deaths: npt.ArrayLike, exposure: npt.ArrayLike, reference_mx: npt.ArrayLike
) -> tuple[FloatArray, float]:
    """Borrow the age shape of a larger unit's death rates (indirect standardisation).

    The small unit's rates are the reference rates times one level factor
    k = Σ deaths / Σ exposure·m_ref (the standardised mortality ratio), so that they give
    the unit's own total deaths on its own population.  Returns (k·m_ref, k).
    """
    d = _array(deaths, "deaths")
    e = _array(exposure, "exposure")
    m = _array(reference_mx, "reference_mx")
    if not d.shape == e.shape == m.shape:
        raise ProjectionError("deaths, exposure, reference_mx: 须同形 / must have the same shape")
    if np.any(d < 0) or np.any(e < 0) or np.any(m < 0):
        raise ProjectionError("deaths, exposure, reference_mx: 不能为负 / cannot be negative")
    expected = float((e * m).sum())
    if expected <= 0:
        raise ProjectionError(
            "reference_mx: 参照死亡率在该单位人口上的期望死亡为 0 / the reference rates give no "
            "expected deaths on this population"
        )
    k = float(d.sum()) / expected
    return k * m, k


def _logit(p: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * np.log((1.0 - p) / p)
    return result


def brass_logit(standard_lx: npt.ArrayLike, alpha: float, beta: float = 1.0) -> FloatArray:
    """Brass relational logit model: Y(x) = α + β·Ys(x) with Y = ½·ln((1 − l)/l).

    ``standard_lx`` are survivors at ages 0..A (any radix, lx[0] the radix); the result has
    the same radix.  α > 0 raises mortality at every age, β < 1 flattens the curve (more
    deaths in childhood and old age relative to the middle).  Ages where the standard has
    no survivors keep 0.
    """
    std = _array(standard_lx, "standard_lx")
    if std.ndim != 1 or std.size < 2 or std[0] <= 0:
        raise ProjectionError("standard_lx: 须为一维且 lx[0] > 0 / must be 1-D with lx[0] > 0")
    radix = float(std[0])
    p = std / radix
    out = np.zeros_like(p)
    out[0] = 1.0
    inner = (p > 0) & (p < 1)
    inner[0] = False
    out[inner] = 1.0 / (1.0 + np.exp(2.0 * (alpha + beta * _logit(p[inner]))))
    out[(p >= 1) & (np.arange(p.size) > 0)] = 1.0
    return out * radix


def brass_logit_lx(standard_lx: npt.ArrayLike, alpha: float, beta: float = 1.0) -> FloatArray:
    """Alias of :func:`brass_logit` (the model's lx)."""
    return brass_logit(standard_lx, alpha, beta)


def fit_brass_logit(
    observed_lx: npt.ArrayLike, standard_lx: npt.ArrayLike, ages: npt.ArrayLike | None = None
) -> tuple[float, float]:
    """Fit α, β by least squares of Y(x) = α + β·Ys(x) over the ages (indices into the
    arrays, default every age above 0) where both survivorship proportions lie in (0, 1)."""
    obs = _array(observed_lx, "observed_lx")
    std = _array(standard_lx, "standard_lx")
    if obs.shape != std.shape or obs.ndim != 1 or obs[0] <= 0 or std[0] <= 0:
        raise ProjectionError(
            "observed_lx, standard_lx: 须为同长一维且 lx[0] > 0 / must be 1-D of the same "
            "length with lx[0] > 0"
        )
    po, ps = obs / obs[0], std / std[0]
    idx = np.arange(1, obs.size) if ages is None else np.asarray(ages, dtype=np.int64)
    idx = idx[(po[idx] > 0) & (po[idx] < 1) & (ps[idx] > 0) & (ps[idx] < 1)]
    if idx.size < 2:
        raise ProjectionError(
            "observed_lx: 可用于拟合的年龄少于两个 / fewer than two ages to fit: pool more years"
        )
    y, x = _logit(po[idx]), _logit(ps[idx])
    beta, alpha = np.polyfit(x, y, 1)
    return float(alpha), float(beta)


def alpha_for_e0(
    standard_lx: npt.ArrayLike, target_e0: float, beta: float = 1.0, *, sex: str = "F"
) -> float:
    """The α of the Brass model (β fixed) whose table (:func:`life_table_from_lx`) has life
    expectancy at birth ``target_e0`` (to 1e-9 years).  e0 falls as α rises; the root is
    bracketed in [−4, 4] and found by Newton's method kept inside the bracket (about ten
    tables instead of the fifty of a bisection)."""
    if not math.isfinite(target_e0) or target_e0 <= 0:
        raise ProjectionError(f"target_e0: 须为正数 / must be a positive number, got {target_e0}")

    if not (math.isfinite(beta) and beta > 0):
        raise ProjectionError(f"beta: 须为正数 / must be a positive number, got {beta}")
    # e0 of life_table_from_lx(brass_logit(standard_lx, α, β)) without building the table:
    # the same formulas on survivorship proportions, the standard's logits computed once.
    life_table_from_lx(brass_logit(standard_lx, 0.0, beta), sex)  # checks the inputs
    std = _array(standard_lx, "standard_lx")
    prop = std / std[0]
    inner = (prop > 0) & (prop < 1)
    inner[0] = False
    ys = beta * _logit(prop[inner])
    template = np.where(prop >= 1, 1.0, 0.0)
    template[0] = 1.0
    demo_sex = _demo_sex(sex)

    def gap(alpha: float) -> float:
        pr = template.copy()
        pr[inner] = 1.0 / (1.0 + np.exp(2.0 * (alpha + ys)))
        d0 = float(pr[0] - pr[1])
        a0 = demo.coale_demeny_a0(0.0, demo_sex, "w", imr=d0)
        closed = float((pr[1:] + 0.5 * (pr[:-1] - pr[1:])).sum()) + (a0 - 0.5) * d0
        last, before = float(pr[-1]), float(pr[-2])
        if last > 0:
            if not before > last:
                raise ProjectionError(
                    "standard_lx: 最后一年须有死亡 / the last closed year needs deaths"
                )
            closed += last / math.log(before / last)
        return closed - target_e0

    lo, hi = -4.0, 4.0
    g_lo, g_hi = gap(lo), gap(hi)
    if not g_hi <= 0 <= g_lo:
        e_lo, e_hi = g_lo + target_e0, g_hi + target_e0
        raise ProjectionError(
            f"target_e0: {target_e0:g} 超出该标准表可达范围 {e_hi:.1f}–{e_lo:.1f} 岁 / outside "
            f"the range this standard can reach ({e_hi:.1f}–{e_lo:.1f} years)"
        )
    # Newton's method on the bracket (a step that leaves it, or goes the wrong way, is
    # replaced by bisection), from α = 0: the standard itself.
    alpha, step = 0.0, 1e-6
    for _ in range(100):
        g = gap(alpha)
        if abs(g) < 1e-10:
            return alpha
        if g > 0:  # e0 too high: the root lies above alpha
            lo = alpha
        else:
            hi = alpha
        slope = (gap(alpha + step) - g) / step
        nxt = alpha - g / slope if slope < 0 else math.nan
        alpha = nxt if lo < nxt < hi else (lo + hi) / 2.0
        if hi - lo < 1e-14:
            break
    return alpha


def asfr_scaled_to_tfr(asfr: npt.ArrayLike, tfr: float, width: float = 1.0) -> FloatArray:
    """Scale an age pattern of fertility so that width·Σ asfr equals ``tfr`` (the shape is
    kept; ``width`` 1 for single years, 5 for five-year groups)."""
    f = _array(asfr, "asfr")
    if np.any(f < 0):
        raise ProjectionError("asfr: 生育率不能为负 / fertility rates cannot be negative")
    if not math.isfinite(tfr) or tfr < 0:
        raise ProjectionError(f"tfr: 须为非负数 / must be a number ≥ 0, got {tfr}")
    current = float(f.sum()) * width
    if current <= 0:
        if tfr == 0:
            return np.zeros_like(f)
        raise ProjectionError(
            "asfr: 全为 0,无法按总和生育率缩放 / all zero: there is no age pattern to scale"
        )
    result: FloatArray = f * (tfr / current)
    return result


# ---------------------------------------------------------------------------------------
# The explicit-input contract (``popreg project --inputs FILE.csv``)
# ---------------------------------------------------------------------------------------

#: Columns of the input file, in the documented order (``age_end`` is optional).
INPUT_COLUMNS = ("sex", "age_start", "population", "nLx", "asfr", "net_migrants")

#: The open group's T(A) may not exceed radix × max(5, OLDEST_AGE − A): more would need
#: the whole radix to live beyond this age.
OLDEST_AGE = 120


class InputError(ProjectionError):
    """A bad value in the input file: ``line`` (1 = the header) and ``column`` name it."""

    def __init__(self, line: int, column: str | None, zh: str, en: str) -> None:
        self.line = line
        self.column = column
        where_zh = f"第 {line} 行" + (f"「{column}」列" if column else "")
        where_en = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where_zh}:{zh} / {where_en}: {en}")


@dataclass(frozen=True)
class ProjectionInputs:
    """The parsed input file: arrays for :func:`project_five_year` and the age groups."""

    age_starts: tuple[int, ...]
    population: FloatArray  # (2, G)
    nlx: FloatArray  # (2, G)
    asfr: FloatArray  # (G,)
    net_migrants: FloatArray  # (2, G)
    lines: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # input line of each (sex, group)


@dataclass
class _Row:
    line: int
    sex: int
    age: int
    open_marked: bool
    values: dict[str, float]


def _number(text: str, line: int, column: str) -> float:
    try:
        value = float(text.strip().replace(",", "")) if text.strip() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(
            line,
            column,
            f"“{text.strip()}”不是数字,请填写一个数(如 1234 或 0.0125)",
            f"'{text.strip()}' is not a number: write a number such as 1234 or 0.0125",
        )
    return value


def _parse_age(text: str, line: int) -> tuple[int, bool]:
    raw = text.strip()
    open_marked = raw.endswith("+")
    core = raw[:-1].strip() if open_marked else raw
    try:
        age = int(core)
    except ValueError:
        raise InputError(
            line,
            "age_start",
            f"“{raw}”不是年龄组起始年龄,请填写 0、5、10……的整数(开口组可写 85+)",
            f"'{raw}' is not the first age of a group: write 0, 5, 10, ... (the open group "
            "may be written 85+)",
        ) from None
    if age < 0 or age % 5:
        raise InputError(
            line,
            "age_start",
            f"{age} 不是五岁组的起始年龄,请用 0、5、10……",
            f"{age} does not start a five-year group: use 0, 5, 10, ...",
        )
    return age, open_marked


def parse_projection_csv(text: str, radix: float = 100000.0) -> ProjectionInputs:
    """Read and check the input file of ``popreg project --inputs`` (docs/projection.md).

    Columns ``sex`` (F|M), ``age_start``, ``population``, ``nLx``, ``asfr``,
    ``net_migrants`` (names case-insensitive, any order, other columns ignored; an
    optional ``age_end`` column marks the open group with an empty cell), one row per sex
    and five-year group 0–4, 5–9, ..., the last group of each sex open.  Every problem
    raises :class:`InputError` naming the line and column and saying how to fix it.
    """
    import csv
    import io

    if not math.isfinite(radix) or radix <= 0:
        raise ProjectionError(f"radix: 须为正数 / must be a positive number, got {radix}")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise InputError(
            1,
            None,
            "文件为空,第一行应为列名 " + ",".join(INPUT_COLUMNS),
            "the file is empty: the first line must name the columns " + ",".join(INPUT_COLUMNS),
        )
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    index: dict[str, int] = {}
    for wanted in (*INPUT_COLUMNS, "age_end"):
        key = wanted.lower()
        if names.count(key) > 1:
            raise InputError(
                1, wanted, "列名重复,请删去一列", "the column appears twice: remove one"
            )
        if key in names:
            index[wanted] = names.index(key)
        elif wanted != "age_end":
            raise InputError(
                1,
                wanted,
                f"缺少此列;第一行须含 {','.join(INPUT_COLUMNS)}",
                f"the column is missing: the first line must name {','.join(INPUT_COLUMNS)}",
            )

    rows: list[_Row] = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            cells = cells + [""] * (len(header) - len(cells))
        sex_text = cells[index["sex"]].strip()
        sex = {"F": FEMALE, "M": MALE}.get(sex_text.upper())
        if sex is None:
            raise InputError(
                line,
                "sex",
                f"未知性别“{sex_text}”,请填 F(女)或 M(男)",
                f"unknown sex '{sex_text}': write F (female) or M (male)",
            )
        age, open_marked = _parse_age(cells[index["age_start"]], line)
        if "age_end" in index:
            end_text = cells[index["age_end"]].strip()
            if not end_text:
                open_marked = True
            elif _number(end_text, line, "age_end") != age + 4:
                raise InputError(
                    line,
                    "age_end",
                    f"年龄组 {age}–{end_text} 不是五岁组,应为 {age}–{age + 4}(开口组留空)",
                    f"the group {age}–{end_text} is not a five-year group: it must end at "
                    f"{age + 4} (leave it empty for the open group)",
                )
        values = {
            c: _number(cells[index[c]], line, c)
            for c in ("population", "nLx", "asfr", "net_migrants")
        }
        if values["population"] < 0:
            raise InputError(
                line,
                "population",
                "人口数不能为负,请改为 0 或正数",
                "the population cannot be negative: write 0 or a positive number",
            )
        if values["nLx"] <= 0:
            raise InputError(
                line,
                "nLx",
                "生存人年数须大于 0,请填寿命表的 nLx(开口组填 T)",
                "person-years must be positive: write the life table's nLx (T for the open group)",
            )
        if values["asfr"] < 0 or values["asfr"] > 1:
            raise InputError(
                line,
                "asfr",
                "生育率须在 0 与 1 之间(每名妇女每年的生育数,不是千分率)",
                "the fertility rate must lie between 0 and 1 (births per woman-year, not per 1000)",
            )
        if sex == MALE and values["asfr"] != 0:
            raise InputError(
                line,
                "asfr",
                "男性行的生育率须为 0(生育按母亲年龄记在女性行)",
                "asfr must be 0 on a male row (births are given by the mother's age on the "
                "female rows)",
            )
        rows.append(_Row(line, sex, age, open_marked, values))

    if not rows:
        raise InputError(
            2,
            None,
            "没有数据行,请每个性别每个年龄组一行",
            "no data rows: give one row per sex and age group",
        )
    by_sex: list[list[_Row]] = [[], []]
    for row in rows:
        by_sex[row.sex].append(row)
    for sex, label in ((FEMALE, "F"), (MALE, "M")):
        if not by_sex[sex]:
            raise InputError(
                rows[-1].line + 1,
                "sex",
                f"没有性别 {label} 的行;两个性别都须给出(人口可为 0)",
                f"there are no rows for sex {label}: give both sexes (a population of 0 is "
                "allowed)",
            )
    groups: list[list[_Row]] = []
    for sex_rows in by_sex:
        sex_rows.sort(key=lambda r: (r.age, r.line))
        label = SEX_LABELS[sex_rows[0].sex]
        for a, b in zip(sex_rows, sex_rows[1:], strict=False):
            if a.age == b.age:
                raise InputError(
                    b.line,
                    "age_start",
                    f"性别 {label} 的年龄组 {a.age} 与第 {a.line} 行重叠,请删去其中一行",
                    f"age group {a.age} of sex {label} overlaps line {a.line}: remove one of "
                    "the two rows",
                )
            if b.age != a.age + 5:
                raise InputError(
                    b.line,
                    "age_start",
                    f"性别 {label} 缺少年龄组 {a.age + 5}–{a.age + 9}(第 {a.line} 行之后),请补上",
                    f"sex {label} lacks the age group {a.age + 5}–{a.age + 9} (after line "
                    f"{a.line}): add it",
                )
        if sex_rows[0].age != 0:
            raise InputError(
                sex_rows[0].line,
                "age_start",
                f"性别 {label} 缺少年龄组 0–4,请补上",
                f"sex {label} lacks the age group 0–4: add it",
            )
        for r in sex_rows[:-1]:
            if r.open_marked:
                raise InputError(
                    r.line,
                    "age_start" if "age_end" not in index else "age_end",
                    f"开口组 {r.age}+ 不在最后;只有最高年龄组可以开口,请给出其上限或删去更高的组",
                    f"the open group {r.age}+ is not the last one: only the oldest group is "
                    "open; give this group its end or remove the older groups",
                )
        if "age_end" in index and not sex_rows[-1].open_marked:
            r = sex_rows[-1]
            raise InputError(
                r.line,
                "age_end",
                f"最后一个年龄组 {r.age} 须为开口组,请将其 age_end 留空",
                f"the last group ({r.age}) must be open: leave its age_end empty",
            )
        if len(sex_rows) < 2:
            raise InputError(
                sex_rows[0].line,
                "age_start",
                f"性别 {label} 至少需要两个年龄组",
                f"sex {label} needs at least two age groups",
            )
        groups.append(sex_rows)
    fem, mal = groups
    if len(fem) != len(mal):
        short, long_ = (fem, mal) if len(fem) < len(mal) else (mal, fem)
        extra = long_[len(short)]
        raise InputError(
            extra.line,
            "age_start",
            f"两个性别的年龄组不同:另一性别没有年龄组 {extra.age},请使两者一致",
            f"the sexes have different age groups: the other sex has no group {extra.age}; "
            "give both the same groups",
        )
    last = len(fem) - 1
    for sex_rows in groups:
        for i, r in enumerate(sex_rows):
            big_l = r.values["nLx"]
            if i < last and big_l > 5 * radix:
                raise InputError(
                    r.line,
                    "nLx",
                    f"五岁组的 nLx 不能超过 5×基数 = {5 * radix:g};请检查基数(--radix)",
                    f"a five-year group's nLx cannot exceed 5 × radix = {5 * radix:g}: check "
                    "the radix (--radix)",
                )
            if i == last and big_l > radix * max(5, OLDEST_AGE - r.age):
                cap = radix * max(5, OLDEST_AGE - r.age)
                raise InputError(
                    r.line,
                    "nLx",
                    f"开口组的 T 不能超过 {cap:g}(基数×{max(5, OLDEST_AGE - r.age)} 年);"
                    "请检查基数(--radix)",
                    f"the open group's T cannot exceed {cap:g} (radix × "
                    f"{max(5, OLDEST_AGE - r.age)} years): check the radix (--radix)",
                )
            if 0 < i < last and big_l > sex_rows[i - 1].values["nLx"]:
                raise InputError(
                    r.line,
                    "nLx",
                    f"nLx 大于上一年龄组(第 {sex_rows[i - 1].line} 行),存活比将大于 1;请检查寿命表",
                    f"nLx is larger than the previous group's (line {sex_rows[i - 1].line}), "
                    "a survival ratio above 1: check the life table",
                )
        if sex_rows[0].values["asfr"] != 0:
            raise InputError(
                sex_rows[0].line,
                "asfr",
                "0–4 岁组的生育率须为 0",
                "the 0–4 group's fertility rate must be 0",
            )

    def arr(key: str) -> FloatArray:
        return np.array([[r.values[key] for r in sex_rows] for sex_rows in groups])

    return ProjectionInputs(
        age_starts=tuple(r.age for r in fem),
        population=arr("population"),
        nlx=arr("nLx"),
        asfr=np.array([r.values["asfr"] for r in fem]),
        net_migrants=arr("net_migrants"),
        lines=(tuple(r.line for r in fem), tuple(r.line for r in mal)),
    )
