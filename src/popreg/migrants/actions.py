"""Every write of the migrants app.

Each action is atomic, first checks ``Permission.MANAGE_MIGRANTS`` over the unit concerned,
changes the registry person through the registry's own event path
(:func:`popreg.registry.actions.events.record_event` / ``create_person``: the change is in the
person's history), writes a :class:`~popreg.migrants.models.MigrantHistory` row and an audit
record.  A refused action raises :class:`MigrantError` (Chinese + English, naming the field)
and changes nothing.

The in-migrant actions send :data:`popreg.migrants.signals.migrant_event` once their
transaction has committed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from popreg.core import idnumber
from popreg.migrants.models import (
    HistoryKind,
    InMigrant,
    InMigrantStatus,
    MigrantHistory,
    OccupantRole,
    OutMigrant,
    PermitCondition,
    PermitStatus,
    Place,
    PlaceKind,
    PlaceOccupant,
    Reason,
    ResidencePermit,
    WhereaboutsSource,
)
from popreg.migrants.signals import migrant_event
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.actions.checks import (
    audit_id_refusals,
    check_date,
    check_id,
    check_id_unique,
    check_name,
    check_sex,
    today,
    unit_of_level,
)
from popreg.registry.actions.events import create_person, lock_person, record_event
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.models import (
    AdminUnit,
    EventType,
    Person,
    ResidenceType,
    Status,
    UnitLevel,
)
from popreg.registry.policy import Permission

#: Residence before a permit may be issued (Interim Regulations on Residence Permits, art. 2).
PERMIT_RESIDENCE_MONTHS = 6
#: A permit is valid one year from issue and renewed (签注) a year at a time.
PERMIT_VALID_YEARS = 1
#: How early before expiry a renewal is accepted (and the "expiring" list looks ahead).
RENEWAL_WINDOW_DAYS = 30
#: Days after which an out-migrant's whereabouts count as unknown.
WHEREABOUTS_STALE_DAYS = 365

REASON_ZH = {"work": "务工", "business": "经商", "study": "就学", "family": "投亲", "other": "其他"}
CONDITION_ZH = {"work": "合法稳定就业", "housing": "合法稳定住所", "study": "连续就读"}
SOURCE_ZH = {"own_report": "本人报告", "notification": "居住地通报", "campaign": "清查核实"}


#: The English names of the fields the actions' errors name (the Chinese is in each message).
FIELD_NAMES_EN = {
    "origin_code": "The place of registration", "destination_code": "The destination",
    "residence_unit_code": "The place of residence", "residence_unit_name": "The place name",
    "reason": "The reason", "condition": "The condition", "source": "The source", "kind": "The kind",
    "evidence": "The evidence", "address": "The address", "employer": "The employer",
    "contact": "The contact", "name": "The name", "contact_name": "The landlord or employer contact",
    "contact_phone": "The phone number",
}


def english(field: str) -> str:
    return FIELD_NAMES_EN.get(field, field.replace("_", " ").capitalize())


class MigrantError(RegistryError):
    """A refused write of the migrants app."""


def report_days() -> int:
    """Days a landlord or employer has to report a new tenant or worker (setting
    ``POPREG_MIGRANT_REPORT_DAYS``, default 3)."""
    return int(getattr(settings, "POPREG_MIGRANT_REPORT_DAYS", 3))


# ---------------------------------------------------------------- helpers


def add_years(d: date, years: int) -> date:
    """The same day ``years`` later (28 February for 29 February in a common year)."""
    y = d.year + years
    return d.replace(year=y, day=min(d.day, calendar.monthrange(y, d.month)[1]))


def add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))


def county_prefix() -> str:
    """The 6-digit code of this deployment's county ("" before any unit is loaded)."""
    code = AdminUnit.objects.filter(level=UnitLevel.COUNTY).values_list("code", flat=True).first()
    return str(code or "")[:6]


def check_origin(code: Any, field: str = "origin_code", label: str = "户籍地（来源地）") -> str:
    """A division code outside this county, checked against the national region list;
    returned as 12 digits (a 6-digit county code gets ``000000``)."""
    text = str(code or "").strip()
    if not text:
        raise MigrantError(f"请填写{label}区划代码", f"{english(field)} is required (a division code)", field)
    if not text.isdigit() or len(text) not in (6, 9, 12):
        raise MigrantError(f"{label}“{text}”应为6位或12位数字区划代码",
                           f"{english(field)} {text!r} must be a 6- or 12-digit division code", field)
    full = text.ljust(12, "0")
    if idnumber.region_name(full[:6]) is None:
        raise MigrantError(f"{label}“{text}”不在全国行政区划代码表中，请核对",
                           f"{english(field)} {text!r} is not in the national list of division codes; check it", field)
    county = county_prefix()
    if county and full.startswith(county):
        raise MigrantError(f"{label}“{text}”在本县内：县内人员不按流动人口登记",
                           f"{english(field)} {text!r} is inside this county: people of the county are not migrants here",
                           field)
    return full


def external_unit_for(code: str, name: str = "") -> AdminUnit:
    """The ``external`` AdminUnit of a place outside the county (created when missing)."""
    unit = AdminUnit.objects.filter(code=code).first()
    if unit is not None:
        return unit
    region = idnumber.region_name(code[:6]) or ""
    label = (name or "").strip()[:90] or (f"{region}（县外）" if region else f"县外 {code}")
    unit = AdminUnit(code=code, name=label, level=UnitLevel.EXTERNAL, parent_id=None,
                     valid_from=date(1949, 10, 1))
    unit.save()
    return unit


def parse_choice(value: Any, allowed: list[str], field: str, label_zh: str, names_zh: dict[str, str]) -> str:
    text = str(value or "").strip()
    if text in allowed:
        return text
    by_zh = {v: k for k, v in names_zh.items()}
    if text in by_zh:
        return by_zh[text]
    shown = "、".join(f"{names_zh[a]}({a})" for a in allowed)
    raise MigrantError(f"{label_zh}应为：{shown}", f"{english(field)} must be one of {', '.join(allowed)}", field)


def _text(value: Any, field: str, label: str, max_len: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise MigrantError(f"请填写{label}", f"{english(field)} is required", field)
    if len(text) > max_len:
        raise MigrantError(f"{label}过长（最多{max_len}个字）", f"{english(field)} is too long ({max_len} at most)", field)
    return text


def _history(actor: Actor, kind: str, on: date, *, person: Person | None = None,
             place: Place | None = None, before: Any = None, after: Any = None) -> None:
    MigrantHistory.objects.create(
        person=person, place=place, kind=kind, on=on, before=before, after=after,
        actor_name=actor.name, actor=actor.user if actor.user is not None and actor.user.pk else None,
    )  # fmt: skip


def _send_after_commit(sender: Callable[..., Any], kind: str, person: Person, detail: dict[str, Any]) -> None:
    def send() -> None:
        migrant_event.send(sender=sender, kind=kind, person=person, detail=detail)

    transaction.on_commit(send)


def _event_detail(m: InMigrant) -> dict[str, Any]:
    unit = m.residence_unit
    return {
        "residence_unit": unit.code, "residence_unit_name": unit.name,
        "origin_code": m.origin_code, "arrival_date": m.arrival_date.isoformat(),
        "reason": m.reason, "address": m.address, "employer": m.employer, "contact": m.contact,
        "place": m.place.name if m.place_id and m.place is not None else "",
        "status": m.status,
        "departure_date": m.departure_date.isoformat() if m.departure_date else None,
        "departure_destination": m.departure_destination,
    }  # fmt: skip


def _place_in(actor: Actor, place: Place | None, unit: AdminUnit) -> Place | None:
    if place is None:
        return None
    if place.unit_id != unit.code and not str(place.unit_id).startswith(unit.code[:12]):
        raise MigrantError(f"场所“{place.name}”不在居住地 {unit.name}",
                           f"the place {place.name!r} is not in the residence unit {unit.code}", "place")
    if not place.active:
        raise MigrantError(f"场所“{place.name}”已注销", f"the place {place.name!r} is closed", "place")
    return place


def _require_unit(actor: Actor, unit: AdminUnit, field: str) -> None:
    """The unit must lie in the actor's jurisdiction; the refusal names the form field."""
    if not actor.covers(unit.code):
        raise JurisdictionError(f"{unit.name}（{unit.code}）不在您的辖区内，请核对代码",
                                f"unit {unit.code} is outside your jurisdiction; check the code", field)
    actor.require(Permission.MANAGE_MIGRANTS, unit.code)


def lock_in_migrant(actor: Actor, in_migrant: InMigrant | int) -> InMigrant:
    pk = in_migrant if isinstance(in_migrant, int) else in_migrant.pk
    m = (InMigrant.objects.select_for_update(of=("self",)).select_related("residence_unit", "place")
         .filter(pk=pk).first())
    if m is None:
        raise MigrantError(f"流入人口登记 {pk} 不存在", f"in-migrant record {pk} does not exist", "in_migrant")
    actor.require(Permission.MANAGE_MIGRANTS, m.residence_unit_id)
    return m


# ---------------------------------------------------------------- in-migrants


def _person_for_registration(
    actor: Actor, *, person: Person | None, name: str, sex: str, birth_date: date | None,
    id_number: str | None, origin: str, unit: AdminUnit, arrival: date, ethnicity: str,
) -> Person:
    """The registry person of a new in-migrant: the given one, an earlier in-migrant record
    with the same ID number, or a new ``floating_in`` record."""
    if person is None and id_number:
        number = check_id(id_number, birth_date, sex or None)
        earlier = Person.objects.filter(
            id_number=number, status=Status.ACTIVE, merged_into__isnull=True,
            residence_type=ResidenceType.FLOATING_IN,
        ).exclude(registered_unit__level__in=[UnitLevel.VILLAGE, UnitLevel.GROUP]).first()  # fmt: skip
        if earlier is not None and person_in_scope(actor, earlier):
            person = earlier
    if person is not None:
        p = lock_person(actor, person, permission=Permission.MANAGE_MIGRANTS)
        if p.status != Status.ACTIVE:
            raise MigrantError(f"{p.name} 的登记状态不是在册，不能登记为流入人口",
                               f"{p.name} is not active; cannot register as an in-migrant", "person")
        reg = AdminUnit.objects.filter(code=p.registered_unit_id).values_list("level", flat=True).first()
        if reg != UnitLevel.EXTERNAL:
            raise MigrantError(f"{p.name} 户籍在本县，不是流入人口：县内居住地变化请办理更正或迁移",
                               f"{p.name} is registered in this county, not an in-migrant", "person")
        if InMigrant.objects.filter(person=p, status=InMigrantStatus.ACTIVE).exists():
            raise MigrantError(f"{p.name} 已登记为流入人口（居住中），请办理变更而非重新登记",
                               f"{p.name} is already registered as living here; record a change of address",
                               "person")
        values: dict[str, Any] = {"residence_unit_id": unit.code, "residence_type": ResidenceType.FLOATING_IN}
        if p.residence_unit_id != unit.code or p.residence_type != ResidenceType.FLOATING_IN:
            record_event(actor, p, EventType.CORRECTION, arrival, values,
                         detail={"reason": "流入人口登记", "migrants": "in_registered"},
                         action=AuditAction.MIGRANT_REGISTER)
        return p
    name = check_name(name)
    sex = check_sex(sex)
    birth = check_date(birth_date, "birth_date", "出生日期")
    number = check_id(id_number, birth, sex)
    check_id_unique(number, actor=actor, context="register_in_migrant")
    origin_unit = external_unit_for(origin)
    values = {
        "name": name, "sex": sex, "birth_date": birth, "ethnicity": ethnicity or "汉族",
        "id_number": number, "household_id": None, "registered_unit_id": origin_unit.code,
        "residence_unit_id": unit.code, "residence_type": ResidenceType.FLOATING_IN,
        "status": Status.ACTIVE,
    }  # fmt: skip
    return create_person(actor, values, EventType.REGISTRATION, arrival, recorded_date=None,
                         from_unit=origin_unit.code, to_unit=unit.code,
                         detail={"migrants": "in_registered"}, action=AuditAction.MIGRANT_REGISTER)


@audit_id_refusals
@transaction.atomic
def register_in_migrant(
    actor: Actor, *, residence_unit_code: str, arrival_date: date | None, origin_code: str,
    reason: str, name: str = "", sex: str = "", birth_date: date | None = None,
    id_number: str | None = None, person: Person | None = None, place: Place | None = None,
    address: str = "", employer: str = "", contact: str = "", ethnicity: str = "汉族",
) -> InMigrant:
    """流入人口登记: a person from outside the county who lives in a village of it.

    Without ``person`` a new registry record is created (``floating_in``, registered unit the
    external unit of origin) unless an earlier in-migrant record has the same ID number."""
    actor.require(Permission.MANAGE_MIGRANTS)
    unit = unit_of_level(residence_unit_code, "residence_unit", "居住地")
    _require_unit(actor, unit, "residence_unit")
    arrival = check_date(arrival_date, "arrival_date", "来本地日期",
                         not_before=birth_date if isinstance(birth_date, date) else None)
    origin = check_origin(origin_code)
    why = parse_choice(reason, Reason.values, "reason", "流入原因", REASON_ZH)
    address = _text(address, "address", "详细住址", 200)
    employer = _text(employer, "employer", "工作单位", 120)
    contact = _text(contact, "contact", "联系方式", 60)
    place = _place_in(actor, place, unit)
    p = _person_for_registration(actor, person=person, name=name, sex=sex, birth_date=birth_date,
                                 id_number=id_number, origin=origin, unit=unit, arrival=arrival,
                                 ethnicity=ethnicity)
    if p.birth_date and arrival < p.birth_date:
        raise MigrantError("来本地日期不能早于出生日期", "arrival_date cannot be before the birth date",
                           "arrival_date")
    m = InMigrant.objects.create(person=p, residence_unit=unit, origin_code=origin, arrival_date=arrival,
                                 reason=why, place=place, address=address, employer=employer,
                                 contact=contact)
    if place is not None:
        _open_occupancy(actor, place, p, arrival, reported_on=None)
    _history(actor, HistoryKind.IN_REGISTERED, arrival, person=p, after=m.state())
    audit(actor, AuditAction.MIGRANT_REGISTER, m, unit_code=unit.code, after=m.state(),
          detail={"person_id": p.pk})
    _send_after_commit(register_in_migrant, "migrant_registered", p, _event_detail(m))
    return m


@transaction.atomic
def move_in_migrant(
    actor: Actor, in_migrant: InMigrant | int, *, residence_unit_code: str, move_date: date,
    place: Place | None = None, address: str | None = None, employer: str | None = None,
    contact: str | None = None,
) -> InMigrant:
    """变更居住地 within the county (or within the village: a new address or place)."""
    m = lock_in_migrant(actor, in_migrant)
    if m.status != InMigrantStatus.ACTIVE:
        raise MigrantError("该流入人口已离开，不能变更居住地", "this in-migrant has left; cannot move", "in_migrant")
    unit = unit_of_level(residence_unit_code, "residence_unit", "新居住地")
    _require_unit(actor, unit, "residence_unit")
    move = check_date(move_date, "move_date", "变更日期", not_before=m.arrival_date)
    place = _place_in(actor, place, unit)
    before = m.state()
    old_place = m.place
    m.residence_unit = unit
    m.place = place
    if address is not None:
        m.address = _text(address, "address", "详细住址", 200)
    if employer is not None:
        m.employer = _text(employer, "employer", "工作单位", 120)
    if contact is not None:
        m.contact = _text(contact, "contact", "联系方式", 60)
    if m.state() == before:
        raise MigrantError("变更内容与现有登记相同", "the change of address changes nothing", "residence_unit")
    m.version += 1
    m.save()
    p = lock_person(actor, m.person_id, permission=Permission.MANAGE_MIGRANTS)
    if p.residence_unit_id != unit.code:
        record_event(actor, p, EventType.CORRECTION, move, {"residence_unit_id": unit.code},
                     detail={"reason": "流入人口变更居住地", "migrants": "in_moved"},
                     action=AuditAction.MIGRANT_MOVE)
    if old_place is not None and (place is None or old_place.pk != place.pk):
        _close_occupancy(old_place, p, move)
    if place is not None and (old_place is None or old_place.pk != place.pk):
        _open_occupancy(actor, place, p, move, reported_on=None)
    _history(actor, HistoryKind.IN_MOVED, move, person=p, before=before, after=m.state())
    audit(actor, AuditAction.MIGRANT_MOVE, m, unit_code=unit.code, before=before, after=m.state(),
          detail={"person_id": p.pk, "move_date": move.isoformat()})
    _send_after_commit(move_in_migrant, "migrant_moved", p, _event_detail(m))
    return m


@transaction.atomic
def depart_in_migrant(
    actor: Actor, in_migrant: InMigrant | int, *, departure_date: date, destination_code: str = "",
) -> InMigrant:
    """离开本地: the in-migrant no longer lives in the county (the record is kept)."""
    m = lock_in_migrant(actor, in_migrant)
    if m.status != InMigrantStatus.ACTIVE:
        raise MigrantError("该流入人口已登记离开", "this in-migrant has already left", "in_migrant")
    leave = check_date(departure_date, "departure_date", "离开日期", not_before=m.arrival_date)
    dest = ""
    if str(destination_code or "").strip():
        dest = check_origin(destination_code, "destination_code", "去往地")
    before = m.state()
    m.status = InMigrantStatus.DEPARTED
    m.departure_date = leave
    m.departure_destination = dest
    m.version += 1
    m.save()
    p = lock_person(actor, m.person_id, permission=Permission.MANAGE_MIGRANTS)
    values: dict[str, Any] = {"status": Status.EMIGRATED,
                              "residence_unit_id": external_unit_for(dest).code if dest else None}
    record_event(actor, p, EventType.CORRECTION, leave, values,
                 detail={"reason": "流入人口离开本地", "migrants": "in_departed"},
                 action=AuditAction.MIGRANT_DEPART)
    if m.place is not None:
        _close_occupancy(m.place, p, leave)
    _history(actor, HistoryKind.IN_DEPARTED, leave, person=p, before=before, after=m.state())
    audit(actor, AuditAction.MIGRANT_DEPART, m, unit_code=m.residence_unit_id, before=before,
          after=m.state(), detail={"person_id": p.pk})
    _send_after_commit(depart_in_migrant, "migrant_departed", p, _event_detail(m))
    return m


# ---------------------------------------------------------------- residence permits


def permit_refusals(m: InMigrant, applied_on: date, condition: str, evidence: str) -> list[dict[str, str]]:
    """Why an application fails the Interim Regulations (empty when it may be granted):
    six months' residence, and stable work, housing or study shown by evidence."""
    out: list[dict[str, str]] = []
    if m.status != InMigrantStatus.ACTIVE:
        out.append({"field": "in_migrant", "zh": "申请人已登记离开本地", "en": "the applicant has left"})
    enough = add_months(m.arrival_date, PERMIT_RESIDENCE_MONTHS)
    if applied_on < enough:
        out.append({
            "field": "applied_on",
            "zh": f"来本地居住未满半年（{m.arrival_date:%Y-%m-%d} 来本地，{enough:%Y-%m-%d} 起可申请）",
            "en": f"less than six months' residence (arrived {m.arrival_date}, may apply from {enough})",
        })
    if not evidence:
        out.append({
            "field": "evidence",
            "zh": f"未提供{CONDITION_ZH.get(condition, '就业、住所或就读')}的证明材料（如劳动合同、租房合同、学籍证明）",
            "en": "no evidence of the stated condition (employment contract, tenancy agreement, school record)",
        })
    return out


def _next_permit_number(county: str, year: int) -> str:
    prefix = f"{county or '000000'}{year}"
    last = (ResidencePermit.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())  # fmt: skip
    seq = int(str(last)[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


@transaction.atomic
def issue_permit(
    actor: Actor, in_migrant: InMigrant | int, *, applied_on: date, condition: str, evidence: str,
    issue_date: date | None = None,
) -> ResidencePermit:
    """居住证申领: decide an application.  It is granted (a permit valid one year from
    ``issue_date``, default today) when the conditions hold; otherwise it is recorded as
    refused with its reasons (``refusal_reasons``), and nothing is issued."""
    m = lock_in_migrant(actor, in_migrant)
    applied = check_date(applied_on, "applied_on", "申请日期")
    cond = parse_choice(condition, PermitCondition.values, "condition", "申领条件", CONDITION_ZH)
    proof = _text(evidence, "evidence", "证明材料", 300)
    if ResidencePermit.objects.filter(in_migrant=m, status=PermitStatus.ISSUED,
                                      expiry_date__gte=applied).exists():
        raise MigrantError("该人员已有有效居住证，请办理签注（续期）",
                           "this person already holds a valid residence permit; renew it instead",
                           "in_migrant")
    reasons = permit_refusals(m, applied, cond, proof)
    permit = ResidencePermit(in_migrant=m, applied_on=applied, condition=cond, evidence=proof)
    if reasons:
        permit.status = PermitStatus.REFUSED
        permit.refusal_reasons = reasons
        permit.save()
    else:
        issued = check_date(issue_date or today(), "issue_date", "发证日期", not_before=applied)
        permit.status = PermitStatus.ISSUED
        permit.issue_date = issued
        permit.expiry_date = add_years(issued, PERMIT_VALID_YEARS)
        permit.number = _next_permit_number(county_prefix(), issued.year)
        permit.save()
    _history(actor, HistoryKind.PERMIT_APPLIED, applied, person=m.person, after=permit.state())
    audit(actor, AuditAction.MIGRANT_PERMIT_DECIDE, permit, unit_code=m.residence_unit_id,
          after=permit.state(), detail={"person_id": m.person_id, "in_migrant_id": m.pk})
    if permit.status == PermitStatus.ISSUED:
        _send_after_commit(issue_permit, "permit_issued", m.person, _permit_detail(m, permit))
    return permit


def _permit_detail(m: InMigrant, permit: ResidencePermit) -> dict[str, Any]:
    out = _event_detail(m)
    out.update({
        "permit_number": permit.number, "condition": permit.condition,
        "issue_date": permit.issue_date.isoformat() if permit.issue_date else None,
        "expiry_date": permit.expiry_date.isoformat() if permit.expiry_date else None,
        "renewals": permit.renewals,
    })
    return out


@transaction.atomic
def renew_permit(actor: Actor, permit: ResidencePermit | int, *, renewed_on: date) -> ResidencePermit:
    """居住证签注: one more year, accepted from 30 days before expiry (and after it: the
    permit's use resumes).  The holder must still live here."""
    pk = permit if isinstance(permit, int) else permit.pk
    p = ResidencePermit.objects.select_for_update().filter(pk=pk).first()
    if p is None:
        raise MigrantError(f"居住证 {pk} 不存在", f"residence permit {pk} does not exist", "permit")
    m = lock_in_migrant(actor, p.in_migrant_id)
    if p.status != PermitStatus.ISSUED or p.expiry_date is None:
        raise MigrantError("未获批准的申请不能签注", "a refused application cannot be renewed", "permit")
    on = check_date(renewed_on, "renewed_on", "签注日期", not_before=p.issue_date)
    if m.status != InMigrantStatus.ACTIVE:
        raise MigrantError("持证人已登记离开本地，不能签注", "the holder has left; cannot renew", "permit")
    if on < p.expiry_date - timedelta(days=RENEWAL_WINDOW_DAYS):
        raise MigrantError(
            f"有效期届满前30日内方可签注（本证 {p.expiry_date:%Y-%m-%d} 到期）",
            f"renewal is accepted within 30 days before expiry ({p.expiry_date})", "renewed_on",
        )
    before = p.state()
    p.expiry_date = add_years(max(p.expiry_date, on), PERMIT_VALID_YEARS)
    p.renewals += 1
    p.save()
    _history(actor, HistoryKind.PERMIT_RENEWED, on, person=m.person, before=before, after=p.state())
    audit(actor, AuditAction.MIGRANT_PERMIT_RENEW, p, unit_code=m.residence_unit_id, before=before,
          after=p.state(), detail={"person_id": m.person_id})
    _send_after_commit(issue_permit, "permit_issued", m.person, {**_permit_detail(m, p), "renewal": True})
    return p


# ---------------------------------------------------------------- out-migrants


@transaction.atomic
def record_whereabouts(
    actor: Actor, person: Person | int, *, residence_unit_code: str, residence_unit_name: str = "",
    employer: str = "", contact: str = "", confirmed_on: date, source: str,
) -> OutMigrant:
    """流出人口去向: a person registered in this county lives at ``residence_unit_code``
    (a unit outside the county; created as an ``external`` unit when missing).  The person
    becomes ``floating_out`` with that residence unit; the out-migrant record keeps the
    destination, employer, contact, the date last confirmed and the source
    (``own_report``, ``notification``, ``campaign``).  An older confirmation than the one
    recorded is refused (field ``confirmed_on``)."""
    actor.require(Permission.MANAGE_MIGRANTS)
    pk = person if isinstance(person, int) else person.pk
    reg = Person.objects.filter(pk=pk).values_list("registered_unit_id", flat=True).first()
    if reg is None:
        raise MigrantError(f"人员 {pk} 不存在", f"person {pk} does not exist", "person")
    actor.require(Permission.MANAGE_MIGRANTS, reg)
    p = lock_person(actor, pk, permission=Permission.MANAGE_MIGRANTS)
    if not actor.covers(p.registered_unit_id):
        raise JurisdictionError("该人员户籍不在您的辖区内", "this person is not registered in your jurisdiction", "person")
    level = AdminUnit.objects.filter(code=p.registered_unit_id).values_list("level", flat=True).first()
    if level not in (UnitLevel.VILLAGE, UnitLevel.GROUP):
        raise MigrantError(f"{p.name} 户籍不在本县，不是本县流出人口",
                           f"{p.name} is not registered in this county", "person")
    if p.status != Status.ACTIVE:
        raise MigrantError(f"{p.name} 不是在册人员，不能登记去向",
                           f"{p.name} is not active; cannot record whereabouts", "person")
    src = parse_choice(source, WhereaboutsSource.values, "source", "信息来源", SOURCE_ZH)
    confirmed = check_date(confirmed_on, "confirmed_on", "核实日期")
    dest = check_origin(residence_unit_code, "residence_unit_code", "现居住地")
    name = _text(residence_unit_name, "residence_unit_name", "现居住地名称", 100)
    employer = _text(employer, "employer", "工作单位", 120)
    contact = _text(contact, "contact", "联系方式", 60)
    unit = external_unit_for(dest, name)
    om = OutMigrant.objects.select_for_update().filter(person=p).first()
    if om is not None and om.last_confirmed is not None and confirmed < om.last_confirmed:
        raise MigrantError(
            f"已有更近的核实记录（{om.last_confirmed:%Y-%m-%d}），本次 {confirmed:%Y-%m-%d} 的信息较旧，未记录",
            f"a newer confirmation ({om.last_confirmed}) is recorded; this one ({confirmed}) is older",
            "confirmed_on",
        )
    before = om.state() if om is not None else None
    if om is None:
        om = OutMigrant(person=p)
    om.destination_code = unit.code
    om.destination_name = name or unit.name
    om.employer, om.contact, om.last_confirmed, om.source = employer, contact, confirmed, src
    om.save()
    if p.residence_type != ResidenceType.FLOATING_OUT or p.residence_unit_id != unit.code:
        record_event(actor, p, EventType.CORRECTION, confirmed,
                     {"residence_type": ResidenceType.FLOATING_OUT, "residence_unit_id": unit.code},
                     detail={"reason": "流出人口去向核实", "source": src, "migrants": "whereabouts"},
                     action=AuditAction.MIGRANT_WHEREABOUTS)
    _history(actor, HistoryKind.WHEREABOUTS, confirmed, person=p, before=before, after=om.state())
    audit(actor, AuditAction.MIGRANT_WHEREABOUTS, om, unit_code=p.registered_unit_id, before=before,
          after=om.state(), detail={"person_id": p.pk, "source": src})
    return om


# ---------------------------------------------------------------- places and occupants


@transaction.atomic
def save_place(
    actor: Actor, place: Place | int | None = None, *, kind: str, name: str, address: str,
    unit_code: str, contact_name: str, contact_phone: str = "",
    agreement_signed: date | None = None, agreement_expires: date | None = None, active: bool = True,
) -> Place:
    """Register (``place`` None) or change a rental place (出租房屋) or employer (用工单位),
    with its responsibility agreement (治安责任书: signed, expires)."""
    actor.require(Permission.MANAGE_MIGRANTS)
    unit = unit_of_level(unit_code, "unit", "所在村（居）")
    _require_unit(actor, unit, "unit")
    obj: Place | None = None
    if place is not None:
        pk = place if isinstance(place, int) else place.pk
        obj = Place.objects.select_for_update().filter(pk=pk).first()
        if obj is None:
            raise MigrantError(f"场所 {pk} 不存在", f"place {pk} does not exist", "place")
        actor.require(Permission.MANAGE_MIGRANTS, obj.unit_id)
    kind = parse_choice(kind, PlaceKind.values, "kind", "场所类别", {"rental": "出租房屋", "employer": "用工单位"})
    values = {
        "kind": kind, "name": _text(name, "name", "名称", 120, required=True),
        "address": _text(address, "address", "地址", 200, required=True),
        "contact_name": _text(contact_name, "contact_name", "房东或单位负责人", 60, required=True),
        "contact_phone": _text(contact_phone, "contact_phone", "联系电话", 30),
    }
    if agreement_signed is not None:
        check_date(agreement_signed, "agreement_signed", "责任书签订日期")
    if agreement_expires is not None and not isinstance(agreement_expires, date):
        raise MigrantError("责任书到期日期格式不正确，应为 年-月-日",
                           "agreement_expires must be a date (YYYY-MM-DD)", "agreement_expires")
    if agreement_expires is not None and agreement_signed is None:
        raise MigrantError("填写了责任书到期日期，请同时填写签订日期",
                           "agreement_expires needs agreement_signed", "agreement_signed")
    if agreement_signed and agreement_expires and agreement_expires <= agreement_signed:
        raise MigrantError("责任书到期日期应晚于签订日期", "agreement_expires must be after agreement_signed",
                           "agreement_expires")
    before = obj.state() if obj is not None else None
    if obj is None:
        obj = Place(**values, unit=unit, agreement_signed=agreement_signed,
                    agreement_expires=agreement_expires, active=active)
    else:
        for k, v in values.items():
            setattr(obj, k, v)
        obj.unit, obj.active = unit, active
        obj.agreement_signed, obj.agreement_expires = agreement_signed, agreement_expires
        if obj.state() == before:
            raise MigrantError("修改内容与现有登记相同", "the change changes nothing", "name")
    obj.save()
    _history(actor, HistoryKind.PLACE, today(), place=obj, before=before, after=obj.state())
    audit(actor, AuditAction.MIGRANT_PLACE_SAVE, obj, unit_code=unit.code, before=before, after=obj.state())
    return obj


def _open_occupancy(actor: Actor, place: Place, person: Person, since: date, *,
                    reported_on: date | None) -> PlaceOccupant:
    role = OccupantRole.TENANT if place.kind == PlaceKind.RENTAL else OccupantRole.WORKER
    existing = PlaceOccupant.objects.filter(place=place, person=person, until__isnull=True).first()
    if existing is not None:
        return existing
    occ = PlaceOccupant.objects.create(place=place, person=person, role=role, since=since,
                                       reported_on=reported_on)
    _history(actor, HistoryKind.OCCUPANT, since, person=person, place=place, after=occ.state())
    return occ


def _close_occupancy(place: Place, person: Person, until: date) -> None:
    for occ in PlaceOccupant.objects.filter(place=place, person=person, until__isnull=True):
        occ.until = max(until, occ.since)
        occ.save(update_fields=["until"])


@transaction.atomic
def report_occupant(
    actor: Actor, place: Place | int, person: Person | int, *, since: date, reported_on: date,
) -> PlaceOccupant:
    """The landlord or employer reports a tenant or worker (living or working there since
    ``since``).  A report later than the set number of days is recorded as late."""
    actor.require(Permission.MANAGE_MIGRANTS)
    pk = place if isinstance(place, int) else place.pk
    pl = Place.objects.select_for_update().filter(pk=pk).first()
    if pl is None:
        raise MigrantError(f"场所 {pk} 不存在", f"place {pk} does not exist", "place")
    actor.require(Permission.MANAGE_MIGRANTS, pl.unit_id)
    p = lock_person(actor, person, permission=Permission.MANAGE_MIGRANTS)
    start = check_date(since, "since", "入住（入职）日期", not_before=p.birth_date)
    rep = check_date(reported_on, "reported_on", "报告日期", not_before=start)
    occ = PlaceOccupant.objects.select_for_update().filter(place=pl, person=p, until__isnull=True).first()
    before = occ.state() if occ is not None else None
    if occ is None:
        role = OccupantRole.TENANT if pl.kind == PlaceKind.RENTAL else OccupantRole.WORKER
        occ = PlaceOccupant(place=pl, person=p, role=role, since=start)
    elif occ.reported_on is not None:
        raise MigrantError(f"{p.name} 已于 {occ.reported_on:%Y-%m-%d} 报告", f"{p.name} was already reported",
                           "person")
    occ.since = min(occ.since, start) if occ.pk else start
    occ.reported_on = rep
    occ.save()
    late = (rep - occ.since).days > report_days()
    _history(actor, HistoryKind.OCCUPANT, rep, person=p, place=pl, before=before, after=occ.state())
    audit(actor, AuditAction.MIGRANT_OCCUPANT, occ, unit_code=pl.unit_id, before=before, after=occ.state(),
          detail={"late": late, "report_days": report_days()})
    return occ


@transaction.atomic
def end_occupant(actor: Actor, occupant: PlaceOccupant | int, *, until: date) -> PlaceOccupant:
    """A tenant moved out or a worker left the place."""
    actor.require(Permission.MANAGE_MIGRANTS)
    pk = occupant if isinstance(occupant, int) else occupant.pk
    occ = PlaceOccupant.objects.select_for_update(of=("self",)).select_related("place").filter(pk=pk).first()
    if occ is None:
        raise MigrantError(f"记录 {pk} 不存在", f"occupant record {pk} does not exist", "occupant")
    actor.require(Permission.MANAGE_MIGRANTS, occ.place.unit_id)
    if occ.until is not None:
        raise MigrantError("该人员已登记离开此场所", "this occupant has already left the place", "occupant")
    end = check_date(until, "until", "离开日期", not_before=occ.since)
    before = occ.state()
    occ.until = end
    occ.save(update_fields=["until"])
    _history(actor, HistoryKind.OCCUPANT, end, person=occ.person, place=occ.place, before=before,
             after=occ.state())
    audit(actor, AuditAction.MIGRANT_OCCUPANT, occ, unit_code=occ.place.unit_id, before=before,
          after=occ.state())
    return occ


@transaction.atomic
def record_whereabouts_unknown(actor: Actor, person: Person | int, *, left_on: date, source: str) -> OutMigrant:
    """流出人口已离开原居住地、去向不明: the person stays ``floating_out`` (still away from
    home), the destination, employer and contact are cleared, the residence unit becomes
    unknown and the last confirmed date stays (so the person reaches the "whereabouts
    unknown" list when it is old).  Sent e.g. by the place of residence (``migrant_departed``)."""
    actor.require(Permission.MANAGE_MIGRANTS)
    pk = person if isinstance(person, int) else person.pk
    reg = Person.objects.filter(pk=pk).values_list("registered_unit_id", flat=True).first()
    if reg is None:
        raise MigrantError(f"人员 {pk} 不存在", f"person {pk} does not exist", "person")
    actor.require(Permission.MANAGE_MIGRANTS, reg)
    p = lock_person(actor, pk, permission=Permission.MANAGE_MIGRANTS)
    level = AdminUnit.objects.filter(code=p.registered_unit_id).values_list("level", flat=True).first()
    if level not in (UnitLevel.VILLAGE, UnitLevel.GROUP) or p.status != Status.ACTIVE:
        raise MigrantError(f"{p.name} 不是本县在册人员", f"{p.name} is not an active person of this county",
                           "person")
    src = parse_choice(source, WhereaboutsSource.values, "source", "信息来源", SOURCE_ZH)
    left = check_date(left_on, "left_on", "离开日期")
    om = OutMigrant.objects.select_for_update().filter(person=p).first()
    before = om.state() if om is not None else None
    if om is None:
        om = OutMigrant(person=p)
    om.destination_code = om.destination_name = om.employer = om.contact = ""
    om.source = src
    om.save()
    if p.residence_type != ResidenceType.FLOATING_OUT or p.residence_unit_id is not None:
        record_event(actor, p, EventType.CORRECTION, left,
                     {"residence_type": ResidenceType.FLOATING_OUT, "residence_unit_id": None},
                     detail={"reason": "流出人口去向不明", "source": src, "migrants": "whereabouts_unknown"},
                     action=AuditAction.MIGRANT_WHEREABOUTS)
    _history(actor, HistoryKind.WHEREABOUTS, left, person=p, before=before, after=om.state())
    audit(actor, AuditAction.MIGRANT_WHEREABOUTS, om, unit_code=p.registered_unit_id, before=before,
          after=om.state(), detail={"person_id": p.pk, "source": src, "unknown": True,
                                    "left_on": left.isoformat()})
    return om
