"""How a person's history is written: lock the record, append one event, apply its
changes, audit both.  Every action that changes a person goes through these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from popreg.registry.access import Actor, person_in_scope
from popreg.registry.actions.checks import today
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.history import apply_changes, diff
from popreg.registry.models import (
    STATE_FIELDS,
    Event,
    Person,
)
from popreg.registry.policy import Permission


def lock_person(
    actor: Actor, person: Person | int, *, allow_merged: bool = False,
    permission: Permission = Permission.EDIT_REGISTRY,
) -> Person:
    """Re-read the person under a row lock and check the actor may change them.

    A record merged into another (a resolved duplicate) takes no further changes until the
    merge is undone; only the linkage actions pass ``allow_merged`` (and their own
    ``permission``).
    """
    actor.require(permission)
    pk = person if isinstance(person, int) else person.pk
    try:
        fresh = Person.objects.select_for_update().get(pk=pk)
    except Person.DoesNotExist:
        raise RegistryError(f"人员 {pk} 不存在", f"person {pk} does not exist", "person") from None
    if not person_in_scope(actor, fresh):
        raise JurisdictionError("该人员不在您的辖区内", "this person is outside your jurisdiction", "person")
    if fresh.merged_into_id is not None and not allow_merged:
        raise RegistryError(
            f"该记录已作为重复记录并入编号 {fresh.merged_into_id}，请在该记录上办理，或先撤销合并",
            f"this record was merged into person {fresh.merged_into_id}; act on that record or undo the merge first",
            "person",
        )
    return fresh


def record_event(
    actor: Actor,
    person: Person,
    event_type: str,
    event_date: date,
    new_values: Mapping[str, Any],
    *,
    recorded_date: date | None = None,
    from_unit: str = "",
    to_unit: str = "",
    detail: Mapping[str, Any] | None = None,
    action: AuditAction,
) -> Event:
    """Append one event, apply its changes to the person, audit both."""
    before = person.state()
    changes = diff(person, dict(new_values))
    apply_changes(person, changes)
    person.save()
    event = Event(
        person=person,
        event_type=event_type,
        event_date=event_date,
        recorded_date=recorded_date or today(),
        unit_code=before.get("registered_unit_id") or person.registered_unit_id or "",
        from_unit=from_unit or "",
        to_unit=to_unit or "",
        changes=changes,
        detail=dict(detail or {}),
        actor=actor.user if actor.user is not None and actor.user.pk else None,
    )
    event.save()
    audit(
        actor,
        action,
        person,
        unit_code=person.registered_unit_id,
        before=before,
        after=person.state(),
        detail={"event_id": event.pk, "event_type": event_type},
    )
    return event


def empty_state() -> dict[str, Any]:
    return {f: None for f in STATE_FIELDS}


def create_person(
    actor: Actor,
    values: dict[str, Any],
    event_type: str,
    event_date: date,
    *,
    recorded_date: date | None,
    from_unit: str = "",
    to_unit: str = "",
    detail: Mapping[str, Any] | None = None,
    action: AuditAction,
) -> Person:
    """A new record whose whole state comes from its first event (baseline empty)."""
    person = Person(**values)
    person.baseline = empty_state()
    person.baseline_event_id = 0
    changes = {f: [None, v] for f, v in person.state().items() if v is not None}
    apply_changes(person, changes)
    person.registered_date = recorded_date or today()
    person.save()
    event = Event(
        person=person,
        event_type=event_type,
        event_date=event_date,
        recorded_date=recorded_date or today(),
        unit_code=person.registered_unit_id,
        from_unit=from_unit,
        to_unit=to_unit,
        changes=changes,
        detail=dict(detail or {}),
        actor=actor.user if actor.user is not None and actor.user.pk else None,
    )
    event.save()
    audit(actor, action, person, unit_code=person.registered_unit_id, before=None,
          after=person.state(), detail={"event_id": event.pk, "event_type": event_type})
    return person
