"""Web pages of the bulk import: upload → preview (with progress) → commit.

An import is a *job*: a folder under ``$POPREG_HOME/imports/<id>/`` holding the uploaded
file, ``meta.json`` (owner, file name, checksum) and ``status.json`` (state, progress,
preview, result), so any web worker process can answer for it.  Checking and committing
run in a background thread for files over :data:`INLINE_MAX_BYTES` (small files are done
within the request); the job page polls ``progress/`` while the thread works.  The
commit re-reads the uploaded bytes (their checksum must match the preview) and calls
``popreg.registry.bulk.do_import_persons`` — one transaction, all or nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connections
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

from popreg.registry.access import Actor, actor_for
from popreg.registry.bulk import ImportRefused, do_import_persons
from popreg.registry.errors import RegistryError
from popreg.registry.exports import export_response, request_reason
from popreg.registry.importing import (
    COLUMNS,
    ImportFileError,
    check_against_registry,
    error_report,
    parse_file,
    template_export,
)
from popreg.registry.policy import Permission

log = logging.getLogger(__name__)

#: Files up to this size are checked and committed within the request.
INLINE_MAX_BYTES = 256 * 1024
#: Largest accepted upload.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
#: A running job whose status has not moved for this long was interrupted (server restart).
STALE_SECONDS = 300
#: Jobs are deleted this long after their last change.
KEEP_SECONDS = 7 * 24 * 3600
PREVIEW_ROWS = 20
SHOWN_ERRORS = 200

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
RUNNING = ("validating", "committing")
#: Progress stages reported by the import (``Progress`` callbacks), shown translated.
STAGES = {
    "parse": gettext_lazy("Reading the rows"),
    "households": gettext_lazy("Creating households"),
    "commit": gettext_lazy("Writing persons"),
}


def _stage(status: dict[str, Any]) -> str:
    stage = str(status.get("stage") or "")
    return str(STAGES.get(stage, stage))


# --------------------------------------------------------------------------- job folder


def _root() -> Path:
    return Path(settings.POPREG_HOME) / "imports"


class Job:
    def __init__(self, job_id: str) -> None:
        if not _JOB_ID.match(job_id):
            raise Http404("no such import")
        self.id = job_id
        self.dir = _root() / job_id

    @property
    def upload(self) -> Path:
        return self.dir / "upload.bin"

    def read(self, name: str) -> dict[str, Any]:
        try:
            return dict(json.loads((self.dir / name).read_text("utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def write(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.dir / f".{name}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, self.dir / name)

    @property
    def meta(self) -> dict[str, Any]:
        return self.read("meta.json")

    @property
    def status(self) -> dict[str, Any]:
        st = self.read("status.json")
        if st.get("state") in RUNNING and time.time() - float(st.get("updated", 0)) > STALE_SECONDS:
            st["state"] = "interrupted"
        return st

    def set_status(self, **values: Any) -> None:
        st = self.read("status.json")
        st.update(values, updated=time.time())
        self.write("status.json", st)

    def errors(self) -> list[dict[str, Any]]:
        return list(self.read("errors.json").get("errors", []))


def _job_for(request: HttpRequest, job_id: str) -> Job:
    job = Job(job_id)
    if not job.dir.is_dir() or job.meta.get("owner") != request.user.pk:
        raise Http404("no such import")
    return job


def _cleanup_old_jobs() -> None:
    root = _root()
    if not root.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for d in root.iterdir():
        try:
            if d.is_dir() and _JOB_ID.match(d.name) and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


# --------------------------------------------------------------------------- workers


def _run(job: Job, work: Callable[[], None], *, background: bool) -> None:
    """Run ``work`` now or in a thread; an unexpected exception marks the job failed."""

    def guarded() -> None:
        try:
            work()
        except Exception as exc:
            log.exception("import job %s failed", job.id)
            job.set_status(state="failed", message_zh=f"内部错误：{type(exc).__name__}，数据未写入",
                           message_en=f"internal error: {type(exc).__name__}; nothing was written")
        finally:
            if background:
                connections.close_all()

    if background:
        threading.Thread(target=guarded, name=f"import-{job.id[:8]}", daemon=True).start()
    else:
        guarded()


def _progress(job: Job) -> Callable[[str, int, int], None]:
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or (total and done >= total):
            last[0] = now
            job.set_status(stage=stage, done=done, total=total)

    return report


def _actor_of(job: Job) -> Actor:
    user = get_user_model().objects.select_related("assignment__unit").get(pk=job.meta["owner"])
    return actor_for(user)


def _validate(job: Job) -> None:
    meta = job.meta
    data = job.upload.read_bytes()
    try:
        result = parse_file(data, meta["file_name"], _progress(job))
        check = check_against_registry(_actor_of(job), result.rows, result.sha256,
                                       labels=result.headers)
    except ImportFileError as exc:
        job.set_status(state="rejected", message_zh=exc.message_zh, message_en=exc.message_en)
        return
    except RegistryError as exc:  # read-only role, no jurisdiction
        job.set_status(state="rejected", message_zh=exc.message_zh, message_en=exc.message_en)
        return
    errors = sorted([*result.errors, *check.errors], key=lambda e: e.row)
    job.write("errors.json", {"errors": [e.as_dict() for e in errors]})
    households = {r.household_no for r in result.rows if r.household_no}
    joined = households & set(check.existing_households)
    preview = {
        "total_rows": result.total_rows, "valid_rows": len(result.rows) - len({e.row for e in check.errors}),
        "error_count": len(errors), "error_rows": len({e.row for e in errors}),
        "file_format": result.file_format, "headers": result.headers,
        "ignored_headers": result.ignored_headers,
        "households_new": len(households - joined), "households_joined": len(joined),
        "first_rows": [r.display() for r in result.rows[:PREVIEW_ROWS]],
    }
    meta["sha256"] = result.sha256
    job.write("meta.json", meta)
    job.set_status(state="invalid" if errors else "ready", preview=preview)


def _commit(job: Job) -> None:
    meta = job.meta
    data = job.upload.read_bytes()
    report = _progress(job)
    try:
        result = parse_file(data, meta["file_name"], report)
        if result.sha256 != meta.get("sha256") or result.errors:
            raise ImportRefused(result.errors, "文件与预览时不一致，请重新上传",
                                "the file differs from the previewed one; upload it again")
        summary = do_import_persons(_actor_of(job), result.rows, meta["file_name"], result.sha256,
                                    progress=report, labels=result.headers)
    except ImportRefused as exc:
        if exc.errors:
            job.write("errors.json", {"errors": [e.as_dict() for e in exc.errors]})
        job.set_status(state="refused", message_zh=exc.message_zh, message_en=exc.message_en,
                       error_count=len(exc.errors))
        return
    except RegistryError as exc:
        job.set_status(state="refused", message_zh=exc.message_zh, message_en=exc.message_en)
        return
    job.set_status(state="committed", summary=summary.as_dict(),
                   committed_at=timezone.now().isoformat())
    job.upload.unlink(missing_ok=True)  # personal data: keep it no longer than needed


# --------------------------------------------------------------------------- views


def _writer_or_403(request: HttpRequest) -> Actor | HttpResponse:
    try:
        actor = actor_for(request.user)
    except RegistryError as exc:
        return render(request, "registry/import/denied.html", {"error": exc}, status=403)
    if not actor.can_write:
        err = RegistryError("当前角色为只读，不能批量导入", "your role is read-only and cannot import")
        return render(request, "registry/import/denied.html", {"error": err}, status=403)
    return actor


def _recent_jobs(request: HttpRequest) -> list[dict[str, Any]]:
    root = _root()
    if not root.is_dir():
        return []
    jobs = []
    for d in root.iterdir():
        if not _JOB_ID.match(d.name):
            continue
        job = Job(d.name)
        meta = job.meta
        if meta.get("owner") != request.user.pk:
            continue
        jobs.append({"id": job.id, "file_name": meta.get("file_name"), "created": meta.get("created"),
                     "state": job.status.get("state")})
    jobs.sort(key=lambda j: j["created"] or "", reverse=True)
    return jobs[:10]


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
            _cleanup_old_jobs()
            job = Job(uuid.uuid4().hex)
            job.dir.mkdir(parents=True)
            with job.upload.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            name = os.path.basename(upload.name or "upload")[:200]
            job.write("meta.json", {"owner": request.user.pk, "file_name": name, "size": upload.size,
                                    "created": timezone.now().isoformat()})
            job.set_status(state="validating", stage="parse", done=0, total=0)
            _run(job, lambda: _validate(job), background=upload.size > INLINE_MAX_BYTES)
            return redirect("import:job", job=job.id)
    return render(request, "registry/import/index.html", {
        "columns": COLUMNS, "error": error, "jobs": _recent_jobs(request),
        "max_mb": MAX_UPLOAD_BYTES // 1_000_000,
    }, status=400 if error else 200)


@login_required
def job_page(request: HttpRequest, job: str) -> HttpResponse:
    j = _job_for(request, job)
    status = j.status
    errors = j.errors()
    return render(request, "registry/import/job.html", {
        "job": j, "meta": j.meta, "status": status, "state": status.get("state"),
        "stage": _stage(status),
        "preview": status.get("preview") or {}, "errors": errors[:SHOWN_ERRORS],
        "error_total": len(errors), "running": status.get("state") in RUNNING,
    })


@login_required
def job_progress(request: HttpRequest, job: str) -> JsonResponse:
    st = _job_for(request, job).status
    total = int(st.get("total") or 0)
    done = int(st.get("done") or 0)
    return JsonResponse({
        "state": st.get("state"), "stage": _stage(st), "done": done, "total": total,
        "percent": round(100 * done / total) if total else None,
        "running": st.get("state") in RUNNING,
    })


@login_required
@require_POST
def job_commit(request: HttpRequest, job: str) -> HttpResponse:
    actor = _writer_or_403(request)
    if isinstance(actor, HttpResponse):
        return actor
    j = _job_for(request, job)
    if j.status.get("state") != "ready":
        return redirect("import:job", job=j.id)
    j.set_status(state="committing", stage="parse", done=0, total=0)
    size = j.upload.stat().st_size if j.upload.exists() else 0
    _run(j, lambda: _commit(j), background=size > INLINE_MAX_BYTES)
    return redirect("import:job", job=j.id)


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
