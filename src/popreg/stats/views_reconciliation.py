"""Monthly reconciliation page (月月清): per-unit counts of a month, its open items.

The counts come from :func:`popreg.stats.reconciliation.reconcile` over a chosen snapshot
(``$POPREG_HOME/snapshots/``) or the registry as it stands now (written to a temporary
snapshot), scoped to the user's jurisdiction; "create items" turns the unmatched records
into reconciliation items (an action), which the responsible unit settles here.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.stats import actions
from popreg.stats.assessment import source_links
from popreg.stats.models import ReconciliationItem
from popreg.stats.reconciliation import (
    Month,
    Reconciliation,
    ReconciliationError,
    link_sources,
    reconcile,
)
from popreg.stats.views_assessment import LEVELS, snapshot_path, snapshots


def _run(snapshot: str, month: Month, level: str, actor: Actor) -> Reconciliation:
    unit = actor.unit_code if actor.prefix else None
    path = snapshot_path(snapshot)
    if path is not None:
        return reconcile(path, [month], level=level, unit=unit, links=source_links(path))
    from popreg.registry.snapshot import write_registry_snapshot

    with tempfile.TemporaryDirectory(prefix="popreg-recon-") as tmp:
        write_registry_snapshot(tmp)
        # a throw-away snapshot: link it without keeping the links
        return reconcile(tmp, [month], level=level, unit=unit, links=link_sources(tmp))


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
            result = _run(data.get("snapshot", ""), month, level, actor)
        except ReconciliationError as exc:
            ctx["error"] = str(exc)
        else:
            if request.method == "POST":
                try:
                    created, existing = actions.do_create_reconciliation_items(actor, result.records)
                except RegistryError as err:
                    raise PermissionDenied(err.message) from None
                messages.success(request, _("Items to verify created: %(created)s (%(existing)s already there)")
                                 % {"created": created, "existing": existing})
                return redirect(f"{request.path}?{request.POST.urlencode()}")
            if data.get("format") == "csv":
                resp = HttpResponse(result.summary.to_csv(index=False, lineterminator="\n").encode("utf-8"),
                                    content_type="text/csv; charset=utf-8")
                resp["Content-Disposition"] = f'attachment; filename="reconciliation-{month.label}.csv"'
                return resp
            ctx.update(result=result, rows=result.summary.to_dict("records"), query=request.GET.urlencode(),
                       totals={k: int(result.summary[k].sum()) for k in ("reported", "verified")})
            ctx["items"] = actions.open_items(actor.prefix, [month.label])
    return render(request, "stats/reconciliation/index.html", ctx)


@with_actor
def settle_item(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    item = get_object_or_404(ReconciliationItem, pk=pk)
    back = f"{reverse('assess:reconciliation')}?month={item.month}"
    if not actor.covers(item.unit_id):
        raise Http404
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
