"""Reconciliation of a synthetic county linked by the real linkage engine, checked against
the generator's ground truth and against counts taken straight from the snapshot."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from popreg.stats.reconciliation import Month, link_sources, reconcile


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    from popreg.synth.generator import generate

    out = tmp_path_factory.mktemp("recon-synth") / "county"
    generate(out, seed=11, persons=1500, progress=None)
    return out


def _all_months(events: pd.DataFrame, sources: list[pd.DataFrame]) -> list[Month]:
    dates = [pd.to_datetime(events["event_date"])] + [pd.to_datetime(s) for s in sources]
    lo = min(d.min() for d in dates)
    hi = max(d.max() for d in dates)
    months, y, m = [], lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        months.append(Month(y, m))
        y, m = y + m // 12, m % 12 + 1
    return months


def test_synthetic_county_against_truth(county):
    events = pq.read_table(county / "events.parquet").to_pandas()
    hb = pq.read_table(county / "sources/hospital_births.parquet").to_pandas()
    dn = pq.read_table(county / "sources/death_notices.parquet").to_pandas()
    months = _all_months(events, [hb["birth_date"], dn["death_date"]])
    truth = pd.read_csv(county / "truth/source_links.csv", dtype=str).assign(match_probability=1.0)

    by_truth = reconcile(county, months, level="county", links=truth, by_month=False)
    rec = by_truth.records
    # every registry event and every source record is in exactly one row
    for kind, etype, src in (("birth", "birth", hb), ("death", "death", dn)):
        mine = rec[rec["kind"] == kind]
        reg = mine[mine["category"].isin(["matched", "registry_only"])]
        assert sorted(reg["event_id"].astype(int)) == sorted(events.loc[events["event_type"] == etype, "event_id"])
        rows_with_record = mine[mine["record_id"] != ""]
        assert sorted(rows_with_record["record_id"]) == sorted(src["record_id"])
    # births the generator left unregistered are exactly the source-only hospital births
    defects = pd.read_csv(county / "truth/defects.csv", dtype=str)
    unregistered = set(defects.loc[defects["defect_type"] == "unregistered_birth", "record_id"])
    only = set(rec.loc[(rec["kind"] == "birth") & (rec["category"] == "source_only"), "record_id"])
    assert unregistered and unregistered <= only

    # the linkage engine finds (nearly) the same matches as the truth
    engine = reconcile(county, months, level="county", links=link_sources(county), by_month=False)
    (t,), (e,) = by_truth.summary.to_dict("records"), engine.summary.to_dict("records")
    assert e["reported"] == t["reported"]
    for col in ("births_matched", "deaths_matched"):
        assert abs(e[col] - t[col]) <= max(2, 0.1 * t[col]), col
    assert t["accuracy_rate"] < 100 and abs(e["accuracy_rate"] - t["accuracy_rate"]) < 5
