"""A statistics refresh followed in headless Chromium: the refresh button queues a
``stats_refresh`` job, the page shows the job progress component, a database worker runs
the job, and the component reaches done at 100 % with a link to the dashboards."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from selenium.webdriver.support.ui import WebDriverWait

from popreg.registry.job_models import Job

from ..conftest import PASSWORD
from ..stats.test_dashboard import small_snap  # noqa: F401  (shared fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_statistics_refresh_progresses_to_done(browser, small_snap, settings, tmp_path):  # noqa: F811
    from django.contrib.auth import get_user_model

    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.registry.models import AdminUnit, Assignment

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.POPREG_HOME = tmp_path
    load_snapshot(small_snap, system_actor("test"))
    county = AdminUnit.objects.get(level="county")
    user = get_user_model().objects.create_user(username="statistician", password=PASSWORD)
    Assignment.objects.create(user=user, role="county_statistician", unit=county)
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("statistician")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    b.open("/stats/")
    assert "还没有统计快照" in b.text()
    b.submit("form[action='/stats/refresh/'] button[type=submit]", timeout=60)
    job = Job.objects.get(kind="stats_refresh")
    assert b.driver.current_url.endswith(f"/jobs/{job.pk}/")
    assert b.css('[data-job-field="state_label"]').text == "排队中"
    assert b.css('[data-job-field="kind_label"]').text == "刷新统计快照"
    assert not b.css('[data-job-field="result"]').is_displayed()
    assert not (tmp_path / "snapshots").exists() or not any((tmp_path / "snapshots").iterdir())
    b.shot("queued")

    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    # The component polls /jobs/<id>/progress/ and shows the end without a reload.
    WebDriverWait(b.driver, 60).until(lambda d: b.css('[data-job-field="result"]').is_displayed())
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert b.css('[data-job-field="state_label"]').text == "已完成"
    assert b.css('[data-job-field="bar"]').get_attribute("value") == "100"
    assert f"统计快照 {job.result['snapshot']} 已启用" in b.css('[data-job-field="stage"]').text
    b.shot("done")
    b.submit('[data-job-field="result"] a', timeout=60)
    assert f"/stats/units/{county.code}/" in b.driver.current_url

    # The dashboard the job links to, and that of the smallest village: the axes that count
    # persons or events show whole numbers only (Chart.js would otherwise step by 0.5 on a
    # small unit, or print 157,306.6 persons on a flat line), and the legends are in Chinese.
    from django.db.models import Count

    smallest = (AdminUnit.objects.filter(level="village").annotate(n=Count("registered_persons"))
                .filter(n__gt=0).order_by("n", "code").first())
    for path in (None, f"/stats/units/{smallest.code}/"):
        if path is not None:
            b.open(path)
        WebDriverWait(b.driver, 30).until(
            lambda d: d.execute_script("return !!(window.Chart && Chart.getChart('chart-population'));"))
        ticks = b.driver.execute_script("""
            var out = {};
            [['chart-population', 'y'], ['chart-vital', 'y'], ['chart-pyramid', 'x']].forEach(function (p) {
              var c = Chart.getChart(p[0]);
              out[p[0]] = c ? c.scales[p[1]].ticks.map(function (t) { return String(t.label); }) : null;
            });
            return out;""")
        for chart, labels in ticks.items():
            assert labels, (path, chart, ticks)
            assert all(re.fullmatch(r"-?\d{1,3}(,\d{3})*", label) for label in labels), (path, chart, labels)
        legends = b.driver.execute_script("""
            return ['chart-population', 'chart-vital', 'chart-pyramid'].map(function (id) {
              return Chart.getChart(id).data.datasets.map(function (s) { return s.label; }).join(' '); }).join(' ');""")
        assert not re.search(r"[A-Za-z]{3,}", legends), (path, legends)
    b.shot("charts")
