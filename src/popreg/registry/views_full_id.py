"""The reason form of downloads other than the person list that may carry full ID numbers
(a campaign's field workbook and field-list PDF, the benefits lists and payment files):
:func:`full_id_reason` asks why, then the view hands the file to the export layer
(:mod:`popreg.registry.exports`) with that reason.  See ``docs/exports.md``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from popreg.registry.access import Actor
from popreg.registry.actions import exports as export_actions
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.registry.views import base_context, unit_in_reach

__all__ = ["full_id_reason"]


def full_id_reason(request: HttpRequest, actor: Actor, *, unit_code: str, title: str, back: str,
                   approved: bool = False) -> str | HttpResponse:
    """For a download asked with full ID numbers (a campaign's workbook or field list, a
    benefits list): the reason given with it, cleaned, or the page asking for it (again,
    with the error under the field).  The download then goes through the export layer with
    this reason: permission and jurisdiction checked, the file stamped, the export audited.

    A county-level unit's file with full ID numbers needs a second person's approval, which
    only the person list has (:func:`~popreg.registry.views_exports.full_id_export`): it is
    refused here with the way to get one, unless the file's content was ``approved`` by a
    second person already (a payment file: its eligibility runs passed four-eyes approval)."""
    unit = unit_in_reach(actor, unit_code)
    if not actor.can(Permission.VIEW_FULL_ID, unit.code):
        raise PermissionDenied(_("Your role may not see full ID numbers."))
    if export_actions.needs_approval(unit) and not approved:
        # one literal: the catalog check reads the message as written
        raise PermissionDenied(_("A county-wide file with full ID numbers needs a second person's approval: download it for one township or village, or ask for the county's person list with full ID numbers, which another user approves."))
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("reason")
    error: RegistryError | None = None
    if raw is not None:
        try:
            return export_actions.clean_reason(raw)
        except RegistryError as err:
            error = err
    hidden = [(k, v) for k, v in data.items() if k not in ("reason", "csrfmiddlewaretoken")]
    if ("full_id", "1") not in hidden:
        hidden.append(("full_id", "1"))
    return render(request, "registry/export_reason.html", base_context(
        actor, title=title, unit=unit, method=request.method, action=request.path, hidden=hidden,
        error=error, reason=raw or "", back=back, max_reason=export_actions.MAX_REASON,
    ), status=400 if error else 200)
