"""Households: creating one (the household number is the next free one)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from popreg.registry.access import Actor
from popreg.registry.actions.checks import unit_of_level
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import (
    Household,
)
from popreg.registry.policy import Permission


def next_household_no() -> str:
    last = Household.objects.aggregate(m=Max("household_no"))["m"]
    n = int(last) + 1 if last and last.isdigit() else 1
    return f"{n:09d}"


@transaction.atomic
def do_create_household(
    actor: Actor, *, unit_code: str, kind: str = Household.Kind.FAMILY, address: str = "",
    household_no: str | None = None,
) -> Household:
    actor.require(Permission.EDIT_REGISTRY)
    unit = unit_of_level(unit_code, "unit_code", "户籍地")
    actor.require(Permission.EDIT_REGISTRY, unit.code)
    if kind not in Household.Kind.values:
        raise RegistryError("户别应为 家庭户 或 集体户", "kind must be family or collective", "kind")
    no = (household_no or "").strip() or next_household_no()
    if Household.objects.filter(household_no=no).exists():
        raise RegistryError(f"户号 {no} 已存在", f"household number {no} already exists", "household_no")
    hh = Household.objects.create(household_no=no, unit=unit, kind=kind, address=address.strip())
    audit(actor, AuditAction.CREATE_HOUSEHOLD, hh, unit_code=unit.code, after={"household_no": no, "unit": unit.code, "kind": kind, "address": hh.address})
    return hh
