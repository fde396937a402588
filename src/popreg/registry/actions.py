"""Every write to the registry.  Each ``do_*`` function is atomic, checks the actor's
role and jurisdiction, appends an event where the person's state changes, and writes an
audit record.  Web views, the API, bulk import and commands all call these; nothing else
writes registry tables.

Errors are ``RegistryError`` (Chinese + English, naming the field); a refused action
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from popreg.core import idnumber
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.history import apply_changes, diff
from popreg.registry.models import (
    STATE_FIELDS,
    AdminUnit,
    Event,
    EventType,
    Household,
    Person,
    ResidenceType,
    Sex,
    Status,
    UnitSuccession,
)

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


# ---------------------------------------------------------------- helpers


def _today() -> date:
    return timezone.localdate()


def _unit(code: str | None, field: str, label: str, *, levels: tuple[str, ...] = ("village", "group")) -> AdminUnit:
    if not code:
        raise RegistryError(f"请填写{label}", f"{field} is required", field)
    try:
        unit = AdminUnit.objects.get(code=code)
    except AdminUnit.DoesNotExist:
        raise RegistryError(f"{label}代码 {code} 不存在", f"unit {code} does not exist", field) from None
    if unit.level not in levels:
        raise RegistryError(
            f"{label}必须是村(居)委会或村民小组，{unit.name} 是{unit.get_level_display()}",
            f"{field} must be a village or group, {code} is a {unit.level}",
            field,
        )
    return unit


def _residence_unit(code: str) -> AdminUnit:
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
    return _unit(code, "residence_unit", "居住地")


def _check_date(value: Any, field: str, label: str, *, not_before: date | None = None) -> date:
    if not isinstance(value, date):
        raise RegistryError(f"{label}格式不正确，应为 年-月-日", f"{field} must be a date (YYYY-MM-DD)", field)
    if value > _today():
        raise RegistryError(f"{label}不能晚于今天", f"{field} cannot be in the future", field)
    if value.year < 1890:
        raise RegistryError(f"{label}不合理（早于1890年）", f"{field} is implausible (before 1890)", field)
    if not_before and value < not_before:
        raise RegistryError(
            f"{label}不能早于出生日期 {not_before:%Y-%m-%d}",
            f"{field} cannot be before the birth date {not_before}",
            field,
        )
    return value


def _check_name(value: Any) -> str:
    name = (value or "").strip()
    if not name:
        raise RegistryError("请填写姓名", "name is required", "name")
    if len(name) > 60:
        raise RegistryError("姓名过长（最多60个字）", "name is too long (60 characters at most)", "name")
    return name


def _check_sex(value: Any) -> str:
    if value not in (Sex.MALE, Sex.FEMALE):
        raise RegistryError("性别应为 男(M) 或 女(F)", "sex must be M or F", "sex")
    return str(value)


def _check_id(raw: Any, birth_date: date | None, sex: str | None) -> str | None:
    if raw in (None, ""):
        return None
    check = idnumber.validate(str(raw), birth_date=birth_date, sex=sex)
    if not check.ok:
        p = check.problems[0]
        raise RegistryError(f"公民身份号码有误：{p.message_zh}", f"ID number: {p.message_en}", "id_number")
    return check.number


def _check_id_unique(number: str | None, exclude_pk: int | None = None) -> None:
    if not number:
        return
    qs = Person.objects.filter(id_number=number, status=Status.ACTIVE)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    other = qs.first()
    if other is not None:
        raise RegistryError(
            f"公民身份号码 {number} 已登记给在册人员（编号 {other.pk}），请核实是否重复登记",
            f"ID number {number} already belongs to active person {other.pk}; check for a duplicate",
            "id_number",
        )


def _locked(actor: Actor, person: Person | int, *, allow_merged: bool = False) -> Person:
    """Re-read the person under a row lock and check the actor may change them.

    A record merged into another (a resolved duplicate) takes no further changes until the
    merge is undone; only the linkage actions pass ``allow_merged``.
    """
    actor.check_write()
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


def _require_status(person: Person, allowed: tuple[str, ...], what_zh: str, what_en: str) -> None:
    if person.status not in allowed:
        raise RegistryError(
            f"{person.name} 当前状态为“{person.get_status_display()}”，不能{what_zh}",
            f"{person.name} is {person.status}; cannot {what_en}",
            "person",
        )


def _record(
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
        recorded_date=recorded_date or _today(),
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


def _empty_state() -> dict[str, Any]:
    return {f: None for f in STATE_FIELDS}


def _create_person(
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
    person.baseline = _empty_state()
    person.baseline_event_id = 0
    changes = {f: [None, v] for f, v in person.state().items() if v is not None}
    apply_changes(person, changes)
    person.registered_date = recorded_date or _today()
    person.save()
    event = Event(
        person=person,
        event_type=event_type,
        event_date=event_date,
        recorded_date=recorded_date or _today(),
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


# ---------------------------------------------------------------- households


def _next_household_no() -> str:
    last = Household.objects.aggregate(m=Max("household_no"))["m"]
    n = int(last) + 1 if last and last.isdigit() else 1
    return f"{n:09d}"


@transaction.atomic
def do_create_household(
    actor: Actor, *, unit_code: str, kind: str = Household.Kind.FAMILY, address: str = "",
    household_no: str | None = None,
) -> Household:
    actor.check_write()
    unit = _unit(unit_code, "unit_code", "户籍地")
    actor.check_unit(unit.code)
    if kind not in Household.Kind.values:
        raise RegistryError("户别应为 家庭户 或 集体户", "kind must be family or collective", "kind")
    no = (household_no or "").strip() or _next_household_no()
    if Household.objects.filter(household_no=no).exists():
        raise RegistryError(f"户号 {no} 已存在", f"household number {no} already exists", "household_no")
    hh = Household.objects.create(household_no=no, unit=unit, kind=kind, address=address.strip())
    audit(actor, AuditAction.CREATE_HOUSEHOLD, hh, unit_code=unit.code, after={"household_no": no, "unit": unit.code, "kind": kind, "address": hh.address})
    return hh


# ---------------------------------------------------------------- vital events


def _new_person_values(
    actor: Actor, *, name: str, sex: str, birth_date: date, registered_unit_code: str,
    household: Household | None, id_number: str | None, ethnicity: str, hukou_kind: str,
) -> dict[str, Any]:
    """Checked state of a new record registered in a village (birth, move in)."""
    actor.check_write()
    name = _check_name(name)
    sex = _check_sex(sex)
    birth_date = _check_date(birth_date, "birth_date", "出生日期")
    unit = _unit(registered_unit_code, "registered_unit", "户籍地")
    actor.check_unit(unit.code)
    if household is not None and household.unit_id != unit.code:
        raise RegistryError("所选户不在该户籍地", "the household is not in the registered unit", "household")
    number = _check_id(id_number, birth_date, sex)
    _check_id_unique(number)
    return {
        "name": name, "sex": sex, "birth_date": birth_date, "ethnicity": ethnicity,
        "id_number": number, "household_id": household.pk if household else None,
        "registered_unit_id": unit.code, "residence_unit_id": unit.code,
        "residence_type": ResidenceType.REGISTERED, "status": Status.ACTIVE, "hukou_kind": hukou_kind,
    }


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
                                id_number=id_number, ethnicity=ethnicity, hukou_kind=hukou_kind)
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
    return _create_person(actor, values, EventType.BIRTH, birth_date, recorded_date=recorded_date,
                          to_unit=values["registered_unit_id"], action=AuditAction.REGISTER_BIRTH)


@transaction.atomic
def do_register_death(
    actor: Actor, person: Person, *, death_date: date, recorded_date: date | None = None, cause: str = ""
) -> Event:
    """死亡注销."""
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "登记死亡", "register a death")
    death_date = _check_date(death_date, "death_date", "死亡日期", not_before=p.birth_date)
    return _record(actor, p, EventType.DEATH, death_date,
                   {"status": Status.DECEASED, "death_date": death_date},
                   recorded_date=recorded_date, detail={"cause": cause} if cause else None,
                   action=AuditAction.REGISTER_DEATH)


@transaction.atomic
def do_move_out(
    actor: Actor, person: Person, *, move_date: date, destination_code: str,
    destination_name: str = "", recorded_date: date | None = None,
) -> Event:
    """迁出 (out of the county): the record is closed with status emigrated."""
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "办理迁出", "move out")
    move_date = _check_date(move_date, "move_date", "迁出日期", not_before=p.birth_date)
    dest = (destination_code or "").strip()
    if not (dest.isdigit() and len(dest) in (6, 12)):
        raise RegistryError("迁往地代码应为6位或12位数字", "destination must be a 6- or 12-digit code", "destination_code")
    if dest[:6] == p.registered_unit_id[:6]:
        raise RegistryError("迁往县内其他村请办理县内迁移", "a move within the county is a transfer", "destination_code")
    return _record(actor, p, EventType.MOVE_OUT, move_date, {"status": Status.EMIGRATED},
                   recorded_date=recorded_date, from_unit=p.registered_unit_id, to_unit=dest,
                   detail={"destination_name": destination_name} if destination_name else None,
                   action=AuditAction.MOVE_OUT)


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
                                id_number=id_number, ethnicity=ethnicity, hukou_kind=hukou_kind)
    move_date = _check_date(move_date, "move_date", "迁入日期", not_before=values["birth_date"])
    return _create_person(actor, values, EventType.MOVE_IN, move_date, recorded_date=recorded_date,
                          from_unit=(from_unit_code or "").strip(), to_unit=values["registered_unit_id"],
                          action=AuditAction.MOVE_IN)


@transaction.atomic
def do_transfer(
    actor: Actor, person: Person, *, to_unit_code: str, move_date: date,
    household: Household | None = None, recorded_date: date | None = None,
) -> Event:
    """县内迁移: registration moves to another village of the county."""
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "办理迁移", "transfer")
    move_date = _check_date(move_date, "move_date", "迁移日期", not_before=p.birth_date)
    unit = _unit(to_unit_code, "to_unit", "迁往单位")
    if unit.code == p.registered_unit_id:
        raise RegistryError("迁往单位与现户籍地相同", "destination equals the current unit", "to_unit")
    if household is not None and household.unit_id != unit.code:
        raise RegistryError("所选户不在迁往单位", "the household is not in the destination", "household")
    values = {"registered_unit_id": unit.code, "residence_unit_id": unit.code,
              "household_id": household.pk if household else None}
    return _record(actor, p, EventType.TRANSFER, move_date, values, recorded_date=recorded_date,
                   from_unit=p.registered_unit_id, to_unit=unit.code, action=AuditAction.TRANSFER)


@transaction.atomic
def do_register_marriage(
    actor: Actor, person: Person, *, marriage_date: date, spouse: Person | None = None,
    recorded_date: date | None = None,
) -> Event:
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "登记结婚", "register a marriage")
    marriage_date = _check_date(marriage_date, "marriage_date", "结婚日期", not_before=p.birth_date)
    if p.marital_status == "married":
        raise RegistryError(f"{p.name} 已登记为已婚", f"{p.name} is already married", "person")
    return _record(actor, p, EventType.MARRIAGE, marriage_date, {"marital_status": "married"},
                   recorded_date=recorded_date, detail={"spouse_id": spouse.pk} if spouse else None,
                   action=AuditAction.REGISTER_MARRIAGE)


@transaction.atomic
def do_register_divorce(
    actor: Actor, person: Person, *, divorce_date: date, recorded_date: date | None = None
) -> Event:
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "登记离婚", "register a divorce")
    divorce_date = _check_date(divorce_date, "divorce_date", "离婚日期", not_before=p.birth_date)
    if p.marital_status != "married":
        raise RegistryError(f"{p.name} 未登记为已婚", f"{p.name} is not recorded as married", "person")
    return _record(actor, p, EventType.DIVORCE, divorce_date, {"marital_status": "divorced"},
                   recorded_date=recorded_date, action=AuditAction.REGISTER_DIVORCE)


@transaction.atomic
def do_register_enlistment(
    actor: Actor, person: Person, *, enlistment_date: date, recorded_date: date | None = None
) -> Event:
    """入伍注销: enlisted persons leave the civil registry until discharge."""
    p = _locked(actor, person)
    _require_status(p, (Status.ACTIVE,), "办理入伍注销", "register an enlistment")
    enlistment_date = _check_date(enlistment_date, "enlistment_date", "入伍日期", not_before=p.birth_date)
    return _record(actor, p, EventType.ENLISTMENT, enlistment_date, {"status": Status.DEREGISTERED},
                   recorded_date=recorded_date, from_unit=p.registered_unit_id, action=AuditAction.REGISTER_ENLISTMENT)


@transaction.atomic
def do_register_discharge(
    actor: Actor, person: Person, *, discharge_date: date, to_unit_code: str,
    household: Household | None = None, recorded_date: date | None = None,
) -> Event:
    """退伍恢复户口."""
    p = _locked(actor, person)
    _require_status(p, (Status.DEREGISTERED,), "办理退伍恢复户口", "register a discharge")
    discharge_date = _check_date(discharge_date, "discharge_date", "退伍日期", not_before=p.birth_date)
    unit = _unit(to_unit_code, "to_unit", "落户单位")
    actor.check_unit(unit.code)
    values = {"status": Status.ACTIVE, "registered_unit_id": unit.code, "residence_unit_id": unit.code,
              "household_id": household.pk if household else p.household_id}
    return _record(actor, p, EventType.DISCHARGE, discharge_date, values, recorded_date=recorded_date,
                   to_unit=unit.code, action=AuditAction.REGISTER_DISCHARGE)


@transaction.atomic
def do_correct_person(
    actor: Actor, person: Person, *, changes: Mapping[str, Any], reason: str,
    correction_date: date | None = None,
) -> Event:
    """更正: change recorded fields; the before/after values stay in history."""
    p = _locked(actor, person)
    if not (reason or "").strip():
        raise RegistryError("请填写更正原因", "a reason for the correction is required", "reason")
    unknown = [f for f in changes if f not in CORRECTABLE]
    if unknown:
        raise RegistryError(f"不能更正字段 {', '.join(unknown)}", f"cannot correct {', '.join(unknown)}", unknown[0])
    values = dict(changes)
    if "name" in values:
        values["name"] = _check_name(values["name"])
    if "sex" in values:
        values["sex"] = _check_sex(values["sex"])
    if "birth_date" in values:
        values["birth_date"] = _check_date(values["birth_date"], "birth_date", "出生日期")
    if "residence_type" in values and values["residence_type"] not in ResidenceType.values:
        raise RegistryError("居住类型不正确", "unknown residence type", "residence_type")
    if "residence_unit_id" in values and values["residence_unit_id"]:
        values["residence_unit_id"] = _residence_unit(values["residence_unit_id"]).code
    if "id_number" in values or "birth_date" in values or "sex" in values:
        number = values.get("id_number", p.id_number)
        checked = _check_id(number, values.get("birth_date", p.birth_date), values.get("sex", p.sex))
        if "id_number" in values:
            _check_id_unique(checked, exclude_pk=p.pk)
            values["id_number"] = checked
    if not diff(p, values):
        raise RegistryError("更正内容与现有登记相同", "the correction changes nothing", "changes")
    return _record(actor, p, EventType.CORRECTION, correction_date or _today(), values,
                   detail={"reason": reason.strip()}, action=AuditAction.CORRECT_PERSON)


# ---------------------------------------------------------------- administrative units


@transaction.atomic
def do_succeed_units(
    actor: Actor,
    *,
    kind: str,
    predecessor_codes: list[str],
    successors: list[dict[str, str]],
    effective_date: date,
    household_map: Mapping[int, str] | None = None,
    reason: str = "",
) -> list[AdminUnit]:
    """区划调整: rename, merge or split villages without rewriting history.

    The predecessors end the day before ``effective_date`` and stay in the registry; the
    successors (``{"code": ..., "name": ...}``) start on it; a ``UnitSuccession`` row links
    each predecessor to each successor.  Households move to their successor and every
    registered or resident person of a predecessor is re-coded by a ``correction`` event
    (before/after kept), so indicators and old snapshots stay reproducible.  A split needs
    ``household_map`` (household id → successor code) covering every household.
    """
    actor.check_write()
    if kind not in UnitSuccession.Kind.values:
        raise RegistryError("调整类型应为 更名、合并 或 拆分", "kind must be rename, merge or split", "kind")
    olds = [_unit(code, "predecessor", "原单位") for code in predecessor_codes]
    for u in olds:
        actor.check_unit(u.code)
        if u.valid_to is not None:
            raise RegistryError(f"{u.name} 已于 {u.valid_to} 停用", f"{u.code} already ended", "predecessor")
    expected = {"rename": (1, 1), "merge": (None, 1), "split": (1, None)}[kind]
    if (expected[0] and len(olds) != expected[0]) or (expected[1] and len(successors) != expected[1]) or not olds or not successors:
        raise RegistryError("原单位与新单位的数目与调整类型不符", "numbers of old and new units do not fit the kind", "successors")
    parent = olds[0].parent
    if any(u.parent_id != olds[0].parent_id for u in olds):
        raise RegistryError("合并的单位须属于同一乡镇", "merged units must share a township", "predecessor")
    news = []
    for spec in successors:
        code, name = str(spec.get("code", "")).strip(), str(spec.get("name", "")).strip()
        if not (code.isdigit() and len(code) == len(olds[0].code)) or not name:
            raise RegistryError(f"新单位代码或名称无效：{code} {name}", f"invalid new unit {code} {name}", "successors")
        actor.check_unit(code)
        if parent is not None and not code.startswith(parent.code[: {"township": 9, "county": 6}.get(parent.level, 0)]):
            raise RegistryError(f"新单位代码 {code} 不在上级单位 {parent.name} 之下", f"{code} is not under {parent.code}", "successors")
        if AdminUnit.objects.filter(code=code).exists():
            raise RegistryError(f"单位代码 {code} 已存在", f"unit code {code} already exists", "successors")
        news.append(AdminUnit.objects.create(code=code, name=name, level=olds[0].level, parent=parent,
                                             valid_from=effective_date, urban_rural=olds[0].urban_rural))
    old_codes = [u.code for u in olds]
    target: dict[int, str] = {}
    households = Household.objects.filter(unit_id__in=old_codes)
    for hh in households:
        code = news[0].code if kind != "split" else (household_map or {}).get(hh.pk, "")
        if code not in {n.code for n in news}:
            raise RegistryError(f"拆分时须为户 {hh.household_no} 指定新单位", f"household {hh.household_no} needs a new unit", "household_map")
        target[hh.pk] = code
    for u in olds:
        u.valid_to = effective_date - timedelta(days=1)
        u.save(update_fields=["valid_to"])
        for n in news:
            UnitSuccession.objects.create(predecessor=u, successor=n, kind=kind, effective_date=effective_date)
    for hh in households:
        Household.objects.filter(pk=hh.pk).update(unit_id=target[hh.pk])
    moved = 0
    for p in Person.objects.select_for_update().filter(
        Q(registered_unit_id__in=old_codes) | Q(residence_unit_id__in=old_codes)
    ).order_by("id"):
        new_code = target.get(p.household_id or -1, news[0].code)
        values: dict[str, Any] = {}
        if p.registered_unit_id in old_codes:
            values["registered_unit_id"] = new_code
        if p.residence_unit_id in old_codes:
            values["residence_unit_id"] = new_code
        _record(actor, p, EventType.CORRECTION, effective_date, values,
                detail={"reason": "unit_succession", "kind": kind}, action=AuditAction.UNIT_SUCCESSION_PERSON)
        moved += 1
    audit(actor, AuditAction.SUCCEED_UNITS, None, unit_code=old_codes[0],
          before={"units": old_codes}, after={"units": [n.code for n in news]},
          detail={"kind": kind, "effective_date": effective_date.isoformat(), "persons": moved, "reason": reason})
    return news
