"""``popreg worker``: run the job queue, supervised (see docs/jobs.md).

The supervisor starts the django-tasks database worker (``db_worker``) as a child process
(``popreg worker --child``), writes the child's heartbeat row (:class:`JobWorker`) every few
seconds, and when the child dies (killed, out of memory, crashed) marks the jobs it was
running failed as *interrupted* at once and starts a new child.  SIGTERM or Ctrl+C stops
the child gracefully (it finishes the job in hand, up to ``--grace`` seconds, then it is
killed and its job is marked interrupted).  No threads: one loop, ``wait`` with a timeout.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from popreg.registry.job_models import JobWorker
from popreg.registry.jobs import current_worker_id, fail_dead_jobs, fail_worker_jobs

log = logging.getLogger("popreg.worker")

HEARTBEAT_EVERY_S = 5.0
SWEEP_EVERY_S = 15.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGKILL if the supervisor dies, so no orphan keeps running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Command(BaseCommand):
    help = (
        "运行后台任务（导入、查重等）并监护工作进程 / Run background jobs (imports, dedup runs, "
        "refreshes) with a supervised worker process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--child", action="store_true", help="(internal) be the worker itself")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between queue polls (default 1)"
        )
        parser.add_argument(
            "--grace", type=float, default=30.0,
            help="seconds a stopping worker may take to finish its job (default 30)",
        )  # fmt: skip

    def handle(self, *args: Any, child: bool, interval: float, grace: float, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        if child:
            call_command(
                "db_worker", worker_id=current_worker_id(), reload=False, interval=interval,
                startup_delay=False, verbosity=options.get("verbosity", 1),
            )  # fmt: skip
            return
        Supervisor(interval=interval, grace=grace).run()


class Supervisor:
    def __init__(self, *, interval: float, grace: float) -> None:
        self.interval = interval
        self.grace = grace
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.supervisor_id = current_worker_id()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "popreg", "worker", "--child", "--interval", str(self.interval)]
        return subprocess.Popen(cmd, preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    def _beat(self, worker_id: str) -> None:
        try:
            close_old_connections()
            JobWorker.objects.update_or_create(
                worker_id=worker_id,
                defaults={"supervisor_id": self.supervisor_id, "heartbeat_at": timezone.now()},
            )
        except DatabaseError as exc:  # a long import holds the SQLite write lock: next beat
            log.warning("heartbeat of %s not written: %s", worker_id, exc)

    def _sweep(self) -> None:
        try:
            fail_dead_jobs()
        except DatabaseError as exc:
            log.warning("dead-job sweep skipped: %s", exc)

    def _buried(self, worker_id: str, returncode: int) -> None:
        for attempt in range(10):
            try:
                close_old_connections()
                n = fail_worker_jobs(worker_id)
                JobWorker.objects.filter(worker_id=worker_id).delete()
                log.warning("worker %s exited (%s); %s job(s) marked interrupted", worker_id, returncode, n)
                return
            except DatabaseError as exc:
                log.warning("could not mark the jobs of %s yet: %s", worker_id, exc)
                time.sleep(min(2**attempt, 10))

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self._sweep()
        backoff = 1.0
        while not self.stopping:
            self.child = self._spawn()
            worker_id = f"{self.supervisor_id.split(':')[0]}:{self.child.pid}"
            log.info("worker %s started (supervisor %s)", worker_id, self.supervisor_id)
            started = time.monotonic()
            self._beat(worker_id)
            last_beat = last_sweep = time.monotonic()
            stop_deadline: float | None = None
            while True:
                try:
                    rc = self.child.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if self.stopping:
                    stop_deadline = stop_deadline or now + self.grace
                    if now > stop_deadline:
                        self.child.kill()
                if now - last_beat >= HEARTBEAT_EVERY_S:
                    self._beat(worker_id)
                    last_beat = now
                if now - last_sweep >= SWEEP_EVERY_S:
                    self._sweep()
                    last_sweep = now
            self._buried(worker_id, rc)
            if self.stopping:
                break
            # A child that dies at once (bad settings, database down) is not restarted in a
            # tight loop; one that ran a while is restarted at once.
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
            time.sleep(backoff)
        log.info("supervisor %s stopped", self.supervisor_id)
