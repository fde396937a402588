"""Pages of the job runner: ``/jobs/`` (the list), ``/jobs/<id>/`` (one job with the
progress component), its JSON progress, cancel and retry.  Thin: reads through
:func:`popreg.registry.jobs.visible_jobs`, writes through the ``do_*`` actions there."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.views import PAGE_SIZE, base_context, with_actor


def _require_view(actor: Actor) -> None:
    from django.core.exceptions import PermissionDenied

    from popreg.registry.policy import Permission

    if not actor.can(Permission.VIEW_JOBS):
        raise PermissionDenied


@with_actor
def job_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require_view(actor)
    jobs.fail_dead_jobs()
    page = Paginator(jobs.visible_jobs(actor), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(job, jobs.progress_data(actor, job)) for job in page.object_list]
    return render(request, "registry/jobs/list.html", base_context(
        actor, page=page, rows=rows, sees_all=jobs._sees_all(actor),
    ))  # fmt: skip


@with_actor
def job_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require_view(actor)
    job = jobs.job_for(actor, pk)
    return render(request, "registry/jobs/detail.html", base_context(actor, job=job))


@with_actor
def job_progress(request: HttpRequest, actor: Actor, pk: int) -> JsonResponse:
    _require_view(actor)
    return JsonResponse(jobs.progress_data(actor, jobs.job_for(actor, pk)))


def _act(request: HttpRequest, actor: Actor, pk: int, action: str) -> HttpResponse:
    _require_view(actor)
    job = jobs.job_for(actor, pk)
    try:
        job = (jobs.do_cancel_job if action == "cancel" else jobs.do_retry_job)(actor, job)
    except RegistryError as err:
        if request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse({"error": err.message, **jobs.progress_data(actor, job)}, status=400)
        return render(request, "registry/jobs/detail.html",
                      base_context(actor, job=job, error=err.message), status=400)  # fmt: skip
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(jobs.progress_data(actor, job))
    return redirect(request.POST.get("next") or job_url(job))


def job_url(job: object) -> str:
    from django.urls import reverse

    return reverse("jobs:detail", args=[getattr(job, "pk", 0)])


@require_POST
@with_actor
def job_cancel(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _act(request, actor, pk, "cancel")


@require_POST
@with_actor
def job_retry(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _act(request, actor, pk, "retry")
