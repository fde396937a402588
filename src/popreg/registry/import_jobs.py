"""Bulk import as jobs: ``import_check`` (read the file, check it against the registry,
write the preview) and ``import_commit`` (write every row in one transaction).

The uploaded file stays in a folder ``$POPREG_HOME/imports/<id>/`` (``upload.bin``,
``meta.json`` with owner, file name and the ids of its jobs, ``errors.json`` with the row
problems); state, progress and the preview live in the :class:`~popreg.registry.job_models.Job`
rows.  The commit re-reads the bytes (their checksum must match the checked ones) and calls
:func:`popreg.registry.bulk.do_import_persons` inside ``ctx.applying()``: the persons and the
job's success are one transaction, so a worker killed half-way leaves nothing written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.registry import entry_check
from popreg.registry.bulk import ImportRefused, do_import_persons
from popreg.registry.errors import RegistryError
from popreg.registry.importing import (
    ImportFileError,
    check_against_registry,
    parse_file,
)
from popreg.registry.jobs import JobContext, JobKind, register
from popreg.registry.policy import Permission

#: Jobs folders are deleted this long after their last change.
KEEP_SECONDS = 7 * 24 * 3600
PREVIEW_ROWS = 20

_IMPORT_ID = re.compile(r"^[0-9a-f]{32}$")

#: Progress stages of the import (keys reported by the parser and the writer).
STAGES = {
    "parse": gettext_noop("Reading the rows"),
    "checking": gettext_noop("Checking the rows against the registry"),
    "checked": gettext_noop("Checked"),
    "writing": gettext_noop("Writing %(rows)s rows in one transaction (all or nothing)"),
    "households": gettext_noop("Creating households"),
    "commit": gettext_noop("Writing persons"),
}


def import_root() -> Path:
    return Path(settings.POPREG_HOME) / "imports"


class ImportFolder:
    """The folder of one upload: the file and what the jobs found in it."""

    def __init__(self, import_id: str) -> None:
        if not _IMPORT_ID.match(import_id or ""):
            raise Http404("no such import")
        self.id = import_id
        self.dir = import_root() / import_id

    @property
    def upload(self) -> Path:
        return self.dir / "upload.bin"

    def read(self, name: str) -> dict[str, Any]:
        try:
            return dict(json.loads((self.dir / name).read_text("utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def write(self, name: str, data: dict[str, Any]) -> None:
        """Write to a temporary file and rename: readers never see half a file."""
        tmp = self.dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, self.dir / name)

    @property
    def meta(self) -> dict[str, Any]:
        return self.read("meta.json")

    def errors(self) -> list[dict[str, Any]]:
        return list(self.read("errors.json").get("errors", []))

    @property
    def page_url(self) -> str:
        return reverse("import:job", kwargs={"job": self.id})


def cleanup_old_folders() -> None:
    root = import_root()
    if not root.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for d in root.iterdir():
        try:
            if d.is_dir() and _IMPORT_ID.match(d.name) and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def _reporter(ctx: JobContext) -> Any:
    def report(stage: str, done: int, total: int) -> None:
        ctx.progress(done, total, stage)

    return report


def run_check(ctx: JobContext) -> None:
    """Read and check the upload; the preview is the job's result (nothing is written)."""
    folder = ImportFolder(str(ctx.params["import_id"]))
    meta = folder.meta
    data = folder.upload.read_bytes()
    try:
        parsed = parse_file(data, meta["file_name"], _reporter(ctx))
        ctx.progress(0, len(parsed.rows), "checking")
        check = check_against_registry(ctx.actor, parsed.rows, parsed.sha256, labels=parsed.headers)
    except (ImportFileError, RegistryError) as exc:  # unreadable file, read-only role
        ctx.set_result(url=folder.page_url, data={
            "outcome": "rejected", "message_zh": exc.message_zh, "message_en": exc.message_en,
        })  # fmt: skip
        return
    errors = sorted([*parsed.errors, *check.errors], key=lambda e: e.row)
    folder.write("errors.json", {"errors": [e.as_dict() for e in errors]})
    households = {r.household_no for r in parsed.rows if r.household_no}
    joined = households & set(check.existing_households)
    preview = {
        "total_rows": parsed.total_rows,
        "valid_rows": len(parsed.rows) - len({e.row for e in check.errors}),
        "error_count": len(errors), "error_rows": len({e.row for e in errors}),
        "file_format": parsed.file_format, "headers": parsed.headers,
        "ignored_headers": parsed.ignored_headers,
        "households_new": len(households - joined), "households_joined": len(joined),
        "first_rows": [r.display() for r in parsed.rows[:PREVIEW_ROWS]],
        # Rows that look like persons already registered (popreg.registry.entry_check).
        "likely_duplicates": entry_check.file_preview(ctx.actor, [
            (r.row, entry_check.NewRecord(name=r.name, sex=r.sex, birth_date=r.birth_date, id_number=r.id_number or "",
                                          village_code=r.registered_unit, household_no=r.household_no))
            for r in parsed.rows]),
    }  # fmt: skip
    ctx.progress(len(parsed.rows), len(parsed.rows), "checked")
    ctx.set_result(url=folder.page_url, data={
        "outcome": "invalid" if errors else "ready", "preview": preview, "sha256": parsed.sha256,
    })  # fmt: skip


def run_commit(ctx: JobContext) -> None:
    """Write the checked upload: persons and the job's success in one transaction."""
    from popreg.registry.job_models import Job

    folder = ImportFolder(str(ctx.params["import_id"]))
    meta = folder.meta
    checked = Job.objects.get(pk=meta["check_job"]).result
    if not folder.upload.exists():
        raise RegistryError("上传的文件已不存在，请重新上传", "the uploaded file is gone; upload it again")
    data = folder.upload.read_bytes()
    report = _reporter(ctx)
    try:
        parsed = parse_file(data, meta["file_name"], report)
        if parsed.sha256 != checked.get("sha256") or parsed.errors:
            raise ImportRefused(parsed.errors, "文件与预览时不一致，请重新上传",
                                "the file differs from the previewed one; upload it again")
        ctx.progress(0, len(parsed.rows), "writing", rows=len(parsed.rows))
        with ctx.applying():
            summary = do_import_persons(ctx.actor, parsed.rows, meta["file_name"], parsed.sha256,
                                        progress=report, labels=parsed.headers)
            ctx.progress(len(parsed.rows), len(parsed.rows), "done")
            ctx.set_result(url=folder.page_url, data={"summary": summary.as_dict()})
    except ImportRefused as exc:
        if exc.errors:
            folder.write("errors.json", {"errors": [e.as_dict() for e in exc.errors]})
        folder.write("refused.json", {"message_zh": exc.message_zh, "message_en": exc.message_en,
                                      "error_count": len(exc.errors)})
        raise
    folder.upload.unlink(missing_ok=True)  # personal data: keep it no longer than needed


IMPORT_CHECK = register(JobKind(
    name="import_check", label=gettext_noop("Import: reading and checking a file"),
    permission=Permission.IMPORT_PERSONS, handler=run_check, stages=STAGES,
))  # fmt: skip
IMPORT_COMMIT = register(JobKind(
    name="import_commit", label=gettext_noop("Import: writing persons"),
    permission=Permission.IMPORT_PERSONS, handler=run_commit, stages=STAGES,
))  # fmt: skip
