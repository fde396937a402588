"""Monthly reconciliation (月月清): registry births and deaths against outside sources.

No Django here: the input is a snapshot directory (docs/snapshot-format.md) — the registry's
``events`` and ``persons`` and the outside sources ``sources/hospital_births`` and
``sources/death_notices`` — plus the links between source records and registry persons,
found by the linkage engine (:func:`popreg.linkage.sources.match_source`, the Python entry
point of ``popreg match``) unless given.  docs/reconciliation.md defines every column.

Each registry event and each source record lands in exactly one category:

============  ===========================================================================
matched       a registry ``birth`` (``death``) event whose person a hospital birth record
              (death notice) is linked to.  Counted in the month and unit of the
              registry event.
registry_only a registry event that no source record is linked to (仅登记), e.g. a home
              birth.  Month and unit of the event.
source_only   a source record with no registry event of its kind for the linked person,
              or with no link at all (仅来源: 漏报, or a death not deregistered).  Month of
              the source date; unit: the linked person's registered unit, else the
              record's ``address_unit`` (empty = unknown, counted for the county only).
duplicate     a further source record linked to a person already matched by another
              record (two notices of one death): shown, never counted.
============  ===========================================================================

**Late registration** (迟报): a registry event (matched or registry_only) recorded more
than ``late_days`` days after it happened (``recorded_date − event_date``; default 30,
the one month of the Household Registration Regulations for births and rural deaths).

**Statistical accuracy rate** (统计求实率) = reported ÷ verified × 100 %, with *reported* =
matched + registry_only (events in the registry) and *verified* = matched + registry_only
+ source_only (every event known from either side, each counted once).  100 % means no
source knows of an event the registry lacks; it is empty when nothing is verified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from popreg.snapshot import SnapshotError, read_manifest, read_table, table_path

#: Days between the event and its registration above which it is a late registration.
LATE_DAYS = 30

#: kind -> (registry event type, source table, column of the source record's date)
KINDS: dict[str, tuple[str, str, str]] = {
    "birth": ("birth", "hospital_births", "birth_date"),
    "death": ("death", "death_notices", "death_date"),
}
CATEGORIES = ("matched", "registry_only", "source_only", "duplicate")
LEVEL_DIGITS = {"county": 6, "township": 9, "village": 12}

RECORD_COLUMNS: tuple[str, ...] = (
    "month", "kind", "category", "unit_code", "event_id", "person_id", "event_date",
    "recorded_date", "delay_days", "late", "source", "record_id", "source_date",
    "match_probability",
)  # fmt: skip

SUMMARY_COLUMNS: tuple[str, ...] = (
    "month", "level", "unit_code", "unit_name",
    "births_registry", "births_source", "births_matched", "births_registry_only",
    "births_source_only", "births_late",
    "deaths_registry", "deaths_source", "deaths_matched", "deaths_registry_only",
    "deaths_source_only", "deaths_late",
    "reported", "verified", "accuracy_rate",
)  # fmt: skip


class ReconciliationError(ValueError):
    """Bad input; the message is Chinese first, then English."""


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @classmethod
    def parse(cls, text: str) -> Month:
        m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ReconciliationError(
                f"月份格式不正确：{text!r}，应为 年-月，如 2025-09",
                f"month must be YYYY-MM such as 2025-09, got {text!r}",
            )
        return cls(int(m.group(1)), int(m.group(2)))


def months_of_year(year: int) -> list[Month]:
    return [Month(year, m) for m in range(1, 13)]


def _label(d: Any) -> str:
    return "" if d is None or d is pd.NaT else f"{d.year:04d}-{d.month:02d}"


def _date(v: Any) -> date | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v) or v == "":
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def _source_table(snapshot_dir: Path, name: str) -> pd.DataFrame | None:
    if not table_path(snapshot_dir, f"sources/{name}").is_file():
        return None
    return read_table(snapshot_dir, f"sources/{name}").to_pandas()


def _decided_links(df: pd.DataFrame) -> pd.DataFrame:
    """Links a person already decided in the live registry (popreg.sources: columns
    ``link_decided`` and ``link_person_id``; an empty person = "nobody in the registry"):
    these records are not linked again by the engine."""
    cols = ["record_id", "person_id", "match_probability"]
    if "link_decided" not in df.columns:
        return pd.DataFrame(columns=cols)
    mask = df["link_decided"].map(lambda v: v is True or v == 1 or str(v).lower() == "true")
    rows = df[mask]
    pids = rows["link_person_id"] if "link_person_id" in rows.columns else pd.Series([None] * len(rows))
    return pd.DataFrame({
        "record_id": rows["record_id"].astype(str).tolist(),
        "person_id": ["" if p is None or p != p else str(int(p)) for p in pids],
        "match_probability": [1.0] * len(rows),
    }, columns=cols)  # fmt: skip


def link_sources(snapshot_dir: str | Path, **match_options: Any) -> pd.DataFrame:
    """Links of every source record of the snapshot (columns source, record_id, person_id,
    match_probability), by the linkage engine; unmatched records have an empty person_id."""
    from popreg.linkage.sources import match_source  # Splink is imported only when linking

    frames = []
    for _kind, (_etype, name, _col) in KINDS.items():
        df = _source_table(Path(snapshot_dir), name)
        if df is None or df.empty:
            continue
        decided = _decided_links(df)
        rest = df[~df["record_id"].astype(str).isin(set(decided["record_id"]))]
        if len(rest):
            links = match_source(rest, snapshot_dir, kind=name, **match_options)
            decided = pd.concat([decided, links[["record_id", "person_id", "match_probability"]]],
                                ignore_index=True)
        decided.insert(0, "source", name)
        frames.append(decided[["source", "record_id", "person_id", "match_probability"]])
    if not frames:
        return pd.DataFrame(columns=["source", "record_id", "person_id", "match_probability"])
    return pd.concat(frames, ignore_index=True)


def _norm_links(links: pd.DataFrame) -> dict[tuple[str, str], tuple[int, float]]:
    out: dict[tuple[str, str], tuple[int, float]] = {}
    prob = links["match_probability"] if "match_probability" in links.columns else [1.0] * len(links)
    for src, rid, pid, p in zip(links["source"], links["record_id"], links["person_id"], prob, strict=True):
        if pid is None or pid == "" or (isinstance(pid, float) and pid != pid):
            continue
        out[(str(src), str(rid))] = (int(float(pid)), float(p))
    return out


def reconcile_records(
    snapshot_dir: str | Path,
    months: Sequence[Month],
    links: pd.DataFrame | None = None,
    *,
    late_days: int = LATE_DAYS,
) -> pd.DataFrame:
    """One row per registry event and source record of the months (RECORD_COLUMNS)."""
    root = Path(snapshot_dir)
    events, persons = _read_events_and_persons(root, snapshot_dir)
    if late_days < 0:
        raise ReconciliationError("迟报天数不能为负", "the late-registration limit cannot be negative")
    if links is None:
        links = link_sources(root)
    linked = _norm_links(links)
    reg_unit = dict(zip(persons["person_id"].astype("int64"), persons["registered_unit"], strict=True))
    rows: list[dict[str, Any]] = []
    for kind, (etype, source, date_col) in KINDS.items():
        ev = events[events["event_type"] == etype]
        # the registry event of each person (the first, should a history hold two)
        by_person: dict[int, dict[str, Any]] = {}
        for r in ev.sort_values("event_id").to_dict("records"):
            by_person.setdefault(int(r["person_id"]), r)
        matched_event, source_rows, source_dates = _source_records(
            root, kind, source, date_col, linked, by_person, reg_unit
        )
        rows += _registry_rows(kind, source, by_person, matched_event, source_dates, late_days)
        for r in source_rows:
            rows.append({**r, "event_date": "", "recorded_date": "", "delay_days": None, "late": False})
    return _record_frame(rows, {m.label for m in months})


def _read_events_and_persons(root: Path, snapshot_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        read_manifest(root)
        events = read_table(
            root, "events", columns=["event_id", "person_id", "event_type", "event_date",
                                     "recorded_date", "unit_code"],
        ).to_pandas()  # fmt: skip
        persons = read_table(root, "persons", columns=["person_id", "registered_unit"]).to_pandas()
    except (SnapshotError, OSError, KeyError) as exc:
        raise ReconciliationError(
            f"快照 {snapshot_dir} 无法读取：{exc}", f"snapshot {snapshot_dir} cannot be read: {exc}"
        ) from None
    return events, persons


def _source_records(
    root: Path,
    kind: str,
    source: str,
    date_col: str,
    linked: dict[tuple[str, str], tuple[int, float]],
    by_person: dict[int, dict[str, Any]],
    reg_unit: dict[Any, Any],
) -> tuple[dict[int, tuple[str, float]], list[dict[str, Any]], dict[str, str]]:
    """The source's records against the registry events of one kind: the event each record
    matched (first record per person), the rows of duplicate and source-only records, and
    every record's date."""
    src = _source_table(root, source)
    matched_event: dict[int, tuple[str, float]] = {}
    source_rows: list[dict[str, Any]] = []
    source_dates: dict[str, str] = {}
    if src is None:
        return matched_event, source_rows, source_dates
    if date_col not in src.columns:
        raise ReconciliationError(
            f"来源表 sources/{source} 缺少列 {date_col}",
            f"source table sources/{source} has no column {date_col}",
        )
    for rec in src.sort_values("record_id").to_dict("records"):
        rid = str(rec["record_id"])
        pid, prob = linked.get((source, rid), (None, 0.0))
        sdate = _date(rec[date_col])
        source_dates[rid] = sdate.isoformat() if sdate else ""
        base = {
            "kind": kind, "source": source, "record_id": rid,
            "source_date": sdate.isoformat() if sdate else "", "match_probability": prob,
            "person_id": pid,
        }  # fmt: skip
        if pid is not None and pid in by_person:
            e = by_person[pid]
            if pid in matched_event:
                source_rows.append({**base, "category": "duplicate", "event_id": int(e["event_id"]),
                                    "month": _label(_date(e["event_date"])),
                                    "unit_code": str(e["unit_code"] or "")[:12]})
                continue
            matched_event[pid] = (rid, prob)
            continue
        unit = reg_unit.get(pid) if pid is not None else None
        unit = unit or rec.get("address_unit")
        unit = "" if unit is None or unit != unit else str(unit)[:12]
        source_rows.append({**base, "category": "source_only", "event_id": None,
                            "month": _label(sdate), "unit_code": unit})
    return matched_event, source_rows, source_dates


def _registry_rows(
    kind: str,
    source: str,
    by_person: dict[int, dict[str, Any]],
    matched_event: dict[int, tuple[str, float]],
    source_dates: dict[str, str],
    late_days: int,
) -> list[dict[str, Any]]:
    """One row per registry event: matched to a source record or registry-only."""
    rows: list[dict[str, Any]] = []
    for pid, e in by_person.items():
        ed, rd = _date(e["event_date"]), _date(e["recorded_date"])
        delay = (rd - ed).days if ed and rd else None
        rid, prob = matched_event.get(pid, ("", 0.0))
        rows.append({
            "month": _label(ed), "kind": kind,
            "category": "matched" if rid else "registry_only",
            "unit_code": str(e["unit_code"] or "")[:12], "event_id": int(e["event_id"]),
            "person_id": pid, "event_date": ed.isoformat() if ed else "",
            "recorded_date": rd.isoformat() if rd else "", "delay_days": delay,
            "late": delay is not None and delay > late_days,
            "source": source if rid else "", "record_id": rid,
            "source_date": "", "match_probability": prob,
        })  # fmt: skip
        if rid:
            rows[-1]["source_date"] = source_dates.get(rid, "")
    return rows


def _record_frame(rows: list[dict[str, Any]], wanted: set[str]) -> pd.DataFrame:
    """The rows of the wanted months, sorted, with nullable integer ids."""
    out = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    out = out[out["month"].isin(wanted)]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    out = out.assign(_c=out["category"].map(order)).sort_values(
        ["month", "unit_code", "kind", "_c", "event_id", "record_id"], na_position="last"
    )
    out = out.drop(columns="_c").reset_index(drop=True)
    out["event_id"] = out["event_id"].astype("Int64")
    out["person_id"] = out["person_id"].astype("Int64")
    out["delay_days"] = out["delay_days"].astype("Int64")
    return out


def accuracy_rate(reported: int, verified: int) -> float | None:
    """统计求实率 = reported ÷ verified × 100 (%); None when nothing is verified."""
    return None if verified <= 0 else reported / verified * 100


def summarize(
    records: pd.DataFrame,
    units: pd.DataFrame,
    level: str = "village",
    *,
    months: Iterable[Month] | None = None,
    unit_prefix: str = "",
    by_month: bool = True,
) -> pd.DataFrame:
    """Counts per unit of ``level`` (and month, unless ``by_month`` is false) — SUMMARY_COLUMNS.

    ``units`` is the snapshot's units table; every unit of the level under ``unit_prefix``
    gets a row, with zeros where nothing happened.
    """
    if level not in LEVEL_DIGITS:
        raise ReconciliationError(
            f"单位层级只能是 county、township 或 village，收到 {level!r}",
            f"level must be county, township or village, got {level!r}",
        )
    digits = LEVEL_DIGITS[level]
    lv = units[(units["level"] == level) & units["unit_code"].astype(str).str.startswith(unit_prefix)]
    names = dict(zip(lv["unit_code"].astype(str), lv["name"], strict=True))
    month_labels = [m.label for m in months] if months is not None else sorted(set(records["month"]))
    if by_month:
        keys = month_labels
    else:  # one row per unit for the whole span, labelled first..last
        keys = [f"{month_labels[0]}..{month_labels[-1]}" if len(month_labels) > 1 else "".join(month_labels)]
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for r in records.to_dict("records"):
        if r["category"] == "duplicate":
            continue
        code = str(r["unit_code"] or "")
        if not code:
            if level != "county":
                continue
            code = next(iter(names), "")
        code = code[:digits].ljust(12, "0")
        if code not in names:
            continue
        mk = r["month"] if by_month else keys[0]
        c = counts.setdefault((mk, code), {})
        k = r["kind"] + "s"
        c[f"{k}_{r['category']}"] = c.get(f"{k}_{r['category']}", 0) + 1
        if r["late"] is True:
            c[f"{k}_late"] = c.get(f"{k}_late", 0) + 1
    rows = []
    for mk in keys:
        for code in sorted(names):
            c = counts.get((mk, code), {})
            row: dict[str, Any] = {"month": mk, "level": level, "unit_code": code, "unit_name": names[code]}
            reported = verified = 0
            for k in ("births", "deaths"):
                m, ro, so = c.get(f"{k}_matched", 0), c.get(f"{k}_registry_only", 0), c.get(f"{k}_source_only", 0)
                row.update({
                    f"{k}_registry": m + ro, f"{k}_source": m + so, f"{k}_matched": m,
                    f"{k}_registry_only": ro, f"{k}_source_only": so, f"{k}_late": c.get(f"{k}_late", 0),
                })  # fmt: skip
                reported += m + ro
                verified += m + ro + so
            row.update({"reported": reported, "verified": verified,
                        "accuracy_rate": accuracy_rate(reported, verified)})
            rows.append(row)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


@dataclass
class Reconciliation:
    months: list[Month]
    level: str
    unit_prefix: str
    records: pd.DataFrame
    summary: pd.DataFrame


def reconcile(
    snapshot_dir: str | Path,
    months: Sequence[Month],
    *,
    level: str = "village",
    unit: str | None = None,
    links: pd.DataFrame | None = None,
    late_days: int = LATE_DAYS,
    by_month: bool = True,
) -> Reconciliation:
    """Records and the per-unit summary of ``months`` (restricted to ``unit`` and below)."""
    root = Path(snapshot_dir)
    try:
        units = read_table(root, "units", columns=["unit_code", "name", "level"]).to_pandas()
    except (SnapshotError, OSError, KeyError) as exc:
        raise ReconciliationError(
            f"快照 {snapshot_dir} 无法读取：{exc}", f"snapshot {snapshot_dir} cannot be read: {exc}"
        ) from None
    prefix = ""
    if unit:
        row = units[units["unit_code"].astype(str) == unit]
        if row.empty or row.iloc[0]["level"] not in LEVEL_DIGITS:
            raise ReconciliationError(
                f"单位代码 {unit} 不在快照中（应为县、乡镇或村的 12 位代码）",
                f"unit {unit} is not in the snapshot (give the 12-digit code of a county, township or village)",
            )
        prefix = unit[: LEVEL_DIGITS[str(row.iloc[0]["level"])]]
    records = reconcile_records(root, months, links, late_days=late_days)
    if prefix:
        records = records[records["unit_code"].astype(str).str.startswith(prefix)].reset_index(drop=True)
    summary = summarize(records, units, level, months=months, unit_prefix=prefix, by_month=by_month)
    return Reconciliation(list(months), level, prefix, records, summary)


def yearly_accuracy(snapshot_dir: str | Path, year: int, level: str, links: pd.DataFrame | None = None) -> dict[str, float | None]:
    """统计求实率 of every unit of ``level`` over the twelve months of ``year``."""
    rec = reconcile(snapshot_dir, months_of_year(year), level=level, links=links, by_month=False)
    return dict(zip(rec.summary["unit_code"], rec.summary["accuracy_rate"], strict=True))
