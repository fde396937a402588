"""``popreg worker`` for real: a worker process killed with SIGKILL in the middle of a job
leaves the job failed (interrupted) with a retry, the supervisor restarts the worker, the
retry runs to success; a killed import leaves no person behind.

These tests run the database backend against a scratch database shared by the test, the
setup scripts and the worker processes: a SQLite file, or, when the suite runs on
PostgreSQL, a scratch PostgreSQL database on the same server (pytest's own test database
is not visible to other processes while a test holds it).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Marked as database tests so that the PostgreSQL pass of the suite runs them too (on a
# scratch PostgreSQL database); pytest's own test database is not used.
pytestmark = pytest.mark.django_db

SETUP = r"""
import json, sys
from datetime import date
import django
django.setup()
from django.contrib.auth import get_user_model
from popreg.registry.access import actor_for
from popreg.registry.models import AdminUnit, Assignment
from popreg.registry import jobs
cmd = json.loads(sys.argv[1])
if cmd["do"] == "setup":
    for code, name, level, parent in [
        ("110105000000", "示例县", "county", None), ("110105001000", "城关镇", "township", "110105000000"),
        ("110105001001", "东关村", "village", "110105001000"), ("110105001002", "西关社区", "village", "110105001000"),
    ]:
        AdminUnit.objects.create(code=code, name=name, level=level, parent_id=parent, valid_from=date(2000, 1, 1))
    u = get_user_model().objects.create_user(username="admin", password="x")
    Assignment.objects.create(user=u, role="county_admin", unit_id="110105000000")
actor = actor_for(get_user_model().objects.get(username="admin"))
if cmd["do"] == "start":
    print(jobs.start_job(actor, cmd["kind"], cmd["params"], unit_code=cmd.get("unit", "")).pk)
elif cmd["do"] == "retry":
    from popreg.registry.job_models import Job
    data = jobs.progress_data(actor, Job.objects.get(pk=cmd["job"]))
    assert data["can_retry"], data
    print(jobs.do_retry_job(actor, Job.objects.get(pk=cmd["job"])).state)
elif cmd["do"] == "folder":
    from popreg.registry.import_jobs import ImportFolder
    f = ImportFolder(cmd["id"]); f.dir.mkdir(parents=True)
    f.upload.write_bytes(open(cmd["file"], "rb").read())
    f.write("meta.json", {"owner": actor.user_id, "file_name": "people.csv", **cmd.get("meta", {})})
"""


class ScratchDb:
    """A database for the worker processes, and plain SQL on it for the test."""

    def __init__(self, tmp_path: Path) -> None:
        from django.conf import settings

        default = settings.DATABASES["default"]
        self.pg = default["ENGINE"].endswith("postgresql")
        if self.pg:
            import psycopg

            self.name = f"popreg_worker_{os.getpid()}_{tmp_path.name[-12:]}".lower().replace("-", "_")
            self.server = dict(host=default.get("HOST") or "127.0.0.1", port=default.get("PORT") or 5432,
                               user=default.get("USER") or "postgres", password=default.get("PASSWORD") or None)
            with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                c.execute(f'CREATE DATABASE "{self.name}"')
            pw = f":{self.server['password']}" if self.server["password"] else ""
            self.url = (f"postgres://{self.server['user']}{pw}@{self.server['host']}:"
                        f"{self.server['port']}/{self.name}")
            self.conn = None
        else:
            self.url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
            self.path = tmp_path / "db.sqlite3"
            self.conn = None

    def one(self, sql: str, params: tuple = ()) -> tuple:
        if self.conn is None:
            if self.pg:
                import psycopg

                self.conn = psycopg.connect(dbname=self.name, autocommit=True, **self.server)
            else:
                self.conn = sqlite3.connect(self.path, timeout=30)
        if self.pg:
            sql = sql.replace("?", "%s")
        return self.conn.execute(sql, params).fetchone()

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.pg:
            import psycopg

            with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def scratch(tmp_path):
    db = ScratchDb(tmp_path)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db.url,
        POPREG_HOME=str(tmp_path),
        POPREG_JOB_MODULES="tests.registry.job_kinds",
        POPREG_TEST_IMPORT_PAUSE=str(tmp_path / "import-paused"),
        POPREG_TASKS_BACKEND="database",
        DJANGO_SETTINGS_MODULE="popreg.web.settings",
        PYTHONPATH=f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    env.pop("POPREG_DEBUG", None)
    subprocess.run([sys.executable, "-m", "popreg", "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)

    def script(**cmd):
        out = subprocess.run([sys.executable, "-c", SETUP, json.dumps(cmd)], env=env, cwd=ROOT,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.strip()

    script(do="setup")
    worker = subprocess.Popen([sys.executable, "-m", "popreg", "worker", "--grace", "2"], env=env,
                              cwd=ROOT, start_new_session=True)

    def row(job_id):
        one = db.one("SELECT state, worker_id, stage, error_en, attempts FROM registry_job WHERE id=?",
                     (job_id,))
        return dict(zip(("state", "worker_id", "stage", "error_en", "attempts"), one, strict=True))

    def until(job_id, test, timeout=60.0, step=0.02):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = row(job_id)
            if test(r):
                return r
            time.sleep(step)
        raise AssertionError(f"job {job_id} stuck: {row(job_id)}")

    yield {"script": script, "row": row, "until": until, "db": db, "tmp": tmp_path,
           "pause": tmp_path / "import-paused"}
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
    db.drop()


def _kill_worker_of(r):
    pid = int(r["worker_id"].rsplit(":", 1)[1])
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)


def test_killed_worker_fails_the_job_and_retry_finishes_it(scratch):
    go = scratch["tmp"] / "go"
    job = int(scratch["script"](do="start", kind="test_wait", params={"go": str(go)}, unit="110105001001"))
    r = scratch["until"](job, lambda r: r["state"] == "running" and r["stage"] == "waiting")
    _kill_worker_of(r)
    t0 = time.monotonic()
    r = scratch["until"](job, lambda r: r["state"] != "running", timeout=30)
    assert r["state"] == "failed" and "interrupted" in r["error_en"], r
    assert time.monotonic() - t0 < 60  # within a minute (the supervisor notices at once)
    applied = scratch["db"].one("SELECT count(*) FROM registry_auditrecord WHERE action='export_file'")
    assert applied[0] == 0
    go.touch()
    assert scratch["script"](do="retry", job=job) == "queued"
    r = scratch["until"](job, lambda r: r["state"] not in ("queued", "running"))  # restarted worker
    assert r["state"] == "succeeded" and r["attempts"] == 2, r
    applied = scratch["db"].one("SELECT count(*) FROM registry_auditrecord WHERE action='export_file'")
    assert applied[0] == 1


def test_a_killed_import_writes_nothing(scratch):
    from tests.importing.helpers import person_row, to_csv

    rows = [person_row(i, household=f"9{i // 4:08d}", unit="110105001001",
                       relation="户主" if i % 4 == 0 else "子") for i in range(2000)]
    upload = scratch["tmp"] / "people.csv"
    upload.write_bytes(to_csv(rows))
    folder = "a" * 32
    scratch["script"](do="folder", id=folder, file=str(upload))
    check = int(scratch["script"](do="start", kind="import_check", params={"import_id": folder}))
    r = scratch["until"](check, lambda r: r["state"] not in ("queued", "running"), timeout=120)
    assert r["state"] == "succeeded", r
    meta_path = scratch["tmp"] / "imports" / folder / "meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta_path.write_text(json.dumps({**meta, "check_job": check}), "utf-8")
    commit = int(scratch["script"](do="start", kind="import_commit", params={"import_id": folder}))
    # The worker stops after writing every row, before its transaction commits (see
    # job_kinds.py), and says so through the marker file: kill it exactly there.
    paused = scratch["pause"]
    end = time.monotonic() + 120
    while not paused.exists() and time.monotonic() < end:
        time.sleep(0.02)
    r = scratch["row"](commit)
    assert paused.exists() and r["state"] == "running", r
    _kill_worker_of(r)
    r = scratch["until"](commit, lambda r: r["state"] != "running", timeout=30)
    assert r["state"] == "failed" and "interrupted" in r["error_en"]
    persons = scratch["db"].one("SELECT count(*) FROM registry_person")[0]
    households = scratch["db"].one("SELECT count(*) FROM registry_household")[0]
    assert (persons, households) == (0, 0)
    assert scratch["script"](do="retry", job=commit) == "queued"
    r = scratch["until"](commit, lambda r: r["state"] not in ("queued", "running"), timeout=120)
    assert r["state"] == "succeeded", r
    assert scratch["db"].one("SELECT count(*) FROM registry_person")[0] == 2000
