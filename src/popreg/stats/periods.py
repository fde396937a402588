"""Published figures of closed periods, and their revisions (see ``docs/periods.md``).

Closing a period (:func:`popreg.stats.period_actions.do_close_period`) stores the figures
of the statistics snapshot in use for the unit and every unit below it
(:func:`snapshot_figures`), with the highest person and event ids of that snapshot.  The
published figures never change.  A later snapshot may count the period differently: a
birth registered late, an import of adults born before the period, a death recorded
after the closing.  :func:`revisions` then shows, beside each published figure, the
figure of the latest snapshot (*revised*) and the number of *late records*: persons whose
record was created after the published snapshot and who were born before the period's
end, or whose population event (birth, death, move, transfer, enlistment, discharge)
dated before the period's end was recorded after it, in the unit.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from popreg.core.population import concept as population_concept
from popreg.core.population import sql_unit
from popreg.snapshot.connection import connect
from popreg.stats.dashboard import LEVEL_ORDER, Dashboard, load_dashboard
from popreg.stats.indicators import POPULATION_EVENTS, POPULATIONS, SnapshotIndicators

#: The figures stored at a closing and compared in a revision (engine columns).
FIGURE_KEYS: tuple[str, ...] = (
    "population_start", "population_end", "average_population", "births", "deaths",
    "in_migration", "out_migration", "cbr", "cdr", "rni",
)  # fmt: skip
#: Counts (shown as integers); the rest are rates in per mille.
COUNT_KEYS = frozenset(FIGURE_KEYS[:7])
_PREFIX = {"county": 6, "township": 9, "village": 12}


class PeriodError(Exception):
    """A period that cannot be closed or read: Chinese, English and the field to fix."""

    def __init__(self, zh: str, en: str, field: str = "period") -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en, self.field = zh, en, field


def parse_period(text: str) -> tuple[str, str, date, date]:
    """``(kind, label, start, end)`` of "2024" (a year) or "2024-03" (a month); ``end`` is
    exclusive."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?", text)
    if not m or not 1900 <= int(m.group(1)) <= 2200 or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise PeriodError(
            f"期间“{text}”无效：年份写作 2024，月份写作 2024-03",
            f"period {text!r} is not valid: write a year as 2024 and a month as 2024-03",
        )
    year = int(m.group(1))
    if m.group(2) is None:
        return "year", str(year), date(year, 1, 1), date(year + 1, 1, 1)
    month = int(m.group(2))
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return "month", f"{year}-{month:02d}", date(year, month, 1), end


def _prefix(code: str, level: str) -> str:
    return code[: _PREFIX.get(level, 12)]


def _plain(value: Any) -> Any:
    """A JSON-able number: NaN (a rate without population) as None, numpy scalars as Python."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(row.get(k)) for k in FIGURE_KEYS}


_MONTH_CACHE: dict[tuple[str, str], list[dict[str, Any]]] = {}
_LOCK = threading.Lock()


def _month_rows(snapshot_dir: Path, label: str) -> list[dict[str, Any]]:
    """Engine rows of every unit and population for one month (cached per snapshot)."""
    key = (str(snapshot_dir.resolve()), label)
    with _LOCK:
        cached = _MONTH_CACHE.get(key)
    if cached is not None:
        return cached
    year = int(label[:4])
    out: list[dict[str, Any]] = []
    for population in POPULATIONS:
        eng = SnapshotIndicators(snapshot_dir, population)
        for level in LEVEL_ORDER:
            table, _ = eng.compute([year], level, "month", with_pyramid=False)
            for r in table[table["period"] == label].to_dict("records"):
                out.append({**r, "population": population})
    with _LOCK:
        if len(_MONTH_CACHE) > 32:
            _MONTH_CACHE.clear()
        _MONTH_CACHE[key] = out
    return out


def snapshot_figures(
    dash: Dashboard, kind: str, label: str, unit_code: str, level: str
) -> list[dict[str, Any]]:
    """The figures of the unit and every unit below it for the period, in both populations:
    ``{"unit_code", "unit_name", "level", "population", "figures"}`` per unit and population.

    Refused (:class:`PeriodError`) when the snapshot does not cover the whole period."""
    _kind, _label, start, end = parse_period(label)
    if end > dash.reference_moment.date() or (kind == "year" and int(label) not in dash.years):
        raise PeriodError(
            f"统计快照 {dash.snapshot.name}（标准时点 {dash.reference_moment:%Y-%m-%d %H:%M}）不含完整的 {label}："
            "请先刷新统计快照，或选择已结束的期间",
            f"statistics snapshot {dash.snapshot.name} (reference moment {dash.reference_moment:%Y-%m-%d %H:%M}) "
            f"does not cover all of {label}: refresh the statistics first, or choose a period that has ended",
        )
    prefix = _prefix(unit_code, level)
    out: list[dict[str, Any]] = []
    if kind == "year":
        for u in sorted(dash.units.values(), key=lambda u: u.code):
            if not u.code.startswith(prefix) or u.level not in _PREFIX:
                continue
            for population in POPULATIONS:
                row = dash.row(u.code, int(label), population)
                if row is not None:
                    out.append({"unit_code": u.code, "unit_name": u.name, "level": u.level,
                                "population": population, "figures": _figures(row)})  # fmt: skip
    else:
        for row in _month_rows(dash.snapshot, label):
            if row["unit_code"].startswith(prefix):
                out.append({"unit_code": row["unit_code"], "unit_name": row["unit_name"],
                            "level": row["level"], "population": row["population"],
                            "figures": _figures(row)})  # fmt: skip
    if not any(r["unit_code"] == unit_code for r in out):
        raise PeriodError(
            f"统计快照 {dash.snapshot.name} 中没有单位 {unit_code} 在 {label} 的数据",
            f"statistics snapshot {dash.snapshot.name} has no figures of unit {unit_code} for {label}",
            "unit",
        )
    return out


def watermark(snapshot_dir: Path) -> tuple[int, int]:
    """The highest person id and event id in a snapshot."""
    with connect(snapshot_dir, tables=["persons", "events"]) as con:
        person = con.scalar("SELECT max(person_id) FROM persons")
        event = con.scalar("SELECT max(event_id) FROM events")
    return int(person or 0), int(event or 0)


_LATE_CACHE: dict[tuple[str, int, int, str], dict[str, list[tuple[int, str]]]] = {}


def _late_units(snapshot_dir: Path, last_person: int, last_event: int, end: date) -> dict[str, list[tuple[int, str]]]:
    """Per population, (person id, 12-digit unit) of each late record of a snapshot."""
    key = (str(snapshot_dir.resolve()), last_person, last_event, end.isoformat())
    with _LOCK:
        cached = _LATE_CACHE.get(key)
    if cached is not None:
        return cached
    types = ", ".join(f"'{t}'" for t in POPULATION_EVENTS)
    out: dict[str, list[tuple[int, str]]] = {}
    with connect(snapshot_dir, tables=["persons", "events"]) as con:
        events = con.rows(
            f"""SELECT DISTINCT person_id, substr(u, 1, 12) FROM (
                    SELECT person_id, unit_code AS u FROM events
                    WHERE event_id > ? AND event_type IN ({types}) AND CAST(event_date AS DATE) < CAST(? AS DATE)
                    UNION ALL SELECT person_id, from_unit FROM events
                    WHERE event_id > ? AND event_type IN ({types}) AND CAST(event_date AS DATE) < CAST(? AS DATE)
                    UNION ALL SELECT person_id, to_unit FROM events
                    WHERE event_id > ? AND event_type IN ({types}) AND CAST(event_date AS DATE) < CAST(? AS DATE)
                ) WHERE u IS NOT NULL""",
            [last_event, end.isoformat()] * 3,
        )
        for population in POPULATIONS:
            c = population_concept(population)
            new = con.rows(
                f"""SELECT person_id, substr({sql_unit(c)}, 1, 12) FROM persons
                    WHERE person_id > ? AND residence_type IN ({", ".join(f"'{t}'" for t in c.residence_types)})
                      AND (birth_date IS NULL OR CAST(birth_date AS DATE) < CAST(? AS DATE))""",
                [last_person, end.isoformat()],
            )
            out[population] = [(int(p), str(u)) for p, u in [*new, *events] if u]
    with _LOCK:
        if len(_LATE_CACHE) > 64:
            _LATE_CACHE.clear()
        _LATE_CACHE[key] = out
    return out


def late_records(
    snapshot_dir: Path, last_person: int, last_event: int, end: date, unit_code: str, level: str, population: str
) -> int:
    """How many late records of the period (ending ``end``) a snapshot holds for a unit."""
    prefix = _prefix(unit_code, level)
    rows = _late_units(snapshot_dir, last_person, last_event, end).get(population, [])
    return len({pid for pid, unit in rows if unit.startswith(prefix)})


@dataclass(frozen=True)
class FigureRevision:
    key: str
    published: Any
    revised: Any

    @property
    def changed(self) -> bool:
        if self.revised is None:
            return False
        if isinstance(self.published, float) or isinstance(self.revised, float):
            return abs(float(self.published or 0) - float(self.revised)) > 1e-9
        return bool(self.published != self.revised)

    @property
    def difference(self) -> Any:
        if self.revised is None or self.published is None:
            return None
        return self.revised - self.published

    @property
    def is_count(self) -> bool:
        return self.key in COUNT_KEYS


@dataclass(frozen=True)
class Revision:
    """A unit's published figures of one closed period beside the latest snapshot's."""

    closing: Any  # ClosedPeriod
    unit_code: str
    unit_name: str
    level: str
    population: str
    figures: tuple[FigureRevision, ...]
    late_records: int
    snapshot: str  # the snapshot of the revised figures ("" when none is in use)

    @property
    def revised(self) -> bool:
        return any(f.changed for f in self.figures) or self.late_records > 0

    def figure(self, key: str) -> FigureRevision | None:
        return next((f for f in self.figures if f.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        c = self.closing
        return {
            "unit_code": self.unit_code, "unit_name": self.unit_name, "period": c.period,
            "kind": c.kind, "state": c.state, "population": self.population,
            "published_snapshot": c.snapshot, "revised_snapshot": self.snapshot,
            "closed_by": c.closed_by_name, "closed_at": c.closed_at.isoformat(),
            "approved_by": c.approved_by_name or None,
            "approved_at": c.approved_at.isoformat() if c.approved_at else None,
            "published": {f.key: f.published for f in self.figures},
            "revised": {f.key: f.revised for f in self.figures},
            "late_records": self.late_records, "is_revised": self.revised,
        }  # fmt: skip


def _current(dash: Dashboard | None, closing: Any, unit_code: str, population: str) -> dict[str, Any] | None:
    if dash is None:
        return None
    if closing.kind == "year":
        if int(closing.period) not in dash.years:
            return None
        return dash.row(unit_code, int(closing.period), "resident" if population == "resident" else "registered")
    if closing.end > dash.reference_moment.date():
        return None
    for row in _month_rows(dash.snapshot, closing.period):
        if row["unit_code"] == unit_code and row["population"] == population:
            return row
    return None


def latest_dashboard() -> Dashboard | None:
    from popreg.stats.dashboard import DashboardError

    try:
        return load_dashboard()
    except DashboardError:
        return None


def revisions(published: Iterable[Any], dash: Dashboard | None = None) -> list[Revision]:
    """A :class:`Revision` per published figure row (``PublishedFigure``) against ``dash``
    (default: the statistics snapshot in use)."""
    dash = dash if dash is not None else latest_dashboard()
    out: list[Revision] = []
    for pf in published:
        c = pf.closing
        same = dash is not None and dash.snapshot.name == c.snapshot
        row = None if same else _current(dash, c, pf.unit_code, pf.population)
        figures = tuple(
            FigureRevision(k, pf.figures.get(k), pf.figures.get(k) if same else (row or {}).get(k))
            for k in FIGURE_KEYS
        )
        late = 0
        if dash is not None and not same:
            late = late_records(dash.snapshot, c.last_person_id, c.last_event_id, c.end,
                                pf.unit_code, pf.level, pf.population)  # fmt: skip
        out.append(Revision(c, pf.unit_code, pf.unit_name, pf.level, pf.population, figures, late,
                            dash.snapshot.name if dash is not None else ""))  # fmt: skip
    return out


def revised_closings(dash: Dashboard) -> int:
    """How many closings the snapshot of ``dash`` revises: the closing unit's own
    registered-population figures differ from the published ones, or late records exist.
    A statistics refresh reports it, so a revision is never silent."""
    from django.db.models import F

    from popreg.stats.period_models import PublishedFigure

    own = (PublishedFigure.objects.filter(unit_code=F("closing__unit_id"), population="registered")
           .select_related("closing"))  # fmt: skip
    return sum(1 for r in revisions(own, dash) if r.revised)
