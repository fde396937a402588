"""Counts a projection needs, read from a snapshot's persons and events (no Django).

For every unit of one level (or one unit) at once, with single years of age 0..A (A open):

- the registered population by sex and age at 1 January of given years, *reconstructed*
  from the events: a person belongs to a unit on a date when the last registration event
  before that date (birth, move in, transfer, discharge) put them there; without an event
  before the date, the first event after it says where they were (a transfer or move out
  from the unit, a death or enlistment in it); without any event, the record as it stands
  at the reference moment (active, ``registered`` or ``floating_out``: the registered
  population of docs/snapshot-format.md).  At the reference moment the reconstruction
  gives exactly the registered population the statistics count.
- deaths by sex and age at death, births by the mother's age and by sex, and moves in and
  out of the unit (move in and out of the county, transfers between units, enlistment and
  discharge) by sex and age, per calendar year.

All counts are grouped by the unit's code prefix at the level asked (6 digits for the
county, 9 for a township, 12 for a village), so a group-level code counts for its village.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from popreg.core.population import COUNTED_STATUS, REGISTERED, sql_types
from popreg.snapshot import SnapshotConnection, connect, read_manifest

#: The last, open age of every array here (100+).
OPEN_AGE = 100
AGES = OPEN_AGE + 1
SEXES = ("F", "M")  # index 0 = female, 1 = male (the core's convention)
PREFIX_LENGTH = {"county": 6, "township": 9, "village": 12}

_REGISTRATION_EVENTS = "('birth','death','move_in','move_out','transfer','enlistment','discharge')"


class PlanningDataError(ValueError):
    """Input the projection cannot use; the message is ``中文 / English`` and names the field."""


@dataclass
class UnitCounts:
    """Counts for the units of one level: arrays indexed [unit][...].

    ``population[d]`` is (U, 2, A+1) on date d (00:00); ``deaths[y]``,
    ``moves_in[y]``, ``moves_out[y]`` are (U, 2, A+1) over calendar year y; ``births[y]``
    is (U, A+1) by the mother's age and ``births_by_sex[y]`` (U, 2).
    """

    level: str
    codes: list[str]
    population: dict[date, np.ndarray] = field(default_factory=dict)
    deaths: dict[int, np.ndarray] = field(default_factory=dict)
    births: dict[int, np.ndarray] = field(default_factory=dict)
    births_by_sex: dict[int, np.ndarray] = field(default_factory=dict)
    moves_in: dict[int, np.ndarray] = field(default_factory=dict)
    moves_out: dict[int, np.ndarray] = field(default_factory=dict)
    left_out: int = 0  # records without sex or birth date (the most on one date)
    cache: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)  # pooled sums

    def index(self, code: str) -> int:
        return self.codes.index(code)


@dataclass(frozen=True)
class SnapshotInfo:
    reference_moment: str
    reference_date: date
    first_full_year: int  # first calendar year whose events are all in the snapshot
    last_full_year: int  # last one


def snapshot_info(con: SnapshotConnection) -> SnapshotInfo:
    root = con.root
    if root is None:
        raise PlanningDataError("需要快照目录 / a snapshot directory is needed")
    moment = str(read_manifest(root)["reference_moment"])
    ref = date.fromisoformat(moment[:10])
    first = con.scalar("SELECT min(event_date) FROM events")
    if first is None:
        raise PlanningDataError(
            "快照中没有事件记录，无法估计出生、死亡和迁移 / "
            "the snapshot has no events: births, deaths and moves cannot be estimated"
        )
    first = first if isinstance(first, date) else date.fromisoformat(str(first)[:10])
    first_full = first.year if (first.month, first.day) == (1, 1) else first.year + 1
    last_full = ref.year - 1 if moment[5:] != "12-31T23:59:59" else ref.year
    return SnapshotInfo(moment, ref, first_full, last_full)


def open_snapshot(snapshot: Path | str) -> SnapshotConnection:
    root = Path(snapshot)
    if not (root / "manifest.json").is_file():
        raise PlanningDataError(
            f"快照目录不存在或缺少 manifest.json：{root.name} / "
            f"snapshot folder {root.name} not found or has no manifest.json"
        )
    con = connect(root)
    for t in ("persons", "events", "units"):
        con.view(t)
    return con


def _age_sql(birth: str, day: str) -> str:
    return (
        f"(year({day}) - year({birth}) - CASE WHEN strftime({birth}, '%m%d') > strftime({day}, '%m%d') "
        f"THEN 1 ELSE 0 END)"
    )


def _cap(age: str) -> str:
    """The age with the open group's ages folded into it (NULL stays NULL: DuckDB's
    ``least`` would skip it)."""
    return f"CASE WHEN ({age}) IS NULL THEN NULL WHEN ({age}) > {OPEN_AGE} THEN {OPEN_AGE} ELSE ({age}) END"


def _sex_idx(sex: str) -> str:
    return f"CASE {sex} WHEN 'F' THEN 0 WHEN 'M' THEN 1 END"


def _scatter(
    frame: pd.DataFrame, codes: dict[str, int], shape: tuple[int, ...]
) -> dict[int, np.ndarray]:
    """Rows (group, key, *indices, n) into one array per group (a year, or 0): vectorised,
    rows of unknown units or with a missing index are skipped."""
    out: dict[int, np.ndarray] = {}
    if frame.empty:
        return out
    cols = list(frame.columns)
    group, key, idx, n = cols[0], cols[1], cols[2:-1], cols[-1]
    # a key that is already the unit's index (the SQL joined the key table), or a code
    unit = frame[key] if pd.api.types.is_integer_dtype(frame[key]) else frame[key].astype(str).map(codes)
    keep = unit.notna()
    for c in idx:
        keep &= frame[c].notna()
    frame, unit = frame[keep], unit[keep].astype(np.int64)
    for g, part in frame.groupby(group):
        arr = np.zeros(shape)
        where = (unit.loc[part.index].to_numpy(), *(part[c].to_numpy(dtype=np.int64) for c in idx))
        np.add.at(arr, where, part[n].to_numpy(dtype=float))
        out[int(g)] = arr
    return out


def _indexed(con: SnapshotConnection, sql: str) -> pd.DataFrame:
    """The rows of ``sql`` (columns group, key, ..., n) with the key replaced by the unit's
    index (an inner join with ``planning_keys``: rows of other units never leave DuckDB)."""
    cols = [str(c) for c in con.df(f"SELECT * FROM ({sql}) q LIMIT 0").columns]
    select = ", ".join("k.idx AS key" if c == "key" else f"q.{c}" for c in cols)
    return con.df(f"SELECT {select} FROM ({sql}) q JOIN planning_keys k ON k.key = q.key")


def unit_codes(con: SnapshotConnection, level: str, within: str = "") -> list[str]:
    """Codes of the units of ``level`` under the prefix ``within`` (all when empty)."""
    rows = con.rows(
        "SELECT unit_code FROM units WHERE level = ? AND unit_code LIKE ? ORDER BY unit_code",
        [level, within + "%"],
    )
    return [str(r[0]) for r in rows]


def unit_prefix(code: str, level: str) -> str:
    return code[: PREFIX_LENGTH[level]]


def read_counts(
    con: SnapshotConnection,
    level: str,
    codes: Sequence[str],
    population_years: Sequence[int],
    event_years: Sequence[int],
    *,
    reference_date: date | None = None,
    extra_dates: Sequence[date] = (),
) -> UnitCounts:
    """Population at 1 January of ``population_years`` (and on ``reference_date`` when
    given) and the events of ``event_years`` for the units ``codes`` of ``level``."""
    n = PREFIX_LENGTH[level]
    keys = {unit_prefix(c, level): i for i, c in enumerate(codes)}
    values = ", ".join(f"('{k}', {i})" for k, i in keys.items() if k.isdigit()) or "('', -1)"
    con.create_table("planning_keys", f"SELECT * FROM (VALUES {values}) AS t(key, idx)")
    out = UnitCounts(level=level, codes=list(codes))
    u = len(codes)
    like = (
        "(" + " OR ".join(f"{{col}} LIKE '{k}%'" for k in sorted(set(k[:9] for k in keys))) + ")"
        if len(keys) <= 20
        else "TRUE"
    )

    def within(col: str) -> str:
        return like.replace("{col}", col)

    dates = sorted({date(y, 1, 1) for y in population_years} | set(extra_dates))
    if reference_date is not None and reference_date not in dates:
        dates.append(reference_date)
    if dates:
        date_list = ", ".join(f"DATE '{d.isoformat()}'" for d in dates)
        sql = f"""
        WITH ev0 AS (
          SELECT e.*, (date_diff('day', DATE '1900-01-01', e.event_date)::BIGINT * 1000000000 + e.event_id) AS k,
                 p.status
          FROM events e JOIN persons p USING (person_id) WHERE e.event_type IN {_REGISTRATION_EVENTS}
        ), ev AS (
          SELECT person_id, k, event_date,
                 CASE event_type WHEN 'birth' THEN unit_code WHEN 'move_in' THEN to_unit
                   WHEN 'transfer' THEN to_unit WHEN 'discharge' THEN unit_code
                   -- an enlistment the registry never acted on (the record is still active): no exit
                   WHEN 'enlistment' THEN CASE WHEN status = 'active'
                     AND k = max(k) OVER (PARTITION BY person_id) THEN unit_code ELSE '' END
                   ELSE '' END AS after_u,
                 CASE event_type WHEN 'transfer' THEN from_unit WHEN 'move_out' THEN coalesce(from_unit, unit_code)
                   WHEN 'enlistment' THEN unit_code WHEN 'death' THEN unit_code ELSE '' END AS before_u
          FROM ev0
        ), d AS (SELECT unnest([{date_list}]) AS d),
        st AS (
          SELECT d.d, ev.person_id,
                 count(*) FILTER (WHERE ev.event_date < d.d) AS n_before,
                 arg_max(coalesce(ev.after_u, ''), ev.k) FILTER (WHERE ev.event_date < d.d) AS last_after,
                 arg_min(coalesce(ev.before_u, ''), ev.k) FILTER (WHERE ev.event_date >= d.d) AS first_before
          FROM ev CROSS JOIN d GROUP BY d.d, ev.person_id
        ),
        pop AS (
          SELECT d.d, p.sex, {_age_sql("p.birth_date", "d.d")} AS age,
                 CASE WHEN s.person_id IS NULL THEN
                        CASE WHEN p.status = '{COUNTED_STATUS}' AND p.residence_type IN ({sql_types(REGISTERED)})
                             THEN p.registered_unit ELSE '' END
                      WHEN s.n_before > 0 THEN s.last_after ELSE s.first_before END AS u
          FROM persons p CROSS JOIN d LEFT JOIN st s ON s.person_id = p.person_id AND s.d = d.d
          WHERE p.birth_date < d.d OR p.birth_date IS NULL
        )
        SELECT d, substr(u, 1, {n}) AS key, {_sex_idx("sex")} AS s, {_cap("age")} AS a, count(*) AS n
        FROM pop WHERE u <> '' AND {within("u")} GROUP BY ALL
        """
        frame = _indexed(con, sql)
        missing = frame["s"].isna() | frame["a"].isna()
        dates.sort()
        order = {d: i for i, d in enumerate(dates)}
        day = pd.to_datetime(frame["d"]).to_numpy().astype("datetime64[D]")
        frame["d"] = np.searchsorted(np.array(dates, dtype="datetime64[D]"), day)
        out.left_out = int(frame[missing].groupby("d")["n"].sum().max()) if missing.any() else 0
        got = _scatter(frame[["d", "key", "s", "a", "n"]], keys, (u, 2, AGES))
        for d, i in order.items():
            out.population[d] = got.get(i, np.zeros((u, 2, AGES)))
    if event_years:
        years = ", ".join(str(int(y)) for y in event_years)
        age_at = _age_sql("p.birth_date", "e.event_date")
        deaths = _indexed(con, f"""
            SELECT year(e.event_date) AS y, substr(e.unit_code, 1, {n}) AS key, {_sex_idx("p.sex")} AS s,
                   {_cap(age_at)} AS a, count(*) AS n
            FROM events e JOIN persons p USING (person_id)
            WHERE e.event_type = 'death' AND year(e.event_date) IN ({years}) AND {within("e.unit_code")}
            GROUP BY ALL""")
        out.deaths = _scatter(deaths, keys, (u, 2, AGES))
        mother_age = _age_sql("m.birth_date", "e.event_date")
        births = _indexed(con, f"""
            SELECT year(e.event_date) AS y, substr(e.unit_code, 1, {n}) AS key, {_cap(mother_age)} AS a,
                   count(*) AS n
            FROM events e JOIN persons c USING (person_id) LEFT JOIN persons m ON m.person_id = c.mother_id
            WHERE e.event_type = 'birth' AND year(e.event_date) IN ({years}) AND {within("e.unit_code")}
            GROUP BY ALL""")
        # a birth without a known mother's age is spread over the ages like the others (below)
        out.births = _scatter(births, keys, (u, AGES))
        unknown = births[births["a"].isna()]
        for year, key, cnt in zip(unknown["y"], unknown["key"], unknown["n"], strict=True):
            row = int(key)
            arr = out.births.get(int(year))
            if arr is None or arr[row].sum() == 0:
                continue
            arr[row] += arr[row] / arr[row].sum() * float(cnt)
        by_sex = _indexed(con, f"""
            SELECT year(e.event_date) AS y, substr(e.unit_code, 1, {n}) AS key, {_sex_idx("c.sex")} AS s,
                   count(*) AS n
            FROM events e JOIN persons c USING (person_id)
            WHERE e.event_type = 'birth' AND year(e.event_date) IN ({years}) AND {within("e.unit_code")}
            GROUP BY ALL""")
        out.births_by_sex = _scatter(by_sex, keys, (u, 2))
        moves = f"""
            WITH e AS (
              SELECT e.*, (date_diff('day', DATE '1900-01-01', e.event_date)::BIGINT * 1000000000 + e.event_id) AS k,
                     max(date_diff('day', DATE '1900-01-01', e.event_date)::BIGINT * 1000000000 + e.event_id)
                       OVER (PARTITION BY e.person_id) AS last_k
              FROM events e WHERE e.event_type IN {_REGISTRATION_EVENTS}
            ), m AS (
              SELECT e.event_date, p.sex, p.birth_date, e.event_type,
                     CASE e.event_type WHEN 'move_in' THEN '' WHEN 'discharge' THEN ''
                       WHEN 'transfer' THEN substr(e.from_unit, 1, {n})
                       ELSE substr(coalesce(e.from_unit, e.unit_code), 1, {n}) END AS src,
                     CASE e.event_type WHEN 'move_in' THEN substr(e.to_unit, 1, {n})
                       WHEN 'transfer' THEN substr(e.to_unit, 1, {n})
                       WHEN 'discharge' THEN substr(e.unit_code, 1, {n}) ELSE '' END AS dst
              FROM e JOIN persons p USING (person_id)
              WHERE e.event_type IN ('move_in', 'move_out', 'transfer', 'enlistment', 'discharge')
                AND year(e.event_date) IN ({years})
                AND NOT (e.event_type = 'enlistment' AND p.status = 'active' AND e.k = e.last_k)
            )
            SELECT year(event_date) AS y, {{side}} AS key, {_sex_idx("sex")} AS s,
                   {_cap(_age_sql("birth_date", "event_date"))} AS a, count(*) AS n
            FROM m WHERE {{side}} <> '' AND src IS DISTINCT FROM dst AND {{cond}} GROUP BY ALL"""
        out.moves_in = _scatter(
            _indexed(con, moves.format(side="dst", cond=within("dst"))), keys, (u, 2, AGES)
        )
        out.moves_out = _scatter(
            _indexed(con, moves.format(side="src", cond=within("src"))), keys, (u, 2, AGES)
        )
    return out
