"""Every write to campaign data.  Like the registry's actions, each ``do_*`` function runs in
one transaction, checks the actor's role and jurisdiction, refuses writes to units the
county has signed off (``CampaignLockedError``), and writes an audit record with
``popreg.registry.actions.audit``.  Resolving a rectification item changes the registry
only through ``popreg.registry.actions`` (so the registry keeps its own events and audit).

Errors are ``CampaignError`` (a ``RegistryError``: Chinese, then English, naming the field).
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from popreg.campaigns.models import (
    PHASE_ORDER,
    Campaign,
    FieldOutcome,
    FoundPerson,
    ItemOrigin,
    ItemStatus,
    ListedPerson,
    Outcome,
    Phase,
    RectificationItem,
    SignOff,
    Source,
    SpotCheck,
    Upload,
)
from popreg.campaigns.queries import (
    in_scope,
    is_locked,
    open_items,
    prefix_of,
    scope_villages,
    village_checked,
    village_of,
)
from popreg.core import idnumber
from popreg.registry import actions as registry
from popreg.registry.access import Actor
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.models import (
    AdminUnit,
    Assignment,
    Event,
    Household,
    Person,
    ResidenceType,
    Role,
)


class CampaignError(RegistryError):
    """A refused campaign write (bilingual, names the field)."""


class CampaignLockedError(CampaignError):
    """The county has signed off this unit: its campaign data can no longer change."""


# ---------------------------------------------------------------- helpers


def _err(zh: str, en: str, field: str | None = None) -> CampaignError:
    return CampaignError(zh, en, field)


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


def _check_unlocked(campaign: Campaign, code: str | None) -> None:
    if is_locked(campaign, code):
        raise CampaignLockedError(
            f"单位 {code} 的整顿数据已由县级签字验收并锁定，不能再修改",
            f"the campaign data of unit {code} is locked after the county sign-off",
            "unit",
        )


def _check_phase(campaign: Campaign, allowed: Iterable[str], what_zh: str, what_en: str) -> None:
    allowed = tuple(allowed)
    if campaign.phase not in allowed:
        labels = "、".join(str(Phase(p).label) for p in allowed)
        raise _err(
            f"当前阶段为“{campaign.get_phase_display()}”，不能{what_zh}（仅在{labels}阶段可以）",
            f"the campaign is in phase {campaign.phase}; cannot {what_en} (allowed in: {', '.join(allowed)})",
            "phase",
        )


def _check_writer(actor: Actor, code: str | None) -> None:
    actor.check_write()
    actor.check_unit(code)


def _fresh(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _parse_date(value: Any, field: str, label: str, *, required: bool = False) -> date | None:
    if value in (None, ""):
        if required:
            raise _err(f"请填写{label}", f"{field} is required", field)
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        d = value
    else:
        try:
            d = date.fromisoformat(str(value).strip().replace("/", "-"))
        except ValueError:
            raise _err(f"{label}“{value}”格式不正确，应为 年-月-日（如 2025-03-01）",
                       f"{field} {value!r} is not a date (YYYY-MM-DD)", field) from None
    if d > timezone.localdate():
        raise _err(f"{label} {d:%Y-%m-%d} 晚于今天，请核实", f"{field} {d} is in the future", field)
    if d.year < 1890:
        raise _err(f"{label} {d:%Y-%m-%d} 不合理（早于1890年）", f"{field} {d} is implausible", field)
    return d


def _village(code: str | None, field: str = "unit") -> AdminUnit:
    try:
        unit = AdminUnit.objects.get(code=(code or "").strip())
    except AdminUnit.DoesNotExist:
        raise _err(f"单位代码 {code} 不存在", f"unit {code} does not exist", field) from None
    if unit.level != "village":
        raise _err(f"{unit.name} 不是村(居)委会", f"{code} is not a village", field)
    return unit


def _default_owner(unit_code: str, cache: dict[str, Any]) -> Any:
    """The village clerk of the unit, else the township officer, else nobody."""
    if unit_code not in cache:
        owner = None
        for role, code in ((Role.VILLAGE_CLERK, unit_code), (Role.TOWNSHIP_OFFICER, unit_code[:9] + "000")):
            a = Assignment.objects.filter(role=role, unit_id=code).select_related("user").order_by("id").first()
            if a is not None:
                owner = a.user
                break
        cache[unit_code] = owner
    return cache[unit_code]


def _item_state(item: RectificationItem) -> dict[str, Any]:
    return {
        "status": item.status, "item_type": item.item_type, "owner": item.owner_id,
        "deadline": item.deadline.isoformat() if item.deadline else None,
        "action_taken": item.action_taken, "event": item.event_id,
        "result_person": item.result_person_id, "reject_reason": item.reject_reason,
    }


# ---------------------------------------------------------------- campaigns

PHASE_FIELDS = tuple(f"{p}_{e}" for p in PHASE_ORDER[:4] for e in ("start", "end"))


@transaction.atomic
def do_create_campaign(
    actor: Actor,
    *,
    name: str,
    scope_codes: Iterable[str],
    reference_moment: datetime,
    dates: Mapping[str, date],
    spot_check_households: int = 5,
    error_threshold: float = 0.05,
    seed: int = 20251101,
) -> Campaign:
    """Create a campaign and freeze the field list of every village in its scope."""
    actor.check_write()
    if actor.role not in (Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER, "system"):
        raise JurisdictionError("只有县、乡镇户籍管理人员可以发起整顿活动",
                                "only county or township staff may create a campaign", "scope")
    name = (name or "").strip()
    if not name:
        raise _err("请填写活动名称", "name is required", "name")
    codes = [c.strip() for c in scope_codes if c and c.strip()]
    if not codes:
        raise _err("请至少选择一个范围单位", "choose at least one unit for the scope", "scope")
    units = []
    for code in codes:
        try:
            u = AdminUnit.objects.get(code=code)
        except AdminUnit.DoesNotExist:
            raise _err(f"范围单位 {code} 不存在", f"unit {code} does not exist", "scope") from None
        if u.level == "group":
            raise _err(f"{u.name} 是村民小组，范围请选村、乡镇或县", f"{code} is a group; choose a village or above", "scope")
        actor.check_unit(u.code)
        units.append(u)
    if not isinstance(reference_moment, datetime):
        raise _err("标准时点格式不正确", "reference moment must be a date-time", "reference_moment")
    values: dict[str, date] = {}
    for key in PHASE_FIELDS:
        v = dates.get(key)
        if not isinstance(v, date):
            raise _err(f"请填写各阶段起止日期（缺少 {key}）", f"{key} is required", key)
        values[key] = v
    ordered = [values[k] for k in PHASE_FIELDS]
    for i in range(1, len(ordered)):
        if ordered[i] < ordered[i - 1]:
            raise _err(f"阶段日期顺序不正确：{PHASE_FIELDS[i]} 早于 {PHASE_FIELDS[i - 1]}",
                       f"{PHASE_FIELDS[i]} is before {PHASE_FIELDS[i - 1]}", PHASE_FIELDS[i])
    if not 0 < float(error_threshold) < 1:
        raise _err("抽查差错率上限应在 0 和 1 之间（如 0.05）", "error threshold must be between 0 and 1", "error_threshold")
    if int(spot_check_households) < 1:
        raise _err("每村抽查户数至少为1", "sample at least one household per village", "spot_check_households")
    tz = timezone.get_current_timezone()
    moment = reference_moment if timezone.is_aware(reference_moment) else timezone.make_aware(reference_moment, tz)
    campaign = Campaign.objects.create(
        name=name, reference_moment=moment, created_by=_user(actor),
        spot_check_households=int(spot_check_households), error_threshold=float(error_threshold),
        seed=int(seed), **values,
    )
    campaign.scope_units.set(units)
    villages = set(scope_villages(campaign).values_list("code", flat=True))
    prefixes = {prefix_of(u) for u in units}
    prefixes = {p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)}
    listed = [
        ListedPerson(campaign=campaign, person_id=pid, unit_id=unit[:12], household_id=hh)
        for prefix in sorted(prefixes)
        for pid, unit, hh in Person.objects.filter(registered_unit_id__startswith=prefix, status="active")
        .order_by("id").values_list("pk", "registered_unit_id", "household_id").iterator(chunk_size=5000)
        if unit[:12] in villages
    ]
    ListedPerson.objects.bulk_create(listed, batch_size=2000)
    registry.audit(actor, "campaign_create", campaign, unit_code=units[0].code,
                   after={"name": name, "scope": [u.code for u in units], "listed": len(listed),
                          "reference_moment": moment.isoformat(), **{k: v.isoformat() for k, v in values.items()}})
    return campaign


@transaction.atomic
def do_advance_phase(actor: Actor, campaign: Campaign) -> Campaign:
    """Move the campaign to its next phase (forward only)."""
    c = _fresh(campaign)
    actor.check_write()
    if actor.role not in (Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER, "system"):
        raise JurisdictionError("只有县、乡镇户籍管理人员可以推进阶段",
                                "only county or township staff may advance the phase", "phase")
    for u in c.scope_units.all():
        actor.check_unit(u.code)
    i = PHASE_ORDER.index(c.phase)
    if i + 1 >= len(PHASE_ORDER):
        raise _err("活动已结束", "the campaign is closed", "phase")
    nxt = PHASE_ORDER[i + 1]
    if nxt == Phase.CLOSED:
        townships = {v.code[:9] + "000" for v in scope_villages(c)}
        signed = set(SignOff.objects.filter(campaign=c, level=SignOff.Level.COUNTY).values_list("unit_id", flat=True))
        missing = sorted(townships - signed)
        if missing:
            raise _err(f"以下乡镇尚未经县级签字验收：{', '.join(missing)}",
                       f"townships without county sign-off: {', '.join(missing)}", "phase")
    before = c.phase
    c.phase = nxt
    c.save(update_fields=["phase"])
    registry.audit(actor, "campaign_advance_phase", c, before={"phase": before}, after={"phase": nxt})
    return c


# ---------------------------------------------------------------- anomaly items


@dataclass
class GenerateResult:
    created: int = 0
    existing: int = 0
    outside: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


@transaction.atomic
def do_generate_items(actor: Actor, campaign: Campaign, *, pending_days: int = 180) -> GenerateResult:
    """Run the anomaly rules on a fresh snapshot of the registry and open an item per finding.

    Findings outside the campaign's scope or the actor's jurisdiction are left out; a finding
    that already has an item (same record, source and type) is not added again.
    """
    from popreg.campaigns.anomalies import detect_anomalies
    from popreg.registry.snapshot import write_registry_snapshot

    c = _fresh(campaign)
    actor.check_write()
    _check_phase(c, (Phase.PREPARATION, Phase.VERIFICATION, Phase.RECTIFICATION), "生成整改事项", "generate items")
    with tempfile.TemporaryDirectory(prefix="popreg-campaign-") as tmp:
        write_registry_snapshot(tmp)
        findings = detect_anomalies(tmp, pending_days=pending_days)
    result = GenerateResult()
    existing = set(RectificationItem.objects.filter(campaign=c).values_list("key", flat=True))
    units = {u.code for u in scope_villages(c)}
    owners: dict[str, Any] = {}
    new: list[RectificationItem] = []
    known = set(Person.objects.filter(pk__in={f.person_id for f in findings if f.person_id}).values_list("pk", flat=True))
    for f in findings:
        candidates = [f.unit_code, *f.scope_units]
        village = next((village_of(u) for u in candidates if village_of(u) in units), None)
        if village is None or not actor.covers(village) or is_locked(c, village):
            result.outside += 1
            continue
        key = f"anomaly:{f.source}:{f.record_id}:{f.anomaly_type}"
        if key in existing:
            result.existing += 1
            continue
        existing.add(key)
        new.append(RectificationItem(
            campaign=c, key=key, origin=ItemOrigin.ANOMALY, item_type=f.anomaly_type,
            person_id=f.person_id if f.person_id in known else None,
            source=f.source, source_record_id=f.record_id if f.source != "registry" else "",
            detail=f.detail, unit_id=village, owner=_default_owner(village, owners),
            deadline=c.rectification_end,
        ))
        result.by_type[f.anomaly_type] = result.by_type.get(f.anomaly_type, 0) + 1
    RectificationItem.objects.bulk_create(new, batch_size=2000)
    result.created = len(new)
    registry.audit(actor, "campaign_generate_items", c,
                   after={"created": result.created, "existing": result.existing, "by_type": result.by_type})
    return result


# ---------------------------------------------------------------- field outcomes

#: Workbook / form spellings of a correctable field -> registry field.
_FIELD_ALIASES: dict[str, str] = {
    **{k: k for k in registry.CORRECTABLE},
    **{v: k for k, v in registry.CORRECTABLE.items()},
    "residence_unit": "residence_unit_id", "mother": "mother_id", "father": "father_id",
    "身份证号": "id_number", "身份证号码": "id_number", "居住地代码": "residence_unit_id",
}

_SEX_VALUES = {"M": "M", "F": "F", "男": "M", "女": "F", "m": "M", "f": "F"}


def correctable_field(value: str) -> str:
    key = (value or "").strip()
    if key not in _FIELD_ALIASES:
        allowed = "、".join(registry.CORRECTABLE.values())
        raise _err(f"有误字段“{value}”无法识别，可填：{allowed}",
                   f"unknown field {value!r}; use one of {', '.join(registry.CORRECTABLE)}", "field_name")
    return _FIELD_ALIASES[key]


def corrected_value(field_name: str, raw: str) -> Any:
    """The corrected value as the registry action expects it (dates, codes, M/F)."""
    value = (raw or "").strip()
    if not value:
        raise _err("请填写正确值", "the corrected value is required", "corrected_value")
    if field_name == "birth_date":
        return _parse_date(value, "corrected_value", "正确的出生日期", required=True)
    if field_name == "sex":
        if value not in _SEX_VALUES:
            raise _err("性别的正确值应为 男 或 女", "sex must be 男/女 (M/F)", "corrected_value")
        return _SEX_VALUES[value]
    if field_name == "residence_type":
        labels = {str(lbl): v for v, lbl in ResidenceType.choices}
        if value in ResidenceType.values:
            return value
        if value in labels:
            return labels[value]
        raise _err(f"居住类型“{value}”无法识别，可填：{'、'.join(labels)}", "unknown residence type", "corrected_value")
    if field_name in ("mother_id", "father_id"):
        if not value.isdigit():
            raise _err("父母应填写人员编号（数字）", "mother/father must be a person number", "corrected_value")
        return int(value)
    if field_name == "id_number":
        return value.upper()
    return value


def _validate_outcome(
    person: Person, outcome: str, field_name: str, value: str, event_date: Any
) -> tuple[str, str, date | None]:
    if outcome not in Outcome.values:
        labels = "、".join(str(lbl) for _, lbl in Outcome.choices)
        raise _err(f"核对结果“{outcome}”无法识别，可填：{labels}", f"unknown outcome {outcome!r}", "outcome")
    d = _parse_date(event_date, "event_date", "日期", required=outcome in (Outcome.DIED, Outcome.MOVED_AWAY))
    if d is not None and person.birth_date and d < person.birth_date:
        raise _err(f"日期 {d:%Y-%m-%d} 早于出生日期 {person.birth_date:%Y-%m-%d}",
                   f"date {d} is before the birth date {person.birth_date}", "event_date")
    field_name = (field_name or "").strip()
    value = (value or "").strip()
    if outcome == Outcome.FIELD_WRONG:
        field_name = correctable_field(field_name)
        corrected_value(field_name, value)
    elif outcome == Outcome.MOVED_AWAY and value:
        if not (value.isdigit() and len(value) in (6, 12)):
            raise _err("迁往地应填写6位或12位区划代码", "destination must be a 6- or 12-digit code", "corrected_value")
    elif outcome == Outcome.DUPLICATE and value:
        if not value.isdigit() or not Person.objects.filter(pk=int(value)).exclude(pk=person.pk).exists():
            raise _err(f"重复登记的另一人员编号“{value}”不存在", f"the other record {value!r} does not exist",
                       "corrected_value")
    elif outcome in (Outcome.CONFIRMED, Outcome.NOT_FOUND, Outcome.DIED):
        field_name = ""
    return field_name, value, d


def _outcome_detail(o: FieldOutcome) -> str:
    label = Outcome(o.outcome).label
    parts = [str(label)]
    if o.field_name:
        parts.append(f"{registry.CORRECTABLE.get(o.field_name, o.field_name)} 应为 {o.corrected_value}")
    elif o.corrected_value:
        parts.append(str(o.corrected_value))
    if o.event_date:
        parts.append(f"{o.event_date:%Y-%m-%d}")
    if o.note:
        parts.append(o.note)
    return "；".join(parts)


@transaction.atomic
def do_record_outcome(
    actor: Actor,
    campaign: Campaign,
    person: Person | int,
    *,
    outcome: str,
    field_name: str = "",
    corrected_value: str = "",
    event_date: Any = None,
    note: str = "",
    source: str = Source.WEB,
    upload: Upload | None = None,
) -> tuple[FieldOutcome, bool]:
    """Record (or revise) the door-to-door outcome of one listed person.

    Returns the outcome and whether anything changed: recording the same values again is a
    no-op, which makes workbook uploads idempotent.  Any outcome other than ``confirmed``
    opens a rectification item; revising it updates the open item.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    pk = person if isinstance(person, int) else person.pk
    try:
        entry = ListedPerson.objects.select_related("person").get(campaign=campaign, person_id=pk)
    except ListedPerson.DoesNotExist:
        raise _err(f"人员 {pk} 不在本次整顿的核对名单上", f"person {pk} is not on this campaign's list",
                   "person") from None
    _check_writer(actor, entry.unit_id)
    _check_phase(campaign, (Phase.VERIFICATION, Phase.RECTIFICATION), "录入核对结果", "record outcomes")
    _check_unlocked(campaign, entry.unit_id)
    p = entry.person
    field_name, value, d = _validate_outcome(p, outcome, field_name, corrected_value, event_date)
    note = (note or "").strip()[:200]
    new = {"outcome": outcome, "field_name": field_name, "corrected_value": value, "event_date": d, "note": note}
    current = FieldOutcome.objects.select_for_update().filter(campaign=campaign, person_id=pk).first()
    item = RectificationItem.objects.filter(campaign=campaign, key=f"field:{pk}").first()
    if current is not None:
        old = {k: getattr(current, k) for k in new}
        if old == new:
            return current, False
        if item is not None and item.closed:
            raise _err(f"{p.name} 的整改事项已{item.get_status_display()}，不能再修改核对结果",
                       f"the item of {p.name} is already {item.status}; the outcome cannot change", "outcome")
        before: dict[str, Any] | None = {k: str(v) if v is not None else None for k, v in old.items()}
        for k, v in new.items():
            setattr(current, k, v)
        current.source, current.upload, current.recorded_by = source, upload, _user(actor)
        current.save()
        fo = current
    else:
        before = None
        fo = FieldOutcome.objects.create(campaign=campaign, person=p, unit_id=entry.unit_id, source=source,
                                         upload=upload, recorded_by=_user(actor), **new)
    if outcome != Outcome.CONFIRMED:
        if item is None:
            RectificationItem.objects.create(
                campaign=campaign, key=f"field:{pk}", origin=ItemOrigin.FIELD, item_type=outcome, person=p,
                outcome=fo, detail=_outcome_detail(fo), unit_id=entry.unit_id,
                owner=_default_owner(entry.unit_id, {}), deadline=campaign.rectification_end,
            )
        else:
            item.item_type, item.outcome, item.detail = outcome, fo, _outcome_detail(fo)
            if item.status == ItemStatus.REJECTED:
                item.status, item.reject_reason = ItemStatus.OPEN, ""
            item.save()
    elif item is not None and not item.closed:
        item.status = ItemStatus.REJECTED
        item.reject_reason = "入户核对结果已更正为核实无误 / outcome revised to confirmed"
        item.save()
    registry.audit(actor, "campaign_record_outcome", fo, unit_code=entry.unit_id, before=before,
                   after={k: str(v) if v is not None else None for k, v in new.items()},
                   detail={"campaign": campaign.pk, "person": pk, "source": source,
                           "upload": upload.pk if upload else None})
    return fo, True


@transaction.atomic
def do_record_found_person(
    actor: Actor,
    campaign: Campaign,
    unit_code: str,
    *,
    name: str,
    sex: str,
    birth_date: Any,
    kind: str = FoundPerson.Kind.BIRTH,
    id_number: str = "",
    household_no: str = "",
    address: str = "",
    from_unit_code: str = "",
    event_date: Any = None,
    note: str = "",
    source: str = Source.WEB,
    upload: Upload | None = None,
) -> tuple[FoundPerson, bool]:
    """Record a person found at the door who is not on the list; opens an item to register them.

    The same person (unit, name, birth date) recorded twice is kept once.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    unit = _village(unit_code)
    _check_writer(actor, unit.code)
    _check_phase(campaign, (Phase.VERIFICATION, Phase.RECTIFICATION), "登记新发现人员", "record found persons")
    _check_unlocked(campaign, unit.code)
    if not in_scope(campaign, unit.code):
        raise _err(f"{unit.name} 不在本次整顿范围内", f"{unit.code} is outside the campaign's scope", "unit")
    name = (name or "").strip()
    if not name:
        raise _err("请填写姓名", "name is required", "name")
    if (sex or "").strip() not in _SEX_VALUES:
        raise _err("性别应为 男 或 女", "sex must be 男/女 (M/F)", "sex")
    sex = _SEX_VALUES[sex.strip()]
    born = _parse_date(birth_date, "birth_date", "出生日期", required=True)
    assert born is not None
    if kind not in FoundPerson.Kind.values:
        raise _err("类别应为 出生未登记 或 迁入未登记", "kind must be birth or move_in", "kind")
    number = (id_number or "").strip().upper()
    if number:
        check = idnumber.validate(number, birth_date=born, sex=sex)
        if not check.ok:
            prob = check.problems[0]
            raise _err(f"公民身份号码有误：{prob.message_zh}", f"ID number: {prob.message_en}", "id_number")
        number = check.number or number
    moved = _parse_date(event_date, "event_date", "迁入日期")
    from_code = (from_unit_code or "").strip()
    if kind == FoundPerson.Kind.MOVE_IN and from_code and not (from_code.isdigit() and len(from_code) in (6, 12)):
        raise _err("迁出地应填写6位或12位区划代码", "origin must be a 6- or 12-digit code", "from_unit_code")
    same = FoundPerson.objects.filter(campaign=campaign, unit=unit, name=name, birth_date=born).first()
    if same is not None:
        return same, False
    fp = FoundPerson.objects.create(
        campaign=campaign, unit=unit, kind=kind, name=name, sex=sex, birth_date=born, id_number=number,
        household_no=(household_no or "").strip(), address=(address or "").strip(), from_unit_code=from_code,
        event_date=moved, note=(note or "").strip()[:200], source=source, upload=upload, recorded_by=_user(actor),
    )
    RectificationItem.objects.create(
        campaign=campaign, key=f"found:{fp.pk}", origin=ItemOrigin.FIELD, item_type="found_person",
        found_person=fp, detail=f"{fp.get_kind_display()}：{name}，{born:%Y-%m-%d}", unit=unit,
        owner=_default_owner(unit.code, {}), deadline=campaign.rectification_end,
    )
    registry.audit(actor, "campaign_record_found_person", fp, unit_code=unit.code,
                   after={"name": name, "sex": sex, "birth_date": born.isoformat(), "kind": kind},
                   detail={"campaign": campaign.pk})
    return fp, True


# ---------------------------------------------------------------- workbook upload


def do_upload_workbook(
    actor: Actor, campaign: Campaign, data: bytes, *, filename: str = "", village_code: str | None = None
) -> Any:
    """Apply a filled field workbook, all rows or none (see :mod:`popreg.campaigns.upload`).

    Returns an ``UploadReport``.
    """
    from popreg.campaigns.upload import upload_workbook

    return upload_workbook(actor, campaign, data, filename=filename, village_code=village_code)


# ---------------------------------------------------------------- rectification

#: Registry actions an item may be resolved with, per item type.
_PERSON_FIX = ("correct_person",)
ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "died": ("register_death",),
    "death_not_deregistered": ("register_death",),
    "enlisted_not_deregistered": ("register_enlistment",),
    "moved_away": ("transfer", "move_out"),
    "living_away": ("correct_person", "transfer"),
    "not_found": ("move_out", "transfer", "register_death"),
    "duplicate": ("merge_persons",),
    "field_wrong": _PERSON_FIX,
    "pending_registration": _PERSON_FIX,
    "id_checksum_error": _PERSON_FIX,
    "id_birthdate_mismatch": _PERSON_FIX,
    "id_sex_mismatch": _PERSON_FIX,
    "id_region_invalid": _PERSON_FIX,
    "missing_field": _PERSON_FIX,
    "implausible_age": ("correct_person", "register_death"),
    "implausible_mother_age": _PERSON_FIX,
    "future_event": _PERSON_FIX,
    "found_person": ("register_birth", "move_in"),
    "unregistered_birth": ("register_birth",),
    "death_notice_unmatched": (),
}

ACTION_LABELS = {
    "register_death": "死亡注销", "register_enlistment": "入伍注销", "correct_person": "更正登记项目",
    "transfer": "县内迁移", "move_out": "迁出县外", "merge_persons": "合并重复记录",
    "register_birth": "出生登记", "move_in": "迁入登记",
}


def merge_action() -> Callable[..., Any] | None:
    """``do_merge_persons`` of the linkage area (``None`` only if that area is absent)."""
    try:
        from popreg.linkage.actions import do_merge_persons
    except ImportError:
        return None
    return do_merge_persons


def default_params(item: RectificationItem) -> dict[str, Any]:
    """Suggested action and its parameters, from what the field found."""
    types = ALLOWED_ACTIONS.get(item.item_type, ())
    out: dict[str, Any] = {"action": types[0] if types else ""}
    o = item.outcome
    if o is not None:
        if o.event_date:
            out["date"] = o.event_date
        if o.outcome == Outcome.FIELD_WRONG:
            out["field_name"], out["value"] = o.field_name, o.corrected_value
        elif o.outcome == Outcome.MOVED_AWAY and o.corrected_value:
            dest = o.corrected_value
            out["destination_code"] = dest
            in_county = item.person is not None and dest[:6] == item.person.registered_unit_id[:6]
            out["action"] = "transfer" if in_county else "move_out"
        elif o.outcome == Outcome.DUPLICATE and o.corrected_value:
            out["other_person_id"] = o.corrected_value
    fp = item.found_person
    if fp is not None:
        out["action"] = "move_in" if fp.kind == FoundPerson.Kind.MOVE_IN else "register_birth"
        out.update(name=fp.name, sex=fp.sex, birth_date=fp.birth_date, id_number=fp.id_number,
                   household_no=fp.household_no, from_unit_code=fp.from_unit_code)
        if fp.event_date:
            out["date"] = fp.event_date
    if item.item_type == "pending_registration":
        out["field_name"], out["value"] = "residence_type", ResidenceType.REGISTERED
    if item.item_type == "living_away" and item.person is not None and item.person.residence_unit_id:
        out["action"], out["destination_code"] = "transfer", item.person.residence_unit_id
    suggested_field = {
        "id_checksum_error": "id_number", "id_birthdate_mismatch": "id_number", "id_sex_mismatch": "id_number",
        "id_region_invalid": "id_number", "implausible_age": "birth_date", "implausible_mother_age": "mother_id",
    }.get(item.item_type)
    if suggested_field and "field_name" not in out:
        out["field_name"] = suggested_field
    return out


def _run_action(actor: Actor, item: RectificationItem, action: str, params: Mapping[str, Any]) -> tuple[Event | None, Person | None]:
    reason = f"{item.campaign.name}整改事项 {item.pk}"
    person = item.person
    needs_person = ("register_death", "register_enlistment", "correct_person", "transfer", "move_out", "merge_persons")
    if action in needs_person and person is None:
        raise _err("该事项没有对应的户籍人员，不能用此措施整改", "this item has no registry person", "action")
    if action == "register_death":
        d = _parse_date(params.get("date"), "date", "死亡日期", required=True)
        return registry.do_register_death(actor, person, death_date=d, cause=str(params.get("note", "") or "")), None
    if action == "register_enlistment":
        d = _parse_date(params.get("date"), "date", "入伍日期", required=True)
        return registry.do_register_enlistment(actor, person, enlistment_date=d), None
    if action == "correct_person":
        fname = correctable_field(str(params.get("field_name", "")))
        value = corrected_value(fname, str(params.get("value", "") or ""))
        return registry.do_correct_person(actor, person, changes={fname: value}, reason=reason), None
    if action == "transfer":
        d = _parse_date(params.get("date"), "date", "迁移日期", required=True)
        dest = str(params.get("destination_code", "") or "").strip()
        return registry.do_transfer(actor, person, to_unit_code=dest, move_date=d), None
    if action == "move_out":
        d = _parse_date(params.get("date"), "date", "迁出日期", required=True)
        dest = str(params.get("destination_code", "") or "").strip()
        return registry.do_move_out(actor, person, move_date=d, destination_code=dest,
                                    destination_name=str(params.get("note", "") or "")), None
    if action == "merge_persons":
        merge = merge_action()
        if merge is None:
            raise _err("重复登记只能通过“合并重复记录”操作整改，该功能尚未启用；请稍后处理或驳回并说明理由",
                       "a duplicate is settled only by merging the records (linkage merge action), "
                       "which is not available yet", "action")
        other_raw = str(params.get("other_person_id", "") or "").strip()
        if not other_raw.isdigit() or not Person.objects.filter(pk=int(other_raw)).exists():
            raise _err("请填写保留的另一条记录的人员编号", "give the person number of the record to keep",
                       "other_person_id")
        # this item's person is the duplicate; the other record survives (both histories stay)
        merge(actor, int(other_raw), person.pk, reason)
        event = Event.objects.filter(person=person, event_type="merge").order_by("-id").first()
        return event, None
    if action in ("register_birth", "move_in"):
        fp = item.found_person
        vals: dict[str, Any] = {}
        if fp is not None:
            vals = {"name": fp.name, "sex": fp.sex, "birth_date": fp.birth_date, "id_number": fp.id_number,
                    "household_no": fp.household_no, "from_unit_code": fp.from_unit_code, "date": fp.event_date}
        vals.update({k: v for k, v in params.items() if v not in (None, "")})
        born = _parse_date(vals.get("birth_date"), "birth_date", "出生日期", required=True)
        hh = None
        if vals.get("household_no"):
            hh = Household.objects.filter(household_no=str(vals["household_no"]).strip(), unit_id=item.unit_id).first()
            if hh is None:
                raise _err(f"户号 {vals['household_no']} 不在{item.unit.name}", "the household is not in this village",
                           "household_no")
        common = {"name": str(vals.get("name", "")), "sex": _SEX_VALUES.get(str(vals.get("sex", "")), str(vals.get("sex", ""))),
                  "birth_date": born, "registered_unit_code": item.unit_id, "household": hh,
                  "id_number": str(vals.get("id_number", "") or "") or None}
        if action == "register_birth":
            return None, registry.do_register_birth(actor, **common)
        d = _parse_date(vals.get("date"), "date", "迁入日期", required=True)
        origin = str(vals.get("from_unit_code", "") or "")
        if not origin:
            raise _err("请填写迁出地代码", "the origin code is required", "from_unit_code")
        return None, registry.do_move_in(actor, **common, from_unit_code=origin, move_date=d)
    raise _err(f"未知的整改措施 {action}", f"unknown action {action!r}", "action")


def _open_item(actor: Actor, item: RectificationItem | int) -> RectificationItem:
    pk = item if isinstance(item, int) else item.pk
    try:
        it = RectificationItem.objects.select_for_update(of=("self",)).select_related("campaign", "person", "found_person",
                                                                            "outcome", "unit").get(pk=pk)
    except RectificationItem.DoesNotExist:
        raise _err(f"整改事项 {pk} 不存在", f"item {pk} does not exist", "item") from None
    _check_writer(actor, it.unit_id)
    _check_unlocked(it.campaign, it.unit_id)
    return it


@transaction.atomic
def do_resolve_item(actor: Actor, item: RectificationItem | int, *, action: str, params: Mapping[str, Any] | None = None) -> RectificationItem:
    """Settle an item by the registry action that fixes it; links the resulting event."""
    it = _open_item(actor, item)
    _check_phase(it.campaign, (Phase.VERIFICATION, Phase.RECTIFICATION, Phase.SUMMARY), "整改", "resolve items")
    if it.closed:
        raise _err(f"该事项已{it.get_status_display()}", f"the item is already {it.status}", "status")
    allowed = ALLOWED_ACTIONS.get(it.item_type, ())
    if action not in allowed:
        names = "、".join(ACTION_LABELS[a] for a in allowed) or "无（只能驳回并说明理由）"
        raise _err(f"“{ACTION_LABELS.get(action, action)}”不适用于此类事项，可用措施：{names}",
                   f"action {action!r} does not fit item type {it.item_type}; allowed: {', '.join(allowed) or 'none'}",
                   "action")
    before = _item_state(it)
    merged = {**default_params(it), **{k: v for k, v in (params or {}).items() if v not in (None, "")}}
    event, new_person = _run_action(actor, it, action, merged)
    if new_person is not None and event is None:
        event = Event.objects.filter(person=new_person).order_by("id").first()
    it.status = ItemStatus.RESOLVED
    it.action_taken = action
    it.event = event
    it.result_person = new_person
    it.resolved_by = _user(actor)
    it.resolved_at = timezone.now()
    it.save()
    registry.audit(actor, "campaign_resolve_item", it, unit_code=it.unit_id, before=before, after=_item_state(it),
                   detail={"campaign": it.campaign_id})
    if action == "merge_persons":
        _close_partner_items(actor, it, int(str(merged["other_person_id"]).strip()))
    return it


def _close_partner_items(actor: Actor, it: RectificationItem, survivor_id: int) -> None:
    """The survivor's own open duplicate items of this campaign are settled by the same merge."""
    event = Event.objects.filter(person_id=survivor_id, event_type="merge").order_by("-id").first()
    for other in RectificationItem.objects.select_for_update().filter(
            campaign_id=it.campaign_id, person_id=survivor_id, item_type="duplicate",
            status__in=(ItemStatus.OPEN, ItemStatus.IN_PROGRESS)):
        if is_locked(it.campaign, other.unit_id) or not actor.covers(other.unit_id):
            continue
        before = _item_state(other)
        other.status, other.action_taken, other.event = ItemStatus.RESOLVED, "merge_persons", event
        other.resolved_by, other.resolved_at = _user(actor), timezone.now()
        other.save()
        registry.audit(actor, "campaign_resolve_item", other, unit_code=other.unit_id, before=before,
                       after=_item_state(other), detail={"campaign": it.campaign_id, "with_item": it.pk})


@transaction.atomic
def do_reject_item(actor: Actor, item: RectificationItem | int, *, reason: str) -> RectificationItem:
    """Close an item without a registry change (e.g. the finding was wrong); a reason is required."""
    it = _open_item(actor, item)
    if it.closed:
        raise _err(f"该事项已{it.get_status_display()}", f"the item is already {it.status}", "status")
    reason = (reason or "").strip()
    if not reason:
        raise _err("驳回须填写理由", "a reason is required to reject an item", "reason")
    before = _item_state(it)
    it.status, it.reject_reason = ItemStatus.REJECTED, reason[:200]
    it.resolved_by, it.resolved_at = _user(actor), timezone.now()
    it.save()
    registry.audit(actor, "campaign_reject_item", it, unit_code=it.unit_id, before=before, after=_item_state(it),
                   detail={"campaign": it.campaign_id})
    return it


@transaction.atomic
def do_update_item(
    actor: Actor, item: RectificationItem | int, *, owner: Any = None, deadline: date | None = None,
    start: bool = False,
) -> RectificationItem:
    """Assign an owner or deadline, or mark the item in progress."""
    it = _open_item(actor, item)
    if it.closed:
        raise _err(f"该事项已{it.get_status_display()}", f"the item is already {it.status}", "status")
    before = _item_state(it)
    if owner is not None:
        owner_obj = owner if hasattr(owner, "pk") else get_user_model().objects.filter(pk=owner).first()
        if owner_obj is None:
            raise _err("责任人不存在", "the owner does not exist", "owner")
        a = getattr(owner_obj, "assignment", None)
        if a is not None and not str(it.unit_id).startswith(a.unit.code[: {"county": 6, "township": 9}.get(a.unit.level, 12)]):
            raise _err("责任人的辖区不包含该单位", "the owner's jurisdiction does not include this unit", "owner")
        it.owner = owner_obj
    if deadline is not None:
        it.deadline = deadline
    if start:
        it.status = ItemStatus.IN_PROGRESS
    it.save()
    registry.audit(actor, "campaign_update_item", it, unit_code=it.unit_id, before=before, after=_item_state(it))
    return it


# ---------------------------------------------------------------- acceptance


@transaction.atomic
def do_draw_spot_check(actor: Actor, campaign: Campaign, village_code: str) -> list[SpotCheck]:
    """Draw the village's spot-check sample: households with checked persons, seeded, so the
    same campaign and village always give the same households.  Drawing again returns the
    sample already drawn."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    unit = _village(village_code)
    _check_writer(actor, unit.code)
    _check_phase(campaign, (Phase.SUMMARY,), "抽查", "draw a spot check")
    _check_unlocked(campaign, unit.code)
    existing = list(SpotCheck.objects.filter(campaign=campaign, unit=unit))
    if existing:
        return existing
    households = sorted({
        h for h in ListedPerson.objects.filter(
            campaign=campaign, unit=unit, household__isnull=False,
            person_id__in=FieldOutcome.objects.filter(campaign=campaign, unit=unit).values("person_id"),
        ).values_list("household_id", flat=True)
    })
    rng = random.Random(f"{campaign.seed}:{unit.code}")
    sample = sorted(rng.sample(households, min(campaign.spot_check_households, len(households))))
    checks = [SpotCheck.objects.create(campaign=campaign, unit=unit, household_id=h) for h in sample]
    registry.audit(actor, "campaign_draw_spot_check", campaign, unit_code=unit.code,
                   after={"households": sample}, detail={"seed": campaign.seed})
    return checks


@transaction.atomic
def do_record_spot_check(actor: Actor, spot_check: SpotCheck | int, *, agrees: bool, note: str = "") -> SpotCheck:
    """Record the re-verification of one sampled household: does it agree with the field outcomes?"""
    pk = spot_check if isinstance(spot_check, int) else spot_check.pk
    sc = SpotCheck.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=pk)
    _check_writer(actor, sc.unit_id)
    _check_phase(sc.campaign, (Phase.SUMMARY,), "录入抽查结果", "record a spot check")
    _check_unlocked(sc.campaign, sc.unit_id)
    if SignOff.objects.filter(campaign=sc.campaign, unit_id=sc.unit_id).exists():
        raise _err("该村已签字验收，抽查结果不能再改", "the village is signed off; the spot check is final", "result")
    if not agrees and not (note or "").strip():
        raise _err("复核不一致时请在备注中说明差错", "describe the error in the note", "note")
    before = {"result": sc.result}
    sc.result = SpotCheck.Result.AGREES if agrees else SpotCheck.Result.DIFFERS
    sc.note, sc.checked_by, sc.checked_at = (note or "").strip()[:200], _user(actor), timezone.now()
    sc.save()
    registry.audit(actor, "campaign_record_spot_check", sc, unit_code=sc.unit_id, before=before,
                   after={"result": sc.result, "note": sc.note})
    return sc


@dataclass
class Acceptance:
    sampled: int
    checked: int
    errors: int
    threshold: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.checked if self.checked else 0.0

    @property
    def complete(self) -> bool:
        return self.checked == self.sampled

    @property
    def passed(self) -> bool:
        return self.complete and self.error_rate < self.threshold


def spot_check_result(campaign: Campaign, village_code: str) -> Acceptance:
    checks = list(SpotCheck.objects.filter(campaign=campaign, unit_id=village_code).values_list("result", flat=True))
    done = [r for r in checks if r != SpotCheck.Result.PENDING]
    return Acceptance(len(checks), len(done), sum(r == SpotCheck.Result.DIFFERS for r in done), campaign.error_threshold)


@transaction.atomic
def do_sign_off(actor: Actor, campaign: Campaign, unit_code: str, *, level: str, note: str = "") -> SignOff:
    """Sign off a unit up the hierarchy.

    - ``village`` on a village: everyone on its list checked, no open item, spot check
      drawn, complete and with an error rate under the campaign's threshold;
    - ``township`` on a township: every village of it in scope signed at village level;
    - ``county`` on a township: the township signed; only county staff.  Locks the
      township's campaign data (and its villages').
    """
    c = _fresh(campaign)
    _check_phase(c, (Phase.SUMMARY,), "签字验收", "sign off")
    try:
        unit = AdminUnit.objects.get(code=(unit_code or "").strip())
    except AdminUnit.DoesNotExist:
        raise _err(f"单位代码 {unit_code} 不存在", f"unit {unit_code} does not exist", "unit") from None
    _check_writer(actor, unit.code)
    _check_unlocked(c, unit.code)
    if not in_scope(c, unit.code) and not any(v.code.startswith(prefix_of(unit)) for v in scope_villages(c)):
        raise _err(f"{unit.name} 不在本次整顿范围内", f"{unit.code} is outside the campaign's scope", "unit")
    if SignOff.objects.filter(campaign=c, unit=unit, level=level).exists():
        raise _err(f"{unit.name} 已有{SignOff.Level(level).label}签字", f"{unit.code} is already signed at {level} level", "level")
    if level == SignOff.Level.VILLAGE:
        if unit.level != "village":
            raise _err("村级签字只针对村(居)委会", "a village sign-off is for a village", "level")
        listed, checked = village_checked(c, unit.code)
        if checked < listed:
            raise _err(f"{unit.name} 还有 {listed - checked} 人未核对", f"{listed - checked} persons are not checked yet", "unit")
        n_open = open_items(c, unit.code)
        if n_open:
            raise _err(f"{unit.name} 还有 {n_open} 个整改事项未办结", f"{n_open} items are still open", "unit")
        acc = spot_check_result(c, unit.code)
        if listed and acc.sampled == 0:
            raise _err("请先抽取并复核抽查户", "draw and re-verify the spot-check sample first", "spot_check")
        if not acc.complete:
            raise _err(f"抽查户还有 {acc.sampled - acc.checked} 户未复核", f"{acc.sampled - acc.checked} sampled households are not re-verified", "spot_check")
        if acc.sampled and not acc.passed:
            raise _err(f"抽查差错率 {acc.error_rate:.1%} 未低于上限 {c.error_threshold:.1%}，验收不通过，请重新核对后再抽查",
                       f"spot-check error rate {acc.error_rate:.1%} is not under {c.error_threshold:.1%}", "spot_check")
    elif level == SignOff.Level.TOWNSHIP:
        if unit.level != "township":
            raise _err("乡镇级签字只针对乡镇(街道)", "a township sign-off is for a township", "level")
        if actor.role == Role.VILLAGE_CLERK:
            raise JurisdictionError("村级人员不能进行乡镇级签字", "a village clerk cannot sign for the township", "level")
        villages = {v.code for v in scope_villages(c) if v.code.startswith(prefix_of(unit))}
        signed = set(SignOff.objects.filter(campaign=c, level=SignOff.Level.VILLAGE, unit_id__in=villages).values_list("unit_id", flat=True))
        missing = sorted(villages - signed)
        if missing:
            raise _err(f"以下村尚未村级签字：{', '.join(missing)}", f"villages not signed yet: {', '.join(missing)}", "unit")
    elif level == SignOff.Level.COUNTY:
        if unit.level != "township":
            raise _err("县级签字逐个乡镇进行，请选择乡镇", "the county signs off township by township", "level")
        if actor.role not in (Role.COUNTY_ADMIN, "system"):
            raise JurisdictionError("只有县级管理员可以进行县级签字", "only county staff sign at county level", "level")
        if not SignOff.objects.filter(campaign=c, unit=unit, level=SignOff.Level.TOWNSHIP).exists():
            raise _err(f"{unit.name} 尚未乡镇级签字", f"{unit.code} has no township sign-off yet", "unit")
    else:
        raise _err("签字层级应为 村级、乡镇级 或 县级", "level must be village, township or county", "level")
    s = SignOff.objects.create(campaign=c, unit=unit, level=level, signed_by=_user(actor),
                               signer_name=actor.name, note=(note or "").strip()[:200])
    registry.audit(actor, "campaign_sign_off", s, unit_code=unit.code, after={"level": level, "note": s.note},
                   detail={"campaign": c.pk})
    return s


__all__ = sorted([
    "ACTION_LABELS", "ALLOWED_ACTIONS", "Acceptance", "CampaignError", "CampaignLockedError", "PHASE_FIELDS",
    "GenerateResult", "default_params", "do_advance_phase", "do_create_campaign",
    "do_draw_spot_check", "do_generate_items", "do_record_found_person", "do_record_outcome",
    "do_record_spot_check", "do_reject_item", "do_resolve_item", "do_sign_off", "do_update_item",
    "do_upload_workbook", "merge_action", "spot_check_result",
])
