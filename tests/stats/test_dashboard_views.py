"""Dashboard pages: numbers from the cube, and jurisdiction on every page and download.

A village clerk sees only their village, a township officer their township and its
villages, county staff everything; a unit outside the jurisdiction is a 404 like a unit
that does not exist.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from popreg.core.dse import ASSUMPTIONS, ASSUMPTIONS_ZH
from popreg.snapshot.format import read_table

from .test_dashboard import dash, small_snap, snap, stats_home  # noqa: F401  (shared fixtures)

PASSWORD = "test-pass-123"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def home(settings, stats_home):  # noqa: F811
    settings.POPREG_HOME = stats_home
    return stats_home


@pytest.fixture
def units(db, snap, dash):  # noqa: F811
    """The synthetic county's units in the registry (for the users' assignments)."""
    from popreg.registry.models import AdminUnit

    table = read_table(snap, "units").to_pandas()
    table = table[table["level"].isin(["county", "township", "village"])].sort_values("unit_code")
    AdminUnit.objects.bulk_create([
        AdminUnit(code=r.unit_code, name=r.name, level=r.level,
                  parent_id=r.parent_code if isinstance(r.parent_code, str) else None,
                  valid_from=r.valid_from)
        for r in table.itertuples()
    ])  # fmt: skip
    county = dash.county()
    towns = dash.children(county)
    town_a = next(t for t in towns if len(dash.children(t)) >= 2)
    town_b = next(t for t in towns if t != town_a and dash.children(t))
    return {
        "county": county, "town_a": town_a, "town_b": town_b,
        "village_a1": dash.children(town_a)[0], "village_a2": dash.children(town_a)[1],
        "village_b1": dash.children(town_b)[0],
    }  # fmt: skip


@pytest.fixture
def login(client, units, home):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    spec = {
        "clerk": ("village_clerk", "village_a1"),
        "officer": ("township_officer", "town_a"),
        "statistician": ("county_statistician", "county"),
        "admin": ("county_admin", "county"),
    }

    def _login(name: str):
        role, unit = spec[name]
        user = get_user_model().objects.create_user(username=name, password=PASSWORD)
        Assignment.objects.create(user=user, role=role, unit_id=units[unit].code)
        client.force_login(user)
        return client

    return _login


def _pages(code: str) -> list[str]:
    return [f"/stats/units/{code}/", f"/stats/units/{code}/dse/",
            f"/stats/units/{code}/report.pdf", f"/stats/units/{code}/report.xlsx"]  # fmt: skip


def _kpi(content: str, name: str) -> str:
    m = re.search(rf'data-kpi="{name}">([^<]*)<', content)
    assert m, name
    return m.group(1)


def test_login_required(client, home):
    response = client.get("/stats/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_county_page_shows_the_engine_numbers(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    response = client.get("/stats/")
    assert response.status_code == 302 and response["Location"] == f"/stats/units/{county.code}/"
    page = client.get(response["Location"]).content.decode()
    row = dash.row(county.code, dash.last_year)
    assert _kpi(page, "population_end") == str(row["population_end"])
    assert _kpi(page, "births") == str(row["births"])
    assert _kpi(page, "deaths") == str(row["deaths"])
    assert _kpi(page, "cbr") == f"{row['cbr']:.2f}"
    assert _kpi(page, "registered_now") == str(dash.population_now(county)["registered"])
    # the comparison lists every township, with its population at year end
    for town in dash.children(county):
        trow = dash.row(town.code, dash.last_year)
        assert f'data-unit="{town.code}"' in page
        assert f'<td class="num">{trow["population_end"]}</td>' in page
    # the trend table has a row per year; the chart data too
    for year in dash.years:
        assert f'data-year="{year}"' in page
    assert "vendor/chart.js-4.6.1/chart.umd.js" in page and "cdn" not in page.lower()
    from django.contrib.staticfiles import finders

    vendored = finders.find("vendor/chart.js-4.6.1/chart.umd.js")
    assert vendored and "Chart.js v4.6.1" in Path(vendored).read_text(encoding="utf-8")[:300]
    assert not re.search(r'src="(https?:)?//', page)  # no script from another site
    assert 'id="stats-data"' in page


def test_page_options_change_population_year_and_sort(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    year = dash.years[0]
    page = client.get(f"/stats/units/{county.code}/?population=resident&year={year}&sort=births&order=asc").content.decode()
    row = dash.row(county.code, year, "resident")
    assert _kpi(page, "population_end") == str(row["population_end"])
    ranked = dash.comparison(county, year, "resident", "births", descending=False)
    order = re.findall(r'<tr data-unit="(\d+)">', page)
    assert order == [r["unit_code"] for r in ranked]
    # unknown values fall back to the defaults instead of failing
    assert client.get(f"/stats/units/{county.code}/?population=x&year=1900&sort=name").status_code == 200


def test_village_clerk_sees_only_their_village(login, units, dash):  # noqa: F811
    client = login("clerk")
    mine = units["village_a1"]
    response = client.get("/stats/")
    assert response["Location"] == f"/stats/units/{mine.code}/"
    page = client.get(f"/stats/units/{mine.code}/").content.decode()
    assert _kpi(page, "population_end") == str(dash.row(mine.code, dash.last_year)["population_end"])
    assert 'id="comparison"' not in page  # a village has no units below
    assert units["town_a"].name not in page  # no breadcrumb above the jurisdiction
    for url in _pages(mine.code):
        assert client.get(url).status_code == 200, url
    for other in ("county", "town_a", "village_a2", "village_b1"):
        for url in _pages(units[other].code):
            assert client.get(url).status_code == 404, url
    assert client.get("/stats/units/999999999999/").status_code == 404


def test_township_officer_sees_their_township_and_its_villages(login, units, dash):  # noqa: F811
    client = login("officer")
    town = units["town_a"]
    assert client.get("/stats/")["Location"] == f"/stats/units/{town.code}/"
    page = client.get(f"/stats/units/{town.code}/").content.decode()
    shown = set(re.findall(r'<tr data-unit="(\d+)">', page))
    assert shown == {v.code for v in dash.children(town)}
    for url in _pages(town.code)[:2] + _pages(units["village_a2"].code)[:2]:  # PDFs: see the clerk
        assert client.get(url).status_code == 200, url
    for other in ("county", "town_b", "village_b1"):
        for url in _pages(units[other].code):
            assert client.get(url).status_code == 404, url


def test_report_downloads_are_scoped_and_audited(login, units, dash):  # noqa: F811
    from popreg.registry.models import AuditRecord

    client = login("officer")
    town = units["town_a"]
    response = client.get(f"/stats/units/{town.code}/report.xlsx?year={dash.last_year}")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    codes = [c.value for c in wb["汇总"]["A"][4:] if c.value]
    # the township's villages and the township itself, nothing of another township
    assert set(codes) >= {v.code for v in dash.children(town)} | {town.code}
    assert not any(c.startswith(units["town_b"].prefix) for c in codes if isinstance(c, str) and c[:1].isdigit())
    assert "officer" in wb["汇总"]["A2"].value
    record = AuditRecord.objects.get(action="export_statistics")
    assert record.unit_code == town.code and record.detail["format"] == "xlsx"
    assert record.actor_name == "officer"


def test_dse_page_states_the_estimate_and_its_assumptions(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    page = html.unescape(client.get(f"/stats/units/{county.code}/dse/").content.decode())
    for zh, en in zip(ASSUMPTIONS_ZH, ASSUMPTIONS, strict=True):
        assert zh in page and en in page
    est = dash.dse_estimate(county)
    assert f"<td class=\"num\">{est.n1}</td><td class=\"num\">{est.n2}</td><td class=\"num\">{est.m}</td>" in page
    assert f"{est.estimate.estimate:.1f}" in page
    assert f"{est.estimate.low:.1f}–{est.estimate.high:.1f}" in page
    info = dash.meta["dse"]
    assert 0 <= info["linked_clerical"] <= info["linked"]
    assert f"已链接的 {info['linked']} 条医院记录中，有 {info['linked_clerical']} 条" in page
    for town in dash.children(county):
        assert f'data-unit="{town.code}"' in page
    year = dash.dse_years()[-1]
    one = dash.dse_estimate(county, [year])
    page = client.get(f"/stats/units/{county.code}/dse/?year={year}").content.decode()
    assert f"<td class=\"num\">{one.n1}</td><td class=\"num\">{one.n2}</td><td class=\"num\">{one.m}</td>" in page


def test_refresh_is_for_county_staff_only(login, units, home):
    from popreg.registry.models import AuditRecord

    clerk = login("clerk")
    assert clerk.post("/stats/refresh/").status_code == 403
    assert clerk.post("/stats/dse/build/").status_code == 403
    page = clerk.get(f"/stats/units/{units['village_a1'].code}/").content.decode()
    assert "/stats/refresh/" not in page
    assert not AuditRecord.objects.filter(action="stats_refresh").exists()
    assert clerk.get("/stats/refresh/").status_code == 405
    from popreg.registry.job_models import Job

    assert not Job.objects.exists()  # a refused start queues nothing


def test_refresh_button_writes_a_new_snapshot(client, db, small_snap, settings, tmp_path):  # noqa: F811
    from django.contrib.auth import get_user_model

    from popreg.registry.access import system_actor
    from popreg.registry.job_models import Job
    from popreg.registry.loading import load_snapshot
    from popreg.registry.models import AdminUnit, Assignment, AuditRecord

    load_snapshot(small_snap, system_actor("test"))
    settings.POPREG_HOME = tmp_path
    county = AdminUnit.objects.get(level="county")
    user = get_user_model().objects.create_user(username="statistician", password=PASSWORD)
    Assignment.objects.create(user=user, role="county_statistician", unit=county)
    client.force_login(user)
    page = client.get("/stats/").content.decode()
    assert "还没有统计快照" in page and "/stats/refresh/" in page
    response = client.post("/stats/refresh/")
    job = Job.objects.get(kind="stats_refresh")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    written = list((tmp_path / "snapshots").iterdir())
    assert len(written) == 1 and (written[0] / "dashboard" / "meta.json").is_file()  # no hidden leftovers
    # no closed period yet, so none revised (docs/periods.md)
    assert job.state == "succeeded" and job.result == {"snapshot": written[0].name, "revised_closings": 0}
    assert job.result_url == "/stats/" and job.stage == "published"
    page = client.get(response["Location"]).content.decode()
    assert 'data-job-progress="' in page and 'href="/stats/"' in page and written[0].name in page
    assert AuditRecord.objects.filter(action="stats_refresh", actor_name="statistician").exists()
    assert client.get(f"/stats/units/{county.code}/").status_code == 200
    # the dual-system estimate is a job too; its result is the county's estimate page
    response = client.post("/stats/dse/build/")
    dse = Job.objects.get(kind="stats_dse")
    assert response["Location"] == f"/jobs/{dse.pk}/" and dse.state == "succeeded", dse.error_en
    assert dse.result_url == f"/stats/units/{county.code}/dse/"
    assert AuditRecord.objects.filter(action="stats_dse", actor_name="statistician").exists()


def test_clerk_without_snapshot_gets_no_button(login, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    client = login("clerk")
    page = client.get("/stats/").content.decode()
    assert "还没有统计快照" in page and "/stats/refresh/" not in page
