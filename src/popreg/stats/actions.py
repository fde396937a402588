"""Every write to the assessment and reconciliation tables.

Each ``do_*`` function is atomic, checks the actor's role and jurisdiction, and writes an
audit record (``popreg.registry.actions.audit``); a refused action changes nothing and
raises :class:`StatsError` (Chinese + English, naming the field or row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from popreg.core.rules import RuleError, parse_rule_set
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Event, Person
from popreg.registry.policy import Permission
from popreg.stats.assessment import TargetRow
from popreg.stats.models import ReconciliationItem, ReconItemStatus, RuleSetVersion, UnitTarget


class StatsError(RegistryError):
    """A refused assessment or reconciliation write."""


@transaction.atomic
def do_save_rule_set(actor: Actor, definition: Any) -> RuleSetVersion:
    """Store a new version of a rule set (name + version must be new: versions are never edited)."""
    actor.require(Permission.MAINTAIN_ASSESSMENT)
    try:
        rs = parse_rule_set(definition)
    except RuleError as exc:
        raise StatsError(exc.message_zh, exc.message_en, "definition") from None
    if RuleSetVersion.objects.filter(name=rs.name, version=rs.version).exists():
        raise StatsError(
            f"规则集「{rs.name}」第 {rs.version} 版已存在：修改规则请提高版本号",
            f"rule set {rs.name!r} version {rs.version} exists; raise the version to change rules",
            "version",
        )
    obj = RuleSetVersion.objects.create(
        name=rs.name, version=rs.version, definition=rs.as_dict(), checksum=rs.checksum(),
        created_by=actor.user if actor.user is not None and actor.user.pk else None,
    )  # fmt: skip
    audit(actor, AuditAction.SAVE_RULE_SET, obj, after={"name": rs.name, "version": rs.version, "checksum": rs.checksum()})
    return obj


@transaction.atomic
def do_save_targets(actor: Actor, rows: Sequence[TargetRow], *, replace_year: bool = False) -> int:
    """Create or update yearly targets (already validated by ``read_targets`` or the form).

    Every row's unit must be inside the actor's jurisdiction.  ``replace_year`` first removes
    the actor's existing targets of the years in ``rows`` (an import replaces the table).
    """
    actor.require(Permission.SET_TARGETS)
    codes = {r.unit_code for r in rows}
    units = {u.code: u for u in AdminUnit.objects.filter(code__in=codes)}
    for i, r in enumerate(rows, start=1):
        if r.unit_code not in units:
            raise StatsError(f"第 {i} 行：单位 {r.unit_code} 不存在", f"row {i}: unit {r.unit_code} does not exist", "unit_code")
        actor.require(Permission.SET_TARGETS, r.unit_code)
    user = actor.user if actor.user is not None and actor.user.pk else None
    if replace_year:
        qs = UnitTarget.objects.filter(year__in={r.year for r in rows})
        if actor.prefix:
            qs = qs.filter(unit__code__startswith=actor.prefix)
        qs.delete()
    for r in rows:
        UnitTarget.objects.update_or_create(
            year=r.year, unit_id=r.unit_code, indicator=r.indicator,
            defaults={"low": r.low, "high": r.high, "note": r.note[:200], "updated_by": user},
        )  # fmt: skip
    audit(actor, AuditAction.SAVE_TARGETS, None, after={"rows": len(rows), "years": sorted({r.year for r in rows})},
          detail={"replace_year": replace_year})
    return len(rows)


def target_rows(year_from: int, year_to: int, prefix: str = "") -> list[TargetRow]:
    """The stored targets of years [year_from, year_to] as TargetRows (for ``assess``)."""
    qs = UnitTarget.objects.filter(year__gte=year_from, year__lte=year_to).select_related("unit")
    if prefix:
        qs = qs.filter(unit__code__startswith=prefix)
    return [TargetRow(t.year, t.unit_id, t.indicator, t.low, t.high, t.unit.name, t.note) for t in qs]


def _item_key(month: str, r: dict[str, Any]) -> str:
    if r["category"] == "registry_only":
        return f"{month}:event:{int(r['event_id'])}"
    return f"{month}:{r['source']}:{r['record_id']}"


def _detail(r: dict[str, Any]) -> str:
    kind = "出生" if r["kind"] == "birth" else "死亡"
    if r["category"] == "registry_only":
        return f"登记库有{kind}登记（{r['event_date']}），来源中无对应记录 / registry {r['kind']} on {r['event_date']} not found in the source"
    return f"来源记录 {r['record_id']}（{r['source_date']}）在登记库中无{kind}登记 / source record {r['record_id']} ({r['source_date']}) has no registry {r['kind']}"


@transaction.atomic
def do_create_reconciliation_items(actor: Actor, records: pd.DataFrame) -> tuple[int, int]:
    """Turn the unmatched records of a reconciliation into items for the responsible unit.

    Registry-only events go to the unit that recorded the event, source-only records to
    the linked person's or the stated address's village (the county when unknown).  Items
    already created for the same record are left as they are.  Returns (created, existing).
    Only records inside the actor's jurisdiction are taken.
    """
    actor.require(Permission.RECONCILE)
    county = AdminUnit.objects.filter(level="county").order_by("code").first()
    todo = records[records["category"].isin(["registry_only", "source_only"])]
    rows = todo.to_dict("records")
    codes = {str(r["unit_code"] or "") for r in rows}
    units = {u.code: u for u in AdminUnit.objects.filter(code__in=codes)}
    pids = {int(r["person_id"]) for r in rows if pd.notna(r["person_id"])}
    eids = {int(r["event_id"]) for r in rows if pd.notna(r["event_id"])}
    persons = set(Person.objects.filter(pk__in=pids).values_list("pk", flat=True))
    events = set(Event.objects.filter(pk__in=eids).values_list("pk", flat=True))
    existing = set(ReconciliationItem.objects.filter(
        key__in=[_item_key(r["month"], r) for r in rows]).values_list("key", flat=True))  # fmt: skip
    created = skipped = 0
    new: list[ReconciliationItem] = []
    for r in rows:
        unit = units.get(str(r["unit_code"] or "")) or county
        if unit is None or not actor.covers(unit.code):
            continue
        key = _item_key(r["month"], r)
        if key in existing:
            skipped += 1
            continue
        pid = int(r["person_id"]) if pd.notna(r["person_id"]) else None
        eid = int(r["event_id"]) if pd.notna(r["event_id"]) else None
        date_text = r["event_date"] or r["source_date"] or None
        new.append(ReconciliationItem(
            key=key, month=r["month"], kind=r["kind"], category=r["category"], unit=unit,
            person_id=pid if pid in persons else None, event_id=eid if eid in events else None,
            source=r["source"] or "", source_record_id=r["record_id"] or "",
            event_date=date_text, detail=_detail(r)[:300],
        ))  # fmt: skip
        existing.add(key)
        created += 1
    ReconciliationItem.objects.bulk_create(new)
    audit(actor, AuditAction.CREATE_RECONCILIATION_ITEMS, None, after={"created": created, "existing": skipped},
          detail={"months": sorted(set(records["month"]))})
    return created, skipped


@transaction.atomic
def do_settle_reconciliation_item(actor: Actor, item: ReconciliationItem | int, *, status: str, note: str) -> ReconciliationItem:
    """Close an item: ``resolved`` (the registry was fixed) or ``rejected`` (nothing to fix)."""
    actor.require(Permission.RECONCILE)
    obj = ReconciliationItem.objects.select_for_update().get(pk=item.pk if isinstance(item, ReconciliationItem) else item)
    actor.require(Permission.RECONCILE, obj.unit_id)
    if status not in (ReconItemStatus.RESOLVED, ReconItemStatus.REJECTED):
        raise StatsError("处理结果只能是“已处理”或“无需处理”", "status must be resolved or rejected", "status")
    if not note.strip():
        raise StatsError("请填写处理说明", "a note is required", "note")
    before = {"status": obj.status, "note": obj.note}
    obj.status, obj.note = status, note.strip()[:200]
    obj.resolved_by = actor.user if actor.user is not None and actor.user.pk else None
    obj.resolved_at = timezone.now()
    obj.save()
    audit(actor, AuditAction.SETTLE_RECONCILIATION_ITEM, obj, unit_code=obj.unit_id, before=before,
          after={"status": obj.status, "note": obj.note})
    return obj


def open_items(prefix: str = "", months: Iterable[str] | None = None) -> Any:
    qs = ReconciliationItem.objects.select_related("unit")
    if prefix:
        qs = qs.filter(unit__code__startswith=prefix)
    if months is not None:
        qs = qs.filter(month__in=list(months))
    return qs
