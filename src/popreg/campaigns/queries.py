"""Reads of campaign data: scope, lists, progress per unit at every level, lock state.

Progress is computed from the rows themselves (listed persons, outcomes, items), never
stored, so the numbers on the summary table always agree with the items behind them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from popreg.campaigns.models import (
    Campaign,
    FieldOutcome,
    ItemStatus,
    ListedPerson,
    Outcome,
    RectificationItem,
    SignOff,
    SpotCheck,
)
from popreg.registry.access import Actor
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Person
from popreg.registry.vocabulary import chinese_labels

#: Item types opened at the door, in the order of the summary table's columns: the outcomes
#: (labelled by the outcome vocabulary), then the newly found persons.
FIELD_ITEM_TYPES: tuple[str, ...] = (
    Outcome.DIED, Outcome.MOVED_AWAY, Outcome.DUPLICATE, Outcome.NOT_FOUND, Outcome.FIELD_WRONG, "found_person",
)


def item_type_labels() -> dict[str, str]:
    """Item types with their Chinese labels: field outcomes, found persons, then anomaly types."""
    from popreg.campaigns.anomalies import ANOMALY_TYPES

    outcomes = chinese_labels(Outcome)
    field = {str(t): f"入户核对:{outcomes.get(t, '新发现人员')}" for t in FIELD_ITEM_TYPES}
    return {**field, **ANOMALY_TYPES}


def prefix_of(unit: AdminUnit) -> str:
    return unit.code[: PREFIX_LENGTH[unit.level]]


def scope_prefixes(campaign: Campaign) -> list[str]:
    return [prefix_of(u) for u in campaign.scope_units.all()]


def scope_villages(campaign: Campaign) -> QuerySet[AdminUnit]:
    """Every village-level unit inside the campaign's scope."""
    q = Q()
    for p in scope_prefixes(campaign):
        q |= Q(code__startswith=p)
    if not q:
        return AdminUnit.objects.none()
    return AdminUnit.objects.filter(q, level="village").order_by("code")


def village_of(code: str | None) -> str | None:
    """The 12-digit village code of a village or group code."""
    if not code or len(code) < 12:
        return None
    return code[:12]


def in_scope(campaign: Campaign, code: str | None) -> bool:
    return bool(code) and any(str(code).startswith(p) for p in scope_prefixes(campaign))


def persons_for_list(village: AdminUnit) -> QuerySet[Person]:
    """Active persons registered in the village (or one of its groups), in household order."""
    return (
        Person.objects.filter(registered_unit__code__startswith=village.code, status="active")
        .select_related("household")
        .order_by("household__household_no", "household_id", "birth_date", "id")
    )


def listed_persons(campaign: Campaign, village_code: str) -> QuerySet[Person]:
    ids = ListedPerson.objects.filter(campaign=campaign, unit_id=village_code).values("person_id")
    return (
        Person.objects.filter(pk__in=ids)
        .select_related("household")
        .order_by("household__household_no", "household_id", "birth_date", "id")
    )


def locked_prefixes(campaign: Campaign) -> list[str]:
    """Code prefixes of the units whose campaign data the county has signed off (locked)."""
    return [
        prefix_of(s.unit)
        for s in SignOff.objects.filter(campaign=campaign, level=SignOff.Level.COUNTY).select_related("unit")
    ]


def is_locked(campaign: Campaign, code: str | None) -> bool:
    return bool(code) and any(str(code).startswith(p) for p in locked_prefixes(campaign))


def campaigns_for(actor: Actor) -> list[Campaign]:
    """Campaigns whose scope touches the actor's jurisdiction."""
    out = []
    for c in Campaign.objects.prefetch_related("scope_units"):
        prefixes = [prefix_of(u) for u in c.scope_units.all()]
        if actor.prefix == "" or any(p.startswith(actor.prefix) or actor.prefix.startswith(p) for p in prefixes):
            out.append(c)
    return out


def items_for(campaign: Campaign, actor: Actor) -> QuerySet[RectificationItem]:
    qs = RectificationItem.objects.filter(campaign=campaign).select_related(
        "person", "unit", "owner", "found_person", "event", "result_person"
    )
    if actor.prefix:
        qs = qs.filter(unit__code__startswith=actor.prefix)
    return qs


# ---------------------------------------------------------------- progress / summary


@dataclass
class UnitProgress:
    """Progress of one unit (village, township or the campaign total)."""

    code: str
    name: str
    level: str
    listed: int = 0
    checked: int = 0
    findings: int = 0
    fixed: int = 0
    rejected: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    signoffs: list[str] = field(default_factory=list)
    spot_sampled: int = 0
    spot_checked: int = 0
    spot_errors: int = 0

    @property
    def outstanding(self) -> int:
        return self.findings - self.fixed - self.rejected

    @property
    def checked_pct(self) -> float:
        return 100.0 * self.checked / self.listed if self.listed else 0.0

    @property
    def spot_error_rate(self) -> float | None:
        return self.spot_errors / self.spot_checked if self.spot_checked else None

    def add(self, other: UnitProgress) -> None:
        self.listed += other.listed
        self.checked += other.checked
        self.findings += other.findings
        self.fixed += other.fixed
        self.rejected += other.rejected
        self.by_type.update(other.by_type)
        self.outcomes.update(other.outcomes)
        self.spot_sampled += other.spot_sampled
        self.spot_checked += other.spot_checked
        self.spot_errors += other.spot_errors


def _counts(qs: QuerySet[Any], *keys: str) -> dict[tuple[Any, ...], int]:
    return {tuple(r[k] for k in keys): r["n"] for r in qs.values(*keys).annotate(n=Count("id"))}


def progress(campaign: Campaign, actor: Actor | None = None) -> list[UnitProgress]:
    """Progress rows: the campaign total, then each township followed by its villages.

    Restricted to the actor's jurisdiction when given (a village clerk sees one village;
    the total is then the total of what they see).
    """
    villages = list(scope_villages(campaign))
    if actor is not None and actor.prefix:
        villages = [v for v in villages if v.code.startswith(actor.prefix)]
    rows = {v.code: UnitProgress(v.code, v.name, "village") for v in villages}
    listed = _counts(ListedPerson.objects.filter(campaign=campaign), "unit_id")
    outcomes = _counts(FieldOutcome.objects.filter(campaign=campaign), "unit_id", "outcome")
    items = _counts(RectificationItem.objects.filter(campaign=campaign), "unit_id", "item_type", "status")
    spots = _counts(SpotCheck.objects.filter(campaign=campaign), "unit_id", "result")
    for (code,), n in listed.items():
        if code in rows:
            rows[code].listed = n
    for (code, outcome), n in outcomes.items():
        if code in rows:
            rows[code].checked += n
            rows[code].outcomes[outcome] += n
    for (code, item_type, status), n in items.items():
        if code in rows:
            r = rows[code]
            r.findings += n
            r.by_type[item_type] += n
            if status == ItemStatus.RESOLVED:
                r.fixed += n
            elif status == ItemStatus.REJECTED:
                r.rejected += n
    for (code, result), n in spots.items():
        if code in rows:
            r = rows[code]
            r.spot_sampled += n
            if result != SpotCheck.Result.PENDING:
                r.spot_checked += n
            if result == SpotCheck.Result.DIFFERS:
                r.spot_errors += n
    signs: dict[str, list[str]] = defaultdict(list)
    for s in SignOff.objects.filter(campaign=campaign).order_by("signed_at", "id"):
        signs[s.unit_id].append(s.level)
    for code, r in rows.items():
        r.signoffs = signs.get(code, [])
    township_codes = sorted({v.code[:9] + "000" for v in villages})
    townships = {u.code: u for u in AdminUnit.objects.filter(code__in=township_codes)}
    total = UnitProgress("", campaign.name, "campaign")
    out: list[UnitProgress] = [total]
    for tcode in township_codes:
        t = townships.get(tcode)
        trow = UnitProgress(tcode, t.name if t else tcode, "township", signoffs=signs.get(tcode, []))
        children = [rows[v.code] for v in villages if v.code.startswith(tcode[:9])]
        for c in children:
            trow.add(c)
        total.add(trow)
        out.append(trow)
        out.extend(children)
    return out


def village_checked(campaign: Campaign, village_code: str) -> tuple[int, int]:
    """(listed, checked) for one village."""
    listed = ListedPerson.objects.filter(campaign=campaign, unit_id=village_code).count()
    checked = FieldOutcome.objects.filter(campaign=campaign, unit_id=village_code).count()
    return listed, checked


def open_items(campaign: Campaign, prefix: str) -> int:
    return RectificationItem.objects.filter(
        campaign=campaign, unit__code__startswith=prefix, status__in=(ItemStatus.OPEN, ItemStatus.IN_PROGRESS)
    ).count()


def sort_units(codes: Iterable[str]) -> list[str]:
    return sorted(set(codes))


# ---------------------------------------------------------------- field lists (PDF / workbook input)


def village_info(village: AdminUnit) -> dict[str, Any]:
    """The ``village`` mapping of ``popreg.campaigns.fieldlists``."""
    township = village.parent
    county = township.parent if township is not None else None
    return {"code": village.code, "name": village.name,
            "township_name": township.name if township else "", "county_name": county.name if county else ""}


def campaign_info(campaign: Campaign) -> dict[str, Any]:
    """The ``campaign`` mapping of ``popreg.campaigns.fieldlists`` (IDs printed masked)."""
    return {"id": campaign.pk, "name": campaign.name, "reference_moment": campaign.reference_moment,
            "show_full_id": False}


def field_list_persons(campaign: Campaign, village_code: str) -> list[dict[str, Any]]:
    """The ``persons`` of a village's field list: everyone listed when the campaign began."""
    out = []
    for p in listed_persons(campaign, village_code).select_related("household__head"):
        hh = p.household
        out.append({
            "person_id": p.pk, "household_no": hh.household_no if hh else "", "name": p.name,
            "sex": p.sex, "birth_date": p.birth_date, "id_number": p.id_number or "",
            "relation": "户主" if hh is not None and hh.head_id == p.pk else "",
            "residence_type": p.residence_type, "address": hh.address if hh else "",
            "group_code": p.registered_unit_id if len(p.registered_unit_id) == 15 else "",
        })
    return out
