"""The one job runner: long work (imports, dedup runs, refreshes, PDFs) as *jobs*.

A job is a :class:`~popreg.registry.job_models.Job` row (kind, owner, unit, params, state,
stage, done/total, messages, error, result) run by a django-tasks worker (``popreg worker``,
see docs/jobs.md).  Nothing long runs in a request or on a thread.

Writing a kind::

    from django.utils.translation import gettext_noop
    from popreg.registry.jobs import JobContext, JobKind, register, start_job
    from popreg.registry.policy import Permission

    def refresh(ctx: JobContext) -> None:
        ctx.progress(0, 2, "reading")                  # stage key + format values
        data = read_everything(ctx.params["year"])     # no writes yet
        ctx.progress(1, 2, "computing", n=len(data))   # raises JobCancelled if asked to stop
        with ctx.applying():                           # ONE transaction: results + "succeeded"
            write_results(data)
            ctx.set_result(url=f"/stats/{ctx.params['year']}/", data={"rows": len(data)})

    register(JobKind(
        name="stats_refresh",
        label=gettext_noop("Statistics refresh"),
        permission=Permission.REFRESH_STATISTICS,
        handler=refresh,
        stages={"reading": gettext_noop("Reading the registry"),
                "computing": gettext_noop("Computing %(n)s rows")},
        exclusive=True,                                 # one active job per unit at a time
    ))

    job = start_job(actor, "stats_refresh", {"year": 2025}, unit_code="110105000000")

Register kinds in the app's ``AppConfig.ready`` (import the module) so the worker knows
them.  A handler

- reads params from ``ctx.params`` and acts as ``ctx.actor`` (the job's owner);
- calls :meth:`JobContext.progress` now and then: it stores stage/done/total (visible to
  the progress component at once), refreshes the heartbeat and raises
  :class:`JobCancelled` when the user asked to cancel;
- writes its results at the end inside ``with ctx.applying():`` (or to a temporary file
  renamed into place), so a worker killed half-way leaves nothing half-applied; a handler
  that returns without ``applying()`` is marked succeeded afterwards;
- raises :class:`~popreg.registry.errors.RegistryError` for a failure the user can act on
  (its two messages become the job's error); any other exception fails the job with
  "internal error".

States: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``.  A running job
whose worker stopped beating for :data:`HEARTBEAT_TIMEOUT` is failed as *interrupted*
(:func:`fail_dead_jobs`, called when jobs are listed or polled and when a job of the kind
starts; the supervisor also does it at once when its worker process dies).  Failed and
cancelled jobs can be retried (:func:`do_retry_job`): the same row runs again.

Actions: :func:`start_job`, :func:`do_cancel_job`, :func:`do_retry_job` (permission checked,
audited).  Reads: :func:`visible_jobs`, :func:`job_for`, :func:`progress_data`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_noop, pgettext
from django_tasks import TaskContext, task

from popreg.registry.access import Actor, actor_for, system_actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.job_models import ACTIVE_STATES, Job, JobState, JobWorker
from popreg.registry.policy import Permission

__all__ = [
    "HEARTBEAT_TIMEOUT",
    "JobAborted",
    "JobCancelled",
    "JobContext",
    "JobKind",
    "current_worker_id",
    "do_cancel_job",
    "do_retry_job",
    "execute_job",
    "fail_dead_jobs",
    "fail_worker_jobs",
    "get_kind",
    "job_for",
    "progress_data",
    "register",
    "stage_text",
    "start_job",
    "visible_jobs",
]

log = logging.getLogger(__name__)

#: A running job whose worker has not beaten for this long was interrupted.
HEARTBEAT_TIMEOUT = timedelta(seconds=60)
#: ``ctx.progress`` writes at most this often (stage changes are written at once).
PROGRESS_EVERY_S = 0.5
MAX_MESSAGES = 50

INTERRUPTED = (
    "任务被中断（工作进程停止），未写入任何结果；可点击“重试”重新运行",
    "the job was interrupted (its worker stopped); nothing was applied; retry it",
)

#: Stages every job may show (a kind's own stages are added to these).
COMMON_STAGES: dict[str, str] = {
    "": gettext_noop("Waiting for a worker"),
    "queued": gettext_noop("Waiting for a worker"),
    "started": gettext_noop("Started"),
    "done": gettext_noop("Done"),
}


class JobCancelled(Exception):
    """Raised inside a handler when the user asked to cancel the job."""


class JobAborted(Exception):
    """Raised inside a handler when its job is no longer running (failed as interrupted)."""


@dataclass(frozen=True)
class JobKind:
    """A kind of job: what it is called, who may start it and the code that runs it."""

    name: str
    label: str  # English msgid (gettext_noop), translated at display
    permission: Permission
    handler: Callable[[JobContext], None]
    stages: Mapping[str, str] = field(default_factory=dict)  # key -> English msgid
    exclusive: bool = False  # at most one active job of this kind per unit
    retryable: bool = True
    stage_context: str = ""  # pgettext context of the stage msgids, if they have one

    def stage_template(self, key: str) -> str | None:
        return self.stages.get(key) or COMMON_STAGES.get(key)


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Make ``kind`` known to :func:`start_job` and the worker (idempotent per name)."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise RegistryError(
            f"未知的任务类型 {name}", f"unknown job kind {name}", "kind"
        ) from None


def current_worker_id() -> str:
    """``host:pid`` of this process, as stored on the jobs it runs."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _lock_key(kind: JobKind, unit_code: str) -> str | None:
    return f"{kind.name}:{unit_code}" if kind.exclusive else None


def _busy_error(kind: JobKind, unit_code: str) -> RegistryError:
    busy = Job.objects.filter(lock_key=_lock_key(kind, unit_code)).first()
    n = busy.pk if busy else "?"
    return RegistryError(
        f"单位 {unit_code} 已有进行中的同类任务（第 {n} 号），请等待其完成或先取消它",
        f"a job of this kind over {unit_code} is already in progress (job {n}); "
        "wait for it or cancel it first",
        "unit",
    )


def _uses_database_queue() -> bool:
    from django_tasks import task_backends

    return task_backends[run_job_task.backend].supports_get_result


# --------------------------------------------------------------------------- actions


def start_job(
    actor: Actor,
    kind: str,
    params: Mapping[str, Any] | None = None,
    *,
    unit_code: str = "",
) -> Job:
    """Queue a job of ``kind`` over ``unit_code`` for ``actor`` and return it.

    Checks ``actor.require(kind.permission, unit_code)``, refuses a second active job of an
    exclusive kind over the same unit (a unique key, so two concurrent starts cannot both
    pass), audits ``START_JOB`` and enqueues the task.  With the database backend the task
    row is written in the same transaction as the job (the worker sees both at commit);
    with the immediate backend the job runs right after this function's transaction.
    """
    k = get_kind(kind)
    actor.require(k.permission, unit_code or None)
    fail_dead_jobs(kind=k.name)
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    queue = _uses_database_queue()
    with transaction.atomic():
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=k.name,
                    owner=user,
                    owner_name=actor.name,
                    unit_code=unit_code,
                    params=dict(params or {}),
                    stage="queued",
                    lock_key=_lock_key(k, unit_code),
                )
        except IntegrityError:
            raise _busy_error(k, unit_code) from None
        audit(actor, AuditAction.START_JOB, job, unit_code=unit_code,
              detail={"kind": k.name, "params": job.params})  # fmt: skip
        if queue:
            _enqueue(job)
    if not queue:
        _enqueue(job)
    job.refresh_from_db()
    return job


def _enqueue(job: Job) -> None:
    result = run_job_task.enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))


def _may_manage(actor: Actor, job: Job) -> bool:
    return (job.owner_id is not None and job.owner_id == actor.user_id) or _sees_all(actor)


def _sees_all(actor: Actor) -> bool:
    return actor.can(Permission.MANAGE_JOBS)


def do_cancel_job(actor: Actor, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next progress report."""
    actor.require(Permission.VIEW_JOBS, job.unit_code or None)
    if not _may_manage(actor, job):
        raise RegistryError("只能取消自己启动的任务", "you can cancel only your own jobs")
    fail_dead_jobs(job_ids=[job.pk])
    now = timezone.now()
    with transaction.atomic():
        n = Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.CANCELLED, finished_at=now, lock_key=None, cancel_requested=True
        )
        if not n:
            n = Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(cancel_requested=True)
        if not n:
            raise RegistryError(
                "任务已结束，无需取消", "the job has already finished; there is nothing to cancel"
            )
        audit(actor, AuditAction.CANCEL_JOB, job, unit_code=job.unit_code,
              detail={"kind": job.kind})  # fmt: skip
    job.refresh_from_db()
    return job


def do_retry_job(actor: Actor, job: Job) -> Job:
    """Run a failed or cancelled job again (the same row, ``attempts`` goes up)."""
    k = get_kind(job.kind)
    actor.require(k.permission, job.unit_code or None)
    if not _may_manage(actor, job):
        raise RegistryError("只能重试自己启动的任务", "you can retry only your own jobs")
    fail_dead_jobs(job_ids=[job.pk])
    if not k.retryable:
        raise RegistryError("此类任务不能重试，请重新发起", "this kind of job cannot be retried; start a new one")
    queue = _uses_database_queue()
    with transaction.atomic():
        try:
            with transaction.atomic():
                n = Job.objects.filter(
                    pk=job.pk, state__in=(JobState.FAILED, JobState.CANCELLED)
                ).update(
                    state=JobState.QUEUED, cancel_requested=False, error_zh="", error_en="",
                    stage="queued", stage_values={}, done=0, total=0, messages=[],
                    started_at=None, finished_at=None, heartbeat_at=None, worker_id="",
                    result={}, result_url="", lock_key=_lock_key(k, job.unit_code),
                )  # fmt: skip
        except IntegrityError:
            raise _busy_error(k, job.unit_code) from None
        if not n:
            raise RegistryError(
                "只有失败或已取消的任务可以重试", "only a failed or cancelled job can be retried"
            )
        audit(actor, AuditAction.RETRY_JOB, job, unit_code=job.unit_code,
              detail={"kind": job.kind, "attempts": job.attempts})  # fmt: skip
        if queue:
            _enqueue(job)
    if not queue:
        _enqueue(job)
    job.refresh_from_db()
    return job


# --------------------------------------------------------------------------- dead workers


def fail_dead_jobs(*, kind: str | None = None, job_ids: list[int] | None = None) -> int:
    """Fail (as interrupted) running jobs whose worker and own heartbeat are both older than
    :data:`HEARTBEAT_TIMEOUT` (and, for a worker on this machine, whose process is gone).

    Reads first and writes only when a job is dead, so polling costs no write (on SQLite a
    long import holds the write lock and the supervisor cannot beat meanwhile; the process
    check keeps such a job alive).  The UPDATE repeats the heartbeat test, so a job that
    reported progress or finished in between is left alone.
    """
    cutoff = timezone.now() - HEARTBEAT_TIMEOUT
    alive = JobWorker.objects.filter(heartbeat_at__gte=cutoff).values("worker_id")
    stale = Q(state=JobState.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
    qs = Job.objects.filter(stale).exclude(worker_id__in=alive)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if job_ids is not None:
        qs = qs.filter(pk__in=job_ids)
    dead = [(pk, task) for pk, worker, task in qs.values_list("pk", "worker_id", "task_result_id")
            if not _process_alive_here(worker)]  # fmt: skip
    if not dead:
        return 0
    n = Job.objects.filter(stale, pk__in=[pk for pk, _ in dead]).update(
        state=JobState.FAILED, finished_at=timezone.now(), lock_key=None,
        error_zh=INTERRUPTED[0], error_en=INTERRUPTED[1],
    )  # fmt: skip
    if n:
        log.warning("%s job(s) failed as interrupted (no heartbeat for %s)", n, HEARTBEAT_TIMEOUT)
        _fail_task_rows([task for _, task in dead if task], "no heartbeat")
    return n


def _process_alive_here(worker_id: str) -> bool:
    """Whether ``host:pid`` is a process still running on this machine."""
    host, _, pid = worker_id.rpartition(":")
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_task_rows(task_ids: list[str], why: str) -> None:
    """The django-tasks rows of dead jobs would stay RUNNING for ever: close them too."""
    if not task_ids or not _uses_database_queue():
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(pk__in=task_ids, status="RUNNING").update(
        status="FAILED", finished_at=timezone.now(),
        exception_class_path="popreg.registry.jobs.JobAborted", traceback=why,
    )  # fmt: skip


def fail_worker_jobs(worker_id: str) -> int:
    """The worker process ``worker_id`` died: fail its jobs at once (called by the
    supervisor), including a job whose task it had claimed but not yet started."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    claimed: list[str] = [
        str(r.pk)
        for r in DBTaskResult.objects.filter(status="RUNNING").only("id", "worker_ids")
        if worker_id in (r.worker_ids or [])
    ]
    n = Job.objects.filter(
        Q(state=JobState.RUNNING, worker_id=worker_id)
        | Q(state__in=ACTIVE_STATES, task_result_id__in=claimed)
    ).update(
        state=JobState.FAILED, finished_at=now, lock_key=None,
        error_zh=INTERRUPTED[0], error_en=INTERRUPTED[1],
    )  # fmt: skip
    _fail_task_rows(claimed, f"worker {worker_id} died")
    return n


# --------------------------------------------------------------------------- running


class JobContext:
    """What a handler gets: its job's params and actor, progress, messages, results."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.params: dict[str, Any] = dict(job.params or {})
        self._stage = job.stage
        self._values: dict[str, Any] = {}
        self._done = 0
        self._total = 0
        self._messages: list[dict[str, str]] = list(job.messages or [])
        self._dirty_messages = False
        self._last_write = 0.0
        self._depth = len(connection.atomic_blocks)
        self.result: dict[str, Any] = {}
        self.result_url = ""
        self.finished = False

    @property
    def actor(self) -> Actor:
        """The job's owner as an :class:`Actor` (a system actor for command-line jobs)."""
        owner = self.job.owner
        if owner is None:
            return system_actor(self.job.owner_name or "system")
        return actor_for(owner)

    def progress(self, done: int, total: int, stage: str | None = None, **values: Any) -> None:
        """Report progress; refresh the heartbeat; raise :class:`JobCancelled` if asked to.

        Written at most every half second (at once when the stage changes or ``done``
        reaches ``total``).  Inside a transaction the handler opened, the values are kept
        and written with the result (nobody could read them before the commit anyway).
        """
        if self.finished:
            return
        changed = stage is not None and (stage != self._stage or values != self._values)
        if stage is not None:
            self._stage = stage
            self._values = {k: v for k, v in values.items()}
        self._done, self._total = int(done), int(total)
        now = time.monotonic()
        if not (changed or self._dirty_messages or now - self._last_write >= PROGRESS_EVERY_S
                or (total and done >= total)):  # fmt: skip
            return
        if len(connection.atomic_blocks) > self._depth:
            return
        self._last_write = now
        self._write()

    def message(self, zh: str, en: str, *, level: str = "info") -> None:
        """Add a line to the job's messages (shown under the progress bar)."""
        self._messages = [
            *self._messages,
            {"level": level, "zh": zh, "en": en, "at": timezone.now().isoformat()},
        ][-MAX_MESSAGES:]
        self._dirty_messages = True
        if not self.finished and len(connection.atomic_blocks) == self._depth:
            self._write()

    def check_cancel(self) -> None:
        """Raise :class:`JobCancelled` when the user asked to cancel (without progress)."""
        self._write()

    def set_result(self, *, url: str = "", data: Mapping[str, Any] | None = None) -> None:
        """Where the result can be seen and a small JSON summary (stored on success)."""
        self.result_url = url
        self.result = dict(data or {})

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "done": self._done, "total": self._total, "stage": self._stage,
            "stage_values": self._values, "heartbeat_at": timezone.now(),
        }  # fmt: skip
        if self._dirty_messages:
            out["messages"] = self._messages
        return out

    def _write(self) -> None:
        n = Job.objects.filter(
            pk=self.job.pk, state=JobState.RUNNING, cancel_requested=False
        ).update(**self._fields())
        if not n:
            self._raise_why()
        self._dirty_messages = False

    def _raise_why(self) -> None:
        job = Job.objects.get(pk=self.job.pk)
        if job.state == JobState.RUNNING and job.cancel_requested:
            raise JobCancelled(f"job {job.pk} cancelled")
        raise JobAborted(f"job {job.pk} is {job.state}")

    @contextmanager
    def applying(self) -> Iterator[None]:
        """One transaction for the handler's writes *and* the job's success: if the job was
        cancelled or failed meanwhile nothing is written; if the worker dies, nothing is."""
        with transaction.atomic():
            n = Job.objects.filter(
                pk=self.job.pk, state=JobState.RUNNING, cancel_requested=False
            ).update(heartbeat_at=timezone.now())
            if not n:
                self._raise_why()
            yield
            self._succeed()
        self.finished = True

    def _succeed(self) -> None:
        fields = self._fields()
        fields["messages"] = self._messages
        Job.objects.filter(pk=self.job.pk).update(
            **fields, state=JobState.SUCCEEDED, finished_at=timezone.now(), lock_key=None,
            result=self.result, result_url=self.result_url,
        )  # fmt: skip


def _finish(job_id: int, state: JobState, error: tuple[str, str] = ("", "")) -> None:
    Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(
        state=state, finished_at=timezone.now(), lock_key=None,
        error_zh=error[0][:4000], error_en=error[1][:4000],
    )  # fmt: skip


def execute_job(job_id: int, worker_id: str | None = None) -> str:
    """Run job ``job_id`` here (what the worker does); return its final state.

    A job no longer queued (cancelled before it started) is skipped.
    """
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=now, heartbeat_at=now, stage="started",
        worker_id=worker_id or current_worker_id(), attempts=F("attempts") + 1,
    )  # fmt: skip
    job = Job.objects.select_related("owner").get(pk=job_id)
    if not claimed:
        return str(job.state)
    ctx = JobContext(job)
    try:
        get_kind(job.kind).handler(ctx)
        if not ctx.finished:
            with transaction.atomic():
                ctx._write()
                ctx._succeed()
            ctx.finished = True
    except JobCancelled:
        _finish(job_id, JobState.CANCELLED)
    except JobAborted:
        pass
    except RegistryError as exc:
        _finish(job_id, JobState.FAILED, (exc.message_zh, exc.message_en))
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, job.kind)
        detail = f"{type(exc).__name__}: {exc}"[:1000]
        _finish(job_id, JobState.FAILED, (f"内部错误，未写入任何结果：{detail}",
                                          f"internal error; nothing was applied: {detail}"))
    return str(Job.objects.values_list("state", flat=True).get(pk=job_id))


@task(takes_context=True)
def run_job_task(context: TaskContext, job_id: int) -> str:
    """The django-tasks task behind every job: run job ``job_id`` in this worker."""
    return execute_job(job_id, current_worker_id())


# --------------------------------------------------------------------------- reading


def visible_jobs(actor: Actor) -> QuerySet[Job]:
    """The actor's own jobs; a county administrator also sees every job in jurisdiction."""
    actor.require(Permission.VIEW_JOBS)
    qs = Job.objects.select_related("owner")
    if _sees_all(actor):
        if actor.prefix == "":
            return qs
        mine = Q(unit_code__startswith=actor.prefix) | Q(owner_id=actor.user_id)
        # Jobs over no particular unit concern the whole county.
        return qs.filter(mine | Q(unit_code="") if actor.county_wide else mine)
    return qs.filter(owner_id=actor.user_id) if actor.user_id else qs.none()


def job_for(actor: Actor, pk: int) -> Job:
    """A job the actor may see (404 otherwise), after failing it if its worker is dead."""
    fail_dead_jobs(job_ids=[pk])
    job = visible_jobs(actor).filter(pk=pk).first()
    if job is None:
        raise Http404("no such job")
    return job


def _lang_en() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def stage_text(job: Job) -> str:
    """The job's stage in the active language (the key itself for an unknown one)."""
    kind = _KINDS.get(job.kind)
    template = kind.stage_template(job.stage) if kind else COMMON_STAGES.get(job.stage)
    if template is None:
        return job.stage
    own = kind is not None and kind.stage_context and job.stage in kind.stages
    text = pgettext(kind.stage_context, template) if own and kind else gettext(template)
    try:
        return text % dict(job.stage_values or {}) if job.stage_values else text
    except (KeyError, TypeError, ValueError):
        return text


def kind_label(job: Job) -> str:
    kind = _KINDS.get(job.kind)
    # A kind no longer registered (a job of an old version) is named in words, not by its code.
    return gettext(kind.label) if kind else gettext("Background job")


def job_error(job: Job) -> str:
    return job.error_en if _lang_en() else job.error_zh


def job_messages(job: Job) -> list[dict[str, str]]:
    en = _lang_en()
    return [
        {"level": m.get("level", "info"), "text": m.get("en" if en else "zh", "")}
        for m in (job.messages or [])
    ]


def progress_data(actor: Actor, job: Job) -> dict[str, Any]:
    """What ``/jobs/<id>/progress/`` answers and the progress component first renders."""
    kind = _KINDS.get(job.kind)
    return {
        "id": job.pk,
        "kind": job.kind,
        "kind_label": kind_label(job),
        "state": job.state,
        "state_label": str(JobState(job.state).label),
        "stage": stage_text(job),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "messages": job_messages(job),
        "error": job_error(job),
        "active": job.active,
        "finished": job.finished,
        "attempts": job.attempts,
        "result_url": job.result_url if job.state == JobState.SUCCEEDED else "",
        "result": job.result if job.state == JobState.SUCCEEDED else {},
        "can_cancel": job.active and _may_manage(actor, job),
        "can_retry": (
            job.state in (JobState.FAILED, JobState.CANCELLED)
            and kind is not None and kind.retryable
            and _may_manage(actor, job) and actor.can(kind.permission, job.unit_code or None)
        ),  # fmt: skip
        "progress_url": reverse("jobs:progress", args=[job.pk]),
        "cancel_url": reverse("jobs:cancel", args=[job.pk]),
        "retry_url": reverse("jobs:retry", args=[job.pk]),
        "page_url": reverse("jobs:detail", args=[job.pk]),
    }
