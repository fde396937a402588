"""Planning pages in both languages: the projection form and its job, the result page,
the five-year-plan sheet (PDF, Excel), scenarios and norms (maintain_planning, audited)."""

from __future__ import annotations

import io
import shutil

import pytest
from django.test import Client

from popreg.planning.models import Norm, Scenario, StatedFigure
from popreg.registry.audit import AuditAction
from popreg.registry.job_models import Job
from popreg.registry.models import AuditRecord
from tests.bilingual import check_bilingual, get_page

from ..conftest import PASSWORD

SNAP = "2025-11-01"


@pytest.fixture
def planning_world(db, settings, tmp_path, small_county):
    """The small synthetic county's units in the registry, its snapshot stored, and users:
    the county statistician, a village clerk and the auditor."""
    from datetime import date

    from django.contrib.auth import get_user_model

    from popreg.planning.events import open_snapshot
    from popreg.registry.models import AdminUnit, Assignment

    settings.POPREG_HOME = tmp_path
    shutil.copytree(small_county, tmp_path / "snapshots" / SNAP)
    with open_snapshot(small_county) as con:
        units = con.rows(
            "SELECT unit_code, name, level, parent_code FROM units ORDER BY length(unit_code), "
            "level = 'village', unit_code"
        )
    for code, name, level, parent in sorted(
        units, key=lambda u: ("county", "township", "village").index(u[2])
    ):
        AdminUnit.objects.create(
            code=code, name=name, level=level, parent_id=parent, valid_from=date(2000, 1, 1)
        )
    county = next(u[0] for u in units if u[2] == "county")
    village = next(u[0] for u in units if u[2] == "village")
    other_village = [u[0] for u in units if u[2] == "village"][-1]
    users = {}
    for username, role, unit in (
        ("stat", "county_statistician", county),
        ("clerk", "village_clerk", village),
        ("auditor", "auditor", county),
    ):
        u = get_user_model().objects.create_user(username=username, password=PASSWORD)
        Assignment.objects.create(user=u, role=role, unit_id=unit)
        users[username] = u
    return {"county": county, "village": village, "other_village": other_village, "users": users}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _project(client, unit, base_year=2026, years=10):
    r = client.post(
        "/planning/", {"snapshot": SNAP, "unit": unit, "base_year": base_year, "years": years}
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    job = Job.objects.filter(kind="planning_projection").order_by("-pk").first()
    assert job.state == "succeeded", (job.error_en, job.error_zh)
    return job


def test_index_in_both_languages(planning_world):
    c = _client(planning_world["users"]["stat"])
    check_bilingual(
        c,
        "/planning/",
        ["Population projection and planning needs", "Norms in force", "medium"],
        ["人口预测与规划需求", "现行规划标准", "中方案"],
    )


def test_county_projection_result_and_plan_sheet(planning_world):
    c = _client(planning_world["users"]["stat"])
    job = _project(c, planning_world["county"])
    url = f"/planning/jobs/{job.pk}/"
    check_bilingual(
        c, url,
        ["Age pyramid, 1 January 2026", "Total population by scenario", "Back-test", "Settlement structure",
         "School places by level", "Elderly-care beds at 30 per 1,000 people aged 65+", "Five-year plan sheet (PDF)"],
        ["2026 年 1 月 1 日年龄金字塔", "各方案总人口", "回测", "村庄规模结构", "各学段学位", "养老床位（每千名65岁以上老人", "五年规划人口测算表（PDF）"],
    )  # fmt: skip
    page = get_page(c, url, english=True)
    assert 'id="planning-data"' in page and "nan" not in page.lower().replace("nanjing", "")
    assert 'data-kpi="backtest"' in page and "%" in page.split('data-kpi="backtest"', 1)[1][:40]
    low = get_page(c, url, english=True, scenario="low")
    assert "Summary by year (low)" in low
    pdf = c.get(f"/planning/jobs/{job.pk}/plan.pdf")
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    assert "attachment" in pdf["Content-Disposition"]
    xlsx = c.get(f"/planning/jobs/{job.pk}/plan.xlsx")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(xlsx.content))
    assert "规划表" in wb.sheetnames and "分年龄人口" in wb.sheetnames
    ages = wb["分年龄人口"]
    assert [c.value for c in ages[1]] == ["scenario", "year", "sex", "age", "population"]
    assert ages.max_row == 1 + 4 * 11 * 2 * 101
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT_STATISTICS).count() == 2


def test_village_clerk_projects_own_village_only(planning_world):
    c = _client(planning_world["users"]["clerk"])
    job = _project(c, planning_world["village"], base_year=2025, years=5)
    page = get_page(c, f"/planning/jobs/{job.pk}/", english=True)
    assert "the county's age pattern at the unit's level" in page
    assert "Settlement structure" not in page
    c.cookies.pop("django_language", None)
    r = c.post(
        "/planning/",
        {"snapshot": SNAP, "unit": planning_world["other_village"], "base_year": 2025, "years": 5},
    )
    assert r.status_code == 400
    assert "单位：请选择辖区内的县、乡镇或村。" in r.content.decode()
    assert Job.objects.filter(kind="planning_projection").count() == 1


def test_form_errors_name_the_field(planning_world):
    c = _client(planning_world["users"]["stat"])
    c.cookies["django_language"] = "en"
    r = c.post(
        "/planning/",
        {"snapshot": "nope", "unit": planning_world["county"], "base_year": 2030, "years": 99},
    )
    body = r.content.decode()
    assert r.status_code == 400
    assert (
        "Snapshot: choose a stored snapshot" in body
        and "Years: a whole number from 1 to 50." in body
    )
    assert not Job.objects.filter(kind="planning_projection").exists()


def test_scenarios_edited_by_the_statistician_and_audited(planning_world):
    stat, clerk = (
        _client(planning_world["users"]["stat"]),
        _client(planning_world["users"]["clerk"]),
    )
    assert Scenario.objects.count() == 4  # seeded by the data migration
    form = {
        "code": "policy",
        "name_zh": "政策方案",
        "name_en": "policy",
        "tfr_offset": "0.5",
        "tfr_target": "",
        "path_years": "3",
        "e0_gain_per_year": "0.2",
        "migration_factor": "1",
    }
    assert clerk.post("/planning/scenarios/", form).status_code == 403
    assert (
        _client(planning_world["users"]["auditor"]).post("/planning/scenarios/", form).status_code
        == 403
    )
    assert stat.post("/planning/scenarios/", form).status_code == 302
    assert Scenario.objects.get(code="policy").tfr_offset == 0.5
    rec = AuditRecord.objects.get(action=AuditAction.PLANNING_SAVE_SCENARIO)
    assert rec.after["code"] == "policy"
    bad = stat.post("/planning/scenarios/", {**form, "migration_factor": "-1"})
    assert bad.status_code == 400 and "净迁移倍数须在 0 与 5 之间" in bad.content.decode()
    stat.cookies["django_language"] = "en"
    bad = stat.post("/planning/scenarios/", {**form, "path_years": "x"})
    assert "years to reach the target must be a number" in bad.content.decode()
    check_bilingual(clerk, "/planning/scenarios/", ["Projection scenarios"], ["人口预测方案"])
    assert 'id="scenario-form"' not in clerk.get("/planning/scenarios/").content.decode()
    # the new scenario is projected with the others
    job = _project(stat, planning_world["county"], years=5)
    from popreg.planning.jobs import load_result

    assert "policy" in [s["code"] for s in load_result(job.pk)["scenarios"]]


def test_norms_and_stated_figures(planning_world):
    stat = _client(planning_world["users"]["stat"])
    county = planning_world["county"]
    assert Norm.objects.get(key="grain_per_person").value == 750
    r = stat.post(
        "/planning/norms/",
        {
            "form": "norm",
            "key": "grain_per_person",
            "value": "800",
            "valid_from": "2026-01-01",
            "source": "县政府文件 2026-1",
        },
    )
    assert r.status_code == 302
    for year, value in ((2023, 67_300_000), (2024, 68_650_000), (2025, 70_000_000)):
        r = stat.post(
            "/planning/norms/",
            {
                "form": "figure",
                "kind": "grain_output",
                "unit": county,
                "year": year,
                "value": value,
                "source": "县农业农村局",
            },
        )
        assert r.status_code == 302
    stat.post(
        "/planning/norms/",
        {
            "form": "figure",
            "kind": "school_primary",
            "unit": county,
            "year": 2025,
            "value": 1500,
            "source": "县教育局",
        },
    )
    assert StatedFigure.objects.count() == 4
    assert AuditRecord.objects.filter(action=AuditAction.PLANNING_SAVE_FIGURE).count() == 4
    bad = stat.post(
        "/planning/norms/",
        {
            "form": "norm",
            "key": "grain_per_person",
            "value": "800",
            "valid_from": "soon",
            "source": "x",
        },
    )
    assert bad.status_code == 400 and "生效日期须为日期" in bad.content.decode()
    assert (
        _client(planning_world["users"]["clerk"])
        .post("/planning/norms/", {"form": "norm"})
        .status_code
        == 403
    )
    check_bilingual(
        stat,
        "/planning/norms/",
        ["Planning norms and stated figures", "Grain harvest (jin)"],
        ["规划标准和填报数据", "粮食产量（斤）"],
    )
    job = _project(stat, county, base_year=2026, years=5)
    from popreg.planning.jobs import load_result

    data = load_result(job.pk)
    assert (
        data["norms"]["grain"]["value"] == 800
        and data["norms"]["grain"]["source"] == "县政府文件 2026-1"
    )
    med = next(s for s in data["scenarios"] if s["code"] == "medium")
    assert med["grain"][0]["output_increase"] == pytest.approx(1_350_000)
    assert med["schools"][0]["school_primary_capacity"] == 1500
    page = get_page(stat, f"/planning/jobs/{job.pk}/", english=True)
    assert "Share of the increase" in page and "%" in page


def test_plan_sheet_needs_export_permission(planning_world):
    stat = _client(planning_world["users"]["stat"])
    job = _project(stat, planning_world["county"], years=5)
    auditor = _client(planning_world["users"]["auditor"])
    # the auditor sees no one else's job, and has no export permission for their own
    assert auditor.get(f"/planning/jobs/{job.pk}/plan.pdf").status_code == 404
