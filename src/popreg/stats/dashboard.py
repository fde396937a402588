"""Data behind the statistics dashboards (统计看板): one statistics snapshot, one cached cube.

The dashboards never query the live registry.  A *statistics snapshot* is the registry
written with :func:`popreg.registry.snapshot.write_registry_snapshot` into
``$POPREG_HOME/snapshots/<moment>/`` (by ``popreg stats_refresh`` or the refresh button for
county staff); the newest one is used.  For each snapshot the indicator engine
(:mod:`popreg.stats.indicators`) runs once, over every unit of every level and every full
year of the last ten, for both populations, and its tables are written next to the
snapshot::

    snapshots/20261129T020000/            the snapshot (format v1)
    snapshots/20261129T020000/dashboard/
        meta.json                         cube version, years, reference moment
        indicators.parquet                engine table, all levels × years × populations
        pyramid.parquet                   engine pyramid at each year's end
        current.parquet                   population at the reference moment per village
        dse.parquet                       births: registry vs linked hospital records
        pages.json                        the same, indexed by unit for the pages

A page then reads pages.json once (kept in memory per process, keyed by the snapshot),
so it is a cheap read, and a published figure can always be traced to a snapshot.

Nothing here imports Django except :func:`snapshots_root` and :func:`refresh_snapshot`
(which need the settings and the registry).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from popreg.core import demography
from popreg.core import dse as dse_core
from popreg.core.population import concept as population_concept
from popreg.core.population import sql_unit, sql_where
from popreg.snapshot import format as snapfmt
from popreg.snapshot.connection import connect
from popreg.stats.indicators import (
    POPULATIONS,
    IndicatorError,
    Level,
    Population,
    SnapshotIndicators,
)

#: Bump when the files of the cube change meaning: older cubes are rebuilt.
CUBE_VERSION = 3
CUBE_DIR = "dashboard"
#: Trends cover at most this many full years.
TREND_YEARS = 10
LEVEL_ORDER: tuple[Level, ...] = ("county", "township", "village")
CHILD_LEVEL = {"county": "township", "township": "village"}

AGE_GROUPS: tuple[str, ...] = tuple(f"{a}-{a + 4}" for a in range(0, 85, 5)) + ("85+",)

#: Columns the comparison table can be sorted by (key → Chinese / English label).
RANK_KEYS: dict[str, tuple[str, str]] = {
    "population_end": ("年末人口", "population at year end"),
    "births": ("出生", "births"),
    "deaths": ("死亡", "deaths"),
    "cbr": ("出生率", "crude birth rate"),
    "cdr": ("死亡率", "crude death rate"),
    "rni": ("自然增长率", "natural growth rate"),
    "srb": ("出生人口性别比", "sex ratio at birth"),
    "tfr": ("总和生育率", "total fertility rate"),
    "total_dependency_ratio": ("总抚养比", "total dependency ratio"),
}


class DashboardError(Exception):
    """No usable statistics snapshot, or a bad request to the cube (Chinese, then English)."""


# ---------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------


def snapshots_root() -> Path:
    """``$POPREG_HOME/snapshots``."""
    from django.conf import settings

    return Path(settings.POPREG_HOME) / "snapshots"


def list_snapshots(root: Path) -> list[Path]:
    """Statistics snapshots under ``root``, oldest first (by directory name = moment)."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )  # fmt: skip


def latest_snapshot(root: Path | None = None) -> Path | None:
    found = list_snapshots(root or snapshots_root())
    return found[-1] if found else None


#: ``progress(done, total, stage)``: what a long step reports (a job's ``ctx.progress``).
Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, stage: str) -> None:
    return None


def refresh_snapshot(
    at: datetime | None = None,
    *,
    root: Path | None = None,
    build: bool = True,
    with_dse: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Write the registry as a new statistics snapshot and (by default) build its cube.

    Returns the snapshot directory.  See :func:`prepare_snapshot` and
    :func:`publish_snapshot`, the two halves.
    """
    tmp = prepare_snapshot(at, root=root, build=build, with_dse=with_dse, progress=progress)
    return publish_snapshot(tmp)


def prepare_snapshot(
    at: datetime | None = None,
    *,
    root: Path | None = None,
    build: bool = True,
    with_dse: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Write the snapshot *and* its cube into a hidden directory under ``root``.

    Nothing reads a hidden directory (:func:`list_snapshots` skips them), so a process
    killed half-way leaves no half-written snapshot in use; :func:`publish_snapshot`
    renames it into place.  A failure removes the hidden directory.
    """
    from popreg.registry.snapshot import write_registry_snapshot

    report = progress or _no_progress
    root = root or snapshots_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".writing-{datetime.now():%Y%m%d%H%M%S%f}-{os.getpid()}"
    try:
        report(0, 10, "snapshot")
        write_registry_snapshot(tmp, at)
        if build:
            build_cube(tmp, with_dse=with_dse, progress=progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def publish_snapshot(tmp: Path) -> Path:
    """Rename a snapshot written by :func:`prepare_snapshot` to its moment's name."""
    manifest = snapfmt.read_manifest(tmp)
    moment = datetime.fromisoformat(manifest["reference_moment"])
    final = tmp.parent / moment.strftime("%Y%m%dT%H%M%S")
    try:
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final


# ---------------------------------------------------------------------------------------
# Building the cube
# ---------------------------------------------------------------------------------------


def trend_years(snapshot_dir: Path) -> list[int]:
    """The full years the snapshot can answer, at most the last ``TREND_YEARS``."""
    eng = SnapshotIndicators(snapshot_dir)
    ref = eng.reference_moment.date()
    start = eng.history_start()
    if start is None:
        return []
    first = start.year if start.month == 1 else start.year + 1
    last = ref.year - 1
    first = max(first, last - TREND_YEARS + 1)
    return list(range(first, last + 1)) if first <= last else []


def year_to_date_end(snapshot_dir: Path) -> date | None:
    """End (exclusive) of the year to date the snapshot can answer: the first day of the
    reference moment's month, so the period holds the year's complete months before the
    moment (1 January – 31 October for a moment of 1 November); ``None`` in January or
    before the event history."""
    eng = SnapshotIndicators(snapshot_dir)
    ref = eng.reference_moment
    end = date(ref.year, ref.month, 1)
    start = eng.history_start()
    if end.month == 1 or start is None or start > date(ref.year, 1, 1):
        return None
    return end


def with_annualised(table: pd.DataFrame) -> pd.DataFrame:
    """The indicator table with the columns of a part of a year: ``year_to_date`` (the
    period ends before 1 January of the next year), ``period_days``, ``year_days`` and the
    crude rates per year ``cbr_annualised``, ``cdr_annualised``, ``rni_annualised``
    (:func:`popreg.core.demography.annualised_rate`; a full year's equal its rates)."""
    out = table.copy()
    starts = [date.fromisoformat(v) for v in out["period_start"]]
    ends = [date.fromisoformat(v) for v in out["period_end"]]
    out["period_days"] = [(e - s).days for s, e in zip(starts, ends, strict=True)]
    out["year_days"] = [(date(s.year + 1, 1, 1) - date(s.year, 1, 1)).days for s in starts]
    out["year_to_date"] = [e != date(s.year + 1, 1, 1) for s, e in zip(starts, ends, strict=True)]
    for key in ("cbr", "cdr", "rni"):
        out[f"{key}_annualised"] = [
            demography.annualised_rate(None if pd.isna(r) else float(r), d, y)
            for r, d, y in zip(out[key], out["period_days"], out["year_days"], strict=True)
        ]
    return out


def build_cube(
    snapshot_dir: str | Path, *, with_dse: bool = True, progress: Progress | None = None
) -> Path:
    """Compute the dashboard tables of one snapshot and write them next to it."""
    report = progress or _no_progress
    snap = Path(snapshot_dir)
    years = trend_years(snap)
    if not years:
        raise DashboardError(
            f"快照 {snap.name} 没有完整年份的事件历史，无法计算年度指标 / snapshot {snap.name} "
            "has no full year of event history: no yearly indicators can be computed"
        )
    out = snap / CUBE_DIR
    # A private directory per build, renamed into place when complete: two processes that
    # build the same cube at once do not mix their files.
    tmp = snap / f".{CUBE_DIR}-{os.getpid()}-{threading.get_ident()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    tables: list[pd.DataFrame] = []
    pyramids: list[pd.DataFrame] = []
    ytd_end = year_to_date_end(snap)
    steps = len(POPULATIONS) * len(LEVEL_ORDER) * (1 if ytd_end is None else 2)
    with connect(snap) as con:
        for population in POPULATIONS:
            eng = SnapshotIndicators(snap, population, con)
            parts = [(level, False) for level in LEVEL_ORDER]
            parts += [(level, True) for level in LEVEL_ORDER if ytd_end is not None]
            for level, to_date in parts:
                report(1 + len(tables), steps + 3, "indicators")
                if to_date:
                    assert ytd_end is not None
                    table, pyramid = eng.compute_year_to_date(ytd_end, level)
                else:
                    table, pyramid = eng.compute(years, level)
                tables.append(table.assign(population_type=population))
                assert pyramid is not None
                pyramids.append(pyramid[pyramid["moment"] == "end"].assign(population_type=population))
    indicators = with_annualised(pd.concat(tables, ignore_index=True))
    pyramid_all = pd.concat(pyramids, ignore_index=True)
    report(steps + 1, steps + 3, "pages")
    current = current_population(snap)
    indicators.to_parquet(tmp / "indicators.parquet", index=False)
    pyramid_all.to_parquet(tmp / "pyramid.parquet", index=False)
    current.to_parquet(tmp / "current.parquet", index=False)
    pages = _page_index(tmp, years)
    (tmp / "pages.json").write_text(json.dumps(pages, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    dse_info: dict[str, Any] = {"computed": False}
    if with_dse:
        report(steps + 2, steps + 3, "dse")
        counts, dse_info = dse_counts(snap)
        if counts is not None:
            counts.to_parquet(tmp / "dse.parquet", index=False)
    elif (out / "dse.parquet").is_file():  # a rebuilt cube keeps the linkage already done
        shutil.copy2(out / "dse.parquet", tmp / "dse.parquet")
        dse_info = json.loads((out / "meta.json").read_text(encoding="utf-8")).get("dse", dse_info)
    manifest = snapfmt.read_manifest(snap)
    meta = {
        "cube_version": CUBE_VERSION,
        "reference_moment": manifest["reference_moment"],
        "years": years,
        # the year to date: 1 January to ``end`` (exclusive), after the full years
        "year_to_date": None if ytd_end is None else {
            "year": ytd_end.year, "start": date(ytd_end.year, 1, 1).isoformat(),
            "end": ytd_end.isoformat(),
        },
        "built_at": datetime.now().isoformat(timespec="seconds"),
        "dse": dse_info,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    try:
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except OSError:  # another process put its (equal) cube in place first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def _page_index(cube: Path, years: Sequence[int]) -> dict[str, Any]:
    """What the pages read, keyed for direct look-up (written as pages.json).

    ``units``: [code, latest name, level, parent] of every unit; ``current_codes``: units
    present in the last year; ``rows``: engine rows per "population|unit", oldest year
    first; ``pyramid``: "population|unit|year" → male and female counts per age group
    (``AGE_GROUPS``) and the persons without sex or age; ``current``: population at the
    reference moment per population, village and sex.
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    units: dict[str, list[Any]] = {}
    current_codes: list[str] = []
    records = pq.read_table(cube / "indicators.parquet").to_pylist()
    records.sort(key=lambda r: (r["population_type"], r["unit_code"], r["period"]))
    for r in records:
        row = {k: _plain(v) for k, v in r.items()}
        rows.setdefault(f"{r['population_type']}|{r['unit_code']}", []).append(row)
        if r["population_type"] == "registered":
            known = units.get(r["unit_code"])
            if known is None or r["period"] >= known[4]:
                units[r["unit_code"]] = [r["unit_code"], r["unit_name"], r["level"],
                                         r["parent_code"] or None, r["period"]]  # fmt: skip
            if r["period"] == str(years[-1]):
                current_codes.append(r["unit_code"])
    pyramid: dict[str, dict[str, Any]] = {}
    p = pq.read_table(cube / "pyramid.parquet")
    columns = ("population_type", "unit_code", "period", "sex", "age_group", "population")
    for pop, code, period, sex, group, n in zip(
        *(p.column(c).to_pylist() for c in columns), strict=True
    ):
        entry = pyramid.get(f"{pop}|{code}|{period}")
        if entry is None:
            entry = pyramid[f"{pop}|{code}|{period}"] = {
                "M": [0] * len(AGE_GROUPS), "F": [0] * len(AGE_GROUPS), "unknown": 0,
            }  # fmt: skip
        if sex in ("M", "F") and group in AGE_GROUPS:
            entry[sex][AGE_GROUPS.index(group)] += int(n)
        else:
            entry["unknown"] += int(n)
    current: dict[str, dict[str, dict[str, int]]] = {}
    c = pq.read_table(cube / "current.parquet")
    for pop, unit, sex, n in zip(*(c.column(k).to_pylist() for k in ("population", "unit", "sex", "n")), strict=True):
        current.setdefault(pop, {}).setdefault(unit, {})[sex] = int(n)
    return {
        "units": [u[:4] for u in units.values()], "current_codes": sorted(current_codes),
        "rows": rows, "pyramid": pyramid, "current": current,
    }  # fmt: skip


def build_dse(snapshot_dir: str | Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Link the hospital births of a snapshot whose cube exists and add the DSE counts
    (each file written beside its place and renamed into it)."""
    report = progress or _no_progress
    snap = Path(snapshot_dir)
    out = snap / CUBE_DIR
    if not (out / "meta.json").is_file():
        build_cube(snap, with_dse=True, progress=progress)
        meta: dict[str, Any] = json.loads((out / "meta.json").read_text(encoding="utf-8"))
        return dict(meta["dse"])
    report(0, 2, "dse")
    counts, info = dse_counts(snap)
    report(1, 2, "saving")
    if counts is not None:
        counts.to_parquet(out / ".dse.parquet", index=False)
        (out / ".dse.parquet").replace(out / "dse.parquet")
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    meta["dse"] = info
    (out / ".meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / ".meta.json").replace(out / "meta.json")
    return info


def current_population(snapshot_dir: Path) -> pd.DataFrame:
    """Population at the reference moment per village (12-digit code) and sex.

    Both populations with the one definition of each (:mod:`popreg.core.population`; the
    registry pages, the API and the person-list exports count with the same): registered
    (active, ``registered``/``floating_out``, by ``registered_unit``) and resident (active,
    ``registered``/``floating_in``/``foreign``, by ``residence_unit`` falling back to
    ``registered_unit``); a record merged into another is not counted.
    """
    merged = "merged_into" in pq.read_schema(snapfmt.table_path(snapshot_dir, "persons")).names
    selects = []
    for population in POPULATIONS:
        c = population_concept(population)
        selects.append(
            f"""
            SELECT '{population}' AS population, substr({sql_unit(c)}, 1, 12) AS unit,
                   coalesce(sex, '') AS sex, count(*) AS n
            FROM persons
            WHERE {sql_where(c, merged_column=merged)}
            GROUP BY ALL
            """
        )
    with connect(snapshot_dir, tables=["persons"]) as con:
        return con.df(" UNION ALL ".join(selects) + " ORDER BY 1, 2, 3")


def dse_counts(snapshot_dir: Path) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Per village and year: registry births n1, hospital births n2, linked in both m.

    The hospital records (``sources/hospital_births``) are linked to registry persons by
    the linkage engine (:func:`popreg.linkage.sources.match_source`).  The window is from
    the first month the hospital source covers in full (:func:`popreg.core.dse.coverage_start`:
    a stray record with a mistyped early date does not open it) to the reference moment;
    registry births are the ``birth`` events dated in it, placed by the event's unit.  A
    linked hospital record takes the village and year of the registry birth it is linked
    to (so m never exceeds n1 or n2 of a cell); an unlinked one its own ``address_unit``
    and birth year, or no village when the address is missing (then it counts for the
    county only).
    """
    from popreg.linkage.sources import match_source

    hosp_path = snapshot_dir / "sources" / "hospital_births.parquet"
    if not hosp_path.is_file():
        return None, {"computed": False, "reason": "no_source"}
    manifest = snapfmt.read_manifest(snapshot_dir)
    ref = datetime.fromisoformat(manifest["reference_moment"]).date()
    hosp = snapfmt.read_table(snapshot_dir, "sources/hospital_births").to_pandas()
    if hosp.empty:
        return None, {"computed": False, "reason": "no_source"}
    hosp["birth_date"] = pd.to_datetime(hosp["birth_date"]).dt.date
    monthly = Counter((d.year, d.month) for d in hosp["birth_date"] if d is not None and d < ref)
    first = dse_core.coverage_start(dict(monthly))
    if first is None:
        return None, {"computed": False, "reason": "no_source"}
    start = date(first[0], first[1], 1)
    hosp = hosp[(hosp["birth_date"] >= start) & (hosp["birth_date"] < ref)]
    events = snapfmt.read_table(
        snapshot_dir, "events", ["person_id", "event_type", "event_date", "unit_code"]
    ).to_pandas()
    births = events[events["event_type"] == "birth"].copy()
    births["event_date"] = pd.to_datetime(births["event_date"]).dt.date
    births = births[(births["event_date"] >= start) & (births["event_date"] < ref)]
    births = births.drop_duplicates("person_id")
    births["unit"] = births["unit_code"].fillna("").str[:12]
    births["year"] = [d.year for d in births["event_date"]]
    links = match_source(hosp_path, snapshot_dir, kind="hospital_births")
    linked = links[links["status"] == "matched"][["record_id", "person_id", "rule"]].copy()
    linked["person_id"] = linked["person_id"].astype("int64")
    reg = births.set_index("person_id")[["unit", "year"]]
    linked = linked[linked["person_id"].isin(reg.index) & linked["record_id"].isin(set(hosp["record_id"]))]
    linked = linked.drop_duplicates("person_id").drop_duplicates("record_id")
    linked = linked.join(reg, on="person_id")
    unlinked = hosp[~hosp["record_id"].isin(set(linked["record_id"]))]
    rows: dict[tuple[str, int], list[int]] = {}

    def cell(unit: str, year: int) -> list[int]:
        return rows.setdefault((unit, year), [0, 0, 0])

    for unit, year in zip(births["unit"], births["year"], strict=True):
        cell(unit, int(year))[0] += 1
    for unit, year in zip(linked["unit"], linked["year"], strict=True):
        c = cell(unit, int(year))
        c[1] += 1
        c[2] += 1
    for unit, born in zip(unlinked["address_unit"], unlinked["birth_date"], strict=True):
        code = unit[:12] if isinstance(unit, str) and unit else ""
        cell(code, born.year)[1] += 1
    frame = pd.DataFrame(
        [(u, y, n1, n2, m) for (u, y), (n1, n2, m) in sorted(rows.items())],
        columns=["unit", "year", "n1", "n2", "m"],
    )
    info = {
        "computed": True,
        "window_start": start.isoformat(),
        "window_end": ref.isoformat(),
        "hospital_records": int(len(hosp)),
        "linked": int(len(linked)),
        # links made by the clerical rules of popreg match, not by the model: worth a look
        "linked_clerical": int((linked["rule"] != "model").sum()),
    }
    return frame, info


# ---------------------------------------------------------------------------------------
# Reading the cube
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearToDate:
    """The part of the reference moment's year the cube covers: ``start`` (1 January) to
    ``end`` (exclusive, the first of a month).  Its rows carry the year as their period."""

    year: int
    start: date
    end: date

    @property
    def last_day(self) -> date:
        """The last day counted (31 October for an end of 1 November)."""
        return date.fromordinal(self.end.toordinal() - 1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def year_days(self) -> int:
        return (date(self.year + 1, 1, 1) - self.start).days

    @property
    def to_zh(self) -> str:
        """截至10月31日"""
        return f"截至{self.last_day.month}月{self.last_day.day}日"

    @property
    def label_zh(self) -> str:
        """The period as printed: 2025年（本年累计，截至10月31日）."""
        return f"{self.year}年（本年累计，{self.to_zh}）"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent_code: str | None

    @property
    def prefix(self) -> str:
        return self.code[: {"county": 6, "township": 9}.get(self.level, 12)]


class Dashboard:
    """The cube of one snapshot, read into memory.  All unit arguments are codes."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.snapshot = snapshot_dir
        cube = snapshot_dir / CUBE_DIR
        self.meta: dict[str, Any] = json.loads((cube / "meta.json").read_text(encoding="utf-8"))
        self.reference_moment = datetime.fromisoformat(self.meta["reference_moment"])
        self.years: list[int] = list(self.meta["years"])
        ytd = self.meta.get("year_to_date")
        self.year_to_date: YearToDate | None = None if not ytd else YearToDate(
            int(ytd["year"]), date.fromisoformat(ytd["start"]), date.fromisoformat(ytd["end"])
        )
        pages: dict[str, Any] = json.loads((cube / "pages.json").read_text(encoding="utf-8"))
        dse_file = cube / "dse.parquet"
        self.dse = pd.read_parquet(dse_file) if dse_file.is_file() else None
        self.units: dict[str, Unit] = {code: Unit(code, name, level, parent)
                                       for code, name, level, parent in pages["units"]}  # fmt: skip
        self._current_codes = set(pages["current_codes"])
        self._rows: dict[str, list[dict[str, Any]]] = pages["rows"]
        self._pyramid: dict[str, dict[str, Any]] = pages["pyramid"]
        self._current: dict[str, dict[str, dict[str, int]]] = pages["current"]

    # -- units -------------------------------------------------------------------------

    @property
    def last_year(self) -> int:
        """The last full year (the pages open on it)."""
        return self.years[-1]

    @property
    def all_years(self) -> list[int]:
        """The full years, then the year to date's year when the cube has one."""
        return [*self.years, *([self.year_to_date.year] if self.year_to_date else [])]

    def is_year_to_date(self, year: int) -> bool:
        return self.year_to_date is not None and year == self.year_to_date.year

    def unit(self, code: str) -> Unit | None:
        return self.units.get(code)

    def county(self) -> Unit | None:
        for u in self.units.values():
            if u.level == "county":
                return u
        return None

    def ancestors(self, unit: Unit) -> list[Unit]:
        chain: list[Unit] = []
        parent = unit.parent_code
        while parent and parent in self.units:
            chain.append(self.units[parent])
            parent = self.units[parent].parent_code
        return list(reversed(chain))

    def children(self, unit: Unit, *, current_only: bool = True) -> list[Unit]:
        level = CHILD_LEVEL.get(unit.level)
        if level is None:
            return []
        return sorted(
            (u for u in self.units.values()
             if u.level == level and u.parent_code == unit.code
             and (not current_only or u.code in self._current_codes)),
            key=lambda u: u.code,
        )  # fmt: skip

    def home_unit(self, prefix: str) -> Unit | None:
        """The highest unit a jurisdiction prefix ("" = all) covers whole."""
        for level in LEVEL_ORDER:
            for u in sorted(self.units.values(), key=lambda u: u.code):
                if u.level == level and u.prefix.startswith(prefix):
                    return u
        return None

    # -- indicator rows ----------------------------------------------------------------

    def rows(self, code: str, population: Population = "registered") -> list[dict[str, Any]]:
        """The unit's indicator rows, one per year, oldest first (engine columns)."""
        return [dict(r) for r in self._rows.get(f"{population}|{code}", [])]

    def row(self, code: str, year: int, population: Population = "registered") -> dict[str, Any] | None:
        for r in self.rows(code, population):
            if r["period"] == str(year):
                return r
        return None

    def comparison(
        self,
        unit: Unit,
        year: int,
        population: Population = "registered",
        sort: str = "population_end",
        descending: bool = True,
    ) -> list[dict[str, Any]]:
        """The unit's children in ``year`` with their indicators and rank by ``sort``.

        Units without a value of ``sort`` (e.g. an SRB without girls) come last and get
        no rank; equal values share a rank (1, 2, 2, 4).
        """
        if sort not in RANK_KEYS:
            raise DashboardError(
                f"不能按 {sort} 排序，可选：{'、'.join(RANK_KEYS)} / cannot sort by {sort!r}; "
                f"choose one of {', '.join(RANK_KEYS)}"
            )
        out = []
        for child in self.children(unit):
            r = self.row(child.code, year, population)
            if r is not None:
                out.append(r)
        valued = [r for r in out if r.get(sort) is not None]
        valued.sort(key=lambda r: (-r[sort] if descending else r[sort], r["unit_code"]))
        rank = 0
        previous: Any = object()
        for i, r in enumerate(valued, start=1):
            if r[sort] != previous:
                rank = i
                previous = r[sort]
            r["rank"] = rank
        rest = sorted((r for r in out if r.get(sort) is None), key=lambda r: r["unit_code"])
        for r in rest:
            r["rank"] = None
        return valued + rest

    def age_pyramid(self, code: str, year: int, population: Population = "registered") -> dict[str, Any]:
        """Population at the end of ``year`` by five-year group: ``{"groups", "male", "female", "unknown"}``."""
        entry = self._pyramid.get(f"{population}|{code}|{year}")
        if entry is None:
            entry = {"M": [0] * len(AGE_GROUPS), "F": [0] * len(AGE_GROUPS), "unknown": 0}
        return {"groups": list(AGE_GROUPS), "male": list(entry["M"]),
                "female": list(entry["F"]), "unknown": entry["unknown"]}  # fmt: skip

    def population_now(self, unit: Unit) -> dict[str, int]:
        """Registered and resident population at the reference moment, with men and women."""
        out: dict[str, int] = {}
        for population in POPULATIONS:
            cells = [v for k, v in self._current.get(population, {}).items() if k.startswith(unit.prefix)]
            out[population] = sum(n for c in cells for n in c.values())
            out[f"{population}_male"] = sum(c.get("M", 0) for c in cells)
            out[f"{population}_female"] = sum(c.get("F", 0) for c in cells)
        return out

    # -- dual-system estimate ------------------------------------------------------------

    def dse_estimate(self, unit: Unit, years: Iterable[int] | None = None) -> DseRow | None:
        """Chapman estimate of the unit's births in the window (or the given years)."""
        if self.dse is None:
            return None
        d = self.dse
        if unit.level == "county":
            sel = d[d["unit"].str.startswith(unit.prefix) | (d["unit"] == "")]
        else:
            sel = d[d["unit"].str.startswith(unit.prefix)]
        if years is not None:
            sel = sel[sel["year"].isin(list(years))]
        n1, n2, m = (int(sel[c].sum()) for c in ("n1", "n2", "m"))
        est = dse_core.chapman(n1, n2, m) if n1 + n2 > 0 else None
        return DseRow(unit, n1, n2, m, est)

    def dse_years(self) -> list[int]:
        return [] if self.dse is None else sorted(int(y) for y in self.dse["year"].unique())


@dataclass(frozen=True)
class DseRow:
    unit: Unit
    n1: int  # registry births
    n2: int  # hospital birth records
    m: int  # hospital records linked to a registry birth
    estimate: dse_core.ChapmanEstimate | None

    @property
    def completeness(self) -> float | None:
        """Registry completeness n1 / N̂ in per cent."""
        c = None if self.estimate is None else self.estimate.completeness_1
        return None if c is None else 100.0 * c

    @property
    def missing_from_registry(self) -> float | None:
        """Estimated births not in the registry: N̂ − n1."""
        return None if self.estimate is None else self.estimate.estimate - self.n1


_CACHE: dict[tuple[str, float], Dashboard] = {}
_LOCK = threading.Lock()


def _cube_stamp(snapshot_dir: Path) -> float | None:
    meta = snapshot_dir / CUBE_DIR / "meta.json"
    if not meta.is_file():
        return None
    try:
        version = json.loads(meta.read_text(encoding="utf-8")).get("cube_version")
    except (OSError, ValueError):
        return None
    return meta.stat().st_mtime if version == CUBE_VERSION else None


def load_dashboard(snapshot_dir: Path | None = None, *, build: bool = True) -> Dashboard:
    """The dashboard of ``snapshot_dir`` (default: the latest statistics snapshot).

    Builds the cube when it is missing or of an older version (the "cold" first page),
    then keeps it in memory per process.
    """
    snap = snapshot_dir or latest_snapshot()
    if snap is None:
        raise DashboardError(
            "还没有统计快照：请县级统计人员点击“刷新统计快照”或运行 popreg stats_refresh / "
            "there is no statistics snapshot yet: county staff press 'refresh' or run "
            "popreg stats_refresh"
        )
    with _LOCK:
        stamp = _cube_stamp(snap)
        if stamp is None:
            if not build:
                raise DashboardError(
                    f"快照 {snap.name} 的统计数据尚未计算 / the cube of snapshot {snap.name} "
                    "is not built yet"
                )
            try:
                build_cube(snap, with_dse=False)
            except IndicatorError as exc:  # e.g. a snapshot without events
                raise DashboardError(str(exc)) from exc
            stamp = _cube_stamp(snap)
            assert stamp is not None
        key = (str(snap.resolve()), stamp)
        cached = _CACHE.get(key)
        if cached is None:
            _CACHE.clear()  # one snapshot at a time: the newest
            cached = Dashboard(snap)
            _CACHE[key] = cached
        return cached


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def unit_options(dash: Dashboard, units: Sequence[Unit]) -> list[dict[str, str]]:
    return [{"code": u.code, "name": u.name, "level": u.level} for u in units]
