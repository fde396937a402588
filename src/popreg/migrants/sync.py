"""Migrant records for persons that entered the registry without them (a loaded snapshot).

A loaded ``floating_in`` person (registered outside the county, living in one of its
villages) gets an in-migrant record; a loaded ``floating_out`` person (registered here,
living elsewhere) an out-migrant record.  Snapshots written by ``popreg synth --counties``
carry the optional person columns ``arrival_date``, ``migration_reason`` and
``destination_code``; without them the arrival is the person's registration date (else the
first event), the reason ``other`` and the destination the residence unit.  Out-migrants get
no confirmation date: nobody has confirmed where they are yet, so they are on the
"whereabouts unknown" list until someone does.

Runs after ``popreg load`` (a post-load step registered with the registry's loader) and
as ``popreg migrants_sync [--snapshot DIR]``; persons that already have a record are left
alone, so a second run adds nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from popreg.migrants.models import (
    HistoryKind,
    InMigrant,
    InMigrantStatus,
    MigrantHistory,
    OutMigrant,
    Reason,
)
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import AdminUnit, Event, Person, ResidenceType, Status, UnitLevel
from popreg.registry.policy import Permission

BATCH = 2000


def _snapshot_columns(snapshot_dir: str | Path | None) -> dict[int, dict[str, Any]]:
    """person_id → the optional migration columns of the snapshot (empty without them)."""
    if snapshot_dir is None:
        return {}
    import pyarrow.parquet as pq

    from popreg.snapshot import table_path

    path = table_path(Path(snapshot_dir), "persons")
    names = set(pq.ParquetFile(path).schema_arrow.names)
    wanted = [c for c in ("arrival_date", "migration_reason", "destination_code") if c in names]
    if not wanted:
        return {}
    table = pq.read_table(path, columns=["person_id", "residence_type", *wanted])
    out: dict[int, dict[str, Any]] = {}
    for row in table.to_pylist():
        if row["residence_type"] in ("floating_in", "floating_out"):
            out[int(row["person_id"])] = {k: row.get(k) for k in wanted}
    return out


@transaction.atomic
def sync_migrants(actor: Actor, snapshot_dir: str | Path | None = None) -> dict[str, int]:
    """Create the missing in- and out-migrant records; return how many of each."""
    actor.require(Permission.MANAGE_MIGRANTS)
    extra = _snapshot_columns(snapshot_dir)
    units = {c: (lv, n) for c, lv, n in AdminUnit.objects.values_list("code", "level", "name")}
    levels = {c: v[0] for c, v in units.items()}
    local = {UnitLevel.VILLAGE.value, UnitLevel.GROUP.value}
    has_in = set(InMigrant.objects.filter(status=InMigrantStatus.ACTIVE).values_list("person_id", flat=True))
    has_out = set(OutMigrant.objects.values_list("person_id", flat=True))
    base = Person.objects.filter(status=Status.ACTIVE, merged_into__isnull=True)
    ins = [
        p for p in base.filter(residence_type=ResidenceType.FLOATING_IN).only(
            "id", "registered_unit_id", "residence_unit_id", "registered_date", "birth_date")
        if p.pk not in has_in and levels.get(p.registered_unit_id) == UnitLevel.EXTERNAL
        and levels.get(p.residence_unit_id or "") in local and actor.covers(p.residence_unit_id)
    ]  # fmt: skip
    outs = [
        p for p in base.filter(residence_type=ResidenceType.FLOATING_OUT).only(
            "id", "registered_unit_id", "residence_unit_id")
        if p.pk not in has_out and levels.get(p.registered_unit_id) in local
        and actor.covers(p.registered_unit_id)
    ]  # fmt: skip
    first_event: dict[int, date] = {}
    missing = [p.pk for p in ins if not extra.get(p.pk, {}).get("arrival_date") and p.registered_date is None]
    for i in range(0, len(missing), BATCH):
        first_event.update(Event.objects.filter(person_id__in=missing[i:i + BATCH]).values("person_id")
                           .annotate(d=Min("event_date")).values_list("person_id", "d"))  # fmt: skip
    user = actor.user if actor.user is not None and actor.user.pk else None
    today = timezone.localdate()
    new_in, new_out, history = [], [], []
    for p in ins:
        cols = extra.get(p.pk, {})
        arrival = cols.get("arrival_date") or p.registered_date or first_event.get(p.pk) or p.birth_date or today
        reason = cols.get("migration_reason") if cols.get("migration_reason") in Reason.values else Reason.OTHER
        m = InMigrant(person_id=p.pk, residence_unit_id=p.residence_unit_id, origin_code=p.registered_unit_id[:12],
                      arrival_date=arrival, reason=reason)
        new_in.append(m)
        history.append(MigrantHistory(person_id=p.pk, kind=HistoryKind.IN_REGISTERED, on=arrival,
                                      after={**m.state(), "from": "load"}, actor_name=actor.name, actor=user))
    for p in outs:
        cols = extra.get(p.pk, {})
        dest = str(cols.get("destination_code") or p.residence_unit_id or "")
        if levels.get(dest) in local:
            dest = ""  # living in another village of the county is not out-migration
        o = OutMigrant(person_id=p.pk, destination_code=dest,
                       destination_name=units[dest][1] if dest in units else "")
        new_out.append(o)
        history.append(MigrantHistory(person_id=p.pk, kind=HistoryKind.WHEREABOUTS, on=today,
                                      after={**o.state(), "from": "load"}, actor_name=actor.name, actor=user))
    InMigrant.objects.bulk_create(new_in, batch_size=BATCH)
    OutMigrant.objects.bulk_create(new_out, batch_size=BATCH)
    MigrantHistory.objects.bulk_create(history, batch_size=BATCH)
    counts = {"in_migrants": len(new_in), "out_migrants": len(new_out)}
    audit(actor, AuditAction.MIGRANT_SYNC, None, after=counts,
          detail={"snapshot_columns": bool(extra)})
    return counts


def after_load(snapshot_dir: Path, actor: Actor) -> dict[str, int]:
    """The post-load step: the registry's loader calls it inside the load's transaction."""
    counts = sync_migrants(actor, snapshot_dir)
    return {f"migrants/{k}": v for k, v in counts.items()}
