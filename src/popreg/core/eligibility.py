"""Benefit programmes as data and their vectorised evaluator (no Django, never ``eval``).

A **programme** is a JSON document (``popreg/benefits/programmes/*.json``)::

    {"code": "childcare_subsidy", "version": 1,
     "name": {"zh": "育儿补贴", "en": "Childcare subsidy"},
     "period": "month", "payee": "guardian",
     "parameters": {"max_age": {"unit": "years", "label": {...},
                    "values": [{"from": "2025-01-01", "value": 3, "reference": "..."}]}},
     "universe": {"fact": "birth_date", "op": ">", "value": {"date": "month_start", "add_years": -4}},
     "conditions": [
        {"id": "under_3", "label": {"zh": "...", "en": "..."},
         "fact": "age_years_on", "on": "month_start", "op": "<", "value": {"param": "max_age"}}],
     "amount": {"param": "amount_monthly"}}

The vocabulary (docs/benefits-rules.md lists it with examples):

* **Conditions** (each top-level one has an ``id`` and a Chinese and English ``label``):
  a comparison ``{"fact", "op", "value"}``; ``{"all": [...]}``, ``{"any": [...]}``,
  ``{"not": cond}``.  Operators: ``<  <=  >  >=  ==  !=`` (numbers, dates, text),
  ``in`` / ``not_in`` (``value`` a list), ``is_null`` / ``not_null`` (no ``value``).
  ``"missing": "passed" | "failed" | "unknown"`` (default ``unknown``) says what a
  comparison gives when the fact or the value is missing for a person.
* **Facts**: a column of the facts table by name, or the computed fact
  ``age_years_on`` (full years from ``birth`` (default ``birth_date``) to the date ``on``).
* **Values**: a literal (number, text, true/false, list), ``{"param": name}`` (the
  parameter's value in force on the first day of the month), ``{"fact": name}`` (another
  column), a date ``{"date": "month_start" | "month_end" | "YYYY-MM-DD"}`` with optional
  ``add_years`` / ``add_months`` / ``add_days``, ``{"max": [...]}`` / ``{"min": [...]}``
  of dates (a missing member is skipped).
* **Amount**: a number, ``{"param"}``, ``{"fact"}``, ``{"add": [...]}``, ``{"mul": [...]}``,
  ``{"case": [{"when": cond, "then": amount}, ...], "else": amount}``.

Outcomes are three-valued (Kleene): ``failed`` < ``unknown`` < ``passed``; ``all`` takes
the minimum, ``any`` the maximum, ``not`` swaps passed and failed.  A person is eligible
when every top-level condition passed.  ``universe`` (optional) picks the persons
considered: those for whom it did not fail.

Every array operation is numpy/pandas over whole columns, so a county of ten million rows
is one pass per condition.  The rules version is the SHA-256 of the document's canonical
JSON (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "FAILED", "UNKNOWN", "PASSED", "STATE_NAMES", "OPERATORS", "PAYEES", "PERIODS",
    "RuleError", "Label", "ParameterValue", "Parameter", "Condition", "Programme",
    "Evaluation", "parse_programme", "rules_version", "evaluate", "month_bounds", "period_bounds",
    "age_years_on",
]

FAILED, UNKNOWN, PASSED = 0, 1, 2
STATE_NAMES: dict[int, str] = {FAILED: "failed", UNKNOWN: "unknown", PASSED: "passed"}
_STATE_ZH = {FAILED: "不符合", UNKNOWN: "信息不全"}
OPERATORS = ("<", "<=", ">", ">=", "==", "!=", "in", "not_in", "is_null", "not_null")
PAYEES = ("person", "mother", "father", "guardian")
PERIODS = ("month", "year")
NAMED_DATES = ("month_start", "month_end")
COMPUTED_FACTS = ("age_years_on",)
#: Top-level conditions of a programme (their outcomes are packed into one integer per person).
MAX_CONDITIONS = 30

State = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]
_NAT = np.datetime64("NaT", "D")


class RuleError(ValueError):
    """A programme document that does not follow the vocabulary (names the place at fault)."""

    def __init__(self, where: str, zh: str, en: str) -> None:
        self.where, self.zh, self.en = where, zh, en
        super().__init__(f"{where}: {zh} / {en}")


@dataclass(frozen=True)
class Label:
    zh: str
    en: str

    def text(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class ParameterValue:
    start: date
    value: Any
    reference: str


@dataclass(frozen=True)
class Parameter:
    name: str
    label: Label
    unit: str
    values: tuple[ParameterValue, ...]

    def at(self, day: date) -> Any:
        """The value in force on ``day`` (the latest that started on or before it)."""
        found: ParameterValue | None = None
        for v in self.values:
            if v.start <= day:
                found = v
        if found is None:
            first = self.values[0].start.isoformat()
            raise RuleError(
                f"parameter {self.name}", f"{day.isoformat()} 时参数尚无取值（自 {first} 起）",
                f"no value on {day.isoformat()} (the first one starts {first})",
            )
        return found.value

    def reference_at(self, day: date) -> str:
        ref = ""
        for v in self.values:
            if v.start <= day:
                ref = v.reference
        return ref


@dataclass(frozen=True)
class Condition:
    id: str
    label: Label
    rule: Mapping[str, Any]


@dataclass(frozen=True)
class Programme:
    code: str
    version: int
    name: Label
    period: Literal["month", "year"]
    payee: Literal["person", "mother", "father", "guardian"]
    parameters: Mapping[str, Parameter]
    conditions: tuple[Condition, ...]
    amount: Any
    universe: Mapping[str, Any] | None
    document: Mapping[str, Any] = field(repr=False)

    @property
    def rules_version(self) -> str:
        return rules_version(self.document)

    def facts_used(self) -> set[str]:
        """Columns of the facts table the programme reads (besides ``person_id``)."""
        used: set[str] = set()
        _collect_facts(self.document.get("conditions", []), used)
        _collect_facts(self.document.get("universe"), used)
        _collect_facts(self.document.get("amount"), used)
        return used


def rules_version(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a programme document."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _collect_facts(node: Any, used: set[str]) -> None:
    if isinstance(node, Mapping):
        if "fact" in node:
            name = node["fact"]
            if name == "age_years_on":
                used.add(str(node.get("birth", "birth_date")))
            else:
                used.add(str(name))
        for v in node.values():
            _collect_facts(v, used)
    elif isinstance(node, list):
        for v in node:
            _collect_facts(v, used)


# --------------------------------------------------------------------------- parsing


def _label(where: str, raw: Any) -> Label:
    if not isinstance(raw, Mapping) or not raw.get("zh") or not raw.get("en"):
        raise RuleError(where, "需要中文和英文标签 label.zh、label.en", "needs label.zh and label.en")
    return Label(str(raw["zh"]), str(raw["en"]))


def _check_date_text(where: str, text: Any) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise RuleError(where, f"日期 {text!s} 应为 YYYY-MM-DD", f"date {text!s} must be YYYY-MM-DD") from None


def _check_value(where: str, node: Any, params: Mapping[str, Parameter]) -> None:
    if isinstance(node, (str, int, float, bool)) or node is None:
        return
    if isinstance(node, list):
        for i, v in enumerate(node):
            _check_value(f"{where}[{i}]", v, params)
        return
    if not isinstance(node, Mapping):
        raise RuleError(where, "无法识别的取值", "value not recognised")
    if "param" in node:
        if node["param"] not in params:
            raise RuleError(where, f"未定义的参数 {node['param']}", f"undefined parameter {node['param']}")
    elif "fact" in node:
        _check_fact(where, node)
    elif "date" in node:
        if node["date"] not in NAMED_DATES:
            _check_date_text(where, node["date"])
        for k in ("add_years", "add_months", "add_days"):
            if k in node and not isinstance(node[k], int):
                raise RuleError(where, f"{k} 应为整数", f"{k} must be an integer")
    elif "max" in node or "min" in node:
        members = node.get("max", node.get("min"))
        if not isinstance(members, list) or not members:
            raise RuleError(where, "max/min 需要非空列表", "max/min need a non-empty list")
        for i, v in enumerate(members):
            _check_value(f"{where}[{i}]", v, params)
    else:
        raise RuleError(where, "无法识别的取值", "value not recognised (param, fact, date, max, min)")


def _check_fact(where: str, node: Mapping[str, Any]) -> None:
    name = node["fact"]
    if not isinstance(name, str) or not name:
        raise RuleError(where, "fact 应为事实名", "fact must name a fact")
    if name == "age_years_on" and "on" not in node:
        raise RuleError(where, "age_years_on 需要 on（日期）", "age_years_on needs on (a date)")


def _check_condition(where: str, node: Any, params: Mapping[str, Parameter]) -> None:
    if not isinstance(node, Mapping):
        raise RuleError(where, "条件应为对象", "a condition must be an object")
    if "all" in node or "any" in node:
        members = node.get("all", node.get("any"))
        if not isinstance(members, list) or not members:
            raise RuleError(where, "all/any 需要非空列表", "all/any need a non-empty list")
        for i, m in enumerate(members):
            _check_condition(f"{where}[{i}]", m, params)
        return
    if "not" in node:
        _check_condition(f"{where}.not", node["not"], params)
        return
    if "fact" not in node or "op" not in node:
        raise RuleError(where, "比较需要 fact 和 op", "a comparison needs fact and op")
    _check_fact(where, node)
    if "on" in node:
        on = node["on"]
        _check_value(f"{where}.on", {"date": on} if isinstance(on, str) else on, params)
    op = node["op"]
    if op not in OPERATORS:
        raise RuleError(where, f"未知运算符 {op}", f"unknown operator {op} (one of {', '.join(OPERATORS)})")
    if op in ("is_null", "not_null"):
        return
    if "value" not in node:
        raise RuleError(where, f"运算符 {op} 需要 value", f"operator {op} needs a value")
    if op in ("in", "not_in") and not isinstance(node["value"], list):
        raise RuleError(where, f"{op} 的 value 应为列表", f"the value of {op} must be a list")
    _check_value(f"{where}.value", node["value"], params)
    if node.get("missing", "unknown") not in STATE_NAMES.values():
        raise RuleError(where, "missing 应为 passed、failed 或 unknown", "missing must be passed, failed or unknown")


def _check_amount(where: str, node: Any, params: Mapping[str, Parameter]) -> None:
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return
    if isinstance(node, Mapping):
        if "param" in node or "fact" in node:
            _check_value(where, node, params)
            return
        if "add" in node or "mul" in node:
            for i, m in enumerate(node.get("add", node.get("mul", []))):
                _check_amount(f"{where}[{i}]", m, params)
            return
        if "case" in node:
            for i, c in enumerate(node["case"]):
                _check_condition(f"{where}.case[{i}].when", c.get("when"), params)
                _check_amount(f"{where}.case[{i}].then", c.get("then"), params)
            _check_amount(f"{where}.else", node.get("else", 0), params)
            return
    raise RuleError(where, "无法识别的金额表达式", "amount expression not recognised")


def parse_programme(document: Mapping[str, Any]) -> Programme:
    """Check a programme document against the vocabulary and return it parsed."""
    code = document.get("code")
    if not isinstance(code, str) or not code:
        raise RuleError("programme", "缺少 code", "code missing")
    where = f"programme {code}"
    period = document.get("period")
    if period not in PERIODS:
        raise RuleError(where, "period 应为 month 或 year", "period must be month or year")
    payee = document.get("payee")
    if payee not in PAYEES:
        raise RuleError(where, f"payee 应为 {', '.join(PAYEES)} 之一", f"payee must be one of {', '.join(PAYEES)}")
    version = document.get("version")
    if not isinstance(version, int):
        raise RuleError(where, "version 应为整数", "version must be an integer")
    params: dict[str, Parameter] = {}
    for pname, raw in (document.get("parameters") or {}).items():
        pw = f"{where} parameter {pname}"
        values = []
        for i, v in enumerate(raw.get("values") or []):
            if "value" not in v or not v.get("reference"):
                raise RuleError(f"{pw}[{i}]", "每个取值需要 value 和法律依据 reference",
                                "every value needs value and a legal reference")
            values.append(ParameterValue(_check_date_text(f"{pw}[{i}]", v.get("from")), v["value"], str(v["reference"])))
        if not values:
            raise RuleError(pw, "参数没有取值", "the parameter has no values")
        values.sort(key=lambda v: v.start)
        params[pname] = Parameter(pname, _label(pw, raw.get("label")), str(raw.get("unit", "")), tuple(values))
    conditions = []
    seen: set[str] = set()
    for i, raw in enumerate(document.get("conditions") or []):
        cid = raw.get("id") if isinstance(raw, Mapping) else None
        cw = f"{where} condition {cid or i}"
        if not isinstance(cid, str) or not cid.isidentifier():
            raise RuleError(cw, "条件需要 id（字母、数字、下划线）", "a condition needs an id (letters, digits, _)")
        if cid in seen or cid in ("person_id", "payee_person_id", "eligible", "amount_yuan", "reasons"):
            raise RuleError(cw, "条件 id 重复或与输出列重名", "condition id repeated or equal to an output column")
        seen.add(cid)
        _check_condition(cw, raw, params)
        conditions.append(Condition(cid, _label(cw, raw.get("label")), raw))
    if not conditions:
        raise RuleError(where, "至少需要一个条件", "at least one condition is needed")
    if len(conditions) > MAX_CONDITIONS:
        raise RuleError(where, f"顶层条件最多 {MAX_CONDITIONS} 个（可用 all 合并）",
                        f"at most {MAX_CONDITIONS} top-level conditions (combine some with all)")
    universe = document.get("universe")
    if universe is not None:
        _check_condition(f"{where} universe", universe, params)
    if "amount" not in document:
        raise RuleError(where, "缺少金额 amount", "amount missing")
    _check_amount(f"{where} amount", document["amount"], params)
    return Programme(
        code=code, version=version, name=_label(where, document.get("name")),
        period=cast(Literal["month", "year"], period), payee=cast(Literal["person", "mother", "father", "guardian"], payee),
        parameters=params, conditions=tuple(conditions), amount=document["amount"],
        universe=universe, document=document,
    )


# --------------------------------------------------------------------------- dates


def month_bounds(month: date) -> tuple[date, date]:
    """First and last day of the month ``month`` falls in."""
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=1), month.replace(day=last)


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """First and last day of the period ``day`` falls in: its month, or for a yearly
    programme its calendar year (``month_start`` / ``month_end`` then name those days)."""
    if period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return month_bounds(day)


def _shift(day: date, years: int = 0, months: int = 0, days: int = 0) -> np.datetime64:
    total = day.year * 12 + (day.month - 1) + years * 12 + months
    y, m = divmod(total, 12)
    d = min(day.day, calendar.monthrange(y, m + 1)[1])
    return np.datetime64(date(y, m + 1, d), "D") + np.timedelta64(days, "D")


def _shift_array(arr: DateArray, years: int, months: int, days: int) -> DateArray:
    y, m, d = _ymd(arr)
    total = y * 12 + (m - 1) + years * 12 + months
    ny, nm = np.divmod(total, 12)
    first = (ny - 1970).astype("datetime64[Y]").astype("datetime64[M]") + nm.astype("timedelta64[M]")
    nxt = first + np.timedelta64(1, "M")
    month_len = (nxt.astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    out = first.astype("datetime64[D]") + (np.minimum(d, month_len) - 1).astype("timedelta64[D]") + np.timedelta64(days, "D")
    out[np.isnat(arr)] = _NAT
    return cast(DateArray, out)


def _ymd(arr: DateArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Year, month, day of each date (integer arithmetic on days since 1970: H. Hinnant's
    civil_from_days, much faster than numpy's calendar conversions); NaT gives 1970-01-01."""
    days = arr.astype("datetime64[D]").astype(np.int64)
    days = np.where(np.isnat(arr), 0, days)
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


def age_years_on(birth: DateArray, on: DateArray | np.datetime64) -> FloatArray:
    """Full years from ``birth`` to ``on`` (NaN where either is missing).

    A person born on 29 February is a year older on 1 March of a common year.
    """
    on_arr = np.asarray(on, dtype="datetime64[D]")
    if on_arr.ndim == 0:
        if np.isnat(on_arr):
            return np.full(birth.shape, np.nan)
        return _age_on_day(birth, on_arr.item())
    by, bm, bd = _ymd(birth)
    oy, om, od = _ymd(on_arr)
    age = (oy - by - ((om * 100 + od) < (bm * 100 + bd))).astype(np.float64)
    age[np.isnat(birth) | np.isnat(on_arr)] = np.nan
    return age


#: Ages are exact within this many years either side of the day they are taken on.
AGE_SPAN = 400


def _age_on_day(birth: DateArray, day: date) -> FloatArray:
    """Full years from ``birth`` to one ``day``.

    ``T[k]`` is ``day`` shifted back k years (29 February to 28 February); a person is at
    least k years old exactly when born on or before ``T[k]``.  The age estimated from the
    days between is off by at most one year, which one look-up either side corrects: a
    few integer operations per person instead of calendar arithmetic.
    """
    lo, hi = max(-AGE_SPAN, day.year - 9999), min(AGE_SPAN, day.year - 1)
    thresholds = np.array([_shift(day, years=-k) for k in range(lo, hi + 1)], dtype="datetime64[D]").view(np.int64)
    b = birth.astype("datetime64[D]", copy=False).view(np.int64)
    day_n = np.datetime64(day, "D").astype(np.int64)
    guess = np.clip(((day_n - b) * 400) // 146097, lo, hi)
    too_old = thresholds[guess - lo] < b
    guess = guess - too_old
    up = np.minimum(guess + 1, hi)
    guess = guess + ((guess < hi) & ~too_old & (thresholds[up - lo] >= b))
    age = guess.astype(np.float64)
    age[np.isnat(birth)] = np.nan
    return cast(FloatArray, age)


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Column:
    """A column as numpy values with a missing mask; ``kind`` is num, date, text or bool."""

    kind: str
    values: Any
    missing: BoolArray


@dataclass
class _Scalar:
    kind: str
    value: Any  # None when missing


@dataclass
class _Context:
    facts: pd.DataFrame
    month_start: date
    month_end: date
    params: Mapping[str, Parameter]
    cache: dict[str, _Column] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.facts)


def _column(ctx: _Context, name: str) -> _Column:
    if name in ctx.cache:
        return ctx.cache[name]
    if name not in ctx.facts.columns:
        raise RuleError(f"fact {name}", "事实表中没有该列", "the facts table has no such column")
    s = ctx.facts[name]
    col: _Column
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        cats = np.asarray(s.cat.categories, dtype=object)
        col = _Column("cat", (codes, cats), codes < 0)
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        arr = s.to_numpy().astype("datetime64[D]")
        col = _Column("date", arr, np.isnat(arr))
    elif pd.api.types.is_bool_dtype(s.dtype):
        missing = s.isna().to_numpy()
        col = _Column("num", s.astype("Float64").to_numpy(dtype="float64", na_value=np.nan), missing)
    elif pd.api.types.is_numeric_dtype(s.dtype):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        col = _Column("num", arr, np.isnan(arr))
    else:
        obj = s.to_numpy(dtype=object, na_value=None)
        missing = s.isna().to_numpy()
        if not missing.all() and isinstance(obj[~missing][0], date):
            arr = pd.to_datetime(s).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
            col = _Column("date", arr, np.isnat(arr))
        else:
            col = _Column("text", obj, missing)
    ctx.cache[name] = col
    return col


def _named_date(ctx: _Context, name: str) -> date:
    if name == "month_start":
        return ctx.month_start
    if name == "month_end":
        return ctx.month_end
    return date.fromisoformat(name)


def _value(ctx: _Context, node: Any) -> _Column | _Scalar:
    if node is None:
        return _Scalar("none", None)
    if isinstance(node, bool):
        return _Scalar("num", float(node))
    if isinstance(node, (int, float)):
        return _Scalar("num", float(node))
    if isinstance(node, str):
        return _Scalar("text", node)
    if isinstance(node, list):
        return _Scalar("list", [_value(ctx, v) for v in node])
    if "param" in node:
        param = ctx.params[node["param"]]
        value = param.at(ctx.month_start)
        if param.unit == "date" and isinstance(value, str):
            return _Scalar("date", np.datetime64(date.fromisoformat(value), "D"))
        return _value(ctx, value)
    if "fact" in node:
        col = _fact(ctx, node)
        shift = [node.get(k, 0) for k in ("add_years", "add_months", "add_days")]
        if any(shift):
            if col.kind != "date":
                raise RuleError(f"fact {node['fact']}", "只有日期可以加减", "only dates can be shifted")
            moved = _shift_array(col.values, *shift)
            return _Column("date", moved, np.isnat(moved))
        return col
    if "date" in node:
        base = _named_date(ctx, node["date"])
        return _Scalar("date", _shift(base, node.get("add_years", 0), node.get("add_months", 0), node.get("add_days", 0)))
    if "max" in node or "min" in node:
        members = [_value(ctx, v) for v in node.get("max", node.get("min", []))]
        arrays = [_as_date_array(ctx, m) for m in members]
        stacked = np.stack([a.astype(np.int64) for a in arrays])
        nat = np.stack([np.isnat(a) for a in arrays])
        big = np.iinfo(np.int64).max
        if "max" in node:
            red = np.where(nat, np.iinfo(np.int64).min + 1, stacked).max(axis=0)
        else:
            red = np.where(nat, big, stacked).min(axis=0)
        out = red.astype("datetime64[D]")
        out[nat.all(axis=0)] = _NAT
        return _Column("date", out, np.isnat(out))
    raise RuleError("value", "无法识别的取值", "value not recognised")


def _as_date_array(ctx: _Context, v: _Column | _Scalar) -> DateArray:
    if isinstance(v, _Column):
        if v.kind != "date":
            raise RuleError("max/min", "只能比较日期", "only dates can be compared here")
        return cast(DateArray, v.values)
    if v.kind != "date" or v.value is None:
        raise RuleError("max/min", "只能比较日期", "only dates can be compared here")
    return cast(DateArray, np.full(ctx.n, v.value, dtype="datetime64[D]"))


def _fact(ctx: _Context, node: Mapping[str, Any]) -> _Column:
    name = node["fact"]
    if name == "age_years_on":
        birth = _column(ctx, str(node.get("birth", "birth_date")))
        on_raw = node["on"]
        on = _value(ctx, {"date": on_raw} if isinstance(on_raw, str) else on_raw)
        on_values = on.values if isinstance(on, _Column) else on.value
        age = age_years_on(birth.values, on_values)
        return _Column("num", age, np.isnan(age))
    return _column(ctx, str(name))


_KIND_GROUP = {"num": "number", "date": "date", "text": "text", "cat": "text"}


def _check_kinds(name: str, col: _Column, v: _Column | _Scalar) -> None:
    kinds = {_KIND_GROUP.get(col.kind)}
    if isinstance(v, _Scalar) and v.kind == "list":
        kinds |= {_KIND_GROUP.get(m.kind) for m in v.value if isinstance(m, _Scalar) and m.value is not None}
    elif isinstance(v, _Column) or v.value is not None:
        kinds.add(_KIND_GROUP.get(v.kind))
    # text compared with text categories, numbers with numbers, dates with dates
    if len(kinds) > 1:
        raise RuleError(f"fact {name}", f"不能比较{'、'.join(sorted(str(k) for k in kinds))}",
                        f"cannot compare {' with '.join(sorted(str(k) for k in kinds))}")


def _compare(col: _Column, op: str, v: _Column | _Scalar) -> tuple[BoolArray, BoolArray]:
    """(result, missing) of ``col op v``."""
    missing = col.missing
    if op in ("in", "not_in"):
        assert isinstance(v, _Scalar)
        wanted = [m.value for m in v.value if isinstance(m, _Scalar)]
        if col.kind == "cat":
            codes, cats = col.values
            hit_cat = np.isin(cats, np.asarray(wanted, dtype=object)) if len(cats) else np.zeros(0, bool)
            res = np.where(codes >= 0, hit_cat[np.maximum(codes, 0)] if len(cats) else False, False)
        elif col.kind == "num":
            res = np.isin(col.values, np.asarray([float(w) for w in wanted]))
        else:
            res = pd.Series(col.values).isin(wanted).to_numpy()
        return (res if op == "in" else ~res), missing
    if isinstance(v, _Scalar):
        if v.value is None:
            return np.zeros(len(missing), bool), np.ones(len(missing), bool)
        if col.kind == "cat":
            codes, cats = col.values
            per_cat = _apply(op, cats, v.value) if len(cats) else np.zeros(0, bool)
            res = np.where(codes >= 0, per_cat[np.maximum(codes, 0)] if len(cats) else False, False)
            return res, missing
        if col.kind == "text":
            res = np.zeros(len(missing), bool)
            res[~missing] = _apply(op, col.values[~missing], v.value)
            return res, missing
        return _apply(op, col.values, v.value), missing
    other: Any = v.values
    left: Any
    if col.kind == "cat":
        codes, cats = col.values
        left = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else None, None)
    else:
        left = col.values
    if v.kind == "cat":
        codes, cats = v.values
        other = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else None, None)
    both = missing | v.missing
    if left.dtype == np.dtype(object) or np.asarray(other).dtype == np.dtype(object):
        res = np.zeros(len(both), bool)
        ok = ~both
        res[ok] = _apply(op, left[ok], other[ok])
        return res, both
    return _apply(op, left, other), both


def _apply(op: str, a: Any, b: Any) -> BoolArray:
    if op == "<":
        r = a < b
    elif op == "<=":
        r = a <= b
    elif op == ">":
        r = a > b
    elif op == ">=":
        r = a >= b
    elif op == "==":
        r = a == b
    elif op == "!=":
        r = a != b
    else:  # pragma: no cover - checked by parse_programme
        raise RuleError("op", f"未知运算符 {op}", f"unknown operator {op}")
    return np.asarray(r, dtype=bool)


_MISSING_STATE = {"passed": PASSED, "failed": FAILED, "unknown": UNKNOWN}


def _condition(ctx: _Context, node: Mapping[str, Any]) -> State:
    if "all" in node:
        parts = [_condition(ctx, m) for m in node["all"]]
        return cast(State, np.minimum.reduce(parts))
    if "any" in node:
        parts = [_condition(ctx, m) for m in node["any"]]
        return cast(State, np.maximum.reduce(parts))
    if "not" in node:
        return cast(State, (PASSED - _condition(ctx, node["not"])).astype(np.int8))
    col = _fact(ctx, node)
    op = node["op"]
    if op in ("is_null", "not_null"):
        hit = col.missing if op == "is_null" else ~col.missing
        return np.where(hit, PASSED, FAILED).astype(np.int8)
    v = _value(ctx, node["value"])
    _check_kinds(str(node["fact"]), col, v)
    res, missing = _compare(col, op, v)
    out = np.where(res, PASSED, FAILED).astype(np.int8)
    out[missing] = _MISSING_STATE[node.get("missing", "unknown")]
    return out


def _amount(ctx: _Context, node: Any) -> FloatArray:
    if isinstance(node, (int, float)):
        return np.full(ctx.n, float(node))
    if "param" in node:
        return np.full(ctx.n, float(ctx.params[node["param"]].at(ctx.month_start)))
    if "fact" in node:
        col = _fact(ctx, node)
        return np.where(col.missing, np.nan, col.values).astype(np.float64)
    if "add" in node:
        return cast(FloatArray, np.sum([_amount(ctx, m) for m in node["add"]], axis=0))
    if "mul" in node:
        return cast(FloatArray, np.prod([_amount(ctx, m) for m in node["mul"]], axis=0))
    out = _amount(ctx, node.get("else", 0))
    decided = np.zeros(ctx.n, bool)
    for c in node["case"]:
        state = _condition(ctx, c["when"])
        take = (state == PASSED) & ~decided
        if take.any():
            out = np.where(take, _amount(ctx, c["then"]), out)
        unknown = (state == UNKNOWN) & ~decided
        out[unknown] = np.nan
        decided |= take | unknown
    return out


@dataclass
class Evaluation:
    """Outcome of one programme over the considered rows of a facts table."""

    programme: Programme
    month: date
    rows: npt.NDArray[np.int64]          # positions in the facts table of the persons considered
    states: dict[str, State]              # per condition id: FAILED / UNKNOWN / PASSED
    eligible: BoolArray
    amount: FloatArray                    # yuan; 0 where not eligible
    reasons: pd.Categorical
    parameters: dict[str, Any]            # values in force for the month

    def frame(self, facts: pd.DataFrame) -> pd.DataFrame:
        """person_id, payee_person_id, eligible, amount_yuan, reasons and one column per condition."""
        sub = facts[[c for c in ("person_id", "mother_id", "father_id") if c in facts.columns]].iloc[self.rows]
        out = pd.DataFrame({"person_id": sub["person_id"].to_numpy()})
        out["payee_person_id"] = _payee(self.programme.payee, sub)
        out["eligible"] = self.eligible
        out["amount_yuan"] = self.amount
        out["reasons"] = self.reasons
        names = np.array(["failed", "unknown", "passed"], dtype=object)
        for cid, state in self.states.items():
            out[cid] = pd.Categorical.from_codes(state.astype(np.int8), categories=list(names))
        return out


def _payee(payee: str, facts: pd.DataFrame) -> pd.Series:
    person = facts["person_id"].astype("Int64").reset_index(drop=True)
    if payee == "person":
        return person
    mother = facts["mother_id"].astype("Int64").reset_index(drop=True) if "mother_id" in facts else pd.Series(pd.NA, index=person.index, dtype="Int64")
    father = facts["father_id"].astype("Int64").reset_index(drop=True) if "father_id" in facts else pd.Series(pd.NA, index=person.index, dtype="Int64")
    if payee == "mother":
        return mother
    if payee == "father":
        return father
    return mother.fillna(father)


def _reasons(programme: Programme, states: Sequence[State], eligible: BoolArray, amount_unknown: BoolArray) -> pd.Categorical:
    n = len(eligible)
    code = np.zeros(n, dtype=np.int64)
    for s in states:
        code = code * 3 + s.astype(np.int64)
    code = code * 2 + amount_unknown.astype(np.int64)
    top = int(code.max()) + 1 if n else 1
    if top <= 4 * n + 1_000_000:
        present = np.bincount(code, minlength=top) > 0
        uniq = np.flatnonzero(present)
        lookup = np.zeros(top, dtype=np.int64)
        lookup[uniq] = np.arange(len(uniq))
        inverse = lookup[code]
    else:
        uniq, inverse = np.unique(code, return_inverse=True)
    texts: list[str] = []
    for u in uniq.tolist():
        amount_missing = bool(u % 2)
        u //= 2
        per: list[int] = []
        for _ in states:
            per.append(u % 3)
            u //= 3
        per.reverse()
        parts = [
            f"{c.label.zh}：{_STATE_ZH[s]} / {c.label.en}: {STATE_NAMES[s]}"
            for c, s in zip(programme.conditions, per, strict=True) if s != PASSED
        ]
        if amount_missing and not parts:
            parts.append("金额无法确定 / amount unknown")
        texts.append("; ".join(parts) if parts else "符合全部条件 / all conditions passed")
    categories: list[str] = []
    index: dict[str, int] = {}
    mapping = np.empty(len(texts), dtype=np.int32)
    for i, t in enumerate(texts):
        mapping[i] = index.setdefault(t, len(categories))
        if mapping[i] == len(categories):
            categories.append(t)
    return pd.Categorical.from_codes(mapping[inverse.reshape(-1)], categories=categories)


def evaluate(programme: Programme, facts: pd.DataFrame, month: date) -> Evaluation:
    """Evaluate ``programme`` for the period of ``month`` (the month, or the year for a
    yearly programme) over every row of ``facts``."""
    start, end = period_bounds(programme.period, month)
    ctx = _Context(facts=facts, month_start=start, month_end=end, params=programme.parameters)
    if programme.universe is not None:
        considered = _condition(ctx, programme.universe) != FAILED
        rows = np.flatnonzero(considered)
        if len(rows) < len(facts):
            wanted = programme.facts_used()
            used = [c for c in facts.columns if c in wanted]
            ctx = _Context(facts=facts[used].iloc[rows].reset_index(drop=True), month_start=start,
                           month_end=end, params=programme.parameters)
    else:
        rows = np.arange(len(facts))
    states = {c.id: _condition(ctx, c.rule) for c in programme.conditions}
    passed = np.ones(ctx.n, bool)
    for s in states.values():
        passed &= s == PASSED
    amount = _amount(ctx, programme.amount) if ctx.n else np.zeros(0)
    amount_unknown = passed & np.isnan(amount)
    eligible = passed & ~amount_unknown
    amount = np.where(eligible, amount, 0.0)
    reasons = _reasons(programme, list(states.values()), eligible, amount_unknown)
    params = {name: p.at(start) for name, p in programme.parameters.items()}
    return Evaluation(programme, start, rows.astype(np.int64), states, eligible, amount, reasons, params)
