"""Retention: old snapshots, uploads and job files go; what is still named stays."""

from __future__ import annotations

import os
import time

import pytest
from django.core.management import CommandError, call_command

from popreg.registry.audit import AuditAction, audit
from popreg.registry.job_models import Job, JobState
from popreg.stats.retention import prune_snapshots
from popreg.web.retention import prune_uploads

MOMENTS = ["2021-01-01T0000", "2022-01-01T0000", "2023-01-01T0000", "2024-01-01T0000", "2025-01-01T0000"]
DAY = 86400


@pytest.fixture
def home(settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    for m in MOMENTS:
        (tmp_path / "snapshots" / m).mkdir(parents=True)
        (tmp_path / "snapshots" / m / "manifest.json").write_text("{}")
    (tmp_path / "snapshots" / ".writing-x").mkdir()  # a refresh under way is not a snapshot
    return tmp_path


def _stored(home):
    return sorted(p.name for p in (home / "snapshots").iterdir() if not p.name.startswith("."))


def _job(users, state=JobState.QUEUED, **params):
    return Job.objects.create(kind="assessment", owner=users["admin"], owner_name="admin",
                              params=params, state=state)


def test_the_newest_snapshots_are_kept(db, home):
    gone = prune_snapshots(2)
    assert [p.name for p in gone] == MOMENTS[:3]
    assert _stored(home) == MOMENTS[3:]
    assert (home / "snapshots" / ".writing-x").is_dir()
    assert prune_snapshots(0) == []  # 0 keeps all


def test_the_setting_is_the_default_and_dry_run_deletes_nothing(db, home, settings):
    settings.POPREG_KEEP_SNAPSHOTS = 4
    assert [p.name for p in prune_snapshots(dry_run=True)] == MOMENTS[:1]
    assert _stored(home) == MOMENTS
    prune_snapshots()
    assert _stored(home) == MOMENTS[1:]


def test_a_snapshot_named_by_an_unfinished_job_or_a_published_result_is_kept(db, home, users, actors):
    job = _job(users, snapshot=MOMENTS[0], year=2024)
    audit(actors["admin"], AuditAction.EXPORT_SCORECARDS, None, detail={"snapshot": MOMENTS[1], "year": 2024})
    audit(actors["admin"], AuditAction.STATS_REFRESH, None, detail={"snapshot": MOMENTS[2]})  # not a publication
    prune_snapshots(1)
    assert _stored(home) == [MOMENTS[0], MOMENTS[1], MOMENTS[4]]
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    prune_snapshots(1)
    assert _stored(home) == [MOMENTS[1], MOMENTS[4]]


def test_the_snapshot_just_written_is_kept_whatever_its_moment(db, home):
    prune_snapshots(1, also_keep={MOMENTS[0]})
    assert _stored(home) == [MOMENTS[0], MOMENTS[4]]


def _folder(home, root, name, age_days):
    folder = home / root / name
    folder.mkdir(parents=True)
    (folder / "upload.bin").write_bytes(b"x" * 1000)
    then = time.time() - age_days * DAY
    for p in (folder / "upload.bin", folder):
        os.utime(p, (then, then))
    return folder


def test_old_uploads_and_job_files_go_unless_an_unfinished_job_needs_them(db, home, users, settings):
    settings.POPREG_KEEP_UPLOAD_DAYS = 30
    running = _job(users, state=JobState.RUNNING, import_id="imp-kept")
    old = [_folder(home, "imports", "imp-old", 40), _folder(home, "fieldlists", "7001", 31),
           _folder(home, "assessments", "7002", 90)]
    kept = [_folder(home, "imports", "imp-new", 3), _folder(home, "imports", "imp-kept", 60),
            _folder(home, "fieldlists", str(running.pk), 60)]
    dry = prune_uploads(dry_run=True)
    assert sorted(dry.folders) == sorted(old) and dry.bytes == 3000
    assert all(p.is_dir() for p in old)
    assert sorted(prune_uploads().folders) == sorted(old)
    assert not any(p.exists() for p in old)
    assert all(p.is_dir() for p in kept)
    assert prune_uploads(0).folders == []


def test_prune_command(db, home, settings):
    settings.POPREG_KEEP_SNAPSHOTS = 3
    old = _folder(home, "imports", "imp-old", 40)
    call_command("prune", "--dry-run")
    assert _stored(home) == MOMENTS and old.is_dir()
    call_command("prune", "--keep-days", "50")
    assert _stored(home) == MOMENTS[2:] and old.is_dir()
    call_command("prune", "--keep-snapshots", "1")
    assert _stored(home) == MOMENTS[4:] and not old.exists()
    with pytest.raises(CommandError, match="negative"):
        call_command("prune", "--keep-days", "-1")
