"""Entitlements over time: stops, arrears and overpayments (plain functions, no Django).

Months are the first day of the month (``date(2025, 3, 1)`` is March 2025); amounts are
yuan.  The inputs are small tables (pandas DataFrames):

``decisions``
    ``person_id``, ``month``, ``eligible`` (bool), ``amount_yuan``: what the rules say a
    person is due for a month (one row per person and month evaluated).
``payments``
    ``person_id``, ``month``, ``amount_yuan``: what was paid (several lines of one person
    and month are added up).
``events``
    ``person_id``, ``kind`` (``death``, ``emigration``, ``deregistration`` or
    ``condition_lost``), ``event_date`` and optionally ``recorded_date``: what ends a right.

Rules:

* **Stop**: an event ends the entitlement from the month after the month of the event
  (:func:`stop_month`: a death on 10 March stops it from 1 April; March is still due).
  Several events: the earliest stop counts.
* **Overpayment**: a month paid (more) than due, e.g. a death registered late after the
  months following it were paid; the difference is listed for recovery.
* **Arrears**: a month due but not (fully) paid, e.g. a birth registered late that opens
  the right for months already past; the difference is paid late.

:func:`apply_stops` turns decisions into entitlements with the stops applied;
:func:`reconcile` compares them with the payments month by month; :func:`compare_due_paid`
is the same comparison for a single month.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

__all__ = [
    "STOP_KINDS", "OVERPAYMENT", "ARREARS", "stop_month", "first_of_month", "months_between",
    "stop_months", "apply_stops", "reconcile", "compare_due_paid", "totals",
]

STOP_KINDS = ("death", "emigration", "deregistration", "condition_lost")
OVERPAYMENT = "overpayment"
ARREARS = "arrears"
_CENTS = 100


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def stop_month(event_date: date) -> date:
    """The first month no longer due after an event on ``event_date`` (the month after)."""
    if event_date.month == 12:
        return date(event_date.year + 1, 1, 1)
    return date(event_date.year, event_date.month + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, both included."""
    out: list[date] = []
    m = first_of_month(first)
    end = first_of_month(last)
    while m <= end:
        out.append(m)
        m = stop_month(m)
    return out


def _month_column(s: pd.Series) -> pd.Series:
    return pd.Series([first_of_month(pd.Timestamp(v).date()) for v in s], index=s.index, dtype=object)


def stop_months(events: pd.DataFrame) -> pd.DataFrame:
    """Per person the earliest stop: ``person_id``, ``stop_month``, ``kind``, ``event_date``."""
    cols = ["person_id", "stop_month", "kind", "event_date"]
    if events.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    unknown = set(events["kind"]) - set(STOP_KINDS)
    if unknown:
        raise ValueError(
            f"未知的终止事件 {', '.join(sorted(map(str, unknown)))}（可选：{'、'.join(STOP_KINDS)}） / "
            f"unknown stop event {', '.join(sorted(map(str, unknown)))} (one of {', '.join(STOP_KINDS)})"
        )
    ev = events.copy()
    ev["event_date"] = [pd.Timestamp(v).date() for v in ev["event_date"]]
    ev["stop_month"] = [stop_month(d) for d in ev["event_date"]]
    ev = ev.sort_values(["person_id", "stop_month", "kind"], kind="stable")
    first = ev.drop_duplicates("person_id", keep="first")
    return first.loc[:, cols].reset_index(drop=True)


def apply_stops(decisions: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``decisions`` with every month from a person's stop month on set to not eligible and
    0 yuan; adds ``stopped_by`` (the event kind, empty where no stop applied)."""
    out = decisions.copy()
    out["month"] = _month_column(out["month"])
    stops = stop_months(events)
    stop_of = dict(zip(stops["person_id"], stops["stop_month"], strict=True))
    kind_of = dict(zip(stops["person_id"], stops["kind"], strict=True))
    stopped = [
        pid in stop_of and m >= stop_of[pid]
        for pid, m in zip(out["person_id"], out["month"], strict=True)
    ]
    mask = pd.Series(stopped, index=out.index, dtype=bool)
    out["stopped_by"] = [kind_of[p] if s else "" for p, s in zip(out["person_id"], stopped, strict=True)]
    out.loc[mask, "eligible"] = False
    out.loc[mask, "amount_yuan"] = 0.0
    return out


def _cents(s: pd.Series) -> pd.Series:
    return (pd.to_numeric(s).astype(float) * _CENTS).round().astype("int64")


def reconcile(decisions: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Month by month, what was due against what was paid.

    Returns one row per person and month where they differ: ``person_id``, ``month``,
    ``kind`` (``overpayment`` or ``arrears``), ``due_yuan``, ``paid_yuan``, ``amount_yuan``
    (the difference, positive), ordered by person and month.  Amounts are compared in
    whole fen, so float noise never makes a difference.
    """
    due = decisions.loc[:, ["person_id", "month", "eligible", "amount_yuan"]].copy()
    due["month"] = _month_column(due["month"])
    due["due"] = _cents(due["amount_yuan"].where(due["eligible"].astype(bool), 0.0))
    due = due.groupby(["person_id", "month"], as_index=False)["due"].sum()
    paid = payments.loc[:, ["person_id", "month", "amount_yuan"]].copy()
    paid["month"] = _month_column(paid["month"])
    paid["paid"] = _cents(paid["amount_yuan"])
    paid = paid.groupby(["person_id", "month"], as_index=False)["paid"].sum()
    both = due.merge(paid, on=["person_id", "month"], how="outer")
    both["due"] = both["due"].fillna(0).astype("int64")
    both["paid"] = both["paid"].fillna(0).astype("int64")
    both = both[both["due"] != both["paid"]].copy()
    both["kind"] = [OVERPAYMENT if p > d else ARREARS for d, p in zip(both["due"], both["paid"], strict=True)]
    both["due_yuan"] = both["due"] / _CENTS
    both["paid_yuan"] = both["paid"] / _CENTS
    both["amount_yuan"] = (both["paid"] - both["due"]).abs() / _CENTS
    both = both.sort_values(["person_id", "month"], kind="stable").reset_index(drop=True)
    return both.loc[:, ["person_id", "month", "kind", "due_yuan", "paid_yuan", "amount_yuan"]]


def compare_due_paid(due: pd.DataFrame, paid: pd.DataFrame) -> pd.DataFrame:
    """One month: ``due`` (``person_id``, ``due_yuan``) against ``paid`` (``person_id``,
    ``paid_yuan``).  Returns ``person_id``, ``kind``, ``due_yuan``, ``paid_yuan``,
    ``amount_yuan`` for every person where they differ."""
    month = date(2000, 1, 1)
    d = pd.DataFrame({"person_id": due["person_id"].to_numpy(), "month": month,
                      "eligible": True, "amount_yuan": due["due_yuan"].to_numpy()})
    p = pd.DataFrame({"person_id": paid["person_id"].to_numpy(), "month": month,
                      "amount_yuan": paid["paid_yuan"].to_numpy()})
    out = reconcile(d, p)
    return out.drop(columns="month")


def totals(differences: pd.DataFrame) -> dict[str, float]:
    """Total yuan per kind (``overpayment``, ``arrears``) of a :func:`reconcile` result."""
    sums = differences.groupby("kind")["amount_yuan"].sum()
    return {k: float(sums.get(k, 0.0)) for k in (OVERPAYMENT, ARREARS)}
