"""Writes outside a person's life events: who holds which role (users and roles), and
repairing a stored state from its history (``popreg verify_history --repair``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.history import differing_fields, from_json, rebuild_state
from popreg.registry.models import AdminUnit, Assignment, Person, Role
from popreg.registry.policy import ROLE_PERMISSIONS, Permission


@transaction.atomic
def do_assign_role(actor: Actor, user: Any, role: str, unit_code: str) -> Assignment:
    """Give ``user`` the ``role`` over the unit ``unit_code`` (replacing the one assignment
    a user has).  County administrators only (``MANAGE_USERS`` is county-wide); audited
    with the role and unit before and after."""
    actor.require(Permission.MANAGE_USERS)
    if role not in Role.values or role not in ROLE_PERMISSIONS:
        raise RegistryError(
            f"角色“{role}”不存在，可选：{'、'.join(str(label) for label in Role.labels)}",
            f"unknown role {role!r}; use one of {', '.join(Role.values)}",
            "role",
        )
    unit = AdminUnit.objects.filter(code=(unit_code or "").strip()).first()
    if unit is None:
        raise RegistryError(f"单位代码 {unit_code} 不存在", f"unit {unit_code} does not exist", "unit_code")
    actor.require(Permission.MANAGE_USERS, unit.code)
    if getattr(user, "pk", None) is None:
        raise RegistryError("请先创建该用户", "save the user before assigning a role", "user")
    current = Assignment.objects.select_for_update().filter(user=user).first()
    before = {"role": current.role, "unit": current.unit_id} if current is not None else None
    assignment, _ = Assignment.objects.update_or_create(user=user, defaults={"role": role, "unit": unit})
    user.assignment = assignment  # the caller's user object sees the new role at once
    audit(actor, AuditAction.ASSIGN_ROLE, assignment, unit_code=unit.code, before=before,
          after={"role": role, "unit": unit.code}, detail={"user": user.get_username()})
    return assignment


@transaction.atomic
def do_repair_history(actor: Actor, person: Person | int) -> list[str]:
    """Write back the state that baseline + events give ``person`` where the stored state
    differs (a change made behind the action layer's back); returns the repaired fields,
    empty when nothing differed (and then nothing is written or audited)."""
    actor.require(Permission.REPAIR_HISTORY)
    pk = person if isinstance(person, int) else person.pk
    fresh = Person.objects.select_for_update().filter(pk=pk).first()
    if fresh is None:
        raise RegistryError(f"人员 {pk} 不存在", f"person {pk} does not exist", "person")
    target = rebuild_state(fresh)
    fields = differing_fields(fresh, target)
    if not fields:
        return []
    stored = fresh.state()
    for f in fields:
        setattr(fresh, f, from_json(f, target.get(f)))
    # A form opened on the wrong state must not be saved over the repaired one.
    fresh.version += 1
    fresh.save(update_fields=[*fields, "version"])
    audit(actor, AuditAction.REPAIR_HISTORY, fresh, unit_code=fresh.registered_unit_id or "",
          before={f: stored.get(f) for f in fields}, after={f: target.get(f) for f in fields})
    return fields
