"""Tests of popreg.core.projection against published projections (tests/data/demography)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from popreg.core import demography as d
from popreg.core import projection as p

DATA = Path(__file__).resolve().parent.parent / "data" / "demography"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _col(rows: list[dict[str, str]], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


# --- PHG Box 6.2: Sweden 1993 females, "even" migration ---------------------------------

PHG = _rows("phg_box6_2_sweden1993_female_ccmpp.csv")
#: ccmppWPP data-raw/sweden_1993.R @ 2f034b43 (PzM): the male 0-4 group in 1998 when the
#: male inputs are set equal to the female ones (that package's test of Box 6.2).
PHG_MALE_0_4_1998 = 317340


def _phg_projection() -> p.FiveYearProjection:
    pop, nlx = _col(PHG, "pop_f_1993"), _col(PHG, "nLx_f")
    mig = _col(PHG, "net_migrants_f_1993_1998")
    return p.project_five_year(
        np.array([pop, pop]), np.array([nlx, nlx]), _col(PHG, "asfr"), np.array([mig, mig]), 1, 1.05
    )


def test_phg_box_6_2_every_cell():
    res = _phg_projection()
    expected_pop = _col(PHG, "expected_pop_f_1998")
    expected_births = _col(PHG, "expected_births_by_mother_age_1993_1998")
    # the book rounds to whole persons: every cell equal after rounding
    assert np.round(res.population[1, p.FEMALE]).tolist() == expected_pop.tolist()
    assert np.round(res.births_by_mother_age[0]).tolist() == expected_births.tolist()
    assert round(res.population[1, p.MALE, 0]) == PHG_MALE_0_4_1998
    assert np.round(res.population[1, p.MALE, 1:]).tolist() == expected_pop[1:].tolist()
    assert res.population[0, p.FEMALE].tolist() == _col(PHG, "pop_f_1993").tolist()


def test_phg_balance_identity():
    res = _phg_projection()
    start, end = res.population[0].sum(axis=1), res.population[1].sum(axis=1)
    np.testing.assert_allclose(end, start + res.births[0] - res.deaths[0] + res.net_migrants[0])
    assert res.births[0].sum() == pytest.approx(res.births_by_mother_age[0].sum())
    assert res.births[0, p.MALE] / res.births[0, p.FEMALE] == pytest.approx(1.05)
    assert np.all(res.deaths > 0)


# --- demoproj Sweden 1993, both sexes ---------------------------------------------------

DEMOPROJ = _rows("phg_sweden1993_demoproj_v0.csv")


def _demoproj_leslie(lx_f: np.ndarray, lx_m: np.ndarray, fx: np.ndarray, srb: float) -> np.ndarray:
    """The projection matrix of gjabel/demoproj R/ccp_closed.R @ 6349730f (ccp_closed0) with
    that package's survivorships (data-raw/sweden1993.R), built independently of popreg."""
    k = len(fx)

    def sx(big_l: np.ndarray) -> np.ndarray:
        s = np.append(big_l[1:] / big_l[:-1], np.nan)
        s[k - 2] = big_l[-1] / (big_l[-1] + big_l[-2])
        s[k - 1] = s[k - 2]
        return s

    sx_f, sx_m = sx(lx_f), sx(lx_m)
    sn_f, sn_m = lx_f[0] / 500000, lx_m[0] / 500000
    share_f = 1 / (1 + srb)
    lead_fx = np.append(fx[1:], 0.0)
    fert = 5 * 0.5 * (fx + lead_fx * sx_f)
    mat = np.zeros((2 * k, 2 * k))
    for off, s in ((0, sx_f), (k, sx_m)):
        for i in range(k - 1):
            mat[off + i + 1, off + i] = s[i]
        mat[off + k - 1, off + k - 1] = s[k - 1]
    mat[0, :k] = sn_f * share_f * fert
    mat[k, :k] = sn_m * (1 - share_f) * fert
    return mat


def test_demoproj_sweden_1993_both_sexes_closed_every_cell():
    nf, nm = _col(DEMOPROJ, "Nx_f"), _col(DEMOPROJ, "Nx_m")
    lf, lm, fx = _col(DEMOPROJ, "Lx_f"), _col(DEMOPROJ, "Lx_m"), _col(DEMOPROJ, "Fx")
    steps = 5
    res = p.project_five_year(
        np.array([nf, nm]), np.array([lf, lm]), fx, np.zeros((2, len(fx))), steps, 1.05
    )
    mat = _demoproj_leslie(lf, lm, fx, 1.05)
    ww = np.concatenate([nf, nm])
    for k in range(1, steps + 1):
        ww = mat @ ww
        got = np.concatenate(res.population[k])
        assert np.round(got).tolist() == np.round(ww).tolist(), k
        np.testing.assert_allclose(got, ww, rtol=1e-12)


def test_demoproj_sweden_1993_with_migration():
    """demoproj's ccp_net0 (example: male net migrants = female) applies the matrix to
    N + M/2 and adds M/2: the same as PHG except that women who arrive in the second half
    of the step bear no children there.  Every group except 0-4 is equal; 0-4 differs by
    exactly those births."""
    nf, nm = _col(DEMOPROJ, "Nx_f"), _col(DEMOPROJ, "Nx_m")
    lf, lm, fx = _col(DEMOPROJ, "Lx_f"), _col(DEMOPROJ, "Lx_m"), _col(DEMOPROJ, "Fx")
    mig = _col(DEMOPROJ, "Mx_f")
    res = p.project_five_year(
        np.array([nf, nm]), np.array([lf, lm]), fx, np.array([mig, mig]), 1, 1.05
    )
    mm = np.concatenate([mig, mig])
    ww = _demoproj_leslie(lf, lm, fx, 1.05) @ (np.concatenate([nf, nm]) + mm / 2) + mm / 2
    got = np.concatenate(res.population[1])
    k = len(fx)
    others = [i for i in range(2 * k) if i not in (0, k)]
    assert np.round(got[others]).tolist() == np.round(ww[others]).tolist()
    extra = 5 * float((fx * mig / 2).sum()) / 2
    assert got[0] - ww[0] == pytest.approx(extra / 2.05 * lf[0] / 500000)
    assert got[k] - ww[k] == pytest.approx(extra * 1.05 / 2.05 * lm[0] / 500000)


# --- annual projection ------------------------------------------------------------------


def test_annual_small_example_exact():
    base = np.array([[1000.0, 900, 800, 600, 500], [1100.0, 950, 800, 500, 300]])
    big_l = np.array([[100.0, 90, 80, 60, 100]] * 2)
    res = p.project_annual(base, big_l, np.zeros(5), np.zeros((2, 5)), 2, 1.05, radix=100)
    # survival 90/100, 80/90, 60/80; open: 100/(60+100) applied to 60 and 60+ together
    assert res.population[1, 0].tolist() == [0.0, 900.0, 800.0, 600.0, 687.5]
    assert res.population[1, 1].tolist() == pytest.approx([0.0, 990.0, 800 * 95 / 90, 600.0, 500.0])
    assert res.population[2, 0].tolist() == pytest.approx([0, 0, 800, 600, 804.6875])
    assert res.deaths[0].tolist() == pytest.approx([812.5, 3650 - 2934.4444444444445])
    assert res.births.tolist() == [[0, 0], [0, 0]]
    assert res.net_migrants.tolist() == [[0, 0], [0, 0]]


def test_annual_births_and_migration_exact():
    base = np.array([[100.0, 200, 300], [100.0, 200, 300]])
    big_l = np.array([[90.0, 80, 120]] * 2)
    asfr = np.array([0.0, 0.5, 0.0])
    mig = np.array([[10.0, 20, -30], [0.0, 0, 0]])
    res = p.project_annual(base, big_l, asfr, mig, 1, 1.0, radix=100)
    # women 1: start 200 + 10 = 210; end of 0-year-olds moving up 105 · 80/90, plus 10
    f_start = 210.0
    f_end = 105.0 * 80 / 90 + 10
    births = 0.5 * (f_start + f_end) / 2
    assert res.births[0].tolist() == pytest.approx([births / 2, births / 2])
    assert res.population[1, 0, 0] == pytest.approx(births / 2 * 0.9 + 5)
    assert res.population[1, 0, 2] == pytest.approx((210 + 285) * 120 / 200 - 15)
    assert res.net_migrants[0].tolist() == [0.0, 0.0]


def test_annual_cohort_survival_matches_five_year():
    """No births, no migration: after five years each single-year cohort is P(x)·L(x+5)/L(x)
    exactly, and with P(x) proportional to L(x) inside each five-year group the annual
    projection gives the five-year projection's groups exactly."""
    big_l = np.array([99500.0 - 300 * a - 8 * a * a for a in range(85)])
    big_l = np.append(big_l, 240000.0)  # T(85)
    scale = np.repeat(np.arange(17, 0, -1) * 3.0 + 20, 5)
    base_1 = np.append(scale * big_l[:85] / 1000, 5000.0)
    base = np.array([base_1, base_1 * 0.95])
    person_years = np.array([big_l, big_l])
    ann = p.project_annual(base, person_years, np.zeros(86), np.zeros((2, 86)), 5, 1.05)
    for x in range(80):
        assert ann.population[5, 0, x + 5] == pytest.approx(
            base_1[x] * big_l[x + 5] / big_l[x], rel=1e-12
        )
    five_base = np.array(
        [np.append(base[s, :85].reshape(17, 5).sum(1), base[s, 85]) for s in (0, 1)]
    )
    five_l = np.append(big_l[:85].reshape(17, 5).sum(1), big_l[85])
    five = p.project_five_year(
        five_base, np.array([five_l, five_l]), np.zeros(18), np.zeros((2, 18)), 1, 1.05
    )
    annual_groups = ann.population[5, :, :85].reshape(2, 17, 5).sum(2)
    np.testing.assert_allclose(annual_groups[:, 1:16], five.population[1, :, 1:16], rtol=1e-12)
    assert np.all(ann.population[5, :, :5] == 0) and np.all(five.population[1, :, 0] == 0)


def _annual_leslie(big_l: np.ndarray, asfr: np.ndarray, srb: float, radix: float) -> np.ndarray:
    """Female-dominant one-sex projection matrix of the annual method, built by hand."""
    n = len(big_l)
    mat = np.zeros((n, n))
    for i in range(n - 2):
        mat[i + 1, i] = big_l[i + 1] / big_l[i]
    s_open = big_l[-1] / (big_l[-1] + big_l[-2])
    mat[n - 1, n - 2] = mat[n - 1, n - 1] = s_open
    # births = Σ asfr·(start + end)/2 where end = M·start; female share 1/(1+srb)
    first = 0.5 * (asfr + asfr @ mat) * (big_l[0] / radix) / (1 + srb)
    mat[0] += first
    return mat


def test_annual_stable_population_growth_equals_dominant_eigenvalue():
    lx = np.array([100000 * np.exp(-0.0005 * a - 0.00004 * a**2.2) for a in range(101)])
    table = p.life_table_from_lx(lx, "F")
    big_l = p.person_years_for_projection(table, 85)
    asfr = np.zeros(86)
    asfr[15:50] = np.exp(-0.5 * ((np.arange(15, 50) - 28) / 6.0) ** 2)
    asfr = p.asfr_scaled_to_tfr(asfr, 2.4)
    base = np.array([np.full(86, 1000.0), np.full(86, 1000.0)])
    years = 1000  # |λ2|/λ1 ≈ 0.976: converged to 1e-12 by then
    res = p.project_annual(base, np.array([big_l, big_l]), asfr, np.zeros((2, 86)), years, 1.06)
    lam = max(abs(np.linalg.eigvals(_annual_leslie(big_l, asfr, 1.06, 100000.0))))
    totals = res.population[:, 0].sum(1)
    assert totals[-1] / totals[-2] == pytest.approx(lam, rel=1e-9)
    # the five-year projection of the same schedules grows at about λ⁵ per step
    groups = np.append(big_l[:85].reshape(17, 5).sum(1), big_l[85])
    fert5 = np.append(asfr[:85].reshape(17, 5).mean(1), 0.0)
    five = p.project_five_year(
        np.array([np.full(18, 5000.0)] * 2),
        np.array([groups, groups]),
        fert5,
        np.zeros((2, 18)),
        80,
        1.06,
    )
    t5 = five.population[:, 0].sum(1)
    assert t5[-1] / t5[-2] == pytest.approx(lam**5, rel=3e-3)
    # the stable age structure: P(x+1)/P(x) = L(x+1)/L(x) / λ for closed ages
    stable = res.population[-1, 0]
    np.testing.assert_allclose(
        stable[1:80] / stable[:79], big_l[1:80] / big_l[:79] / lam, rtol=1e-8
    )


def test_annual_time_varying_inputs_and_balance():
    rng = np.random.default_rng(3)
    years, ages = 6, 21
    base = rng.uniform(50, 150, (2, ages))
    lx = np.linspace(100000, 40000, ages + 1)
    big_l = np.append((lx[:-2] + lx[1:-1]) / 2, lx[-2] * 6)
    py = np.stack([np.array([big_l, big_l]) * (1 - 0.001 * t) for t in range(years)])
    asfr = np.zeros((years, ages))
    asfr[:, 5:15] = 0.08
    mig = rng.uniform(-3, 5, (years, 2, ages))
    res = p.project_annual(base, py, asfr, mig, years, 1.05)
    assert res.population.shape == (years + 1, 2, ages)
    assert res.births.shape == res.deaths.shape == res.net_migrants.shape == (years, 2)
    for t in range(years):
        np.testing.assert_allclose(
            res.population[t + 1].sum(1),
            res.population[t].sum(1) + res.births[t] - res.deaths[t] + res.net_migrants[t],
        )
    np.testing.assert_allclose(res.net_migrants, mig.sum(2))
    assert np.all(res.deaths > 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base": np.array([[-1.0, 1, 1], [1, 1, 1]])}, "negative"),
        ({"person_years": np.array([[0.0, 1, 1], [1, 1, 1]])}, "positive"),
        ({"person_years": np.array([[90.0, 95, 50], [100, 90, 50]])}, "increase"),
        ({"asfr": np.array([0.0, -0.1, 0])}, "negative"),
        ({"asfr": np.array([0.1, 0, 0])}, "youngest"),
        ({"net_migrants": np.array([[0.0, 0, -500], [0, 0, 0]])}, "out-migration"),
        ({"net_migrants": np.zeros((3, 3))}, "shape"),
        ({"srb": 0.0}, "srb"),
        ({"years": -1}, "whole number"),
    ],
)
def test_annual_refuses_bad_inputs(change, message):
    kwargs = {
        "base": np.array([[100.0, 100, 100], [100, 100, 100]]),
        "person_years": np.array([[100.0, 90, 50], [100, 90, 50]]),
        "asfr": np.array([0.0, 0.1, 0]),
        "net_migrants": np.zeros((2, 3)),
        "years": 2,
        "srb": 1.05,
        "radix": 100.0,
    }
    kwargs.update(change)
    with pytest.raises(p.ProjectionError, match=message):
        p.project_annual(**kwargs)


# --- life tables from deaths and exposure ----------------------------------------------


def test_abridged_table_from_counts_austria_1992():
    rows = _rows("phg_austria1992_male_lifetable.csv")
    lt = d.life_table_from_counts(
        [float(r["age_start"]) for r in rows],
        [float(r["deaths_nDx"]) for r in rows],
        [float(r["pop_nNx"]) for r in rows],
        [float(r["nax"]) for r in rows],
    )
    for r, row in zip(rows, lt, strict=True):
        assert row.qx == pytest.approx(float(r["qx_demcore_computed"]), abs=1e-8)
        assert row.ex == pytest.approx(float(r["ex_demcore_computed"]), abs=1e-3)
        assert row.lx == pytest.approx(float(r["lx_published"]), abs=1.0)
        assert row.dx == pytest.approx(float(r["ndx_published"]), abs=1.0)
        assert row.Lx == pytest.approx(float(r["nLx_published"]), abs=1.0)


def test_abridged_table_from_counts_pas_ltpopdth():
    rows = _rows("demotools_pas_ltpopdth_north_male_lt.csv")
    lt = d.life_table_from_counts(
        [float(r["age_start"]) for r in rows],
        [float(r["deaths"]) for r in rows],
        [float(r["exposures"]) for r in rows],
        sex="m",
        region="n",
        method="pas",
        q0=0.1,
    )
    for r, row in zip(rows[:19], lt, strict=False):
        assert row.ex == pytest.approx(float(r["ex_expected"]), abs=0.01), r["age_start"]


def test_un_1982_model_table_greville_nax():
    rows = _rows("demotools_un1982_p34_male_lt.csv")
    ages = [float(r["age_start"]) for r in rows]
    mx = [float(r["nMx"]) for r in rows]
    ax = d.un_nax(ages, mx, "m", "w")
    assert ax[:4] == pytest.approx([0.33, 1.352, 2.5, 2.5])  # q0 > 0.1: CD constants
    assert ax[4] == pytest.approx(2.5 - 25 / 12 * (mx[4] - math.log(mx[5] / mx[3]) / 10))
    lt = d.life_table(ages, mx, ax)
    for r, row in zip(rows, lt, strict=True):
        tol = 0.02 if r["compared_in_test"] == "yes" else 0.005
        assert row.ex == pytest.approx(float(r["ex_expected"]), abs=tol), r["age_start"]
        # measured: every row within 0.003 years of the UN's published value
        assert row.ex == pytest.approx(float(r["ex_expected"]), abs=0.005), r["age_start"]


def _gompertz_counts(level: float = 0.0001, slope: float = 0.085, ages: int = 101):
    x = np.arange(ages, dtype=float)
    mx = level * np.exp(slope * x) + 0.0004
    mx[0] = 0.006
    exposure = np.linspace(1200, 200, ages)
    return mx * exposure, exposure, mx


def test_single_year_life_table_from_counts():
    deaths, exposure, mx = _gompertz_counts()
    t = p.single_year_life_table(deaths, exposure, "F")
    np.testing.assert_allclose(t.mx, mx)
    rows = d.life_table(
        list(range(101)),
        mx.tolist(),
        [d.coale_demeny_a0(0.006, "f", "w")] + [0.5] * 99 + [1 / mx[-1]],
    )
    np.testing.assert_allclose(t.Lx, [r.Lx for r in rows])
    np.testing.assert_allclose(t.ex, [r.ex for r in rows])
    assert t.lx[0] == 100000 and t.Tx[0] == pytest.approx(t.Lx.sum())
    assert t.e0 == pytest.approx(t.Tx[0] / 100000)
    # the same table through life_table_from_counts
    same = d.life_table_from_counts(list(range(101)), deaths.tolist(), exposure.tolist(), sex="f")
    np.testing.assert_allclose(t.ex, [r.ex for r in same])
    py = p.person_years_for_projection(t, 85)
    assert py.shape == (86,) and py[-1] == pytest.approx(t.Tx[85]) and py[84] == t.Lx[84]
    with pytest.raises(p.ProjectionError, match="open age group has no deaths"):
        p.single_year_life_table(np.append(deaths[:-1], 0.0), exposure, "F")
    with pytest.raises(p.ProjectionError, match="sex"):
        p.single_year_life_table(deaths, exposure, "X")
    with pytest.raises(p.ProjectionError, match="deaths without exposure"):
        p.single_year_life_table(deaths, np.append(0.0, exposure[1:]), "M")


def test_single_year_and_abridged_tables_agree():
    """The abridged table of the same counts grouped 0, 1-4, 5-9, ... gives nearly the same
    life expectancy (the two differ only in the separation factors)."""
    deaths, exposure, _ = _gompertz_counts()
    single = p.single_year_life_table(deaths, exposure, "M")
    ages = [0, 1] + list(range(5, 100, 5)) + [100]
    bounds = ages + [101]
    grouped = [
        (deaths[a:b].sum(), exposure[a:b].sum()) for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    abridged = d.life_table_from_counts(
        ages, [g[0] for g in grouped], [g[1] for g in grouped], sex="m"
    )
    for row in abridged:
        assert row.ex == pytest.approx(single.ex[int(row.age)], abs=0.1), row.age


def test_life_table_from_lx_constant_hazard_exact_open_group():
    mu = 0.02
    lx = 100000 * np.exp(-mu * np.arange(91))
    t = p.life_table_from_lx(lx, "F")
    assert t.ex[-1] == pytest.approx(1 / mu)
    assert t.Lx[-1] == pytest.approx(lx[-1] / mu)
    # closed ages by the trapezoid: (l(x) + l(x+1))/2 above 0
    np.testing.assert_allclose(t.Lx[1:-1], (lx[1:-1] + lx[2:]) / 2)
    assert t.e0 == pytest.approx(1 / mu, abs=0.02)


# --- small areas: pooling, borrowing a shape, Brass ------------------------------------


def test_pool_years_and_borrow_shape():
    deaths, exposure, mx = _gompertz_counts()
    by_year = np.stack([deaths * 0.9, deaths * 1.1, deaths])
    exp_year = np.stack([exposure] * 3)
    pd, pe = p.pool_years(by_year, exp_year)
    np.testing.assert_allclose(pd, deaths * 3)
    np.testing.assert_allclose(pe, exposure * 3)
    # a small unit with 1.3 times the larger unit's mortality, seen in 40 deaths
    small_exposure = exposure / 50
    small_deaths = np.zeros_like(mx)
    small_deaths[[60, 70, 75, 80, 90]] = [4, 6, 8, 10, 12]
    rates, k = p.borrow_shape(small_deaths, small_exposure, mx)
    assert k == pytest.approx(40 / float((small_exposure * mx).sum()))
    assert float((rates * small_exposure).sum()) == pytest.approx(40)
    np.testing.assert_allclose(rates / mx, k)
    with pytest.raises(p.ProjectionError):
        p.borrow_shape(small_deaths, small_exposure, np.zeros_like(mx))


def test_brass_logit_identity_fit_and_e0():
    deaths, exposure, _ = _gompertz_counts()
    std = p.single_year_life_table(deaths, exposure, "F").lx
    np.testing.assert_allclose(p.brass_logit(std, 0.0, 1.0), std)
    model = p.brass_logit(std, 0.3, 0.9)
    assert model[0] == std[0]
    assert np.all(np.diff(model) <= 0)
    alpha, beta = p.fit_brass_logit(model, std)
    assert (alpha, beta) == (pytest.approx(0.3), pytest.approx(0.9))
    # α > 0 raises mortality: fewer survivors at every age
    assert np.all(model[1:] < std[1:]) or np.all(p.brass_logit(std, 0.3)[1:] < std[1:])
    e0_std = p.life_table_from_lx(std, "F").e0
    for target in (e0_std - 8, e0_std, e0_std + 3):
        a = p.alpha_for_e0(std, target)
        assert p.life_table_from_lx(p.brass_logit(std, a), "F").e0 == pytest.approx(
            target, abs=1e-8
        )
    assert abs(p.alpha_for_e0(std, e0_std)) < 1e-9
    assert p.alpha_for_e0(std, e0_std - 5) > 0 > p.alpha_for_e0(std, e0_std + 2)
    with pytest.raises(p.ProjectionError, match="outside the range"):
        p.alpha_for_e0(std, 200.0)


def test_brass_on_the_austria_1992_abridged_lx():
    rows = _rows("phg_austria1992_male_lifetable.csv")
    std = np.array([float(r["lx_published"]) for r in rows])
    model = p.brass_logit(std, -0.2, 1.1)
    assert p.fit_brass_logit(model, std) == (pytest.approx(-0.2), pytest.approx(1.1))
    y = 0.5 * np.log((1 - model[5] / 1e5) / (model[5] / 1e5))
    ys = 0.5 * np.log((1 - std[5] / 1e5) / (std[5] / 1e5))
    assert y == pytest.approx(-0.2 + 1.1 * ys)


def test_asfr_scaled_to_tfr_keeps_the_shape():
    rows = [
        r
        for r in _rows("fertility_test_vectors_inputs.csv")
        if r["case_id"] == "usa1992_phg_box5_1"
    ]
    asfr = np.array([float(r["asfr"]) for r in rows])
    scaled = p.asfr_scaled_to_tfr(asfr, 1.8, width=5)
    assert d.total_fertility_rate(scaled.tolist(), 5) == pytest.approx(1.8)
    np.testing.assert_allclose(scaled / asfr, 1.8 / (5 * asfr.sum()))
    assert p.asfr_scaled_to_tfr(np.zeros(3), 0.0).tolist() == [0, 0, 0]
    with pytest.raises(p.ProjectionError):
        p.asfr_scaled_to_tfr(np.zeros(3), 1.5)


def test_annual_zero_years_returns_the_base():
    base = np.array([[5.0, 4, 3], [2.0, 1, 0]])
    res = p.project_annual(
        base, np.array([[90.0, 80, 70]] * 2), np.zeros(3), np.zeros((2, 3)), 0, 1.05, 100
    )
    assert res.population.shape == (1, 2, 3) and res.population[0].tolist() == base.tolist()
    assert res.births.shape == res.deaths.shape == res.net_migrants.shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=30),
    st.integers(min_value=1, max_value=8),
    st.floats(min_value=0.9, max_value=1.3),
    st.integers(min_value=0, max_value=2**31),
)
def test_annual_properties(ages, years, srb, seed):
    """Random valid inputs: nothing negative, the balance holds for each sex every year,
    births split by the SRB, and the projection is linear in (population, migrants)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1000, (2, ages))
    lx = np.sort(rng.uniform(0.2, 1.0, ages + 1))[::-1] * 1000
    big_l = np.append((lx[:-2] + lx[1:-1]) / 2, lx[-2] * rng.uniform(0.5, 10))
    big_l[0] = min(big_l[0], 1000)
    asfr = np.append(0.0, rng.uniform(0, 0.2, ages - 1))
    mig = rng.uniform(0, 20, (years, 2, ages))
    res = p.project_annual(base, np.array([big_l, big_l * 0.98]), asfr, mig, years, srb, 1000)
    assert np.all(res.population >= 0)
    for t in range(years):
        np.testing.assert_allclose(
            res.population[t + 1].sum(1),
            res.population[t].sum(1) + res.births[t] - res.deaths[t] + res.net_migrants[t],
            rtol=1e-9,
            atol=1e-6,
        )
    np.testing.assert_allclose(res.births[:, 1], res.births[:, 0] * srb)
    double = p.project_annual(
        2 * base, np.array([big_l, big_l * 0.98]), asfr, 2 * mig, years, srb, 1000
    )
    np.testing.assert_allclose(double.population, 2 * res.population, rtol=1e-9, atol=1e-9)


def test_annual_many_units_equal_one_by_one():
    rng = np.random.default_rng(11)
    units, years, ages = 7, 5, 31
    base = rng.uniform(0, 80, (units, 2, ages))
    lx = np.sort(rng.uniform(0.3, 1.0, (units, 2, ages + 1)), axis=-1)[..., ::-1] * 100000
    big_l = np.concatenate([(lx[..., :-2] + lx[..., 1:-1]) / 2, lx[..., -2:-1] * 4], axis=-1)
    asfr = np.zeros((units, years, ages))
    asfr[..., 15:25] = rng.uniform(0, 0.15, (units, years, 10))
    mig = rng.uniform(-0.5, 2, (units, 2, ages))
    srb = rng.uniform(1.0, 1.2, units)
    many = p.project_annual_many(base, big_l, asfr, mig, years, srb)
    assert many.population.shape == (units, years + 1, 2, ages)
    assert many.births.shape == many.deaths.shape == many.net_migrants.shape == (units, years, 2)
    for u in range(units):
        one = p.project_annual(base[u], big_l[u], asfr[u], mig[u], years, float(srb[u]))
        np.testing.assert_allclose(many.population[u], one.population, rtol=1e-13)
        np.testing.assert_allclose(many.births[u], one.births, rtol=1e-13)
        np.testing.assert_allclose(many.deaths[u], one.deaths, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(many.net_migrants[u], one.net_migrants, rtol=1e-13)
    same_srb = p.project_annual_many(base, big_l, asfr, mig, years, 1.05)
    one = p.project_annual(base[3], big_l[3], asfr[3], mig[3], years, 1.05)
    np.testing.assert_allclose(same_srb.population[3], one.population, rtol=1e-13)
    bad = mig.copy()
    bad[4, 1, 10] = -1e6
    with pytest.raises(p.NegativePopulationError, match="unit 4, year 1, M, age 10") as info:
        p.project_annual_many(base, big_l, asfr, bad, years, srb)
    assert info.value.unit_index == 4
    with pytest.raises(p.ProjectionError, match="shape"):
        p.project_annual_many(base, big_l[:3], asfr, mig, years, srb)
