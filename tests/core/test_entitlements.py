"""Stops, arrears and overpayments (popreg.core.entitlements), with worked examples."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from popreg.core.entitlements import (
    ARREARS,
    OVERPAYMENT,
    apply_stops,
    compare_due_paid,
    months_between,
    reconcile,
    stop_month,
    stop_months,
    totals,
)

JAN, FEB, MAR, APR, MAY, JUN, JUL = (date(2025, m, 1) for m in range(1, 8))


def decisions(rows: list[tuple[int, date, bool, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "month", "eligible", "amount_yuan"])


def payments(rows: list[tuple[int, date, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "month", "amount_yuan"])


def events(rows: list[tuple[int, str, date]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "kind", "event_date"])


@pytest.mark.parametrize(
    ("event", "stop"),
    [
        (date(2025, 3, 10), APR),
        (date(2025, 3, 1), APR),   # the month of the event is still due
        (date(2025, 3, 31), APR),
        (date(2025, 12, 5), date(2026, 1, 1)),
    ],
)
def test_stop_is_the_month_after_the_event(event: date, stop: date) -> None:
    assert stop_month(event) == stop


def test_months_between() -> None:
    assert months_between(date(2024, 11, 20), date(2025, 2, 3)) == [date(2024, 11, 1), date(2024, 12, 1), JAN, date(2025, 2, 1)]


def test_earliest_stop_counts() -> None:
    ev = events([(1, "emigration", date(2025, 5, 2)), (1, "death", date(2025, 3, 9)), (2, "condition_lost", date(2025, 1, 31))])
    got = stop_months(ev)
    assert got[["person_id", "stop_month", "kind"]].values.tolist() == [[1, APR, "death"], [2, FEB, "condition_lost"]]
    with pytest.raises(ValueError, match="unknown stop event"):
        stop_months(events([(1, "holiday", JAN)]))


def test_late_registered_death_gives_an_overpayment() -> None:
    """Worked example: 300 yuan a month paid January to June; in July the death of 10 March
    is registered.  March is still due (stop from April), so April, May and June were paid
    for nothing: 900 yuan to recover."""
    months = [JAN, FEB, MAR, APR, MAY, JUN]
    due_then = decisions([(7, m, True, 300.0) for m in months])
    paid = payments([(7, m, 300.0) for m in months])
    assert reconcile(due_then, paid).empty  # before the death was known: nothing to recover
    due_now = apply_stops(due_then, events([(7, "death", date(2025, 3, 10))]))
    assert due_now["eligible"].tolist() == [True, True, True, False, False, False]
    assert due_now["stopped_by"].tolist() == ["", "", "", "death", "death", "death"]
    diff = reconcile(due_now, paid)
    assert diff[["month", "kind", "amount_yuan"]].values.tolist() == [
        [APR, OVERPAYMENT, 300.0], [MAY, OVERPAYMENT, 300.0], [JUN, OVERPAYMENT, 300.0]]
    assert totals(diff) == {OVERPAYMENT: 900.0, ARREARS: 0.0}


def test_late_registered_birth_gives_arrears() -> None:
    """Worked example: a child born on 20 February is registered on 5 May; the May run finds
    it and pays May.  February, March and April were due too: 900 yuan of arrears."""
    due = decisions([(9, m, True, 300.0) for m in (FEB, MAR, APR, MAY)] + [(9, JAN, False, 0.0)])
    paid = payments([(9, MAY, 300.0)])
    diff = reconcile(due, paid)
    assert diff[["month", "kind", "due_yuan", "paid_yuan", "amount_yuan"]].values.tolist() == [
        [FEB, ARREARS, 300.0, 0.0, 300.0], [MAR, ARREARS, 300.0, 0.0, 300.0], [APR, ARREARS, 300.0, 0.0, 300.0]]
    assert totals(diff) == {OVERPAYMENT: 0.0, ARREARS: 900.0}


def test_amount_change_and_split_lines() -> None:
    """Two lines paid for one month add up; a rise of the amount not yet paid is arrears;
    amounts are compared in fen (0.1 + 0.2 is 0.3)."""
    due = decisions([(1, JAN, True, 80.0), (2, JAN, True, 0.3), (3, JAN, False, 0.0)])
    paid = payments([(1, JAN, 30.0), (1, JAN, 30.0), (2, JAN, 0.1), (2, JAN, 0.2), (3, JAN, 50.0)])
    diff = reconcile(due, paid)
    assert diff[["person_id", "kind", "amount_yuan"]].values.tolist() == [[1, ARREARS, 20.0], [3, OVERPAYMENT, 50.0]]


def test_emigration_and_deregistration_stop_too() -> None:
    due = decisions([(p, m, True, 50.0) for p in (1, 2) for m in (MAY, JUN, JUL)])
    ev = events([(1, "emigration", date(2025, 5, 31)), (2, "deregistration", date(2025, 6, 1))])
    got = apply_stops(due, ev)
    assert got.loc[got["person_id"] == 1, "eligible"].tolist() == [True, False, False]
    assert got.loc[got["person_id"] == 2, "eligible"].tolist() == [True, True, False]
    assert got["amount_yuan"].sum() == 150.0


def test_compare_due_paid_for_one_month() -> None:
    due = pd.DataFrame({"person_id": [1, 2], "payee_person_id": [11, 12], "due_yuan": [300.0, 300.0]})
    paid = pd.DataFrame({"person_id": [2, 3], "paid_yuan": [300.0, 300.0]})
    got = compare_due_paid(due, paid)
    assert got[["person_id", "kind", "amount_yuan"]].values.tolist() == [[1, ARREARS, 300.0], [3, OVERPAYMENT, 300.0]]
