"""The job runner in-process: permission, audit, one active job per unit, progress,
cancel, retry, dead workers, the pages and the progress JSON."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from popreg.registry import jobs
from popreg.registry.errors import RegistryError
from popreg.registry.job_models import Job, JobWorker
from popreg.registry.models import AuditRecord

from ..conftest import VILLAGE_A1, VILLAGE_B1

CALLS: list[int] = []


def _counting(ctx: jobs.JobContext) -> None:
    ctx.progress(1, 3, "one", n=7)
    ctx.message("第一步完成", "step one done")
    with ctx.applying():
        CALLS.append(ctx.job.pk)
        ctx.progress(3, 3, "done")
        ctx.set_result(url="/somewhere/", data={"n": 7})


def _failing(ctx: jobs.JobContext) -> None:
    if not ctx.job.attempts or Job.objects.get(pk=ctx.job.pk).attempts < 2:
        raise RegistryError("第一次失败", "fails the first time")


jobs.register(jobs.JobKind(name="t_count", label="Counting", permission=jobs.Permission.RUN_DEDUP,
                           handler=_counting, stages={"one": "Step one of %(n)s"}, exclusive=True))
jobs.register(jobs.JobKind(name="t_fail", label="Failing", permission=jobs.Permission.RUN_DEDUP,
                           handler=_failing))


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


@pytest.fixture
def queued(settings):
    """Jobs only queued (database backend), run by hand with execute_job."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_a_job_runs_reports_and_is_audited(actors):
    job = jobs.start_job(actors["clerk_a1"], "t_count", {"x": 1}, unit_code=VILLAGE_A1)
    assert job.state == "succeeded" and job.attempts == 1 and job.lock_key is None
    assert (job.done, job.total, job.stage) == (3, 3, "done")
    assert job.result == {"n": 7} and job.result_url == "/somewhere/" and job.pk in CALLS
    assert job.messages[0]["zh"] == "第一步完成" and job.owner_name == "clerk_a1"
    assert AuditRecord.objects.filter(action="start_job", target_id=str(job.pk)).count() == 1


def test_permission_and_jurisdiction_are_checked(actors):
    with pytest.raises(RegistryError):
        jobs.start_job(actors["auditor"], "t_count", unit_code=VILLAGE_A1)  # role lacks RUN_DEDUP
    with pytest.raises(RegistryError):
        jobs.start_job(actors["clerk_a1"], "t_count", unit_code=VILLAGE_B1)  # outside jurisdiction
    assert not Job.objects.exists()


def test_one_active_job_per_unit_and_kind(actors, queued):
    first = jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_A1)
    assert first.state == "queued" and first.lock_key == f"t_count:{VILLAGE_A1}"
    with pytest.raises(RegistryError) as err:
        jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_A1)
    assert str(first.pk) in err.value.message_en
    jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_B1)  # another unit is free
    assert jobs.execute_job(first.pk) == "succeeded"
    again = jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_A1)  # free again
    assert again.state == "queued"


def test_cancel_a_queued_job_and_retry_it(actors, queued):
    job = jobs.start_job(actors["clerk_a1"], "t_count", unit_code=VILLAGE_A1)
    with pytest.raises(RegistryError):
        jobs.do_cancel_job(actors["clerk_b1"], job)  # not theirs
    job = jobs.do_cancel_job(actors["clerk_a1"], job)
    assert job.state == "cancelled" and job.lock_key is None
    assert jobs.execute_job(job.pk) == "cancelled"  # the task finds it cancelled: nothing runs
    assert job.pk not in CALLS
    job = jobs.do_retry_job(actors["clerk_a1"], job)
    assert job.state == "queued"
    assert jobs.execute_job(job.pk) == "succeeded" and job.pk in CALLS
    actions = list(AuditRecord.objects.filter(target_id=str(job.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["cancel_job", "retry_job", "start_job"]


def test_a_running_job_stops_at_its_next_progress_when_cancelled(actors, queued):
    job = jobs.start_job(actors["clerk_a1"], "t_count", unit_code=VILLAGE_A1)
    Job.objects.filter(pk=job.pk).update(state="running", heartbeat_at=timezone.now())
    jobs.do_cancel_job(actors["clerk_a1"], job)
    Job.objects.filter(pk=job.pk).update(state="queued")  # let execute_job claim it
    assert jobs.execute_job(job.pk) == "cancelled" and job.pk not in CALLS


def test_failure_message_and_retry(actors):
    job = jobs.start_job(actors["admin"], "t_fail", unit_code=VILLAGE_A1)
    assert job.state == "failed" and job.error_en == "fails the first time"
    data = jobs.progress_data(actors["admin"], job)
    assert data["can_retry"] and not data["can_cancel"] and data["error"] == "第一次失败"
    job = jobs.do_retry_job(actors["admin"], job)
    assert job.state == "succeeded" and job.attempts == 2


def test_a_job_whose_worker_stopped_beating_fails_as_interrupted(actors, queued):
    job = jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_A1)
    old = timezone.now() - timedelta(seconds=61)
    Job.objects.filter(pk=job.pk).update(state="running", heartbeat_at=old, worker_id="h:1")
    JobWorker.objects.create(worker_id="h:1", heartbeat_at=timezone.now())
    assert jobs.fail_dead_jobs() == 0  # its worker is alive (a long step without progress)
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(pk=job.task_result_id).update(status="RUNNING")
    JobWorker.objects.filter(worker_id="h:1").update(heartbeat_at=old)
    job = jobs.job_for(actors["admin"], job.pk)  # polling notices it
    assert job.state == "failed" and "interrupted" in job.error_en and job.lock_key is None
    assert DBTaskResult.objects.get(pk=job.task_result_id).status == "FAILED"  # not left running
    assert jobs.progress_data(actors["admin"], job)["can_retry"]


def test_pages_list_own_jobs_and_county_admin_sees_all(client, users, actors):
    mine = jobs.start_job(actors["clerk_a1"], "t_count", unit_code=VILLAGE_A1)
    other = jobs.start_job(actors["clerk_b1"], "t_count", unit_code=VILLAGE_B1)
    client.force_login(users["clerk_a1"])
    page = client.get("/jobs/").content.decode()
    assert f"/jobs/{mine.pk}/" in page and f"/jobs/{other.pk}/" not in page
    assert client.get(f"/jobs/{other.pk}/progress/").status_code == 404
    data = client.get(f"/jobs/{mine.pk}/progress/").json()
    assert data["state"] == "succeeded" and data["result_url"] == "/somewhere/" and data["percent"] == 100
    detail = client.get(f"/jobs/{mine.pk}/").content.decode()
    assert "job-progress.js" in detail and "<script>" not in detail
    county_wide = jobs.start_job(actors["officer_a"], "t_fail")  # no unit: the whole county
    client.force_login(users["admin"])
    page = client.get("/jobs/").content.decode()
    assert f"/jobs/{mine.pk}/" in page and f"/jobs/{other.pk}/" in page
    assert f"/jobs/{county_wide.pk}/" in page
    client.force_login(users["officer_a"])
    page = client.get("/jobs/").content.decode()
    assert f"/jobs/{county_wide.pk}/" in page and f"/jobs/{mine.pk}/" not in page  # own jobs only


def test_cancel_and_retry_through_the_pages(client, users, actors, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.start_job(actors["clerk_a1"], "t_count", unit_code=VILLAGE_A1)
    client.force_login(users["clerk_a1"])
    r = client.post(f"/jobs/{job.pk}/cancel/", HTTP_ACCEPT="application/json")
    assert r.json()["state"] == "cancelled" and r.json()["can_retry"]
    r = client.post(f"/jobs/{job.pk}/retry/")
    assert r.status_code == 302 and Job.objects.get(pk=job.pk).state == "queued"


def test_no_background_threads_in_the_code():
    """Long work runs on the job runner: no thread or timer is started anywhere in src/."""
    import re
    from pathlib import Path

    import popreg

    started = re.compile(r"\b(threading\.(Thread|Timer)|from threading import|ThreadPoolExecutor|_thread\.start)")
    found = [
        f"{p.relative_to(Path(popreg.__file__).parent)}:{n}"
        for p in Path(popreg.__file__).parent.rglob("*.py")
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if started.search(line)
    ]
    assert not found, found


def test_a_silent_job_of_a_live_local_process_is_not_failed(actors, queued):
    """On SQLite a long import holds the write lock and its supervisor cannot beat; the job
    stays alive while its process runs on this machine, and fails once the process is gone."""
    job = jobs.start_job(actors["admin"], "t_count", unit_code=VILLAGE_A1)
    old = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(state="running", heartbeat_at=old,
                                         worker_id=jobs.current_worker_id())
    assert jobs.fail_dead_jobs() == 0
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = jobs.current_worker_id().rsplit(":", 1)[0]
    Job.objects.filter(pk=job.pk).update(worker_id=f"{host}:{gone}")
    assert jobs.fail_dead_jobs() == 1 and Job.objects.get(pk=job.pk).state == "failed"
