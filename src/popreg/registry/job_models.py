"""Tables of the job runner (see :mod:`popreg.registry.jobs` and docs/jobs.md).

- :class:`Job`: one piece of long work (an import, a dedup run, a statistics refresh):
  who started it, over which unit, its state, stage, progress, messages, error and result.
  The django-tasks row (``django_tasks_db.DBTaskResult``) only carries "run job N"; the
  truth a user sees is here.
- :class:`JobWorker`: a heartbeat row per worker process, written every few seconds by
  ``popreg worker`` (the supervisor), so a worker that died is noticed within a minute.

Imported by ``popreg.registry.models``; the migration is ``registry/0004_job``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class JobState(models.TextChoices):
    """Where a job stands.  Only ``queued`` and ``running`` are *active*."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Job(models.Model):
    """One piece of long work run by the worker.

    ``stage`` is a key of the kind's stage table and ``stage_values`` its format values:
    the text is rendered in the reader's language at display time.  ``lock_key`` is set
    (``"<kind>:<unit_code>"``) while an *exclusive* job is active and cleared when it ends; a
    unique constraint on it makes "one job of this kind per unit at a time" hold on SQLite
    and PostgreSQL alike, without a race.
    """

    kind = models.CharField(max_length=40, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner_name = models.CharField(max_length=150)
    unit_code = models.CharField(max_length=15, blank=True, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=10, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=60, blank=True)
    stage_values = models.JSONField(default=dict, blank=True)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    # [{"level": "info"|"warning", "zh": ..., "en": ..., "at": iso time}, ...]
    messages = models.JSONField(default=list, blank=True)
    error_zh = models.TextField(blank=True)
    error_en = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)  # host:pid
    result_url = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    lock_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "-id"], name="registry_job_owner_idx")]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.unit_code} {self.state}"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.state == JobState.SUCCEEDED else None
        return min(100, round(100 * self.done / self.total))

    def as_log_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "unit_code": self.unit_code, "state": self.state}


class JobWorker(models.Model):
    """A live worker process (``host:pid``), its supervisor and its last heartbeat."""

    worker_id = models.CharField(max_length=100, unique=True)
    supervisor_id = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"worker {self.worker_id} ({self.heartbeat_at:%H:%M:%S})"
