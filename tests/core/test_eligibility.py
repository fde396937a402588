"""The benefit rule language (popreg.core.eligibility): parsing, three-valued outcomes,
dated parameters, ages, and properties of the shipped programmes over random facts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popreg.core.eligibility import (
    FAILED,
    PASSED,
    UNKNOWN,
    RuleError,
    age_years_on,
    evaluate,
    month_bounds,
    parse_programme,
    rules_version,
)

PROGRAMMES = Path(__file__).resolve().parents[2] / "src" / "popreg" / "benefits" / "programmes"
SHIPPED = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(PROGRAMMES.glob("*.json"))}

LABEL = {"zh": "条件", "en": "condition"}


def programme(*conditions: dict, amount: object = 10, parameters: dict | None = None, **extra: object) -> dict:
    doc = {
        "code": "test", "version": 1, "name": {"zh": "测试", "en": "test"}, "period": "month",
        "payee": "person", "parameters": parameters or {}, "conditions": list(conditions), "amount": amount,
    }
    doc.update(extra)
    return doc


def cond(cid: str = "c", **rule: object) -> dict:
    return {"id": cid, "label": LABEL, **rule}


def facts(**cols: object) -> pd.DataFrame:
    n = len(next(iter(cols.values())))  # type: ignore[arg-type]
    return pd.DataFrame({"person_id": np.arange(1, n + 1), **cols})


def states(doc: dict, frame: pd.DataFrame, month: date = date(2025, 6, 1)) -> list[int]:
    ev = evaluate(parse_programme(doc), frame, month)
    return ev.states["c"].tolist()


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (programme(cond(fact="x", op="~=", value=1)), "unknown operator ~="),
        (programme(cond(fact="x", op="<")), "needs a value"),
        (programme({"id": "c", "fact": "x", "op": "<", "value": 1}), "label.zh"),
        (programme(cond(fact="x", op="<", value={"param": "nope"})), "undefined parameter nope"),
        (programme(cond(fact="x", op="in", value=3)), "must be a list"),
        (programme(cond(fact="x", op="<", value="__import__('os')")), None),
        (programme(cond(fact="x", op="<", value={"date": "yesterday"})), "YYYY-MM-DD"),
        (programme(cond("eligible", fact="x", op="<", value=1)), "output column"),
        (programme(cond(fact="age_years_on", op="<", value=1)), "needs on"),
        (programme(cond(fact="x", op="<", value=1), amount="1+1"), "amount expression"),
        ({**programme(cond(fact="x", op="<", value=1)), "payee": "uncle"}, "payee"),
        (programme(*[cond(f"c{i}", fact="x", op="<", value=1) for i in range(31)]), "at most 30 top-level conditions"),
        (programme(cond(fact="x", op="<", value=1), parameters={"p": {"label": LABEL, "values": [{"from": "2025-01-01", "value": 3}]}}),
         "legal reference"),
    ],
)
def test_parse_errors_name_the_place(doc: dict, fragment: str | None) -> None:
    if fragment is None:
        # Text is a literal, never code: it parses and compares as a string.
        p = parse_programme(doc)
        ev = evaluate(p, facts(x=pd.Series(["a", "__import__('os')", None], dtype=object)), date(2025, 1, 1))
        assert ev.states["c"].tolist() == [FAILED, FAILED, UNKNOWN]
        return
    with pytest.raises(RuleError) as exc:
        parse_programme(doc)
    assert fragment in str(exc.value)
    assert exc.value.zh and exc.value.en


def test_every_shipped_programme_parses_and_has_referenced_parameters() -> None:
    assert set(SHIPPED) == {"childcare_subsidy", "only_child_parents_reward", "rural_fp_reward", "fp_special_assistance"}
    for doc in SHIPPED.values():
        p = parse_programme(doc)
        assert p.conditions and all(c.label.zh and c.label.en for c in p.conditions)
        for param in p.parameters.values():
            assert all(v.reference for v in param.values)


def test_rules_version_is_canonical_and_changes_with_the_rules() -> None:
    doc = SHIPPED["childcare_subsidy"]
    same = json.loads(json.dumps(doc, indent=4, sort_keys=False))
    assert rules_version(doc) == rules_version(same) == parse_programme(doc).rules_version
    changed = json.loads(json.dumps(doc))
    changed["parameters"]["amount_monthly"]["values"][0]["value"] = 301
    assert rules_version(changed) != rules_version(doc)


# ------------------------------------------------------------------ outcomes


def test_comparisons_and_missing_values() -> None:
    f = facts(x=pd.array([1, 5, None], dtype="Int64"))
    assert states(programme(cond(fact="x", op="<", value=3)), f) == [PASSED, FAILED, UNKNOWN]
    assert states(programme(cond(fact="x", op="<", value=3, missing="passed")), f) == [PASSED, FAILED, PASSED]
    assert states(programme(cond(fact="x", op="<", value=3, missing="failed")), f) == [PASSED, FAILED, FAILED]
    assert states(programme(cond(fact="x", op="is_null")), f) == [FAILED, FAILED, PASSED]
    assert states(programme(cond(fact="x", op="in", value=[5, 7])), f) == [FAILED, PASSED, UNKNOWN]
    assert states(programme(cond(fact="x", op="not_in", value=[5, 7])), f) == [PASSED, FAILED, UNKNOWN]


def test_boolean_facts_plain_and_nullable() -> None:
    nullable = facts(b=pd.array([True, False, None], dtype="boolean"))
    assert states(programme(cond(fact="b", op="==", value=True)), nullable) == [PASSED, FAILED, UNKNOWN]
    plain = facts(b=[True, False])
    assert states(programme(cond(fact="b", op="==", value=True)), plain) == [PASSED, FAILED]


@pytest.mark.parametrize("dtype", ["category", "object", "string"])
def test_text_facts_whatever_their_dtype(dtype: str) -> None:
    f = facts(kind=pd.Series(["agricultural", "non_agricultural", None], dtype=dtype))
    assert states(programme(cond(fact="kind", op="==", value="agricultural")), f) == [PASSED, FAILED, UNKNOWN]
    assert states(programme(cond(fact="kind", op="in", value=["non_agricultural"])), f) == [FAILED, PASSED, UNKNOWN]
    assert states(programme(cond(fact="kind", op="!=", value="agricultural")), f) == [FAILED, PASSED, UNKNOWN]


def test_all_any_not_are_kleene() -> None:
    # a: passed, failed, unknown crossed with b: passed, failed, unknown
    a = [1, 1, 1, 0, 0, 0, None, None, None]
    b = [1, 0, None] * 3
    f = facts(a=pd.array(a, dtype="Int64"), b=pd.array(b, dtype="Int64"))
    A = {"fact": "a", "op": "==", "value": 1}
    B = {"fact": "b", "op": "==", "value": 1}
    P, F, U = PASSED, FAILED, UNKNOWN
    assert states(programme(cond(all=[A, B])), f) == [P, F, U, F, F, F, U, F, U]
    assert states(programme(cond(any=[A, B])), f) == [P, P, P, P, F, U, P, U, U]
    assert states(programme(cond(**{"not": A})), f) == [F, F, F, P, P, P, U, U, U]


def test_eligible_needs_every_condition_passed_and_reasons_say_which() -> None:
    doc = programme(
        {"id": "young", "label": {"zh": "年轻", "en": "young"}, "fact": "age", "op": "<", "value": 3},
        {"id": "here", "label": {"zh": "在县", "en": "here"}, "fact": "here", "op": "==", "value": True},
        amount=300,
    )
    f = facts(age=pd.array([1, 5, None, 1], dtype="Int64"), here=pd.array([True, True, True, False], dtype="boolean"))
    ev = evaluate(parse_programme(doc), f, date(2025, 3, 9))
    assert ev.eligible.tolist() == [True, False, False, False]
    assert ev.amount.tolist() == [300, 0, 0, 0]
    reasons = list(ev.reasons.astype(str))
    assert reasons[0] == "符合全部条件 / all conditions passed"
    assert reasons[1] == "年轻：不符合 / young: failed"
    assert reasons[2] == "年轻：信息不全 / young: unknown"
    assert reasons[3] == "在县：不符合 / here: failed"
    frame = ev.frame(f)
    assert list(frame.columns) == ["person_id", "payee_person_id", "eligible", "amount_yuan", "reasons", "young", "here"]
    assert frame["young"].astype(str).tolist() == ["passed", "failed", "unknown", "passed"]


def test_dated_parameters_are_looked_up_for_the_month() -> None:
    params = {"amount": {"label": LABEL, "unit": "yuan", "values": [
        {"from": "2012-01-01", "value": 80, "reference": "b"}, {"from": "2004-01-01", "value": 50, "reference": "a"}]}}
    doc = programme(cond(fact="x", op="==", value=1), amount={"param": "amount"}, parameters=params)
    f = facts(x=[1])
    p = parse_programme(doc)
    assert evaluate(p, f, date(2011, 12, 31)).amount.tolist() == [50]
    assert evaluate(p, f, date(2012, 1, 1)).amount.tolist() == [80]
    assert p.parameters["amount"].reference_at(date(2013, 5, 1)) == "b"
    with pytest.raises(RuleError, match="no value on 2003-12-01"):
        evaluate(p, f, date(2003, 12, 5))


def test_date_parameters_and_mismatched_kinds() -> None:
    params = {"cutoff": {"label": LABEL, "unit": "date", "values": [{"from": "2000-01-01", "value": "2016-01-01", "reference": "r"}]}}
    f = facts(issued=pd.to_datetime(pd.Series(["2015-12-31", "2016-01-01"])).astype("datetime64[s]"), n=[1, 2])
    assert states(programme(cond(fact="issued", op="<", value={"param": "cutoff"}), parameters=params), f) == [PASSED, FAILED]
    with pytest.raises(RuleError, match="cannot compare date with number"):
        states(programme(cond(fact="issued", op="<", value=3)), f)
    with pytest.raises(RuleError, match="cannot compare number with text"):
        states(programme(cond(fact="n", op="in", value=["a"])), f)


def test_amount_case_and_unknown_amount() -> None:
    doc = programme(
        cond(fact="x", op="==", value=1),
        amount={"case": [{"when": {"fact": "kind", "op": "==", "value": "u"}, "then": 340}], "else": 170},
    )
    f = facts(x=[1, 1, 1], kind=pd.Series(["u", "r", None], dtype=object))
    ev = evaluate(parse_programme(doc), f, date(2025, 1, 1))
    assert ev.amount.tolist() == [340, 170, 0]
    assert ev.eligible.tolist() == [True, True, False]
    assert "amount unknown" in str(ev.reasons[2])


def test_dates_named_shifted_and_max() -> None:
    births = pd.to_datetime(pd.Series(["2025-05-31", "2025-06-30", "2025-07-01", None])).astype("datetime64[s]")
    f = facts(birth_date=births, moved=pd.to_datetime(pd.Series(["2025-06-10"] * 4)).astype("datetime64[s]"))
    assert states(programme(cond(fact="birth_date", op="<=", value={"date": "month_end"})), f) == [PASSED, PASSED, FAILED, UNKNOWN]
    # moved in on 10 June: after the first of June for a child born before, not for one born on 30 June
    later = cond(fact="moved", op="<=", value={"max": [{"date": "month_start"}, {"fact": "birth_date"}]})
    assert states(programme(later), f) == [FAILED, PASSED, PASSED, FAILED]
    shifted = cond(fact="birth_date", op=">", value={"date": "month_start", "add_years": -3, "add_days": -1})
    assert states(programme(shifted), facts(birth_date=pd.to_datetime(pd.Series(["2022-06-01", "2022-05-31"])).astype("datetime64[s]"))) == [PASSED, FAILED]
    plus = cond(fact="moved", op=">=", value={"fact": "birth_date", "add_months": 1})
    assert states(programme(plus), f) == [FAILED, FAILED, FAILED, UNKNOWN]


def test_a_yearly_programme_reads_the_year() -> None:
    f = facts(birth_date=pd.to_datetime(pd.Series(["2025-12-31", "2026-01-01"])).astype("datetime64[s]"))
    doc = programme(cond(fact="birth_date", op="<=", value={"date": "month_end"}), period="year")
    assert states(doc, f, date(2025, 3, 1)) == [PASSED, FAILED]
    ev = evaluate(parse_programme(doc), f, date(2025, 3, 1))
    assert ev.month == date(2025, 1, 1)


def test_month_bounds() -> None:
    assert month_bounds(date(2024, 2, 17)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert month_bounds(date(2025, 12, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@given(st.lists(st.tuples(st.dates(date(1900, 1, 1), date(2030, 12, 31)), st.dates(date(1900, 1, 1), date(2030, 12, 31))),
                min_size=1, max_size=50))
def test_age_years_on_matches_full_years(pairs: list[tuple[date, date]]) -> None:
    birth = np.array([b for b, _ in pairs], dtype="datetime64[D]")
    on = np.array([o for _, o in pairs], dtype="datetime64[D]")
    assert age_years_on(birth, on).tolist() == [float(_age(b, o)) for b, o in pairs]


@given(st.lists(st.one_of(st.none(), st.dates(date(1700, 1, 1), date(2300, 12, 31))), min_size=1, max_size=60),
       st.dates(date(1900, 1, 1), date(2100, 12, 31)))
def test_age_on_one_day_matches_full_years(births: list[date | None], on: date) -> None:
    birth = np.array([np.datetime64("NaT") if b is None else b for b in births], dtype="datetime64[D]")
    got = age_years_on(birth, np.datetime64(on, "D")).tolist()
    want = [float("nan") if b is None else float(_age(b, on)) for b in births]
    assert [None if g != g else g for g in got] == [None if w != w else w for w in want]


def test_age_on_29_february() -> None:
    birth = np.array([date(2024, 2, 29)] * 3, dtype="datetime64[D]")
    on = np.array([date(2027, 2, 28), date(2027, 3, 1), date(2028, 2, 29)], dtype="datetime64[D]")
    assert age_years_on(birth, on).tolist() == [2.0, 3.0, 4.0]
    for day, age in ((date(2027, 2, 28), 2.0), (date(2027, 3, 1), 3.0), (date(2028, 2, 29), 4.0), (date(2024, 2, 28), -1.0)):
        assert age_years_on(birth[:1], np.datetime64(day, "D")).tolist() == [age]


# ------------------------------------------------------------------ properties of the shipped programmes

STATUSES = ["active", "deceased", "emigrated", "deregistered"]
DAY0 = date(1940, 1, 1)


@st.composite
def fact_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    day = st.one_of(st.none(), st.dates(DAY0, date(2027, 12, 31)))

    def dates(name: str) -> pd.Series:
        return pd.to_datetime(pd.Series(draw(st.lists(day, min_size=n, max_size=n)), dtype=object)).astype("datetime64[s]")

    def ints(lo: int, hi: int, nullable: bool = True) -> pd.Series:
        el = st.one_of(st.none(), st.integers(lo, hi)) if nullable else st.integers(lo, hi)
        return pd.array(draw(st.lists(el, min_size=n, max_size=n)), dtype="Int64")

    def cat(values: list[str | None]) -> pd.Series:
        return pd.Series(draw(st.lists(st.sampled_from(values), min_size=n, max_size=n)), dtype="category")

    children = ints(0, 3, nullable=False)
    return pd.DataFrame({
        "person_id": np.arange(1, n + 1), "birth_date": dates("birth"),
        "status": cat(STATUSES), "residence_type": cat(["registered", "floating_out", "floating_in", None]),
        "hukou_kind": cat(["agricultural", "non_agricultural", None]),
        "registered_in_county": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "mother_id": ints(1, 99), "father_id": ints(1, 99),
        "death_date": dates("death"), "move_out_date": dates("out"), "deregistration_date": dates("dereg"),
        "last_move_in_date": dates("in"), "children_count": children,
        "daughters_count": ints(0, 2, nullable=False), "children_dead_count": ints(0, 1, nullable=False),
        "child_death_date": dates("cd"), "child_disability_grade": ints(1, 4),
        "children_min_disability_grade": ints(1, 4), "children_mother_birth_date": dates("mb"),
        "certificate_number": pd.Series(draw(st.lists(st.sampled_from([None, "JS-001"]), min_size=n, max_size=n)), dtype=object),
        "certificate_issued_date": dates("ci"), "certificate_child_birth_date": dates("cb"),
    })


MONTHS = st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(lambda d: d.replace(day=1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_tables(), MONTHS, st.sampled_from(sorted(SHIPPED)))
def test_nobody_dead_emigrated_or_deregistered_before_the_month_is_eligible(frame: pd.DataFrame, month: date, code: str) -> None:
    ev = evaluate(parse_programme(SHIPPED[code]), frame, month)
    sub = frame.iloc[ev.rows]
    start = pd.Timestamp(month)
    gone = (
        (sub["death_date"] < start) | (sub["move_out_date"] < start) | (sub["deregistration_date"] < start)
        # a status without its date: we cannot tell when, so never eligible either
        | ((sub["status"] == "deceased") & sub["death_date"].isna())
        | ((sub["status"] == "emigrated") & sub["move_out_date"].isna())
        | ((sub["status"] == "deregistered") & sub["deregistration_date"].isna())
    ).to_numpy()
    assert not (ev.eligible & gone).any()
    assert (ev.amount[~ev.eligible] == 0).all()
    assert (ev.amount[ev.eligible] > 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_tables(), MONTHS, st.sampled_from(sorted(SHIPPED)), st.randoms(use_true_random=False))
def test_same_rules_and_facts_give_the_same_decisions_in_any_row_order(frame: pd.DataFrame, month: date, code: str, rnd) -> None:
    p = parse_programme(SHIPPED[code])
    again = parse_programme(json.loads(json.dumps(SHIPPED[code])))
    assert p.rules_version == again.rules_version
    a = evaluate(p, frame, month).frame(frame).sort_values("person_id").reset_index(drop=True)
    b = evaluate(again, frame, month).frame(frame).sort_values("person_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    order = list(range(len(frame)))
    rnd.shuffle(order)
    shuffled = frame.iloc[order].reset_index(drop=True)
    c = evaluate(p, shuffled, month).frame(shuffled).sort_values("person_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, c)


def _childcare_by_hand(row: pd.Series, month: date) -> bool:
    """The issue's childcare definition, one person at a time, in plain Python."""
    start, end = month_bounds(month)

    def d(v: object) -> date | None:
        return None if pd.isna(v) else pd.Timestamp(v).date()  # type: ignore[arg-type]

    birth = d(row["birth_date"])
    if birth is None or birth > end or _age(birth, start) >= 3:
        return False
    if not row["registered_in_county"] or row["residence_type"] not in ("registered", "floating_out"):
        return False
    ref = max(start, birth)
    moved_in = d(row["last_move_in_date"])
    if moved_in is not None and moved_in > ref:
        return False
    for col, status in (("death_date", "deceased"), ("move_out_date", "emigrated"), ("deregistration_date", "deregistered")):
        when = d(row[col])
        if (when is not None and when < start) or (when is None and row["status"] == status):
            return False
    return True


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_tables(), MONTHS)
def test_childcare_matches_the_definition_person_by_person(frame: pd.DataFrame, month: date) -> None:
    # birth dates near the month so that the age limit is exercised
    frame = frame.copy()
    frame["birth_date"] = frame["birth_date"].where(
        frame["birth_date"].isna(),
        pd.Timestamp(month) - pd.to_timedelta((frame["person_id"] * 97) % 1300, unit="D") + timedelta(days=20),
    ).astype("datetime64[s]")
    ev = evaluate(parse_programme(SHIPPED["childcare_subsidy"]), frame, month)
    got = dict(zip(frame["person_id"].iloc[ev.rows], ev.eligible, strict=True))
    for _, row in frame.iterrows():
        assert got.get(row["person_id"], False) == _childcare_by_hand(row, month), row.to_dict()
