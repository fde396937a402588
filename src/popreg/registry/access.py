"""Jurisdiction: which records an actor may see and change.

A user's jurisdiction is one administrative unit; its code prefix (county 6 digits,
township 9, village 12) selects every unit below it.  A person is within a jurisdiction
when registered *or* living there (a village clerk also handles the migrants living in the
village).  Every list, search, export, API endpoint and action goes through these
functions, so no path can forget the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import translation

from popreg.registry.errors import JurisdictionError, PermissionDeniedError
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Role
from popreg.registry.policy import COUNTY_WIDE, Permission, role_has


@dataclass(frozen=True)
class Actor:
    """The acting party of a read or write: a web/API user, or a named system job."""

    name: str
    role: str
    prefix: str  # "" = everything
    unit_code: str | None = None
    user: Any = None

    @property
    def can_write(self) -> bool:
        """Whether the role changes the registry at all (pages show or hide their forms)."""
        return self.can(Permission.EDIT_REGISTRY)

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    def covers(self, code: str | None) -> bool:
        return self.prefix == "" or (bool(code) and str(code).startswith(self.prefix))

    def check_unit(self, code: str | None) -> None:
        if not self.covers(code):
            (unit_zh, unit_en), (own_zh, own_en) = _unit_text(code), _unit_text(self.unit_code)
            raise JurisdictionError(
                f"{unit_zh}不在您的辖区（{own_zh}）内，不能办理；请由该单位所属的乡镇或县级用户办理",
                f"{unit_en} is outside your jurisdiction ({own_en}); a user of its township or of the "
                "county can do this",
            )

    @property
    def county_wide(self) -> bool:
        """Whether the jurisdiction is the whole county (or everything)."""
        return len(self.prefix) <= 6

    def can(self, permission: Permission, unit_code: str | None = None) -> bool:
        """Whether :meth:`require` would pass (for pages that only show or hide a control)."""
        if not role_has(self.role, permission):
            return False
        if permission in COUNTY_WIDE and not self.county_wide:
            return False
        return unit_code is None or self.covers(unit_code)

    def require(self, permission: Permission, unit_code: str | None = None) -> None:
        """Refuse, with a message naming what is missing, unless the actor holds
        ``permission`` (over ``unit_code`` when given); see :mod:`popreg.registry.policy`."""
        if not role_has(self.role, permission):
            zh, en = _labels(permission)
            raise PermissionDeniedError(
                f"当前角色无权：{zh}", f"your role may not: {en}", permission=permission
            )
        if permission in COUNTY_WIDE and not self.county_wide:
            zh, en = _labels(permission)
            raise PermissionDeniedError(
                f"只有县级用户可以：{zh}", f"only county-wide users may: {en}", permission=permission
            )
        if unit_code is not None:
            self.check_unit(unit_code)



def _unit_text(code: str | None) -> tuple[str, str]:
    """A unit as a message names it, in Chinese and in English: its name with its code in
    brackets (the code alone for a code that names no unit)."""
    if not code:
        return "—", "—"
    name = AdminUnit.objects.filter(code=code).values_list("name", flat=True).first()
    if not name:
        return f"单位 {code}", f"unit {code}"
    return f"{name}（{code}）", f"{name} ({code})"


def _labels(permission: Permission) -> tuple[str, str]:
    """The permission's label in Chinese and in English, whatever language is active."""
    with translation.override("zh-hans"):
        zh = str(permission.label)
    with translation.override("en"):
        en = str(permission.label)
    return zh, en


def system_actor(name: str = "system") -> Actor:
    """County-wide actor for command-line jobs (load, synth import, scheduled tasks)."""
    return Actor(name=name, role="system", prefix="")


def actor_for(user: Any) -> Actor:
    """The Actor of a logged-in Django user; users without an assignment see nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise JurisdictionError("请先登录", "please log in")
    assignment = getattr(user, "assignment", None) if hasattr(user, "assignment") else None
    if assignment is None:
        if user.is_superuser:
            return Actor(name=user.get_username(), role=Role.COUNTY_ADMIN, prefix="", user=user)
        raise JurisdictionError("该账号未分配辖区，请联系管理员", "this account has no jurisdiction")
    unit: AdminUnit = assignment.unit
    return Actor(
        name=user.get_username(),
        role=assignment.role,
        prefix=unit.code[: PREFIX_LENGTH[unit.level]],
        unit_code=unit.code,
        user=user,
    )


def scope_persons(qs: QuerySet[Any], actor: Actor) -> QuerySet[Any]:
    if actor.prefix == "":
        return qs
    return qs.filter(
        Q(registered_unit_id__startswith=actor.prefix) | Q(residence_unit_id__startswith=actor.prefix)
    )


def scope_households(qs: QuerySet[Any], actor: Actor) -> QuerySet[Any]:
    return qs if actor.prefix == "" else qs.filter(unit_id__startswith=actor.prefix)


def scope_units(qs: QuerySet[Any], actor: Actor) -> QuerySet[Any]:
    return qs if actor.prefix == "" else qs.filter(code__startswith=actor.prefix)


def person_in_scope(actor: Actor, person: Any) -> bool:
    return actor.covers(person.registered_unit_id) or actor.covers(person.residence_unit_id)
