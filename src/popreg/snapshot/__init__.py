"""Snapshot format v1: a frozen registry at a reference moment, as Parquet tables.

See docs/snapshot-format.md.  Public surface::

    write_snapshot(out_dir, tables, reference_moment, truth=None, extra=None) -> Manifest
    read_manifest(snapshot_dir) -> dict
    read_table(snapshot_dir, name) -> pyarrow.Table      # "persons", "sources/hospital_births"
    table_path(snapshot_dir, name) -> Path              # for DuckDB: read_parquet(path)
    verify_snapshot(snapshot_dir) -> list[str]          # checksum problems, empty when fine
    connect(snapshot_dir, engine="duckdb") -> SnapshotConnection   # SQL on DuckDB or Spark
"""

from popreg.snapshot.connection import ENGINES, SnapshotConnection, connect
from popreg.snapshot.format import (
    FORMAT_VERSION,
    REQUIRED_COLUMNS,
    SnapshotError,
    read_manifest,
    read_table,
    table_path,
    verify_snapshot,
    write_snapshot,
)

__all__ = [
    "ENGINES",
    "FORMAT_VERSION",
    "REQUIRED_COLUMNS",
    "SnapshotConnection",
    "SnapshotError",
    "connect",
    "read_manifest",
    "read_table",
    "table_path",
    "verify_snapshot",
    "write_snapshot",
]
