"""Web pages of the bulk import: upload → preview (with progress) → commit.

An upload is kept in a folder (:class:`popreg.registry.import_jobs.ImportFolder`); checking
and committing it are jobs of the one job runner (``import_check``, ``import_commit``, see
:mod:`popreg.registry.import_jobs`), shown with the job progress component.  The state of
an import is read from its jobs: checking → ready / invalid / rejected → committing →
committed / refused; a job that failed or was interrupted can be retried from the page.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from popreg.core.privacy import mask_id
from popreg.registry import jobs
from popreg.registry.access import Actor, actor_for
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.exports import export_response, request_full_id, request_reason
from popreg.registry.import_jobs import STAGES as JOB_STAGES
from popreg.registry.import_jobs import ImportFolder, cleanup_old_folders, import_root
from popreg.registry.importing import (
    COLUMNS,
    error_report,
    template_export,
)
from popreg.registry.job_models import Job, JobState
from popreg.registry.localtime import parse_moment
from popreg.registry.policy import Permission

#: Largest accepted upload.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SHOWN_ERRORS = 200

RUNNING = ("validating", "committing")
#: Progress stages reported by the import, shown translated.
STAGES = {key: gettext_lazy(text) for key, text in JOB_STAGES.items()}


def _stage(status: dict[str, Any]) -> str:
    job = status.get("job")
    if isinstance(job, Job):
        return jobs.stage_text(job)
    stage = str(status.get("stage") or "")
    return str(STAGES.get(stage, stage))


def _job_for(request: HttpRequest, import_id: str) -> ImportFolder:
    folder = ImportFolder(import_id)
    if not folder.dir.is_dir() or folder.meta.get("owner") != request.user.pk:
        raise Http404("no such import")
    return folder


def _jobs_of(folder: ImportFolder) -> tuple[Job | None, Job | None]:
    meta = folder.meta
    ids = [i for i in (meta.get("check_job"), meta.get("commit_job")) if i]
    jobs.fail_dead_jobs(job_ids=ids)
    found = {j.pk: j for j in Job.objects.filter(pk__in=ids)}
    return found.get(meta.get("check_job")), found.get(meta.get("commit_job"))


def import_status(folder: ImportFolder) -> dict[str, Any]:
    """The import's state (as the pages knew it) from its check and commit jobs."""
    check, commit = _jobs_of(folder)
    job = commit or check
    if job is None:
        return {"state": "failed", "job": None}
    out: dict[str, Any] = {"job": job, "stage": job.stage, "done": job.done, "total": job.total}
    checked = check.result if check is not None and check.state == JobState.SUCCEEDED else {}
    out["preview"] = checked.get("preview") or {}
    if commit is not None and commit.state != JobState.CANCELLED:
        if commit.active:
            out["state"] = "committing"
        elif commit.state == JobState.SUCCEEDED:
            out.update(state="committed", summary=commit.result.get("summary", {}))
        elif folder.read("refused.json") and commit.error_zh:
            out.update(state="refused", message_zh=commit.error_zh, message_en=commit.error_en)
        else:
            out.update(state="failed", message_zh=commit.error_zh, message_en=commit.error_en)
        return out
    assert check is not None
    if check.active:
        out["state"] = "validating"
    elif check.state == JobState.SUCCEEDED:
        out["state"] = checked.get("outcome", "failed")
        out.update(message_zh=checked.get("message_zh", ""), message_en=checked.get("message_en", ""))
    else:
        out.update(state="failed", message_zh=check.error_zh, message_en=check.error_en)
    return out


# --------------------------------------------------------------------------- views


def _writer_or_403(request: HttpRequest) -> Actor | HttpResponse:
    try:
        actor = actor_for(request.user)
    except RegistryError as exc:
        return render(request, "registry/import/denied.html", {"error": exc}, status=403)
    if not actor.can(Permission.IMPORT_PERSONS):
        err = RegistryError("当前角色不能批量导入", "your role cannot import persons")
        return render(request, "registry/import/denied.html", {"error": err}, status=403)
    return actor


def _recent_jobs(request: HttpRequest) -> list[dict[str, Any]]:
    base = import_root()
    if not base.is_dir():
        return []
    out = []
    for d in base.iterdir():
        try:
            folder = ImportFolder(d.name)
        except Http404:
            continue
        meta = folder.meta
        if meta.get("owner") != request.user.pk:
            continue
        out.append({"id": folder.id, "file_name": meta.get("file_name"), "created": meta.get("created"),
                    "created_at": parse_moment(meta.get("created")),  # shown in the county's time zone
                    "state": None, "folder": folder})
    out.sort(key=lambda j: j["created"] or "", reverse=True)
    out = out[:10]
    for row in out:
        row["state"] = import_status(row.pop("folder"))["state"]
    return out


@login_required
def index(request: HttpRequest) -> HttpResponse:
    actor = _writer_or_403(request)
    if isinstance(actor, HttpResponse):
        return actor
    error: RegistryError | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None or not upload.size:
            error = RegistryError("请选择要上传的 .xlsx 或 CSV 文件", "choose an .xlsx or CSV file to upload", "file")
        elif upload.size > MAX_UPLOAD_BYTES:
            error = RegistryError(
                f"文件过大（{upload.size / 1e6:.0f} MB，上限 {MAX_UPLOAD_BYTES / 1e6:.0f} MB）；请按乡镇拆分",
                f"the file is too large ({upload.size / 1e6:.0f} MB, limit "
                f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB); split it by township", "file")
        else:
            cleanup_old_folders()
            folder = ImportFolder(uuid.uuid4().hex)
            folder.dir.mkdir(parents=True)
            with folder.upload.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            name = os.path.basename(upload.name or "upload")[:200]
            folder.write("meta.json", {"owner": request.user.pk, "file_name": name, "size": upload.size,
                                       "created": timezone.now().isoformat()})
            try:
                _start(actor, folder, "import_check")
            except RegistryError as exc:
                error = exc
            else:
                return redirect("import:job", job=folder.id)
    return render(request, "registry/import/index.html", {
        "columns": COLUMNS, "error": error, "jobs": _recent_jobs(request),
        "max_mb": MAX_UPLOAD_BYTES // 1_000_000,
    }, status=400 if error else 200)


def _start(actor: Actor, folder: ImportFolder, kind: str) -> Job:
    """Start the check or commit job of ``folder`` and note its id in ``meta.json``."""
    meta = folder.meta
    job = jobs.start_job(actor, kind, {"import_id": folder.id, "file_name": meta.get("file_name")},
                         unit_code=actor.unit_code or "")
    meta["check_job" if kind == "import_check" else "commit_job"] = job.pk
    folder.write("meta.json", meta)
    return job


def _preview_ids(request: HttpRequest, actor: Actor, folder: ImportFolder,
                 preview: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The preview with its ID numbers masked, unless the user holds ``VIEW_FULL_ID`` and
    asks (``?full_id=1``): then they are shown whole and the reading is audited."""
    rows = preview.get("first_rows") or []
    full_id = request_full_id(request) and actor.can(Permission.VIEW_FULL_ID)
    if full_id:
        shown = sum(1 for r in rows if r.get("id_number"))
        if shown:
            audit(actor, AuditAction.VIEW_ID_NUMBER, None, unit_code=actor.unit_code or "",
                  detail={"import": folder.id, "file": folder.meta.get("file_name"), "id_numbers": shown})
        return preview, True
    masked = [{**r, "id_number": mask_id(r.get("id_number") or None)} for r in rows]
    return {**preview, "first_rows": masked}, False


@login_required
def job_page(request: HttpRequest, job: str) -> HttpResponse:
    folder = _job_for(request, job)
    status = import_status(folder)
    errors = folder.errors()
    actor = actor_for(request.user)
    preview, full_id = _preview_ids(request, actor, folder, status.get("preview") or {})
    return render(request, "registry/import/job.html", {
        "job": folder, "meta": folder.meta, "status": status, "state": status.get("state"),
        "stage": _stage(status), "actor": actor, "the_job": status.get("job"),
        "preview": preview, "full_id": full_id, "can_full_id": actor.can(Permission.VIEW_FULL_ID),
        "errors": errors[:SHOWN_ERRORS],
        "error_total": len(errors), "running": status.get("state") in RUNNING,
    })


@login_required
def job_progress(request: HttpRequest, job: str) -> JsonResponse:
    st = import_status(_job_for(request, job))
    total = int(st.get("total") or 0)
    done = int(st.get("done") or 0)
    return JsonResponse({
        "state": st.get("state"), "stage": _stage(st), "done": done, "total": total,
        "percent": round(100 * done / total) if total else None,
        "running": st.get("state") in RUNNING,
        "job": st["job"].pk if st.get("job") else None,
    })


@login_required
@require_POST
def job_commit(request: HttpRequest, job: str) -> HttpResponse:
    actor = _writer_or_403(request)
    if isinstance(actor, HttpResponse):
        return actor
    folder = _job_for(request, job)
    if import_status(folder).get("state") != "ready":
        return redirect("import:job", job=folder.id)
    (folder.dir / "refused.json").unlink(missing_ok=True)
    try:
        _start(actor, folder, "import_commit")
    except RegistryError as exc:
        return render(request, "registry/import/denied.html", {"error": exc}, status=400)
    return redirect("import:job", job=folder.id)


def _download_actor(request: HttpRequest) -> Actor:
    try:
        return actor_for(request.user)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None


def _errors_download(request: HttpRequest, job: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    j = _job_for(request, job)
    export = error_report(j.errors(), fmt, f"errors-{j.id[:8]}.{fmt}")
    return export_response(_download_actor(request), export, permission=Permission.IMPORT_PERSONS,
                           unit_code=None, reason=request_reason(request))


@login_required
def job_errors_csv(request: HttpRequest, job: str) -> HttpResponse | StreamingHttpResponse:
    return _errors_download(request, job, "csv")


@login_required
def job_errors_xlsx(request: HttpRequest, job: str) -> HttpResponse | StreamingHttpResponse:
    return _errors_download(request, job, "xlsx")


@login_required
def download_template(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    return export_response(_download_actor(request), template_export(fmt),
                           permission=Permission.IMPORT_PERSONS, unit_code=None,
                           reason=request_reason(request))
