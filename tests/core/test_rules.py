"""Scoring rules (popreg.core.rules): comparisons at their edges, targets, veto, missing
values, the few-births interval rule, parsing errors, ranking and the lagging list."""

from __future__ import annotations

import json

import pytest

from popreg.core.rules import RuleError, Target, evaluate, lagging, parse_rule_set, rank


def rules(*items: dict, name: str = "考核", version: int = 1):
    return parse_rule_set({"name": name, "version": version, "rules": list(items)})


BAND = {"id": "rni", "indicator": "rni", "comparison": "band", "low": -1.0, "high": 6.0, "weight": 30}
AT_LEAST = {"id": "acc", "indicator": "accuracy_rate", "comparison": "at_least", "threshold": 100, "weight": 40}
AT_MOST = {"id": "cdr", "indicator": "cdr", "comparison": "at_most", "threshold": 8, "weight": 10}


@pytest.mark.parametrize(
    ("rule", "value", "outcome"),
    [
        (BAND, -1.0, "pass"),  # lower edge included
        (BAND, 6.0, "pass"),  # upper edge included
        (BAND, -1.0000001, "fail"),
        (BAND, 6.0000001, "fail"),
        (BAND, 2.5, "pass"),
        (AT_LEAST, 100.0, "pass"),
        (AT_LEAST, 99.99, "fail"),
        (AT_MOST, 8.0, "pass"),
        (AT_MOST, 8.01, "fail"),
        ({**BAND, "low": None}, -50.0, "pass"),  # one-sided band
        ({**BAND, "high": None}, 50.0, "pass"),
    ],
)
def test_comparisons_at_the_edges(rule, value, outcome):
    card = evaluate(rules(rule), "v", {rule["indicator"]: value})
    (res,) = card.results
    assert res.outcome == outcome
    assert card.total == (rule["weight"] if outcome == "pass" else 0)
    assert card.max_points == rule["weight"]


@pytest.mark.parametrize(
    ("missing", "outcome", "total", "max_points"),
    [("fail", "fail", 0, 30), ("pass", "pass", 30, 30), ("skip", "skip", 0, 0)],
)
@pytest.mark.parametrize("value", [None, float("nan")])
def test_missing_values(missing, outcome, total, max_points, value):
    card = evaluate(rules({**BAND, "missing": missing}), "v", {"rni": value})
    assert card.results[0].outcome == outcome and card.results[0].basis == "missing"
    assert (card.total, card.max_points) == (total, max_points)


def test_indicator_absent_from_values_is_missing():
    card = evaluate(rules(BAND), "v", {})
    assert card.results[0].outcome == "fail" and card.results[0].value is None


def test_veto_fails_whole_assessment_whatever_the_points():
    rs = rules(BAND, {**AT_LEAST, "veto": True})
    ok = evaluate(rs, "a", {"rni": 2.0, "accuracy_rate": 100.0})
    bad = evaluate(rs, "b", {"rni": 2.0, "accuracy_rate": 98.0})
    assert not ok.vetoed and ok.total == 70 and ok.percent == 100
    assert bad.vetoed and bad.veto_rules == ("acc",) and bad.total == 30
    # a failing non-veto rule never vetoes
    assert not evaluate(rs, "c", {"rni": 9.0, "accuracy_rate": 100.0}).vetoed


def test_veto_rule_with_missing_value_and_pass_policy_does_not_veto():
    rs = rules({**AT_LEAST, "veto": True, "missing": "pass"})
    assert not evaluate(rs, "a", {}).vetoed
    assert evaluate(rules({**AT_LEAST, "veto": True}), "a", {}).vetoed


@pytest.mark.parametrize(
    ("rule", "target", "value", "low", "high", "outcome"),
    [
        (BAND, Target(0.0, 3.0), 4.0, 0.0, 3.0, "fail"),  # the unit's band is narrower
        (BAND, Target(None, 10.0), 8.0, -1.0, 10.0, "pass"),  # missing side keeps the rule's
        (AT_LEAST, Target(95.0, None), 96.0, 95.0, None, "pass"),
        (AT_MOST, Target(None, 5.0), 6.0, None, 5.0, "fail"),
        (AT_MOST, Target(1.0, None), 6.0, None, 8.0, "pass"),  # at_most ignores a low
    ],
)
def test_unit_targets_replace_rule_bounds(rule, target, value, low, high, outcome):
    card = evaluate(rules(rule), "v", {rule["indicator"]: value}, {rule["indicator"]: target})
    res = card.results[0]
    assert (res.low, res.high, res.outcome) == (low, high, outcome)


SRB = {
    "id": "srb", "indicator": "srb", "comparison": "band", "low": 103, "high": 107, "weight": 20,
    "few_events": {"count": "sexed_births", "min": 1000, "low": "srb_low", "high": "srb_high"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("values", "outcome", "basis"),
    [
        # many births: the point value is judged
        ({"srb": 110.0, "sexed_births": 1500, "srb_low": 104.0, "srb_high": 116.0}, "fail", "value"),
        ({"srb": 105.0, "sexed_births": 1500, "srb_low": 99.0, "srb_high": 111.0}, "pass", "value"),
        # few births: the interval overlapping the band passes
        ({"srb": 130.0, "sexed_births": 40, "srb_low": 70.0, "srb_high": 240.0}, "pass", "interval"),
        ({"srb": 130.0, "sexed_births": 40, "srb_low": 107.0, "srb_high": 240.0}, "pass", "interval"),  # touching edge
        ({"srb": 300.0, "sexed_births": 400, "srb_low": 107.5, "srb_high": 400.0}, "fail", "interval"),
        ({"srb": 50.0, "sexed_births": 300, "srb_low": 30.0, "srb_high": 102.9}, "fail", "interval"),
        # no girls: the interval is unbounded above
        ({"srb": None, "sexed_births": 3, "srb_low": 40.0, "srb_high": None}, "pass", "interval"),
        # boundary of the count: 1000 births are judged by the value
        ({"srb": 110.0, "sexed_births": 1000, "srb_low": 97.0, "srb_high": 124.0}, "fail", "value"),
    ],
)
def test_sex_ratio_at_birth_few_births(values, outcome, basis):
    res = evaluate(rules(SRB), "v", values).results[0]
    assert (res.outcome, res.basis) == (outcome, basis)


def test_no_births_at_all_follows_missing_policy():
    empty = {"srb": None, "sexed_births": 0, "srb_low": None, "srb_high": None}
    assert evaluate(rules(SRB), "v", empty).results[0].outcome == "fail"
    assert evaluate(rules({**SRB, "missing": "skip"}), "v", empty).results[0].outcome == "skip"


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        ("{not json", "JSON"),
        ({"version": 1, "rules": [BAND]}, "name"),
        ({"name": "x", "version": 0, "rules": [BAND]}, "version"),
        ({"name": "x", "version": "1", "rules": [BAND]}, "version"),
        ({"name": "x", "version": 1, "rules": []}, "rules"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "comparison": "between"}]}, "comparison"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "low": 7, "high": 6}]}, "low 7"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "low": None, "high": None}]}, "band needs"),
        ({"name": "x", "version": 1, "rules": [{**AT_LEAST, "threshold": None}]}, "threshold"),
        ({"name": "x", "version": 1, "rules": [{**AT_LEAST, "threshold": "abc"}]}, "threshold"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "weight": -1}]}, "weight"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "missing": "zero"}]}, "missing"),
        ({"name": "x", "version": 1, "rules": [{**BAND, "veto": "maybe"}]}, "veto"),
        ({"name": "x", "version": 1, "rules": [BAND, BAND]}, "twice"),
        ({"name": "x", "version": 1, "rules": [{**AT_LEAST, "few_events": SRB["few_events"]}]}, "few_events"),
    ],
)
def test_bad_rule_sets_are_refused_in_both_languages(definition, fragment):
    with pytest.raises(RuleError) as err:
        parse_rule_set(definition if isinstance(definition, str) else json.dumps(definition))
    assert fragment in err.value.message_en
    assert err.value.message_zh and err.value.message_zh != err.value.message_en


def test_rule_set_round_trip_and_checksum():
    rs = rules(BAND, {**AT_LEAST, "veto": True}, SRB)
    again = parse_rule_set(json.dumps(rs.as_dict()))
    assert again == rs and again.checksum() == rs.checksum()
    changed = rules(BAND, {**AT_LEAST, "veto": True}, {**SRB, "weight": 21})
    assert changed.checksum() != rs.checksum()
    assert rs.indicators == ["rni", "accuracy_rate", "srb", "sexed_births", "srb_low", "srb_high"]


def test_rank_among_peers_ties_and_veto_last():
    rs = rules(BAND, {**AT_LEAST, "veto": True})
    vals = {
        "a": {"rni": 2, "accuracy_rate": 100},  # 70
        "b": {"rni": 9, "accuracy_rate": 100},  # 40
        "c": {"rni": 2, "accuracy_rate": 90},  # 30, vetoed
        "d": {"rni": 2, "accuracy_rate": 100},  # 70 (tie with a)
        "e": {"rni": 9, "accuracy_rate": 100},  # 40, other group
    }
    cards = [evaluate(rs, k, v) for k, v in vals.items()]
    groups = {"a": "T1", "b": "T1", "c": "T1", "d": "T1", "e": "T2"}
    st = rank(cards, groups, lagging_percent=25)
    assert [st[k].rank for k in "abcd"] == [1, 3, 4, 1]
    assert st["e"].rank == 1 and st["e"].peers == 1 and st["a"].peers == 4
    assert [st[k].lagging for k in "abcd"] == [False, False, True, False]


def test_vetoed_unit_ranks_below_a_lower_total():
    rs = rules({**BAND, "weight": 100}, {**AT_LEAST, "veto": True, "weight": 1})
    hi = evaluate(rs, "hi", {"rni": 2, "accuracy_rate": 50})  # 100 points, vetoed
    lo = evaluate(rs, "lo", {"rni": 9, "accuracy_rate": 100})  # 1 point
    st = rank([hi, lo], {"hi": "g", "lo": "g"})
    assert st["lo"].rank == 1 and st["hi"].rank == 2


@pytest.mark.parametrize(
    ("keys", "percent", "flags"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10, [False] * 9 + [True]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 15, [False] * 8 + [True, True]),  # ceil(1.5) = 2
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 9], 10, [False] * 8 + [True, True]),  # a tie is not split
        ([1, 2, 3], 0, [False, False, False]),
        ([1, 2, 3], 100, [True, True, True]),
        ([], 10, []),
    ],
)
def test_lagging_bottom_share(keys, percent, flags):
    assert lagging(keys, percent) == flags


def test_lagging_percent_out_of_range():
    with pytest.raises(RuleError):
        rank([], {}, lagging_percent=120)
