"""Formula tests of popreg.core.demography against published values (tests/data/demography)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import pytest

from popreg.core import demography as d

DATA = Path(__file__).resolve().parent.parent / "data" / "demography"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- crude rates ------------------------------------------------------------------------


def test_average_population_and_crude_rates():
    p = d.average_population(1000, 1020)
    assert p == 1010
    assert d.crude_birth_rate(12, p) == pytest.approx(12 / 1010 * 1000)
    assert d.crude_death_rate(8, p) == pytest.approx(8 / 1010 * 1000)
    assert d.rate_of_natural_increase(12, 8, p) == pytest.approx(
        d.crude_birth_rate(12, p) - d.crude_death_rate(8, p)
    )
    assert d.rate_of_natural_increase(3, 9, p) < 0


def test_rates_without_population_are_undefined_not_zero():
    assert d.crude_birth_rate(0, 0) is None
    assert d.rate_of_natural_increase(1, 0, 0) is None
    with pytest.raises(ValueError):
        d.average_population(-1, 5)
    with pytest.raises(ValueError):
        d.crude_rate(-1, 10)


# --- sex ratio at birth -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("male", "female"), [(530, 470), (1060, 1000), (52, 48), (3, 0), (0, 4), (1, 1)]
)
def test_srb_interval_is_wilson_on_male_share(male, female):
    srb = d.sex_ratio_at_birth(male, female)
    n = male + female
    p = male / n
    z = 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo_p, hi_p = max(0.0, centre - half), min(1.0, centre + half)
    assert srb.low == pytest.approx(100 * lo_p / (1 - lo_p))
    if hi_p < 1:
        assert srb.high == pytest.approx(100 * hi_p / (1 - hi_p))
    else:
        assert srb.high is None
    if female:
        assert srb.ratio == pytest.approx(male / female * 100)
        assert srb.low <= srb.ratio <= (srb.high if srb.high is not None else math.inf)
    else:
        assert srb.ratio is None
    assert srb.insufficient == (n < d.MIN_BIRTHS_FOR_SRB)


def test_srb_interval_narrows_with_births_and_covers():
    small = d.sex_ratio_at_birth(21, 20)
    large = d.sex_ratio_at_birth(2100, 2000)
    assert (large.high - large.low) < (small.high - small.low) / 5
    assert large.low < 105 < large.high
    # 95 % coverage of the true ratio 105 by simulation (deterministic seed)
    import random

    rng = random.Random(7)
    p = 105 / 205
    hits = 0
    for _ in range(2000):
        m = sum(rng.random() < p for _ in range(300))
        s = d.sex_ratio_at_birth(m, 300 - m)
        hits += s.low <= 105 <= s.high
    assert 0.93 <= hits / 2000 <= 0.97


def test_srb_no_births():
    srb = d.sex_ratio_at_birth(0, 0)
    assert srb.ratio is None and srb.low is None and srb.insufficient
    assert d.sex_ratio_at_birth(500, 499).insufficient
    assert not d.sex_ratio_at_birth(515, 485).insufficient


# --- fertility --------------------------------------------------------------------------


def _fertility_cases():
    inputs = defaultdict(list)
    for r in _rows("fertility_test_vectors_inputs.csv"):
        inputs[r["case_id"]].append(r)
    return inputs, _rows("fertility_test_vectors_expected.csv")


_INPUTS, _EXPECTED = _fertility_cases()


@pytest.mark.parametrize(
    "case",
    [c for c in _EXPECTED if c["measure"] in ("tfr", "tf_partial")],
    ids=lambda c: c["case_id"],
)
def test_tfr_published(case):
    lo, hi = int(case["age_start"]), int(case["age_end_exclusive"])
    rows = [
        r for r in _INPUTS[case["case_id"]] if lo <= int(r["age_start"]) and int(r["age_end"]) <= hi
    ]
    asfr = [float(r["asfr"]) for r in rows]
    widths = [int(r["age_end"]) - int(r["age_start"]) for r in rows]
    # the published TFR 2.064 is 5·Σ ASFR = 2.065 rounded in the source; tolerance 0.001
    assert d.total_fertility_rate(asfr, widths) == pytest.approx(
        float(case["expected"]), abs=1.0001e-3
    )


@pytest.mark.parametrize(
    "case",
    [c for c in _EXPECTED if c["measure"] == "nrr" and c["case_id"] in _INPUTS],
    ids=lambda c: c["case_id"],
)
def test_nrr_published(case):
    rows = _INPUTS[case["case_id"]]
    nrr = d.net_reproduction_rate(
        [float(r["asfr"]) for r in rows],
        [float(r["nLx_radix1"]) for r in rows],
        float(rows[0]["srb"]),
    )
    assert nrr == pytest.approx(
        float(case["expected"]), abs=float(case["tolerance_in_source_test"])
    )


def test_asfr_from_counts_and_single_year_tfr():
    asfr = d.age_specific_fertility([10, 30, 0], [1000, 1500, 0])
    assert asfr == [0.01, 0.02, None]
    assert d.total_fertility_rate(asfr, 5) == pytest.approx(0.15)
    assert d.total_fertility_rate([0.05] * 35, 1) == pytest.approx(1.75)
    with pytest.raises(ValueError):
        d.age_specific_fertility([1], [1, 2])


# --- dependency ratios ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("young", "working", "old", "total", "youth", "old_age"),
    [
        (290_145, 829_312, 92_507, 46.14, 34.99, 11.15),  # China 1999 yearbook
        (241_866, 903_897, 107_303, 38.63, 26.76, 11.87),  # China 2004
    ],
)
def test_dependency_ratios_published(young, working, old, total, youth, old_age):
    r = d.dependency_ratios(young, working, old)
    assert round(r.total, 2) == total
    assert round(r.youth, 2) == youth
    assert round(r.old_age, 2) == old_age


def test_dependency_ratios_china_2010_census():
    rows = [r for r in _rows("china_census2010_pop_by_sex_age5.csv") if r["age_start"]]
    pop = {int(r["age_start"]): int(r["male"]) + int(r["female"]) for r in rows}
    young = sum(v for a, v in pop.items() if a < 15)
    working = sum(v for a, v in pop.items() if 15 <= a < 65)
    old = sum(v for a, v in pop.items() if a >= 65)
    r = d.dependency_ratios(young, working, old)
    # 2010 census: total dependency ratio about 34 %, old age about 12 %
    assert 33 < r.total < 36 and 11 < r.old_age < 13
    assert d.dependency_ratios(5, 0, 3).total is None


# --- life tables ------------------------------------------------------------------------


def test_life_table_austria_1992_phg():
    rows = _rows("phg_austria1992_male_lifetable.csv")
    ages = [float(r["age_start"]) for r in rows]
    mx = [float(r["deaths_nDx"]) / float(r["pop_nNx"]) for r in rows]
    lt = d.life_table(ages, mx, [float(r["nax"]) for r in rows])
    for r, row in zip(rows, lt, strict=True):
        assert row.qx == pytest.approx(float(r["qx_demcore_computed"]), abs=1e-8)
        assert row.ex == pytest.approx(float(r["ex_demcore_computed"]), abs=1e-3)
        # the book's lx, ndx, nLx are rounded to whole persons (README: ±1 at 50–65)
        assert row.lx == pytest.approx(float(r["lx_published"]), abs=1.0)
        assert row.dx == pytest.approx(float(r["ndx_published"]), abs=1.0)
        assert row.Lx == pytest.approx(float(r["nLx_published"]), abs=1.0)
    # identities
    assert sum(r.dx for r in lt) == pytest.approx(100_000)
    assert lt[0].Tx == pytest.approx(sum(r.Lx for r in lt))


def test_life_table_pas_ltpopdth_north_male():
    rows = _rows("demotools_pas_ltpopdth_north_male_lt.csv")
    ages = [float(r["age_start"]) for r in rows]
    mx = [float(r["deaths"]) / float(r["exposures"]) for r in rows]
    lt = d.life_table(ages, mx, d.pas_nax(ages, mx, "m", "n", imr=0.1), q0=0.1)
    for r, row in zip(rows[:19], lt, strict=False):
        assert row.ex == pytest.approx(float(r["ex_expected"]), abs=0.01), r["age_start"]


def test_life_table_defaults_and_errors():
    lt = d.life_table([0, 5, 10], [0.01, 0.02, 0.2])
    assert lt[0].ax == 2.5 and lt[-1].ax == pytest.approx(5.0)
    assert lt[0].qx == pytest.approx(5 * 0.01 / (1 + 2.5 * 0.01))
    assert lt[-1].qx == 1.0 and lt[-1].Lx == pytest.approx(lt[-1].lx / 0.2)
    with pytest.raises(ValueError):
        d.life_table([0, 5], [0.01, 0.0])
    with pytest.raises(ValueError):
        d.life_table([0, 0, 5], [0.1, 0.1, 0.1])


def test_coale_demeny_rules():
    # below q0 = 0.1 the linear rule, above it the constant (UN Manual X, table 164)
    assert d.coale_demeny_a0(0.0, "m", "w", imr=0.05) == pytest.approx(0.0425 + 2.875 * 0.05)
    assert d.coale_demeny_a0(0.3, "f", "e") == pytest.approx(0.31)
    assert d.coale_demeny_a1_4(0.0, "m", "n", imr=0.05) == pytest.approx(1.859 - 3.013 * 0.05)
    with pytest.raises(ValueError):
        d.coale_demeny_a0(0.01, "x", "w")
