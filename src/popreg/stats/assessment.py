"""Yearly assessment (考核): targets, scorecards, rankings and the lagging list.

No Django here.  The inputs are exactly three: a snapshot directory, a rule set
(:mod:`popreg.core.rules`, JSON) and the units' yearly targets (an Excel or CSV table,
see :func:`read_targets`).  From them :func:`assess` computes

- the indicator values of every unit of one level for the year, with the indicator engine
  (:class:`popreg.stats.indicators.SnapshotIndicators`), plus ``sexed_births`` (boys +
  girls, for the SRB's few-births rule) and, when a rule asks for it, ``accuracy_rate``
  (统计求实率 of the year from :mod:`popreg.stats.reconciliation`, sources linked by the
  linkage engine);
- one scorecard per unit (:func:`popreg.core.rules.evaluate`), its rank among peers (same
  level and parent), the lagging flag (bottom ``lagging_percent`` %), and the change
  against the previous year (same rules; that year's targets where given) when the
  snapshot covers it.

The web page and ``popreg assess`` both call :func:`assess` and write the table with
:func:`write_csv`, so the same inputs give the same bytes.  docs/assessment.md documents
the columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from popreg.core.rules import RuleError, RuleSet, Scorecard, Target, evaluate, parse_rule_set, rank
from popreg.registry.exports import neutralise_workbook
from popreg.registry.importing import ImportFileError, check_workbook
from popreg.snapshot import SnapshotError, read_manifest, read_table
from popreg.stats.indicators import IndicatorError, SnapshotIndicators

#: Indicators that do not come from the indicator table.
EXTRA_INDICATORS = ("sexed_births", "accuracy_rate")
RECONCILIATION_INDICATORS = ("accuracy_rate",)

#: Columns of the targets table: key, Chinese header, English header.
TARGET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("year", "年份"),
    ("unit_code", "单位代码"),
    ("unit_name", "单位名称"),
    ("indicator", "指标"),
    ("low", "下限"),
    ("high", "上限"),
    ("note", "备注"),
)
REQUIRED_TARGET_COLUMNS = ("year", "unit_code", "indicator")

BASE_COLUMNS: tuple[str, ...] = (
    "year", "level", "unit_code", "unit_name", "parent_code", "rules_name", "rules_version",
    "total", "max_points", "percent", "vetoed", "veto_rules", "rank", "peers", "lagging",
    "previous_total", "previous_rank", "total_change", "rank_change",
)  # fmt: skip
RULE_COLUMN_SUFFIXES = ("value", "low", "high", "outcome", "points", "basis", "count", "interval_low", "interval_high")


class AssessmentError(ValueError):
    """Bad input to the assessment; Chinese first, then English."""


@dataclass(frozen=True)
class TargetRow:
    year: int
    unit_code: str
    indicator: str
    low: float | None
    high: float | None
    unit_name: str = ""
    note: str = ""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"第 {self.row} 行「{self.column}」列：{self.message_zh} / row {self.row}, column {self.column}: {self.message_en}"


class TargetImportError(AssessmentError):
    """A targets file with bad rows; ``errors`` names each row and column.  Nothing is used."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        lines = [str(e) for e in self.errors[:50]]
        if len(self.errors) > 50:
            lines.append(f"……另有 {len(self.errors) - 50} 处错误 / … and {len(self.errors) - 50} more")
        super().__init__("目标表有错误，未导入任何行 / the targets file has errors, nothing was imported:\n" + "\n".join(lines))


# ---------------------------------------------------------------------------------------
# Targets: template, reading, validation
# ---------------------------------------------------------------------------------------


def _header_key(text: Any) -> str | None:
    t = str(text or "").strip().lower()
    for key, zh in TARGET_COLUMNS:
        if t in (key, zh, f"{zh} {key}", f"{zh}({key})", f"{zh}（{key}）") or t.endswith(f" {key}"):
            return key
    return None


def target_template(
    path_or_buffer: str | Path | io.BytesIO,
    year: int,
    units: Iterable[tuple[str, str]],
    rule_set: RuleSet | None = None,
) -> None:
    """Write the Excel template: one row per unit and rule indicator, bounds to fill in."""
    wb = Workbook()
    fill_target_template(wb, year, units, rule_set)
    neutralise_workbook(wb)
    wb.save(path_or_buffer)


def fill_target_template(
    wb: Workbook, year: int, units: Iterable[tuple[str, str]], rule_set: RuleSet | None = None
) -> None:
    """Fill ``wb`` as the targets template (downloads go through the export layer)."""
    ws = wb.active
    assert ws is not None
    ws.title = "目标 targets"
    ws.append([f"{zh} {key}" for key, zh in TARGET_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    indicators = [r.indicator for r in rule_set.rules] if rule_set else []
    for code, name in units:
        for ind in dict.fromkeys(indicators) or [""]:
            ws.append([year, code, name, ind, None, None, None])
    for col, width in zip("ABCDEFG", (8, 16, 20, 16, 10, 10, 24), strict=True):
        ws.column_dimensions[col].width = width
    help_ws = wb.create_sheet("说明 help")
    for line in (
        "每行一个单位一项指标的年度目标。下限、上限至少填一个；区间指标两个都可填。",
        "One row per unit and indicator. Fill low and/or high; a band takes both.",
        "年份 year: 4 位年份; 单位代码 unit_code: 12 位统计用区划代码; 指标 indicator: 规则中的指标名。",
        "下限 low / 上限 high: 数字（‰ 或 %，与规则相同）；留空则沿用规则的默认值。",
    ):
        help_ws.append([line])


def _cell_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _raw_rows(data: bytes, filename: str) -> list[list[Any]]:
    name = filename.lower()
    if name.endswith(".csv"):
        text = data.decode("utf-8-sig") if not data.startswith(b"\xff\xfe") else data.decode("utf-16")
        return [list(r) for r in csv.reader(io.StringIO(text))]
    if name.endswith((".xlsx", ".xlsm")):
        try:
            check_workbook(data)  # too big unpacked, or a gigantic cell: refused unread
        except ImportFileError as exc:
            raise AssessmentError(exc.message_zh, exc.message_en) from None
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise AssessmentError(
                f"无法读取 Excel 文件 {filename}：{exc}", f"cannot read the Excel file {filename}: {exc}"
            ) from None
        ws = wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    raise AssessmentError(
        f"目标文件 {filename} 应为 .xlsx 或 .csv", f"the targets file {filename} must be .xlsx or .csv"
    )


def _num(text: str) -> float | None:
    if text == "":
        return None
    try:
        v = float(text.replace("%", "").replace("‰", ""))
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def read_targets(
    data: bytes | str | Path,
    filename: str | None = None,
    *,
    units: Mapping[str, str] | None = None,
    indicators: Iterable[str] | None = None,
) -> list[TargetRow]:
    """Rows of a targets file (xlsx or csv), validated; :class:`TargetImportError` if any is bad.

    ``units`` (code → name) and ``indicators`` restrict the allowed unit codes and
    indicator names when given.
    """
    if not isinstance(data, bytes):
        path = Path(data)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise AssessmentError(f"无法读取目标文件 {path}：{exc}", f"cannot read the targets file {path}: {exc}") from None
        filename = filename or path.name
        data = raw
    rows = _raw_rows(data, filename or "targets.xlsx")
    header = _target_header(rows)
    allowed = set(indicators) if indicators is not None else None
    out: list[TargetRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[int, str, str], int] = {}
    for n, raw_row in enumerate(rows[1:], start=2):
        cells = {k: _cell_text(v) for k, v in zip(header, raw_row, strict=False) if k}
        if not cells.get("low") and not cells.get("high"):
            continue  # a blank line, or a template row left empty: no target, the rule's bounds hold
        row = _target_row(n, cells, units, allowed, seen)
        if isinstance(row, TargetRow):
            out.append(row)
        else:
            errors += row
    if errors:
        raise TargetImportError(errors)
    return out


def _target_header(rows: list[list[Any]]) -> list[str]:
    """The column keys of the header row; an empty file or a missing column is an error."""
    if not rows:
        raise TargetImportError([RowError(1, "表头 header", "文件是空的", "the file is empty")])
    header = [_header_key(h) for h in rows[0]]
    missing = [k for k in REQUIRED_TARGET_COLUMNS if k not in header]
    if missing:
        zh = {k: z for k, z in TARGET_COLUMNS}
        raise TargetImportError([RowError(
            1, "表头 header",
            "缺少列：" + "、".join(f"{zh[k]} {k}" for k in missing) + "（请使用目标模板）",
            "missing columns: " + ", ".join(missing) + " (use the targets template)",
        )])  # fmt: skip
    return header


def _target_row(
    n: int,
    cells: Mapping[str, str],
    units: Mapping[str, str] | None,
    allowed: set[str] | None,
    seen: dict[tuple[int, str, str], int],
) -> TargetRow | list[RowError]:
    """Row ``n`` as a target, or the problems of its cells (``seen`` notes it for repeats)."""
    row_errors: list[RowError] = []
    year_t = cells.get("year", "")
    year = int(year_t) if re.fullmatch(r"\d{4}", year_t) else None
    if year is None:
        row_errors.append(RowError(n, "年份 year", f"应为 4 位年份，收到 {year_t!r}", f"must be a 4-digit year, got {year_t!r}"))
    code = cells.get("unit_code", "")
    if not re.fullmatch(r"\d{12}", code):
        row_errors.append(RowError(n, "单位代码 unit_code", f"应为 12 位数字代码，收到 {code!r}", f"must be a 12-digit code, got {code!r}"))
    elif units is not None and code not in units:
        row_errors.append(RowError(n, "单位代码 unit_code", f"单位 {code} 不在该层级的单位中，请核对代码", f"unit {code} is not a unit of this level; check the code"))
    ind = cells.get("indicator", "")
    if not ind:
        row_errors.append(RowError(n, "指标 indicator", "不能为空", "is required"))
    elif allowed is not None and ind not in allowed:
        row_errors.append(RowError(
            n, "指标 indicator", f"指标 {ind} 不在规则中，可用：{'、'.join(sorted(allowed))}",
            f"indicator {ind} is not in the rules; use one of {', '.join(sorted(allowed))}",
        ))  # fmt: skip
    low, high = _num(cells.get("low", "")), _num(cells.get("high", ""))
    for key, label, v in (("low", "下限 low", low), ("high", "上限 high", high)):
        if v is not None and math.isnan(v):
            row_errors.append(RowError(n, label, f"应为数字，收到 {cells.get(key)!r}", f"must be a number, got {cells.get(key)!r}"))
    if low is not None and high is not None and not math.isnan(low) and not math.isnan(high) and low > high:
        row_errors.append(RowError(n, "下限 low / 上限 high", f"下限 {low:g} 大于上限 {high:g}，请对调", f"low {low:g} is above high {high:g}; swap them"))
    if not row_errors and year is not None:
        key3 = (year, code, ind)
        if key3 in seen:
            row_errors.append(RowError(
                n, "指标 indicator", f"与第 {seen[key3]} 行重复（同一年份、单位和指标）",
                f"repeats row {seen[key3]} (same year, unit and indicator)",
            ))  # fmt: skip
        seen[key3] = n
    if row_errors:
        return row_errors
    assert year is not None
    return TargetRow(year, code, ind, low, high, cells.get("unit_name", ""), cells.get("note", ""))


def targets_by_unit(rows: Iterable[TargetRow], year: int) -> dict[str, dict[str, Target]]:
    out: dict[str, dict[str, Target]] = {}
    for r in rows:
        if r.year == year:
            out.setdefault(r.unit_code, {})[r.indicator] = Target(r.low, r.high)
    return out


def targets_checksum(rows: Iterable[TargetRow]) -> str:
    canon = sorted((r.year, r.unit_code, r.indicator, r.low, r.high) for r in rows)
    return hashlib.sha256(json.dumps(canon).encode()).hexdigest()


def read_rule_set(path: str | Path) -> RuleSet:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AssessmentError(f"无法读取规则文件 {path}：{exc}", f"cannot read the rule file {path}: {exc}") from None
    try:
        return parse_rule_set(text)
    except RuleError as exc:
        raise AssessmentError(f"规则文件 {path}：{exc.message_zh}", f"rule file {path}: {exc.message_en}") from None


# ---------------------------------------------------------------------------------------
# Indicator values
# ---------------------------------------------------------------------------------------

_LINK_CACHE: dict[tuple[str, str], pd.DataFrame] = {}


def snapshot_checksum(snapshot_dir: str | Path) -> str:
    manifest = read_manifest(snapshot_dir)
    return hashlib.sha256(json.dumps(manifest.get("checksums", {}), sort_keys=True).encode()).hexdigest()


def source_links(snapshot_dir: str | Path) -> pd.DataFrame:
    """Links of the snapshot's source records (computed once per snapshot and process)."""
    from popreg.stats.reconciliation import link_sources

    key = (str(Path(snapshot_dir).resolve()), snapshot_checksum(snapshot_dir))
    if key not in _LINK_CACHE:
        while len(_LINK_CACHE) >= 4:  # a few snapshots at most: links are cheap to redo
            _LINK_CACHE.pop(next(iter(_LINK_CACHE)))
        _LINK_CACHE[key] = link_sources(snapshot_dir)
    return _LINK_CACHE[key]


def _clean(v: Any) -> float | None:
    if v is None or isinstance(v, str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def unit_values(
    snapshot_dir: str | Path,
    year: int,
    level: str,
    needed: Iterable[str],
    *,
    population: str = "registered",
    links: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, float | None]]]:
    """(units table, values by unit code) for ``year`` at ``level``."""
    try:
        eng = SnapshotIndicators(snapshot_dir, population)  # type: ignore[arg-type]
        table, _ = eng.compute([year], level, with_pyramid=False)  # type: ignore[arg-type]
    except (IndicatorError, SnapshotError) as exc:
        raise AssessmentError(str(exc), str(exc)) from None
    needed = list(needed)
    unknown = [n for n in needed if n not in table.columns and n not in EXTRA_INDICATORS]
    if unknown:
        raise AssessmentError(
            f"规则中的指标 {'、'.join(unknown)} 无法计算；请在考核规则页的指标列表中另选一项",
            f"rule indicator(s) {', '.join(unknown)} cannot be computed; choose another from the indicator list "
            "of the assessment rules page",
        )
    values: dict[str, dict[str, float | None]] = {}
    for r in table.to_dict("records"):
        v = {k: _clean(r[k]) for k in table.columns if k not in ("level", "unit_code", "unit_name", "parent_code", "period", "period_start", "period_end")}
        v["sexed_births"] = float((r["male_births"] or 0) + (r["female_births"] or 0))
        values[r["unit_code"]] = v
    if any(n in RECONCILIATION_INDICATORS for n in needed):
        from popreg.stats.reconciliation import yearly_accuracy

        acc = yearly_accuracy(snapshot_dir, year, level, links if links is not None else source_links(snapshot_dir))
        for code, v in values.items():
            v["accuracy_rate"] = _clean(acc.get(code))
    units = table[["unit_code", "unit_name", "parent_code"]].reset_index(drop=True)
    return units, values


# ---------------------------------------------------------------------------------------
# Assessment
# ---------------------------------------------------------------------------------------


@dataclass
class Assessment:
    year: int
    level: str
    rule_set: RuleSet
    table: pd.DataFrame
    scorecards: dict[str, Scorecard]
    reference_moment: str = ""
    snapshot_checksum: str = ""
    targets_checksum: str = ""
    previous_available: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lagging(self) -> pd.DataFrame:
        return self.table[self.table["lagging"]]


def _scores(
    rule_set: RuleSet, values: Mapping[str, Mapping[str, float | None]], targets: Mapping[str, Mapping[str, Target]]
) -> dict[str, Scorecard]:
    return {code: evaluate(rule_set, code, v, targets.get(code)) for code, v in values.items()}


def rule_columns(rule_set: RuleSet, card: Scorecard, values: Mapping[str, float | None]) -> dict[str, Any]:
    """The ``<id>_*`` columns of one unit: value, bounds, outcome, points, and how it was
    judged (``basis``; for a few-events rule the count and the interval it was judged by)."""
    row: dict[str, Any] = {}
    for rule, res in zip(rule_set.rules, card.results, strict=True):
        fe = rule.few_events
        row[f"{res.rule_id}_value"] = res.value
        row[f"{res.rule_id}_low"] = res.low
        row[f"{res.rule_id}_high"] = res.high
        row[f"{res.rule_id}_outcome"] = res.outcome
        row[f"{res.rule_id}_points"] = res.points
        row[f"{res.rule_id}_basis"] = res.basis
        row[f"{res.rule_id}_count"] = _clean(values.get(fe.count)) if fe else None
        row[f"{res.rule_id}_interval_low"] = _clean(values.get(fe.low)) if fe else None
        row[f"{res.rule_id}_interval_high"] = _clean(values.get(fe.high)) if fe else None
    return row


@dataclass(frozen=True)
class PreviewRow:
    unit_code: str
    unit_name: str
    parent_code: str
    card: Scorecard
    columns: dict[str, Any]
    rank: int
    peers: int


def preview(
    snapshot_dir: str | Path,
    year: int,
    level: str,
    rule_set: RuleSet,
    targets: Sequence[TargetRow] = (),
    *,
    population: str = "registered",
) -> list[PreviewRow]:
    """Every unit's scorecard for ``year`` under a rule set not yet saved (no comparison
    with the previous year): what the rules page shows before saving."""
    if level not in ("county", "township", "village"):
        raise AssessmentError(
            f"单位层级只能是 county、township 或 village，收到 {level!r}",
            f"level must be county, township or village, got {level!r}",
        )
    units, values = unit_values(snapshot_dir, year, level, rule_set.indicators, population=population)
    cards = _scores(rule_set, values, targets_by_unit(targets, year))
    parents = dict(zip(units["unit_code"], units["parent_code"].fillna(""), strict=True))
    standing = rank(cards.values(), parents)
    out = [
        PreviewRow(u["unit_code"], u["unit_name"], parents[u["unit_code"]], cards[u["unit_code"]],
                   rule_columns(rule_set, cards[u["unit_code"]], values[u["unit_code"]]),
                   standing[u["unit_code"]].rank, standing[u["unit_code"]].peers)
        for u in units.to_dict("records")
    ]  # fmt: skip
    return sorted(out, key=lambda r: (r.parent_code, r.rank, r.unit_code))


def assess(
    snapshot_dir: str | Path,
    year: int,
    level: str,
    rule_set: RuleSet,
    targets: Sequence[TargetRow] = (),
    *,
    lagging_percent: float = 10.0,
    population: str = "registered",
    links: pd.DataFrame | None = None,
) -> Assessment:
    """Scorecards, ranks, lagging flags and change against last year (see module doc)."""
    if level not in ("county", "township", "village"):
        raise AssessmentError(
            f"单位层级只能是 county、township 或 village，收到 {level!r}",
            f"level must be county, township or village, got {level!r}",
        )
    try:
        manifest = read_manifest(snapshot_dir)
    except SnapshotError as exc:
        raise AssessmentError(f"快照无法读取：{exc}", f"cannot read the snapshot: {exc}") from None
    needed = rule_set.indicators
    if links is None and any(n in RECONCILIATION_INDICATORS for n in needed):
        links = source_links(snapshot_dir)
    units, values = unit_values(snapshot_dir, year, level, needed, population=population, links=links)
    known = set(units["unit_code"])
    stray = sorted({t.unit_code for t in targets if t.year in (year, year - 1)} - known)
    notes = [f"目标表中的单位 {c} 不在 {level} 层级中，已忽略 / target unit {c} is not a {level} unit; ignored" for c in stray]
    parents = dict(zip(units["unit_code"], units["parent_code"].fillna(""), strict=True))
    cards = _scores(rule_set, values, targets_by_unit(targets, year))
    standing = rank(cards.values(), parents, lagging_percent)
    prev_cards: dict[str, Scorecard] = {}
    prev_standing = {}
    try:
        _pu, prev_values = unit_values(snapshot_dir, year - 1, level, needed, population=population, links=links)
    except AssessmentError:
        prev_values = {}
    if prev_values:
        prev_cards = _scores(rule_set, prev_values, targets_by_unit(targets, year - 1))
        prev_standing = rank(prev_cards.values(), parents, lagging_percent)
    rows = []
    for u in units.to_dict("records"):
        code = u["unit_code"]
        card, st = cards[code], standing[code]
        prev, pst = prev_cards.get(code), prev_standing.get(code)
        row: dict[str, Any] = {
            "year": year, "level": level, "unit_code": code, "unit_name": u["unit_name"],
            "parent_code": u["parent_code"] or "", "rules_name": rule_set.name,
            "rules_version": rule_set.version, "total": card.total, "max_points": card.max_points,
            "percent": card.percent, "vetoed": card.vetoed, "veto_rules": ";".join(card.veto_rules),
            "rank": st.rank, "peers": st.peers, "lagging": st.lagging,
            "previous_total": prev.total if prev else None,
            "previous_rank": pst.rank if pst else None,
            "total_change": card.total - prev.total if prev else None,
            # positive = moved up (a smaller rank number)
            "rank_change": pst.rank - st.rank if pst else None,
        }  # fmt: skip
        row.update(rule_columns(rule_set, card, values[code]))
        rows.append(row)
    columns = list(BASE_COLUMNS) + [f"{r.id}_{s}" for r in rule_set.rules for s in RULE_COLUMN_SUFFIXES]
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values(["parent_code", "rank", "unit_code"], kind="stable").reset_index(drop=True)
    for c in ("previous_rank", "rank_change"):
        table[c] = table[c].astype("Int64")
    return Assessment(
        year=year, level=level, rule_set=rule_set, table=table, scorecards=cards,
        reference_moment=str(manifest.get("reference_moment", "")),
        snapshot_checksum=snapshot_checksum(snapshot_dir),
        targets_checksum=targets_checksum(targets), previous_available=bool(prev_values), notes=notes,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------


def to_csv_bytes(result: Assessment) -> bytes:
    """The scorecard table as CSV (UTF-8, full-precision floats): the CLI's and the page's."""
    return result.table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_csv(result: Assessment, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(to_csv_bytes(result))


def to_xlsx_bytes(result: Assessment, made_by: str = "") -> bytes:
    """Workbook: scorecards, the lagging list, and what the scores came from."""
    wb = Workbook()
    fill_scorecards_workbook(wb, result, made_by)
    neutralise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def fill_scorecards_workbook(wb: Workbook, result: Assessment, made_by: str = "") -> None:
    """Fill ``wb`` with the scorecards (downloads go through the export layer)."""
    ws = wb.active
    assert ws is not None
    ws.title = "考核结果 scorecards"

    def put(sheet: Any, df: pd.DataFrame) -> None:
        sheet.append(list(df.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for rec in df.itertuples(index=False):
            sheet.append([None if (v is pd.NA or (isinstance(v, float) and math.isnan(v))) else
                          (v.item() if hasattr(v, "item") else v) for v in rec])  # fmt: skip

    put(ws, result.table)
    put(wb.create_sheet("后进单位 lagging"), result.lagging)
    about = wb.create_sheet("说明 about")
    for k, v in (
        ("考核年度 year", result.year), ("层级 level", result.level),
        ("规则 rules", f"{result.rule_set.name} v{result.rule_set.version}"),
        ("规则校验和 rules sha256", result.rule_set.checksum()),
        ("快照时点 snapshot reference moment", result.reference_moment),
        ("快照校验和 snapshot checksum", result.snapshot_checksum),
        ("目标校验和 targets sha256", result.targets_checksum),
        ("导出人 exported by", made_by),
    ):  # fmt: skip
        about.append([k, v])


def level_units(snapshot_dir: str | Path, level: str | None) -> dict[str, str]:
    """Code → name of the snapshot's units of ``level`` (None: county, townships and
    villages), for validating targets."""
    try:
        t = read_table(snapshot_dir, "units", columns=["unit_code", "name", "level"]).to_pandas()
    except (SnapshotError, OSError) as exc:
        raise AssessmentError(f"快照无法读取：{exc}", f"cannot read the snapshot: {exc}") from None
    t = t[t["level"] == level] if level else t[t["level"].isin(["county", "township", "village"])]
    return dict(zip(t["unit_code"].astype(str), t["name"], strict=True))
