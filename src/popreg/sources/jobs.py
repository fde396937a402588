"""Importing an outside-source file: :func:`import_file` (the command and the job), and the
``sources_import`` job kind started by the upload page.

The uploaded bytes are kept in ``$POPREG_HOME/sources/<token>/upload.bin`` until the job
has read them (the folder is removed at the end, whatever the outcome).  The job's result
data holds the outcome and, for a file with errors, every row error (the page offers them
as the error report).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.importing import ImportFileError, RowError
from popreg.registry.jobs import JobContext, JobKind, register
from popreg.registry.policy import Permission
from popreg.sources.actions import do_import_source, jurisdiction_errors, previous_batch
from popreg.sources.linking import Proposal, propose_links
from popreg.sources.models import SourceBatch
from popreg.sources.reading import ParsedSource, check_kind, parse_source

Progress = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class FileOutcome:
    """What became of a file: ``imported``, ``repeated`` (the same file before: nothing
    changed) or ``errors`` (nothing imported; ``errors`` names every bad row)."""

    outcome: str
    batch: SourceBatch | None = None
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0


@dataclass
class Prepared:
    """A file read, checked and linked, not yet written (``outcome`` set when it will not
    be: ``repeated`` or ``errors``)."""

    parsed: ParsedSource
    proposals: list[Proposal]
    outcome: FileOutcome | None = None


def prepare_file(actor: Actor, data: bytes, file_name: str, kind: str,
                 progress: Progress = _quiet) -> Prepared:
    """Read, check and link a file as ``actor`` (nothing written); raises ImportFileError
    (or another RegistryError) when the file cannot be used at all."""
    from popreg.registry.snapshot import write_registry_snapshot

    actor.require(Permission.IMPORT_SOURCES)
    check_kind(kind)
    progress("reading", 0, 3)
    parsed = parse_source(data, file_name, kind)
    earlier = previous_batch(parsed.sha256)
    if earlier is not None:
        return Prepared(parsed, [], FileOutcome("repeated", earlier, total_rows=parsed.total_rows))
    errors = sorted([*parsed.errors, *jurisdiction_errors(actor, parsed)], key=lambda e: e.row)
    if errors:
        return Prepared(parsed, [], FileOutcome("errors", None, errors, parsed.total_rows))
    progress("linking", 1, 3)
    with tempfile.TemporaryDirectory(prefix="popreg-sources-link-") as tmp:
        write_registry_snapshot(tmp)
        proposals = propose_links(kind, parsed.rows, tmp)
    return Prepared(parsed, proposals)


def write_prepared(actor: Actor, prepared: Prepared, progress: Progress = _quiet) -> FileOutcome:
    if prepared.outcome is not None:
        return prepared.outcome
    progress("writing", 2, 3)
    result = do_import_source(actor, prepared.parsed, prepared.proposals)
    progress("done", 3, 3)
    return FileOutcome("repeated" if result.repeated else "imported", result.batch,
                       total_rows=prepared.parsed.total_rows)


def import_file(actor: Actor, data: bytes, file_name: str, kind: str,
                progress: Progress = _quiet) -> FileOutcome:
    """Read, check, link and import a file as ``actor`` (the command line)."""
    return write_prepared(actor, prepare_file(actor, data, file_name, kind, progress), progress)


# ------------------------------------------------------------------ the job


STAGES = {
    "reading": gettext_noop("Reading and checking the rows"),
    "linking": gettext_noop("Linking the records to registry persons"),
    "writing": gettext_noop("Storing the records and feeding the reconciliation and anomalies"),
    "done": gettext_noop("Done"),
}


def upload_root() -> Path:
    return Path(settings.POPREG_HOME) / "sources"


def store_upload(data: bytes) -> str:
    token = secrets.token_hex(16)
    folder = upload_root() / token
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "upload.bin").write_bytes(data)
    return token


def _upload(token: str) -> Path:
    if len(token) != 32 or any(c not in "0123456789abcdef" for c in token):
        raise Http404("no such upload")
    return upload_root() / token


def run_import(ctx: JobContext) -> None:
    folder = _upload(str(ctx.params["upload"]))
    try:
        data = (folder / "upload.bin").read_bytes()
    except FileNotFoundError:
        raise RegistryError("上传的文件已不存在，请重新上传", "the uploaded file is gone; upload it again") from None

    def report(stage: str, done: int, total: int) -> None:
        ctx.progress(done, total, stage)

    try:
        prepared = prepare_file(ctx.actor, data, str(ctx.params["file_name"]), str(ctx.params["kind"]), report)
    except ImportFileError as exc:
        ctx.set_result(url=reverse("sources:index"), data={
            "outcome": "rejected", "message_zh": exc.message_zh, "message_en": exc.message_en})
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    with ctx.applying():
        result = write_prepared(ctx.actor, prepared, report)
        payload: dict[str, Any] = {"outcome": result.outcome, "total_rows": result.total_rows}
        url = reverse("sources:job", args=[ctx.job.pk])
        if result.batch is not None:
            payload["batch"] = result.batch.pk
            url = reverse("sources:batch", args=[result.batch.pk])
        if result.errors:
            payload["errors"] = [e.as_dict() for e in result.errors]
            url = reverse("sources:job", args=[ctx.job.pk])
        ctx.set_result(url=url, data=payload)


SOURCES_IMPORT = register(JobKind(
    name="sources_import", label=gettext_noop("Outside-source import"),
    permission=Permission.IMPORT_SOURCES, handler=run_import, stages=STAGES,
))  # fmt: skip


FEED_STAGES = {
    "feeding": gettext_noop("Feeding the reconciliation and the campaign anomalies"),
    "fed": gettext_noop("Done"),
}


def run_feed(ctx: JobContext) -> None:
    """After a review decision: the reconciliation items and campaign anomaly items of the
    decided records (a fresh snapshot of the registry is too slow for the request)."""
    from popreg.sources.feed import feed_records
    from popreg.sources.models import SourceEntry

    entries = list(SourceEntry.objects.filter(pk__in=[int(p) for p in ctx.params.get("entries", [])]))
    ctx.progress(0, 1, "feeding")
    with ctx.applying():
        fed = feed_records(ctx.actor, entries)
        ctx.progress(1, 1, "fed")
        ctx.set_result(url=reverse("sources:review"), data={
            "reconciliation": fed.get("reconciliation", {}), "findings": len(fed.get("findings", [])),
            "campaigns": fed.get("campaigns", [])})


SOURCES_FEED = register(JobKind(
    name="sources_feed", label=gettext_noop("Outside sources: feeding a review decision"),
    permission=Permission.REVIEW_SOURCES, handler=run_feed, stages=FEED_STAGES,
))  # fmt: skip
