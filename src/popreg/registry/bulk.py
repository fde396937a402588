"""The bulk import action: persons and households from checked rows, all or nothing.

``do_import_persons`` is the only writer of an import.  In one transaction it repeats the
registry checks of :func:`popreg.registry.importing.check_against_registry` (the registry
may have changed since the preview), then writes with ``bulk_create``:

- new households (existing household numbers are joined, never changed);
- persons, each with an empty baseline and one ``registration`` event whose ``changes``
  hold every recorded field as ``[None, value]`` — exactly what
  ``popreg.registry.actions`` does for a birth or move-in, so "state = baseline + events"
  holds and ``popreg verify_history`` replays imported persons like any other;
- the head (户主) of each new household;
- one audit record for the batch (counts, file name, SHA-256 of the file).

Any problem raises :class:`ImportRefused` and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from popreg.registry import entry_check
from popreg.registry.access import Actor
from popreg.registry.audit import audit
from popreg.registry.errors import RegistryError
from popreg.registry.fastsql import insert_rows
from popreg.registry.importing import (
    AUDIT_ACTION,
    ImportFileError,
    ImportRow,
    RowError,
    check_against_registry,
)
from popreg.registry.models import (
    ACTIVE_ID_NUMBER_UNIQUE,
    STATE_FIELDS,
    Event,
    EventType,
    Household,
    Person,
    Status,
)
from popreg.registry.policy import Permission
from popreg.registry.search import name_keys

BATCH = 2000
Progress = Callable[[str, int, int], None]


class ImportRefused(RegistryError):
    """The import was refused; ``errors`` lists every row problem found."""

    def __init__(self, errors: Sequence[RowError], message_zh: str = "", message_en: str = "") -> None:
        n = len(errors)
        super().__init__(
            message_zh or f"导入未执行：发现 {n} 处错误，所有数据均未写入；请下载错误报告，修改后重新上传",
            message_en or f"import refused: {n} problems found, nothing was written; download the "
                          "error report, fix the file and upload it again",
        )
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    persons: int
    households_created: int
    households_joined: int
    events: int
    audit_id: int
    first_person_id: int | None
    last_person_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def _lock_imports() -> None:
    """Serialise imports on PostgreSQL so two uploads of one file cannot both pass the
    checksum check (SQLite already allows a single writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x706F70726567])  # "popreg"


def do_import_persons(
    actor: Actor,
    parsed_rows: Sequence[ImportRow],
    file_name: str,
    file_sha256: str,
    *,
    progress: Progress | None = None,
    labels: dict[str, str] | None = None,
) -> ImportSummary:
    """批量导入: write ``parsed_rows`` (from ``importing.parse_file``) in one transaction."""
    report = progress or (lambda *_: None)
    actor.require(Permission.IMPORT_PERSONS)
    if not parsed_rows:
        raise ImportRefused([], "文件中没有可导入的数据行", "the file has no rows to import")
    with transaction.atomic():
        _lock_imports()
        try:
            check = check_against_registry(actor, parsed_rows, file_sha256, labels=labels, lock=True)
        except ImportFileError as exc:
            raise ImportRefused([], exc.message_zh, exc.message_en) from exc
        if check.errors:
            raise ImportRefused(check.errors)
        try:
            return _write(actor, parsed_rows, file_name, file_sha256, check.existing_households, report)
        except IntegrityError as exc:
            if ACTIVE_ID_NUMBER_UNIQUE not in str(exc) and "registry_person.id_number" not in str(exc):
                raise
            # A clerk registered one of the file's ID numbers while the import ran.
            raise ImportRefused(
                [], "导入未执行：文件中的某个公民身份号码刚被其他登记占用，所有数据均未写入；请重新上传，核对错误报告",
                "import refused: one of the file's ID numbers was just registered by someone else; "
                "nothing was written; upload the file again to see which") from exc


def _write(
    actor: Actor,
    rows: Sequence[ImportRow],
    file_name: str,
    sha256: str,
    existing: dict[str, Household],
    report: Progress,
) -> ImportSummary:
    db = _DbValues()
    today = db.date(timezone.localdate())
    now = db.datetime(timezone.now())
    user_id = actor.user_id
    total = len(rows)

    # Households first: persons point at them.
    new_rows: dict[str, ImportRow] = {}
    for r in rows:
        if r.household_no and r.household_no not in existing:
            new_rows.setdefault(r.household_no, r)
    hh_ids = _fast_insert(
        Household, ["household_no", "unit_id", "kind", "address", "created_at"],
        [(no, r.registered_unit, r.household_kind, r.address, now) for no, r in new_rows.items()])
    household_id = {no: hh.pk for no, hh in existing.items()}
    household_id.update(zip(new_rows, hh_ids, strict=True))
    report("households", len(new_rows), len(new_rows))

    keys: dict[str, tuple[str, str]] = {}
    empty = db.json({f: None for f in STATE_FIELDS})
    person_ids: list[int] = []
    heads: list[tuple[int, int]] = []
    for start in range(0, total, BATCH):
        chunk = rows[start:start + BATCH]
        person_rows = []
        states = []
        for r in chunk:
            if r.name not in keys:
                keys[r.name] = name_keys(r.name)
            name_key, name_pinyin = keys[r.name]
            hh = household_id.get(r.household_no) if r.household_no else None
            residence = r.residence_unit or (None if r.residence_type == "floating_out" else r.registered_unit)
            state = {
                "name": r.name, "former_names": r.former_names, "sex": r.sex,
                "birth_date": r.birth_date.isoformat(), "ethnicity": r.ethnicity,
                "id_number": r.id_number, "household_id": hh, "registered_unit_id": r.registered_unit,
                "residence_unit_id": residence, "residence_type": r.residence_type,
                "status": Status.ACTIVE.value, "hukou_kind": r.hukou_kind,
                "marital_status": r.marital_status,
            }
            states.append(state)
            person_rows.append((
                hh, r.name, r.former_names, name_key, name_pinyin, r.sex, db.date(r.birth_date), r.ethnicity,
                r.id_number, r.registered_unit, residence, r.residence_type, Status.ACTIVE.value,
                r.hukou_kind, r.marital_status, today, empty, 0, now, now,
            ))
        ids = _fast_insert(Person, _PERSON_FIELDS, person_rows)
        event_rows = []
        for r, pk, state in zip(chunk, ids, states, strict=True):
            # As actions.events.create_person: every recorded value (None is not recorded).
            changes = {f: [None, v] for f, v in state.items() if v is not None}
            event_rows.append((pk, EventType.REGISTRATION.value, today, today, r.registered_unit, "", "",
                               db.json(changes), db.json({"import_sha256": sha256, "row": r.row}),
                               user_id, now))
            if r.is_head and r.household_no in new_rows:
                heads.append((pk, household_id[r.household_no]))
        _fast_insert(Event, _EVENT_FIELDS, event_rows)
        person_ids.extend(ids)
        report("commit", len(person_ids), total)

    if heads:
        table = connection.ops.quote_name(Household._meta.db_table)
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":  # one statement instead of one per household
                cur.execute(f"UPDATE {table} AS h SET head_id = v.pid FROM unnest(%s::bigint[], %s::bigint[])"
                            " AS v(pid, hid) WHERE h.id = v.hid",
                            [[p for p, _ in heads], [h for _, h in heads]])
            else:
                cur.executemany(f"UPDATE {table} SET head_id = %s WHERE id = %s", heads)

    # Apps that keep derived data of persons (the duplicate check's index) take them now.
    entry_check.persons_written(person_ids)
    joined = len({r.household_no for r in rows if r.household_no in existing})
    counts = {"persons": len(person_ids), "households_created": len(new_rows),
              "households_joined": joined, "events": len(person_ids)}
    rec = audit(
        actor, AUDIT_ACTION, None, unit_code=actor.unit_code or "", after=counts,
        detail={"file_name": file_name, "file_sha256": sha256, "first_person_id": min(person_ids),
                "last_person_id": max(person_ids),
                "units": sorted({r.registered_unit for r in rows})[:1000]},
    )
    return ImportSummary(
        persons=len(person_ids), households_created=len(new_rows), households_joined=joined,
        events=len(person_ids), audit_id=rec.pk, first_person_id=min(person_ids),
        last_person_id=max(person_ids),
    )


_PERSON_FIELDS = [
    "household_id", "name", "former_names", "name_key", "name_pinyin", "sex", "birth_date",
    "ethnicity", "id_number", "registered_unit_id", "residence_unit_id", "residence_type", "status",
    "hukou_kind", "marital_status", "registered_date", "baseline", "baseline_event_id",
    "created_at", "updated_at",
]
_EVENT_FIELDS = [
    "person_id", "event_type", "event_date", "recorded_date", "unit_code", "from_unit", "to_unit",
    "changes", "detail", "actor_id", "created_at",
]


class _DbValues:
    """Values in the form the database driver takes them, made once instead of per field.

    ``bulk_create`` spends most of its time preparing each value through the field
    classes; the few plain types written here need only this.
    """

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"
        if self.postgres:
            from psycopg.types.json import Jsonb

            self._jsonb = Jsonb

    def json(self, value: Any) -> Any:
        return self._jsonb(value) if self.postgres else json.dumps(value, ensure_ascii=False)

    def date(self, value: date) -> Any:
        return value if self.postgres else value.isoformat()

    def datetime(self, value: datetime) -> Any:
        return value if self.postgres else connection.ops.adapt_datetimefield_value(value)


def _fast_insert(model: type[models.Model], fields: list[str], rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert ``rows`` (values in the order of ``fields``) and return their new ids, in order.

    Ids are drawn first (PostgreSQL: from the table's sequence; SQLite: after ``max(id)``,
    as this transaction holds the only write lock), then the rows go in with
    ``fastsql.insert_rows`` (COPY or one executemany), which the snapshot load uses too.
    """
    if not rows:
        return []
    table = model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [table, len(rows)])
            ids = [int(r[0]) for r in cur.fetchall()]
        else:
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
            start = int(cur.fetchone()[0]) + 1
            ids = list(range(start, start + len(rows)))
    insert_rows(model, ["id", *fields], ((pk, *row) for pk, row in zip(ids, rows, strict=True)))
    return ids
