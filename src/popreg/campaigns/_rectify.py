"""Rectification: settling an item by the registry action that fixes it, rejecting it,
or assigning its owner and deadline.  Public through :mod:`popreg.campaigns.actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from popreg.campaigns._common import (
    acting_user,
    campaign_error,
    check_phase,
    check_unlocked,
    item_state,
    parse_date,
)
from popreg.campaigns._field import correctable_field, corrected_value, sex_value
from popreg.campaigns.models import (
    FoundPerson,
    ItemStatus,
    Outcome,
    Phase,
    RectificationItem,
    ResolveAction,
)
from popreg.campaigns.queries import is_locked
from popreg.registry import actions as registry
from popreg.registry.access import Actor
from popreg.registry.actions.checks import audit_id_refusals
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import Event, Household, Person, ResidenceType
from popreg.registry.policy import Permission
from popreg.registry.vocabulary import ChineseLabels, chinese_label

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

#: The resolving actions with their Chinese names (for the Chinese half of errors).
ACTION_LABELS: Mapping[str, str] = ChineseLabels(ResolveAction)


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
        raise campaign_error("该事项没有对应的户籍人员，不能用此措施整改", "this item has no registry person", "action")
    if action == "register_death":
        d = parse_date(params.get("date"), "date", "死亡日期", required=True)
        return registry.do_register_death(actor, person, death_date=d, cause=str(params.get("note", "") or "")), None
    if action == "register_enlistment":
        d = parse_date(params.get("date"), "date", "入伍日期", required=True)
        return registry.do_register_enlistment(actor, person, enlistment_date=d), None
    if action == "correct_person":
        fname = correctable_field(str(params.get("field_name", "")))
        value = corrected_value(fname, str(params.get("value", "") or ""))
        return registry.do_correct_person(actor, person, changes={fname: value}, reason=reason), None
    if action == "transfer":
        d = parse_date(params.get("date"), "date", "迁移日期", required=True)
        dest = str(params.get("destination_code", "") or "").strip()
        return registry.do_transfer(actor, person, to_unit_code=dest, move_date=d), None
    if action == "move_out":
        d = parse_date(params.get("date"), "date", "迁出日期", required=True)
        dest = str(params.get("destination_code", "") or "").strip()
        return registry.do_move_out(actor, person, move_date=d, destination_code=dest,
                                    destination_name=str(params.get("note", "") or "")), None
    if action == "merge_persons":
        merge = merge_action()
        if merge is None:
            raise campaign_error("重复登记只能通过“合并重复记录”操作整改，该功能尚未启用；请稍后处理或驳回并说明理由",
                       "a duplicate is settled only by merging the records (linkage merge action), "
                       "which is not available yet", "action")
        other_raw = str(params.get("other_person_id", "") or "").strip()
        if not other_raw.isdigit() or not Person.objects.filter(pk=int(other_raw)).exists():
            raise campaign_error("请填写保留的另一条记录的人员编号", "give the person number of the record to keep",
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
        born = parse_date(vals.get("birth_date"), "birth_date", "出生日期", required=True)
        hh = None
        if vals.get("household_no"):
            hh = Household.objects.filter(household_no=str(vals["household_no"]).strip(), unit_id=item.unit_id).first()
            if hh is None:
                raise campaign_error(f"户号 {vals['household_no']} 不在{item.unit.name}", "the household is not in this village",
                           "household_no")
        common = {"name": str(vals.get("name", "")), "sex": sex_value(str(vals.get("sex", ""))) or str(vals.get("sex", "")),
                  "birth_date": born, "registered_unit_code": item.unit_id, "household": hh,
                  "id_number": str(vals.get("id_number", "") or "") or None}
        if action == "register_birth":
            return None, registry.do_register_birth(actor, **common)
        d = parse_date(vals.get("date"), "date", "迁入日期", required=True)
        origin = str(vals.get("from_unit_code", "") or "")
        if not origin:
            raise campaign_error("请填写迁出地代码", "the origin code is required", "from_unit_code")
        return None, registry.do_move_in(actor, **common, from_unit_code=origin, move_date=d)
    raise campaign_error(f"未知的整改措施 {action}", f"unknown action {action!r}", "action")


def _open_item(actor: Actor, item: RectificationItem | int) -> RectificationItem:
    pk = item if isinstance(item, int) else item.pk
    try:
        it = RectificationItem.objects.select_for_update(of=("self",)).select_related("campaign", "person", "found_person",
                                                                            "outcome", "unit").get(pk=pk)
    except RectificationItem.DoesNotExist:
        raise campaign_error(f"整改事项 {pk} 不存在", f"item {pk} does not exist", "item") from None
    actor.require(Permission.CAMPAIGN_FIELDWORK, it.unit_id)
    check_unlocked(it.campaign, it.unit_id)
    return it


@audit_id_refusals  # its atomic block rolls back the registry action's refusal audit
@transaction.atomic
def do_resolve_item(actor: Actor, item: RectificationItem | int, *, action: str, params: Mapping[str, Any] | None = None) -> RectificationItem:
    """Settle an item by the registry action that fixes it; links the resulting event."""
    it = _open_item(actor, item)
    check_phase(it.campaign, (Phase.VERIFICATION, Phase.RECTIFICATION, Phase.SUMMARY), "整改", "resolve items")
    if it.closed:
        raise campaign_error(f"该事项已{chinese_label(ItemStatus(it.status))}", f"the item is already {it.status}", "status")
    allowed = ALLOWED_ACTIONS.get(it.item_type, ())
    if action not in allowed:
        names = "、".join(ACTION_LABELS[a] for a in allowed) or "无（只能驳回并说明理由）"
        raise campaign_error(f"“{ACTION_LABELS.get(action, action)}”不适用于此类事项，可用措施：{names}",
                   f"action {action!r} does not fit item type {it.item_type}; allowed: {', '.join(allowed) or 'none'}",
                   "action")
    before = item_state(it)
    merged = {**default_params(it), **{k: v for k, v in (params or {}).items() if v not in (None, "")}}
    event, new_person = _run_action(actor, it, action, merged)
    if new_person is not None and event is None:
        event = Event.objects.filter(person=new_person).order_by("id").first()
    it.status = ItemStatus.RESOLVED
    it.action_taken = action
    it.event = event
    it.result_person = new_person
    it.resolved_by = acting_user(actor)
    it.resolved_at = timezone.now()
    it.save()
    audit(actor, AuditAction.CAMPAIGN_RESOLVE_ITEM, it, unit_code=it.unit_id, before=before, after=item_state(it),
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
        before = item_state(other)
        other.status, other.action_taken, other.event = ItemStatus.RESOLVED, "merge_persons", event
        other.resolved_by, other.resolved_at = acting_user(actor), timezone.now()
        other.save()
        audit(actor, AuditAction.CAMPAIGN_RESOLVE_ITEM, other, unit_code=other.unit_id, before=before,
                       after=item_state(other), detail={"campaign": it.campaign_id, "with_item": it.pk})


@transaction.atomic
def do_reject_item(actor: Actor, item: RectificationItem | int, *, reason: str) -> RectificationItem:
    """Close an item without a registry change (e.g. the finding was wrong); a reason is required."""
    it = _open_item(actor, item)
    if it.closed:
        raise campaign_error(f"该事项已{chinese_label(ItemStatus(it.status))}", f"the item is already {it.status}", "status")
    reason = (reason or "").strip()
    if not reason:
        raise campaign_error("驳回须填写理由", "a reason is required to reject an item", "reason")
    before = item_state(it)
    it.status, it.reject_reason = ItemStatus.REJECTED, reason[:200]
    it.resolved_by, it.resolved_at = acting_user(actor), timezone.now()
    it.save()
    audit(actor, AuditAction.CAMPAIGN_REJECT_ITEM, it, unit_code=it.unit_id, before=before, after=item_state(it),
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
        raise campaign_error(f"该事项已{chinese_label(ItemStatus(it.status))}", f"the item is already {it.status}", "status")
    before = item_state(it)
    if owner is not None:
        owner_obj = owner if hasattr(owner, "pk") else get_user_model().objects.filter(pk=owner).first()
        if owner_obj is None:
            raise campaign_error("责任人不存在", "the owner does not exist", "owner")
        a = getattr(owner_obj, "assignment", None)
        if a is not None and not str(it.unit_id).startswith(a.unit.code[: {"county": 6, "township": 9}.get(a.unit.level, 12)]):
            raise campaign_error("责任人的辖区不包含该单位", "the owner's jurisdiction does not include this unit", "owner")
        it.owner = owner_obj
    if deadline is not None:
        it.deadline = deadline
    if start:
        it.status = ItemStatus.IN_PROGRESS
    it.save()
    audit(actor, AuditAction.CAMPAIGN_UPDATE_ITEM, it, unit_code=it.unit_id, before=before, after=item_state(it))
    return it
