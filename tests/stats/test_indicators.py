"""Indicator engine: exact answers on a hand-built snapshot, and agreement with an
independent computation straight from the events on a random snapshot."""

from __future__ import annotations

import csv
import math
import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.stats.indicators import COLUMNS, IndicatorError, SnapshotIndicators, periods_for

from .handmade import T1, T2, V11, V12, V21, write_handmade_snapshot
from .randomsnap import write_random_snapshot
from .reference import Reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return write_handmade_snapshot(tmp_path_factory.mktemp("hm") / "snap")


@pytest.fixture(scope="module")
def randomsnap(tmp_path_factory):
    return write_random_snapshot(tmp_path_factory.mktemp("rnd") / "snap", seed=3, persons=1500)


def _na(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def _by_unit(table):
    return {r["unit_code"]: r for r in table.to_dict("records")}


def test_handmade_county_2024(handmade):
    (row,) = SnapshotIndicators(handmade).compute([2024], "county")[0].to_dict("records")
    # start: persons 1 2 11 (东关), 4 5 6 12 (西关), 8 (李庄); end: 1 2 3 11, 6, 5 9 10
    assert (row["population_start"], row["population_end"]) == (8, 8)
    assert (row["births"], row["male_births"], row["female_births"]) == (2, 1, 1)
    assert row["deaths"] == 1 and row["enlistments"] == 1
    # the transfer 西关 -> 李庄 stays inside the county: no migration at county level
    assert (row["in_migration"], row["out_migration"]) == (1, 1)
    assert (row["move_in"], row["move_out"], row["transfer_in"]) == (1, 1, 0)
    assert row["cbr"] == pytest.approx(2 / 8 * 1000)
    assert row["cdr"] == pytest.approx(1 / 8 * 1000)
    assert row["rni"] == pytest.approx(1 / 8 * 1000)
    assert row["srb"] == pytest.approx(100) and row["srb_insufficient"]
    assert row["srb_low"] < 100 < row["srb_high"]
    # mother 1 is 28 at the birth; the second birth has no mother and is spread in
    # proportion: 2 births over 1 woman-year aged 25-29 -> ASFR 2, TFR 10
    assert row["asfr_25_29"] == pytest.approx(2.0)
    assert row["asfr_20_24"] == 0.0 and _na(row["asfr_30_34"])
    assert row["tfr"] == pytest.approx(10.0)
    assert row["births_mother_age_unknown"] == 1
    # end of 2024: ages 29 34 0 64 24 44 23 0
    assert (row["population_end_0_14"], row["population_end_15_64"], row["population_end_65_plus"]) == (2, 6, 0)
    assert row["youth_dependency_ratio"] == pytest.approx(200 / 6)
    assert row["population_start_floating_out"] == 1 and row["population_start_floating_in"] == 0
    assert (row["population_end_male"], row["population_end_female"]) == (5, 3)


def test_handmade_lower_levels(handmade):
    towns = _by_unit(SnapshotIndicators(handmade).compute([2024], "township")[0])
    assert set(towns) == {T1, T2}
    assert towns[T1]["transfer_out"] == 1 and towns[T2]["transfer_in"] == 1
    assert (towns[T1]["population_start"], towns[T1]["population_end"]) == (7, 5)
    assert (towns[T2]["population_start"], towns[T2]["population_end"]) == (1, 3)
    villages = _by_unit(SnapshotIndicators(handmade).compute([2024], "village")[0])
    assert (villages[V11]["population_start"], villages[V11]["population_end"]) == (3, 4)
    assert (villages[V12]["population_start"], villages[V12]["population_end"]) == (4, 1)
    assert villages[V12]["cbr"] == 0 and villages[V12]["deaths"] == 1
    assert villages[V21]["srb"] == 0 and villages[V21]["unit_name"] == "李庄村民委员会"
    # all births with unknown mother's age: no TFR rather than a wrong one
    assert _na(villages[V21]["tfr"])


def test_handmade_months_and_quarters(handmade):
    months = SnapshotIndicators(handmade).compute([2024], "county", "month")[0]
    assert list(months["population_start"]) == [8, 8, 9, 9, 9, 10, 10, 10, 9, 8, 7, 8]
    assert list(months["births"]) == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    assert months["population_end"].iloc[-1] == 8
    q = SnapshotIndicators(handmade).compute([2024], "county", "quarter")[0]
    assert list(q["period"]) == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert list(q["population_end"]) == [9, 10, 8, 8]


def test_resident_population(handmade):
    (row,) = SnapshotIndicators(handmade, "resident").compute([2024], "county")[0].to_dict("records")
    # person 6 (floating_out) leaves, person 7 (floating_in, living in 东关) comes in
    assert (row["population_start"], row["population_end"]) == (8, 8)
    assert row["population_start_floating_in"] == 1 and row["population_start_floating_out"] == 0


def test_pyramid(handmade):
    _, pyr = SnapshotIndicators(handmade).compute([2024], "county")
    end = pyr[pyr["moment"] == "end"]
    assert end["population"].sum() == 8
    assert int(end[(end["sex"] == "M") & (end["age_group"] == "0-4")]["population"].sum()) == 1
    assert int(end[(end["sex"] == "M") & (end["age_group"] == "60-64")]["population"].sum()) == 1


def test_periods_outside_data_are_refused(handmade):
    eng = SnapshotIndicators(handmade)
    with pytest.raises(IndicatorError, match="2025.*outside the data"):
        eng.compute([2025], "county")
    with pytest.raises(IndicatorError, match="超出快照数据范围"):
        eng.compute([2023], "county")
    with pytest.raises(IndicatorError, match="level"):
        eng.compute([2024], "province")  # type: ignore[arg-type]


def test_not_a_snapshot(tmp_path):
    with pytest.raises(IndicatorError, match="does not exist"):
        SnapshotIndicators(tmp_path / "nope")
    with pytest.raises(IndicatorError, match="not a valid snapshot"):
        SnapshotIndicators(tmp_path)


def test_period_lengths():
    (y,) = periods_for([2024], "year")
    assert y.years == pytest.approx(1.0)
    months = periods_for([2023], "month")
    assert sum(m.years for m in months) == pytest.approx(1.0)
    assert months[1].end == date(2023, 3, 1)


def test_balance_identity_on_random_snapshot(randomsnap):
    for level in ("county", "township", "village"):
        t = SnapshotIndicators(randomsnap).compute(range(2019, 2025), level, "quarter")[0]
        lhs = t["population_end"]
        rhs = (
            t["population_start"] + t["births"] - t["deaths"] + t["in_migration"]
            - t["out_migration"] + t["discharges"] - t["enlistments"] + t["other_in"] - t["other_out"]
        )
        assert (lhs == rhs).all(), level
        assert t["births"].sum() > 0


@pytest.mark.parametrize("population", ["registered", "resident"])
@pytest.mark.parametrize("level", ["county", "township", "village"])
def test_engine_equals_independent_computation(randomsnap, level, population):
    ref = Reference(randomsnap, population)
    table = SnapshotIndicators(randomsnap, population).compute(range(2019, 2025), level)[0]
    checked = 0
    for row in table.to_dict("records"):
        y = int(row["period"])
        exp = ref.indicators(date(y, 1, 1), date(y + 1, 1, 1), level).get(row["unit_code"])
        assert exp is not None, row["unit_code"]
        for key, want in exp.items():
            got = row[key]
            if want is None:
                assert _na(got), (key, row)
            else:
                assert got == pytest.approx(want, rel=1e-9), (key, row["unit_code"], y)
        checked += 1
    assert checked == len(table) > 0


def test_cli_writes_contract_columns(handmade, tmp_path):
    out = tmp_path / "t.csv"
    call_command("indicators", str(handmade), "--year", "2024", "--level", "village", "--out", str(out))
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for col in (
        "unit_code", "unit_name", "population_start", "population_end", "births", "male_births",
        "female_births", "deaths", "cbr", "cdr", "rni", "srb", "srb_low", "srb_high", "tfr",
    ):
        assert col in rows[0]
    v11 = next(r for r in rows if r["unit_code"] == V11)
    assert (v11["population_start"], v11["births"], v11["srb"]) == ("3", "1", "")


def test_cli_errors(handmade, tmp_path):
    with pytest.raises(CommandError, match="超出.*outside"):
        call_command("indicators", str(handmade), "--year", "2030", "--level", "county", "--out", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="not a valid snapshot"):
        call_command("indicators", str(tmp_path), "--year", "2024", "--level", "county", "--out", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="--year"):
        call_command("indicators", str(handmade), "--year", "24", "--level", "county", "--out", str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_every_column_is_documented():
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    missing = [c for c in COLUMNS if c not in documented]
    assert not missing, f"columns missing from docs/indicators.md: {missing}"
