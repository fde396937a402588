"""The other long operations followed in headless Chromium, each as a user would: the
button or form on its page POSTs and starts a job, the page is the job's progress
component (``/jobs/<id>/``), a database worker runs the job, the component reaches done at
100 % with a link to the result, and the result page shows the result:

- ``stats_dse``: the dual-system estimate of the latest statistics snapshot;
- ``assessment``: the scorecards of a stored snapshot under a rule set;
- ``reconciliation``: the registry as it is now against its sources;
- ``field_list_pdf``: a village's field list, a PDF download.
"""

from __future__ import annotations

import urllib.request
from datetime import date, datetime

import pytest
from django.core.management import call_command
from selenium.webdriver.support.ui import WebDriverWait

from popreg.registry.job_models import Job

from ..campaigns.conftest import campaign  # noqa: F401  (shared fixture)
from ..conftest import PASSWORD, VILLAGE_A1
from ..stats.test_dashboard import small_snap  # noqa: F401  (shared fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs_home(settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.POPREG_HOME = tmp_path / "home"
    return tmp_path / "home"


def _login(b, username: str) -> None:
    b.open("/login/")
    b.css("#id_username").send_keys(username)
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)


def _user(username: str, role: str, unit: str):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    Assignment.objects.create(user=user, role=role, unit_id=unit)
    return user


def _follow_job(b, kind: str, label: str, timeout: float = 60) -> Job:
    """On the job page just reached by the POST: queued, then (after a worker run) done at
    100 % with its result link shown by the polling component, without a reload."""
    job = Job.objects.get(kind=kind)
    assert b.driver.current_url.endswith(f"/jobs/{job.pk}/")
    assert b.css('[data-job-field="kind_label"]').text == label
    assert b.css('[data-job-field="state_label"]').text == "排队中"
    assert not b.css('[data-job-field="result"]').is_displayed()
    b.shot("queued")
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    WebDriverWait(b.driver, timeout).until(lambda d: b.css('[data-job-field="result"]').is_displayed())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error_en
    assert b.css('[data-job-field="state_label"]').text == "已完成"
    assert b.css('[data-job-field="bar"]').get_attribute("value") == "100"
    link = b.css('[data-job-field="result"] a')
    assert link.get_attribute("href").endswith(job.result_url)
    b.shot("done")
    return job


def test_dse_build_progresses_to_the_estimate(browser, jobs_home, small_snap):  # noqa: F811
    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.registry.models import AdminUnit
    from popreg.stats.refresh import do_refresh_statistics

    load_snapshot(small_snap, system_actor("test"))
    county = AdminUnit.objects.get(level="county")
    _user("statistician", "county_statistician", county.code)
    do_refresh_statistics(system_actor("test"), at=datetime(2025, 11, 1), with_dse=False)  # a snapshot without DSE
    b = browser
    _login(b, "statistician")

    b.open(f"/stats/units/{county.code}/dse/")
    assert not b.all("table#dse")
    b.submit("form[action='/stats/dse/build/'] button[type=submit]", timeout=60)
    job = _follow_job(b, "stats_dse", "双系统估计", timeout=90)
    assert job.result_url == f"/stats/units/{county.code}/dse/"
    b.submit('[data-job-field="result"] a', timeout=60)
    assert b.driver.current_url.endswith(job.result_url)
    assert b.all(f'table#dse tr.total[data-unit="{county.code}"]')
    assert b.css("#assumptions").is_displayed()


def test_assessment_progresses_to_the_scorecards(browser, jobs_home):
    from popreg.registry.models import AdminUnit
    from popreg.stats.models import RuleSetVersion

    from ..stats.handmade import UNITS, V11, V12, V21, write_handmade_snapshot
    from ..stats.test_assessment import RULES

    write_handmade_snapshot(jobs_home / "snapshots" / "2025-11-01")
    for code, name, level, parent in UNITS:
        AdminUnit.objects.create(code=code, name=name, level=level, parent_id=parent, valid_from=date(2000, 1, 1))
    county = next(code for code, _n, level, _p in UNITS if level == "county")
    RuleSetVersion.objects.create(name="考核细则", version=1, definition=RULES, checksum="x")
    _user("statistician", "county_statistician", county)
    b = browser
    _login(b, "statistician")

    b.open("/stats/assessment/")
    b.set_value("input[name=year]", "2024")
    b.submit("form.filters button[type=submit]", timeout=60)
    job = _follow_job(b, "assessment", "年度考核")
    b.submit('[data-job-field="result"] a', timeout=60)
    assert b.driver.current_url.endswith(f"/stats/assessment/jobs/{job.pk}/")
    shown = {r.get_attribute("data-unit") for r in b.all("table#scorecards tbody tr[data-unit]")}
    assert shown == {V11, V12, V21}  # every village of the county, scored
    assert b.css("#lagging").is_displayed()


def test_reconciliation_of_the_registry_now_progresses_to_the_table(browser, jobs_home):
    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot

    from ..stats.test_reconciliation import V11, V12, write_recon_snapshot

    load_snapshot(write_recon_snapshot(jobs_home.parent / "recon"), system_actor("test"))
    _user("officer_a", "township_officer", "411000001000")
    b = browser
    _login(b, "officer_a")

    b.open("/stats/reconciliation/")
    b.set_value("input[name=month]", "2024-05")
    assert b.css("select[name=snapshot]").get_attribute("value") == ""  # the registry as it is now
    b.submit("form.filters button[type=submit]", timeout=60)
    job = _follow_job(b, "reconciliation", "月月清")
    b.submit('[data-job-field="result"] a', timeout=60)
    assert b.driver.current_url.endswith(f"/stats/reconciliation/jobs/{job.pk}/")
    rows = {r.get_attribute("data-unit"): r for r in b.all("table#recon tbody tr[data-unit]")}
    assert set(rows) == {V11, V12}  # the officer's township only, not V21
    assert sum(int(r.get_attribute("data-verified")) for r in rows.values()) == job.result["totals"]["verified"] > 0
    assert b.css("#create-items").is_displayed()


def test_field_list_pdf_progresses_to_the_download(browser, jobs_home, campaign, people, actors):  # noqa: F811
    b = browser
    _login(b, "admin")

    b.open(f"/campaigns/{campaign.pk}/")
    b.submit(f"form[action='/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf'] button[type=submit]",
             timeout=60)
    job = _follow_job(b, "field_list_pdf", "入户核对名单（PDF）")
    href = b.css('[data-job-field="result"] a').get_attribute("href")
    cookie = b.driver.get_cookie("sessionid")
    request = urllib.request.Request(href, headers={"Cookie": f"sessionid={cookie['value']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.read(5) == b"%PDF-"
    b.click('[data-job-field="result"] a')  # the browser downloads it too
    assert b.wait_download(".pdf").read_bytes().startswith(b"%PDF-")
    assert job.result["persons"] == 2
