"""The plausibility rules of :mod:`popreg.core.validation` applied to the registry.

Builds the :class:`~popreg.core.validation.Entry` of a registration from what a form, the
API, an import row or an action has (a stored :class:`Person`, its events, the county's
code, today's local date), and turns the problems into one :class:`RegistryErrors`: a
``RegistryError`` that carries every problem, each naming its field, so a form shows
them all at once and an API answer lists them all.

The action layer (``popreg.registry.actions``) runs the same check before it writes, so a
write that bypasses a form (command, import, campaign rectification) meets the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from django.utils import timezone

from popreg.core import ethnicity as ethnic_groups
from popreg.core.validation import Entry, Problem, Relative, check
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Event, EventType, Person

T = TypeVar("T")

__all__ = [
    "RegistryErrors",
    "Collector",
    "county_code",
    "errors_of",
    "event_entry",
    "normalize_ethnicity",
    "problem_errors",
    "raise_problems",
    "relative",
]


class RegistryErrors(RegistryError):
    """Several refused fields at once; ``errors`` are the single errors, each with its field."""

    def __init__(self, errors: list[RegistryError]) -> None:
        if not errors:
            raise ValueError("RegistryErrors needs at least one error")
        self.errors = errors
        super().__init__("；".join(e.message_zh for e in errors),
                         "; ".join(e.message_en for e in errors), errors[0].field)

    def as_list(self) -> list[dict[str, Any]]:
        return [as_dict(e) for e in self.errors]


def errors_of(err: RegistryError) -> list[RegistryError]:
    """The single errors of ``err`` (itself when it holds one)."""
    return list(err.errors) if isinstance(err, RegistryErrors) else [err]


def as_dict(err: RegistryError) -> dict[str, Any]:
    return {"field": err.field, "code": getattr(err, "code", ""),
            "message_zh": err.message_zh, "message_en": err.message_en}


class ProblemError(RegistryError):
    """A rule of ``core.validation`` broken; ``code`` is the rule's code."""

    def __init__(self, problem: Problem, field: str) -> None:
        super().__init__(problem.message_zh, problem.message_en, field)
        self.code = problem.code


def problem_errors(problems: Iterable[Problem], aliases: Mapping[str, str] | None = None) -> list[RegistryError]:
    """Problems as field errors; ``aliases`` renames the rules' fields to the caller's."""
    names = aliases or {}
    return [ProblemError(p, names.get(p.field, p.field)) for p in problems]


def raise_problems(problems: Iterable[Problem], aliases: Mapping[str, str] | None = None) -> None:
    errors = problem_errors(problems, aliases)
    if errors:
        raise RegistryErrors(errors)


class Collector:
    """Runs checks that raise ``RegistryError`` and keeps every error instead of the first."""

    def __init__(self) -> None:
        self.errors: list[RegistryError] = []

    def run(self, check_: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return check_(*args, **kwargs)
        except RegistryError as err:
            self.errors.extend(errors_of(err))
            return None

    def add(self, errors: Iterable[RegistryError]) -> None:
        self.errors.extend(errors)

    def fields(self) -> set[str]:
        return {e.field for e in self.errors if e.field}

    def raise_all(self) -> None:
        if self.errors:
            raise RegistryErrors(self.errors)


# --------------------------------------------------------------------------- entries


def today() -> date:
    return timezone.localdate()


def county_code() -> str:
    """The 6-digit code of the county this registry serves ("" before units are loaded)."""
    code = AdminUnit.objects.filter(level="county").order_by("code").values_list("code", flat=True).first()
    return (code or "")[:6]


def relative(person: Person | None) -> Relative | None:
    if person is None:
        return None
    return Relative(birth_date=person.birth_date, sex=person.sex or None, death_date=person.death_date)


def _last_event_date(person: Person, event_type: str) -> date | None:
    if not person.pk:
        return None
    return (Event.objects.filter(person=person, event_type=event_type)
            .order_by("-event_date", "-id").values_list("event_date", flat=True).first())


def event_entry(person: Person, kind: str, event_date: date | None, event_field: str,
                **extra: Any) -> Entry:
    """The entry of an event of a stored ``person`` on ``event_date`` (typed in ``event_field``)."""
    values: dict[str, Any] = {
        "kind": kind, "today": today(), "event_date": event_date, "event_field": event_field,
        "sex": person.sex or None, "birth_date": person.birth_date, "death_date": person.death_date,
        "home_county": county_code(), "entered": frozenset({event_field, *extra.pop("entered", ())}),
    }
    if kind == "divorce":
        values["marriage_date"] = _last_event_date(person, EventType.MARRIAGE)
    if kind == "discharge":
        values["enlistment_date"] = _last_event_date(person, EventType.ENLISTMENT)
    values.update(extra)
    return Entry(**values)


def person_entry(kind: str, *, birth_date: date | None, sex: str | None, id_number: str | None,
                 ethnicity: str | None, event_date: date | None = None, event_field: str = "birth_date",
                 mother: Person | None = None, father: Person | None = None,
                 origin_code: str | None = None) -> Entry:
    """The entry of a new record (birth, move in, an imported or found person)."""
    return Entry(
        kind=kind, today=today(), event_date=birth_date if kind == "birth" else event_date,
        event_field=event_field, sex=sex or None, birth_date=birth_date, id_number=id_number or None,
        ethnicity=ethnicity, mother=relative(mother), father=relative(father),
        origin_code=origin_code or None, home_county=county_code() if origin_code else "",
    )


def check_entry(entry: Entry, aliases: Mapping[str, str] | None = None) -> list[RegistryError]:
    """Every broken rule of ``entry`` as field errors."""
    return problem_errors(check(entry), aliases)


def normalize_ethnicity(value: str | None, default: str = "汉族") -> str:
    """The stored name of a valid ethnicity (``蒙古`` → ``蒙古族``), ``default`` when empty,
    the text itself when it is no ethnic group (the rules report it)."""
    text = (value or "").strip()
    if not text:
        return default
    return ethnic_groups.normalize(text) or text
