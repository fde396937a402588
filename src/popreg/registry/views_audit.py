"""The audit-log page (审计记录) and the role table page (角色与权限).

The audit log lists the :class:`~popreg.registry.models.AuditRecord` rows of the reader's
jurisdiction, labelled from :class:`~popreg.registry.audit.AuditAction`, filtered by
action, user and a date range (days in the county's time zone), a page at a time, and
downloads the filtered records as CSV or xlsx through :mod:`popreg.registry.exports`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.audit_labels import object_label
from popreg.registry.exports import Column, Export, export_response, request_reason
from popreg.registry.models import AuditRecord, EventType, Role
from popreg.registry.policy import COUNTY_WIDE, ROLE_PERMISSIONS, Permission
from popreg.registry.views import base_context, under, with_actor

AUDIT_PAGE_SIZE = 100


def action_label(value: str) -> str:
    """The label of a stored action value in the active language (the value itself for a
    value no longer in :class:`AuditAction`)."""
    try:
        return str(AuditAction(value).label)
    except ValueError:
        return value


def event_label(value: str) -> str:
    """The label of a registry event type named in an audit record's detail."""
    if not value:
        return ""
    try:
        return str(EventType(value).label)
    except ValueError:
        return str(_("registry event"))


@dataclass
class AuditFilter:
    """The filters of the audit-log page, read from the query string."""

    action: str = ""
    who: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def query(self) -> str:
        params = {"action": self.action, "who": self.who,
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        return urlencode({k: v for k, v in params.items() if v})


def _day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the county's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _parse_day(raw: str, field_label: str, errors: list[str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(_("%(field)s: “%(value)s” is not a date; write it as 2025-11-01.")
                      % {"field": field_label, "value": raw})
        return None


def read_filter(request: HttpRequest) -> tuple[AuditFilter, list[str]]:
    q = request.GET
    errors: list[str] = []
    action = q.get("action", "")
    if action and action not in AuditAction.values:
        errors.append(_("Action: “%(value)s” is not an action of the audit log; choose one from the list.")
                      % {"value": action})
        action = ""
    f = AuditFilter(
        action=action,
        who=q.get("who", "").strip(),
        date_from=_parse_day(q.get("from", ""), _("From"), errors),
        date_to=_parse_day(q.get("to", ""), _("To"), errors),
    )
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors.append(_("To: the last day comes before the first day; swap the two dates."))
        f.date_to = None
    return f, errors


def filtered_records(actor: Actor, f: AuditFilter) -> QuerySet[AuditRecord]:
    """The audit records ``actor`` may read that pass ``f``, newest first.  The days are
    whole days in the county's time zone: ``date_to`` includes its last second."""
    qs = AuditRecord.objects.all() if actor.prefix == "" else AuditRecord.objects.filter(
        under("unit_code", actor.prefix))
    if f.action:
        qs = qs.filter(action=f.action)
    if f.who:
        qs = qs.filter(actor_name=f.who)
    if f.date_from:
        qs = qs.filter(at__gte=_day_start(f.date_from))
    if f.date_to:
        qs = qs.filter(at__lt=_day_start(f.date_to + timedelta(days=1)))
    return qs.order_by("-id")


def _detail_text(detail: Any) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else ""


def _export(actor: Actor, request: HttpRequest, f: AuditFilter, fmt: str) -> HttpResponse:
    qs = filtered_records(actor, f)
    tz = timezone.get_default_timezone()
    rows = (
        # local wall-clock time: a spreadsheet cell holds no time zone
        (timezone.localtime(r.at, tz).replace(tzinfo=None), r.actor_name, r.action, action_label(r.action), r.target_type,
         r.target_id, r.unit_code, _detail_text(r.detail))
        for r in qs.iterator(chunk_size=2000)
    )
    export = Export(
        title="审计记录 audit log",
        filename=f"audit-log-{timezone.localdate():%Y%m%d}.{fmt}",
        format="xlsx" if fmt == "xlsx" else "csv",
        action=AuditAction.EXPORT_AUDIT_LOG,
        columns=[Column("时间 time"), Column("用户 user"), Column("操作代码 action"),
                 Column("操作 action label"), Column("对象类型 target type"),
                 Column("对象编号 target id"), Column("单位 unit"), Column("详情 detail")],
        rows=rows,
        row_count=qs.count() if fmt == "csv" else None,
        detail={"filter": {"action": f.action, "who": f.who,
                           "from": f.date_from.isoformat() if f.date_from else "",
                           "to": f.date_to.isoformat() if f.date_to else ""}},
    )
    return export_response(actor, export, permission=Permission.READ_AUDIT,
                           unit_code=actor.unit_code if actor.prefix else None,
                           reason=request_reason(request))


@with_actor
def audit_log(request: HttpRequest, actor: Actor) -> HttpResponse:
    """审计记录: who read or changed what, for the roles that hold READ_AUDIT."""
    if not actor.can(Permission.READ_AUDIT):
        raise PermissionDenied(_("Only auditors and county administrators can read the audit log."))
    f, errors = read_filter(request)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx") and not errors:
        return _export(actor, request, f, fmt)
    page = Paginator(filtered_records(actor, f), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for rec in page.object_list:
        rec.label = action_label(rec.action)
        rec.object_label = object_label(rec.target_type)
        rec.event_label = event_label((rec.detail or {}).get("event_type", "")) if isinstance(rec.detail, dict) else ""
    query = f.query()
    return render(request, "registry/audit_log.html", base_context(
        actor, page=page, filter=f, errors=errors, actions=AuditAction.choices, query=query,
        export_query=f"{query}&" if query else "",
    ))


# ---------------------------------------------------------------- roles and permissions


def role_columns() -> list[dict[str, str]]:
    """The roles of :data:`ROLE_PERMISSIONS`, in its order, with their labels."""
    labels = dict(Role.choices)
    return [{"role": role, "label": str(labels.get(role, _("Command-line jobs (system)")))}
            for role in ROLE_PERMISSIONS]


def permission_rows() -> list[dict[str, Any]]:
    """One row per :class:`Permission`: its label, whether it is county-wide, and per role
    (in the order of :func:`role_columns`) whether the role holds it."""
    return [
        {"value": p.value, "label": str(p.label), "county_wide": p in COUNTY_WIDE,
         "cells": [p in perms for perms in ROLE_PERMISSIONS.values()]}
        for p in Permission
    ]


@with_actor
def permissions_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    """角色与权限: the role → permission table, for those who manage users."""
    if not actor.can(Permission.MANAGE_USERS):
        raise PermissionDenied(_("Only county administrators can see the role table."))
    return render(request, "registry/permissions.html", base_context(
        actor, permissions=permission_rows(), roles=role_columns(),
    ))
