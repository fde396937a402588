"""Checks shared by the registry actions and the bulk import: field values, units,
ID numbers, the state a person must be in.  Each raises ``RegistryError`` naming the field."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar, cast

from django.db import transaction
from django.utils import timezone

from popreg.core import idnumber
from popreg.core.validation import Entry, check
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.errors import RegistryError
from popreg.registry.models import (
    AdminUnit,
    AuditRecord,
    Person,
    Sex,
    Status,
    UnitLevel,
)
from popreg.registry.validation import event_entry, raise_problems
from popreg.registry.vocabulary import chinese_label

F = TypeVar("F", bound=Callable[..., Any])

#: Fields a correction may change, with their Chinese labels for error messages.
CORRECTABLE = {
    "name": "姓名",
    "former_names": "曾用名",
    "sex": "性别",
    "birth_date": "出生日期",
    "ethnicity": "民族",
    "id_number": "公民身份号码",
    "hukou_kind": "户口性质",
    "residence_unit_id": "居住地",
    "residence_type": "居住类型",
    "mother_id": "母亲",
    "father_id": "父亲",
}




def today() -> date:
    return timezone.localdate()


def unit_of_level(code: str | None, field: str, label: str, *, levels: tuple[str, ...] = ("village", "group")) -> AdminUnit:
    if not code:
        raise RegistryError(f"请填写{label}", f"{field} is required", field)
    try:
        unit = AdminUnit.objects.get(code=code)
    except AdminUnit.DoesNotExist:
        raise RegistryError(f"{label}代码 {code} 不存在", f"unit {code} does not exist", field) from None
    if unit.level not in levels:
        raise RegistryError(
            f"{label}必须是村(居)委会或村民小组，{unit.name} 是{chinese_label(UnitLevel(unit.level))}",
            f"{field} must be a village or group, {code} is a {unit.level}",
            field,
        )
    return unit


def residence_unit(code: str) -> AdminUnit:
    """Where someone actually lives: a village of the county, or any place outside it."""
    code = str(code).strip()
    unit = AdminUnit.objects.filter(code=code).first()
    if unit is not None and unit.level in ("village", "group", "external"):
        return unit
    county = AdminUnit.objects.filter(level="county").values_list("code", flat=True).first() or ""
    if unit is None and code.isdigit() and len(code) == 12 and not code.startswith(county[:6]):
        from popreg.registry.loading import external_unit

        unit = external_unit(code)
        unit.save()
        return unit
    return unit_of_level(code, "residence_unit", "居住地")


#: English names of the date fields, for messages (never the field's code).
DATE_LABELS_EN = {
    "birth_date": "birth date", "death_date": "date of death", "move_date": "date of the move",
    "marriage_date": "date of marriage", "divorce_date": "date of divorce",
    "enlistment_date": "date of enlistment", "discharge_date": "date of discharge",
    "split_date": "date of the split", "merge_date": "date of the merge",
    "dissolve_date": "date of dissolution",
}


def check_date_type(value: Any, field: str, label: str) -> date:
    if not isinstance(value, date):
        en = DATE_LABELS_EN.get(field, field.replace("_", " "))
        raise RegistryError(f"{label}格式不正确，应为 年-月-日（如 2024-03-15）",
                            f"the {en} must be a date written year-month-day (such as 2024-03-15)", field)
    return value


def check_date(value: Any, field: str, label: str, *, not_before: date | None = None) -> date:
    """A date that is a date, not in the future, not before the floor of the plausibility
    rules (``core.validation``) nor before ``not_before`` (a birth date); every problem at once."""
    day = check_date_type(value, field, label)
    en = DATE_LABELS_EN.get(field, field.replace("_", " "))
    if field == "birth_date":
        entry = Entry(kind="person", today=today(), birth_date=day, event_date=day,
                      event_field="birth_date", entered=frozenset({"birth_date"}))
    else:
        entry = Entry(kind="person", today=today(), event_date=day, event_field=field,
                      birth_date=not_before, entered=frozenset({field}), event_label=(label, en))
    raise_problems(check(entry))
    return day


def check_event(person: Person, kind: str, value: Any, field: str, label: str, **extra: Any) -> date:
    """The date of an event of ``person`` and what comes with it (destination, ...), checked
    by every plausibility rule at once (``core.validation``; docs/validation.md)."""
    day = check_date_type(value, field, label)
    raise_problems(check(event_entry(person, kind, day, field, **extra)))
    return day


def check_name(value: Any) -> str:
    name = (value or "").strip()
    if not name:
        raise RegistryError("请填写姓名", "name is required", "name")
    if len(name) > 60:
        raise RegistryError("姓名过长（最多60个字）", "name is too long (60 characters at most)", "name")
    return name


def check_sex(value: Any) -> str:
    if value not in (Sex.MALE, Sex.FEMALE):
        raise RegistryError("性别应为 男(M) 或 女(F)", "sex must be M or F", "sex")
    return str(value)


def check_id(raw: Any, birth_date: date | None, sex: str | None) -> str | None:
    """The normalised number; every problem of it (and its agreement with the birth date
    and sex) at once."""
    if raw in (None, ""):
        return None
    entry = Entry(kind="person", today=today(), id_number=str(raw), birth_date=birth_date,
                  sex=sex, entered=frozenset({"id_number"}))
    raise_problems([p for p in check(entry) if p.code.startswith("id_")])
    return idnumber.validate(str(raw)).number


class IdNumberElsewhere(RegistryError):
    """The ID number belongs to an active record outside the actor's jurisdiction.

    The message names neither the record nor the person.  The refusal is audited
    (``AuditAction.CHECK_ID_ELSEWHERE``) by :func:`audit_id_refusals` once the refused
    action's transaction has rolled back, and again by each enclosing
    :func:`audit_id_refusals` whose own transaction rolled that record back with it, so
    exactly one audit record survives the refusal at any nesting depth.
    """

    def __init__(self, actor: Actor, number: str, holder: Person, context: str) -> None:
        super().__init__(*elsewhere_message(number), "id_number")
        self.actor, self.number, self.holder, self.context = actor, number, holder, context
        self.audit_pk: int | None = None

    def ensure_audited(self) -> None:
        """Write the audit record unless the one written earlier is still in the database
        (it is gone when an enclosing transaction rolled back after it was written)."""
        if self.audit_pk is not None and AuditRecord.objects.filter(pk=self.audit_pk).exists():
            return
        self.audit_pk = audit_id_elsewhere(self.actor, self.holder, self.number, self.context).pk


def elsewhere_message(number: str) -> tuple[str, str]:
    """The only answer about an ID number registered outside the asker's jurisdiction."""
    return (
        f"公民身份号码 {number} 已在其他地方登记，请联系县级户籍部门",
        f"ID number {number} is already registered elsewhere; ask the county office",
    )


def audit_id_elsewhere(actor: Actor, holder: Person, number: str, context: str) -> Any:
    """Audit that ``actor`` learnt that ``number`` is registered outside their jurisdiction
    (to ``holder``; ``context``: the action that asked)."""
    from popreg.registry.audit import AuditAction, audit

    with transaction.atomic():
        return audit(actor, AuditAction.CHECK_ID_ELSEWHERE, holder, unit_code=actor.unit_code or "",
              detail={"context": context,
                      "hits": [{"id_number": number, "person_id": holder.pk,
                                "unit": holder.registered_unit_id}]})


def audit_id_refusals(func: F) -> F:
    """Write the audit record of an :class:`IdNumberElsewhere` refusal after the action's
    own transaction rolled back (place it above ``@transaction.atomic``).

    Also on every function that calls registry actions inside its own atomic block and
    lets the refusal out (a campaign rectification): that block's rollback takes the
    inner audit record with it, and this wrapper writes it again (only then).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IdNumberElsewhere as exc:
            exc.ensure_audited()
            raise

    return cast(F, wrapper)


def check_id_unique(number: str | None, exclude_pk: int | None = None, *, actor: Actor | None = None,
                    context: str = "") -> None:
    """Refuse an ID number that an active, unmerged record already holds.

    Within the actor's jurisdiction (or without an actor: commands) the message names the
    record so the clerk can look for a duplicate; outside it the answer is only "registered
    elsewhere" (:class:`IdNumberElsewhere`, audited).  The partial unique index
    ``ACTIVE_ID_NUMBER_UNIQUE`` backs this read against concurrent writers.
    """
    if not number:
        return
    qs = Person.objects.filter(id_number=number, status=Status.ACTIVE, merged_into__isnull=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    others = list(qs.order_by("pk")[:5])
    if not others:
        return
    visible = [p for p in others if actor is None or person_in_scope(actor, p)]
    if visible:
        other = visible[0]
        raise RegistryError(
            f"公民身份号码 {number} 已登记给在册人员（编号 {other.pk}），请核实是否重复登记",
            f"ID number {number} already belongs to active person {other.pk}; check for a duplicate",
            "id_number",
        )
    assert actor is not None
    raise IdNumberElsewhere(actor, number, others[0], context)


def require_status(person: Person, allowed: tuple[str, ...], what_zh: str, what_en: str) -> None:
    if person.status not in allowed:
        raise RegistryError(
            f"{person.name} 当前状态为“{chinese_label(Status(person.status))}”，不能{what_zh}",
            f"{person.name} is {person.status}; cannot {what_en}",
            "person",
        )
