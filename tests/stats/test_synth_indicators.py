"""The engine on synthetic counties from ``popreg synth``: equal to the independent
computation straight from the events, and plausible rates on the default county."""

from __future__ import annotations

import math
from datetime import date

import pytest

from popreg.stats.indicators import SnapshotIndicators
from popreg.synth.generator import generate

from .reference import Reference

YEARS = range(2016, 2025)  # the synthetic history starts 2015-11-01


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "county"
    generate(out, seed=7, persons=3000, progress=None)
    return out


def _na(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


@pytest.mark.parametrize("population", ["registered", "resident"])
def test_synthetic_county_equals_independent_computation(small_synth, population):
    ref = Reference(small_synth, population)
    eng = SnapshotIndicators(small_synth, population)
    compared = 0
    for level in ("county", "township", "village"):
        table, _ = eng.compute(YEARS, level, with_pyramid=False)
        expected = {y: ref.indicators(date(y, 1, 1), date(y + 1, 1, 1), level) for y in YEARS}
        for row in table.to_dict("records"):
            exp = expected[int(row["period"])].get(row["unit_code"])
            if exp is None:  # a unit nobody was ever in
                assert row["population_start"] == row["population_end"] == row["births"] == 0
                continue
            for key, want in exp.items():
                got = row[key]
                if want is None:
                    assert _na(got), (level, row["period"], row["unit_code"], key)
                else:
                    assert got == pytest.approx(want, rel=1e-9), (level, row["period"], row["unit_code"], key)
            compared += 1
    assert compared > 50
    county = eng.compute(YEARS, "county", with_pyramid=False)[0]
    assert county["births"].sum() > 100 and county["deaths"].sum() > 50


def test_synthetic_county_balances(small_synth):
    table, _ = SnapshotIndicators(small_synth).compute(YEARS, "township", "quarter", with_pyramid=False)
    rhs = (
        table["population_start"] + table["births"] - table["deaths"] + table["in_migration"]
        - table["out_migration"] + table["discharges"] - table["enlistments"]
        + table["other_in"] - table["other_out"]
    )
    assert (table["population_end"] == rhs).all()


def test_first_partial_year_is_refused(small_synth):
    from popreg.stats.indicators import IndicatorError

    with pytest.raises(IndicatorError, match="2015"):
        SnapshotIndicators(small_synth).compute([2015], "county")


@pytest.mark.slow
def test_default_county_rates_are_plausible(default_county):
    table, pyramid = SnapshotIndicators(default_county).compute(YEARS, "county")
    last = table.iloc[-1]
    assert 140_000 < last["population_end"] < 175_000
    # crude rates of a Chinese county in the last decade
    assert table["cbr"].between(6, 14).all(), list(table["cbr"])
    assert table["cdr"].between(4, 10).all(), list(table["cdr"])
    assert table["tfr"].between(0.8, 2.2).all(), list(table["tfr"])
    assert (table["rni"] - (table["cbr"] - table["cdr"])).abs().max() < 1e-9
    total_m, total_f = table["male_births"].sum(), table["female_births"].sum()
    assert 100 < total_m / total_f * 100 < 120
    assert 30 < last["total_dependency_ratio"] < 60
    end = pyramid[(pyramid["period"] == "2024") & (pyramid["moment"] == "end")]
    assert end["population"].sum() == last["population_end"]
    villages, _ = SnapshotIndicators(default_county).compute([2024], "village", with_pyramid=False)
    assert len(villages) >= 300
    assert villages["population_end"].sum() == last["population_end"]
    assert villages["srb_insufficient"].all()  # no village has 1000 births a year
