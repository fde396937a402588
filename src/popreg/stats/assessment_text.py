"""Assessment rules and scorecards in words, for the pages (Chinese and English).

Every rule result is explained from the scorecard columns (:func:`popreg.stats.assessment.
rule_columns`): the value, the target written as a band ("103–107") or a threshold
("≥ 100"), whether it was met and why, and whether the rule is a veto rule.  A rule judged
by its interval because there were too few events (the sex ratio at birth of a village
with a handful of births) says so, with the count and the interval: an SRB of 150 from 25
births passes because its 95 % range (about 69–327) includes 103–107, and the page says
exactly that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from popreg.core.rules import Rule, RuleSet

#: Indicators offered in the rules form, with their names on the pages.
INDICATOR_LABELS: dict[str, Any] = {
    "rni": gettext_lazy("Rate of natural increase (‰)"),
    "cbr": gettext_lazy("Crude birth rate (‰)"),
    "cdr": gettext_lazy("Crude death rate (‰)"),
    "srb": gettext_lazy("Sex ratio at birth (boys per 100 girls)"),
    "tfr": gettext_lazy("Total fertility rate"),
    "accuracy_rate": gettext_lazy("Accuracy of registration (%)"),
    "births": gettext_lazy("Births"),
    "deaths": gettext_lazy("Deaths"),
    "sexed_births": gettext_lazy("Births of known sex"),
    "population_end": gettext_lazy("Population at year end"),
    "average_population": gettext_lazy("Average population"),
    "in_migration": gettext_lazy("Moves in"),
    "out_migration": gettext_lazy("Moves out"),
    "total_dependency_ratio": gettext_lazy("Total dependency ratio (%)"),
}

COMPARISON_LABELS: dict[str, Any] = {
    "band": gettext_lazy("within a band (lower and upper bound)"),
    "at_least": gettext_lazy("at least a threshold"),
    "at_most": gettext_lazy("at most a threshold"),
}

MISSING_LABELS: dict[str, Any] = {
    "fail": gettext_lazy("not met"),
    "pass": gettext_lazy("met"),
    "skip": gettext_lazy("not scored (weight left out)"),
}


def indicator_label(indicator: str, fallback: str = "") -> str:
    """The indicator's name in the active language (the rule's own label when unknown)."""
    if indicator in INDICATOR_LABELS:
        return str(INDICATOR_LABELS[indicator])
    return fallback or indicator


def rule_name(rule: Rule) -> str:
    return indicator_label(rule.indicator, rule.label)


def number(v: Any) -> str:
    """A number as people write it: at most two decimals, no trailing zeros, a real minus."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    text = f"{float(v):,.2f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", "−")


def bounds_text(low: Any, high: Any) -> str:
    """A band as "103–107", a one-sided target as "≥ 100" or "≤ 0"; "—" without bounds."""
    has_low = low is not None and not (isinstance(low, float) and math.isnan(low))
    has_high = high is not None and not (isinstance(high, float) and math.isnan(high))
    if has_low and has_high:
        return f"{number(low)}–{number(high)}"
    if has_low:
        return f"≥ {number(low)}"
    if has_high:
        return f"≤ {number(high)}"
    return "—"


def rule_summary(rule: Rule) -> str:
    """One rule in words: name, target, points, veto, and the few-events rule if any."""
    if rule.comparison == "band":
        target = bounds_text(rule.low, rule.high)
    elif rule.comparison == "at_least":
        target = bounds_text(rule.threshold, None)
    else:
        target = bounds_text(None, rule.threshold)
    args = {"name": rule_name(rule), "target": target, "weight": number(rule.weight)}
    text = _("%(name)s: target %(target)s, %(weight)s points") % args
    if rule.veto:
        text += _(", veto rule (failing it vetoes the whole scorecard)")
    if rule.few_events is not None:
        text += _(", judged by its 95%% range when %(count)s are fewer than %(min)s") % {
            "count": indicator_label(rule.few_events.count).lower(), "min": number(rule.few_events.min)}
    return text


def _is_none(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or str(v) in ("<NA>", "nan")


def explain(rule: Rule, row: Mapping[str, Any]) -> dict[str, Any]:
    """One rule's result for one unit (a scorecard row): outcome, target and why, in words."""
    rid = rule.id

    def get(suffix: str) -> Any:
        v = row.get(f"{rid}_{suffix}")
        return None if _is_none(v) else v

    value, low, high = get("value"), get("low"), get("high")
    outcome = get("outcome") or "skip"
    points = get("points") or 0.0
    basis = get("basis") or ("missing" if value is None else "value")
    target = bounds_text(low, high)
    args = {"value": number(value), "target": target, "points": number(points), "weight": number(rule.weight)}
    if basis == "interval" and rule.few_events is not None:
        args.update(count=number(get("count")), min=number(rule.few_events.min),
                    count_name=indicator_label(rule.few_events.count),
                    range=bounds_text(get("interval_low"), get("interval_high")))  # fmt: skip
        if get("interval_high") is None and get("interval_low") is not None:
            args["range"] = f"{number(get('interval_low'))}–∞"
        if outcome == "pass" and value is None:
            why = _("Only %(count)s (%(count_name)s), fewer than %(min)s: too few to judge, and no value can be "
                    "computed yet. Its 95%% range %(range)s includes part of the target %(target)s, so the gap may "
                    "be chance: met, %(points)s of %(weight)s points.") % args
        elif outcome == "pass":
            why = _("Only %(count)s (%(count_name)s), fewer than %(min)s: too few to judge the value %(value)s "
                    "itself. Its 95%% range %(range)s includes part of the target %(target)s, so the gap may be "
                    "chance: met, %(points)s of %(weight)s points.") % args
        else:
            why = _("Only %(count)s (%(count_name)s), fewer than %(min)s, so the value %(value)s is judged by "
                    "its 95%% range %(range)s; even that range lies outside the target %(target)s: not met, "
                    "0 of %(weight)s points.") % args
    elif basis == "missing":
        if outcome == "pass":
            why = _("No value (nothing to measure, e.g. no births): the rule counts this as met, "
                    "%(points)s of %(weight)s points.") % args
        elif outcome == "fail":
            why = _("No value (nothing to measure): the rule counts this as not met, 0 of %(weight)s points.") % args
        else:
            why = _("No value (nothing to measure): not scored; its %(weight)s points are left out of the "
                    "maximum.") % args
    elif outcome == "pass":
        why = _("%(value)s is within the target %(target)s: met, %(points)s of %(weight)s points.") % args
    elif low is not None and value is not None and float(value) < float(low):
        args["bound"] = number(low)
        why = _("%(value)s is below the lower bound %(bound)s of the target %(target)s: not met, "
                "0 of %(weight)s points.") % args
    else:
        args["bound"] = number(high)
        why = _("%(value)s is above the upper bound %(bound)s of the target %(target)s: not met, "
                "0 of %(weight)s points.") % args
    if rule.veto and outcome == "fail":
        why += " " + _("This is a veto rule: failing it vetoes the whole scorecard.")
    elif rule.veto:
        why += " " + _("Veto rule.")
    verdict = {"pass": _("met"), "fail": _("not met")}.get(outcome, _("not scored"))
    return {"id": rid, "name": rule_name(rule), "value": number(value), "target": target, "outcome": outcome,
            "verdict": verdict, "points": number(points), "weight": number(rule.weight), "veto": rule.veto,
            "why": why}  # fmt: skip


def explain_row(rule_set: RuleSet, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [explain(rule, row) for rule in rule_set.rules]


def veto_names(rule_set: RuleSet, veto_rules: Any) -> str:
    """The failed veto rules of a scorecard by name ("Accuracy of registration (%)")."""
    ids = [i for i in str(veto_rules or "").split(";") if i]
    by_id = {r.id: r for r in rule_set.rules}
    return _("、").join(rule_name(by_id[i]) if i in by_id else i for i in ids)
