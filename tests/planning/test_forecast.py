"""Registry-driven projection: the reconstruction of past populations from the events, the
estimates, the projection under scenarios, the back-test and the ``--out`` table."""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pytest

from popreg.planning import forecast as fc
from popreg.planning.events import (
    PlanningDataError,
    open_snapshot,
    read_counts,
    snapshot_info,
    unit_codes,
)
from popreg.planning.scenarios import DEFAULT_SCENARIOS, ScenarioSpec, default_scenario


def _registered_now(con) -> int:
    return int(con.scalar("SELECT count(*) FROM persons WHERE status = 'active' AND sex IN ('F', 'M') "
                          "AND birth_date IS NOT NULL AND residence_type IN ('registered', 'floating_out')"))


def test_reconstruction_at_the_reference_moment_is_the_registered_population(small_county):
    with open_snapshot(small_county) as con:
        info = snapshot_info(con)
        county = unit_codes(con, "county")[0]
        counts = read_counts(con, "county", [county], [], [], reference_date=info.reference_date)
        assert counts.population[info.reference_date].sum() == _registered_now(con)
        villages = unit_codes(con, "village")
        by_village = read_counts(con, "village", villages, [], [], reference_date=info.reference_date)
        assert by_village.population[info.reference_date].sum() == _registered_now(con)


def test_population_changes_by_births_deaths_and_moves(small_county):
    """P(1 Jan 2025) = P(1 Jan 2020) + births − deaths + moves in − moves out, for every
    village (transfers between villages count as moves)."""
    years = list(range(2020, 2025))
    with open_snapshot(small_county) as con:
        villages = unit_codes(con, "village")
        c = read_counts(con, "village", villages, [2020, 2025], years)
    start, end = c.population[date(2020, 1, 1)].sum(axis=(1, 2)), c.population[date(2025, 1, 1)].sum(axis=(1, 2))
    flow = sum(c.births_by_sex[y].sum(axis=1) - c.deaths[y].sum(axis=(1, 2)) + c.moves_in[y].sum(axis=(1, 2))
               - c.moves_out[y].sum(axis=(1, 2)) for y in years)
    # records without a sex or birth date are left out of the population, not of the events
    assert np.abs(start + flow - end).sum() <= c.left_out


def test_county_projection_under_every_scenario(small_county):
    with open_snapshot(small_county) as con:
        county = unit_codes(con, "county")[0]
        out = fc.forecast(con, county, 2026, 10, DEFAULT_SCENARIOS)
    by_code = {f.scenario.code: f for f in out}
    assert set(by_code) == {"low", "medium", "high", "constant"}
    med = by_code["medium"]
    assert med.result.population.shape == (11, 2, 101)
    assert "reference moment 2025-11-01" in med.base_note  # the base year is after the snapshot
    est = med.estimates
    assert est.years == (2020, 2024)
    assert 0.6 < est.tfr < 2.5 and 70 < est.e0[0] < 90 and 65 < est.e0[1] < 85
    assert est.e0[0] > est.e0[1]
    # the scenarios are ordered at the horizon: more births and more migrants give more people
    totals = {code: f.totals()[-1] for code, f in by_code.items()}
    assert totals["low"] < totals["medium"] < totals["high"]
    # e0 rises by the medium scenario's gain; TFR reaches the high scenario's offset
    assert med.e0_path[-1][0] == pytest.approx(est.e0[0] + 10 * 0.2)
    assert by_code["high"].tfr_path[-1] == pytest.approx(est.tfr + 0.3)
    rows = med.summary()
    assert [r["year"] for r in rows] == list(range(2026, 2037))
    assert rows[-1]["births"] is None and rows[0]["births"] > 0
    assert rows[1]["population"] == pytest.approx(rows[0]["population"] + rows[0]["births"] - rows[0]["deaths"]
                                                  + rows[0]["net_migrants"])


def test_a_village_borrows_the_county_schedule(small_county):
    with open_snapshot(small_county) as con:
        village = unit_codes(con, "village")[0]
        shape = fc.forecast(con, village, 2025, 5, [default_scenario("constant")])[0]
        brass = fc.forecast(con, village, 2025, 5, [default_scenario("constant")], mortality="brass")[0]
    assert shape.estimates.mortality_method == "shape" and shape.estimates.fertility_method == "shape"
    assert shape.estimates.mortality_factor is not None and shape.estimates.mortality_factor > 0
    assert brass.estimates.mortality_method == "brass"
    assert shape.result.population[0].sum() == brass.result.population[0].sum()
    assert np.all(shape.result.population >= 0)


def test_scenario_paths():
    s = ScenarioSpec("x", "x", "x", tfr_offset=-0.5, path_years=5, e0_gain_per_year=0.1)
    assert s.tfr_path(1.5, 7) == pytest.approx([1.4, 1.3, 1.2, 1.1, 1.0, 1.0, 1.0])
    assert ScenarioSpec("t", "t", "t", tfr_target=2.1, path_years=2).tfr_path(1.5, 3) == pytest.approx([1.8, 2.1, 2.1])
    assert s.e0_path(70.0, 2) == pytest.approx([70.1, 70.2])
    with pytest.raises(PlanningDataError, match="no scenario"):
        default_scenario("nonsense")


def test_refusals_name_what_is_wrong(small_county):
    with open_snapshot(small_county) as con:
        county = unit_codes(con, "county")[0]
        with pytest.raises(PlanningDataError, match="unit code 999999999999 is not in the snapshot"):
            fc.forecast(con, "999999999999", 2025, 5, DEFAULT_SCENARIOS[:1])
        with pytest.raises(PlanningDataError, match="at most the year after"):
            fc.forecast(con, county, 2028, 5, DEFAULT_SCENARIOS[:1])
        with pytest.raises(PlanningDataError, match="no full year of events before the base year 2016"):
            fc.forecast(con, county, 2016, 5, DEFAULT_SCENARIOS[:1])
        with pytest.raises(PlanningDataError, match="years: a whole number"):
            fc.forecast(con, county, 2025, 0, DEFAULT_SCENARIOS[:1])


def test_project_registry_writes_the_out_table(small_county, tmp_path):
    with open_snapshot(small_county) as con:
        county = unit_codes(con, "county")[0]
    out = tmp_path / "pop.csv"
    text = io.StringIO()
    fc.project_registry(snapshot=small_county, unit=county, base_year=2026, years=3, scenario="medium",
                        out=out, stdout=text)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["year", "sex", "age", "population"]
    assert len(rows) == 4 * 2 * 101
    assert {r["sex"] for r in rows} == {"F", "M"} and max(int(r["age"]) for r in rows) == 100
    summary = text.getvalue()
    assert "2029" in summary and "total_dep" in summary and "TFR" in summary


def test_backtest_from_2020_on_the_default_county(default_county):
    """Projected from 1 January 2020 with the rates of 2016–2019, the 2025 total is within 2 %."""
    with open_snapshot(default_county) as con:
        county = unit_codes(con, "county")[0]
        bt = fc.backtest(con, county, end=2025)
    print(f"\nback-test 2020→2025, default county: projected {bt.projected[-1]:,.0f}, "
          f"registered {bt.actual[-1]:,.0f}, error {bt.error * 100:+.2f} %")
    assert bt.start == 2020 and bt.estimation_years == (2016, 2019)
    assert abs(bt.error) < 0.02
    assert bt.actual[0] == bt.projected[0]
    assert len(bt.rows()) == 6 and len(bt.projected_births) == 5
