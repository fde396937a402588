"""The benefit engine over a small synthetic county: childcare eligibility against an
independent computation straight from the snapshot, reproducibility, a late-registered
death's overpayment, and the family-fact programmes (certificates, disabilities)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popreg.benefits.evaluate import (
    evaluate_facts,
    evaluate_months,
    evaluate_programme,
    snapshot_digest,
)
from popreg.benefits.facts import FamilyFacts, build_facts
from popreg.benefits.programmes import CODES, load
from popreg.core.entitlements import OVERPAYMENT, apply_stops, reconcile, totals
from popreg.snapshot.format import read_manifest, write_manifest, write_table
from popreg.synth.generator import generate

MONTHS = (date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1))


@pytest.fixture(scope="module")
def synth_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benefits-county")
    generate(out, seed=12, persons=4000, progress=None)
    return out


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def childcare_by_hand(snapshot: Path, month: date) -> set[int]:
    """The issue's 育儿补贴 definition written straight from the snapshot's tables (pandas,
    not the engine): born by the month's last day, under 3 on its first day, registered in
    the county on its first day (or at birth: registered unit in the county, residence
    registered or floating_out, no move-in from outside dated after that day), and no
    death, move-out, emigration or deregistration dated before its first day."""
    persons = pd.read_parquet(snapshot / "persons.parquet")
    events = pd.read_parquet(snapshot / "events.parquet")
    county = set(pd.read_parquet(snapshot / "units.parquet")["unit_code"])
    start = pd.Timestamp(month)
    end = pd.Timestamp(_next_month(month)) - pd.Timedelta(days=1)
    p = persons.copy()
    p["birth"] = pd.to_datetime(p["birth_date"])
    p = p[p["birth"].notna() & (p["birth"] <= end)]
    third_birthday_passed = (start.year - p["birth"].dt.year
                             - ((start.month * 100 + start.day) < (p["birth"].dt.month * 100 + p["birth"].dt.day))) >= 3
    p = p[~third_birthday_passed]
    p = p[p["registered_unit"].isin(county) & p["residence_type"].isin(["registered", "floating_out"])]
    ev = events.copy()
    ev["when"] = pd.to_datetime(ev["event_date"])
    ref = p["birth"].where(p["birth"] > start, start)
    move_in = ev[(ev["event_type"] == "move_in") & ~ev["from_unit"].isin(county)]
    last_in = move_in.groupby("person_id")["when"].max()
    p = p[~(p["person_id"].map(last_in) > ref)]
    # Ends: a dated death (column or event), a move out, an enlistment (deregistration)
    # not followed by a discharge, before the first day; a status without its event is
    # not known to have ended after that day either.
    ended_before = set(ev[(ev["event_type"].isin(["death", "move_out"])) & (ev["when"] < start)]["person_id"])
    enlist = ev[ev["event_type"] == "enlistment"].groupby("person_id")["when"].max()
    discharge = ev[ev["event_type"] == "discharge"].groupby("person_id")["when"].max()
    for pid, when in enlist.items():
        if when < start and not (pid in discharge and discharge[pid] > when):
            ended_before.add(pid)
    ended_before |= set(p[pd.to_datetime(p["death_date"]) < start]["person_id"])
    dated = {"deceased": set(ev[ev["event_type"] == "death"]["person_id"]) | set(p[p["death_date"].notna()]["person_id"]),
             "emigrated": set(ev[ev["event_type"] == "move_out"]["person_id"]),
             "deregistered": set(enlist.index)}
    for status, with_date in dated.items():
        ended_before |= set(p[(p["status"] == status) & ~p["person_id"].isin(with_date)]["person_id"])
    return {int(x) for x in p["person_id"] if x not in ended_before}


def test_childcare_three_months_equal_an_independent_computation(synth_county: Path) -> None:
    totals_seen = []
    for month in MONTHS:
        result = evaluate_programme("childcare_subsidy", month, synth_county)
        d = result.decisions
        got = {int(x) for x in d.loc[d["eligible"], "person_id"]}
        expected = childcare_by_hand(synth_county, month)
        assert got == expected, (month, sorted(got ^ expected)[:10])
        assert (d.loc[d["eligible"], "amount_yuan"] == 300).all()
        assert (d.loc[~d["eligible"], "amount_yuan"] == 0).all()
        assert d["person_id"].is_unique and d["person_id"].is_monotonic_increasing
        assert (d.loc[d["eligible"], "reasons"] == "符合全部条件 / all conditions passed").all()
        assert d.loc[~d["eligible"], "reasons"].str.contains("failed|unknown").all()
        totals_seen.append(len(got))
    assert min(totals_seen) > 20  # the county has children to decide about


def test_several_months_at_once_equal_one_at_a_time(synth_county: Path) -> None:
    together = evaluate_months("childcare_subsidy", list(MONTHS), synth_county)
    assert list(together) == list(MONTHS)
    for month in MONTHS:
        alone = evaluate_programme("childcare_subsidy", month, synth_county)
        pd.testing.assert_frame_equal(together[month].decisions, alone.decisions)
        assert together[month].snapshot_sha256 == alone.snapshot_sha256


def test_same_rules_version_and_snapshot_give_identical_decisions(synth_county: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(synth_county, copy)
    a = evaluate_programme("childcare_subsidy", MONTHS[1], synth_county)
    b = evaluate_programme("childcare_subsidy", MONTHS[1], copy)
    assert (a.rules_version, a.snapshot_sha256, a.family_sha256) == (b.rules_version, b.snapshot_sha256, b.family_sha256)
    pd.testing.assert_frame_equal(a.decisions, b.decisions)
    assert a.snapshot_sha256 == snapshot_digest(synth_county)


def _with_late_death(src: Path, dst: Path, person_id: int, died: date, recorded: date) -> None:
    """A copy of the snapshot in which ``person_id``'s death on ``died`` was registered on
    ``recorded`` (a new death event, status and death date set), with a fresh manifest."""
    shutil.copytree(src, dst)
    persons = pq.read_table(dst / "persons.parquet").to_pandas()
    events = pq.read_table(dst / "events.parquet")
    row = persons["person_id"] == person_id
    persons.loc[row, "status"] = "deceased"
    persons.loc[row, "death_date"] = died
    schema = pq.read_schema(dst / "persons.parquet")
    write_table(dst, "persons", pa.Table.from_pandas(persons, schema=schema, preserve_index=False))
    unit = persons.loc[row, "registered_unit"].iloc[0]
    extra = {"event_id": [int(pc_max(events, "event_id")) + 1], "person_id": [person_id], "event_type": ["death"],
             "event_date": [died], "recorded_date": [recorded], "unit_code": [unit], "from_unit": [None], "to_unit": [None]}
    for f in events.schema:
        extra.setdefault(f.name, [None])
    write_table(dst, "events", pa.concat_tables([events, pa.table(extra, schema=events.schema)]))
    moment = datetime.fromisoformat(read_manifest(src)["reference_moment"])
    write_manifest(dst, moment)


def pc_max(table: pa.Table, column: str) -> int:
    return int(max(table.column(column).to_pylist()))


def test_late_registered_death_gives_the_right_overpayment(synth_county: Path, tmp_path: Path) -> None:
    months = (date(2025, 7, 1), *MONTHS)
    before = {m: evaluate_programme("childcare_subsidy", m, synth_county).decisions for m in months}
    always = set.intersection(*({int(x) for x in d.loc[d["eligible"], "person_id"]} for d in before.values()))
    child = min(always)
    # Paid July to October on the registry as it was; the death of 15 July is registered
    # on 20 October: August, September and October were paid for nothing.
    paid = pd.DataFrame([(child, m, 300.0) for m in months], columns=["person_id", "month", "amount_yuan"])
    late = tmp_path / "late"
    _with_late_death(synth_county, late, child, date(2025, 7, 15), date(2025, 10, 20))
    rows = []
    for m in months:
        d = evaluate_programme("childcare_subsidy", m, late).decisions
        one = d[d["person_id"] == child].iloc[0]
        rows.append((child, m, bool(one["eligible"]), float(one["amount_yuan"])))
        if m > months[0]:
            assert "no death before the month: failed" in one["reasons"]
        # nobody else changed
        others_before = before[m][before[m]["person_id"] != child].reset_index(drop=True)
        others_now = d[d["person_id"] != child].reset_index(drop=True)
        pd.testing.assert_frame_equal(others_now.astype({"reasons": str}), others_before.astype({"reasons": str}))
    due = pd.DataFrame(rows, columns=["person_id", "month", "eligible", "amount_yuan"])
    diff = reconcile(due, paid)
    assert diff[["month", "kind", "amount_yuan"]].values.tolist() == [
        [date(2025, 8, 1), OVERPAYMENT, 300.0], [date(2025, 9, 1), OVERPAYMENT, 300.0], [date(2025, 10, 1), OVERPAYMENT, 300.0]]
    assert totals(diff)[OVERPAYMENT] == 900.0
    # The same stop computed from the event alone agrees with the rules over the new snapshot.
    stopped = apply_stops(pd.DataFrame([(child, m, True, 300.0) for m in months], columns=due.columns),
                          pd.DataFrame([(child, "death", date(2025, 7, 15))], columns=["person_id", "kind", "event_date"]))
    assert stopped["eligible"].tolist() == due["eligible"].tolist()


def _family(county: Path) -> tuple[pd.DataFrame, int, int, int]:
    """A couple of the county with exactly one child in the registry (born 2010 or later),
    both alive and here."""
    f = build_facts(county)
    kids = f[(f["children_count"] == 1) & (f["child_birth_date"] >= pd.Timestamp("2010-01-01"))]
    persons = pd.read_parquet(county / "persons.parquet").set_index("person_id")
    for pid in kids["person_id"]:
        child = int(kids.loc[kids["person_id"] == pid, "child_person_id"].iloc[0])
        mother, father = persons.loc[child, "mother_id"], persons.loc[child, "father_id"]
        if pd.isna(mother) or pd.isna(father):
            continue
        both = f[f["person_id"].isin([int(mother), int(father)])]
        if len(both) == 2 and (both["children_count"] == 1).all() and (both["status"] == "active").all() \
                and both["registered_in_county"].all() and both["residence_type"].isin(["registered", "floating_out"]).all():
            return f, int(mother), int(father), child
    pytest.fail("no suitable family in the synthetic county")


def test_only_child_certificate_covers_both_parents_until_the_child_turns_18(synth_county: Path) -> None:
    f, mother, father, child = _family(synth_county)
    birth = f.loc[f["person_id"] == child, "birth_date"].iloc[0].date()
    certs = pd.DataFrame({"person_id": [mother], "kind": ["only_child"], "number": ["光荣证-0001"],
                          "issued_date": [date(birth.year + 1, 1, 15)], "child_person_id": [child]})
    family = FamilyFacts(certificates=certs)
    month = MONTHS[0]
    d = evaluate_programme("only_child_parents_reward", month, synth_county, family).decisions
    assert set(d["person_id"]) == {mother, father}
    assert d["eligible"].all() and (d["amount_yuan"] == 50).all()
    eighteen = date(birth.year + 18, birth.month, 1)
    after = evaluate_programme("only_child_parents_reward", _next_month(eighteen), synth_county, family).decisions
    assert not after["eligible"].any()
    assert after["child_under_age"].astype(str).eq("failed").all()
    # issued after the month: not yet certified
    late = FamilyFacts(certificates=certs.assign(issued_date=[date(2025, 12, 1)]))
    d = evaluate_programme("only_child_parents_reward", month, synth_county, late).decisions
    assert not d["eligible"].any() and d["certified"].astype(str).eq("failed").all()


def test_special_assistance_amount_depends_on_death_or_disability_and_hukou(synth_county: Path) -> None:
    f, mother, father, child = _family(synth_county)
    dis = pd.DataFrame({"person_id": [child], "grade": [2], "recorded_date": [date(2020, 3, 1)]})
    mother_birth = f.loc[f["person_id"] == mother, "birth_date"].iloc[0].date()
    turns_49 = date(mother_birth.year + 49, mother_birth.month, 1)
    # In the month of her 49th birthday she is 49 on its first day only if born on the 1st.
    month = max(_next_month(turns_49), date(2014, 1, 1))
    if turns_49 >= date(2007, 1, 1):
        young = evaluate_programme("fp_special_assistance", turns_49, synth_county, FamilyFacts(disabilities=dis)).decisions
        row = young[young["person_id"] == mother].iloc[0]
        assert row["mother_age"] == ("passed" if mother_birth.day == 1 else "failed")
    d = evaluate_programme("fp_special_assistance", month, synth_county, FamilyFacts(disabilities=dis)).decisions
    mine = d[d["person_id"].isin([mother, father])].set_index("person_id")
    assert len(mine) == 2
    assert mine["child_died_or_disabled"].astype(str).eq("passed").all()
    assert mine["mother_age"].astype(str).eq("passed").all()
    assert mine["eligible"].all(), mine["reasons"].tolist()
    hukou = f.set_index("person_id").loc[[mother, father], "hukou_kind"].astype(str)
    for pid in (mother, father):
        assert mine.loc[pid, "amount_yuan"] == (270 if hukou[pid] == "non_agricultural" else 150)
    # grade 4 is not enough
    dis4 = dis.assign(grade=[4])
    d4 = evaluate_programme("fp_special_assistance", month, synth_county, FamilyFacts(disabilities=dis4)).decisions
    assert not d4[d4["person_id"].isin([mother, father])]["eligible"].any()


def test_rural_reward_counts_one_child_or_two_daughters(synth_county: Path) -> None:
    result = evaluate_programme("rural_fp_reward", MONTHS[0], synth_county)
    d = result.decisions.merge(build_facts(synth_county), on="person_id")
    ok = d[d["eligible"]]
    assert len(ok) > 0 and (ok["amount_yuan"] == 80).all()
    assert ((ok["children_count"] == 1) | ((ok["children_count"] == 2) & (ok["daughters_count"] == 2))).all()
    assert (ok["hukou_kind"].astype(str) == "agricultural").all()
    assert (ok["birth_date"] <= pd.Timestamp("1965-08-01")).all()
    assert result.parameters["amount_monthly"] == 80


def test_family_facts_need_their_columns() -> None:
    with pytest.raises(ValueError, match="lacks columns issued_date"):
        FamilyFacts(certificates=pd.DataFrame(columns=["person_id", "kind", "number", "child_person_id"]))


@pytest.fixture(scope="module")
def county_with_family(synth_county: Path) -> tuple[pd.DataFrame, FamilyFacts]:
    """The synthetic county's facts with certificates for one-child parents and disability
    records for some of their children, so that every programme has people to decide on."""
    base = build_facts(synth_county)
    parents = base[base["children_count"] == 1].head(300)
    certs = pd.DataFrame({"person_id": parents["person_id"].astype("int64"), "kind": "only_child",
                          "number": [f"光荣证-{i}" for i in range(len(parents))],
                          "issued_date": date(2012, 5, 1), "child_person_id": parents["child_person_id"]})
    dis = pd.DataFrame({"person_id": parents["child_person_id"].iloc[::7].astype("int64"), "grade": 2,
                        "recorded_date": date(2018, 1, 1)})
    family = FamilyFacts(certificates=certs, disabilities=dis)
    return build_facts(synth_county, family), family


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dates(date(2016, 1, 1), date(2025, 10, 31)), st.sampled_from(sorted(CODES)))
def test_nobody_gone_before_a_month_is_eligible_in_the_county(county_with_family, synth_county: Path, day: date, code: str) -> None:
    """Straight from the snapshot's events: no eligible person has a death, a move out of
    the county or an enlistment not ended by a discharge dated before the month."""
    facts, _family = county_with_family
    month = max(day.replace(day=1), date(2025, 1, 1)) if code == "childcare_subsidy" else day.replace(day=1)
    decisions, _ = evaluate_facts(load(code), month, facts)
    eligible = set(decisions.loc[decisions["eligible"], "person_id"].astype(int))
    events = pd.read_parquet(synth_county / "events.parquet")
    events = events[pd.to_datetime(events["event_date"]) < pd.Timestamp(month)]
    gone = set(events.loc[events["event_type"].isin(["death"]), "person_id"].astype(int))
    persons = pd.read_parquet(synth_county / "persons.parquet")
    gone |= set(persons.loc[pd.to_datetime(persons["death_date"]) < pd.Timestamp(month), "person_id"].astype(int))
    last = events.sort_values("event_date").groupby("person_id")["event_type"].agg(list)
    for pid, kinds in last.items():
        moves = [k for k in kinds if k in ("move_out", "move_in")]
        service = [k for k in kinds if k in ("enlistment", "discharge")]
        if (moves and moves[-1] == "move_out") or (service and service[-1] == "enlistment"):
            gone.add(int(pid))
    assert not (eligible & gone)
