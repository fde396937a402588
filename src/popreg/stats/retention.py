"""Retention of statistics snapshots (``POPREG_KEEP_SNAPSHOTS``): the newest ones are kept,
older ones deleted, except a snapshot something still needs.

A snapshot is kept while it is

- among the newest ``keep`` (the latest always: the dashboards read it);
- named by a job that has not finished (an assessment or reconciliation reading it);
- named by a published result: an export whose audit record names it (scorecards, the
  annual report), so that a table handed out can be computed again.

Run after each statistics refresh and by ``popreg prune``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from popreg.registry.audit import AuditAction
from popreg.registry.job_models import ACTIVE_STATES, Job
from popreg.registry.models import AuditRecord
from popreg.stats.dashboard import list_snapshots, snapshots_root

log = logging.getLogger(__name__)

#: Audit actions whose records publish a result computed from a named snapshot.
PUBLISHING_ACTIONS = (AuditAction.EXPORT_SCORECARDS, AuditAction.EXPORT_STATISTICS, AuditAction.EXPORT_FILE)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def active_job_references() -> set[str]:
    """Every value in the parameters of the jobs that are queued or running."""
    names: set[str] = set()
    for params in Job.objects.filter(state__in=ACTIVE_STATES).values_list("params", flat=True):
        names.update(_strings(params))
    return names


def referenced_snapshots() -> set[str]:
    """Names of snapshots an unfinished job or a published result names."""
    names = active_job_references()
    published = AuditRecord.objects.filter(action__in=PUBLISHING_ACTIONS, detail__has_key="snapshot")
    names.update(str(d.get("snapshot")) for d in published.values_list("detail", flat=True))
    return names


def prune_snapshots(keep: int | None = None, *, dry_run: bool = False, root: Path | None = None,
                    also_keep: Iterable[str] = ()) -> list[Path]:
    """Delete the snapshots past the newest ``keep`` (default ``POPREG_KEEP_SNAPSHOTS``;
    0 keeps all) that nothing names, nor ``also_keep`` (the snapshot just written, whatever
    its moment); returns those deleted (or that would be)."""
    keep = settings.POPREG_KEEP_SNAPSHOTS if keep is None else keep
    if keep <= 0:
        return []
    stored = list_snapshots(root or snapshots_root())  # oldest first
    candidates = stored[:-keep]
    if not candidates:
        return []
    needed = referenced_snapshots() | set(also_keep)
    gone = [p for p in candidates if p.name not in needed]
    if dry_run:
        return gone
    deleted = []
    for p in gone:
        try:
            shutil.rmtree(p)
        except OSError:  # a refresh that published its snapshot does not fail on an old one
            log.warning("cannot delete the old snapshot %s", p, exc_info=True)
        else:
            deleted.append(p)
    return deleted
