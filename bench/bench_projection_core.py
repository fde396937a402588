"""Benchmark: the domain core of the projection (popreg.core.projection), per call.

Each figure is set against a baseline measured in the same run:

* ``project_annual`` (2 sexes × 101 single years, 10 years, migration and fertility):
  against the same method written as a plain Python loop over ages (the baseline also
  checks the numbers: both must agree to 1e-9);
* ``alpha_for_e0`` (Newton kept inside the bracket) against a plain bisection to the same
  tolerance on the same tables;
* ``project_annual_many`` (1,000 units at once) against ``project_annual`` called for
  each unit;
* ``single_year_life_table`` and ``project_five_year`` (PHG Box 6.2, 20 steps), absolute.

The planning app runs, per unit and scenario, one ``project_annual`` and up to
2 × years ``alpha_for_e0`` solves; the last lines give that per-unit cost.

    .venv/bin/python bench/bench_projection_core.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from popreg.core import projection as p

AGES = 101


def _timed(fn: Callable[[], object], repeat: int) -> float:
    """Best of three runs of ``repeat`` calls, seconds per call."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lx = 100000 * np.exp(-0.0008 * np.arange(AGES + 1) - 0.00004 * np.arange(AGES + 1) ** 2.2)
    table = p.life_table_from_lx(lx[:AGES], "F")
    big_l = p.person_years_for_projection(table, AGES - 1)
    person_years = np.array([big_l, big_l * 0.995])
    asfr = np.zeros(AGES)
    asfr[15:50] = np.exp(-0.5 * ((np.arange(15, 50) - 28) / 6.0) ** 2)
    asfr = p.asfr_scaled_to_tfr(asfr, 1.6)
    rng = np.random.default_rng(1)
    base = rng.uniform(50, 150, (2, AGES))
    mig = rng.uniform(-1, 2, (2, AGES))
    return base, person_years, asfr, mig


def loop_projection(
    base: np.ndarray, big_l: np.ndarray, asfr: np.ndarray, mig: np.ndarray, years: int, srb: float
) -> np.ndarray:
    """The baseline: the annual step as a plain Python loop over sexes and ages."""
    a = len(asfr)
    pop = [list(map(float, base[0])), list(map(float, base[1]))]
    out = [np.array(pop)]
    for _ in range(years):
        start = [[pop[s][x] + mig[s][x] / 2 for x in range(a)] for s in (0, 1)]
        end = [[0.0] * a for _ in (0, 1)]
        for s in (0, 1):
            lx = big_l[s]
            for x in range(a - 2):
                end[s][x + 1] = start[s][x] * lx[x + 1] / lx[x]
            s_open = lx[a - 1] / (lx[a - 2] + lx[a - 1])
            end[s][a - 1] = (start[s][a - 2] + start[s][a - 1]) * s_open
            for x in range(1, a):
                end[s][x] += mig[s][x] / 2
        births = sum(asfr[x] * (start[0][x] + end[0][x]) / 2 for x in range(a))
        end[0][0] = births / (1 + srb) * big_l[0][0] / 100000 + mig[0][0] / 2
        end[1][0] = births * srb / (1 + srb) * big_l[1][0] / 100000 + mig[1][0] / 2
        pop = end
        out.append(np.array(pop))
    return np.array(out)


def bisection_alpha(standard_lx: np.ndarray, target: float) -> float:
    """The baseline: bisection on [−4, 4] to the same 1e-10 years."""
    lo, hi = -4.0, 4.0
    for _ in range(200):
        mid = (lo + hi) / 2
        e0 = p.life_table_from_lx(p.brass_logit(standard_lx, mid), "F").e0
        if abs(e0 - target) < 1e-10:
            return mid
        if e0 > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    n = args.repeat
    base, py, asfr, mig = _inputs()
    years, srb = 10, 1.06

    got = p.project_annual(base, py, asfr, mig, years, srb).population
    want = loop_projection(base, py, asfr, mig, years, srb)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    t_core = _timed(lambda: p.project_annual(base, py, asfr, mig, years, srb), n)
    t_loop = _timed(lambda: loop_projection(base, py, asfr, mig, years, srb), max(1, n // 10))
    print(
        f"project_annual, 2×{AGES} ages, {years} years: {t_core * 1e3:.3f} ms; "
        f"plain-Python loop {t_loop * 1e3:.3f} ms; ratio {t_loop / t_core:.1f}× faster"
    )

    units = 1000
    many_base = (
        np.broadcast_to(base, (units, 2, AGES)) * np.linspace(0.5, 1.5, units)[:, None, None]
    )
    many_py = np.broadcast_to(py, (units, 2, AGES))
    many_asfr = np.broadcast_to(asfr, (units, AGES))
    many_mig = np.broadcast_to(mig, (units, 2, AGES))
    t_many = _timed(
        lambda: p.project_annual_many(many_base, many_py, many_asfr, many_mig, years, srb),
        max(1, n // 50),
    )
    t_each = _timed(
        lambda: [p.project_annual(many_base[u], py, asfr, mig, years, srb) for u in range(units)],
        1,
    )
    print(
        f"project_annual_many, {units} units: {t_many * 1e3:.1f} ms "
        f"({t_many / units * 1e6:.1f} µs per unit); one by one {t_each * 1e3:.1f} ms; "
        f"ratio {t_each / t_many:.1f}× faster"
    )

    std = p.life_table_from_lx(
        100000 * np.exp(-0.0008 * np.arange(AGES) - 0.00004 * np.arange(AGES) ** 2.2), "F"
    ).lx
    targets = [55.0, 65.0, 72.5, 78.0, 84.0]
    for t in targets:
        assert abs(p.alpha_for_e0(std, t) - bisection_alpha(std, t)) < 1e-6
    t_newton = _timed(lambda: [p.alpha_for_e0(std, t) for t in targets], max(1, n // 10))
    t_bisect = _timed(lambda: [bisection_alpha(std, t) for t in targets], max(1, n // 20))
    per_newton = t_newton / len(targets)
    per_bisect = t_bisect / len(targets)
    print(
        f"alpha_for_e0: {per_newton * 1e3:.3f} ms per solve; bisection {per_bisect * 1e3:.3f} ms; "
        f"ratio {per_bisect / per_newton:.1f}× faster"
    )

    deaths = np.maximum(std[:-1] - std[1:], 1.0)
    deaths = np.append(deaths, 50.0)
    exposure = np.full(AGES, 1000.0)
    t_table = _timed(lambda: p.single_year_life_table(deaths, exposure, "F"), n)
    print(f"single_year_life_table, {AGES} ages: {t_table * 1e3:.3f} ms")

    five_base = np.array([np.linspace(300000, 100000, 18)] * 2)
    nlx = np.array([np.append(np.linspace(497000, 270000, 17), 290000)] * 2)
    fert = np.zeros(18)
    fert[3:10] = 0.05
    t_five = _timed(
        lambda: p.project_five_year(five_base, nlx, fert, np.zeros((2, 18)), 20, 1.05), n
    )
    print(f"project_five_year, 18 groups, 20 steps: {t_five * 1e3:.3f} ms")

    unit = t_core + 2 * years * per_newton + 2 * t_table
    print(
        f"per unit and scenario (1 projection, {2 * years} e0 solves, 2 tables): "
        f"{unit * 1e3:.2f} ms; 33,000 villages: {unit * 33000:.0f} s"
    )


if __name__ == "__main__":
    main()
