"""Writing the registry as a format-v1 snapshot (``popreg snapshot``).

``at`` freezes the registry as it stood at a moment: records created later are left out
and every event recorded later is undone (with the before-values an action stored, or,
for loaded history, by the event type's meaning).  Rows are written in id order with
deterministic Parquet settings, so the same history gives the same files and checksums.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.utils import timezone

from popreg.registry.models import (
    AdminUnit,
    Event,
    EventType,
    Household,
    Person,
    SourceRecord,
)
from popreg.snapshot.format import (
    EVENTS_SCHEMA,
    HOUSEHOLDS_SCHEMA,
    PERSONS_SCHEMA,
    write_manifest,
    write_table,
)

VITAL_EVENTS = (
    "birth", "death", "move_in", "move_out", "transfer", "marriage", "divorce",
    "enlistment", "discharge", "correction",
)

_UNIT_SCHEMA = pa.schema([
    ("unit_code", pa.string()), ("name", pa.string()), ("level", pa.string()),
    ("parent_code", pa.string()), ("valid_from", pa.date32()), ("valid_to", pa.date32()),
    ("urban_rural", pa.string()),
])
_PERSON_SCHEMA = PERSONS_SCHEMA.append(pa.field("merged_into", pa.int64()))

_PERSON_FIELDS = [
    "id", "household_id", "name", "sex", "birth_date", "id_number", "registered_unit_id",
    "residence_unit_id", "residence_type", "status", "mother_id", "father_id", "ethnicity",
    "hukou_kind", "marital_status", "death_date", "registered_date", "merged_into_id",
]


def _none(v: Any) -> Any:
    return None if v == "" else v


def _table(rows: Iterable[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in schema}
    for r in rows:
        for k in cols:
            cols[k].append(r.get(k))
    return pa.table(cols, schema=schema)


def _as_date(v: Any) -> Any:
    if isinstance(v, str) and len(v) >= 10:
        try:
            return date.fromisoformat(v[:10])
        except ValueError:
            return v
    return v


# Undo of an event whose before-values were not stored (history that came with a load).
def _undo_by_type(state: dict[str, Any], e: Event) -> dict[str, Any] | None:
    t = e.event_type
    if t in (EventType.BIRTH, EventType.MOVE_IN, EventType.REGISTRATION):
        return None
    if t == EventType.DEATH:
        state.update(status="active", death_date=None)
    elif t in (EventType.MOVE_OUT, EventType.ENLISTMENT):
        state["status"] = "active"
    elif t == EventType.DISCHARGE:
        state["status"] = "deregistered"
    elif t == EventType.TRANSFER and e.from_unit:
        state["registered_unit_id"] = e.from_unit
        state["residence_unit_id"] = e.from_unit
    elif t == EventType.MARRIAGE:
        state["marital_status"] = "single"
    elif t == EventType.DIVORCE:
        state["marital_status"] = "married"
    return state


def _person_rows(at: date | None) -> Iterable[dict[str, Any]]:
    later: dict[int, list[Event]] = defaultdict(list)
    if at is not None:
        for e in Event.objects.filter(recorded_date__gte=at).order_by("-id").iterator(chunk_size=5000):
            later[e.person_id].append(e)
    qs = Person.objects.order_by("id").values(*_PERSON_FIELDS)
    for p in qs.iterator(chunk_size=5000):
        state: dict[str, Any] | None = dict(p)
        for e in later.get(p["id"], ()):
            if state is None:
                break
            if e.changes:
                created = all(before is None for before, _ in e.changes.values())
                if created and e.event_type in (EventType.BIRTH, EventType.MOVE_IN, EventType.REGISTRATION):
                    state = None
                    break
                for field, (before, _after) in e.changes.items():
                    state[field] = _as_date(before)
            else:
                state = _undo_by_type(state, e)
        if state is None:
            continue
        if at is not None and state.get("registered_date") and state["registered_date"] >= at and p["id"] not in later:
            continue
        yield {
            "person_id": state["id"], "household_id": state["household_id"], "name": state["name"],
            "sex": _none(state["sex"]), "birth_date": state["birth_date"], "id_number": _none(state["id_number"]),
            "registered_unit": state["registered_unit_id"], "residence_unit": state["residence_unit_id"],
            "residence_type": state["residence_type"], "status": state["status"],
            "mother_id": state["mother_id"], "father_id": state["father_id"],
            "ethnicity": _none(state["ethnicity"]), "hukou_kind": _none(state["hukou_kind"]),
            "marital_status": _none(state["marital_status"]), "death_date": state["death_date"],
            "registered_date": state["registered_date"], "merged_into": state["merged_into_id"],
        }


def _event_rows(at: date | None) -> Iterable[dict[str, Any]]:
    qs = Event.objects.filter(event_type__in=VITAL_EVENTS).order_by("id")
    if at is not None:
        qs = qs.filter(recorded_date__lt=at)
    for e in qs.values("id", "person_id", "event_type", "event_date", "recorded_date",
                       "unit_code", "from_unit", "to_unit").iterator(chunk_size=5000):
        yield {"event_id": e["id"], "person_id": e["person_id"], "event_type": e["event_type"],
               "event_date": e["event_date"], "recorded_date": e["recorded_date"],
               "unit_code": _none(e["unit_code"]), "from_unit": _none(e["from_unit"]),
               "to_unit": _none(e["to_unit"])}


#: Apps above the registry that keep outside-source records of their own (popreg.sources)
#: add them to the snapshot's ``sources/<name>`` tables: a provider gives
#: ``(record_id, data)`` pairs for a table name.  The registry imports no app.
SourceRowsProvider = Callable[[str], Iterable[tuple[str, dict[str, Any]]]]
SOURCE_ROW_PROVIDERS: list[SourceRowsProvider] = []


def register_source_rows(provider: SourceRowsProvider) -> SourceRowsProvider:
    if provider not in SOURCE_ROW_PROVIDERS:
        SOURCE_ROW_PROVIDERS.append(provider)
    return provider


def _source_table(name: str) -> pa.Table | None:
    rows = list(SourceRecord.objects.filter(source=name).order_by("id").values("record_id", "data"))
    known = {r["record_id"] for r in rows}
    for provider in SOURCE_ROW_PROVIDERS:
        for record_id, data in provider(name):
            if record_id not in known:  # a record loaded at first load is not repeated
                known.add(record_id)
                rows.append({"record_id": record_id, "data": data})
    if not rows:
        return None
    keys: list[str] = []
    for r in rows:
        for k in r["data"]:
            if k not in keys:
                keys.append(k)
    cols: dict[str, list[Any]] = {"record_id": [r["record_id"] for r in rows]}
    for k in keys:
        vals = [r["data"].get(k) for r in rows]
        if k.endswith("_date"):
            vals = [_as_date(v) for v in vals]
        cols[k] = vals
    return pa.table(cols)


def write_registry_snapshot(out_dir: str | Path, at: datetime | None = None) -> dict[str, Any]:
    """Write the registry (as it stood at ``at``, default now) to ``out_dir``."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    cutoff = at.date() if at is not None else None
    units = AdminUnit.objects.exclude(level="external").order_by("code").values("code", "name", "level", "parent_id", "valid_from", "valid_to", "urban_rural")
    write_table(root, "units", _table(({
        "unit_code": u["code"], "name": u["name"], "level": u["level"], "parent_code": u["parent_id"],
        "valid_from": u["valid_from"], "valid_to": u["valid_to"], "urban_rural": _none(u["urban_rural"]),
    } for u in units), _UNIT_SCHEMA))
    hhs = Household.objects.order_by("id").values("id", "household_no", "unit_id", "kind", "address", "head_id")
    write_table(root, "households", _table(({
        "household_id": h["id"], "household_no": h["household_no"], "unit_code": h["unit_id"],
        "kind": h["kind"], "address": h["address"], "head_person_id": h["head_id"],
    } for h in hhs.iterator(chunk_size=5000)), HOUSEHOLDS_SCHEMA))
    write_table(root, "persons", _table(_person_rows(cutoff), _PERSON_SCHEMA))
    write_table(root, "events", _table(_event_rows(cutoff), EVENTS_SCHEMA))
    for name in ("hospital_births", "death_notices"):
        t = _source_table(name)
        if t is not None:
            write_table(root, f"sources/{name}", t)
    moment = at or timezone.localtime().replace(tzinfo=None)
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    return write_manifest(root, moment, {"generator": {"name": "registry"}})
