"""A job kind for the runner's tests (loaded by the worker via POPREG_JOB_MODULES): it
waits, reporting progress, until the file ``params["go"]`` exists, then records an audit
row inside ``ctx.applying()`` (so "applied" is visible and atomic with success)."""

from __future__ import annotations

import time
from pathlib import Path

from django.utils.translation import gettext_noop

from popreg.registry.audit import AuditAction, audit
from popreg.registry.jobs import JobContext, JobKind, register
from popreg.registry.policy import Permission


def wait_for_go(ctx: JobContext) -> None:
    go = Path(ctx.params["go"])
    n = 0
    while not go.exists():
        n += 1
        ctx.progress(n, 0, "waiting")
        time.sleep(0.05)
    with ctx.applying():
        audit(ctx.actor, AuditAction.EXPORT_FILE, None, detail={"test_job": ctx.job.pk})
        ctx.set_result(url="/jobs/", data={"waited": n})


register(JobKind(name="test_wait", label=gettext_noop("Waiting"), permission=Permission.VIEW_JOBS,
                 handler=wait_for_go, stages={"waiting": gettext_noop("Waiting")}, exclusive=True))


def _pause_once_after_the_import_wrote() -> None:
    """With POPREG_TEST_IMPORT_PAUSE=<file>: the first import commit stops after writing
    every row, inside its transaction, creates <file> and waits to be killed there (a
    retry finds the file and goes on), so a test can kill the worker at exactly that point."""
    import os

    marker = os.environ.get("POPREG_TEST_IMPORT_PAUSE")
    if not marker:
        return
    from popreg.registry import import_jobs

    real = import_jobs.do_import_persons

    def write_then_pause(*args, **kwargs):
        summary = real(*args, **kwargs)
        if not Path(marker).exists():
            Path(marker).write_text("written, not committed", "utf-8")
            time.sleep(600)
        return summary

    import_jobs.do_import_persons = write_then_pause


_pause_once_after_the_import_wrote()
