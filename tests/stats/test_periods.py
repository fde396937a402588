"""Closed periods: closing freezes the published figures, a statistics refresh never
changes them, and a registration made after the closing whose event falls in the period
shows as a revision (published, revised, count of late records), on the statistics page,
in the API and in the annual report workbook.

The county is the tiny one of tests/conftest.py (``people``: two persons in village A1,
one in B1), whose statistics snapshot is written at the current moment.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.urls import reverse

from popreg.registry.errors import JurisdictionError, PermissionDeniedError
from popreg.registry.models import AuditRecord
from popreg.stats.period_actions import PeriodRefused, do_approve_period, do_close_period
from popreg.stats.period_models import ClosedPeriod, PeriodState, PublishedFigure
from popreg.stats.periods import parse_period, revisions

from ..conftest import COUNTY, TOWN_A, VILLAGE_A1, VILLAGE_B1
from ..importing.helpers import person_row, to_csv


@pytest.fixture
def stats_world(people, actors, settings, tmp_path):
    from popreg.stats.dashboard import clear_cache
    from popreg.stats.refresh import do_refresh_statistics

    settings.POPREG_HOME = tmp_path
    clear_cache()
    do_refresh_statistics(actors["admin"])
    return people


def _import_three_adults(actor):
    """An import of three adults born in 1960–1962 into village A1 (after the closing)."""
    from popreg.registry.bulk import do_import_persons
    from popreg.registry.importing import parse_file

    rows = [person_row(i, household="900000001", unit=VILLAGE_A1, relation="户主" if i == 0 else "子")
            for i in range(3)]
    result = parse_file(to_csv(rows), "three.csv")
    assert result.ok, result.errors
    do_import_persons(actor, result.rows, "three.csv", result.sha256, labels=result.headers)


def _late_birth(actor, people):
    from popreg.registry import actions

    return actions.do_register_birth(
        actor, name="迟报婴", sex="F", birth_date=date(2024, 6, 1), registered_unit_code=VILLAGE_A1,
        household=people["hh_a"], mother=people["mother"])


def _refresh(actors):
    from popreg.stats.refresh import do_refresh_statistics

    do_refresh_statistics(actors["admin"])


def test_parse_period():
    assert parse_period("2024") == ("year", "2024", date(2024, 1, 1), date(2025, 1, 1))
    assert parse_period("2024-3") == ("month", "2024-03", date(2024, 3, 1), date(2024, 4, 1))
    assert parse_period("2024-12")[3] == date(2025, 1, 1)
    for bad in ("", "24", "2024-13", "2024/03", "abc"):
        with pytest.raises(Exception, match="2024-03"):
            parse_period(bad)


def test_closing_freezes_published_figures_and_a_late_registration_is_a_revision(stats_world, actors):
    people = stats_world
    clerk, admin = actors["clerk_a1"], actors["admin"]
    closing = do_close_period(clerk, VILLAGE_A1, "2024")
    assert closing.state == PeriodState.CLOSED and closing.kind == "year"
    published = PublishedFigure.objects.get(unit_code=VILLAGE_A1, period="2024", population="registered")
    assert published.figures["population_end"] == 2 and published.figures["births"] == 0
    frozen = dict(published.figures)
    [rev] = [r for r in revisions(PublishedFigure.objects.filter(closing=closing)) if r.population == "registered"]
    assert not rev.revised and rev.late_records == 0

    # After the closing: an import of three adults born earlier and a late 2024 birth.
    _import_three_adults(actors["officer_a"])
    _late_birth(admin, people)
    _refresh(actors)  # a statistics refresh does not touch the published figures
    published.refresh_from_db()
    assert published.figures == frozen
    [rev] = [r for r in revisions(PublishedFigure.objects.filter(closing=closing)) if r.population == "registered"]
    end, births = rev.figure("population_end"), rev.figure("births")
    assert (end.published, end.revised, end.difference) == (2, 6, 4)
    assert (births.published, births.revised) == (0, 1)
    assert rev.revised and rev.late_records == 4
    # The village B1 closing is untouched by records of A1.
    b1 = do_close_period(actors["clerk_b1"], VILLAGE_B1, "2024")
    assert all(r.late_records == 0 and not r.revised
               for r in revisions(PublishedFigure.objects.filter(closing=b1)))


def test_a_published_figure_cannot_be_changed_or_removed(stats_world, actors):
    from popreg.registry.models import AppendOnlyError

    do_close_period(actors["clerk_a1"], VILLAGE_A1, "2024")
    pf = PublishedFigure.objects.filter(unit_code=VILLAGE_A1).first()
    pf.figures = {"population_end": 999}
    with pytest.raises(AppendOnlyError):
        pf.save()
    with pytest.raises(AppendOnlyError):
        pf.delete()


def test_closing_rules_and_approval_up_the_hierarchy(stats_world, actors, users):
    clerk, officer, admin, stat = actors["clerk_a1"], actors["officer_a"], actors["admin"], actors["statistician"]
    with pytest.raises(PeriodRefused, match="尚未结束"):
        do_close_period(clerk, VILLAGE_A1, f"{date.today().year + 1}")
    with pytest.raises(JurisdictionError):
        do_close_period(clerk, VILLAGE_B1, "2024")  # outside the clerk's village
    with pytest.raises(PeriodRefused, match="2024-03"):
        do_close_period(clerk, VILLAGE_A1, "2024-3x")
    town = do_close_period(officer, TOWN_A, "2024")
    # The township published its villages too; a village of it cannot close 2024 again.
    assert set(PublishedFigure.objects.filter(closing=town).values_list("unit_code", flat=True)) >= {TOWN_A, VILLAGE_A1}
    with pytest.raises(PeriodRefused, match="上级单位"):
        do_close_period(clerk, VILLAGE_A1, "2024")
    with pytest.raises(PeriodRefused, match="已于"):
        do_close_period(officer, TOWN_A, "2024")
    # Approval: county only, and not by the person who closed.
    with pytest.raises(PermissionDeniedError):
        do_approve_period(officer, town)
    county = do_close_period(stat, COUNTY, "2023")
    with pytest.raises(PeriodRefused, match="另一人"):
        do_approve_period(stat, county)
    approved = do_approve_period(admin, town)
    assert approved.state == PeriodState.APPROVED and approved.approved_by_name == "admin"
    with pytest.raises(PeriodRefused):
        do_approve_period(stat, approved)
    actions = list(AuditRecord.objects.filter(action__in=["close_period", "approve_period"])
                   .order_by("pk").values_list("action", "unit_code"))
    assert actions == [("close_period", TOWN_A), ("close_period", COUNTY), ("approve_period", TOWN_A)]


def test_a_month_is_closed_with_the_figures_of_that_month(stats_world, actors):
    from popreg.registry import actions

    people = stats_world
    closing = do_close_period(actors["clerk_a1"], VILLAGE_A1, "2020-05")
    pf = PublishedFigure.objects.get(closing=closing, unit_code=VILLAGE_A1, population="registered")
    assert pf.figures["births"] == 1 and pf.figures["population_end"] == 2  # the child, born 2020-05-06
    actions.do_register_birth(actors["admin"], name="五月迟报", sex="M", birth_date=date(2020, 5, 20),
                              registered_unit_code=VILLAGE_A1, household=people["hh_a"], mother=people["mother"])
    _refresh(actors)
    [rev] = [r for r in revisions(PublishedFigure.objects.filter(closing=closing)) if r.population == "registered"]
    assert (rev.figure("births").published, rev.figure("births").revised, rev.late_records) == (1, 2, 1)


def _client(client, users, name):
    client.force_login(users[name])
    return client


def test_periods_page_closes_and_shows_the_revision(client, stats_world, users, actors):
    people = stats_world
    c = _client(client, users, "clerk_a1")
    url = reverse("stats:periods", args=[VILLAGE_A1])
    page = c.get(url)
    assert page.status_code == 200 and 'name="period"' in page.content.decode()
    bad = c.post(url, {"period": "2024-13"})
    assert bad.status_code == 200 and "2024-03" in bad.content.decode()
    assert not ClosedPeriod.objects.exists()
    done = c.post(url, {"period": "2024", "note": "年报"})
    assert done.status_code == 302
    closing = ClosedPeriod.objects.get()
    assert AuditRecord.objects.filter(action="close_period", target_id=str(closing.pk)).exists()
    _import_three_adults(actors["officer_a"])
    _late_birth(actors["admin"], people)
    _refresh(actors)
    html = c.get(url).content.decode()
    assert 'data-late-records="4"' in html
    assert 'data-published="population_end">2<' in html and 'data-revised="population_end">6<' in html
    # The statistics page of the year shows the same revision beside the figures.
    stats = c.get(reverse("stats:unit", args=[VILLAGE_A1]), {"year": 2024}).content.decode()
    assert 'data-late-records="4"' in stats and 'data-revised="population_end">6<' in stats
    # The county approves; the clerk has no approve button and is refused.
    assert c.post(reverse("stats:period_approve", args=[VILLAGE_A1]), {"period": "2024"}).status_code == 403
    a = _client(client, users, "admin")
    r = a.post(reverse("stats:period_approve", args=[VILLAGE_A1]), {"period": "2024"})
    assert r.status_code == 302
    closing.refresh_from_db()
    assert closing.state == PeriodState.APPROVED
    # The API gives the same published, revised and late figures.
    api = a.get(f"/api/stats/units/{VILLAGE_A1}/periods").json()
    [row] = [x for x in api if x["population"] == "registered" and x["unit_code"] == VILLAGE_A1]
    assert (row["published"]["population_end"], row["revised"]["population_end"], row["late_records"]) == (2, 6, 4)
    assert row["state"] == "approved"
    # The annual report workbook carries the revision too.
    from openpyxl import load_workbook

    xlsx = a.get(reverse("stats:report_xlsx", args=[VILLAGE_A1]), {"year": 2024})
    assert xlsx.status_code == 200
    body = b"".join(xlsx.streaming_content) if xlsx.streaming else xlsx.content
    wb = load_workbook(io.BytesIO(body))
    assert "结报修订" in wb.sheetnames
    cells = [[c.value for c in row] for row in wb["结报修订"].iter_rows()]
    assert any(r[:1] == ["年末人口"] and r[1:4] == [2, 6, 4] for r in cells), cells
    assert any("迟报记录" in str(r[0]) and 4 in r for r in cells), cells


def test_every_role_sees_the_period_page_of_its_units_only(client, stats_world, users):
    c = _client(client, users, "clerk_a1")
    assert c.get(reverse("stats:periods", args=[VILLAGE_B1])).status_code == 404
    assert c.get(reverse("stats:period_list")).status_code == 200


def test_a_refresh_says_which_closed_periods_it_revises(stats_world, actors, users):
    """The statistics refresh job names the closed periods whose figures it revises."""
    from popreg.registry.job_models import Job
    from popreg.registry.jobs import stage_text, start_job

    do_close_period(actors["clerk_a1"], VILLAGE_A1, "2024")
    do_close_period(actors["clerk_b1"], VILLAGE_B1, "2024")
    start_job(actors["admin"], "stats_refresh")
    job = Job.objects.filter(kind="stats_refresh").latest("pk")
    assert job.state == "succeeded" and job.result["revised_closings"] == 0 and job.stage == "published"
    _late_birth(actors["admin"], stats_world)
    start_job(actors["admin"], "stats_refresh")
    job = Job.objects.filter(kind="stats_refresh").latest("pk")
    assert job.state == "succeeded" and job.result["revised_closings"] == 1  # A1 only
    assert job.stage == "revisions" and "1 个已结报期间" in stage_text(job)
