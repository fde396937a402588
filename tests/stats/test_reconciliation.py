"""Monthly reconciliation (月月清): a hand-built county with known answers, the command,
reconciliation items, and a synthetic county linked by the real linkage engine."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from popreg.snapshot.format import write_snapshot
from popreg.stats.reconciliation import (
    Month,
    ReconciliationError,
    accuracy_rate,
    months_of_year,
    reconcile,
    yearly_accuracy,
)

C, T1, T2 = "411000000000", "411000001000", "411000002000"
V11, V12, V21 = "411000001001", "411000001002", "411000002001"
UNITS = [(C, "示例县", "county", None), (T1, "城关镇", "township", C), (T2, "东乡", "township", C),
         (V11, "东关村", "village", T1), (V12, "西关村", "village", T1), (V21, "李庄村", "village", T2)]
PERSONS = [  # person_id, registered_unit, status
    (1, V11, "active"), (3, V11, "active"), (15, V11, "active"), (4, V12, "deceased"),
    (11, V11, "active"), (20, V21, "active"), (21, V12, "deceased"),
]
EVENTS = [  # event_id, person_id, type, event_date, recorded_date, unit
    (1, 3, "birth", date(2024, 5, 10), date(2024, 5, 12), V11),   # matched by HB1
    (2, 15, "birth", date(2024, 5, 20), date(2024, 7, 15), V11),  # no source; 56 days late
    (3, 4, "death", date(2024, 5, 1), date(2024, 5, 2), V12),     # matched by DN1 (DN2 repeats it)
    (4, 20, "birth", date(2024, 6, 3), date(2024, 6, 4), V21),    # June: outside May
    (5, 21, "death", date(2024, 5, 31), date(2024, 7, 1), V12),   # matched by DN4 dated 1 June; 31 days late
]
HOSPITAL = [  # record_id, birth_date, address_unit
    ("HB1", date(2024, 5, 10), V11), ("HB2", date(2024, 5, 3), V21), ("HB3", date(2024, 6, 3), V21),
]
NOTICES = [  # record_id, death_date, address_unit
    ("DN1", date(2024, 5, 1), V12), ("DN2", date(2024, 5, 1), V12),
    ("DN3", date(2024, 5, 15), None),  # linked to person 11, still active: no death registered
    ("DN4", date(2024, 6, 1), V12),
]
LINKS = pd.DataFrame(
    [("hospital_births", "HB1", "3"), ("hospital_births", "HB2", ""), ("hospital_births", "HB3", "20"),
     ("death_notices", "DN1", "4"), ("death_notices", "DN2", "4"), ("death_notices", "DN3", "11"),
     ("death_notices", "DN4", "21")],
    columns=["source", "record_id", "person_id"],
).assign(match_probability=1.0)


def write_recon_snapshot(out: Path) -> Path:
    units = pa.table({
        "unit_code": [u[0] for u in UNITS], "name": [u[1] for u in UNITS], "level": [u[2] for u in UNITS],
        "parent_code": pa.array([u[3] for u in UNITS], pa.string()),
        "valid_from": [date(2000, 1, 1)] * len(UNITS), "valid_to": pa.array([None] * len(UNITS), pa.date32()),
    })  # fmt: skip
    households = pa.table({"household_id": pa.array([1], pa.int64()), "household_no": ["000000001"],
                           "unit_code": [V11], "kind": ["family"], "address": ["东关村1号"]})
    n = len(PERSONS)
    persons = pa.table({
        "person_id": pa.array([p[0] for p in PERSONS], pa.int64()), "household_id": pa.array([1] * n, pa.int64()),
        "name": [f"测试{p[0]}" for p in PERSONS], "sex": ["F"] * n,
        "birth_date": pa.array([date(1990, 1, 1)] * n, pa.date32()), "id_number": pa.array([None] * n, pa.string()),
        "registered_unit": [p[1] for p in PERSONS], "residence_unit": [p[1] for p in PERSONS],
        "residence_type": ["registered"] * n, "status": [p[2] for p in PERSONS],
        "mother_id": pa.array([None] * n, pa.int64()),
    })  # fmt: skip
    events = pa.table({
        "event_id": pa.array([e[0] for e in EVENTS], pa.int64()), "person_id": pa.array([e[1] for e in EVENTS], pa.int64()),
        "event_type": [e[2] for e in EVENTS], "event_date": pa.array([e[3] for e in EVENTS], pa.date32()),
        "recorded_date": pa.array([e[4] for e in EVENTS], pa.date32()), "unit_code": [e[5] for e in EVENTS],
        "from_unit": pa.array([None] * len(EVENTS), pa.string()), "to_unit": pa.array([None] * len(EVENTS), pa.string()),
    })  # fmt: skip
    hb = pa.table({"record_id": [h[0] for h in HOSPITAL], "birth_date": pa.array([h[1] for h in HOSPITAL], pa.date32()),
                   "child_sex": ["M"] * 3, "mother_name": ["王芳"] * 3, "mother_id_number": [""] * 3,
                   "mother_birth_date": pa.array([date(1990, 1, 1)] * 3, pa.date32()),
                   "address_unit": [h[2] for h in HOSPITAL]})
    dn = pa.table({"record_id": [d[0] for d in NOTICES], "name": ["李强"] * 4, "sex": ["M"] * 4, "id_number": [""] * 4,
                   "birth_date": pa.array([date(1940, 1, 1)] * 4, pa.date32()),
                   "death_date": pa.array([d[1] for d in NOTICES], pa.date32()),
                   "address_unit": pa.array([d[2] for d in NOTICES], pa.string())})
    write_snapshot(out, {"units": units, "households": households, "persons": persons, "events": events,
                         "sources/hospital_births": hb, "sources/death_notices": dn}, datetime(2025, 11, 1))
    return out


@pytest.fixture
def recon_snap(tmp_path):
    return write_recon_snapshot(tmp_path / "snap")


def _by_unit(df):
    return {r["unit_code"]: r for r in df.to_dict("records")}


def test_records_fall_in_exactly_one_category(recon_snap):
    rec = reconcile(recon_snap, [Month(2024, 5)], links=LINKS).records
    got = {(r["kind"], r["category"], r["event_id"] if pd.notna(r["event_id"]) else None, r["record_id"])
           for r in rec.to_dict("records")}
    assert got == {
        ("birth", "matched", 1, "HB1"),
        ("birth", "registry_only", 2, ""),
        ("birth", "source_only", None, "HB2"),
        ("death", "matched", 3, "DN1"),
        ("death", "duplicate", 3, "DN2"),
        ("death", "source_only", None, "DN3"),
        ("death", "matched", 5, "DN4"),  # registry date 31 May: the pair counts in May
    }
    late = rec[rec["late"]]
    assert sorted(late["event_id"].tolist()) == [2, 5]
    assert rec.loc[rec["event_id"] == 2, "delay_days"].iloc[0] == 56
    # DN3 has no address: its unit is the linked person's registered unit
    assert rec.loc[rec["record_id"] == "DN3", "unit_code"].iloc[0] == V11


def test_village_summary_with_known_answers(recon_snap):
    s = _by_unit(reconcile(recon_snap, [Month(2024, 5)], links=LINKS).summary)
    v11, v12, v21 = s[V11], s[V12], s[V21]
    assert (v11["births_registry"], v11["births_source"], v11["births_matched"],
            v11["births_registry_only"], v11["births_source_only"], v11["births_late"]) == (2, 1, 1, 1, 0, 1)
    assert (v11["deaths_registry"], v11["deaths_source_only"]) == (0, 1)
    assert (v11["reported"], v11["verified"]) == (2, 3)
    assert v11["accuracy_rate"] == pytest.approx(200 / 3)
    # two notices of one death count once
    assert (v12["deaths_matched"], v12["deaths_source"], v12["deaths_late"], v12["accuracy_rate"]) == (2, 2, 1, 100.0)
    assert (v21["births_source_only"], v21["reported"], v21["verified"], v21["accuracy_rate"]) == (1, 0, 1, 0.0)


def test_levels_and_unit_filter(recon_snap):
    towns = _by_unit(reconcile(recon_snap, [Month(2024, 5)], level="township", links=LINKS).summary)
    assert (towns[T1]["reported"], towns[T1]["verified"]) == (4, 5)
    assert towns[T1]["accuracy_rate"] == pytest.approx(80.0)
    (county,) = reconcile(recon_snap, [Month(2024, 5)], level="county", links=LINKS).summary.to_dict("records")
    assert (county["reported"], county["verified"]) == (4, 6)
    only = reconcile(recon_snap, [Month(2024, 5)], unit=T2, links=LINKS)
    assert list(only.summary["unit_code"]) == [V21]
    assert set(only.records["unit_code"]) == {V21}


def test_months_are_separate_and_june_has_its_own_records(recon_snap):
    s = reconcile(recon_snap, [Month(2024, 5), Month(2024, 6)], links=LINKS).summary
    june = _by_unit(s[s["month"] == "2024-06"])
    assert june[V21]["births_matched"] == 1 and june[V12]["deaths_matched"] == 0
    year = yearly_accuracy(recon_snap, 2024, "township", links=LINKS)
    assert year[T2] == pytest.approx(50.0)  # 1 matched birth (June) + 1 unregistered (May)


def test_late_limit_is_a_parameter(recon_snap):
    rec = reconcile(recon_snap, [Month(2024, 5)], links=LINKS, late_days=31).records
    assert rec[rec["late"]]["event_id"].tolist() == [2]


@pytest.mark.parametrize(("reported", "verified", "rate"), [(0, 0, None), (3, 4, 75.0), (5, 5, 100.0)])
def test_accuracy_rate(reported, verified, rate):
    assert accuracy_rate(reported, verified) == rate


@pytest.mark.parametrize("text", ["2025-13", "2025/09", "202509", ""])
def test_bad_month(text):
    with pytest.raises(ReconciliationError, match="YYYY-MM"):
        Month.parse(text)


def test_bad_unit_and_snapshot(recon_snap, tmp_path):
    with pytest.raises(ReconciliationError, match="not in the snapshot"):
        reconcile(recon_snap, [Month(2024, 5)], unit="999999999999", links=LINKS)
    with pytest.raises(ReconciliationError, match="cannot be read"):
        reconcile(tmp_path / "nothing", [Month(2024, 5)], links=LINKS)


def test_month_bounds():
    assert Month(2024, 12).end == date(2025, 1, 1) and len(months_of_year(2024)) == 12


def test_command_writes_summary_and_records(recon_snap, tmp_path):
    from django.core.management import call_command

    links = tmp_path / "links.csv"
    LINKS.to_csv(links, index=False)
    out, recs = tmp_path / "recon.csv", tmp_path / "records.csv"
    call_command("reconcile", "--snapshot", str(recon_snap), "--month", "2024-05", "--links", str(links),
                 "--out", str(out), "--records-out", str(recs))
    df = pd.read_csv(out, dtype={"unit_code": str})
    assert _by_unit(df)[V11]["verified"] == 3 and len(pd.read_csv(recs)) == 7


def test_command_refuses_bad_month(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="2025-09"):
        call_command("reconcile", "--month", "9/2025", "--out", str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()
