"""Monthly reconciliation page (月月清): per-unit counts of a month, its open items.

The counts come from :func:`popreg.stats.reconciliation.reconcile` over a chosen snapshot
(``$POPREG_HOME/snapshots/``, read on the page) or the registry as it stands now: that needs
a temporary snapshot of the whole registry, so "compare" starts a ``reconciliation`` job
(:mod:`popreg.stats.jobs`, a POST; a GET never writes) whose result page shows the same
table.  Scoped to the user's jurisdiction; "create items" turns the unmatched records into
reconciliation items (an action), which the responsible unit settles here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Column, Export, export_response, request_reason
from popreg.registry.job_models import JobState
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.stats import actions
from popreg.stats.models import ReconciliationItem
from popreg.stats.reconciliation import (
    RECORD_COLUMNS,
    SUMMARY_COLUMNS,
    Month,
    ReconciliationError,
)
from popreg.stats.snapshots import snapshot_path, snapshots
from popreg.stats.views_assessment import LEVELS


def _start(request: HttpRequest, actor: Actor, month: Month, level: str, snapshot: str = "") -> HttpResponse:
    """Start the job that reconciles the registry as it stands now (or a stored snapshot);
    show its progress.  Its result page shows the table, its CSV and the items to create."""
    params = {"month": month.label, "level": level, "unit": actor.unit_code if actor.prefix else "",
              "snapshot": snapshot}
    try:
        job = jobs.start_job(actor, "reconciliation", params, unit_code=actor.unit_code or "")
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    return redirect("jobs:detail", pk=job.pk)


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    today = timezone.localdate()
    last = Month(today.year - (today.month == 1), (today.month - 2) % 12 + 1)
    level = data.get("level") or "village"
    if level not in dict(LEVELS):
        level = "village"
    ctx: dict[str, Any] = {"snapshots": snapshots(), "levels": LEVELS, "level": level,
                           "snapshot": data.get("snapshot", ""), "month": data.get("month") or last.label,
                           "can_write": actor.can(Permission.RECONCILE)}
    if "month" in data and data.get("snapshot") and snapshot_path(data["snapshot"]) is None:
        ctx["error"] = _("The chosen snapshot does not exist.")
    elif "month" in data:
        try:
            month = Month.parse(data["month"])
        except ReconciliationError as exc:
            ctx["error"] = str(exc)
        else:
            # Every comparison is a job, started by a POST only (the registry now, or a
            # stored snapshot): a GET shows the form with the items still open.
            if request.method == "POST":
                if data.get("action") == "create_items":
                    _require_reconcile(actor)
                return _start(request, actor, month, level, data.get("snapshot", ""))
            ctx["items"] = actions.open_items(actor.prefix, [month.label])
    return render(request, "stats/reconciliation/index.html", ctx)


def _require_reconcile(actor: Actor) -> None:
    """Refuse a user who may not follow up differences before looking at the request."""
    try:
        actor.require(Permission.RECONCILE)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None


@with_actor
def job_result(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """The table of a finished ``reconciliation`` job (the registry as it stood then);
    POST creates the items to verify from its unmatched records."""
    job = jobs.job_for(actor, pk)
    if job.kind != "reconciliation":
        raise Http404
    if request.method == "POST":
        _require_reconcile(actor)
    if job.state != JobState.SUCCEEDED:
        return redirect("jobs:detail", pk=job.pk)
    data = job.result
    rows, month = data.get("rows", []), data.get("month", "")
    if request.method == "POST":
        records = pd.DataFrame(data.get("unmatched", []), columns=list(RECORD_COLUMNS))
        try:
            created, existing = actions.do_create_reconciliation_items(actor, records)
        except RegistryError as err:
            raise PermissionDenied(err.message) from None
        messages.success(request, _("Items to verify created: %(created)s (%(existing)s already there)")
                         % {"created": created, "existing": existing})
        return redirect(request.path)
    if request.GET.get("format") == "csv":
        columns = list(rows[0]) if rows else list(SUMMARY_COLUMNS)
        export = Export(
            title=f"月度核对 reconciliation {month}", filename=f"reconciliation-{month}.csv",
            format="csv", action=AuditAction.EXPORT_STATISTICS, reason="月度核对 reconciliation",
            columns=[Column(str(c)) for c in columns], rows=[[r.get(c) for c in columns] for r in rows],
            detail={"report": "reconciliation", "month": month, "level": data.get("level"), "job": job.pk},
        )
        return export_response(actor, export, permission=Permission.EXPORT_STATISTICS,
                               unit_code=actor.unit_code, reason=request_reason(request))
    return render(request, "stats/reconciliation/index.html", {
        "snapshots": snapshots(), "levels": LEVELS, "level": data.get("level", "village"),
        "snapshot": data.get("snapshot", ""),
        "month": month, "can_write": actor.can(Permission.RECONCILE), "result": True, "rows": rows,
        "totals": data.get("totals", {}), "query": "", "job": job,
        "items": actions.open_items(actor.prefix, [month]),
    })


@with_actor
def settle_item(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    item = get_object_or_404(ReconciliationItem, pk=pk)
    back = f"{reverse('assess:reconciliation')}?month={item.month}"
    if not actor.covers(item.unit_id):
        raise Http404
    _require_reconcile(actor)
    if request.method != "POST":
        return redirect(back)
    try:
        actions.do_settle_reconciliation_item(actor, item, status=request.POST.get("status", ""),
                                              note=request.POST.get("note", ""))
    except RegistryError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, _("Settled."))
    return redirect(back)
