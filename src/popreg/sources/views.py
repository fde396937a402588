"""Pages of the outside-source app: upload (a job with progress), the job's outcome with
the row-level error report, an imported file (batch) and what it fed, the review queue of
source links and the decision form of one link.

Thin views: parse input, call one action or start the job, render.  Uploading needs
``import_sources``; the queue and decisions ``review_sources`` over the record's unit.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from popreg.campaigns.anomalies import ANOMALY_TYPES
from popreg.core.privacy import mask_id
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.exports import export_response, request_reason
from popreg.registry.importing import error_report
from popreg.registry.job_models import JobState
from popreg.registry.models import Person, Sex
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.sources.actions import do_review_link
from popreg.sources.feed import FED_KINDS
from popreg.sources.jobs import SOURCES_FEED, SOURCES_IMPORT, store_upload
from popreg.sources.models import LinkStatus, SourceBatch, SourceEntry, SourceKind, SourceLink
from popreg.sources.queries import QUEUE, review_queue
from popreg.sources.reading import KIND_COLUMNS

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SHOWN_ERRORS = 200


def _require(actor: Actor, permission: Permission, unit_code: str | None = None) -> None:
    try:
        actor.require(permission, unit_code)
    except (PermissionDeniedError, JurisdictionError) as err:
        raise PermissionDenied(err.message) from None


def _may_see(actor: Actor) -> None:
    """Who imports also reviews: the pages of imported files need ``review_sources``."""
    _require(actor, Permission.REVIEW_SOURCES)


def _batches(actor: Actor) -> QuerySet[SourceBatch]:
    """Files with a record in the actor's jurisdiction (or imported by a user of it)."""
    qs = SourceBatch.objects.all()
    if actor.prefix:
        mine = SourceEntry.objects.filter(unit_code__startswith=actor.prefix).values("batch_id")
        qs = qs.filter(Q(pk__in=mine) | Q(unit__code__startswith=actor.prefix))
    return qs


def _entries(actor: Actor, batch: SourceBatch) -> QuerySet[SourceEntry]:
    qs = SourceEntry.objects.filter(batch=batch)
    return qs.filter(unit_code__startswith=actor.prefix) if actor.prefix else qs


def _queue(actor: Actor) -> QuerySet[SourceLink]:
    return review_queue(actor)


def _columns() -> list[dict[str, Any]]:
    return [{"kind": k, "label": SourceKind(k).label, "columns": cols} for k, cols in KIND_COLUMNS.items()]


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    _may_see(actor)
    error: RegistryError | None = None
    kind = request.POST.get("kind", "") if request.method == "POST" else request.GET.get("kind", "")
    if request.method == "POST":
        _require(actor, Permission.IMPORT_SOURCES)
        upload = request.FILES.get("file")
        if kind not in SourceKind.values:
            error = RegistryError("请选择来源类型", "choose the kind of source", "kind")
        elif upload is None or not upload.size:
            error = RegistryError("请选择要上传的 .xlsx 或 CSV 文件", "choose an .xlsx or CSV file to upload", "file")
        elif upload.size > MAX_UPLOAD_BYTES:
            error = RegistryError(
                f"文件过大（上限 {MAX_UPLOAD_BYTES // 1_000_000} MB）；请按月或按乡镇拆分",
                f"the file is too large (limit {MAX_UPLOAD_BYTES // 1_000_000} MB); split it by month or township",
                "file",
            )
        else:
            token = store_upload(b"".join(upload.chunks()))
            name = os.path.basename(upload.name or "upload")[:200]
            try:
                job = jobs.start_job(actor, SOURCES_IMPORT.name,
                                     {"upload": token, "file_name": name, "kind": kind},
                                     unit_code=actor.unit_code or "")
            except RegistryError as exc:
                error = exc
            else:
                return redirect("sources:job", pk=job.pk)
    return render(request, "sources/index.html", {
        "kinds": SourceKind.choices, "kind": kind, "error": error, "columns": _columns(),
        "batches": _batches(actor)[:20], "queue_count": _queue(actor).count(),
        "can_import": actor.can(Permission.IMPORT_SOURCES), "max_mb": MAX_UPLOAD_BYTES // 1_000_000,
    }, status=400 if error else 200)


@with_actor
def job(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.IMPORT_SOURCES)
    the_job = jobs.job_for(actor, pk)
    if the_job.kind != SOURCES_IMPORT.name:  # a job of another kind: its own page
        return redirect("jobs:detail", pk=the_job.pk)
    result = dict(the_job.result or {}) if the_job.state == JobState.SUCCEEDED else {}
    errors = list(result.get("errors") or [])
    batch = SourceBatch.objects.filter(pk=result["batch"]).first() if result.get("batch") else None
    return render(request, "sources/job.html", {
        "data": jobs.progress_data(actor, the_job), "the_job": the_job, "result": result,
        "outcome": result.get("outcome"), "errors": errors[:SHOWN_ERRORS], "error_total": len(errors),
        "batch": batch, "params": the_job.params, "reload": True,
    })


@with_actor
def job_errors(request: HttpRequest, actor: Actor, pk: int, fmt: str) -> HttpResponse | StreamingHttpResponse:
    _require(actor, Permission.IMPORT_SOURCES)
    if fmt not in ("csv", "xlsx"):
        raise Http404("csv or xlsx")
    the_job = jobs.job_for(actor, pk)
    if the_job.kind != SOURCES_IMPORT.name:
        return redirect("jobs:detail", pk=the_job.pk)
    errors = list((the_job.result or {}).get("errors") or [])
    export = error_report(errors, fmt, f"source-errors-{the_job.pk}.{fmt}")
    return export_response(actor, export, permission=Permission.IMPORT_SOURCES, unit_code=None,
                           reason=request_reason(request))


def _person_text(p: Person | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"pk": p.pk, "name": p.name, "sex": p.get_sex_display(), "birth_date": p.birth_date,
            "id_number": mask_id(p.id_number or None), "unit": p.registered_unit_id,
            "status": p.get_status_display()}


@with_actor
def batch(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _may_see(actor)
    obj = get_object_or_404(_batches(actor), pk=pk)
    entries = _entries(actor, obj).prefetch_related("links__person", "links__proposed_person").order_by("id")
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    findings = [{**f, "label": ANOMALY_TYPES.get(f["anomaly_type"], "")}
                for f in (obj.fed or {}).get("findings", []) if actor.covers(f.get("unit_code") or "")]
    return render(request, "sources/batch.html", {
        "batch": obj, "page": page, "fed": obj.fed or {}, "kind_label": SourceKind(obj.kind).label,
        "findings": findings, "campaigns": (obj.fed or {}).get("campaigns", []),
        "reconciliation": (obj.fed or {}).get("reconciliation", {}),
    })


@with_actor
def review(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.REVIEW_SOURCES)
    qs = _queue(actor).order_by("entry__event_date", "id")
    kind = request.GET.get("kind", "")
    if kind in SourceKind.values:
        qs = qs.filter(entry__kind=kind)
    status = request.GET.get("status", "")
    if status in QUEUE:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = [{"link": lk, "entry": lk.entry, "proposed": _person_text(lk.proposed_person),
             "kind_label": SourceKind(lk.entry.kind).label} for lk in page]
    return render(request, "sources/review.html", {
        "page": page, "rows": rows, "kinds": SourceKind.choices, "kind": kind, "status": status,
        "statuses": [(s, LinkStatus(s).label) for s in QUEUE],
    })


def _record_fields(entry: SourceEntry) -> list[tuple[str, str]]:
    out = []
    for col in KIND_COLUMNS[entry.kind]:
        value = entry.record_id if col.key == "record_id" else entry.data.get(col.key, "")
        if col.kind == "id" and value:
            value = mask_id(value)
        if col.kind == "sex" and value:
            value = Sex(value).label if value in Sex.values else value
        out.append((col.header, value or "—"))
    return out


@with_actor
def link(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.REVIEW_SOURCES)
    obj = get_object_or_404(
        SourceLink.objects.select_related("entry", "proposed_person", "person"), pk=pk
    )
    _require(actor, Permission.REVIEW_SOURCES, obj.entry.unit_code)
    error: RegistryError | None = None
    form = {"decision": "", "reason": "", "person_id": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            do_review_link(actor, obj, form["decision"], reason=form["reason"],
                           person_id=form["person_id"] or None, feed=False)
        except RegistryError as exc:
            error = exc
        else:
            if obj.entry.kind in FED_KINDS:  # the reconciliation and anomalies, as a job
                jobs.start_job(actor, SOURCES_FEED.name, {"entries": [obj.entry_id]},
                               unit_code=actor.unit_code or "")
            messages.success(request, _("The decision was saved and recorded in the audit log."))
            nxt = _queue(actor).filter(~Q(pk=obj.pk)).order_by("entry__event_date", "id").first()
            return redirect("sources:link", pk=nxt.pk) if nxt else redirect("sources:review")
    return render(request, "sources/link.html", {
        "link": obj, "entry": obj.entry, "fields": _record_fields(obj.entry),
        "kind_label": SourceKind(obj.entry.kind).label, "proposed": _person_text(obj.proposed_person),
        "current": _person_text(obj.person), "error": error, "form": form,
        "decided": obj.decided, "status_label": LinkStatus(obj.status).label,
        "role_label": obj.get_role_display(),
    }, status=400 if error else 200)
