"""The indicator engine (:mod:`popreg.stats.indicators`; its docstring explains how the
population at a moment and the flows are rebuilt): one pass over a snapshot in SQL, then
every level and period rolled up from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from popreg.core.population import COUNTED_STATUS, sql_types, sql_unit
from popreg.core.population import concept as population_concept
from popreg.snapshot import format as snapfmt
from popreg.snapshot.connection import SnapshotConnection, connect
from popreg.stats._assemble import assemble_indicators
from popreg.stats._indicator_defs import (
    ENGINES,
    LEVELS,
    POPULATION_EVENTS,
    POPULATIONS,
    PYRAMID_COLUMNS,
    PYRAMID_GROUPS,
    Engine,
    IndicatorError,
    Level,
    Period,
    PeriodSpec,
    Population,
    periods_for,
)


def _level_expr(col: str, level: Level) -> str:
    if level == "county":
        return f"(substr({col}, 1, 6) || '000000')"
    if level == "township":
        return f"(substr({col}, 1, 9) || '000')"
    return f"substr({col}, 1, 12)"


_STEP = {"year": 12, "quarter": 3, "month": 1}


def _age_label(start: int | None) -> str:
    if start is None:
        return "unknown"
    return f"{start}+" if start >= PYRAMID_GROUPS[-1] else f"{start}-{start + 4}"


def _open(root: Path, con: SnapshotConnection | None, engine: Engine, spark: Any) -> SnapshotConnection:
    """The connection (``con`` when given, over the same snapshot) with the source views."""
    if con is None:
        try:
            con = connect(root, engine, spark=spark)
        except snapfmt.SnapshotError as exc:
            raise IndicatorError(str(exc)) from exc
    elif con.root is None or con.root.resolve() != root.resolve():
        raise IndicatorError(f"the connection given reads {con.root}, not the snapshot {root}")
    for name in ("persons", "events", "units"):
        con.view(name, f"{name}_src")
    return con


def _values(
    con: SnapshotConnection, name: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Table ``name`` of literal rows (text and integers)."""

    def lit(v: Any) -> str:
        return "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(int(v))

    body = ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)
    con.create_table(name, f"SELECT * FROM (VALUES {body}) AS t({', '.join(columns)})")


class SnapshotIndicators:
    """Indicator computations over one snapshot directory (DuckDB engine).

    One pass over persons and events builds, at village granularity, the population at
    every period boundary (by sex, residence type and five-year age group), the event
    counts per period and origin/destination village, and the births by mother's age.
    Every level is a roll-up of these small tables, so the whole cube (all levels, all
    periods) costs one scan of the snapshot.
    """

    def __init__(
        self,
        snapshot_dir: str | Path,
        population: Population = "registered",
        con: SnapshotConnection | None = None,
        *,
        engine: Engine = "duckdb",
        spark: Any = None,
    ) -> None:
        self.root = Path(snapshot_dir)
        if not self.root.is_dir():
            raise IndicatorError(
                f"快照目录不存在：{self.root}。请给出 popreg synth 或 popreg snapshot 生成的目录 / "
                f"snapshot directory {self.root} does not exist: give a directory written by "
                "popreg synth or popreg snapshot"
            )
        try:
            self.manifest = snapfmt.read_manifest(self.root)
            for name in ("units", "persons", "events"):
                if not snapfmt.table_path(self.root, name).is_file():
                    raise snapfmt.SnapshotError(f"snapshot {self.root} has no table {name}")
        except snapfmt.SnapshotError as exc:
            raise IndicatorError(
                f"{self.root} 不是有效的快照（缺少 manifest.json 或 units/persons/events 表）/ "
                f"not a valid snapshot: {exc}"
            ) from exc
        if population not in POPULATIONS:
            raise IndicatorError(
                f"人口口径只能是 registered（户籍）或 resident（常住），收到 {population!r} / "
                f"population must be registered or resident, got {population!r}"
            )
        self.population = population
        self.reference_moment = datetime.fromisoformat(self.manifest["reference_moment"])
        if engine not in ENGINES:
            raise IndicatorError(
                f"引擎只能是 {' 或 '.join(ENGINES)}，收到 {engine!r} / "
                f"engine must be one of {', '.join(ENGINES)}, got {engine!r}"
            )
        self.backend = _open(self.root, con, engine, spark)
        self._grid_key: tuple[Period, int, int] | None = None
        self._grid: list[PeriodSpec] = []

    # -- data range ---------------------------------------------------------------------

    def history_start(self) -> date | None:
        """First day covered by the event history (first of the month of the first event)."""
        first = self.backend.scalar("SELECT CAST(min(event_date) AS DATE) FROM events_src")
        return None if first is None else date(first.year, first.month, 1)

    def check_periods(self, periods: Sequence[PeriodSpec]) -> None:
        """Refuse periods the snapshot cannot answer (before its history or after it)."""
        ref = self.reference_moment.date()
        start = self.history_start()
        if start is None:
            raise IndicatorError(
                "快照中没有任何事件，无法计算期间指标 / the snapshot has no events: "
                "period indicators cannot be computed"
            )
        first_year = start.year if start.month == 1 else start.year + 1
        for p in periods:
            if p.end > ref or p.start < start:
                raise IndicatorError(
                    f"期间 {p.label} 超出快照数据范围：事件历史从 {start} 开始，"
                    f"快照时点为 {self.reference_moment:%Y-%m-%d %H:%M}，"
                    f"可用完整年份为 {first_year}–{ref.year - 1} / period {p.label} is outside "
                    f"the data: the event history starts {start} and the snapshot was taken at "
                    f"{self.reference_moment:%Y-%m-%d %H:%M}; choose a period inside it"
                )

    def _has_merged_column(self) -> bool:
        """Whether the persons table has ``merged_into`` (registry snapshots; synth has not)."""
        return "merged_into" in pq.read_schema(snapfmt.table_path(self.root, "persons")).names

    # -- the one pass ---------------------------------------------------------------------

    def _prepare(self, period: Period, first_year: int, last_year: int) -> None:
        """Build pop12 / flow12 / mb12 for the contiguous periods of first..last year."""
        key = (period, first_year, last_year)
        if self._grid_key == key:
            return
        grid = periods_for(range(first_year, last_year + 1), period)
        moments = [p.start for p in grid] + [grid[-1].end]
        k = len(moments)
        step = _STEP[period]
        mn0 = moments[0].year * 12 + moments[0].month - 1
        months = sorted({m.month for m in moments})
        db = self.backend
        idiv = db.idiv

        def mn(col: str) -> str:
            return f"(year({col}) * 12 + month({col}) - 1)"

        def n_moments_le(col: str, if_null: int) -> str:
            # how many boundary moments are <= the date in col (moments are first-of-month)
            return (
                f"CASE WHEN {col} IS NULL THEN {if_null} WHEN {mn(col)} < {mn0} THEN 0 "
                f"ELSE least({k}, {idiv(f'{mn(col)} - {mn0}', step)} + 1) END"
            )

        # bclass = number of boundary months m with (birth month, day) > (m, 1): then
        # age at a boundary of month m_i (1-based position i) = year - birth_year - [bclass >= i]
        bkey = "(month(birth_date) * 100 + CASE WHEN day(birth_date) = 1 THEN 1 ELSE 2 END)"
        bclass = " + ".join(f"CAST({bkey} > {m * 100 + 1} AS INTEGER)" for m in months)
        # Who counts and where: the one definition of the concept (popreg.core.population),
        # the same the registry pages, the API and the exports count with.  A record merged
        # into another (registry snapshots) is left out at every moment: the survivor
        # stands for the person.
        concept = population_concept(self.population)
        merged = " AND merged_into IS NULL" if self._has_merged_column() else ""
        persons = f"""
            SELECT person_id, sex, residence_type, mother_id, year(birth_date) AS birth_year,
                   {bclass} AS bclass,
                   CASE WHEN status = '{COUNTED_STATUS}' THEN substr({sql_unit(concept)}, 1, 12) END
                       AS unit_now
            FROM persons_src
            WHERE residence_type IN ({sql_types(concept)}){merged}
        """
        evtypes = ", ".join(f"'{t}'" for t in POPULATION_EVENTS)
        # events of the counted persons, with the person's attributes carried along
        # Events of the counted persons with the person's attributes.  The state just after
        # an event is the state just before the next one, or the current state after the
        # last: flows are these changes of state, so stocks and flows always balance, even
        # where an event contradicts the current record.
        db.create_table(
            "ev",
            f"""
            WITH e AS (
                SELECT e.person_id, e.event_id, e.event_type, CAST(e.event_date AS DATE) AS event_date,
                       substr(CASE e.event_type
                           WHEN 'death' THEN e.unit_code
                           WHEN 'enlistment' THEN e.unit_code
                           WHEN 'move_out' THEN coalesce(e.from_unit, e.unit_code)
                           WHEN 'transfer' THEN coalesce(e.from_unit, e.unit_code)
                       END, 1, 12) AS before_unit,
                       p.sex, p.residence_type, p.birth_year, p.bclass, p.unit_now, p.mother_id
                FROM events_src e JOIN ({persons}) p USING (person_id)
                WHERE e.event_type IN ({evtypes})
            )
            SELECT *,
                   lag(event_date) OVER w AS lo,
                   lead(event_id) OVER w IS NULL AS is_last,
                   CASE WHEN lead(event_id) OVER w IS NULL THEN unit_now
                        ELSE lead(before_unit) OVER w END AS after_unit
            FROM e
            WINDOW w AS (PARTITION BY person_id ORDER BY event_date, event_id)
            """
        )
        # Segments lo < t <= hi of each person as ranges [i0, i1] of boundary indexes, with
        # weights, aggregated.  Every active person first counts in its current unit at all
        # boundaries (one grouped scan, no join); a person with events then gets -1 on that
        # and +1 on each true segment.
        db.create_table(
            "seg",
            f"""
            WITH o AS (SELECT * FROM ev),
            parts AS (
                SELECT before_unit AS unit, sex, residence_type, birth_year, bclass,
                       {n_moments_le("lo", 0)} AS i0, {n_moments_le("event_date", k)} - 1 AS i1,
                       1 AS w
                FROM o WHERE before_unit IS NOT NULL
                UNION ALL
                SELECT unit_now, sex, residence_type, birth_year, bclass,
                       {n_moments_le("event_date", 0)}, {k - 1}, 1
                FROM o WHERE is_last AND unit_now IS NOT NULL
                UNION ALL
                SELECT unit_now, sex, residence_type, birth_year, bclass, 0, {k - 1}, -1
                FROM o WHERE is_last AND unit_now IS NOT NULL
                UNION ALL
                SELECT unit_now, sex, residence_type, birth_year, bclass, 0, {k - 1}, 1
                FROM ({persons}) WHERE unit_now IS NOT NULL
            )
            SELECT unit, sex, residence_type, birth_year, bclass, i0, i1, sum(w) AS n
            FROM parts WHERE i0 <= i1
            GROUP BY ALL HAVING sum(w) <> 0
            """
        )
        _values(
            db,
            "moments",
            ("j", "y", "pos"),
            [(j, m.year, months.index(m.month) + 1) for j, m in enumerate(moments)],
        )
        age = "(m.y - g.birth_year - CASE WHEN g.bclass >= m.pos THEN 1 ELSE 0 END)"
        db.create_table(
            "pop12",
            f"""
            SELECT m.j, g.unit, g.sex, g.residence_type,
                   CASE WHEN g.birth_year IS NULL THEN NULL
                        ELSE least(85, {idiv(f"greatest(0, {age})", 5)} * 5) END AS ag,
                   CAST(sum(g.n) AS BIGINT) AS population
            FROM seg g JOIN moments m ON m.j BETWEEN g.i0 AND g.i1
            GROUP BY ALL
            """,
        )
        pidx = idiv(f"{mn('e.event_date')} - {mn0}", step)
        in_range = f"e.event_date >= DATE '{moments[0]}' AND e.event_date < DATE '{moments[-1]}'"
        db.create_table(
            "flow12",
            f"""
            SELECT {pidx} AS pidx, e.before_unit AS b, e.after_unit AS a, e.event_type,
                   e.sex, CAST(count(*) AS BIGINT) AS n
            FROM ev e
            WHERE {in_range}
            GROUP BY ALL
            """
        )
        mage = (
            "(year(b.event_date) - year(mo.birth_date) - CASE WHEN month(mo.birth_date) * 100 "
            "+ day(mo.birth_date) > month(b.event_date) * 100 + day(b.event_date) "
            "THEN 1 ELSE 0 END)"
        )
        db.create_table(
            "mb12",
            f"""
            WITH b AS (
                SELECT {pidx} AS pidx, e.after_unit AS a, e.event_date, e.mother_id
                FROM ev e
                WHERE e.event_type = 'birth' AND e.after_unit IS NOT NULL AND {in_range}
            )
            SELECT b.pidx, b.a,
                   CASE WHEN mo.birth_date IS NULL THEN NULL
                        ELSE 15 + 5 * least(6, greatest(0, {idiv(f"{mage} - 15", 5)})) END
                       AS mgroup,
                   CAST(count(*) AS BIGINT) AS births
            FROM b LEFT JOIN (SELECT person_id, birth_date
                              FROM persons_src) mo ON mo.person_id = b.mother_id
            GROUP BY ALL
            """,
        )
        self._grid_key = key
        self._grid = grid

    # -- roll-ups per level ---------------------------------------------------------------

    def population_at_moments(self, level: Level) -> pd.DataFrame:
        """Population at every boundary j per unit: total, by sex, residence type, broad age
        group and (women) five-year fertile age group."""
        return self.backend.df(
            f"""
            SELECT j, {_level_expr("unit", level)} AS unit_code,
                   sum(population) AS total,
                   sum(population) FILTER (WHERE sex = 'M') AS male,
                   sum(population) FILTER (WHERE sex = 'F') AS female,
                   sum(population) FILTER (WHERE residence_type = 'registered') AS rt_registered,
                   sum(population) FILTER (WHERE residence_type = 'floating_out') AS rt_floating_out,
                   sum(population) FILTER (WHERE residence_type = 'floating_in') AS rt_floating_in,
                   sum(population) FILTER (WHERE residence_type = 'foreign') AS rt_foreign,
                   sum(population) FILTER (WHERE ag < 15) AS a0_14,
                   sum(population) FILTER (WHERE ag >= 15 AND ag < 65) AS a15_64,
                   sum(population) FILTER (WHERE ag >= 65) AS a65_plus,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 15) AS f15,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 20) AS f20,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 25) AS f25,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 30) AS f30,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 35) AS f35,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 40) AS f40,
                   sum(population) FILTER (WHERE sex = 'F' AND ag = 45) AS f45
            FROM pop12 GROUP BY ALL
            """
        )

    def pyramid(
        self, level: Level, periods: Sequence[tuple[int, PeriodSpec]], *, end: int | None = None
    ) -> pd.DataFrame:
        """Population by sex and five-year age group at the start and end of each period
        (``end``: the boundary index of the end, for one period spanning several steps)."""
        labels = [(i, p.label, "start") for i, p in periods] + [
            (i + 1 if end is None else end, p.label, "end") for i, p in periods
        ]
        _values(self.backend, "plabels", ("j", "period", "moment"), labels)
        # Through Arrow: several times faster than DuckDB's .df() for millions of string
        # rows (the village pyramids of a province); same dtypes for text and integers.
        return self.backend.arrow(
            f"""
            SELECT '{level}' AS level, {_level_expr("unit", level)} AS unit_code, l.period,
                   l.moment, sex,
                   CASE WHEN ag IS NULL THEN 'unknown' WHEN ag >= 85 THEN '85+'
                        ELSE CAST(ag AS STRING) || '-' || CAST(ag + 4 AS STRING) END AS age_group,
                   CAST(sum(population) AS BIGINT) AS population
            FROM pop12 JOIN plabels l USING (j)
            WHERE {_level_expr("unit", level)} IN (SELECT unit_code FROM lvl_units)
            GROUP BY 1, 2, 3, 4, 5, 6, ag
            ORDER BY l.period, l.moment DESC, unit_code, sex NULLS LAST, ag NULLS LAST
            """
        ).to_pandas()

    def flows(self, level: Level) -> pd.DataFrame:
        """Event counts per unit and period index at ``level``."""
        before = _level_expr("b", level)
        after = _level_expr("a", level)
        return self.backend.df(
            f"""
            WITH x AS (
                SELECT pidx, event_type, sex, {before} AS b, {after} AS a, sum(n) AS n
                FROM flow12 GROUP BY ALL
            ),
            outs AS (
                SELECT pidx, b AS unit_code,
                    sum(n) FILTER (WHERE event_type = 'death') AS deaths,
                    sum(n) FILTER (WHERE event_type = 'move_out') AS move_out,
                    sum(n) FILTER (WHERE event_type = 'transfer' AND a IS NOT NULL) AS transfer_out,
                    sum(n) FILTER (WHERE event_type = 'enlistment') AS enlistments,
                    sum(n) FILTER (WHERE NOT (event_type IN ('death', 'move_out', 'enlistment')
                                        OR (event_type = 'transfer' AND a IS NOT NULL)))
                        AS other_out
                FROM x WHERE b IS NOT NULL AND (a IS NULL OR a <> b) GROUP BY ALL
            ),
            ins AS (
                SELECT pidx, a AS unit_code,
                    sum(n) FILTER (WHERE event_type = 'birth') AS births,
                    sum(n) FILTER (WHERE event_type = 'birth' AND sex = 'M') AS male_births,
                    sum(n) FILTER (WHERE event_type = 'birth' AND sex = 'F') AS female_births,
                    sum(n) FILTER (WHERE event_type = 'move_in') AS move_in,
                    sum(n) FILTER (WHERE event_type = 'transfer' AND b IS NOT NULL) AS transfer_in,
                    sum(n) FILTER (WHERE event_type = 'discharge') AS discharges,
                    sum(n) FILTER (WHERE NOT (event_type IN ('birth', 'move_in', 'discharge')
                                        OR (event_type = 'transfer' AND b IS NOT NULL)))
                        AS other_in
                FROM x WHERE a IS NOT NULL AND (b IS NULL OR a <> b) GROUP BY ALL
            )
            SELECT * FROM ins FULL OUTER JOIN outs USING (pidx, unit_code)
            """
        )

    def births_by_mother_age(self, level: Level) -> pd.DataFrame:
        """Births per unit, period index and five-year age group of the mother."""
        return self.backend.df(
            f"""
            SELECT pidx, {_level_expr("a", level)} AS unit_code, mgroup,
                   CAST(sum(births) AS BIGINT) AS births
            FROM mb12 GROUP BY ALL
            """
        )

    def units(self, level: Level, periods: Sequence[PeriodSpec]) -> pd.DataFrame:
        lo = min(p.start for p in periods)
        hi = max(p.end for p in periods)
        assert level in LEVELS
        self.backend.create_table(
            "lvl_units",
            f"""
            SELECT unit_code, name AS unit_name, parent_code
            FROM units_src
            WHERE level = '{level}'
              AND (valid_from IS NULL OR CAST(valid_from AS DATE) < DATE '{hi}')
              AND (valid_to IS NULL OR CAST(valid_to AS DATE) >= DATE '{lo}')
            """,
        )
        return self.backend.df("SELECT * FROM lvl_units ORDER BY unit_code")

    def compute(
        self,
        years: Iterable[int],
        level: Level,
        period: Period = "year",
        *,
        with_pyramid: bool = True,
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The indicator table and the pyramid table (long format) for ``level``."""
        if level not in LEVELS:
            raise IndicatorError(
                f"单位层级只能是 county、township 或 village，收到 {level!r} / "
                f"level must be county, township or village, got {level!r}"
            )
        periods = periods_for(years, period)
        if not periods:
            raise IndicatorError("没有指定年份 / no year given")
        self.check_periods(periods)
        self._prepare(period, periods[0].start.year, periods[-1].start.year)
        index = {p.label: i for i, p in enumerate(self._grid)}
        indexed = [(index[p.label], p) for p in periods]
        table = assemble_indicators(
            level,
            indexed,
            self.units(level, periods),
            self.population_at_moments(level),
            self.flows(level),
            self.births_by_mother_age(level),
        )
        pyramid = self.pyramid(level, indexed)[list(PYRAMID_COLUMNS)] if with_pyramid else None
        return table, pyramid

    def compute_year_to_date(
        self, end: date, level: Level, *, with_pyramid: bool = True
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The indicator table (and pyramid) of the year to date: 1 January of ``end``'s
        year to ``end`` (exclusive; the first of a month, after January), one row per unit
        labelled with the year.

        The period is the sum of its complete months: population at 1 January and at
        ``end``, the flows and births of the months between; the rates are for the period
        (the fertility rates per woman-year, so the TFR is annual already).
        """
        if level not in LEVELS:
            raise IndicatorError(
                f"单位层级只能是 county、township 或 village，收到 {level!r} / "
                f"level must be county, township or village, got {level!r}"
            )
        if end.day != 1 or end.month == 1:
            raise IndicatorError(
                f"本年累计须截至某月1日（2月至12月），收到 {end} / the year to date ends on the "
                f"first day of a month from February to December, got {end}"
            )
        spec = PeriodSpec(str(end.year), date(end.year, 1, 1), end)
        self.check_periods([spec])
        self._prepare("month", end.year, end.year)
        months = end.month - 1  # boundary index of ``end`` in the month grid
        pop = self.population_at_moments(level)
        pop = pop[pop["j"].isin([0, months])].copy()
        pop["j"] = (pop["j"] == months).astype("int64")
        flows = self.flows(level)
        flows = flows[flows["pidx"] < months].drop(columns="pidx")
        flows = flows.groupby("unit_code", as_index=False).sum(min_count=1).assign(pidx=0)
        mb = self.births_by_mother_age(level)
        mb = mb[mb["pidx"] < months].drop(columns="pidx")
        mb = mb.groupby(["unit_code", "mgroup"], as_index=False, dropna=False)["births"].sum().assign(pidx=0)
        table = assemble_indicators(level, [(0, spec)], self.units(level, [spec]), pop, flows, mb)
        pyramid = None
        if with_pyramid:
            pyramid = self.pyramid(level, [(0, spec)], end=months)[list(PYRAMID_COLUMNS)]
        return table, pyramid

    def compute_cube(
        self, years: Iterable[int], period: Period = "year", levels: Sequence[Level] = LEVELS
    ) -> pd.DataFrame:
        """Indicator tables of several levels, concatenated (one pass over the snapshot)."""
        return pd.concat(
            [self.compute(years, level, period, with_pyramid=False)[0] for level in levels],
            ignore_index=True,
        )



def compute_indicators(
    snapshot_dir: str | Path,
    years: Iterable[int],
    level: Level,
    period: Period = "year",
    population: Population = "registered",
) -> pd.DataFrame:
    """Convenience wrapper: the indicator table for ``level`` (DuckDB engine)."""
    table, _ = SnapshotIndicators(snapshot_dir, population).compute(years, level, period)
    return table
