"""The audit records form a hash chain (审计链): a rewritten or removed row shows.

Each :class:`~popreg.registry.models.AuditRecord` stores ``prev_hash``, the hash of the
record before it (in id order; ``""`` for the first), and ``hash``, the SHA-256 of a canonical
serialisation of its own fields together with ``prev_hash``.  Changing any field of a row
breaks its own hash; removing or reordering rows breaks the next row's ``prev_hash``.

Appends are serialised so that two writers never chain to the same predecessor: on
PostgreSQL a transaction-scoped advisory lock is taken before the predecessor is read and
held until the appending transaction commits; on SQLite every write transaction already
holds the database's single write lock (transactions start ``IMMEDIATE``).

``popreg audit_verify`` walks the chain with :func:`verify_chain`.

Example::

    result = verify_chain()
    if not result.ok:
        print(result.broken_id, result.problem)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections

#: The fields a record's hash covers, besides ``prev_hash``.
HASHED_FIELDS = (
    "at",
    "actor_id",
    "actor_name",
    "action",
    "target_type",
    "target_id",
    "unit_code",
    "before",
    "after",
    "detail",
)

#: Key of the PostgreSQL advisory lock that serialises appends ("popreg audit").
_PG_LOCK_KEY = 0x706F70726567_0A


def _normal(value: Any) -> Any:
    """A JSON value as the database gives it back: keys are strings, tuples are lists, an
    integral float may come back as an integer (PostgreSQL ``jsonb`` keeps no exponent)."""
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _timestamp(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps are timezone-aware")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: dict[str, Any], prev_hash: str) -> bytes:
    """Sorted-key compact JSON of a record's hashed fields and its predecessor's hash."""
    data = {name: fields[name] for name in HASHED_FIELDS}
    data["at"] = _timestamp(data["at"])
    for name in ("before", "after", "detail"):
        # What the JSON column stores: Django's JSONField writes json.dumps(value).
        data[name] = _normal(json.loads(json.dumps(data[name])))
    data["prev_hash"] = prev_hash
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def record_hash(fields: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical(fields, prev_hash)).hexdigest()


def _fields_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in HASHED_FIELDS}


def lock_chain(using: str = "default") -> None:
    """Hold the right to append until the current transaction ends (call inside atomic)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def chain(records: Iterable[Any], using: str = "default") -> None:
    """Set ``prev_hash`` and ``hash`` of unsaved ``records`` in order, after the last stored
    record.  Call inside a transaction after :func:`lock_chain`; save them in this order."""
    from popreg.registry.models import AuditRecord

    last = AuditRecord.objects.using(using).order_by("-id").values_list("hash", flat=True).first()
    prev = last or ""
    for record in records:
        record.prev_hash = prev
        record.hash = record_hash(_fields_of(record), prev)
        prev = record.hash


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`verify_chain` found: ``ok`` with ``checked`` rows, or the first broken row."""

    checked: int
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _rows(using: str, batch: int) -> Iterator[dict[str, Any]]:
    """Every record in id order, a batch at a time (keyset pagination: constant memory on a
    county's millions of rows, and no long-held server-side cursor)."""
    from popreg.registry.models import AuditRecord

    after = 0
    names = ("id", "prev_hash", "hash", *HASHED_FIELDS)
    while True:
        page = list(
            AuditRecord.objects.using(using)
            .filter(id__gt=after)
            .order_by("id")
            .values(*names)[:batch]
        )
        if not page:
            return
        yield from page
        after = page[-1]["id"]


def verify_chain(using: str = "default", batch: int = 5000) -> ChainCheck:
    """Walk the audit records in id order and recompute every link and hash."""
    prev = ""
    checked = 0
    for row in _rows(using, batch):
        if row["prev_hash"] != prev:
            return ChainCheck(
                checked,
                row["id"],
                f"prev_hash {row['prev_hash'] or '(empty)'} does not match the hash of the "
                f"record before it ({prev or 'none: this is the first record'}); "
                "a record before it was removed, inserted or altered",
            )
        expected = record_hash(row, row["prev_hash"])
        if row["hash"] != expected:
            return ChainCheck(
                checked,
                row["id"],
                f"stored hash {row['hash'] or '(empty)'} differs from the hash of its contents "
                f"{expected}; a field of this record was altered",
            )
        prev = row["hash"]
        checked += 1
    return ChainCheck(checked)
