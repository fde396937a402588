"""Duplicate review: dedup runs, candidate pairs and their decisions, merges.

The registry itself is only changed through ``popreg.linkage.actions`` (which go through
the registry's event history); these tables record what the linkage engine proposed,
what a reviewer decided, and which merges were made (and undone).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from popreg.registry.models import AdminUnit, Event, Person


class DedupRun(models.Model):
    """One run of the linkage engine over the persons of a unit."""

    class State(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "运行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    unit = models.ForeignKey(AdminUnit, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_by_name = models.CharField(max_length=150)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    stage = models.CharField(max_length=200, blank=True)  # what the job is doing now (Chinese)
    threshold = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_records = models.PositiveIntegerField(default=0)
    n_pairs = models.PositiveIntegerField(default=0)  # pairs at or above the threshold
    n_new = models.PositiveIntegerField(default=0)  # new candidates
    n_updated = models.PositiveIntegerField(default=0)  # pending candidates rescored
    n_decided = models.PositiveIntegerField(default=0)  # pairs skipped: already decided
    error = models.TextField(blank=True)
    # The job that runs it (state, progress, cancel and retry live there).
    job = models.OneToOneField(
        "registry.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="dedup_run"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"dedup run {self.pk} {self.unit_id} {self.state}"


class DuplicateCandidate(models.Model):
    """Two registry records the engine scored as possibly one person (``person_a.pk < person_b.pk``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待审核"
        SAME_PERSON = "same_person", "同一人"
        DIFFERENT_PEOPLE = "different_people", "不同的人"

    person_a = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    match_weight = models.FloatField()
    match_probability = models.FloatField()
    # [{"comparison": "name", "gamma": 3, "level": "same characters", "weight": 9.1}, ...]
    evidence = models.JSONField(default=list)
    run = models.ForeignKey(
        DedupRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-match_probability", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="linkage_candidate_pair"),
        ]
        indexes = [models.Index(fields=["status", "match_probability"])]

    def __str__(self) -> str:
        return f"candidate {self.person_a_id}~{self.person_b_id} {self.status}"


class MergeRecord(models.Model):
    """A merge of ``duplicate`` into ``survivor``; undone merges stay, flagged."""

    survivor = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    duplicate = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, blank=True, on_delete=models.PROTECT, related_name="merges"
    )
    reason = models.TextField()
    # {field: [before, after]} filled on the survivor from the duplicate.
    filled = models.JSONField(default=dict)
    # The duplicate's full state just before the merge (Person.state()).
    duplicate_before = models.JSONField(default=dict)
    survivor_event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    duplicate_event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_by_name = models.CharField(max_length=150)
    merged_at = models.DateTimeField(auto_now_add=True)
    undone = models.BooleanField(default=False)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undone_by_name = models.CharField(max_length=150, blank=True)
    undo_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"merge {self.duplicate_id}→{self.survivor_id}{' (undone)' if self.undone else ''}"


class EntryKey(models.Model):
    """One blocking key of a registry person, for the duplicate check at data entry.

    The keys are those of the engine's blocking rules (``popreg.linkage.entrycheck``), kept
    up to date as persons are created, changed and merged (``popreg.linkage.index``), so a
    new record's likely duplicates are found by an indexed lookup instead of a run over the
    county.  Merged records have no keys (their survivor stands for them).
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_constraint=True)
    key = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "person"], name="linkage_entrykey_unique")]
        indexes = [models.Index(fields=["person"], name="linkage_entrykey_person")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.key}"
