"""Administrative units: successions (merge, split, rename) and moving their persons."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from popreg.registry.access import Actor
from popreg.registry.actions.checks import unit_of_level
from popreg.registry.actions.events import record_event
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import (
    AdminUnit,
    EventType,
    Household,
    Person,
    UnitSuccession,
)
from popreg.registry.policy import Permission


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
    actor.require(Permission.MANAGE_UNITS)
    olds = _predecessors(actor, kind, predecessor_codes, successors)
    news = _create_successors(actor, olds, successors, effective_date)
    old_codes = [u.code for u in olds]
    households = list(Household.objects.filter(unit_id__in=old_codes))
    target = _household_targets(households, kind, news, household_map)
    for u in olds:
        u.valid_to = effective_date - timedelta(days=1)
        u.save(update_fields=["valid_to"])
        for n in news:
            UnitSuccession.objects.create(predecessor=u, successor=n, kind=kind, effective_date=effective_date)
    for hh in households:
        Household.objects.filter(pk=hh.pk).update(unit_id=target[hh.pk], version=F("version") + 1)
    moved = _recode_persons(actor, old_codes, target, news[0].code, kind, effective_date)
    audit(actor, AuditAction.SUCCEED_UNITS, None, unit_code=old_codes[0],
          before={"units": old_codes}, after={"units": [n.code for n in news]},
          detail={"kind": kind, "effective_date": effective_date.isoformat(), "persons": moved, "reason": reason})
    return news


def _predecessors(
    actor: Actor, kind: str, predecessor_codes: list[str], successors: list[dict[str, str]]
) -> list[AdminUnit]:
    """The units that end, checked: the kind, their state, the numbers of old and new
    units for the kind, one township for a merge."""
    if kind not in UnitSuccession.Kind.values:
        raise RegistryError("调整类型应为 更名、合并 或 拆分", "kind must be rename, merge or split", "kind")
    olds = [unit_of_level(code, "predecessor", "原单位") for code in predecessor_codes]
    for u in olds:
        actor.require(Permission.MANAGE_UNITS, u.code)
        if u.valid_to is not None:
            raise RegistryError(f"{u.name} 已于 {u.valid_to} 停用", f"{u.code} already ended", "predecessor")
    expected = {"rename": (1, 1), "merge": (None, 1), "split": (1, None)}[kind]
    if (expected[0] and len(olds) != expected[0]) or (expected[1] and len(successors) != expected[1]) or not olds or not successors:
        raise RegistryError("原单位与新单位的数目与调整类型不符", "numbers of old and new units do not fit the kind", "successors")
    if any(u.parent_id != olds[0].parent_id for u in olds):
        raise RegistryError("合并的单位须属于同一乡镇", "merged units must share a township", "predecessor")
    return olds


def _create_successors(
    actor: Actor, olds: list[AdminUnit], successors: list[dict[str, str]], effective_date: date
) -> list[AdminUnit]:
    """The new units, under the predecessors' parent, starting on ``effective_date``."""
    parent = olds[0].parent
    news = []
    for spec in successors:
        code, name = str(spec.get("code", "")).strip(), str(spec.get("name", "")).strip()
        if not (code.isdigit() and len(code) == len(olds[0].code)) or not name:
            raise RegistryError(f"新单位代码或名称无效：{code} {name}", f"invalid new unit {code} {name}", "successors")
        actor.require(Permission.MANAGE_UNITS, code)
        if parent is not None and not code.startswith(parent.code[: {"township": 9, "county": 6}.get(parent.level, 0)]):
            raise RegistryError(f"新单位代码 {code} 不在上级单位 {parent.name} 之下", f"{code} is not under {parent.code}", "successors")
        if AdminUnit.objects.filter(code=code).exists():
            raise RegistryError(f"单位代码 {code} 已存在", f"unit code {code} already exists", "successors")
        news.append(AdminUnit.objects.create(code=code, name=name, level=olds[0].level, parent=parent,
                                             valid_from=effective_date, urban_rural=olds[0].urban_rural))
    return news


def _household_targets(
    households: list[Household], kind: str, news: list[AdminUnit], household_map: Mapping[int, str] | None
) -> dict[int, str]:
    """Household id → the successor it moves to (a split names one for each household)."""
    target: dict[int, str] = {}
    for hh in households:
        code = news[0].code if kind != "split" else (household_map or {}).get(hh.pk, "")
        if code not in {n.code for n in news}:
            raise RegistryError(f"拆分时须为户 {hh.household_no} 指定新单位", f"household {hh.household_no} needs a new unit", "household_map")
        target[hh.pk] = code
    return target


def _recode_persons(
    actor: Actor, old_codes: list[str], target: dict[int, str], default_code: str, kind: str,
    effective_date: date,
) -> int:
    """A correction event for every person registered or living in a predecessor: the
    successor of their household (else ``default_code``).  Returns how many."""
    moved = 0
    for p in Person.objects.select_for_update().filter(
        Q(registered_unit_id__in=old_codes) | Q(residence_unit_id__in=old_codes)
    ).order_by("id"):
        new_code = target.get(p.household_id or -1, default_code)
        values: dict[str, Any] = {}
        if p.registered_unit_id in old_codes:
            values["registered_unit_id"] = new_code
        if p.residence_unit_id in old_codes:
            values["residence_unit_id"] = new_code
        record_event(actor, p, EventType.CORRECTION, effective_date, values,
                     detail={"reason": "unit_succession", "kind": kind}, action=AuditAction.UNIT_SUCCESSION_PERSON)
        moved += 1
    return moved
