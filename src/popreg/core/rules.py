"""Scoring rules for the yearly assessment (考核): rules as data, one evaluator.

A **rule set** is a versioned JSON document (or the same rows from a table)::

    {"name": "年度目标责任考核", "version": 3, "rules": [
      {"id": "rni", "indicator": "rni", "comparison": "band", "low": -1, "high": 6,
       "weight": 30, "label": "自然增长率"},
      {"id": "accuracy", "indicator": "accuracy_rate", "comparison": "at_least",
       "threshold": 100, "weight": 40, "veto": true, "label": "统计求实率"},
      {"id": "srb", "indicator": "srb", "comparison": "band", "low": 103, "high": 107,
       "weight": 30, "missing": "pass",
       "few_events": {"count": "sexed_births", "min": 1000,
                      "low": "srb_low", "high": "srb_high"}}
    ]}

Comparisons (edges included):

==============  ==========================================================
``at_least``    value ≥ threshold
``at_most``     value ≤ threshold
``band``        low ≤ value ≤ high
==============  ==========================================================

A unit's yearly **target** (:class:`Target`, per indicator: ``low`` and/or ``high``)
replaces the rule's own bounds for that unit: ``at_least`` takes the target's ``low``,
``at_most`` its ``high``, ``band`` both (a missing side keeps the rule's).

``few_events``: when the count named by ``count`` is below ``min`` the point value is not
judged; the rule passes when the interval [value of ``low``, value of ``high``] overlaps
the band (a missing upper end is unbounded).  This is how the sex ratio at birth of a
village with a handful of births is judged.

``missing`` says what a rule does when the indicator has no value (a rate over an empty
population, an SRB without births): ``fail`` (default), ``pass``, or ``skip`` (the rule
is left out and its weight is not counted in ``max_points``).

A passing rule earns its ``weight`` in points; a failing one earns 0.  A failing rule
with ``veto: true`` (一票否决) marks the whole scorecard as vetoed whatever the points.

Ranking (:func:`rank`) is among peers (same level and parent): non-vetoed units first,
then by total points, highest first; equal (vetoed, total) share a rank ("1, 2, 2, 4").
The lagging list (后进, :func:`lagging`) is the last ``ceil(n × percent / 100)`` units of
each peer group in that order, plus every unit tied with one of them, so a tie is never
split arbitrarily.

Everything is plain Python with no Django import; errors are :class:`RuleError` with a
Chinese and an English message naming the rule and field at fault.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "COMPARISONS",
    "MISSING_POLICIES",
    "FewEvents",
    "Rule",
    "RuleError",
    "RuleResult",
    "RuleSet",
    "Scorecard",
    "Standing",
    "Target",
    "evaluate",
    "lagging",
    "parse_rule_set",
    "rank",
]

Comparison = Literal["at_least", "at_most", "band"]
Missing = Literal["fail", "pass", "skip"]
COMPARISONS: tuple[str, ...] = ("at_least", "at_most", "band")
MISSING_POLICIES: tuple[str, ...] = ("fail", "pass", "skip")


class RuleError(ValueError):
    """A rule set or target that cannot be used; Chinese first, then English."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class FewEvents:
    """Judge by an interval instead of the point value when a count is small."""

    count: str
    min: float
    low: str
    high: str


@dataclass(frozen=True)
class Rule:
    id: str
    indicator: str
    comparison: Comparison
    weight: float
    threshold: float | None = None
    low: float | None = None
    high: float | None = None
    veto: bool = False
    missing: Missing = "fail"
    label: str = ""
    few_events: FewEvents | None = None

    def bounds(self, target: Target | None = None) -> tuple[float | None, float | None]:
        """(low, high) of the acceptable range for a unit with ``target``."""
        if self.comparison == "at_least":
            lo, hi = self.threshold, None
            if target is not None and target.low is not None:
                lo = target.low
        elif self.comparison == "at_most":
            lo, hi = None, self.threshold
            if target is not None and target.high is not None:
                hi = target.high
        else:
            lo, hi = self.low, self.high
            if target is not None:
                lo = target.low if target.low is not None else lo
                hi = target.high if target.high is not None else hi
        return lo, hi


@dataclass(frozen=True)
class RuleSet:
    name: str
    version: int
    rules: tuple[Rule, ...]

    def as_dict(self) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        for r in self.rules:
            d: dict[str, Any] = {
                "id": r.id, "indicator": r.indicator, "comparison": r.comparison,
                "weight": r.weight, "veto": r.veto, "missing": r.missing,
            }  # fmt: skip
            if r.label:
                d["label"] = r.label
            if r.comparison == "band":
                d["low"], d["high"] = r.low, r.high
            else:
                d["threshold"] = r.threshold
            if r.few_events is not None:
                fe = r.few_events
                d["few_events"] = {"count": fe.count, "min": fe.min, "low": fe.low, "high": fe.high}
            rules.append(d)
        return {"name": self.name, "version": self.version, "rules": rules}

    def checksum(self) -> str:
        """SHA-256 of the canonical JSON: identifies exactly which rules gave a score."""
        text = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def indicators(self) -> list[str]:
        """Every value a unit needs for these rules (indicators and few-event helpers)."""
        out: list[str] = []
        for r in self.rules:
            names = [r.indicator]
            if r.few_events is not None:
                names += [r.few_events.count, r.few_events.low, r.few_events.high]
            out += [n for n in names if n not in out]
        return out


@dataclass(frozen=True)
class Target:
    """A unit's yearly target for one indicator (目标责任书): bounds replacing the rule's."""

    low: float | None = None
    high: float | None = None


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


def _number(value: Any, where_zh: str, where_en: str, *, required: bool) -> float | None:
    if value is None or value == "":
        if required:
            raise RuleError(f"{where_zh}不能为空", f"{where_en} is required")
        return None
    if isinstance(value, bool):
        raise RuleError(f"{where_zh}应为数字，收到 {value!r}", f"{where_en} must be a number, got {value!r}")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise RuleError(
            f"{where_zh}应为数字，收到 {value!r}", f"{where_en} must be a number, got {value!r}"
        ) from None
    if math.isnan(num) or math.isinf(num):
        raise RuleError(f"{where_zh}应为有限数字", f"{where_en} must be a finite number")
    return num


def _text(value: Any, where_zh: str, where_en: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where_zh}不能为空", f"{where_en} is required (text)")
    return value.strip()


def _bool(value: Any, where_zh: str, where_en: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", 0, "0", "false", "False", "否", "no"):
        return False
    if value in (1, "1", "true", "True", "是", "yes"):
        return True
    raise RuleError(
        f"{where_zh}应为 true/false（是/否），收到 {value!r}",
        f"{where_en} must be true or false, got {value!r}",
    )


def _parse_rule(raw: Any, n: int) -> Rule:
    zh, en = f"第 {n} 条规则", f"rule {n}"
    if not isinstance(raw, Mapping):
        raise RuleError(f"{zh}应为一个对象", f"{en} must be an object")
    rid = _text(raw.get("id", raw.get("indicator")), f"{zh}的 id", f"{en}: id")
    zh, en = f"规则 {rid}", f"rule {rid}"
    indicator = _text(raw.get("indicator"), f"{zh}的指标 indicator", f"{en}: indicator")
    comparison = raw.get("comparison")
    if comparison not in COMPARISONS:
        raise RuleError(
            f"{zh}的比较方式 comparison 只能是 at_least（不低于）、at_most（不高于）或 band（区间），收到 {comparison!r}",
            f"{en}: comparison must be at_least, at_most or band, got {comparison!r}",
        )
    weight = _number(raw.get("weight"), f"{zh}的分值 weight", f"{en}: weight", required=True)
    assert weight is not None
    if weight < 0:
        raise RuleError(f"{zh}的分值 weight 不能为负", f"{en}: weight cannot be negative")
    missing: Missing = raw.get("missing", "fail") or "fail"
    if missing not in MISSING_POLICIES:
        raise RuleError(
            f"{zh}的缺值处理 missing 只能是 fail、pass 或 skip，收到 {missing!r}",
            f"{en}: missing must be fail, pass or skip, got {missing!r}",
        )
    threshold = low = high = None
    if comparison == "band":
        low = _number(raw.get("low"), f"{zh}的下限 low", f"{en}: low", required=False)
        high = _number(raw.get("high"), f"{zh}的上限 high", f"{en}: high", required=False)
        if low is None and high is None:
            raise RuleError(f"{zh}是区间比较，至少要填下限 low 或上限 high", f"{en}: a band needs low or high")
        if low is not None and high is not None and low > high:
            raise RuleError(
                f"{zh}的下限 {low:g} 大于上限 {high:g}，请对调", f"{en}: low {low:g} is above high {high:g}; swap them"
            )
    else:
        threshold = _number(raw.get("threshold"), f"{zh}的阈值 threshold", f"{en}: threshold", required=True)
    few: FewEvents | None = None
    fe = raw.get("few_events")
    if fe:
        if comparison != "band" or not isinstance(fe, Mapping):
            raise RuleError(
                f"{zh}：few_events 只用于区间比较，应写成 {{count, min, low, high}}",
                f"{en}: few_events applies to band rules and needs count, min, low, high",
            )
        few_min = _number(fe.get("min"), f"{zh}的 few_events.min", f"{en}: few_events.min", required=True)
        assert few_min is not None
        few = FewEvents(
            count=_text(fe.get("count"), f"{zh}的 few_events.count", f"{en}: few_events.count"),
            min=few_min,
            low=_text(fe.get("low"), f"{zh}的 few_events.low", f"{en}: few_events.low"),
            high=_text(fe.get("high"), f"{zh}的 few_events.high", f"{en}: few_events.high"),
        )
    return Rule(
        id=rid, indicator=indicator, comparison=comparison, weight=weight,
        threshold=threshold, low=low, high=high,
        veto=_bool(raw.get("veto", False), f"{zh}的一票否决 veto", f"{en}: veto"),
        missing=missing, label=str(raw.get("label", "") or ""), few_events=few,
    )  # fmt: skip


def parse_rule_set(data: Mapping[str, Any] | str) -> RuleSet:
    """A :class:`RuleSet` from its JSON text or the parsed object; :class:`RuleError` if bad."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise RuleError(
                f"规则文件不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}",
                f"the rule file is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
            ) from None
    if not isinstance(data, Mapping):
        raise RuleError("规则文件应为一个对象 {name, version, rules}", "the rule file must be an object {name, version, rules}")
    name = _text(data.get("name"), "规则集名称 name", "rule set name")
    version_raw = data.get("version")
    if isinstance(version_raw, bool) or not isinstance(version_raw, int) or version_raw < 1:
        raise RuleError(
            f"规则集版本 version 应为正整数，收到 {version_raw!r}",
            f"rule set version must be a positive integer, got {version_raw!r}",
        )
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleError("规则集至少要有一条规则 rules", "a rule set needs a non-empty list of rules")
    rules = tuple(_parse_rule(r, i) for i, r in enumerate(raw_rules, start=1))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RuleError(f"规则 id {r.id} 重复，请改为不同的 id", f"rule id {r.id} is used twice; make ids unique")
        seen.add(r.id)
    return RuleSet(name=name, version=version_raw, rules=rules)


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    indicator: str
    value: float | None
    low: float | None
    high: float | None
    #: "pass", "fail" or "skip" (missing value, rule left out)
    outcome: str
    points: float
    weight: float
    veto: bool
    #: how it was judged: "value", "interval" (few events), "missing"
    basis: str

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass(frozen=True)
class Scorecard:
    unit_code: str
    results: tuple[RuleResult, ...]
    total: float
    max_points: float
    vetoed: bool
    veto_rules: tuple[str, ...] = field(default=())

    @property
    def percent(self) -> float | None:
        return None if self.max_points <= 0 else self.total / self.max_points * 100


def _value(values: Mapping[str, float | None], name: str) -> float | None:
    v = values.get(name)
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    f = float(v)
    return None if math.isnan(f) else f


def _within(v: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _judge(
    rule: Rule, values: Mapping[str, float | None], lo: float | None, hi: float | None
) -> tuple[str, str, float | None]:
    value = _value(values, rule.indicator)
    fe = rule.few_events
    if fe is not None:
        count = _value(values, fe.count)
        if count is not None and count < fe.min:
            ilo, ihi = _value(values, fe.low), _value(values, fe.high)
            if value is None and ilo is None:
                return rule.missing, "missing", value
            # the interval [ilo, ihi] (ihi None = unbounded) overlaps [lo, hi]
            overlaps = (ihi is None or lo is None or ihi >= lo) and (
                ilo is None or hi is None or ilo <= hi
            )
            return ("pass" if overlaps else "fail"), "interval", value
    if value is None:
        return rule.missing, "missing", None
    return ("pass" if _within(value, lo, hi) else "fail"), "value", value


def evaluate(
    rule_set: RuleSet,
    unit_code: str,
    values: Mapping[str, float | None],
    targets: Mapping[str, Target] | None = None,
) -> Scorecard:
    """The scorecard of one unit: ``values`` by indicator name, ``targets`` by indicator."""
    results: list[RuleResult] = []
    for rule in rule_set.rules:
        lo, hi = rule.bounds((targets or {}).get(rule.indicator))
        outcome, basis, value = _judge(rule, values, lo, hi)
        points = rule.weight if outcome == "pass" else 0.0
        results.append(RuleResult(
            rule_id=rule.id, indicator=rule.indicator, value=value, low=lo, high=hi,
            outcome=outcome, points=points, weight=rule.weight, veto=rule.veto, basis=basis,
        ))  # fmt: skip
    counted = [r for r in results if r.outcome != "skip"]
    veto_rules = tuple(r.rule_id for r in results if r.veto and r.outcome == "fail")
    return Scorecard(
        unit_code=unit_code,
        results=tuple(results),
        total=sum(r.points for r in counted),
        max_points=sum(r.weight for r in counted),
        vetoed=bool(veto_rules),
        veto_rules=veto_rules,
    )


# ---------------------------------------------------------------------------------------
# Ranking and the lagging list
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    unit_code: str
    group: str
    rank: int
    peers: int
    lagging: bool


def _key(card: Scorecard) -> tuple[bool, float]:
    # Totals are sums of weights; round so that float noise never splits a tie.
    return card.vetoed, -round(card.total, 9)


def rank(cards: Iterable[Scorecard], group_of: Mapping[str, str], lagging_percent: float = 10.0) -> dict[str, Standing]:
    """Rank of every scorecard among the cards of its group (``group_of[unit_code]``)."""
    if not 0 <= lagging_percent <= 100:
        raise RuleError(
            f"后进比例应在 0 到 100 之间，收到 {lagging_percent:g}",
            f"the lagging percentage must be between 0 and 100, got {lagging_percent:g}",
        )
    groups: dict[str, list[Scorecard]] = {}
    for c in cards:
        groups.setdefault(group_of.get(c.unit_code, ""), []).append(c)
    out: dict[str, Standing] = {}
    for group, members in groups.items():
        ordered = sorted(members, key=lambda c: (*_key(c), c.unit_code))
        ranks: list[int] = []
        for i, c in enumerate(ordered):
            ranks.append(ranks[-1] if i and _key(ordered[i - 1]) == _key(c) else i + 1)
        lag = lagging([_key(c) for c in ordered], lagging_percent)
        for c, r, is_lag in zip(ordered, ranks, lag, strict=True):
            out[c.unit_code] = Standing(c.unit_code, group, r, len(ordered), is_lag)
    return out


def lagging(ordered_keys: Sequence[Any], percent: float) -> list[bool]:
    """Flags for the bottom ``ceil(n × percent / 100)`` of an ordered list, ties included."""
    n = len(ordered_keys)
    k = math.ceil(n * percent / 100 - 1e-9) if n else 0
    flags = [i >= n - k for i in range(n)]
    if k:
        cut = ordered_keys[n - k]
        for i in range(n - k):
            if ordered_keys[i] == cut:
                flags[i] = True
    return flags
