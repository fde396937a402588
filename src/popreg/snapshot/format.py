"""Reading and writing snapshot directories (format v1).

A snapshot is a directory::

    manifest.json
    units.parquet  households.parquet  persons.parquet  events.parquet
    sources/hospital_births.parquet  sources/death_notices.parquet   (optional)
    truth/entities.csv  truth/defects.csv  truth/source_links.csv    (synthetic data only)
    truth/unrecorded_births.csv                                      (synthetic data only)

Checksums are SHA-256 of the file bytes.  Parquet files are written without creation
timestamps and with fixed row-group sizes so the same tables give the same bytes: a
published table can be traced back to the exact snapshot it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMAT_VERSION = 1

#: Columns every snapshot table must have (more are allowed).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("unit_code", "name", "level", "parent_code", "valid_from", "valid_to"),
    "households": ("household_id", "household_no", "unit_code", "kind", "address"),
    "persons": (
        "person_id", "household_id", "name", "sex", "birth_date", "id_number",
        "registered_unit", "residence_unit", "residence_type", "status", "mother_id",
    ),
    "events": (
        "event_id", "person_id", "event_type", "event_date", "recorded_date",
        "unit_code", "from_unit", "to_unit",
    ),
    "sources/hospital_births": ("record_id",),
    "sources/death_notices": ("record_id",),
}

CORE_TABLES = ("units", "households", "persons", "events")

#: Arrow schemas of the core tables as every writer (synth, registry) produces them.
#: Writers may append their own columns (``PERSONS_SCHEMA.append(...)``).
HOUSEHOLDS_SCHEMA = pa.schema([
    ("household_id", pa.int64()), ("household_no", pa.string()), ("unit_code", pa.string()),
    ("kind", pa.string()), ("address", pa.string()), ("head_person_id", pa.int64()),
])
PERSONS_SCHEMA = pa.schema([
    ("person_id", pa.int64()), ("household_id", pa.int64()), ("name", pa.string()),
    ("sex", pa.string()), ("birth_date", pa.date32()), ("id_number", pa.string()),
    ("registered_unit", pa.string()), ("residence_unit", pa.string()),
    ("residence_type", pa.string()), ("status", pa.string()), ("mother_id", pa.int64()),
    ("father_id", pa.int64()), ("ethnicity", pa.string()), ("hukou_kind", pa.string()),
    ("marital_status", pa.string()), ("death_date", pa.date32()), ("registered_date", pa.date32()),
])
EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("person_id", pa.int64()), ("event_type", pa.string()),
    ("event_date", pa.date32()), ("recorded_date", pa.date32()), ("unit_code", pa.string()),
    ("from_unit", pa.string()), ("to_unit", pa.string()),
])

UNIT_LEVELS = ("county", "township", "village", "group")
HOUSEHOLD_KINDS = ("family", "collective")
SEXES = ("M", "F")
RESIDENCE_TYPES = ("registered", "floating_in", "floating_out", "foreign", "pending")
STATUSES = ("active", "deceased", "emigrated", "deregistered")
EVENT_TYPES = (
    "birth", "death", "move_in", "move_out", "transfer", "marriage", "divorce",
    "enlistment", "discharge", "correction",
)
DEFECT_TYPES = (
    "duplicate", "living_away", "death_not_deregistered", "enlisted_not_deregistered",
    "pending_registration", "id_checksum_error", "id_birthdate_mismatch", "id_sex_mismatch",
    "missing_field", "unregistered_birth",
)


class SnapshotError(Exception):
    """A snapshot directory is missing, incomplete or corrupt.  The message says which file."""


def parse_moment(text: str) -> datetime:
    """A reference moment from the command line (``2025-11-01`` or ``2025-11-01T00:00``)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SnapshotError(
            f"时点格式不正确：{text!r}，应为 2025-11-01T00:00 / "
            f"a moment must be an ISO date-time such as 2025-11-01T00:00"
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def table_path(snapshot_dir: str | Path, name: str) -> Path:
    """Path of table ``name`` (``"persons"``, ``"sources/death_notices"``) in a snapshot."""
    return Path(snapshot_dir) / f"{name}.parquet"


def write_table(snapshot_dir: str | Path, name: str, table: pa.Table) -> Path:
    """Write one table deterministically and check its required columns."""
    missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in table.column_names]
    if missing:
        raise SnapshotError(f"table {name} lacks required columns: {', '.join(missing)}")
    path = table_path(snapshot_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.replace_schema_metadata(None),
        path,
        compression="zstd",
        row_group_size=256_000,
        write_statistics=True,
        store_schema=True,
    )
    return path


def write_manifest(
    snapshot_dir: str | Path,
    reference_moment: datetime,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write manifest.json describing every Parquet and truth file already in the directory."""
    root = Path(snapshot_dir)
    tables: dict[str, Any] = {}
    for path in sorted(root.rglob("*.parquet")):
        name = path.relative_to(root).as_posix().removesuffix(".parquet")
        tables[name] = {
            "file": path.relative_to(root).as_posix(),
            "rows": pq.ParquetFile(path).metadata.num_rows,
            "sha256": _sha256(path),
        }
    files: dict[str, Any] = {}
    for path in sorted((root / "truth").glob("*.csv")) if (root / "truth").is_dir() else []:
        files[path.relative_to(root).as_posix()] = {"sha256": _sha256(path)}
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "reference_moment": reference_moment.replace(microsecond=0).isoformat(),
        "tables": tables,
        "row_counts": {k: v["rows"] for k, v in tables.items()},
        "checksums": {v["file"]: v["sha256"] for v in tables.values()}
        | {k: v["sha256"] for k, v in files.items()},
    }
    if extra:
        manifest.update(extra)
    (root / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def write_snapshot(
    out_dir: str | Path,
    tables: Mapping[str, pa.Table],
    reference_moment: datetime,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write all ``tables`` then the manifest.  Returns the manifest."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_table(root, name, table)
    return write_manifest(root, reference_moment, extra)


def read_manifest(snapshot_dir: str | Path) -> dict[str, Any]:
    path = Path(snapshot_dir) / "manifest.json"
    if not path.is_file():
        raise SnapshotError(f"{snapshot_dir} is not a snapshot: manifest.json is missing")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"manifest.json is not valid JSON: {exc}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"unsupported snapshot format_version {manifest.get('format_version')!r} "
            f"(this popreg reads {FORMAT_VERSION})"
        )
    return manifest


def read_table(snapshot_dir: str | Path, name: str, columns: list[str] | None = None) -> pa.Table:
    path = table_path(snapshot_dir, name)
    if not path.is_file():
        raise SnapshotError(f"snapshot {snapshot_dir} has no table {name} ({path.name})")
    return pq.read_table(path, columns=columns)


def verify_snapshot(snapshot_dir: str | Path) -> list[str]:
    """Compare every file against the manifest; return a list of problems (empty if none)."""
    root = Path(snapshot_dir)
    manifest = read_manifest(root)
    problems = []
    for rel, digest in manifest.get("checksums", {}).items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{rel}: checksum differs from manifest")
    for name in CORE_TABLES:
        if name not in manifest.get("tables", {}):
            problems.append(f"{name}: not listed in manifest")
    return problems
