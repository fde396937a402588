"""Dashboard cube: its numbers are the indicator engine's, on a small synthetic county.

The fixtures here are shared with test_dashboard_views.py and test_report.py: a synthetic
county of 1,500 persons (``popreg.synth``) placed as the statistics snapshot of a
temporary ``POPREG_HOME``, with its cube built once per session.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from popreg.core.dse import chapman
from popreg.snapshot.format import read_table
from popreg.stats import dashboard as dashboard_module
from popreg.stats.dashboard import (
    AGE_GROUPS,
    CUBE_DIR,
    RANK_KEYS,
    Dashboard,
    DashboardError,
    build_cube,
    latest_snapshot,
    load_dashboard,
)
from popreg.stats.indicators import LEVELS, POPULATIONS, SnapshotIndicators
from popreg.synth.generator import generate

SEED = 20251101
MOMENT = "20251101T000000"


# The fixtures are imported by the other dashboard test modules, where pytest registers
# them again: the data is kept here so that it is generated once per process.
_BUILT: dict[str, Any] = {}


@pytest.fixture(scope="session")
def stats_home(tmp_path_factory) -> Path:
    """A POPREG_HOME whose latest statistics snapshot is a synthetic county of 16,000
    persons (the smallest with two townships), with its cube (including the dual-system
    estimate) built."""
    if "home" not in _BUILT:
        home = tmp_path_factory.mktemp("stats-home")
        snap = home / "snapshots" / MOMENT
        generate(snap, seed=SEED, persons=16_000, progress=None)
        build_cube(snap, with_dse=True)
        _BUILT["home"] = home
    return _BUILT["home"]


@pytest.fixture(scope="session")
def small_snap(tmp_path_factory) -> Path:
    """A 1,500-person synthetic county, for the tests that load it into the registry."""
    if "small" not in _BUILT:
        snap = tmp_path_factory.mktemp("stats-small") / MOMENT
        generate(snap, seed=SEED, persons=1500, progress=None)
        _BUILT["small"] = snap
    return _BUILT["small"]


@pytest.fixture(scope="session")
def snap(stats_home) -> Path:
    return stats_home / "snapshots" / MOMENT


@pytest.fixture(scope="session")
def dash(snap) -> Dashboard:
    if "dash" not in _BUILT:
        _BUILT["dash"] = Dashboard(snap)
    return _BUILT["dash"]


def _same(got, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None
    if isinstance(want, float):
        return got == pytest.approx(want, rel=1e-12, abs=1e-12)
    return got == want


@pytest.mark.parametrize("population", POPULATIONS)
def test_cube_rows_equal_the_indicator_engine(snap, dash, population):
    eng = SnapshotIndicators(snap, population)
    compared = 0
    for level in LEVELS:
        table, _ = eng.compute(dash.years, level, with_pyramid=False)
        for want in table.to_dict("records"):
            got = dash.row(want["unit_code"], int(want["period"]), population)
            assert got is not None, (level, want["unit_code"], want["period"])
            for key, value in want.items():
                assert _same(got[key], value), (level, want["unit_code"], want["period"], key)
            compared += 1
    assert compared > 9 * 30


def test_trend_covers_the_full_years_of_the_snapshot(dash):
    # synthetic history starts 2015-11-01, reference moment 2025-11-01
    assert dash.years == list(range(2016, 2025))
    county = dash.county()
    # then the year to date: 1 January to 31 October 2025 (tests/stats/test_year_to_date.py)
    assert dash.all_years == [*dash.years, 2025]
    assert [r["period"] for r in dash.rows(county.code)] == [str(y) for y in dash.all_years]
    assert [r["year_to_date"] for r in dash.rows(county.code)] == [False] * len(dash.years) + [True]


@pytest.mark.parametrize("population", POPULATIONS)
def test_pyramid_equals_engine_and_adds_up(snap, dash, population):
    eng = SnapshotIndicators(snap, population)
    table, pyramid = eng.compute([dash.last_year], "township")
    end = pyramid[pyramid["moment"] == "end"]
    for row in table.to_dict("records"):
        p = dash.age_pyramid(row["unit_code"], dash.last_year, population)
        assert p["groups"] == list(AGE_GROUPS)
        assert sum(p["male"]) + sum(p["female"]) + p["unknown"] == row["population_end"]
        assert sum(p["male"]) <= row["population_end_male"]
        for sex, key in (("M", "male"), ("F", "female")):
            mine = end[(end["unit_code"] == row["unit_code"]) & (end["sex"] == sex)
                       & (end["age_group"] != "unknown")]  # fmt: skip
            assert sum(p[key]) == mine["population"].sum()
            for group, n in zip(mine["age_group"], mine["population"], strict=True):
                assert p[key][AGE_GROUPS.index(group)] == n


def test_population_now_follows_the_snapshot_definitions(snap, dash):
    persons = read_table(snap, "persons").to_pandas()
    active = persons[persons["status"] == "active"]
    reg = active[active["residence_type"].isin(["registered", "floating_out"])]
    res = active[active["residence_type"].isin(["registered", "floating_in", "foreign"])]
    res_unit = res["residence_unit"].fillna(res["registered_unit"])
    county = dash.county()
    for unit in [county, *dash.children(county)[:4]]:
        now = dash.population_now(unit)
        assert now["registered"] == int(reg["registered_unit"].str.startswith(unit.prefix).sum())
        assert now["resident"] == int(res_unit.str.startswith(unit.prefix).sum())
        in_unit = reg[reg["registered_unit"].str.startswith(unit.prefix)]
        assert now["registered_male"] == int((in_unit["sex"] == "M").sum())
    assert dash.population_now(county)["registered"] > 1000


@pytest.mark.parametrize("sort", sorted(RANK_KEYS))
def test_comparison_ranks_children_by_the_chosen_indicator(dash, sort):
    county = dash.county()
    rows = dash.comparison(county, dash.last_year, "registered", sort)
    townships = dash.children(county)
    assert {r["unit_code"] for r in rows} == {t.code for t in townships}
    valued = [r for r in rows if r[sort] is not None]
    assert [r[sort] for r in valued] == sorted((r[sort] for r in valued), reverse=True)
    for i, r in enumerate(valued):
        # competition ranking: 1 + the number of units strictly better
        assert r["rank"] == 1 + sum(1 for o in valued if o[sort] > r[sort]), (i, r)
    assert all(r["rank"] is None for r in rows if r[sort] is None)
    ascending = dash.comparison(county, dash.last_year, "registered", sort, descending=False)
    assert [r[sort] for r in ascending if r[sort] is not None] == sorted(r[sort] for r in valued)


def test_comparison_refuses_an_unknown_indicator(dash):
    with pytest.raises(DashboardError, match="不能按"):
        dash.comparison(dash.county(), dash.last_year, "registered", "unit_name")


def test_drill_down_levels(dash):
    county = dash.county()
    town = dash.children(county)[0]
    villages = dash.children(town)
    assert town.level == "township" and villages and all(v.level == "village" for v in villages)
    assert all(v.code.startswith(town.prefix) for v in villages)
    assert dash.children(villages[0]) == []
    assert dash.ancestors(villages[0]) == [county, town]
    assert dash.home_unit(town.prefix) == town
    assert dash.home_unit(villages[0].code) == villages[0]
    assert dash.home_unit("") == county


def test_dse_counts_match_an_independent_count(snap, dash):
    info = dash.meta["dse"]
    assert info["computed"]
    start = date.fromisoformat(info["window_start"])
    ref = date.fromisoformat(info["window_end"])
    events = read_table(snap, "events").to_pandas()
    births = events[(events["event_type"] == "birth")]
    births = births[(births["event_date"] >= start) & (births["event_date"] < ref)]
    hosp = read_table(snap, "sources/hospital_births").to_pandas()
    hosp = hosp[(hosp["birth_date"] >= start) & (hosp["birth_date"] < ref)]
    county = dash.county()
    est = dash.dse_estimate(county)
    assert est.n1 == births["person_id"].nunique()
    assert est.n2 == len(hosp) == info["hospital_records"]
    assert 0 < est.m <= min(est.n1, est.n2)
    want = chapman(est.n1, est.n2, est.m)
    assert est.estimate.estimate == pytest.approx(want.estimate)
    assert (est.estimate.low, est.estimate.high) == pytest.approx((want.low, want.high))
    # townships add up to the county, apart from hospital records without an address
    towns = [dash.dse_estimate(t) for t in dash.children(county)]
    assert sum(t.n1 for t in towns) == est.n1
    assert sum(t.m for t in towns) == est.m
    assert sum(t.n2 for t in towns) <= est.n2
    assert all(t.m <= min(t.n1, t.n2) for t in towns)
    # one year of the window
    year = dash.dse_years()[-1]
    one = dash.dse_estimate(county, [year])
    in_year = births[[d.year == year for d in births["event_date"]]]
    assert one.n1 == in_year["person_id"].nunique()


def test_latest_snapshot_ignores_unfinished_and_older_ones(tmp_path, snap):
    root = tmp_path / "snapshots"
    root.mkdir()
    assert latest_snapshot(root) is None
    (root / ".writing-1").mkdir()  # being written
    (root / "20991231T000000").mkdir()  # no manifest: not a snapshot
    shutil.copytree(snap, root / "20240101T000000", ignore=shutil.ignore_patterns(CUBE_DIR))
    shutil.copytree(snap, root / MOMENT, ignore=shutil.ignore_patterns(CUBE_DIR))
    assert latest_snapshot(root) == root / MOMENT


def test_load_dashboard_builds_a_missing_cube_once(tmp_path, snap, monkeypatch):
    copy = tmp_path / MOMENT
    shutil.copytree(snap, copy, ignore=shutil.ignore_patterns(CUBE_DIR))
    calls = []
    real = dashboard_module.build_cube
    monkeypatch.setattr(dashboard_module, "build_cube", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = load_dashboard(copy)
    second = load_dashboard(copy)
    assert first is second and len(calls) == 1
    assert (copy / CUBE_DIR / "indicators.parquet").is_file()
    assert first.meta["dse"] == {"computed": False}  # linkage is not run on a page load
    with pytest.raises(DashboardError, match="尚未计算"):
        load_dashboard(tmp_path / "missing-cube-dir-does-not-exist", build=False)


def test_no_snapshot_is_a_clear_error(tmp_path, settings):
    settings.POPREG_HOME = tmp_path
    with pytest.raises(DashboardError, match="stats_refresh"):
        load_dashboard()


def test_registry_snapshot_gives_the_same_cube(db, tmp_path, small_snap):
    """refresh_snapshot on the loaded registry: the cube equals the synthetic snapshot's."""
    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.stats.dashboard import refresh_snapshot

    copy = tmp_path / "synth" / MOMENT
    shutil.copytree(small_snap, copy)
    build_cube(copy, with_dse=False)
    dash = Dashboard(copy)
    load_snapshot(small_snap, system_actor("test"))
    root = tmp_path / "snapshots"
    written = refresh_snapshot(datetime(2025, 11, 1), root=root, with_dse=False)
    assert written == root / MOMENT and latest_snapshot(root) == written
    again = Dashboard(written)
    assert again.years == dash.years
    for unit in [dash.county(), *dash.children(dash.county())]:
        for key in ("population_start", "population_end", "births", "deaths", "cbr", "srb", "tfr"):
            got = [r[key] for r in again.rows(unit.code)]
            want = [r[key] for r in dash.rows(unit.code)]
            assert got == pytest.approx(want, nan_ok=True), (unit.code, key)
        assert again.population_now(unit) == dash.population_now(unit)


def test_stats_refresh_command(db, tmp_path, settings, small_snap):
    from django.core.management import CommandError, call_command

    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.registry.models import AuditRecord

    settings.POPREG_HOME = tmp_path
    with pytest.raises(CommandError, match="--at"):
        call_command("stats_refresh", "--at", "yesterday")
    assert not (tmp_path / "snapshots").exists() or not any((tmp_path / "snapshots").iterdir())
    load_snapshot(small_snap, system_actor("test"))
    call_command("stats_refresh", "--at", "2025-01-01T00:00", "--no-dse")
    call_command("stats_refresh", "--at", "2025-11-01T00:00", "--no-dse", "--keep", "1")
    kept = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert kept == [MOMENT]
    dash = load_dashboard(build=False)
    assert dash.years[-1] == 2024
    assert AuditRecord.objects.filter(action="stats_refresh").count() == 2


def test_each_refresh_prunes_old_snapshots(db, tmp_path, settings, small_snap):
    from django.core.management import call_command

    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot

    settings.POPREG_HOME = tmp_path
    settings.POPREG_KEEP_SNAPSHOTS = 1
    load_snapshot(small_snap, system_actor("test"))
    call_command("stats_refresh", "--at", "2025-11-01T00:00", "--no-dse")
    call_command("stats_refresh", "--at", "2025-06-01T00:00", "--no-dse")  # older than the newest
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["20250601T000000", MOMENT]
    call_command("stats_refresh", "--at", "2025-12-01T00:00", "--no-dse")
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["20251201T000000"]


def test_cube_table_is_a_plain_file_next_to_the_snapshot(snap, dash):
    frame = pd.read_parquet(snap / CUBE_DIR / "indicators.parquet")
    assert set(frame["population_type"]) == set(POPULATIONS)
    assert set(frame["level"]) == set(LEVELS)
    assert len(frame) == sum(len(dash.rows(c, p)) for p in POPULATIONS for c in dash.units)
