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
from django.utils import timezone

from popreg.core import idnumber
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.fastsql import insert_rows
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

#: Steps that apps above the registry run after a snapshot is loaded, inside the load's
#: transaction: ``step(snapshot_dir, actor) -> counts`` (added to the load's summary).  An
#: app registers its step in its ``AppConfig.ready`` (the registry imports no app).
PostLoadStep = Callable[[Path, Actor], dict[str, int]]
POST_LOAD_STEPS: list[PostLoadStep] = []


def register_post_load(step: PostLoadStep) -> PostLoadStep:
    if step not in POST_LOAD_STEPS:
        POST_LOAD_STEPS.append(step)
    return step


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
        for step in POST_LOAD_STEPS:
            counts.update(step(root, actor))
        audit(actor, AuditAction.LOAD_SNAPSHOT, None, after=counts,
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
    known = {u.code for u in objs}
    outside: set[str] = set()
    persons = table_path(root, "persons")
    for rows in _batches(persons, ["registered_unit", "residence_unit"]):
        for r in rows:
            outside.update(c for c in (r["registered_unit"], r["residence_unit"]) if c and c not in known)
    objs.extend(external_unit(code) for code in sorted(outside))
    AdminUnit.objects.bulk_create(objs, batch_size=BATCH)
    report("units", len(objs), len(objs))
    return len(objs)


def external_unit(code: str) -> AdminUnit:
    """A unit outside the county, named from the national region list where possible."""
    name = idnumber.region_name(code[:6]) or ""
    return AdminUnit(code=code, name=f"{name}（县外）" if name else f"县外 {code}",
                     level="external", parent_id=None, valid_from=date(1949, 10, 1))


_HOUSEHOLD_FIELDS = ["id", "household_no", "unit_id", "kind", "address", "head_id", "created_at"]


def _load_households(root: Path, report: Progress) -> int:
    """The households somebody belongs to; a household no person row names (dissolved when
    its last member left) is not created: the registry holds no household without members."""
    path = table_path(root, "households")
    total, done, loaded = _rows(path), 0, 0
    now = timezone.now()
    used: set[int] = set()
    for batch in _batches(table_path(root, "persons"), ["household_id"]):
        used.update(r["household_id"] for r in batch if r["household_id"] is not None)
    for rows in _batches(path):
        keep = [r for r in rows if r["household_id"] in used]
        insert_rows(Household, _HOUSEHOLD_FIELDS, (
            (r["household_id"], r["household_no"], r["unit_code"], r["kind"], _s(r["address"]),
             r.get("head_person_id"), now) for r in keep))
        done += len(rows)
        loaded += len(keep)
        report("households", done, total)
    return loaded


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
    now = timezone.now()
    fields = [*_PERSON_COLUMNS.values(), "name_key", "name_pinyin", "baseline", "baseline_event_id",
              "created_at", "updated_at", "version", "legacy_duplicate_id"]
    # Legacy data holds duplicates, some with one ID number on two active records: the first
    # keeps the number under the uniqueness rule, the others are flagged and left to linkage
    # (docs/decisions/0003-integrity.md).
    active_ids: set[str] = set()
    for rows in _batches(path, list(_PERSON_COLUMNS)):
        out = []
        for r in rows:
            values = {_PERSON_COLUMNS[k]: r.get(k) for k in _PERSON_COLUMNS}
            for f in _BLANK_IS_EMPTY:
                if values[f] is None:
                    values[f] = ""
            values["id_number"] = values["id_number"] or None
            values["residence_unit_id"] = values["residence_unit_id"] or None
            name = values["name"]
            if name not in keys:
                keys[name] = name_keys(name)
            baseline = {f: (v.isoformat() if isinstance(v, date) else v)
                        for f in STATE_FIELDS for v in [values.get(f)]}
            number, duplicate = values["id_number"], False
            if number and values["status"] == "active":
                duplicate = number in active_ids
                active_ids.add(number)
            out.append((*values.values(), *keys[name], baseline, max_event, now, now, 1, duplicate))
        insert_rows(Person, fields, out)
        done += len(rows)
        report("persons", done, total)
    return done


def _load_events(root: Path, report: Progress) -> int:
    path = table_path(root, "events")
    total, done = _rows(path), 0
    now = timezone.now()
    fields = ["id", "person_id", "event_type", "event_date", "recorded_date", "unit_code",
              "from_unit", "to_unit", "changes", "detail", "created_at"]
    for rows in _batches(path):
        insert_rows(Event, fields, (
            (r["event_id"], r["person_id"], r["event_type"], r["event_date"],
             r["recorded_date"] or r["event_date"], _s(r["unit_code"]), _s(r["from_unit"]),
             _s(r["to_unit"]), {}, _detail(r.get("detail")), now) for r in rows))
        done += len(rows)
        report("events", done, total)
    return done


def _detail(v: Any) -> dict[str, Any]:
    if isinstance(v, str) and v:
        parsed = json.loads(v)
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    return {}


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date | datetime) else v


def _load_source(root: Path, name: str, report: Progress) -> int:
    path = table_path(root, f"sources/{name}")
    if not path.is_file():
        return 0
    done, now = 0, timezone.now()
    for rows in _batches(path):
        insert_rows(SourceRecord, ["source", "record_id", "data", "loaded_at"], (
            (name, str(r["record_id"]), {k: _jsonable(v) for k, v in r.items() if k != "record_id"}, now)
            for r in rows))
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
