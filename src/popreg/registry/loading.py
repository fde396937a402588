"""Bulk load of a format-v1 snapshot into an empty registry.

Rows go in with their snapshot identifiers (person_id, household_id, event_id), in one
transaction, with ``bulk_create``.  Loaded events precede each person's baseline: the
loaded row *is* the baseline, and later actions append to it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.core.management.color import no_style
from django.db import connection, transaction

from popreg.registry.access import Actor
from popreg.registry.actions import audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import (
    STATE_FIELDS,
    AdminUnit,
    Event,
    Household,
    Person,
    SourceRecord,
)
from popreg.registry.search import name_keys
from popreg.snapshot import SnapshotError, read_manifest, table_path, verify_snapshot

BATCH = 5000
Progress = Callable[[str, int, int], None]


def _batches(path: Path, columns: list[str] | None = None) -> Iterator[list[dict[str, Any]]]:
    pf = pq.ParquetFile(path)
    names = [c for c in (columns or pf.schema_arrow.names) if c in pf.schema_arrow.names]
    for batch in pf.iter_batches(batch_size=BATCH, columns=names):
        yield batch.to_pylist()


def _rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def registry_is_empty() -> bool:
    return not (AdminUnit.objects.exists() or Person.objects.exists())


def load_snapshot(snapshot_dir: str | Path, actor: Actor, progress: Progress | None = None) -> dict[str, int]:
    root = Path(snapshot_dir)
    try:
        manifest = read_manifest(root)
        problems = verify_snapshot(root)
    except SnapshotError as exc:
        raise RegistryError(f"快照无法读取：{exc}", f"cannot read snapshot: {exc}") from exc
    if problems:
        raise RegistryError("快照文件校验失败：" + "；".join(problems), "snapshot check failed: " + "; ".join(problems))
    if not registry_is_empty():
        raise RegistryError("登记库不是空的，不能整体导入快照", "the registry is not empty; a snapshot loads only into an empty registry")
    report = progress or (lambda *_: None)
    counts: dict[str, int] = {}
    with transaction.atomic():
        counts["units"] = _load_units(root, report)
        counts["households"] = _load_households(root, report)
        max_event = _max_event_id(root)
        counts["persons"] = _load_persons(root, max_event, report)
        counts["events"] = _load_events(root, report)
        for name in ("hospital_births", "death_notices"):
            counts[f"sources/{name}"] = _load_source(root, name, report)
        _reset_sequences()
        audit(actor, "load_snapshot", None, after=counts,
              detail={"reference_moment": manifest.get("reference_moment"),
                      "checksums": manifest.get("checksums", {})})
    return counts


def _load_units(root: Path, report: Progress) -> int:
    path = table_path(root, "units")
    objs = []
    for rows in _batches(path):
        for r in rows:
            objs.append(AdminUnit(
                code=r["unit_code"], name=r["name"], level=r["level"], parent_id=r["parent_code"] or None,
                valid_from=r["valid_from"], valid_to=r["valid_to"], urban_rural=_s(r.get("urban_rural")),
            ))
    AdminUnit.objects.bulk_create(objs, batch_size=BATCH)
    report("units", len(objs), len(objs))
    return len(objs)


def _load_households(root: Path, report: Progress) -> int:
    path = table_path(root, "households")
    total, done = _rows(path), 0
    for rows in _batches(path):
        Household.objects.bulk_create([
            Household(id=r["household_id"], household_no=r["household_no"], unit_id=r["unit_code"],
                      kind=r["kind"], address=_s(r["address"]), head_id=r.get("head_person_id"))
            for r in rows
        ], batch_size=BATCH)
        done += len(rows)
        report("households", done, total)
    return done


def _max_event_id(root: Path) -> int:
    path = table_path(root, "events")
    col = pq.read_table(path, columns=["event_id"]).column("event_id")
    return int(max(col.to_pylist(), default=0) or 0)


_PERSON_COLUMNS = {
    "person_id": "id", "household_id": "household_id", "name": "name", "sex": "sex",
    "birth_date": "birth_date", "id_number": "id_number", "registered_unit": "registered_unit_id",
    "residence_unit": "residence_unit_id", "residence_type": "residence_type", "status": "status",
    "mother_id": "mother_id", "father_id": "father_id", "ethnicity": "ethnicity",
    "hukou_kind": "hukou_kind", "marital_status": "marital_status", "death_date": "death_date",
    "registered_date": "registered_date", "former_names": "former_names",
}
_BLANK_IS_EMPTY = {"sex", "ethnicity", "hukou_kind", "marital_status", "former_names", "name"}


def _load_persons(root: Path, max_event: int, report: Progress) -> int:
    path = table_path(root, "persons")
    total, done = _rows(path), 0
    keys: dict[str, tuple[str, str]] = {}
    for rows in _batches(path, list(_PERSON_COLUMNS)):
        objs = []
        for r in rows:
            values = {_PERSON_COLUMNS[k]: v for k, v in r.items()}
            for f in _BLANK_IS_EMPTY:
                if values.get(f) is None:
                    values[f] = ""
            values["id_number"] = values.get("id_number") or None
            values["residence_unit_id"] = values.get("residence_unit_id") or None
            name = values["name"]
            if name not in keys:
                keys[name] = name_keys(name)
            p = Person(**values)
            p.name_key, p.name_pinyin = keys[name]
            p.baseline = {f: (v.isoformat() if isinstance(v, date) else v)
                          for f in STATE_FIELDS for v in [getattr(p, f)]}
            p.baseline_event_id = max_event
            objs.append(p)
        Person.objects.bulk_create(objs, batch_size=BATCH)
        done += len(rows)
        report("persons", done, total)
    return done


def _load_events(root: Path, report: Progress) -> int:
    path = table_path(root, "events")
    total, done = _rows(path), 0
    for rows in _batches(path):
        objs = []
        for r in rows:
            detail = r.get("detail")
            objs.append(Event(
                id=r["event_id"], person_id=r["person_id"], event_type=r["event_type"],
                event_date=r["event_date"], recorded_date=r["recorded_date"] or r["event_date"],
                unit_code=_s(r["unit_code"]), from_unit=_s(r["from_unit"]), to_unit=_s(r["to_unit"]),
                changes={}, detail=json.loads(detail) if isinstance(detail, str) and detail else {},
            ))
        Event.objects.bulk_create(objs, batch_size=BATCH)
        done += len(rows)
        report("events", done, total)
    return done


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date | datetime) else v


def _load_source(root: Path, name: str, report: Progress) -> int:
    path = table_path(root, f"sources/{name}")
    if not path.is_file():
        return 0
    done = 0
    for rows in _batches(path):
        SourceRecord.objects.bulk_create([
            SourceRecord(source=name, record_id=str(r["record_id"]),
                         data={k: _jsonable(v) for k, v in r.items() if k != "record_id"})
            for r in rows
        ], batch_size=BATCH)
        done += len(rows)
    report(f"sources/{name}", done, done)
    return done


def _reset_sequences() -> None:
    sql = connection.ops.sequence_reset_sql(no_style(), [Household, Person, Event, SourceRecord])
    with connection.cursor() as cur:
        for stmt in sql:
            cur.execute(stmt)


def stderr_progress(stage: str, done: int, total: int) -> None:
    pct = 100 * done // total if total else 100
    print(f"\r{stage}: {done:,}/{total:,} ({pct}%)", end="\n" if done >= total else "", file=sys.stderr, flush=True)
