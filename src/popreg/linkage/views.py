"""Duplicate review web pages: the queue, the side-by-side comparison with its evidence,
decisions, merge and undo, and dedup runs with progress.

Thin like the registry views: every read goes through ``popreg.linkage.review`` scoping
(a candidate involving anyone outside the jurisdiction is a 404, as if it did not exist),
every write through ``popreg.linkage.actions`` / ``popreg.linkage.jobs``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from popreg.linkage import actions, jobs, review
from popreg.linkage.models import DedupRun, DuplicateCandidate, MergeRecord
from popreg.registry.access import Actor, scope_units
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Column, Export, export_response, request_reason
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Person
from popreg.registry.policy import Permission
from popreg.registry.views import PAGE_SIZE, base_context, value_labels, with_actor, writer

STATUS_FILTERS = [
    ("pending", _("Pending review")),
    ("same_person", _("Decided: same person")),
    ("different_people", _("Decided: different people")),
    ("all", _("All")),
]

#: Labels of ``DuplicateCandidate.status`` and ``DedupRun.state`` in the active language.
CANDIDATE_STATUSES = {
    "pending": _("Pending review"),
    "same_person": _("Same person"),
    "different_people": _("Different people"),
}
RUN_STATES = {
    "queued": _("queued"),
    "running": _("running"),
    "done": _("finished"),
    "failed": _("failed"),
}

#: Names of the fields a merge fills in the kept record (``actions.FILLABLE``).
FILLABLE_LABELS = {
    "id_number": _("ID number"),
    "birth_date": _("Birth date"),
    "sex": _("Sex"),
    "ethnicity": _("Ethnicity"),
    "former_names": _("Former names"),
    "hukou_kind": _("Hukou kind"),
    "marital_status": _("Marital status"),
    "mother_id": _("Mother"),
    "father_id": _("Father"),
    "household_id": _("Household"),
}


def _status_label(c: DuplicateCandidate) -> DuplicateCandidate:
    c.status_label = CANDIDATE_STATUSES.get(c.status, c.get_status_display())  # type: ignore[attr-defined]
    return c


def _state_label(run: DedupRun) -> str:
    return str(RUN_STATES.get(run.state, run.get_state_display()))


def _with_state_labels(runs: Any) -> list[DedupRun]:
    out = list(runs)
    for r in out:
        if r.state in (DedupRun.State.QUEUED, DedupRun.State.RUNNING):
            jobs.sync_run(r)  # its job may have failed (worker died) or been cancelled
        r.state_label = _state_label(r)  # type: ignore[attr-defined]
    return out


def _units(actor: Actor) -> list[AdminUnit]:
    """Units a run or a filter may name: the county, townships and villages in scope."""
    qs = scope_units(AdminUnit.objects.filter(level__in=("county", "township", "village")), actor)
    return list(qs.order_by("code"))


def _scoped_unit(actor: Actor, code: str) -> AdminUnit | None:
    code = (code or "").strip()
    if not code:
        return None
    return scope_units(AdminUnit.objects.all(), actor).filter(code=code).first()


def _candidate(actor: Actor, pk: int) -> DuplicateCandidate:
    qs = review.scope_candidates(
        DuplicateCandidate.objects.select_related(
            "person_a__registered_unit",
            "person_b__registered_unit",
            "person_a__household",
            "person_b__household",
            "person_a__residence_unit",
            "person_b__residence_unit",
            "run",
        ),
        actor,
    )
    return get_object_or_404(qs, pk=pk)


# ---------------------------------------------------------------- queue


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    status = request.GET.get("status", "pending")
    if status not in dict(STATUS_FILTERS):
        status = "pending"
    unit = _scoped_unit(actor, request.GET.get("unit", ""))
    prefix = unit.code[: PREFIX_LENGTH[unit.level]] if unit else ""
    qs = review.candidates(actor, status="" if status == "all" else status, unit_prefix=prefix)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [_status_label(c) for c in page.object_list]
    query = urlencode({"status": status, "unit": unit.code if unit else ""})
    recent = _with_state_labels(
        DedupRun.objects.select_related("unit").filter(
            unit__code__in=[u.code for u in _units(actor)]
        )[:5]
    )
    return render(
        request,
        "linkage/index.html",
        base_context(
            actor,
            page=page,
            query=query,
            status=status,
            statuses=STATUS_FILTERS,
            unit=unit,
            units=_units(actor),
            runs=recent,
            pending_total=review.candidates(actor).count(),
        ),
    )


# ---------------------------------------------------------------- one pair


def _side(person: Person) -> dict[str, Any]:
    labels = value_labels()
    return {
        "person": person,
        "hukou_kind": labels["hukou_kind"].get(person.hukou_kind, person.hukou_kind),
        "marital_status": labels["marital_status"].get(
            person.marital_status, person.marital_status
        ),
    }


def _detail(
    request: HttpRequest,
    actor: Actor,
    c: DuplicateCandidate,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    a, b = c.person_a, c.person_b
    for p in (a, b):
        if p.id_number:
            # Privacy: the full ID numbers are needed to compare; every read is audited.
            audit(
                actor,
                AuditAction.VIEW_ID_NUMBER,
                p,
                unit_code=p.registered_unit_id,
                detail={"page": "duplicate_review"},
            )
    ev = {row["comparison"]: row for row in review.evidence_rows(c)}
    merges = list(
        review.scope_merges(
            MergeRecord.objects.filter(survivor_id__in=(a.pk, b.pk), duplicate_id__in=(a.pk, b.pk)),
            actor,
        )
    )
    active_merge = next((m for m in merges if not m.undone), None)
    can_merge = (
        actor.can(Permission.REVIEW_DUPLICATES)
        and active_merge is None
        and a.merged_into_id is None
        and b.merged_into_id is None
        and c.status != DuplicateCandidate.Status.DIFFERENT_PEOPLE
    )
    filled = [
        FILLABLE_LABELS.get(f, actions.FILLABLE.get(f, f))
        for f in (active_merge.filled if active_merge else {})
    ]
    _status_label(c)
    return render(
        request,
        "linkage/candidate.html",
        base_context(
            actor,
            c=c,
            filled=filled,
            run_visible=c.run is not None and actor.covers(c.run.unit_id),
            a=_side(a),
            b=_side(b),
            ev=ev,
            evidence=review.evidence_rows(c),
            merges=merges,
            active_merge=active_merge,
            can_merge=can_merge,
            error=error,
            form=form or {},
            back=reverse("linkage:index"),
        ),
        status=status,
    )


@with_actor
def candidate_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _detail(request, actor, _candidate(actor, pk))


@require_POST
@writer
def decide(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _candidate(actor, pk)
    choice = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    try:
        if choice not in ("same_person", "different_people"):
            raise RegistryError(
                "请选择“同一人”或“不同的人”", "choose same person or different people", "decision"
            )
        actions.do_decide_candidate(actor, c, choice == "same_person", reason)
    except RegistryError as err:
        return _detail(request, actor, c, error=err.message, form={"reason": reason}, status=400)
    messages.success(request, _("Decided: the two records are the same person.") if choice == "same_person"
                     else _("Decided: the two records are different people."))
    return redirect("linkage:candidate", pk=c.pk)


@require_POST
@writer
def merge(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _candidate(actor, pk)
    survivor_pk = request.POST.get("survivor", "")
    reason = request.POST.get("merge_reason", "")
    try:
        if survivor_pk not in (str(c.person_a_id), str(c.person_b_id)):
            raise RegistryError("请选择保留哪一条记录", "choose the record to keep", "survivor")
        keep = int(survivor_pk)
        drop = c.person_b_id if keep == c.person_a_id else c.person_a_id
        actions.do_merge_persons(actor, keep, drop, reason, candidate=c)
    except RegistryError as err:
        return _detail(
            request, actor, c, error=err.message, form={"merge_reason": reason}, status=400
        )
    messages.success(request, _("Record %(drop)s was merged into record %(keep)s; both histories are kept.")
                     % {"drop": drop, "keep": keep})
    return redirect("linkage:candidate", pk=c.pk)


@require_POST
@writer
def undo_merge(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    m = get_object_or_404(review.scope_merges(MergeRecord.objects.all(), actor), pk=pk)
    reason = request.POST.get("undo_reason", "")
    back = request.POST.get("next") or ""
    try:
        actions.do_unmerge(actor, m, reason)
    except RegistryError as err:
        if (
            m.candidate_id is not None
            and review.scope_candidates(
                DuplicateCandidate.objects.filter(pk=m.candidate_id), actor
            ).exists()
        ):
            return _detail(
                request,
                actor,
                _candidate(actor, m.candidate_id),
                error=err.message,
                form={"undo_reason": reason},
                status=400,
            )
        return _merge_list(request, actor, error=err.message, status=400)
    messages.success(request, _("The merge was undone: the two records are separate again."))
    if m.candidate_id is not None:
        return redirect("linkage:candidate", pk=m.candidate_id)
    return redirect(
        back if back.startswith("/") and not back.startswith("//") else reverse("linkage:merges")
    )


def _merge_list(
    request: HttpRequest, actor: Actor, *, error: str = "", status: int = 200
) -> HttpResponse:
    qs = review.scope_merges(MergeRecord.objects.select_related("survivor", "duplicate"), actor)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "linkage/merges.html",
        base_context(actor, page=page, query="", error=error),
        status=status,
    )


@with_actor
def merge_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _merge_list(request, actor)


# ---------------------------------------------------------------- runs


def _scoped_runs(actor: Actor) -> Any:
    qs = DedupRun.objects.select_related("unit")
    return qs if actor.prefix == "" else qs.filter(unit__code__startswith=actor.prefix)


@with_actor
def runs(request: HttpRequest, actor: Actor) -> HttpResponse:
    page = Paginator(_scoped_runs(actor), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_state_labels(page.object_list)
    return render(
        request, "linkage/runs.html", base_context(actor, page=page, query="", units=_units(actor))
    )


@require_POST
@writer
def start_run(request: HttpRequest, actor: Actor) -> HttpResponse:
    code = request.POST.get("unit", "")
    try:
        if _scoped_unit(actor, code) is None:
            raise RegistryError(
                "请选择您辖区内的县、乡镇或村（居）",
                "choose a unit within your jurisdiction",
                "unit",
            )
        run = jobs.start_dedup_run(actor, code)
    except RegistryError as err:
        page = Paginator(_scoped_runs(actor), PAGE_SIZE).get_page(1)
        page.object_list = _with_state_labels(page.object_list)
        return render(
            request,
            "linkage/runs.html",
            base_context(
                actor, page=page, query="", units=_units(actor), error=err.message, selected=code
            ),
            status=400,
        )
    return redirect("linkage:run", pk=run.pk)


def _run(actor: Actor, pk: int) -> DedupRun:
    return jobs.sync_run(get_object_or_404(_scoped_runs(actor).select_related("job"), pk=pk))


def _run_json(run: DedupRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "state": run.state,
        "state_label": _state_label(run),
        "progress": run.job.percent or 0 if run.job is not None else run.progress,
        "stage": jobs.stage_text(run),
        "job": run.job_id,
        "n_records": run.n_records,
        "n_pairs": run.n_pairs,
        "n_new": run.n_new,
        "n_updated": run.n_updated,
        "n_decided": run.n_decided,
        "error": run.error,
        "finished": run.state in (DedupRun.State.DONE, DedupRun.State.FAILED),
    }


@with_actor
def run_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    run = _run(actor, pk)
    return render(request, "linkage/run.html", base_context(actor, run=run, data=_run_json(run)))


@with_actor
def run_progress(request: HttpRequest, actor: Actor, pk: int) -> JsonResponse:
    return JsonResponse(_run_json(_run(actor, pk)))


# ---------------------------------------------------------------- labels


@with_actor
def labels(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Decisions in scope as labels for ``popreg dedupe --labels`` (record ids = person ids)."""
    rows = review.decision_labels(actor)
    export = Export(
        title="查重判定 duplicate labels", filename="duplicate-labels.csv", format="csv",
        action=AuditAction.EXPORT_DUPLICATE_LABELS, reason="查重模型训练 duplicate-search labels",
        columns=[Column(h) for h in review.LABEL_COLUMNS], rows=rows,
    )
    return export_response(actor, export, permission=Permission.REVIEW_DUPLICATES,
                           unit_code=actor.unit_code, reason=request_reason(request))
