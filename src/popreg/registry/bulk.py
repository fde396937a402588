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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from popreg.registry.access import Actor
from popreg.registry.actions import audit
from popreg.registry.errors import RegistryError
from popreg.registry.importing import (
    AUDIT_ACTION,
    ImportFileError,
    ImportRow,
    RowError,
    check_against_registry,
)
from popreg.registry.models import STATE_FIELDS, Event, EventType, Household, Person, Status
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
    actor.check_write()
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
        return _write(actor, parsed_rows, file_name, file_sha256, check.existing_households, report)


def _write(
    actor: Actor,
    rows: Sequence[ImportRow],
    file_name: str,
    sha256: str,
    existing: dict[str, Household],
    report: Progress,
) -> ImportSummary:
    today = timezone.localdate()
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    total = len(rows)

    # Households first: persons point at them.
    new_households: dict[str, Household] = {}
    for r in rows:
        if r.household_no and r.household_no not in existing and r.household_no not in new_households:
            new_households[r.household_no] = Household(
                household_no=r.household_no, unit_id=r.registered_unit, kind=r.household_kind,
                address=r.address)
    Household.objects.bulk_create(list(new_households.values()), batch_size=BATCH)
    households = {**existing, **new_households}
    report("households", len(new_households), len(new_households))

    keys: dict[str, tuple[str, str]] = {}
    persons: list[Person] = []
    changes_of: list[dict[str, list[Any]]] = []
    empty = {f: None for f in STATE_FIELDS}
    done = 0
    for start in range(0, total, BATCH):
        chunk = rows[start:start + BATCH]
        objs = []
        for r in chunk:
            hh = households.get(r.household_no) if r.household_no else None
            p = Person(
                name=r.name, former_names=r.former_names, sex=r.sex, birth_date=r.birth_date,
                ethnicity=r.ethnicity, id_number=r.id_number,
                household_id=hh.pk if hh is not None else None,
                registered_unit_id=r.registered_unit,
                residence_unit_id=r.residence_unit or (
                    None if r.residence_type == "floating_out" else r.registered_unit),
                residence_type=r.residence_type, status=Status.ACTIVE, hukou_kind=r.hukou_kind,
                marital_status=r.marital_status, registered_date=today,
                baseline=empty, baseline_event_id=0,
            )
            if r.name not in keys:
                keys[r.name] = name_keys(r.name)
            p.name_key, p.name_pinyin = keys[r.name]
            objs.append(p)
        Person.objects.bulk_create(objs, batch_size=BATCH)
        events = []
        for r, p in zip(chunk, objs, strict=True):
            changes = _changes(p)
            changes_of.append(changes)
            events.append(Event(
                person_id=p.pk, event_type=EventType.REGISTRATION, event_date=today,
                recorded_date=today, unit_code=p.registered_unit_id, changes=changes,
                detail={"import_sha256": sha256, "row": r.row}, actor=user,
            ))
        Event.objects.bulk_create(events, batch_size=BATCH)
        persons.extend(objs)
        done += len(chunk)
        report("commit", done, total)

    heads = []
    for r, p in zip(rows, persons, strict=True):
        hh = new_households.get(r.household_no) if r.household_no else None
        if hh is not None and r.is_head and hh.head_id is None:
            hh.head_id = p.pk
            heads.append(hh)
    Household.objects.bulk_update(heads, ["head"], batch_size=BATCH)

    joined = len({r.household_no for r in rows if r.household_no in existing})
    ids = [p.pk for p in persons]
    counts = {"persons": len(persons), "households_created": len(new_households),
              "households_joined": joined, "events": len(persons)}
    rec = audit(
        actor, AUDIT_ACTION, None, unit_code=actor.unit_code or "", after=counts,
        detail={"file_name": file_name, "file_sha256": sha256, "first_person_id": min(ids),
                "last_person_id": max(ids),
                "units": sorted({r.registered_unit for r in rows})[:1000]},
    )
    return ImportSummary(
        persons=len(persons), households_created=len(new_households), households_joined=joined,
        events=len(persons), audit_id=rec.pk, first_person_id=min(ids), last_person_id=max(ids),
    )


def _changes(p: Person) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in STATE_FIELDS:
        v = getattr(p, f)
        if v is None:  # as actions._create_person: "" is a recorded value, None is not
            continue
        out[f] = [None, v.isoformat() if isinstance(v, date) else v]
    return out
