"""Which registrations a person's record admits: one predicate per action.

The ages are those of the documented plausibility rules (:mod:`popreg.core.validation`,
docs/validation.md), which the actions also run on the submitted values.  The person
page offers only the actions whose predicate passes today, the action's own
form refuses to open for one that does not (with the reason), and the action itself
(``popreg.registry.actions.persons``) runs the same predicate at the event date, so a
page, the API and an import never disagree about what is possible.

Each predicate returns ``None`` when the action is possible, else a
:class:`~popreg.registry.errors.RegistryError` whose message says why and what to do
instead.  The rules (ages are completed years on the date):

==============  ==============================================================
action          possible when
==============  ==============================================================
any             the record is not merged into another one (a merged duplicate
                is kept for its history; work on the surviving record)
death           the person is active (in the registry)
transfer        active
move_out        active
marriage        active, not recorded as married, of legal marriage age
                (:func:`popreg.core.validation.marriage_age`)
divorce         active and recorded as married
enlistment      active and of enlistment age (17 by the end of the year, at most
                26: ``popreg.core.validation.ENLISTMENT_AGE_MIN/MAX``)
discharge       deregistered by an enlistment (the latest status change of the
                record is an enlistment), not merged
child_birth     (registering a child of this mother) active, female, of a
                mother's age at the birth (``MOTHER_AGE_MIN/MAX``)
correct         not merged (a deceased or moved-out record may still be
                corrected: the history keeps both values)
==============  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from popreg.core import validation as rules
from popreg.registry.errors import RegistryError
from popreg.registry.models import Event, EventType, Person, Sex, Status
from popreg.registry.vocabulary import chinese_label

Predicate = Callable[[Person, date], RegistryError | None]


def age_on(person: Person, on: date) -> int | None:
    """Completed years of age on ``on`` (None without a birth date)."""
    return rules.age_on(person.birth_date, on) if person.birth_date is not None else None


def _merged(person: Person) -> RegistryError | None:
    if person.merged_into_id is None:
        return None
    return RegistryError(
        f"{person.name}（编号 {person.pk}）已合并到编号 {person.merged_into_id}，请在保留的记录上办理",
        f"record {person.pk} of {person.name} is merged into record {person.merged_into_id}; "
        "register the change on the surviving record",
        "person",
    )


def _active(person: Person, what_zh: str, what_en: str) -> RegistryError | None:
    merged = _merged(person)
    if merged is not None:
        return merged
    if person.status == Status.ACTIVE:
        return None
    status = Status(person.status)
    with_en = {Status.DECEASED: "is deceased", Status.EMIGRATED: "has moved out of the county",
               Status.DEREGISTERED: "is deregistered"}.get(status, "is not active")
    return RegistryError(
        f"{person.name} 当前状态为“{chinese_label(status)}”，不能{what_zh}",
        f"{person.name} {with_en}; a {what_en} is only possible for a person in the registry",
        "person",
    )


def _too_young(person: Person, on: date, years: int, what_zh: str, what_en: str) -> RegistryError | None:
    age = age_on(person, on)
    if age is None or age >= years:
        return None
    return RegistryError(
        f"{person.name} 在 {on:%Y-%m-%d} 时 {age} 周岁，未满 {years} 周岁，不能{what_zh}；请核对日期或出生日期",
        f"{person.name} is {age} on {on:%Y-%m-%d}, under {years}: no {what_en}; check the date or the birth date",
        "person",
    )


def _too_old(person: Person, on: date, years: int, what_zh: str, what_en: str) -> RegistryError | None:
    age = age_on(person, on)
    if age is None or age <= years:
        return None
    return RegistryError(
        f"{person.name} 在 {on:%Y-%m-%d} 时 {age} 周岁，超过 {years} 周岁，不能{what_zh}；请核对日期或出生日期",
        f"{person.name} is {age} on {on:%Y-%m-%d}, over {years}: no {what_en}; check the date or the birth date",
        "person",
    )


def death(person: Person, on: date) -> RegistryError | None:
    return _active(person, "登记死亡", "death registration")


def transfer(person: Person, on: date) -> RegistryError | None:
    return _active(person, "办理县内迁移", "transfer within the county")


def move_out(person: Person, on: date) -> RegistryError | None:
    return _active(person, "办理迁出", "move out of the county")


def marriage(person: Person, on: date) -> RegistryError | None:
    refused = _active(person, "登记结婚", "marriage registration")
    if refused is not None:
        return refused
    if person.marital_status == "married":
        return RegistryError(f"{person.name} 已登记为已婚；如已离婚请先登记离婚",
                             f"{person.name} is already married; register the divorce first", "person")
    if person.sex not in ("M", "F"):
        return None
    return _too_young(person, on, rules.marriage_age(person.sex, on), "登记结婚（法定婚龄）",
                      "marriage (legal age)")


def divorce(person: Person, on: date) -> RegistryError | None:
    refused = _active(person, "登记离婚", "divorce registration")
    if refused is not None:
        return refused
    if person.marital_status != "married":
        return RegistryError(f"{person.name} 未登记为已婚，不能登记离婚",
                             f"{person.name} is not recorded as married; no divorce to register", "person")
    return None


def enlistment(person: Person, on: date) -> RegistryError | None:
    # 17 counts by 31 December of the year of enlistment (the rule in popreg.core.validation).
    year_end = date(on.year, 12, 31)
    return (_active(person, "办理入伍注销", "enlistment")
            or _too_young(person, year_end, rules.ENLISTMENT_AGE_MIN, "办理入伍注销", "enlistment")
            or _too_old(person, on, rules.ENLISTMENT_AGE_MAX, "办理入伍注销", "enlistment"))


#: Events that change a person's status (bulk-loaded events carry no before/after values).
_STATUS_EVENTS = (EventType.DEATH, EventType.MOVE_OUT, EventType.ENLISTMENT, EventType.DISCHARGE,
                  EventType.MERGE, EventType.UNMERGE)


def is_enlisted(person: Person) -> bool:
    """Deregistered, and the latest change of status in the history is an enlistment."""
    if person.status != Status.DEREGISTERED or person.merged_into_id is not None:
        return False
    last = (Event.objects.filter(person_id=person.pk, event_type__in=_STATUS_EVENTS)
            .order_by("-event_date", "-id").values_list("event_type", flat=True).first())
    return last == EventType.ENLISTMENT


def discharge(person: Person, on: date) -> RegistryError | None:
    merged = _merged(person)
    if merged is not None:
        return merged
    if is_enlisted(person):
        return None
    return RegistryError(
        f"{person.name} 没有入伍注销记录，不能办理退伍恢复户口",
        f"{person.name} was not deregistered by an enlistment; no discharge to register",
        "person",
    )


def child_birth(person: Person, on: date) -> RegistryError | None:
    """This person as the mother of a child born on ``on``."""
    refused = _active(person, "作为母亲登记子女出生", "birth registration of a child")
    if refused is not None:
        return refused
    if person.sex != Sex.FEMALE:
        return RegistryError(f"{person.name} 的性别登记为男，不能作为母亲登记出生",
                             f"{person.name} is recorded as male and cannot be the mother", "mother")
    return (_too_young(person, on, rules.MOTHER_AGE_MIN, "作为母亲登记子女出生", "birth registration as the mother")
            or _too_old(person, on, rules.MOTHER_AGE_MAX, "作为母亲登记子女出生", "birth registration as the mother"))


def correct(person: Person, on: date) -> RegistryError | None:
    return _merged(person)


#: Action name (the URL name of its form) → predicate.
PREDICATES: dict[str, Predicate] = {
    "death": death, "transfer": transfer, "move_out": move_out, "marriage": marriage,
    "divorce": divorce, "enlistment": enlistment, "discharge": discharge,
    "child_birth": child_birth, "correct": correct,
}


def refusal(action: str, person: Person, on: date) -> RegistryError | None:
    return PREDICATES[action](person, on)


def require(action: str, person: Person, on: date) -> None:
    """Raise the predicate's error when ``action`` is not possible on ``on``."""
    refused = refusal(action, person, on)
    if refused is not None:
        raise refused


def refusals(person: Person, on: date) -> dict[str, RegistryError]:
    """The actions not possible on ``on``, each with the reason (the person page lists them)."""
    out = {}
    for name, predicate in PREDICATES.items():
        refused = predicate(person, on)
        if refused is not None:
            out[name] = refused
    return out


def offered(person: Person, on: date) -> dict[str, bool]:
    """Every action with whether it is possible on ``on`` (the person page's buttons)."""
    return {name: predicate(person, on) is None for name, predicate in PREDICATES.items()}
