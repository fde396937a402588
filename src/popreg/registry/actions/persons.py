"""Vital and registry events of persons: birth, death, moves, marriage, enlistment,
corrections."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction

from popreg.registry.access import Actor
from popreg.registry.actions.checks import (
    CORRECTABLE,
    audit_id_refusals,
    check_date,
    check_id,
    check_id_unique,
    check_name,
    check_sex,
    require_status,
    residence_unit,
    today,
    unit_of_level,
)
from popreg.registry.actions.events import create_person, lock_person, record_event, require_version
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.history import diff
from popreg.registry.models import (
    Event,
    EventType,
    Household,
    Person,
    ResidenceType,
    Sex,
    Status,
)
from popreg.registry.policy import Permission


def _new_person_values(
    actor: Actor, *, name: str, sex: str, birth_date: date, registered_unit_code: str,
    household: Household | None, id_number: str | None, ethnicity: str, hukou_kind: str,
    context: str,
) -> dict[str, Any]:
    """Checked state of a new record registered in a village (birth, move in)."""
    actor.require(Permission.EDIT_REGISTRY)
    name = check_name(name)
    sex = check_sex(sex)
    birth_date = check_date(birth_date, "birth_date", "出生日期")
    unit = unit_of_level(registered_unit_code, "registered_unit", "户籍地")
    actor.require(Permission.EDIT_REGISTRY, unit.code)
    if household is not None and household.unit_id != unit.code:
        raise RegistryError("所选户不在该户籍地", "the household is not in the registered unit", "household")
    number = check_id(id_number, birth_date, sex)
    check_id_unique(number, actor=actor, context=context)
    return {
        "name": name, "sex": sex, "birth_date": birth_date, "ethnicity": ethnicity,
        "id_number": number, "household_id": household.pk if household else None,
        "registered_unit_id": unit.code, "residence_unit_id": unit.code,
        "residence_type": ResidenceType.REGISTERED, "status": Status.ACTIVE, "hukou_kind": hukou_kind,
    }


@audit_id_refusals
@transaction.atomic
def do_register_birth(
    actor: Actor,
    *,
    name: str,
    sex: str,
    birth_date: date,
    registered_unit_code: str,
    household: Household | None = None,
    mother: Person | None = None,
    father: Person | None = None,
    id_number: str | None = None,
    ethnicity: str = "汉族",
    hukou_kind: str = "",
    recorded_date: date | None = None,
) -> Person:
    """出生登记: a new person whose record starts with a birth event."""
    values = _new_person_values(actor, name=name, sex=sex, birth_date=birth_date,
                                registered_unit_code=registered_unit_code, household=household,
                                id_number=id_number, ethnicity=ethnicity, hukou_kind=hukou_kind,
                                context="register_birth")
    birth_date = values["birth_date"]
    for parent, label, field in ((mother, "母亲", "mother"), (father, "父亲", "father")):
        if parent is None:
            continue
        if parent.birth_date and (birth_date - parent.birth_date).days < 365 * 12:
            raise RegistryError(f"{label}年龄不合理", f"the {field} is implausibly young", field)
    if mother is not None and mother.sex == Sex.MALE:
        raise RegistryError("母亲的性别登记为男，请核实", "the mother is recorded as male", "mother")
    values.update({
        "hukou_kind": hukou_kind or (mother.hukou_kind if mother else ""),
        "mother_id": mother.pk if mother else None, "father_id": father.pk if father else None,
    })
    return create_person(actor, values, EventType.BIRTH, birth_date, recorded_date=recorded_date,
                          to_unit=values["registered_unit_id"], action=AuditAction.REGISTER_BIRTH)


@transaction.atomic
def do_register_death(
    actor: Actor, person: Person, *, death_date: date, recorded_date: date | None = None, cause: str = "",
    expected_version: int | None = None,
) -> Event:
    """死亡注销."""
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "登记死亡", "register a death")
    death_date = check_date(death_date, "death_date", "死亡日期", not_before=p.birth_date)
    return record_event(actor, p, EventType.DEATH, death_date,
                   {"status": Status.DECEASED, "death_date": death_date},
                   recorded_date=recorded_date, detail={"cause": cause} if cause else None,
                   action=AuditAction.REGISTER_DEATH)


@transaction.atomic
def do_move_out(
    actor: Actor, person: Person, *, move_date: date, destination_code: str,
    destination_name: str = "", recorded_date: date | None = None, expected_version: int | None = None,
) -> Event:
    """迁出 (out of the county): the record is closed with status emigrated."""
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "办理迁出", "move out")
    move_date = check_date(move_date, "move_date", "迁出日期", not_before=p.birth_date)
    dest = (destination_code or "").strip()
    if not (dest.isdigit() and len(dest) in (6, 12)):
        raise RegistryError("迁往地代码应为6位或12位数字", "destination must be a 6- or 12-digit code", "destination_code")
    if dest[:6] == p.registered_unit_id[:6]:
        raise RegistryError("迁往县内其他村请办理县内迁移", "a move within the county is a transfer", "destination_code")
    return record_event(actor, p, EventType.MOVE_OUT, move_date, {"status": Status.EMIGRATED},
                        recorded_date=recorded_date, from_unit=p.registered_unit_id, to_unit=dest,
                   detail={"destination_name": destination_name} if destination_name else None,
                   action=AuditAction.MOVE_OUT)


@audit_id_refusals
@transaction.atomic
def do_move_in(
    actor: Actor,
    *,
    name: str,
    sex: str,
    birth_date: date,
    id_number: str | None,
    registered_unit_code: str,
    from_unit_code: str,
    move_date: date,
    household: Household | None = None,
    ethnicity: str = "汉族",
    hukou_kind: str = "",
    recorded_date: date | None = None,
) -> Person:
    """迁入 from outside the county: a new record starting with a move_in event."""
    values = _new_person_values(actor, name=name, sex=sex, birth_date=birth_date,
                                registered_unit_code=registered_unit_code, household=household,
                                id_number=id_number, ethnicity=ethnicity, hukou_kind=hukou_kind,
                                context="move_in")
    move_date = check_date(move_date, "move_date", "迁入日期", not_before=values["birth_date"])
    return create_person(actor, values, EventType.MOVE_IN, move_date, recorded_date=recorded_date,
                          from_unit=(from_unit_code or "").strip(), to_unit=values["registered_unit_id"],
                          action=AuditAction.MOVE_IN)


@transaction.atomic
def do_transfer(
    actor: Actor, person: Person, *, to_unit_code: str, move_date: date,
    household: Household | None = None, recorded_date: date | None = None, expected_version: int | None = None,
) -> Event:
    """县内迁移: registration moves to another village of the county."""
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "办理迁移", "transfer")
    move_date = check_date(move_date, "move_date", "迁移日期", not_before=p.birth_date)
    unit = unit_of_level(to_unit_code, "to_unit", "迁往单位")
    if unit.code == p.registered_unit_id:
        raise RegistryError("迁往单位与现户籍地相同", "destination equals the current unit", "to_unit")
    if household is not None and household.unit_id != unit.code:
        raise RegistryError("所选户不在迁往单位", "the household is not in the destination", "household")
    values = {"registered_unit_id": unit.code, "residence_unit_id": unit.code,
              "household_id": household.pk if household else None}
    return record_event(actor, p, EventType.TRANSFER, move_date, values, recorded_date=recorded_date,
                        from_unit=p.registered_unit_id, to_unit=unit.code, action=AuditAction.TRANSFER)


@transaction.atomic
def do_register_marriage(
    actor: Actor, person: Person, *, marriage_date: date, spouse: Person | None = None,
    recorded_date: date | None = None, expected_version: int | None = None,
) -> Event:
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "登记结婚", "register a marriage")
    marriage_date = check_date(marriage_date, "marriage_date", "结婚日期", not_before=p.birth_date)
    if p.marital_status == "married":
        raise RegistryError(f"{p.name} 已登记为已婚", f"{p.name} is already married", "person")
    return record_event(actor, p, EventType.MARRIAGE, marriage_date, {"marital_status": "married"},
                        recorded_date=recorded_date, detail={"spouse_id": spouse.pk} if spouse else None,
                   action=AuditAction.REGISTER_MARRIAGE)


@transaction.atomic
def do_register_divorce(
    actor: Actor, person: Person, *, divorce_date: date, recorded_date: date | None = None,
    expected_version: int | None = None,
) -> Event:
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "登记离婚", "register a divorce")
    divorce_date = check_date(divorce_date, "divorce_date", "离婚日期", not_before=p.birth_date)
    if p.marital_status != "married":
        raise RegistryError(f"{p.name} 未登记为已婚", f"{p.name} is not recorded as married", "person")
    return record_event(actor, p, EventType.DIVORCE, divorce_date, {"marital_status": "divorced"},
                        recorded_date=recorded_date, action=AuditAction.REGISTER_DIVORCE)


@transaction.atomic
def do_register_enlistment(
    actor: Actor, person: Person, *, enlistment_date: date, recorded_date: date | None = None,
    expected_version: int | None = None,
) -> Event:
    """入伍注销: enlisted persons leave the civil registry until discharge."""
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.ACTIVE,), "办理入伍注销", "register an enlistment")
    enlistment_date = check_date(enlistment_date, "enlistment_date", "入伍日期", not_before=p.birth_date)
    return record_event(actor, p, EventType.ENLISTMENT, enlistment_date, {"status": Status.DEREGISTERED},
                        recorded_date=recorded_date, from_unit=p.registered_unit_id, action=AuditAction.REGISTER_ENLISTMENT)


@audit_id_refusals
@transaction.atomic
def do_register_discharge(
    actor: Actor, person: Person, *, discharge_date: date, to_unit_code: str,
    household: Household | None = None, recorded_date: date | None = None, expected_version: int | None = None,
) -> Event:
    """退伍恢复户口."""
    p = lock_person(actor, person)
    require_version(p, expected_version)
    require_status(p, (Status.DEREGISTERED,), "办理退伍恢复户口", "register a discharge")
    discharge_date = check_date(discharge_date, "discharge_date", "退伍日期", not_before=p.birth_date)
    unit = unit_of_level(to_unit_code, "to_unit", "落户单位")
    actor.require(Permission.EDIT_REGISTRY, unit.code)
    values = {"status": Status.ACTIVE, "registered_unit_id": unit.code, "residence_unit_id": unit.code,
              "household_id": household.pk if household else p.household_id}
    return record_event(actor, p, EventType.DISCHARGE, discharge_date, values, recorded_date=recorded_date,
                        to_unit=unit.code, action=AuditAction.REGISTER_DISCHARGE)


@audit_id_refusals
@transaction.atomic
def do_correct_person(
    actor: Actor, person: Person, *, changes: Mapping[str, Any], reason: str,
    correction_date: date | None = None, expected_version: int | None = None,
) -> Event:
    """更正: change recorded fields; the before/after values stay in history."""
    p = lock_person(actor, person)
    require_version(p, expected_version, changes)
    if not (reason or "").strip():
        raise RegistryError("请填写更正原因", "a reason for the correction is required", "reason")
    unknown = [f for f in changes if f not in CORRECTABLE]
    if unknown:
        raise RegistryError(f"不能更正字段 {', '.join(unknown)}", f"cannot correct {', '.join(unknown)}", unknown[0])
    values = dict(changes)
    if "name" in values:
        values["name"] = check_name(values["name"])
    if "sex" in values:
        values["sex"] = check_sex(values["sex"])
    if "birth_date" in values:
        values["birth_date"] = check_date(values["birth_date"], "birth_date", "出生日期")
    if "residence_type" in values and values["residence_type"] not in ResidenceType.values:
        raise RegistryError("居住类型不正确", "unknown residence type", "residence_type")
    if "residence_unit_id" in values and values["residence_unit_id"]:
        values["residence_unit_id"] = residence_unit(values["residence_unit_id"]).code
    if "id_number" in values or "birth_date" in values or "sex" in values:
        number = values.get("id_number", p.id_number)
        checked = check_id(number, values.get("birth_date", p.birth_date), values.get("sex", p.sex))
        if "id_number" in values:
            check_id_unique(checked, exclude_pk=p.pk, actor=actor, context="correct_person")
            values["id_number"] = checked
    if not diff(p, values):
        raise RegistryError("更正内容与现有登记相同", "the correction changes nothing", "changes")
    return record_event(actor, p, EventType.CORRECTION, correction_date or today(), values,
                        detail={"reason": reason.strip()}, action=AuditAction.CORRECT_PERSON)
