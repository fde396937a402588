"""A bulk import followed in headless Chromium through the job progress component: the
upload and the commit are queued as jobs, a database worker runs them, and the component
(polling ``/jobs/<id>/progress/``) shows each job reach its end and reloads the page."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from selenium.webdriver.support.ui import WebDriverWait

from popreg.registry.job_models import Job
from popreg.registry.models import Person

from ..conftest import PASSWORD
from ..importing.helpers import sample_rows, to_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _run_worker() -> None:
    """The django-tasks database worker, in batch mode: run what is queued, then stop."""
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


def test_import_progress_reaches_done(browser, users, settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.POPREG_HOME = tmp_path
    upload = tmp_path / "people.csv"
    upload.write_bytes(to_csv(sample_rows(6)))
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("officer_a")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    b.open("/import/")
    b.css("#id_file").send_keys(str(upload))
    b.submit("form.entry button[type=submit]", timeout=60)
    # Queued: the component says so and offers to cancel; nothing is read yet.
    assert b.css('[data-job-field="state_label"]').text == "排队中"
    assert b.css('[data-job-field="cancel"]').is_displayed()
    assert Job.objects.get().state == "queued"
    b.shot("queued")

    _run_worker()  # the component polls, sees the check succeed and reloads the page
    WebDriverWait(b.driver, 30).until(lambda d: "检查通过，待导入" in b.text())
    b.shot("checked")
    b.submit("form[action$='/commit/'] button[type=submit]", timeout=60)
    assert b.css('[data-job-field="state_label"]').text in ("排队中", "运行中")
    assert Person.objects.count() == 0

    _run_worker()
    WebDriverWait(b.driver, 30).until(lambda d: "导入完成" in b.text())
    b.shot("committed")
    assert Person.objects.count() == 6
    job = Job.objects.get(kind="import_commit")
    assert job.state == "succeeded" and job.done == job.total == 6

    # The jobs list shows both jobs; a job page shows the component at 100 % with the result.
    b.open("/jobs/")
    assert b.text().count("已完成") >= 2
    b.open(f"/jobs/{job.pk}/")
    assert b.css('[data-job-field="bar"]').get_attribute("value") == "100"
    assert b.css('[data-job-field="result"]').is_displayed()
    assert not b.css('[data-job-field="retry"]').is_displayed()
