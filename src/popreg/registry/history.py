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


def rebuild_person(person: Person, *, save: bool = False) -> list[str]:
    """Re-derive ``person``'s state from history; returns the fields that differed."""
    target = rebuild_state(person)
    current = person.state()
    differing = sorted(f for f in STATE_FIELDS if target.get(f) != current.get(f))
    if save and differing:
        for f in differing:
            setattr(person, f, from_json(f, target.get(f)))
        person.save(update_fields=[f for f in differing])
    return differing
