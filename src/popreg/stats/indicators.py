"""Indicator engine: population, vital events and rates per unit and period from a snapshot.

No Django here: the engine reads a snapshot directory (see docs/snapshot-format.md) with
DuckDB (or Spark: the same SQL), counts with SQL, and applies the formulas of
:mod:`popreg.core.demography` to the counts.  docs/indicators.md defines every column.

How the population at a moment is rebuilt
-----------------------------------------
The snapshot holds each person's *current* state (at the reference moment) and the events
that led to it.  The state at an earlier moment t (00:00 of a day; an event dated t
happens *after* that moment) is found by undoing events dated on or after t: the first
population-changing event of the person dated ≥ t tells where the person was just before
it ("before unit"), and if there is none the current state holds::

    event        the person just before the event
    birth        not present
    move_in      not present (outside the county)
    discharge    not present (in the army)
    death        in unit_code
    move_out     in from_unit (else unit_code)
    enlistment   in unit_code
    transfer     in from_unit (else unit_code)

Other events (marriage, divorce, correction) do not change who is counted.  Events of one
day are ordered by event_id.  Each person's history becomes segments ``lo < t ≤ hi`` with a
unit (or "not present"), and the population at t is the count of present segments.

Which population is counted: the **registered population** (户籍人口) of the format doc,
persons with ``residence_type IN ('registered', 'floating_out')`` counted by the unit of
registration; or, with ``population="resident"``, the resident population (常住人口):
``residence_type IN ('registered', 'floating_in', 'foreign')`` counted by
``residence_unit`` (falling back to ``registered_unit``), with earlier units taken from
the moves of registration.  Residence type has no history in the snapshot: a person's
current residence type is taken to hold for the whole period.

Flows in a period [start, end) are the changes of state at the events dated start ≤ d <
end: the state just after an event is the state just before the person's next event (or
the current state after the last), and the event counts, classified by its type, where the
unit at the requested level differs before and after it.  A transfer between two villages
of one township is a migration for the villages but not for the township.  Hence, exactly,
for every unit and period::

    population_end = population_start + births − deaths + in_migration − out_migration
                     + discharges − enlistments + other_in − other_out

where ``other_*`` count the changes an event's type does not explain (a history that
contradicts the current record; the current record wins).

This module is the public face; the parts live next to it: ``_indicator_defs`` (levels,
periods, populations, columns, :class:`IndicatorError`, :func:`periods_for`), ``_engine``
(:class:`SnapshotIndicators`, :func:`compute_indicators`), ``_assemble`` (the indicator
table from the counts); the engines (DuckDB, Spark) are :func:`popreg.snapshot.connect`'s.
"""

from __future__ import annotations

from popreg.stats._engine import SnapshotIndicators, compute_indicators
from popreg.stats._indicator_defs import (
    COLUMNS,
    ENGINES,
    FERTILE_GROUPS,
    LEVELS,
    PERIODS,
    POPULATION_EVENTS,
    POPULATIONS,
    PYRAMID_COLUMNS,
    PYRAMID_GROUPS,
    RESIDENCE_TYPES,
    Engine,
    IndicatorError,
    Level,
    Period,
    PeriodSpec,
    Population,
    periods_for,
)

__all__ = [
    "COLUMNS", "ENGINES", "Engine", "FERTILE_GROUPS", "IndicatorError", "LEVELS", "Level",
    "PERIODS", "POPULATIONS", "POPULATION_EVENTS", "PYRAMID_COLUMNS", "PYRAMID_GROUPS", "Period",
    "PeriodSpec", "Population", "RESIDENCE_TYPES", "SnapshotIndicators", "compute_indicators",
    "periods_for",
]
