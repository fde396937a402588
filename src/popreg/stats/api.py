"""Statistics API: the published figures of closed periods beside their revisions.

``GET /api/stats/units/{code}/periods``: one entry per closed period and population of
the unit, with the published figures, the revised figures of the statistics snapshot in
use and the number of late records (:mod:`popreg.stats.periods`).  A unit outside the
caller's jurisdiction is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.security import SessionAuth

from popreg.registry.access import Actor, actor_for, scope_units
from popreg.registry.api import TokenAuth
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.stats.views_periods import unit_revisions

router = Router(tags=["statistics 统计"], auth=[SessionAuth(), TokenAuth()])
NOT_FOUND = "未找到，或不在您的辖区内 / not found, or outside your jurisdiction"


def _actor(request: HttpRequest) -> Actor:
    user = getattr(request, "auth", None) or request.user
    try:
        actor = actor_for(user)
    except RegistryError as exc:
        raise HttpError(403, f"{exc.message_zh} / {exc.message_en}") from exc
    if not actor.can(Permission.VIEW_STATISTICS):
        raise HttpError(403, "当前角色无权查看统计 / your role may not see statistics")
    return actor


@router.get("/stats/units/{code}/periods", response=list[dict[str, Any]],
            summary="结报期间的公布数与修订数 / published and revised figures of closed periods")
def unit_periods(request: HttpRequest, code: str) -> list[dict[str, Any]]:
    """Each closed period of the unit, per population: ``published``, ``revised`` (the
    statistics snapshot in use), ``late_records``, the closing's state and who closed and
    approved it."""
    actor = _actor(request)
    if not scope_units(AdminUnit.objects.filter(code=code[:15]), actor).exists():
        raise HttpError(404, NOT_FOUND)
    return [r.as_dict() for r in unit_revisions(code[:15])]
