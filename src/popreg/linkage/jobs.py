"""Dedup runs over a unit as jobs of the one job runner: export its persons, run the
engine, store candidates.

``start_dedup_run`` records a ``DedupRun`` (the result record the review pages link to) and
starts a ``dedup`` job (:mod:`popreg.registry.jobs`) for it, in one transaction: the job's
unique lock key refuses a second active run over the same unit, so two clicks cannot both
start one.  The worker reads the persons, runs the engine (progress and stage on the job)
and stores the candidates and the run's counts together with the job's success in one
transaction (``ctx.applying()``), so a worker killed half-way leaves no candidates behind.
The run's state follows its job (:func:`sync_run`): a run whose worker died shows as failed
and can be retried from the job's progress component.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop, pgettext

from popreg.linkage.models import DedupRun, DuplicateCandidate
from popreg.linkage.prepare import REQUIRED_COLUMNS
from popreg.linkage.review import evidence_from_pair, level_weights
from popreg.registry import jobs as runner
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.job_models import JobState
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Person, Status
from popreg.registry.policy import Permission

logger = logging.getLogger(__name__)

INPUT_COLUMNS = list(REQUIRED_COLUMNS)
MIN_RECORDS = 2


def unit_records(unit: AdminUnit) -> pd.DataFrame:
    """The unit's active, unmerged persons in the engine's input columns (record_id = person id)."""
    prefix = unit.code[: PREFIX_LENGTH[unit.level]]
    rows = (
        Person.objects.filter(
            registered_unit_id__startswith=prefix, status=Status.ACTIVE, merged_into__isnull=True
        )
        .order_by("id")
        .values_list(
            "id",
            "name",
            "sex",
            "birth_date",
            "id_number",
            "registered_unit_id",
            "household__household_no",
        )
    )
    data = [
        (
            str(pk),
            name or "",
            sex or "",
            bd.isoformat() if bd else "",
            idn or "",
            (unit_code or "")[:12],
            hh or "",
        )
        for pk, name, sex, bd, idn, unit_code, hh in rows.iterator(chunk_size=5000)
    ]
    return pd.DataFrame(data, columns=INPUT_COLUMNS, dtype=str)


def start_dedup_run(actor: Actor, unit_code: str, *, threshold: float | None = None) -> DedupRun:
    """Start a dedup run over ``unit_code`` (within the actor's jurisdiction) as a job.

    Whether it runs at once depends on the job backend (``TASKS``: the worker's queue in
    production, immediate in the tests).
    """
    unit = AdminUnit.objects.filter(code=(unit_code or "").strip()).first()
    if unit is None or unit.level not in ("county", "township", "village"):
        raise RegistryError(
            "请选择县、乡镇或村（居）", "choose a county, township or village", "unit"
        )
    actor.require(Permission.RUN_DEDUP, unit.code)
    if threshold is not None and not 0 < threshold < 1:
        raise RegistryError(
            "阈值应在 0 和 1 之间", "the threshold must be between 0 and 1", "threshold"
        )
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    with transaction.atomic():
        run = DedupRun.objects.create(
            unit=unit,
            started_by=user,
            started_by_name=actor.name,
            threshold=threshold,
            stage="queued",
        )
        audit(actor, AuditAction.START_DEDUP_RUN, run, unit_code=unit.code,
              detail={"threshold": threshold})  # fmt: skip
        job = runner.start_job(
            actor, "dedup", {"run_id": run.pk, "threshold": threshold}, unit_code=unit.code
        )
        DedupRun.objects.filter(pk=run.pk).update(job=job)
    run.refresh_from_db()
    return sync_run(run)


def sync_run(run: DedupRun) -> DedupRun:
    """Bring a run's state in line with its job (a job failed, cancelled or interrupted
    outside the handler leaves the run behind otherwise)."""
    job = run.job
    if job is None:
        return run
    runner.fail_dead_jobs(job_ids=[job.pk])
    job.refresh_from_db()
    state = {
        JobState.QUEUED: DedupRun.State.QUEUED, JobState.RUNNING: DedupRun.State.RUNNING,
        JobState.SUCCEEDED: DedupRun.State.DONE, JobState.FAILED: DedupRun.State.FAILED,
        JobState.CANCELLED: DedupRun.State.FAILED,
    }[JobState(job.state)]  # fmt: skip
    error = runner.job_error(job) if job.state in (JobState.FAILED, JobState.CANCELLED) else ""
    if job.state == JobState.CANCELLED:
        error = error or pgettext("dedup stage", "Cancelled")
    changes: dict[str, Any] = {}
    if run.state != state:
        changes["state"] = state
    if state == DedupRun.State.FAILED and run.error != error:
        changes["error"] = error
    if state == DedupRun.State.FAILED and run.finished_at is None:
        changes["finished_at"] = job.finished_at or timezone.now()
    if state == DedupRun.State.QUEUED and run.error:
        changes.update(error="", finished_at=None)  # retried
    if changes:
        DedupRun.objects.filter(pk=run.pk).update(**changes)
        for k, v in changes.items():
            setattr(run, k, v)
    return run


#: Stages of a run, stored by key in ``DedupRun.stage`` and shown in the user's language
#: (``stage_text``); the counts come from the run's own fields.
STAGES: dict[str, str] = {
    "queued": gettext_noop("Queued"),
    "reading": gettext_noop("Reading the persons of the unit"),
    "comparing": gettext_noop(
        "Read %(n_records)s persons; comparing names, pinyin, ID numbers, birth dates, sex "
        "and addresses"
    ),
    "too_few": gettext_noop("Fewer than two persons: nothing to compare"),
    "saving": gettext_noop("Comparison done: %(n_pairs)s suspected duplicate pairs; saving"),
    "done": gettext_noop(
        "Found %(n_pairs)s suspected duplicate pairs among %(n_records)s persons in %(seconds)s s"
    ),
    "failed": gettext_noop("Failed"),
    "interrupted": gettext_noop("Interrupted"),
}


def stage_text(run: DedupRun) -> str:
    """The run's stage in the active language (older runs stored the text itself)."""
    if run.job is not None:
        return runner.stage_text(run.job)
    template = STAGES.get(run.stage)
    if template is None:
        return run.stage
    return pgettext("dedup stage", template) % {
        "n_records": run.n_records, "n_pairs": run.n_pairs, "seconds": "0",
    }  # fmt: skip


def run_dedup(ctx: runner.JobContext) -> None:
    """The ``dedup`` job: compare the unit's persons and store the suspected pairs."""
    from popreg.linkage.engine import dedupe

    run = DedupRun.objects.select_related("unit").get(pk=ctx.params["run_id"])
    t0 = time.monotonic()
    DedupRun.objects.filter(pk=run.pk).update(
        state=DedupRun.State.RUNNING, started_at=timezone.now(), error="", finished_at=None
    )
    ctx.progress(2, 100, "reading")
    records = unit_records(run.unit)
    run.n_records = len(records)
    ctx.progress(10, 100, "comparing", n_records=len(records))
    if len(records) < MIN_RECORDS:
        with ctx.applying():
            ctx.progress(100, 100, "too_few")
            _finish_run(run, ctx)
        return
    result = dedupe(records, threshold=run.threshold)
    cut = run.threshold if run.threshold is not None else result.model.threshold
    # Nothing is merged here: the likely pairs (at or above the threshold) and the uncertain
    # ones (the engine's review band below it, and pairs the clustering refused) all go to
    # the review queue, which lists them by probability.
    pairs = pd.concat(
        [result.pairs[result.pairs["match_probability"] >= cut], result.review]
    ).drop_duplicates(["record_id_l", "record_id_r"])
    run.n_pairs, run.threshold = len(pairs), cut
    ctx.progress(80, 100, "saving", n_pairs=len(pairs))
    weights = level_weights(result.model.splink)
    with ctx.applying():
        run.n_new, run.n_updated, run.n_decided = _store(run, pairs.to_dict("records"), weights)
        ctx.progress(100, 100, "done", n_pairs=len(pairs), n_records=len(records),
                     seconds=f"{time.monotonic() - t0:.0f}")  # fmt: skip
        _finish_run(run, ctx)


def _finish_run(run: DedupRun, ctx: runner.JobContext) -> None:
    run.state, run.progress, run.finished_at = DedupRun.State.DONE, 100, timezone.now()
    run.stage = ctx._stage
    run.save(update_fields=[
        "state", "progress", "finished_at", "stage", "n_records", "n_pairs", "threshold",
        "n_new", "n_updated", "n_decided",
    ])  # fmt: skip
    ctx.set_result(
        url=f"{reverse('linkage:index')}?unit={run.unit_id}",
        data={"run": run.pk, "n_records": run.n_records, "n_pairs": run.n_pairs, "n_new": run.n_new},
    )


def _store(
    run: DedupRun, pairs: list[dict[str, Any]], weights: dict[str, dict[int, float]]
) -> tuple[int, int, int]:
    """Create new candidates, rescore pending ones, leave decided ones alone."""
    keyed: dict[tuple[int, int], dict[str, Any]] = {}
    for row in pairs:
        a, b = int(row["record_id_l"]), int(row["record_id_r"])
        keyed[(min(a, b), max(a, b))] = row
    new = updated = decided = 0
    ids = sorted({p for key in keyed for p in key})
    existing: dict[tuple[int, int], DuplicateCandidate] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for c in DuplicateCandidate.objects.filter(person_a_id__in=chunk):
            existing[(c.person_a_id, c.person_b_id)] = c
    to_create: list[DuplicateCandidate] = []
    to_update: list[DuplicateCandidate] = []
    for key, row in keyed.items():
        evidence = evidence_from_pair(row, weights)
        c = existing.get(key)
        if c is None:
            to_create.append(
                DuplicateCandidate(
                    person_a_id=key[0],
                    person_b_id=key[1],
                    match_weight=float(row["match_weight"]),
                    match_probability=float(row["match_probability"]),
                    evidence=evidence,
                    run=run,
                )
            )
        elif c.status == DuplicateCandidate.Status.PENDING:
            c.match_weight = float(row["match_weight"])
            c.match_probability = float(row["match_probability"])
            c.evidence = evidence
            c.run = run
            to_update.append(c)
        else:
            decided += 1
    with transaction.atomic():
        # A concurrent run over an overlapping unit may have stored the same pair meanwhile.
        DuplicateCandidate.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
        DuplicateCandidate.objects.bulk_update(
            to_update, ["match_weight", "match_probability", "evidence", "run"], batch_size=1000
        )
    new, updated = len(to_create), len(to_update)
    return new, updated, decided


DEDUP = runner.register(runner.JobKind(
    name="dedup", label=gettext_noop("Duplicate search"), permission=Permission.RUN_DEDUP,
    handler=run_dedup, stages=STAGES, exclusive=True, stage_context="dedup stage",
))  # fmt: skip
