"""Retention of the files jobs leave under ``POPREG_HOME`` (``POPREG_KEEP_UPLOAD_DAYS``):
import uploads (``imports/<id>/``), printed field lists (``fieldlists/<job>/``) and
assessment results (``assessments/<job>/``).  A folder whose newest file is older than the
limit goes, unless a job that has not finished names it; the job's page then says its file
is gone.  Snapshots follow their own rule (:mod:`popreg.stats.retention`).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from popreg.campaigns.jobs import field_list_root
from popreg.registry.import_jobs import import_root
from popreg.registry.job_models import ACTIVE_STATES, Job
from popreg.stats.jobs import assessment_root
from popreg.stats.retention import active_job_references


def upload_roots() -> dict[str, Path]:
    """The folders whose sub-folders (one per upload or job) are pruned by age."""
    return {"imports": import_root(), "fieldlists": field_list_root(), "assessments": assessment_root()}


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for p in folder.rglob("*"):
        newest = max(newest, p.lstat().st_mtime)
    return newest


@dataclass
class Pruned:
    folders: list[Path] = field(default_factory=list)
    bytes: int = 0


def prune_uploads(days: int | None = None, *, dry_run: bool = False, now: float | None = None) -> Pruned:
    """Delete the upload and job result folders untouched for more than ``days`` (default
    ``POPREG_KEEP_UPLOAD_DAYS``; 0 keeps all) that no unfinished job names."""
    days = settings.POPREG_KEEP_UPLOAD_DAYS if days is None else days
    out = Pruned()
    if days <= 0:
        return out
    cutoff = (now if now is not None else time.time()) - days * 86400
    # Folders named by an unfinished job's parameters (an upload) or by its id (its output).
    in_use = active_job_references() | {str(pk) for pk in Job.objects.filter(
        state__in=ACTIVE_STATES).values_list("pk", flat=True)}
    for root in upload_roots().values():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or folder.is_symlink() or folder.name.lstrip(".") in in_use:
                continue
            if _newest_mtime(folder) >= cutoff:
                continue
            out.bytes += sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file())
            out.folders.append(folder)
            if not dry_run:
                shutil.rmtree(folder)
    return out
