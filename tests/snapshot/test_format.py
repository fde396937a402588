from datetime import date, datetime

import pyarrow as pa
import pytest

from popreg.snapshot import (
    SnapshotError,
    read_manifest,
    read_table,
    verify_snapshot,
    write_snapshot,
)
from popreg.snapshot.format import REQUIRED_COLUMNS


def _tables():
    units = pa.table(
        {
            "unit_code": ["411000000000"],
            "name": ["示例县"],
            "level": ["county"],
            "parent_code": pa.array([None], pa.string()),
            "valid_from": [date(2000, 1, 1)],
            "valid_to": pa.array([None], pa.date32()),
        }
    )
    empty = {c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS["households"]}
    persons = {c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS["persons"]}
    events = {c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS["events"]}
    return {
        "units": units,
        "households": pa.table(empty),
        "persons": pa.table(persons),
        "events": pa.table(events),
    }


def test_roundtrip_is_byte_reproducible(tmp_path):
    m1 = write_snapshot(tmp_path / "a", _tables(), datetime(2025, 11, 1))
    m2 = write_snapshot(tmp_path / "b", _tables(), datetime(2025, 11, 1))
    assert m1["checksums"] == m2["checksums"]
    assert read_manifest(tmp_path / "a")["reference_moment"] == "2025-11-01T00:00:00"
    assert read_table(tmp_path / "a", "units").column("name").to_pylist() == ["示例县"]
    assert verify_snapshot(tmp_path / "a") == []


def test_corruption_is_detected(tmp_path):
    write_snapshot(tmp_path, _tables(), datetime(2025, 11, 1))
    (tmp_path / "units.parquet").write_bytes(b"garbage")
    assert verify_snapshot(tmp_path) == ["units.parquet: checksum differs from manifest"]


def test_missing_required_column_is_refused(tmp_path):
    tables = _tables()
    tables["units"] = tables["units"].drop(["level"])
    with pytest.raises(SnapshotError, match="level"):
        write_snapshot(tmp_path, tables, datetime(2025, 11, 1))


def test_not_a_snapshot(tmp_path):
    with pytest.raises(SnapshotError, match="manifest.json"):
        read_manifest(tmp_path)
