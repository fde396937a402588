"""Background dedup runs over a unit: export its persons, run the engine, store candidates.

``start_dedup_run`` records a ``DedupRun`` and runs it in a thread (after the starting
transaction commits); the thread uses its own database connection and closes it at the
end, so it works the same on SQLite and PostgreSQL.  Progress (percent and a stage in
Chinese) is saved on the run as it goes; the web page polls it.  With
``synchronous=True`` (or the setting ``POPREG_LINKAGE_SYNC_JOBS = True``, used by the
tests) the run happens inside the call.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop, pgettext

from popreg.linkage.models import DedupRun, DuplicateCandidate
from popreg.linkage.prepare import REQUIRED_COLUMNS
from popreg.linkage.review import evidence_from_pair, level_weights
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Person, Status

logger = logging.getLogger(__name__)

INPUT_COLUMNS = list(REQUIRED_COLUMNS)
MIN_RECORDS = 2
STALE_AFTER = timedelta(hours=6)  # a run still unfinished after this was interrupted


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


def start_dedup_run(
    actor: Actor, unit_code: str, *, threshold: float | None = None, synchronous: bool | None = None
) -> DedupRun:
    """Start a dedup run over ``unit_code`` (within the actor's jurisdiction)."""
    actor.check_write()
    unit = AdminUnit.objects.filter(code=(unit_code or "").strip()).first()
    if unit is None or unit.level not in ("county", "township", "village"):
        raise RegistryError(
            "请选择县、乡镇或村（居）", "choose a county, township or village", "unit"
        )
    actor.check_unit(unit.code)
    if threshold is not None and not 0 < threshold < 1:
        raise RegistryError(
            "阈值应在 0 和 1 之间", "the threshold must be between 0 and 1", "threshold"
        )
    _fail_stale_runs(unit)
    busy = DedupRun.objects.filter(
        unit=unit, state__in=(DedupRun.State.QUEUED, DedupRun.State.RUNNING)
    ).first()
    if busy is not None:
        raise RegistryError(
            f"{unit.name} 已有正在进行的查重（第 {busy.pk} 次），请等待其完成",
            f"a run over {unit.code} is already in progress ({busy.pk})",
            "unit",
        )
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    run = DedupRun.objects.create(
        unit=unit,
        started_by=user,
        started_by_name=actor.name,
        threshold=threshold,
        stage="queued",
    )
    audit(actor, AuditAction.START_DEDUP_RUN, run, unit_code=unit.code, detail={"threshold": threshold})
    sync = (
        getattr(settings, "POPREG_LINKAGE_SYNC_JOBS", False) if synchronous is None else synchronous
    )
    if sync:
        run_job(run.pk)
        run.refresh_from_db()
    else:
        thread = threading.Thread(
            target=_thread_main, args=(run.pk,), name=f"dedup-run-{run.pk}", daemon=True
        )
        transaction.on_commit(thread.start)
    return run


def _fail_stale_runs(unit: AdminUnit) -> None:
    """Runs left queued or running by a stopped server would block the unit for ever."""
    cutoff = timezone.now() - STALE_AFTER
    DedupRun.objects.filter(
        unit=unit, state__in=(DedupRun.State.QUEUED, DedupRun.State.RUNNING), created_at__lt=cutoff
    ).update(
        state=DedupRun.State.FAILED,
        stage="interrupted",
        finished_at=timezone.now(),
        error="查重被中断（服务重启或超时），请重新运行 / the run was interrupted; start it again",
    )


def _thread_main(run_pk: int) -> None:
    close_old_connections()
    try:
        run_job(run_pk)
    finally:
        connection.close()


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
    template = STAGES.get(run.stage)
    if template is None:
        return run.stage
    seconds = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at and run.started_at
        else 0
    )
    return pgettext("dedup stage", template) % {
        "n_records": run.n_records, "n_pairs": run.n_pairs, "seconds": f"{seconds:.0f}",
    }  # fmt: skip


def _progress(run: DedupRun, percent: int, stage: str, **fields: Any) -> None:
    run.progress = percent
    run.stage = stage
    for k, v in fields.items():
        setattr(run, k, v)
    run.save(update_fields=["progress", "stage", *fields])


def run_job(run_pk: int) -> DedupRun:
    """Do the work of one run; never raises (a failure is stored on the run)."""
    run = DedupRun.objects.select_related("unit").get(pk=run_pk)
    _progress(run, 2, "reading", state=DedupRun.State.RUNNING, started_at=timezone.now())
    try:
        _run(run)
    except Exception as exc:  # noqa: BLE001 - the failure is shown to the user on the run page
        logger.exception("dedup run %s failed", run_pk)
        message = getattr(exc, "message", None) or str(exc)
        _progress(
            run,
            run.progress,
            "failed",
            state=DedupRun.State.FAILED,
            finished_at=timezone.now(),
            error=str(message)[:2000],
        )
    return run


def _run(run: DedupRun) -> None:
    from popreg.linkage.engine import dedupe

    records = unit_records(run.unit)
    _progress(
        run,
        10,
        "comparing",
        n_records=len(records),
    )
    if len(records) < MIN_RECORDS:
        _progress(
            run,
            100,
            "too_few",
            state=DedupRun.State.DONE,
            finished_at=timezone.now(),
        )
        return
    result = dedupe(records, threshold=run.threshold)
    cut = run.threshold if run.threshold is not None else result.model.threshold
    pairs = result.pairs[result.pairs["match_probability"] >= cut]
    _progress(
        run, 80, "saving", n_pairs=len(pairs), threshold=cut
    )
    weights = level_weights(result.model.splink)
    new, updated, decided = _store(run, pairs.to_dict("records"), weights)
    _progress(
        run,
        100,
        "done",
        state=DedupRun.State.DONE,
        finished_at=timezone.now(),
        n_new=new,
        n_updated=updated,
        n_decided=decided,
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
