"""Automatic anomaly detection (自动发现问题) for verification campaigns.

Every rule is a documented query (docs/anomalies.md) over a snapshot directory (format v1,
docs/snapshot-format.md), run with DuckDB.  The result is a list of :class:`Finding`; the
campaign workflow turns each into a rectification item, and ``popreg audit`` writes them as
CSV::

    findings = detect_anomalies("var/demo-county", unit="411122103000")
    write_findings_csv(findings, "findings.csv")

Outside sources (death notices, hospital births) are linked to registry persons by the
linkage engine when its links are passed in (``source_links``); otherwise by a simple,
deterministic fallback: exact normalised ID number first, then normalised name + birth date.
Duplicates come from the linkage engine's clusters when given (``duplicate_clusters``);
otherwise two active records with the same normalised ID number are duplicates.

The rules read files, never the registry database; the Chinese labels they write into
item details come from the registry's choice vocabulary, so Django must be set up.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from popreg.campaigns import _anomaly_rules as rules
from popreg.campaigns._anomaly_base import Finding as Finding
from popreg.campaigns._anomaly_base import RuleContext
from popreg.campaigns._anomaly_base import normalize_id_number as normalize_id_number
from popreg.campaigns._anomaly_base import normalize_name as normalize_name
from popreg.snapshot import SnapshotError, read_manifest
from popreg.snapshot.connection import SnapshotConnection, connect

#: Columns of ``popreg audit`` output, in order (a contract other tools rely on).
CSV_COLUMNS = ("record_id", "source", "anomaly_type", "detail")

SOURCES = ("registry", "hospital_births", "death_notices")

#: Every anomaly type with its Chinese label.  The first ten are the defect vocabulary of
#: the snapshot format (truth/defects.csv); the rest have no defect type there.
ANOMALY_TYPES: dict[str, str] = {
    "duplicate": "重复登记（重户重口）",
    "living_away": "人户分离",
    "death_not_deregistered": "死亡应销未销",
    "enlisted_not_deregistered": "入伍应销未销",
    "pending_registration": "户口待定超期",
    "id_checksum_error": "身份证号校验位错误",
    "id_birthdate_mismatch": "身份证号与出生日期不符",
    "id_sex_mismatch": "身份证号与性别不符",
    "missing_field": "必填项缺失",
    "unregistered_birth": "出生未登记",
    "id_region_invalid": "身份证号地址码在出生时无效",
    "implausible_age": "年龄超过110岁",
    "implausible_mother_age": "生育时母亲年龄异常",
    "future_event": "日期晚于标准时点",
    "death_notice_unmatched": "死亡通报无法对应户籍人员",
    # migrants (popreg.migrants)
    "unreported_migrant": "流动人口未按期申报",
}

#: Anomaly types found only in a snapshot of this registry: their evidence lives in the
#: database, not in the snapshot (migrants: who lives or works at a registered place).
LIVE_REGISTRY_TYPES = ("unreported_migrant",)

#: Anomaly types that are also defect types of the snapshot format.
DEFECT_TYPES = tuple(list(ANOMALY_TYPES)[:10])

class AuditError(Exception):
    """Bad input to the audit (unknown unit, unreadable snapshot).  Chinese, then English."""


# ---------------------------------------------------------------------------------------
# the engine


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise AuditError(
            f"标准时点“{value}”不是有效的日期时间（例：2025-11-01T00:00:00）/ "
            f"reference moment {value!r} is not an ISO date-time"
        ) from exc


def _open(snapshot_dir: Path) -> tuple[SnapshotConnection, dict[str, bool]]:
    """A DuckDB connection with the core tables and the outside sources present as views."""
    con = connect(snapshot_dir)
    for name in ("units", "households", "persons", "events"):
        if not con.has_table(name):
            con.close()
            raise AuditError(
                f"快照缺少数据表 {name}（{name}.parquet）/ snapshot {snapshot_dir} has no table {name}"
            )
        con.view(name)
    present = {}
    for name in ("hospital_births", "death_notices"):
        present[name] = con.has_table(f"sources/{name}")
        if present[name]:
            con.view(f"sources/{name}")
    return con, present


def unit_prefix(con: duckdb.DuckDBPyConnection | None, unit: str) -> str:
    """Code prefix of a unit: county 6 digits, township 9, village 12, group 15.

    The level comes from the units table when the unit is listed there, else from the
    shape of the code (trailing zeros).
    """
    code = unit.strip()
    if not code.isdigit() or len(code) not in (6, 9, 12, 15):
        raise AuditError(
            f"单位代码“{unit}”无效：应为12位统计用区划代码（村民小组15位）/ "
            f"unit code {unit!r} is not a 12-digit division code (15 for a group)"
        )
    if len(code) in (6, 9):
        return code
    level = None
    if con is not None:
        found = con.execute("SELECT level FROM units WHERE unit_code = ? LIMIT 1", [code]).fetchall()
        if not found:
            raise AuditError(
                f"快照中没有单位代码“{code}”，请核对代码 / unit {code} is not in the snapshot"
            )
        level = found[0][0]
    lengths = {"county": 6, "township": 9, "village": 12, "group": 15}
    if level in lengths:
        return code[: lengths[level]]
    if len(code) == 15:
        return code
    if code.endswith("000000"):
        return code[:6]
    if code.endswith("000"):
        return code[:9]
    return code


def detect_anomalies(
    snapshot_dir: str | Path,
    *,
    unit: str | None = None,
    reference_moment: Any = None,
    pending_days: int = 180,
    duplicate_clusters: Iterable[Iterable[int]] | None = None,
    source_links: Mapping[tuple[str, str], int] | None = None,
) -> list[Finding]:
    """Run every rule on a snapshot; return the findings sorted by type, source and record.

    ``unit`` restricts the findings to persons whose registered or residence unit code
    starts with the unit's prefix (and to source records whose stated address or linked
    person is in it).  ``reference_moment`` defaults to the snapshot's.
    ``duplicate_clusters``: groups of person_ids that are one human (linkage engine).
    ``source_links``: ``(source, record_id) -> person_id`` links (linkage engine).
    """
    root = Path(snapshot_dir)
    try:
        manifest = read_manifest(root)
    except SnapshotError as exc:
        raise AuditError(f"无法读取快照目录：{exc} / cannot read snapshot: {exc}") from exc
    ref = _as_datetime(reference_moment if reference_moment is not None else manifest["reference_moment"])
    con, present = _open(root)
    try:
        person_columns = {r[0] for r in con.rows("DESCRIBE persons")}
        # the rules use DuckDB's own connection: they register Python functions on it
        ctx = RuleContext(
            con.native, ref, pending_days, person_columns,
            present["hospital_births"], present["death_notices"],
        )
        prefix = unit_prefix(con.native, unit) if unit else None
        findings: list[Finding] = []
        for check in rules.RULES:
            findings.extend(check(ctx, duplicate_clusters, source_links))
    finally:
        con.close()
    if prefix is not None:
        findings = [f for f in findings if any(u.startswith(prefix) for u in f.scope_units if u)]
    return sorted(findings, key=_sort_key)


def _sort_key(f: Finding) -> tuple[int, str, int, str, str]:
    order = list(ANOMALY_TYPES)
    rid = int(f.record_id) if f.record_id.isdigit() else 0
    return (order.index(f.anomaly_type), f.source, rid, f.record_id, f.detail)


def read_clusters_csv(path: str | Path) -> list[list[int]]:
    """Groups of person_ids from ``popreg dedupe``'s clusters.csv (record_id, cluster_id).

    The record ids must be registry person_ids (dedupe run on the registry's persons).
    """
    groups: dict[str, list[int]] = {}
    for n, row in enumerate(_read_csv(path, ("record_id", "cluster_id")), start=2):
        rid = (row.get("record_id") or "").strip()
        if not rid.isdigit():
            raise AuditError(
                f"{path} 第{n}行：record_id“{rid}”不是户籍人员编号 / "
                f"{path} row {n}: record_id {rid!r} is not a registry person_id"
            )
        groups.setdefault((row.get("cluster_id") or "").strip(), []).append(int(rid))
    return [g for g in groups.values() if len(g) > 1]


def read_links_csv(path: str | Path, source: str) -> dict[tuple[str, str], int]:
    """``(source, record_id) -> person_id`` from ``popreg match``'s links.csv.

    Only rows with ``status`` ``matched`` (or without a status column) are links.
    """
    if source not in SOURCES[1:]:
        raise AuditError(
            f"来源“{source}”无效，应为 hospital_births 或 death_notices / "
            f"unknown source {source!r}: use hospital_births or death_notices"
        )
    links: dict[tuple[str, str], int] = {}
    for n, row in enumerate(_read_csv(path, ("record_id", "person_id")), start=2):
        if (row.get("status") or "matched").strip() != "matched":
            continue
        pid = (row.get("person_id") or "").strip()
        if not pid.isdigit():
            raise AuditError(
                f"{path} 第{n}行：person_id“{pid}”不是数字 / {path} row {n}: person_id {pid!r} is not a number"
            )
        links[(source, (row.get("record_id") or "").strip())] = int(pid)
    return links


def _read_csv(path: str | Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise AuditError(
                    f"{path} 缺少列：{'、'.join(missing)} / {path} lacks columns: {', '.join(missing)}"
                )
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AuditError(f"无法读取 {path}：{exc} / cannot read {path}: {exc}") from exc


def write_findings_csv(findings: Iterable[Finding], path: str | Path) -> int:
    """Write findings with the ``popreg audit`` columns (UTF-8).  Returns the row count."""
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for finding in findings:
            writer.writerow(finding.as_row())
            n += 1
    return n
