"""Indicator engine: population, vital events and rates per unit and period from a snapshot.

No Django here: the engine reads a snapshot directory (see docs/snapshot-format.md) with
DuckDB, counts with SQL, and applies the formulas of :mod:`popreg.core.demography` to the
counts.  docs/indicators.md defines every output column.

How the population at a moment is rebuilt
-----------------------------------------
The snapshot holds each person's *current* state (at the reference moment) and the events
that led to it.  The state at an earlier moment t (00:00 of a day; an event dated t
happens *after* that moment) is found by undoing events dated on or after t: the first
population-changing event of the person dated ≥ t tells where the person was just before
it ("before unit"), and if there is none the current state holds::

    event        before the event                   after the event
    birth        not present                        unit_code
    move_in      not present (outside the county)   to_unit (else unit_code)
    discharge    not present (in the army)          unit_code
    death        unit_code                          not present
    move_out     from_unit (else unit_code)         not present
    enlistment   unit_code                          not present
    transfer     from_unit (else unit_code)         to_unit (else unit_code)

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

Flows in a period [start, end) are the same events dated start ≤ d < end, attributed at the
requested level: a transfer between two villages of one township is a migration for the
villages but not for the township.  Hence, exactly, for every unit::

    population_end = population_start + births − deaths + in_migration − out_migration
                     + discharges − enlistments

whenever each person's events are consistent with the current state.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from popreg.core import demography as demo
from popreg.snapshot import format as snapfmt

Level = Literal["county", "township", "village"]
Period = Literal["year", "quarter", "month"]
Population = Literal["registered", "resident"]

LEVELS: tuple[Level, ...] = ("county", "township", "village")
PERIODS: tuple[Period, ...] = ("year", "quarter", "month")
POPULATIONS: tuple[Population, ...] = ("registered", "resident")

RESIDENCE_TYPES: dict[Population, tuple[str, ...]] = {
    "registered": ("registered", "floating_out"),
    "resident": ("registered", "floating_in", "foreign"),
}

#: Five-year age groups of mothers for ASFR (births to mothers under 15 go to 15–19 and
#: to mothers 50+ to 45–49, the usual convention).
FERTILE_GROUPS: tuple[int, ...] = (15, 20, 25, 30, 35, 40, 45)
#: Five-year age groups of the pyramid; the last is open (85+).
PYRAMID_GROUPS: tuple[int, ...] = tuple(range(0, 90, 5))

POPULATION_EVENTS = ("birth", "death", "move_in", "move_out", "transfer", "enlistment", "discharge")

#: Columns of the indicator table, in order.  docs/indicators.md documents each of them.
COLUMNS: tuple[str, ...] = (
    "level", "unit_code", "unit_name", "parent_code", "period", "period_start", "period_end",
    "population_start", "population_end", "average_population",
    "population_start_male", "population_start_female",
    "population_end_male", "population_end_female",
    "population_start_registered", "population_start_floating_out",
    "population_start_floating_in", "population_start_foreign",
    "population_end_registered", "population_end_floating_out",
    "population_end_floating_in", "population_end_foreign",
    "births", "male_births", "female_births", "births_sex_unknown",
    "deaths", "in_migration", "out_migration",
    "move_in", "move_out", "transfer_in", "transfer_out", "enlistments", "discharges",
    "cbr", "cdr", "rni",
    "srb", "srb_low", "srb_high", "srb_insufficient",
    *(f"asfr_{a}_{a + 4}" for a in FERTILE_GROUPS),
    "births_mother_age_unknown", "tfr",
    "population_end_0_14", "population_end_15_64", "population_end_65_plus",
    "youth_dependency_ratio", "old_age_dependency_ratio", "total_dependency_ratio",
)  # fmt: skip

PYRAMID_COLUMNS: tuple[str, ...] = (
    "level", "unit_code", "period", "moment", "sex", "age_group", "population",
)  # fmt: skip


class IndicatorError(Exception):
    """Bad input to the engine; the message is Chinese first, then English."""


@dataclass(frozen=True)
class PeriodSpec:
    label: str  # "2024", "2024Q1", "2024-03"
    start: date
    end: date  # exclusive: the moment end 00:00

    @property
    def years(self) -> float:
        """Length in years, counting each day as 1/(days in its year)."""
        total = 0.0
        y = self.start.year
        while date(y, 1, 1) < self.end:
            lo = max(self.start, date(y, 1, 1))
            hi = min(self.end, date(y + 1, 1, 1))
            total += (hi - lo).days / (366 if calendar.isleap(y) else 365)
            y += 1
        return total


def periods_for(years: Iterable[int], period: Period) -> list[PeriodSpec]:
    """The periods of the given years, in order."""
    out: list[PeriodSpec] = []
    for y in sorted(set(years)):
        if period == "year":
            out.append(PeriodSpec(f"{y}", date(y, 1, 1), date(y + 1, 1, 1)))
        elif period == "quarter":
            for q in range(4):
                s = date(y, 3 * q + 1, 1)
                e = date(y + 1, 1, 1) if q == 3 else date(y, 3 * q + 4, 1)
                out.append(PeriodSpec(f"{y}Q{q + 1}", s, e))
        elif period == "month":
            for m in range(1, 13):
                e = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
                out.append(PeriodSpec(f"{y}-{m:02d}", date(y, m, 1), e))
        else:
            raise IndicatorError(
                f"周期 --period 只能是 year、quarter 或 month，收到 {period!r} / "
                f"--period must be year, quarter or month, got {period!r}"
            )
    return out


def _level_expr(col: str, level: Level) -> str:
    if level == "county":
        return f"(substr({col}, 1, 6) || '000000')"
    if level == "township":
        return f"(substr({col}, 1, 9) || '000')"
    return f"substr({col}, 1, 12)"


def _age_group_sql(age: str, groups: Sequence[int]) -> str:
    # open last group; ages below the first group are not expected (groups start at 0)
    parts = " ".join(
        f"WHEN {age} < {groups[i + 1]} THEN '{groups[i]}-{groups[i + 1] - 1}'"
        for i in range(len(groups) - 1)
    )
    return f"CASE WHEN {age} IS NULL THEN 'unknown' {parts} ELSE '{groups[-1]}+' END"


class SnapshotIndicators:
    """Indicator computations over one snapshot directory (DuckDB engine)."""

    def __init__(
        self,
        snapshot_dir: str | Path,
        population: Population = "registered",
        con: duckdb.DuckDBPyConnection | None = None,
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
        self.con = con or duckdb.connect()
        self._prepared = False

    # -- set-up ---------------------------------------------------------------------------

    def _parquet(self, name: str) -> str:
        return "read_parquet('" + str(snapfmt.table_path(self.root, name)).replace("'", "''") + "')"

    def _prepare(self) -> None:
        if self._prepared:
            return
        con = self.con
        types = ", ".join(f"'{t}'" for t in RESIDENCE_TYPES[self.population])
        unit_now = (
            "registered_unit"
            if self.population == "registered"
            else "coalesce(residence_unit, registered_unit)"
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE scope AS
            SELECT person_id, sex, birth_date, residence_type,
                   CASE WHEN status = 'active' THEN substr({unit_now}, 1, 12) END AS unit_now
            FROM {self._parquet("persons")}
            WHERE residence_type IN ({types})
            """
        )
        evtypes = ", ".join(f"'{t}'" for t in POPULATION_EVENTS)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE ev AS
            SELECT e.person_id, e.event_id, e.event_type, e.event_date::DATE AS event_date,
                   substr(CASE e.event_type
                       WHEN 'death' THEN e.unit_code
                       WHEN 'enlistment' THEN e.unit_code
                       WHEN 'move_out' THEN coalesce(e.from_unit, e.unit_code)
                       WHEN 'transfer' THEN coalesce(e.from_unit, e.unit_code)
                   END, 1, 12) AS before_unit,
                   substr(CASE e.event_type
                       WHEN 'birth' THEN e.unit_code
                       WHEN 'discharge' THEN e.unit_code
                       WHEN 'move_in' THEN coalesce(e.to_unit, e.unit_code)
                       WHEN 'transfer' THEN coalesce(e.to_unit, e.unit_code)
                   END, 1, 12) AS after_unit,
                   s.sex, s.residence_type
            FROM {self._parquet("events")} e JOIN scope s USING (person_id)
            WHERE e.event_type IN ({evtypes})
            """
        )
        # Segments lo < t <= hi with the unit where the person was (NULL lo/hi: open end).
        # Persons without events share one open segment; pre-aggregating by birth year and
        # a birthday key keeps ages exact at every first-of-month boundary:
        #   age at Y-M-01 = Y - birth_year - (bkey > M*100 + 1)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE seg AS
            WITH ordered AS (
                SELECT person_id, event_date, before_unit,
                       lag(event_date) OVER (PARTITION BY person_id
                                             ORDER BY event_date, event_id) AS lo,
                       row_number() OVER (PARTITION BY person_id
                                          ORDER BY event_date DESC, event_id DESC) AS rn_desc
                FROM ev
            ),
            raw AS (
                SELECT person_id, lo, event_date AS hi, before_unit AS unit
                FROM ordered WHERE before_unit IS NOT NULL
                UNION ALL
                SELECT s.person_id, o.event_date AS lo, NULL::DATE AS hi, s.unit_now AS unit
                FROM scope s LEFT JOIN (SELECT person_id, event_date FROM ordered
                                        WHERE rn_desc = 1) o USING (person_id)
                WHERE s.unit_now IS NOT NULL
            )
            SELECT r.unit, s.sex, s.residence_type, r.lo, r.hi,
                   year(s.birth_date) AS birth_year,
                   month(s.birth_date) * 100 + CASE WHEN day(s.birth_date) = 1 THEN 1 ELSE 2 END
                       AS bkey,
                   count(*) AS n
            FROM raw r JOIN scope s USING (person_id)
            GROUP BY ALL
            """
        )
        self._prepared = True

    # -- data range ---------------------------------------------------------------------

    def history_start(self) -> date | None:
        """First day covered by the event history (first of the month of the first event)."""
        row = self.con.execute(
            f"SELECT min(event_date)::DATE FROM {self._parquet('events')}"
        ).fetchone()
        first = row[0] if row else None
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
        last_year = ref.year - 1
        for p in periods:
            if p.end > ref or p.start < start:
                raise IndicatorError(
                    f"期间 {p.label} 超出快照数据范围：事件历史从 {start} 开始，"
                    f"快照时点为 {self.reference_moment:%Y-%m-%d %H:%M}，"
                    f"可用完整年份为 {start.year if start.month == 1 else start.year + 1}"
                    f"–{last_year} / period {p.label} is outside the data: the event history "
                    f"starts {start} and the snapshot was taken at "
                    f"{self.reference_moment:%Y-%m-%d %H:%M}; choose a period inside it"
                )

    # -- computation --------------------------------------------------------------------

    def _boundaries(self, periods: Sequence[PeriodSpec]) -> None:
        moments = sorted({p.start for p in periods} | {p.end for p in periods})
        self.con.execute("CREATE OR REPLACE TEMP TABLE moments (t DATE)")
        self.con.executemany("INSERT INTO moments VALUES (?)", [(m,) for m in moments])
        self.con.execute("CREATE OR REPLACE TEMP TABLE periods (label VARCHAR, ps DATE, pe DATE)")
        self.con.executemany(
            "INSERT INTO periods VALUES (?, ?, ?)", [(p.label, p.start, p.end) for p in periods]
        )

    def population_at_moments(self, level: Level) -> pd.DataFrame:
        """Population at every period boundary by unit, sex, residence type and 5-year age."""
        age = (
            "(year(m.t) - g.birth_year - CASE WHEN g.bkey > month(m.t) * 100 + 1 "
            "THEN 1 ELSE 0 END)"
        )
        return self.con.execute(
            f"""
            SELECT m.t, {_level_expr("g.unit", level)} AS unit_code, g.sex, g.residence_type,
                   {_age_group_sql("age", PYRAMID_GROUPS)} AS age_group,
                   CASE WHEN age IS NULL THEN NULL
                        WHEN age < 15 THEN '0_14' WHEN age < 65 THEN '15_64'
                        ELSE '65_plus' END AS broad_age,
                   CASE WHEN g.sex = 'F' AND age BETWEEN 15 AND 49
                        THEN 15 + 5 * ((age - 15) // 5) END AS fertile_group,
                   sum(g.n) AS population
            FROM seg g JOIN moments m
              ON (g.lo IS NULL OR g.lo < m.t) AND (g.hi IS NULL OR m.t <= g.hi),
                 LATERAL (SELECT {age} AS age)
            GROUP BY ALL
            """
        ).df()

    def flows(self, level: Level) -> pd.DataFrame:
        """Event counts per unit and period at ``level``."""
        before = _level_expr("e.before_unit", level)
        after = _level_expr("e.after_unit", level)
        return self.con.execute(
            f"""
            WITH x AS (
                SELECT p.label, e.event_type, e.sex, {before} AS b, {after} AS a,
                       e.person_id, e.event_date
                FROM ev e JOIN periods p ON e.event_date >= p.ps AND e.event_date < p.pe
            ),
            outs AS (
                SELECT label, b AS unit_code,
                    count(*) FILTER (event_type = 'death') AS deaths,
                    count(*) FILTER (event_type = 'move_out') AS move_out,
                    count(*) FILTER (event_type = 'transfer') AS transfer_out,
                    count(*) FILTER (event_type = 'enlistment') AS enlistments
                FROM x WHERE b IS NOT NULL AND (a IS NULL OR a <> b) GROUP BY ALL
            ),
            ins AS (
                SELECT label, a AS unit_code,
                    count(*) FILTER (event_type = 'birth') AS births,
                    count(*) FILTER (event_type = 'birth' AND sex = 'M') AS male_births,
                    count(*) FILTER (event_type = 'birth' AND sex = 'F') AS female_births,
                    count(*) FILTER (event_type = 'move_in') AS move_in,
                    count(*) FILTER (event_type = 'transfer') AS transfer_in,
                    count(*) FILTER (event_type = 'discharge') AS discharges
                FROM x WHERE a IS NOT NULL AND (b IS NULL OR a <> b) GROUP BY ALL
            )
            SELECT * FROM ins FULL OUTER JOIN outs USING (label, unit_code)
            """
        ).df()

    def births_by_mother_age(self, level: Level) -> pd.DataFrame:
        """Births per unit, period and five-year age group of the mother at the birth."""
        return self.con.execute(
            f"""
            SELECT p.label, {_level_expr("e.after_unit", level)} AS unit_code,
                   CASE WHEN age IS NULL THEN NULL
                        ELSE 15 + 5 * least(6, greatest(0, (age - 15) // 5)) END AS mgroup,
                   count(*) AS births
            FROM ev e
            JOIN periods p ON e.event_date >= p.ps AND e.event_date < p.pe
            JOIN {self._parquet("persons")} c ON c.person_id = e.person_id
            LEFT JOIN {self._parquet("persons")} mo ON mo.person_id = c.mother_id,
            LATERAL (SELECT year(e.event_date) - year(mo.birth_date)
                     - CASE WHEN month(mo.birth_date) * 100 + day(mo.birth_date)
                                 > month(e.event_date) * 100 + day(e.event_date)
                            THEN 1 ELSE 0 END AS age)
            WHERE e.event_type = 'birth'
            GROUP BY ALL
            """
        ).df()

    def units(self, level: Level, periods: Sequence[PeriodSpec]) -> pd.DataFrame:
        lo = min(p.start for p in periods)
        hi = max(p.end for p in periods)
        return self.con.execute(
            f"""
            SELECT unit_code, name AS unit_name, parent_code
            FROM {self._parquet("units")}
            WHERE level = ? AND (valid_from IS NULL OR valid_from::DATE < ?)
              AND (valid_to IS NULL OR valid_to::DATE >= ?)
            ORDER BY unit_code
            """,
            [level, hi, lo],
        ).df()

    def compute(
        self, years: Iterable[int], level: Level, period: Period = "year"
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The indicator table and the pyramid table (long format) for ``level``."""
        if level not in LEVELS:
            raise IndicatorError(
                f"单位层级只能是 county、township 或 village，收到 {level!r} / "
                f"level must be county, township or village, got {level!r}"
            )
        periods = periods_for(years, period)
        self.check_periods(periods)
        self._prepare()
        self._boundaries(periods)
        pop = self.population_at_moments(level)
        flows = self.flows(level)
        mbirths = self.births_by_mother_age(level)
        units = self.units(level, periods)
        return _assemble(level, periods, units, pop, flows, mbirths)


def _assemble(
    level: Level,
    periods: Sequence[PeriodSpec],
    units: pd.DataFrame,
    pop: pd.DataFrame,
    flows: pd.DataFrame,
    mbirths: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    codes = set(units["unit_code"])
    pop = pop[pop["unit_code"].isin(codes)]
    tot: dict[tuple[Any, str], float] = pop.groupby(["t", "unit_code"])["population"].sum().to_dict()
    by_sex = pop.groupby(["t", "unit_code", "sex"])["population"].sum().to_dict()
    by_rt = pop.groupby(["t", "unit_code", "residence_type"])["population"].sum().to_dict()
    by_broad = pop.groupby(["t", "unit_code", "broad_age"])["population"].sum().to_dict()
    fert = pop.dropna(subset=["fertile_group"])
    by_fert = fert.groupby(["t", "unit_code", "fertile_group"])["population"].sum().to_dict()
    fl = {
        (r["label"], r["unit_code"]): r
        for r in flows.fillna(0).to_dict("records")
        if r["unit_code"] in codes
    }
    mb: dict[tuple[str, str], dict[Any, float]] = {}
    for r in mbirths.to_dict("records"):
        g = None if pd.isna(r["mgroup"]) else int(r["mgroup"])
        mb.setdefault((r["label"], r["unit_code"]), {})[g] = float(r["births"])

    def ts(d: date) -> Any:
        return pd.Timestamp(d)

    rows: list[dict[str, Any]] = []
    unit_rows = units.to_dict("records")
    for p in periods:
        s, e = ts(p.start), ts(p.end)
        for u in unit_rows:
            code = u["unit_code"]
            f = fl.get((p.label, code), {})

            def c(name: str, f: Any = f) -> int:
                return int(f.get(name, 0) or 0)

            ps, pe = int(tot.get((s, code), 0)), int(tot.get((e, code), 0))
            avg = demo.average_population(ps, pe)
            births, deaths = c("births"), c("deaths")
            male, female = c("male_births"), c("female_births")
            srb = demo.sex_ratio_at_birth(male, female)
            # ASFR: women-years = mean of start and end female population × period length;
            # births with unknown mother's age are spread in proportion to the known ones.
            mbu = mb.get((p.label, code), {})
            known = sum(v for k, v in mbu.items() if k is not None)
            unknown = mbu.get(None, 0.0)
            scale = (known + unknown) / known if known > 0 else 0.0
            asfr: list[float | None] = []
            for g in FERTILE_GROUPS:
                wy = (by_fert.get((s, code, g), 0) + by_fert.get((e, code, g), 0)) / 2 * p.years
                (a,) = demo.age_specific_fertility([mbu.get(g, 0.0) * scale], [wy])
                asfr.append(a)
            tfr: float | None = None
            if known > 0 or (births == 0 and any(a is not None for a in asfr)):
                tfr = demo.total_fertility_rate(asfr, 5)
            dep = demo.dependency_ratios(
                by_broad.get((e, code, "0_14"), 0),
                by_broad.get((e, code, "15_64"), 0),
                by_broad.get((e, code, "65_plus"), 0),
            )
            row: dict[str, Any] = {
                "level": level,
                "unit_code": code,
                "unit_name": u["unit_name"],
                "parent_code": u["parent_code"],
                "period": p.label,
                "period_start": p.start.isoformat(),
                "period_end": p.end.isoformat(),
                "population_start": ps,
                "population_end": pe,
                "average_population": avg,
                "population_start_male": int(by_sex.get((s, code, "M"), 0)),
                "population_start_female": int(by_sex.get((s, code, "F"), 0)),
                "population_end_male": int(by_sex.get((e, code, "M"), 0)),
                "population_end_female": int(by_sex.get((e, code, "F"), 0)),
                "births": births,
                "male_births": male,
                "female_births": female,
                "births_sex_unknown": births - male - female,
                "deaths": deaths,
                "in_migration": c("move_in") + c("transfer_in"),
                "out_migration": c("move_out") + c("transfer_out"),
                "move_in": c("move_in"),
                "move_out": c("move_out"),
                "transfer_in": c("transfer_in"),
                "transfer_out": c("transfer_out"),
                "enlistments": c("enlistments"),
                "discharges": c("discharges"),
                "cbr": demo.crude_birth_rate(births, avg),
                "cdr": demo.crude_death_rate(deaths, avg),
                "rni": demo.rate_of_natural_increase(births, deaths, avg),
                "srb": srb.ratio,
                "srb_low": srb.low,
                "srb_high": srb.high,
                "srb_insufficient": srb.insufficient,
                "births_mother_age_unknown": int(unknown),
                "tfr": tfr,
                "population_end_0_14": int(by_broad.get((e, code, "0_14"), 0)),
                "population_end_15_64": int(by_broad.get((e, code, "15_64"), 0)),
                "population_end_65_plus": int(by_broad.get((e, code, "65_plus"), 0)),
                "youth_dependency_ratio": dep.youth,
                "old_age_dependency_ratio": dep.old_age,
                "total_dependency_ratio": dep.total,
            }
            for rt in ("registered", "floating_out", "floating_in", "foreign"):
                row[f"population_start_{rt}"] = int(by_rt.get((s, code, rt), 0))
                row[f"population_end_{rt}"] = int(by_rt.get((e, code, rt), 0))
            for g, a in zip(FERTILE_GROUPS, asfr, strict=True):
                row[f"asfr_{g}_{g + 4}"] = a
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))

    # pyramid: start and end of each period by sex and five-year group
    pyr_parts = []
    for p in periods:
        for t, moment in ((ts(p.start), "start"), (ts(p.end), "end")):
            part = pop[pop["t"] == t].groupby(["unit_code", "sex", "age_group"], dropna=False)[
                "population"
            ].sum().reset_index()
            part.insert(0, "moment", moment)
            part.insert(0, "period", p.label)
            pyr_parts.append(part)
    pyramid = (
        pd.concat(pyr_parts, ignore_index=True)
        if pyr_parts
        else pd.DataFrame(columns=["period", "moment", "unit_code", "sex", "age_group", "population"])
    )
    pyramid.insert(0, "level", level)
    pyramid["population"] = pyramid["population"].astype("int64")
    return table, pyramid[list(PYRAMID_COLUMNS)]


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
