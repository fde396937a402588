"""Door-to-door results: the outcome of each listed person and the persons found at the
door who are not on the list.  Public through :mod:`popreg.campaigns.actions`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.campaigns._common import (
    acting_user,
    campaign_error,
    check_phase,
    check_unlocked,
    default_owner,
    parse_date,
    village_unit,
)
from popreg.campaigns.models import (
    Campaign,
    FieldOutcome,
    FoundPerson,
    ItemOrigin,
    ItemStatus,
    ListedPerson,
    Outcome,
    Phase,
    RectificationItem,
    Source,
    Upload,
)
from popreg.campaigns.queries import in_scope
from popreg.core import idnumber
from popreg.core.validation import Entry, check
from popreg.registry import actions as registry
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit, audit_many
from popreg.registry.models import Person, ResidenceType, Sex
from popreg.registry.policy import Permission
from popreg.registry.validation import Collector, check_entry, county_code, raise_problems
from popreg.registry.vocabulary import chinese_label, chinese_labels, value_of

# ---------------------------------------------------------------- field outcomes

#: Workbook / form spellings of a correctable field -> registry field.
_FIELD_ALIASES: dict[str, str] = {
    **{k: k for k in registry.CORRECTABLE},
    **{v: k for k, v in registry.CORRECTABLE.items()},
    "residence_unit": "residence_unit_id", "mother": "mother_id", "father": "father_id",
    "身份证号": "id_number", "身份证号码": "id_number", "居住地代码": "residence_unit_id",
}



def sex_value(text: str) -> str | None:
    """M or F from what a person wrote (M/F, 男/女, Male/Female); None when it is neither."""
    text = (text or "").strip()
    return value_of(Sex, text.upper() if len(text) == 1 else text)


def correctable_field(value: str) -> str:
    key = (value or "").strip()
    if key not in _FIELD_ALIASES:
        allowed = "、".join(registry.CORRECTABLE.values())
        raise campaign_error(f"有误字段“{value}”无法识别，可填：{allowed}",
                   "unknown item “" + str(value) + "”; use one of "
                   + ", ".join(k.removesuffix("_id").replace("_", " ") for k in registry.CORRECTABLE), "field_name")
    return _FIELD_ALIASES[key]


def corrected_value(field_name: str, raw: str) -> Any:
    """The corrected value as the registry action expects it (dates, codes, M/F)."""
    value = (raw or "").strip()
    if not value:
        raise campaign_error("请填写正确值", "the corrected value is required", "corrected_value")
    if field_name == "birth_date":
        return parse_date(value, "corrected_value", "正确的出生日期", required=True)
    if field_name == "sex":
        sex = sex_value(value)
        if sex is None:
            raise campaign_error("性别的正确值应为 男 或 女", "sex must be 男/女 (M/F)", "corrected_value")
        return sex
    if field_name == "residence_type":
        residence = value_of(ResidenceType, value)
        if residence is None:
            raise campaign_error(f"居住类型“{value}”无法识别，可填：{'、'.join(chinese_labels(ResidenceType).values())}",
                       f"unknown residence type {value!r}; use one of {', '.join(ResidenceType.values)}",
                       "corrected_value")
        return residence
    if field_name in ("mother_id", "father_id"):
        if not value.isdigit():
            raise campaign_error("父母应填写人员编号（数字）", "mother/father must be a person number", "corrected_value")
        return int(value)
    if field_name == "id_number":
        return value.upper()
    return value


def _validate_outcome(
    person: Person, outcome: str, field_name: str, value: str, event_date: Any
) -> tuple[str, str, date | None]:
    if outcome not in Outcome.values:
        labels = "、".join(chinese_labels(Outcome).values())
        raise campaign_error(f"核对结果“{outcome}”无法识别，可填：{labels}", f"unknown outcome {outcome!r}", "outcome")
    d = parse_date(event_date, "event_date", "日期", required=outcome in (Outcome.DIED, Outcome.MOVED_AWAY))
    if d is not None and person.birth_date and d < person.birth_date:
        raise campaign_error(f"日期 {d:%Y-%m-%d} 早于出生日期 {person.birth_date:%Y-%m-%d}",
                   f"date {d} is before the birth date {person.birth_date}", "event_date")
    field_name = (field_name or "").strip()
    value = (value or "").strip()
    if outcome == Outcome.FIELD_WRONG:
        field_name = correctable_field(field_name)
        corrected_value(field_name, value)
    elif outcome == Outcome.MOVED_AWAY and value:
        # the destination code as a move checks it: format, GB/T 2260, in use on the date of
        # the move (docs/validation.md); a village of this county is fine (it becomes a transfer)
        entry = Entry(kind="move_out", today=timezone.localdate(), event_date=d, event_field="event_date",
                      destination_code=value, entered=frozenset({"destination_code"}))
        raise_problems(check(entry), {"destination_code": "corrected_value"})
    elif outcome == Outcome.DUPLICATE and value:
        if not value.isdigit() or not Person.objects.filter(pk=int(value)).exclude(pk=person.pk).exists():
            raise campaign_error(f"重复登记的另一人员编号“{value}”不存在", f"the other record {value!r} does not exist",
                       "corrected_value")
    elif outcome in (Outcome.CONFIRMED, Outcome.NOT_FOUND, Outcome.DIED):
        field_name = ""
    return field_name, value, d


def _outcome_detail(o: FieldOutcome) -> str:
    label = chinese_label(Outcome(o.outcome))
    parts = [label]
    if o.field_name:
        parts.append(f"{registry.CORRECTABLE.get(o.field_name, o.field_name)} 应为 {o.corrected_value}")
    elif o.corrected_value:
        parts.append(str(o.corrected_value))
    if o.event_date:
        parts.append(f"{o.event_date:%Y-%m-%d}")
    if o.note:
        parts.append(o.note)
    return "；".join(parts)


# The rules of recording an outcome, shared by the single action (web form, a revising upload
# row) and the bulk path of a workbook upload (new outcomes of a whole village at once).


def outcome_values(
    person: Person, *, outcome: str, field_name: str = "", corrected_value: str = "", event_date: Any = None,
    note: str = "",
) -> dict[str, Any]:
    """The checked values of an outcome (raises ``CampaignError`` naming the field)."""
    field_name, value, d = _validate_outcome(person, outcome, field_name, corrected_value, event_date)
    return {"outcome": outcome, "field_name": field_name, "corrected_value": value, "event_date": d,
            "note": (note or "").strip()[:200]}


def _opened_item(campaign: Campaign, fo: FieldOutcome, owner: Any) -> RectificationItem | None:
    """The (unsaved) rectification item a new outcome opens: none for ``confirmed``."""
    if fo.outcome == Outcome.CONFIRMED:
        return None
    return RectificationItem(
        campaign=campaign, key=f"field:{fo.person_id}", origin=ItemOrigin.FIELD, item_type=fo.outcome,
        person_id=fo.person_id, outcome=fo, detail=_outcome_detail(fo), unit_id=fo.unit_id, owner=owner,
        deadline=campaign.rectification_end,
    )


def _outcome_audit(
    campaign: Campaign, fo: FieldOutcome, before: dict[str, Any] | None, source: str, upload: Upload | None
) -> dict[str, Any]:
    """The audit fields of recording ``fo`` (``audit`` / ``audit_many`` keywords)."""
    after = {k: getattr(fo, k) for k in _OUTCOME_FIELDS}
    return {"unit_code": fo.unit_id, "before": before,
            "after": {k: str(v) if v is not None else None for k, v in after.items()},
            "detail": {"campaign": campaign.pk, "person": fo.person_id, "source": source,
                       "upload": upload.pk if upload else None}}


_OUTCOME_FIELDS = ("outcome", "field_name", "corrected_value", "event_date", "note")


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
        raise campaign_error(f"人员 {pk} 不在本次整顿的核对名单上", f"person {pk} is not on this campaign's list",
                   "person") from None
    actor.require(Permission.CAMPAIGN_FIELDWORK, entry.unit_id)
    check_phase(campaign, (Phase.VERIFICATION, Phase.RECTIFICATION), "录入核对结果", "record outcomes")
    check_unlocked(campaign, entry.unit_id)
    p = entry.person
    new = outcome_values(p, outcome=outcome, field_name=field_name, corrected_value=corrected_value,
                         event_date=event_date, note=note)
    current = FieldOutcome.objects.select_for_update().filter(campaign=campaign, person_id=pk).first()
    item = RectificationItem.objects.filter(campaign=campaign, key=f"field:{pk}").first()
    if current is not None:
        old = {k: getattr(current, k) for k in new}
        if old == new:
            return current, False
        if item is not None and item.closed:
            raise campaign_error(f"{p.name} 的整改事项已{chinese_label(ItemStatus(item.status))}，不能再修改核对结果",
                       f"the item of {p.name} is already {item.status}; the outcome cannot change", "outcome")
        before: dict[str, Any] | None = {k: str(v) if v is not None else None for k, v in old.items()}
        for k, v in new.items():
            setattr(current, k, v)
        current.source, current.upload, current.recorded_by = source, upload, acting_user(actor)
        current.save()
        fo = current
    else:
        before = None
        fo = FieldOutcome.objects.create(campaign=campaign, person=p, unit_id=entry.unit_id, source=source,
                                         upload=upload, recorded_by=acting_user(actor), **new)
    if outcome != Outcome.CONFIRMED:
        if item is None:
            opened = _opened_item(campaign, fo, default_owner(entry.unit_id, {}))
            assert opened is not None
            opened.save()
        else:
            item.item_type, item.outcome, item.detail = outcome, fo, _outcome_detail(fo)
            if item.status == ItemStatus.REJECTED:
                item.status, item.reject_reason = ItemStatus.OPEN, ""
            item.save()
    elif item is not None and not item.closed:
        item.status = ItemStatus.REJECTED
        item.reject_reason = "入户核对结果已更正为核实无误 / outcome revised to confirmed"
        item.save()
    audit(actor, AuditAction.CAMPAIGN_RECORD_OUTCOME, fo, **_outcome_audit(campaign, fo, before, source, upload))
    return fo, True


def record_new_outcomes(
    actor: Actor,
    campaign: Campaign,
    unit_code: str,
    entries: list[tuple[ListedPerson, dict[str, Any]]],
    *,
    source: str,
    upload: Upload | None,
) -> list[FieldOutcome]:
    """What ``do_record_outcome`` does for persons of one village with no outcome yet, in bulk.

    ``entries`` pairs each listed person with values checked by :func:`outcome_values`.
    The caller has checked the actor, phase and lock of the village (``do_upload_workbook``)
    and runs this inside its transaction; a person who already has an outcome goes through
    ``do_record_outcome`` (which revises it and its item).
    """
    user = acting_user(actor)
    created = [
        FieldOutcome(campaign=campaign, person=lp.person, unit_id=unit_code, source=source, upload=upload,
                     recorded_by=user, **values)
        for lp, values in entries
    ]
    FieldOutcome.objects.bulk_create(created, batch_size=1000)
    if any(o.pk is None for o in created):  # a backend that does not return the new keys
        ids = {o.person_id: o.pk for o in FieldOutcome.objects.filter(
            campaign=campaign, person_id__in=[o.person_id for o in created])}
        for o in created:
            o.pk = ids[o.person_id]
    owner = default_owner(unit_code, {})
    items = [it for it in (_opened_item(campaign, o, owner) for o in created) if it is not None]
    RectificationItem.objects.bulk_create(items, batch_size=1000)
    audit_many(actor, AuditAction.CAMPAIGN_RECORD_OUTCOME,
               ((o, _outcome_audit(campaign, o, None, source, upload)) for o in created))
    return created


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
    unit = village_unit(unit_code)
    actor.require(Permission.CAMPAIGN_FIELDWORK, unit.code)
    check_phase(campaign, (Phase.VERIFICATION, Phase.RECTIFICATION), "登记新发现人员", "record found persons")
    check_unlocked(campaign, unit.code)
    if not in_scope(campaign, unit.code):
        raise campaign_error(f"{unit.name} 不在本次整顿范围内", f"{unit.name} is outside the campaign's scope", "unit")
    # Every problem of the capture at once (the plausibility rules of docs/validation.md).
    problems = Collector()
    name = (name or "").strip()
    if not name:
        problems.add([campaign_error("请填写姓名", "name is required", "name")])
    found_sex = sex_value(sex)
    if found_sex is None:
        problems.add([campaign_error("性别应为 男 或 女", "sex must be 男/女 (M/F)", "sex")])
    born = problems.run(parse_date, birth_date, "birth_date", "出生日期", required=True)
    if kind not in FoundPerson.Kind.values:
        problems.add([campaign_error("类别应为 出生未登记 或 迁入未登记", "kind must be birth or move_in", "kind")])
    number = (id_number or "").strip().upper()
    moved = problems.run(parse_date, event_date, "event_date", "迁入日期")
    from_code = (from_unit_code or "").strip()
    moving_in = kind == FoundPerson.Kind.MOVE_IN
    entry = Entry(kind="move_in" if moving_in else "person", today=timezone.localdate(), birth_date=born,
                  sex=found_sex, id_number=number or None, event_date=moved, event_field="event_date",
                  origin_code=from_code if moving_in else None, home_county=county_code() if moving_in else "")
    problems.add(check_entry(entry, {"origin_code": "from_unit_code"}))
    problems.raise_all()
    assert born is not None and found_sex is not None
    sex = found_sex
    if number:
        number = idnumber.validate(number).number or number
    same = FoundPerson.objects.filter(campaign=campaign, unit=unit, name=name, birth_date=born).first()
    if same is not None:
        return same, False
    fp = FoundPerson.objects.create(
        campaign=campaign, unit=unit, kind=kind, name=name, sex=sex, birth_date=born, id_number=number,
        household_no=(household_no or "").strip(), address=(address or "").strip(), from_unit_code=from_code,
        event_date=moved, note=(note or "").strip()[:200], source=source, upload=upload, recorded_by=acting_user(actor),
    )
    RectificationItem.objects.create(
        campaign=campaign, key=f"found:{fp.pk}", origin=ItemOrigin.FIELD, item_type="found_person",
        found_person=fp, detail=f"{chinese_label(FoundPerson.Kind(fp.kind))}：{name}，{born:%Y-%m-%d}", unit=unit,
        owner=default_owner(unit.code, {}), deadline=campaign.rectification_end,
    )
    audit(actor, AuditAction.CAMPAIGN_RECORD_FOUND_PERSON, fp, unit_code=unit.code,
                   after={"name": name, "sex": sex, "birth_date": born.isoformat(), "kind": kind},
                   detail={"campaign": campaign.pk})
    return fp, True
