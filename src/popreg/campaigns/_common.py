"""Errors and shared checks of the campaign actions (:mod:`popreg.campaigns.actions`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from popreg.campaigns.models import Campaign, Phase, RectificationItem
from popreg.campaigns.queries import is_locked
from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Assignment, Role
from popreg.registry.vocabulary import chinese_label


class CampaignError(RegistryError):
    """A refused campaign write (bilingual, names the field)."""


class CampaignLockedError(CampaignError):
    """The county has signed off this unit: its campaign data can no longer change."""


# ---------------------------------------------------------------- helpers


def campaign_error(zh: str, en: str, field: str | None = None) -> CampaignError:
    return CampaignError(zh, en, field)


def acting_user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


def unit_names(codes: Iterable[str]) -> list[str]:
    """The units' names, in the order of their codes (a code stays if the unit is unknown)."""
    codes = list(codes)
    names = dict(AdminUnit.objects.filter(code__in=codes).values_list("code", "name"))
    return [names.get(c, c) for c in codes]


def check_unlocked(campaign: Campaign, code: str | None) -> None:
    if is_locked(campaign, code):
        name = unit_names([code])[0] if code else ""
        raise CampaignLockedError(
            f"{name} 的整顿数据已由县级签字验收并锁定，不能再修改",
            f"the campaign data of {name} is locked after the county sign-off",
            "unit",
        )


def check_phase(campaign: Campaign, allowed: Iterable[str], what_zh: str, what_en: str) -> None:
    allowed = tuple(allowed)
    if campaign.phase not in allowed:
        labels = "、".join(chinese_label(Phase(p)) for p in allowed)
        raise campaign_error(
            f"当前阶段为“{chinese_label(Phase(campaign.phase))}”，不能{what_zh}（仅在{labels}阶段可以）",
            f"the campaign is in phase {campaign.phase}; cannot {what_en} (allowed in: {', '.join(allowed)})",
            "phase",
        )


def fresh_campaign(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _words(field: str) -> str:
    """A field's name as English words (birth_date → birth date) for a message."""
    return field.removesuffix("_id").replace("_", " ")


def parse_date(value: Any, field: str, label: str, *, required: bool = False) -> date | None:
    if value in (None, ""):
        if required:
            raise campaign_error(f"请填写{label}", f"{_words(field)} is required", field)
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        d = value
    else:
        try:
            d = date.fromisoformat(str(value).strip().replace("/", "-"))
        except ValueError:
            raise campaign_error(f"{label}“{value}”格式不正确，应为 年-月-日（如 2025-03-01）",
                       f"{_words(field)} “{value}” is not a date (YYYY-MM-DD)", field) from None
    if d > timezone.localdate():
        raise campaign_error(f"{label} {d:%Y-%m-%d} 晚于今天，请核实", f"{_words(field)} {d} is in the future; check it", field)
    if d.year < 1890:
        raise campaign_error(f"{label} {d:%Y-%m-%d} 不合理（早于1890年）", f"{_words(field)} {d} is implausible (before 1890)", field)
    return d


def village_unit(code: str | None, field: str = "unit") -> AdminUnit:
    try:
        unit = AdminUnit.objects.get(code=(code or "").strip())
    except AdminUnit.DoesNotExist:
        raise campaign_error(f"单位代码 {code} 不存在", f"unit {code} does not exist", field) from None
    if unit.level != "village":
        raise campaign_error(f"{unit.name} 不是村(居)委会", f"{code} is not a village", field)
    return unit


def default_owner(unit_code: str, cache: dict[str, Any]) -> Any:
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


def item_state(item: RectificationItem) -> dict[str, Any]:
    return {
        "status": item.status, "item_type": item.item_type, "owner": item.owner_id,
        "deadline": item.deadline.isoformat() if item.deadline else None,
        "action_taken": item.action_taken, "event": item.event_id,
        "result_person": item.result_person_id, "reject_reason": item.reject_reason,
    }
