"""Full-ID person lists: the form that asks for a reason, and the approval of a county-wide
list by a second person (see ``docs/exports.md``).  Thin: each view calls one action of
:mod:`popreg.registry.actions.exports` and hands every file to the export layer."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from popreg.registry.access import Actor
from popreg.registry.actions import exports as export_actions
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.export_models import ExportApproval
from popreg.registry.exports import export_response
from popreg.registry.listing import filter_query
from popreg.registry.policy import Permission
from popreg.registry.views import (
    base_context,
    list_filters,
    person_list_export,
    unit_in_reach,
    with_actor,
)


def _require(actor: Actor, unit_code: str | None, *perms: Permission) -> None:
    for perm in perms:
        if not actor.can(perm, unit_code):
            raise PermissionDenied(_("Your role may not download person lists with full ID numbers."))


@with_actor
def full_id_export(request: HttpRequest, actor: Actor, code: str) -> HttpResponse | StreamingHttpResponse:
    """GET: the form asking why.  POST: the list with full ID numbers (a unit below the
    county), or a request waiting for a second person's approval (a county-level unit)."""
    unit = unit_in_reach(actor, code)
    _require(actor, unit.code, Permission.EXPORT_PERSONS, Permission.VIEW_FULL_ID)
    filters = list_filters(request)
    approval = export_actions.needs_approval(unit)
    error: RegistryError | None = None
    reason = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            if approval:
                export_actions.do_request_full_id_export(actor, unit, reason=reason, filters=filters)
                messages.success(request, _("Your request was recorded. Another user who may see full ID numbers must approve it; then you can download the file once."))  # noqa: E501
                return redirect("registry:export_approvals")
            text = export_actions.clean_reason(reason)
        except PermissionDeniedError as err:
            raise PermissionDenied(err.message) from None
        except RegistryError as err:
            error = err
        else:
            export = person_list_export(actor, unit, filters)
            return export_response(actor, export, permission=Permission.EXPORT_PERSONS, unit_code=unit.code,
                                   full_id=True, reason=text)
    query = filter_query(filters)
    return render(request, "registry/export_full_id.html", base_context(
        actor, unit=unit, filters=filters, query=query, approval=approval, error=error, reason=reason,
        max_reason=export_actions.MAX_REASON,
    ), status=400 if error else 200)


def _visible(actor: Actor) -> list[ExportApproval]:
    qs = ExportApproval.objects.select_related("unit")
    if actor.prefix:
        qs = qs.filter(unit_id__startswith=actor.prefix)
    rows = []
    for req in qs[:200]:
        req.mine = req.requested_by_id == actor.user_id
        req.can_approve = (not req.mine and req.approved_at is None
                           and actor.can(Permission.VIEW_FULL_ID, req.unit_id))
        if req.mine or actor.can(Permission.VIEW_FULL_ID, req.unit_id):
            rows.append(req)
    return rows


@with_actor
def approvals(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The user's own requests and those the user may approve."""
    _require(actor, None, Permission.VIEW_FULL_ID)
    return render(request, "registry/export_approvals.html", base_context(actor, requests=_visible(actor)))


@with_actor
def approve(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("registry:export_approvals")
    _require(actor, None, Permission.VIEW_FULL_ID)
    try:
        export_actions.do_approve_full_id_export(actor, pk)
    except JurisdictionError:
        raise Http404("no such request") from None
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    except RegistryError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("Approved. The requester can now download the file once."))
    return redirect("registry:export_approvals")


@with_actor
def download(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse | StreamingHttpResponse:
    """The approved list, once, for its requester (a POST: taking it is a change)."""
    if request.method != "POST":
        return redirect("registry:export_approvals")
    _require(actor, None, Permission.EXPORT_PERSONS, Permission.VIEW_FULL_ID)
    try:
        with transaction.atomic():
            req = export_actions.take_full_id_export(actor, pk)
            unit = unit_in_reach(actor, req.unit_id)
            export = person_list_export(actor, unit, {**list_filters(request), **req.filters})
            export.detail = {**export.detail, "approval": req.pk, "approved_by": req.approved_by_name}
            # The stamp's first field is the title: it names the second person too.
            export.title = f"{export.title}；批准人 approved by: {req.approved_by_name}"
            # The audit record is written before the response leaves this block.
            return export_response(actor, export, permission=Permission.EXPORT_PERSONS, unit_code=unit.code,
                                   full_id=True, reason=req.reason)
    except JurisdictionError:
        raise Http404("no such request") from None
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    except RegistryError as err:
        messages.error(request, err.message)
        return redirect(reverse("registry:export_approvals"))

