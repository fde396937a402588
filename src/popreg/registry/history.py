"""History: current state of a person = baseline + the changes of every later event.

Actions compute an event's ``changes`` ({field: [before, after]}) and apply them with
``apply_changes``; ``rebuild_person`` replays the same changes from the baseline, so the
stored state can always be re-derived and checked (``popreg verify_history``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from popreg.registry.models import STATE_FIELDS, Event, Person

_DATE_FIELDS = {"birth_date", "death_date"}


def to_json(field: str, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(field: str, value: Any) -> Any:
    if field in _DATE_FIELDS and isinstance(value, str) and value:
        return date.fromisoformat(value)
    return value


def diff(person: Person, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """Changes that setting ``new_values`` on ``person`` would make, as [before, after]."""
    out: dict[str, list[Any]] = {}
    for field, new in new_values.items():
        if field not in STATE_FIELDS:
            raise KeyError(f"{field} is not a history-tracked field")
        old = getattr(person, field)
        if to_json(field, old) != to_json(field, new):
            out[field] = [to_json(field, old), to_json(field, new)]
    return out


def apply_changes(person: Person, changes: dict[str, list[Any]]) -> None:
    for field, (_before, after) in changes.items():
        setattr(person, field, from_json(field, after))
    if "name" in changes:
        from popreg.registry.search import name_keys

        person.name_key, person.name_pinyin = name_keys(person.name)


def replay(baseline: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    state = dict(baseline)
    for event in events:
        for field, (_before, after) in event.changes.items():
            state[field] = after
    return state


def rebuild_state(person: Person) -> dict[str, Any]:
    """The state history says ``person`` should have now (JSON-able values)."""
    events = list(person.events.filter(id__gt=person.baseline_event_id).order_by("id"))
    return replay(person.baseline, events)


def differing_fields(person: Person, target: dict[str, Any]) -> list[str]:
    """The state fields whose stored value differs from ``target`` (JSON-able values)."""
    current = person.state()
    return sorted(f for f in STATE_FIELDS if target.get(f) != current.get(f))


def rebuild_person(person: Person) -> list[str]:
    """Re-derive ``person``'s state from history; returns the fields that differ from the
    stored state.  Reads only: ``popreg.registry.actions.do_repair_history`` writes the
    derived state back (audited)."""
    return differing_fields(person, rebuild_state(person))
