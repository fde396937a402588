"""The incremental index of blocking keys for the duplicate check at data entry.

Each registry person not merged into another has its blocking keys
(:func:`popreg.linkage.entrycheck.blocking_keys`) in :class:`~popreg.linkage.models.EntryKey`.
The index is kept up to date:

- a person saved by the action layer (birth, move-in, correction, merge, unmerge, ...) is
  re-indexed by a ``post_save`` receiver (a merged record loses its keys);
- persons written in bulk by a person import are indexed in its transaction (the
  registry's ``persons_written`` hook); any other person written without the action layer
  is picked up by :func:`catch_up`, which every check runs first: persons whose id is above
  the highest indexed one are indexed then (``popreg linkage_index`` for many);
- ``popreg load`` rebuilds the whole index in its transaction (a post-load step), and
  ``popreg linkage_index --rebuild`` rebuilds it on demand.

:func:`find` is the finder the registry's forms call (``popreg.registry.entry_check``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Count

from popreg.core.entry_record import EntryRecord
from popreg.linkage import entrycheck
from popreg.linkage.models import EntryKey
from popreg.registry.access import Actor
from popreg.registry.entry_check import LikelyDuplicate, NewRecord
from popreg.registry.fastsql import insert_rows
from popreg.registry.models import Person

BATCH = 5000
#: More persons than this missing from the index: :func:`catch_up` leaves them to the
#: command (a check must stay fast); the check then runs on what is indexed.
CATCH_UP_LIMIT = 2000
#: Candidates scored per new record at most (the most keys shared first).
MAX_CANDIDATES = 200
#: Below this many indexed persons the names' shares are not used (the model's u stands),
#: as ``popreg dedupe`` keeps the model's u under 2,000 records: a share counted on a few
#: records says nothing about how common a name is.
TF_MIN_POPULATION = 2000

Progress = Callable[[int, int], None]
_FIELDS = ("pk", "name", "name_pinyin", "sex", "birth_date", "id_number", "registered_unit_id",
           "household__household_no", "merged_into_id")


def _record(row: tuple[Any, ...]) -> tuple[int, EntryRecord, str]:
    pk, name, py, sex, born, number, unit, hh, _merged = row
    return pk, EntryRecord(name=name or "", sex=sex or "", birth_date=born, id_number=number or "",
                                      village_code=unit or "", household_no=hh or ""), py or ""


def _key_rows(rows: Iterable[tuple[Any, ...]]) -> list[tuple[int, str]]:
    """(person id, key) of the persons' rows (``_FIELDS``); merged records have none."""
    out: list[tuple[int, str]] = []
    for row in rows:
        if row[-1] is not None:  # merged into another record
            continue
        pk, rec, py = _record(row)
        f = entrycheck.features(rec, name_py=py or None)
        out.extend((pk, k) for k in entrycheck.blocking_keys(f))
    return out


def _keys(rows: Iterable[tuple[Any, ...]]) -> list[EntryKey]:
    return [EntryKey(person_id=pk, key=k) for pk, k in _key_rows(rows)]


def index_persons(pks: Sequence[int]) -> int:
    """(Re-)index these persons; returns the number of keys written."""
    written = 0
    for i in range(0, len(pks), BATCH):
        chunk = pks[i : i + BATCH]
        EntryKey.objects.filter(person_id__in=chunk).delete()
        keys = _keys(Person.objects.filter(pk__in=chunk).values_list(*_FIELDS))
        EntryKey.objects.bulk_create(keys, batch_size=BATCH, ignore_conflicts=True)
        written += len(keys)
    return written


@transaction.atomic
def rebuild(progress: Progress | None = None) -> dict[str, int]:
    """Drop and rebuild the whole index; returns persons and keys counted."""
    _empty_index()
    qs = Person.objects.filter(merged_into__isnull=True).order_by("pk")
    total = qs.count()
    done = n_keys = 0
    batch: list[tuple[Any, ...]] = []
    for row in qs.values_list(*_FIELDS).iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) >= BATCH:
            n_keys += _write(batch)
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    if batch:
        n_keys += _write(batch)
        done += len(batch)
    if progress:
        progress(done, total)
    _population.clear()
    return {"persons": done, "keys": n_keys}


def _empty_index() -> None:
    """TRUNCATE on PostgreSQL (no row-by-row delete of two million keys), unless keys were
    written earlier in this transaction (their deferred checks forbid it): then DELETE."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(f"TRUNCATE {connection.ops.quote_name(EntryKey._meta.db_table)}")
            return
        except OperationalError:
            pass
    EntryKey.objects.all().delete()


def _write(rows: list[tuple[Any, ...]]) -> int:
    # The loader's fast path (COPY on PostgreSQL): model instances cost more than the keys.
    return insert_rows(EntryKey, ("person", "key"), _key_rows(rows))


def catch_up(limit: int = CATCH_UP_LIMIT) -> int:
    """Index persons created in bulk since the index was last written; returns their number."""
    top = EntryKey.objects.order_by("-person_id").values_list("person_id", flat=True).first() or 0
    rows = list(Person.objects.filter(pk__gt=top).order_by("pk").values_list("pk", "merged_into_id")[: limit + 1])
    new = [pk for pk, merged in rows if merged is None]
    if not new or len(rows) > limit:
        return 0
    with transaction.atomic():
        index_persons(new)
    return len(new)


def _candidates(records: Sequence[entrycheck.Features]) -> list[list[int]]:
    """Per record, the persons sharing a blocking key (most keys shared first)."""
    wanted = [entrycheck.candidate_keys(f) for f in records]
    all_keys = sorted({k for ks in wanted for k in ks})
    by_key: dict[str, list[int]] = {}
    for i in range(0, len(all_keys), 500):
        for key, pk in EntryKey.objects.filter(key__in=all_keys[i : i + 500]).values_list("key", "person_id"):
            by_key.setdefault(key, []).append(pk)
    out: list[list[int]] = []
    for ks in wanted:
        shared: dict[int, int] = {}
        for k in ks:
            for pk in by_key.get(k, ()):
                shared[pk] = shared.get(pk, 0) + 1
        out.append(sorted(shared, key=lambda pk: (-shared[pk], pk))[:MAX_CANDIDATES])
    return out


def _name_counts(name_norms: set[str]) -> dict[str, int]:
    """How many indexed persons carry each name."""
    keys = [f"{entrycheck.NAME_KEY}:{n}"[:100] for n in name_norms if n]
    counts: dict[str, int] = {}
    for i in range(0, len(keys), 500):
        rows = (EntryKey.objects.filter(key__in=keys[i : i + 500]).values("key")
                .annotate(n=Count("person_id")).values_list("key", "n"))
        for key, n in rows:
            counts[key.split(":", 1)[1]] = n
    return counts


#: How long a process keeps its count of indexed persons (seconds).  Counting 190,000 keys
#: takes about a second on a busy machine, far longer than a check may; the share of a name
#: in a county does not move in six hours.  A rebuild counts afresh.
POPULATION_TTL = 6 * 3600.0
_population: dict[str, tuple[float, int]] = {}


def indexed_population() -> int:
    """Persons in the index: the denominator of the name shares (counted at most every
    ``POPULATION_TTL`` seconds per process and database; a rebuild counts afresh)."""
    alias = str(connection.settings_dict.get("NAME"))
    now = time.monotonic()
    cached = _population.get(alias)
    if cached is None or now - cached[0] > POPULATION_TTL:
        n = EntryKey.objects.filter(key__gte=entrycheck.NAME_KEY + ":", key__lt=entrycheck.NAME_KEY + ";").count()
        cached = (now, n)
        _population[alias] = cached
    return cached[1]


def find(records: Sequence[NewRecord], *, model: entrycheck.EntryModel | None = None,
         min_probability: float | None = None) -> list[list[LikelyDuplicate]]:
    """The finder registered with the registry: likely existing persons per new record."""
    catch_up()
    model = model or entrycheck.default_model()
    entries = [EntryRecord(name=r.name, sex=r.sex, birth_date=r.birth_date, id_number=r.id_number,
                                      village_code=r.village_code, household_no=r.household_no) for r in records]
    feats = [entrycheck.features(e) for e in entries]
    cands = _candidates(feats)
    wanted = sorted({pk for cs in cands for pk in cs})
    rows: dict[int, tuple[int, EntryRecord, str]] = {}
    for i in range(0, len(wanted), 500):
        for row in Person.objects.filter(pk__in=wanted[i : i + 500]).values_list(*_FIELDS):
            pk, rec, py = _record(row)
            rows[pk] = (pk, rec, py)
    population = indexed_population()
    counts: dict[str, int] | None = None
    if population >= TF_MIN_POPULATION:
        # Only "same characters" is adjusted, so the new records' own names are all that is counted.
        counts = _name_counts({f.name_norm for f in feats})
    out: list[list[LikelyDuplicate]] = []
    for entry, cs in zip(entries, cands, strict=True):
        candidates = [entrycheck.Candidate(pk, rows[pk][1], rows[pk][2] or None) for pk in cs if pk in rows]
        ranked = entrycheck.rank(entry, candidates, model=model, name_counts=counts, population=population,
                                 min_probability=min_probability)
        out.append([LikelyDuplicate(pk, s.match_probability, s.match_weight, s.evidence) for pk, s in ranked])
    return out


# ---------------------------------------------------------------- maintenance hooks


def person_saved(sender: Any, instance: Person, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """``post_save`` of a person: re-index it (a merged record loses its keys)."""
    if raw or instance.pk is None:
        return
    index_persons([instance.pk])


def after_load(snapshot_dir: Path, actor: Actor) -> dict[str, int]:
    """Post-load step of ``popreg load``: the index of the loaded registry."""
    result = rebuild()
    return {"entry_index_keys": result["keys"]}
