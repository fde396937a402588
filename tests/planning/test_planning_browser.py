"""The projection followed in headless Chromium: the form on /planning/ starts the job, the
job page reaches done, and the result page draws its charts (pyramids, the scenario fan,
the back-test) from the page's JSON with the vendored Chart.js, without inline scripts."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from ..conftest import PASSWORD
from ..e2e.conftest import _fast_passwords, browser  # noqa: F401  (shared fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_projection_from_the_form_to_the_charts(browser, settings, tmp_path, small_county):  # noqa: F811
    from django.contrib.auth import get_user_model

    from popreg.planning.events import open_snapshot
    from popreg.registry.job_models import Job
    from popreg.registry.models import AdminUnit, Assignment

    settings.POPREG_HOME = tmp_path / "home"
    shutil.copytree(small_county, settings.POPREG_HOME / "snapshots" / "2025-11-01")
    with open_snapshot(small_county) as con:
        units = con.rows("SELECT unit_code, name, level, parent_code FROM units")
    order = ("county", "township", "village")
    for code, name, level, parent in sorted(units, key=lambda u: order.index(u[2])):
        AdminUnit.objects.create(
            code=code, name=name, level=level, parent_id=parent, valid_from=date(2000, 1, 1)
        )
    county = next(u[0] for u in units if u[2] == "county")
    user = get_user_model().objects.create_user(username="stat", password=PASSWORD)
    Assignment.objects.create(user=user, role="county_statistician", unit_id=county)

    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("stat")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)
    b.open("/planning/")
    b.set_value("input[name=years]", "5")
    b.shot("form")
    b.submit("#projection-form button[type=submit]", timeout=120)
    job = Job.objects.get(kind="planning_projection")
    assert job.state == "succeeded", job.error_en
    assert b.driver.current_url.endswith(f"/jobs/{job.pk}/")
    b.open(f"/planning/jobs/{job.pk}/")
    b.shot("result")
    drawn = b.driver.execute_script(
        "return ['chart-pyramid-base', 'chart-pyramid-end', 'chart-fan', 'chart-backtest'].map(function (id) {"
        " var c = Chart.getChart(document.getElementById(id)); return c ? c.data.datasets.length : 0; });"
    )
    assert drawn == [2, 2, 4, 2]
    assert "各方案总人口" in b.text() and "回测" in b.text()
    logs = [
        e
        for e in b.driver.get_log("browser")
        if e.get("level") == "SEVERE" and "favicon" not in e["message"]
    ]
    assert not logs, logs
