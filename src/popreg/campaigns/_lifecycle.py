"""Creating a campaign, moving it through its phases, and opening rectification items
from the anomaly rules.  Public through :mod:`popreg.campaigns.actions`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from popreg.campaigns._common import (
    acting_user,
    campaign_error,
    check_phase,
    default_owner,
    fresh_campaign,
    unit_names,
)
from popreg.campaigns.models import (
    PHASE_ORDER,
    Campaign,
    ItemOrigin,
    ListedPerson,
    Phase,
    RectificationItem,
    SignOff,
)
from popreg.campaigns.queries import is_locked, prefix_of, progress, scope_villages, village_of
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import AdminUnit, Person
from popreg.registry.policy import Permission
from popreg.registry.vocabulary import chinese_label

# ---------------------------------------------------------------- campaigns

PHASE_FIELDS = tuple(f"{p}_{e}" for p in PHASE_ORDER[:4] for e in ("start", "end"))


def _phase_date(field: str) -> tuple[str, str]:
    """A phase date field (``preparation_end``) in words, Chinese and English."""
    phase, _sep, end = field.rpartition("_")
    with translation.override("en"):
        phase_en = str(Phase(phase).label).lower()
    which_zh, which_en = ("开始", "start") if end == "start" else ("结束", "end")
    return f"{chinese_label(Phase(phase))}阶段{which_zh}日期", f"{which_en} of the {phase_en} phase"


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
    actor.require(Permission.MANAGE_CAMPAIGNS)
    name = (name or "").strip()
    if not name:
        raise campaign_error("请填写活动名称", "name is required", "name")
    codes = [c.strip() for c in scope_codes if c and c.strip()]
    if not codes:
        raise campaign_error("请至少选择一个范围单位", "choose at least one unit for the scope", "scope")
    units = []
    for code in codes:
        try:
            u = AdminUnit.objects.get(code=code)
        except AdminUnit.DoesNotExist:
            raise campaign_error(f"范围单位 {code} 不存在", f"unit {code} does not exist", "scope") from None
        if u.level == "group":
            raise campaign_error(f"{u.name} 是村民小组，范围请选村、乡镇或县", f"{u.name} is a group; choose a village or above", "scope")
        actor.require(Permission.MANAGE_CAMPAIGNS, u.code)
        units.append(u)
    if not isinstance(reference_moment, datetime):
        raise campaign_error("标准时点格式不正确", "reference moment must be a date-time", "reference_moment")
    values: dict[str, date] = {}
    for key in PHASE_FIELDS:
        v = dates.get(key)
        if not isinstance(v, date):
            raise campaign_error(f"请填写各阶段起止日期（缺少{_phase_date(key)[0]}）",
                                 f"the {_phase_date(key)[1]} is required", key)
        values[key] = v
    ordered = [values[k] for k in PHASE_FIELDS]
    for i in range(1, len(ordered)):
        if ordered[i] < ordered[i - 1]:
            (now_zh, now_en), (before_zh, before_en) = _phase_date(PHASE_FIELDS[i]), _phase_date(PHASE_FIELDS[i - 1])
            raise campaign_error(f"阶段日期顺序不正确：{now_zh}早于{before_zh}，请调整",
                                 f"the {now_en} is before the {before_en}; correct the dates", PHASE_FIELDS[i])
    if not 0 < float(error_threshold) < 1:
        raise campaign_error("抽查差错率上限应在 0 和 1 之间（如 0.05）", "error threshold must be between 0 and 1", "error_threshold")
    if int(spot_check_households) < 1:
        raise campaign_error("每村抽查户数至少为1", "sample at least one household per village", "spot_check_households")
    tz = timezone.get_current_timezone()
    moment = reference_moment if timezone.is_aware(reference_moment) else timezone.make_aware(reference_moment, tz)
    campaign = Campaign.objects.create(
        name=name, reference_moment=moment, created_by=acting_user(actor),
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
    audit(actor, AuditAction.CAMPAIGN_CREATE, campaign, unit_code=units[0].code,
                   after={"name": name, "scope": [u.code for u in units], "listed": len(listed),
                          "reference_moment": moment.isoformat(), **{k: v.isoformat() for k, v in values.items()}})
    return campaign


@transaction.atomic
def do_advance_phase(actor: Actor, campaign: Campaign) -> Campaign:
    """Move the campaign to its next phase (forward only)."""
    c = fresh_campaign(campaign)
    for u in c.scope_units.all():
        actor.require(Permission.MANAGE_CAMPAIGNS, u.code)
    i = PHASE_ORDER.index(c.phase)
    if i + 1 >= len(PHASE_ORDER):
        raise campaign_error("活动已结束", "the campaign is closed", "phase")
    nxt = PHASE_ORDER[i + 1]
    if nxt == Phase.CLOSED:
        townships = {v.code[:9] + "000" for v in scope_villages(c)}
        signed = set(SignOff.objects.filter(campaign=c, level=SignOff.Level.COUNTY).values_list("unit_id", flat=True))
        missing = unit_names(sorted(townships - signed))
        if missing:
            raise campaign_error(f"以下乡镇尚未经县级签字验收：{'、'.join(missing)}",
                       f"townships without county sign-off: {', '.join(missing)}", "phase")
    before = c.phase
    c.phase = nxt
    c.save(update_fields=["phase"])
    audit(actor, AuditAction.CAMPAIGN_ADVANCE_PHASE, c, before={"phase": before}, after={"phase": nxt})
    return c


@dataclass(frozen=True)
class UnfinishedUnit:
    """A unit whose work of the current phase is not done (shown before advancing)."""

    code: str
    name: str
    level: str
    unchecked: int = 0  #: persons on its list not verified door to door yet
    open_items: int = 0  #: rectification items still open
    unsigned: bool = False  #: a township without the county's sign-off: closing is refused


def unfinished_units(campaign: Campaign) -> list[UnfinishedUnit]:
    """The units not done with the campaign's current phase, by name, for the confirmation
    asked before :func:`do_advance_phase`: in door-to-door verification the villages with
    persons not verified, in rectification those with open items too, in review and
    acceptance the townships the county has not signed off (closing is refused then)."""
    phase = campaign.phase
    if phase in (Phase.VERIFICATION, Phase.RECTIFICATION):
        out = []
        for r in progress(campaign):
            if r.level != "village":
                continue
            unchecked = max(r.listed - r.checked, 0)
            open_items = r.outstanding if phase == Phase.RECTIFICATION else 0
            if unchecked or open_items:
                out.append(UnfinishedUnit(r.code, r.name, r.level, unchecked=unchecked, open_items=open_items))
        return out
    if phase == Phase.SUMMARY:
        townships = sorted({v.code[:9] + "000" for v in scope_villages(campaign)})
        signed = set(SignOff.objects.filter(campaign=campaign, level=SignOff.Level.COUNTY)
                     .values_list("unit_id", flat=True))
        names = dict(AdminUnit.objects.filter(code__in=townships).values_list("code", "name"))
        return [UnfinishedUnit(t, names.get(t, t), "township", unsigned=True) for t in townships if t not in signed]
    return []


# ---------------------------------------------------------------- anomaly items


@dataclass
class GenerateResult:
    created: int = 0
    existing: int = 0
    outside: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


@transaction.atomic
def do_generate_items(
    actor: Actor, campaign: Campaign, *, pending_days: int = 180, findings: Sequence[Any] | None = None
) -> GenerateResult:
    """Run the anomaly rules on a fresh snapshot of the registry and open an item per finding.

    Findings outside the campaign's scope or the actor's jurisdiction are left out; a finding
    that already has an item (same record, source and type) is not added again.  ``findings``
    (``popreg.campaigns.anomalies.Finding``), when given, are taken instead of running the
    rules: an outside source arriving in the registry (popreg.sources) adds its own.
    """
    from popreg.campaigns.anomalies import detect_anomalies
    from popreg.registry.snapshot import write_registry_snapshot

    c = fresh_campaign(campaign)
    actor.require(Permission.MANAGE_CAMPAIGNS)
    check_phase(c, (Phase.PREPARATION, Phase.VERIFICATION, Phase.RECTIFICATION), "生成整改事项", "generate items")
    if findings is None:
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
            detail=f.detail, unit_id=village, owner=default_owner(village, owners),
            deadline=c.rectification_end,
        ))
        result.by_type[f.anomaly_type] = result.by_type.get(f.anomaly_type, 0) + 1
    RectificationItem.objects.bulk_create(new, batch_size=2000)
    result.created = len(new)
    audit(actor, AuditAction.CAMPAIGN_GENERATE_ITEMS, c,
                   after={"created": result.created, "existing": result.existing, "by_type": result.by_type})
    return result
