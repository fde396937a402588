"""Refreshing the statistics snapshot and the dual-system estimate: actions and jobs.

``do_refresh_statistics`` writes the registry as a new statistics snapshot with its cube
(:func:`popreg.stats.dashboard.prepare_snapshot`, into a hidden directory) and, in one
step at the end, renames it into place and audits ``STATS_REFRESH``; ``do_build_dse``
links the hospital births of the latest snapshot and audits ``STATS_DSE``.  Both are used
by the page's jobs (``stats_refresh`` and ``stats_dse`` of the one job runner, see
:mod:`popreg.registry.jobs`) and by ``popreg stats_refresh``; a worker killed half-way
leaves the hidden directory behind (removed by the next refresh) and nothing in use.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.registry import jobs as runner
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.stats.dashboard import (
    DashboardError,
    Progress,
    build_dse,
    clear_cache,
    latest_snapshot,
    load_dashboard,
    prepare_snapshot,
    publish_snapshot,
    snapshots_root,
)
from popreg.stats.indicators import IndicatorError
from popreg.stats.periods import revised_closings
from popreg.stats.retention import prune_snapshots

__all__ = ["do_build_dse", "do_refresh_statistics", "loaded_reference_moment"]

Commit = Callable[[], AbstractContextManager[Any]]

#: Stages of the statistics jobs (English msgids, Chinese in the stats catalog).
STAGES: dict[str, str] = {
    "snapshot": gettext_noop("Writing the registry as a statistics snapshot"),
    "indicators": gettext_noop("Computing the indicators of every unit and year"),
    "pages": gettext_noop("Counting the population at the reference moment"),
    "dse": gettext_noop("Linking hospital births for the dual-system estimate"),
    "saving": gettext_noop("Saving the results"),
    "published": gettext_noop("Statistics snapshot %(name)s is in use"),
    "dse_done": gettext_noop("Dual-system estimate computed for snapshot %(name)s"),
    "revisions": gettext_noop(
        "Statistics snapshot %(name)s is in use. It revises %(n)s closed periods: records registered "
        "after their closing fall in them. Their published figures stay; each closed periods page "
        "shows the revision beside them."
    ),
}


def loaded_reference_moment() -> datetime:
    """The reference moment of the snapshot last loaded into the registry (``popreg load``).

    A synthetic county's data end at its reference moment: its statistics are computed
    there (``popreg stats_refresh --at loaded``, as ``make demo`` does), not "now", which
    would count the months after it as a time in which nothing happened.  Read from the
    load's audit record; a registry not loaded from a snapshot is an error.
    """
    from popreg.registry.models import AuditRecord

    record = AuditRecord.objects.filter(action=AuditAction.LOAD_SNAPSHOT.value).order_by("-id").first()
    text = (record.detail or {}).get("reference_moment") if record is not None else None
    if not text:
        raise RegistryError(
            "登记库不是由快照载入的（没有 popreg load 的记录），请用 --at 指定统计时点",
            "the registry was not loaded from a snapshot (no popreg load on record): give the "
            "reference moment with --at",
        )
    return datetime.fromisoformat(str(text))


def _error(exc: Exception) -> RegistryError:
    text = str(exc)
    zh, _sep, en = text.partition(" / ")
    return RegistryError(zh, en or zh)


def _remove_stale(root: Path) -> None:
    """Hidden directories of refreshes that died half-way (older than a day)."""
    if not root.is_dir():
        return
    cutoff = datetime.now().timestamp() - 86400
    for p in root.glob(".writing-*"):
        if p.is_dir() and p.stat().st_mtime < cutoff:
            shutil.rmtree(p, ignore_errors=True)


def do_refresh_statistics(
    actor: Actor,
    *,
    at: datetime | None = None,
    with_dse: bool = False,
    progress: Progress | None = None,
    commit: Commit = transaction.atomic,
    done: Callable[[Path], None] | None = None,
) -> Path:
    """Write a new statistics snapshot of the whole registry and put it in use.

    The snapshot and its cube are computed in a hidden directory; then, inside ``commit``
    (a transaction, or a job's ``ctx.applying``), the audit record is written, the
    directory renamed into place and ``done(snapshot_dir)`` called.  Returns the snapshot
    directory.
    """
    actor.require(Permission.REFRESH_STATISTICS)
    _remove_stale(snapshots_root())
    try:
        tmp = prepare_snapshot(at, with_dse=with_dse, progress=progress)
    except (DashboardError, IndicatorError) as exc:
        raise _error(exc) from None
    try:
        with commit():
            audit(actor, AuditAction.STATS_REFRESH, None,
                  detail={"snapshot": tmp.name, "with_dse": with_dse})  # fmt: skip
            final = publish_snapshot(tmp)
            if done is not None:
                done(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    clear_cache()
    prune_snapshots(also_keep={final.name})  # POPREG_KEEP_SNAPSHOTS; never one still named
    return final


def do_build_dse(
    actor: Actor,
    *,
    progress: Progress | None = None,
    commit: Commit = transaction.atomic,
    done: Callable[[Path, dict[str, Any]], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Link the latest snapshot's hospital births and store the DSE counts in its cube
    (files renamed into place), then audit ``STATS_DSE`` and call ``done`` in ``commit``."""
    actor.require(Permission.REFRESH_STATISTICS)
    snap = latest_snapshot()
    if snap is None:
        raise RegistryError(
            "还没有统计快照：请先刷新统计快照", "there is no statistics snapshot yet: refresh it first"
        )
    try:
        info = build_dse(snap, progress=progress)
    except (DashboardError, IndicatorError) as exc:
        raise _error(exc) from None
    with commit():
        audit(actor, AuditAction.STATS_DSE, None, detail={"snapshot": snap.name, **info})
        if done is not None:
            done(snap, info)
    clear_cache()
    return snap, info


def _progress(ctx: runner.JobContext) -> Progress:
    def report(done: int, total: int, stage: str) -> None:
        ctx.progress(done, total, stage)

    return report


def run_refresh(ctx: runner.JobContext) -> None:
    """The ``stats_refresh`` job: its result links the dashboards."""
    at = datetime.fromisoformat(ctx.params["at"]) if ctx.params.get("at") else None

    def done(final: Path) -> None:
        # Closed periods the new figures revise: said here, never silently (docs/periods.md).
        revised = revised_closings(load_dashboard(final))
        if revised:
            ctx.progress(1, 1, "revisions", name=final.name, n=revised)
        else:
            ctx.progress(1, 1, "published", name=final.name)
        ctx.set_result(url=reverse("stats:index"), data={"snapshot": final.name, "revised_closings": revised})

    do_refresh_statistics(ctx.actor, at=at, with_dse=bool(ctx.params.get("with_dse")),
                          progress=_progress(ctx), commit=ctx.applying, done=done)  # fmt: skip


def run_dse(ctx: runner.JobContext) -> None:
    """The ``stats_dse`` job: its result links the county's estimate page."""

    def done(snap: Path, info: dict[str, Any]) -> None:
        dash = load_dashboard(snap)
        county = dash.county()
        url = reverse("stats:dse", args=[county.code]) if county else reverse("stats:index")
        ctx.progress(1, 1, "dse_done", name=snap.name)
        plain = {k: v for k, v in info.items() if isinstance(v, int | float | str | bool)}
        ctx.set_result(url=url, data={"snapshot": snap.name, **plain})

    do_build_dse(ctx.actor, progress=_progress(ctx), commit=ctx.applying, done=done)


REFRESH = runner.register(runner.JobKind(
    name="stats_refresh", label=gettext_noop("Statistics refresh"),
    permission=Permission.REFRESH_STATISTICS, handler=run_refresh, stages=STAGES, exclusive=True,
))  # fmt: skip
DSE = runner.register(runner.JobKind(
    name="stats_dse", label=gettext_noop("Dual-system estimate"),
    permission=Permission.REFRESH_STATISTICS, handler=run_dse, stages=STAGES, exclusive=True,
))  # fmt: skip
