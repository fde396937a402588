"""Vital and registry events of persons: birth, death, moves, marriage, enlistment,
corrections."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction

from popreg.core import idnumber
from popreg.core.validation import Entry
from popreg.registry import offers
from popreg.registry.access import Actor
from popreg.registry.actions.checks import (
    CORRECTABLE,
    audit_id_refusals,
    check_date_type,
    check_event,
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
    Status,
)
from popreg.registry.policy import Permission
from popreg.registry.validation import Collector, check_entry, normalize_ethnicity, person_entry


def _new_person_values(
    actor: Actor, *, name: str, sex: str, birth_date: date, registered_unit_code: str,
    household: Household | None, id_number: str | None, ethnicity: str, hukou_kind: str,
    context: str, kind: str = "birth", event_date: date | None = None,
    mother: Person | None = None, father: Person | None = None, origin_code: str = "",
) -> dict[str, Any]:
    """Checked state of a new record registered in a village (birth, move in): every
    problem of the fields at once (``core.validation``), then jurisdiction and uniqueness."""
    actor.require(Permission.EDIT_REGISTRY)
    found = Collector()
    name = found.run(check_name, name) or ""
    sex = found.run(check_sex, sex) or ""
    born = found.run(check_date_type, birth_date, "birth_date", "出生日期")
    moved = None
    if kind == "move_in":
        moved = found.run(check_date_type, event_date, "move_date", "迁入日期")
    entry = person_entry(kind, birth_date=born, sex=sex, id_number=id_number, ethnicity=ethnicity,
                         event_date=moved, event_field="move_date" if kind == "move_in" else "birth_date",
                         mother=mother, father=father, origin_code=origin_code)
    found.add(check_entry(entry, {"origin_code": "from_unit_code"}))
    unit = found.run(unit_of_level, registered_unit_code, "registered_unit", "户籍地")
    found.raise_all()
    assert unit is not None and born is not None
    actor.require(Permission.EDIT_REGISTRY, unit.code)
    if household is not None and household.unit_id != unit.code:
        raise RegistryError("所选户不在该户籍地", "the household is not in the registered unit", "household")
    number = idnumber.validate(id_number).number if id_number else None
    check_id_unique(number, actor=actor, context=context)
    return {
        "name": name, "sex": sex, "birth_date": born, "ethnicity": normalize_ethnicity(ethnicity),
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
                                context="register_birth", kind="birth", mother=mother, father=father)
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
    death_date = check_event(p, "death", death_date, "death_date", "死亡日期")
    offers.require("death", p, death_date)
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
    dest = (destination_code or "").strip()
    move_date = check_event(p, "move_out", move_date, "move_date", "迁出日期", destination_code=dest,
                            entered={"destination_code"})
    offers.require("move_out", p, move_date)
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
                                context="move_in", kind="move_in", event_date=move_date,
                                origin_code=(from_unit_code or "").strip())
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
    move_date = check_event(p, "transfer", move_date, "move_date", "迁移日期")
    offers.require("transfer", p, move_date)
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
    marriage_date = check_event(p, "marriage", marriage_date, "marriage_date", "结婚日期")
    offers.require("marriage", p, marriage_date)
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
    divorce_date = check_event(p, "divorce", divorce_date, "divorce_date", "离婚日期")
    offers.require("divorce", p, divorce_date)
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
    enlistment_date = check_event(p, "enlistment", enlistment_date, "enlistment_date", "入伍日期")
    offers.require("enlistment", p, enlistment_date)
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
    discharge_date = check_event(p, "discharge", discharge_date, "discharge_date", "退伍日期")
    offers.require("discharge", p, discharge_date)
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
    offers.require("correct", p, correction_date or today())
    if not (reason or "").strip():
        raise RegistryError("请填写更正原因", "a reason for the correction is required", "reason")
    unknown = [f for f in changes if f not in CORRECTABLE]
    if unknown:
        raise RegistryError(f"不能更正字段 {', '.join(unknown)}", f"cannot correct {', '.join(unknown)}", unknown[0])
    values = dict(changes)
    found = Collector()  # every problem of the corrected fields at once
    if "name" in values:
        values["name"] = found.run(check_name, values["name"])
    if "sex" in values:
        values["sex"] = found.run(check_sex, values["sex"])
    if "birth_date" in values:
        values["birth_date"] = found.run(check_date_type, values["birth_date"], "birth_date", "出生日期")
    if "residence_type" in values and values["residence_type"] not in ResidenceType.values:
        found.add([RegistryError("居住类型不正确", "unknown residence type", "residence_type")])
    if "residence_unit_id" in values and values["residence_unit_id"]:
        unit = found.run(residence_unit, values["residence_unit_id"])
        values["residence_unit_id"] = unit.code if unit is not None else values["residence_unit_id"]
    entry = Entry(kind="correction", today=today(), event_field="correction_date",
                  sex=values.get("sex", p.sex) or None, birth_date=values.get("birth_date", p.birth_date),
                  death_date=p.death_date, id_number=values.get("id_number", p.id_number) or None,
                  ethnicity=values.get("ethnicity"), entered=frozenset(values))
    found.add(check_entry(entry))
    found.raise_all()
    if "ethnicity" in values:
        values["ethnicity"] = normalize_ethnicity(values["ethnicity"], default="")
    if "id_number" in values:
        checked = idnumber.validate(str(values["id_number"])).number if values["id_number"] else None
        check_id_unique(checked, exclude_pk=p.pk, actor=actor, context="correct_person")
        values["id_number"] = checked
    if not diff(p, values):
        raise RegistryError("更正内容与现有登记相同", "the correction changes nothing", "changes")
    return record_event(actor, p, EventType.CORRECTION, correction_date or today(), values,
                        detail={"reason": reason.strip()}, action=AuditAction.CORRECT_PERSON)
