"""Assessment pages: rule set versions, targets upload (row errors change nothing), and a
scorecard page whose numbers and CSV export equal ``popreg assess`` on the same inputs."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd
import pytest
from django.core.management import call_command
from openpyxl import Workbook

from popreg.registry.job_models import Job
from popreg.registry.models import AdminUnit, Assignment, AuditRecord
from popreg.stats.models import RuleSetVersion, UnitTarget

from .handmade import UNITS, V11, V12, V21, write_handmade_snapshot
from .test_assessment import RULES

pytestmark = pytest.mark.urls("tests.stats.urls_for_tests")


@pytest.fixture
def site(db, tmp_path, settings):
    settings.POPREG_HOME = tmp_path / "home"
    snap = write_handmade_snapshot(tmp_path / "home" / "snapshots" / "2025-11-01")
    for code, name, level, parent in UNITS:
        AdminUnit.objects.create(code=code, name=name, level=level, parent_id=parent, valid_from=date(2000, 1, 1))
    return snap


def _login(client, django_user_model, username, role, unit):
    user = django_user_model.objects.create_user(username, password="pw-123456")
    Assignment.objects.create(user=user, role=role, unit_id=unit)
    client.force_login(user)
    return user


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["年份 year", "单位代码 unit_code", "单位名称 unit_name", "指标 indicator", "下限 low", "上限 high"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "targets.xlsx"
    return buf


def test_page_equals_cli(site, client, django_user_model, tmp_path):
    _login(client, django_user_model, "admin", "county_admin", UNITS[0][0])
    resp = client.post("/stats/assessment/rules/", {"definition": json.dumps(RULES, ensure_ascii=False)})
    assert resp.status_code == 302 and RuleSetVersion.objects.count() == 1
    resp = client.post("/stats/assessment/rules/", {"definition": json.dumps(RULES)})
    assert "raise the version" in resp.content.decode() and RuleSetVersion.objects.count() == 1

    rows = [[2024, V21, "李庄", "rni", None, 600], [2023, V11, "东关", "rni", 0, 10]]
    resp = client.post("/stats/assessment/targets/", {"year": 2024, "file": _xlsx(rows)})
    assert resp.status_code == 302 and UnitTarget.objects.count() == 2
    rs = RuleSetVersion.objects.get()
    params = {"snapshot": "2025-11-01", "year": 2024, "level": "village", "rules": rs.pk, "lagging": 10}
    job = _assess(client, params)
    progress = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-job-progress="' in progress and job.result_url in progress
    page = client.get(job.result_url)
    assert page.status_code == 200, page.content.decode()[:500]
    shown = {r["unit_code"]: r for r in page.context["rows"]}

    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    targets_file = tmp_path / "targets.xlsx"
    targets_file.write_bytes(_xlsx(rows).getvalue())
    out = tmp_path / "cli.csv"
    call_command("assess", str(site), "--year", "2024", "--level", "village", "--rules", str(rules_file),
                 "--targets", str(targets_file), "--out", str(out))
    cli = pd.read_csv(out, dtype={"unit_code": str}).set_index("unit_code")
    assert set(shown) == set(cli.index) == {V11, V12, V21}
    for code, row in shown.items():
        assert row["total"] == cli.loc[code, "total"] and row["rank"] == cli.loc[code, "rank"]
        assert row["vetoed"] == cli.loc[code, "vetoed"] and row["lagging"] == cli.loc[code, "lagging"]
    assert shown[V21]["total"] == 100  # the uploaded target made 李庄's rni pass
    export = client.get(job.result_url, {"format": "csv"})
    stamp, *table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert stamp[0].startswith("# ") and "admin" in stamp[0]  # who, when and why first
    assert table == list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))  # values as popreg assess
    xlsx = client.get(job.result_url, {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert AuditRecord.objects.filter(action="export_scorecards").exists()


def test_bad_targets_upload_changes_nothing(site, client, django_user_model):
    _login(client, django_user_model, "admin", "county_admin", UNITS[0][0])
    client.post("/stats/assessment/targets/", {"year": 2024, "file": _xlsx([[2024, V11, "", "rni", 1, 2]])})
    assert UnitTarget.objects.count() == 1
    resp = client.post("/stats/assessment/targets/", {"year": 2024, "file": _xlsx(
        [[2024, V12, "", "rni", 1, 2], [2024, "999", "", "rni", 1, 2], [2024, V21, "", "rni", 9, 2]])})
    text = resp.content.decode()
    assert resp.status_code == 200 and "第 3 行" in text and "row 4" in text and "swap" in text
    assert list(UnitTarget.objects.values_list("unit_id", flat=True)) == [V11]
    # one row from the form goes through the same validation
    resp = client.post("/stats/assessment/targets/", {"year": 2024, "unit_code": V12, "indicator": "cdr", "low": "", "high": "abc"})
    assert "must be a number" in resp.content.decode() and UnitTarget.objects.count() == 1
    resp = client.post("/stats/assessment/targets/", {"year": 2024, "unit_code": V12, "indicator": "cdr", "low": "", "high": "8"})
    assert resp.status_code == 302 and UnitTarget.objects.get(unit_id=V12).high == 8


def test_jurisdiction(site, client, django_user_model):
    RuleSetVersion.objects.create(name="r", version=1, definition=RULES, checksum="x")
    rs = RuleSetVersion.objects.get()
    _login(client, django_user_model, "clerk", "village_clerk", V11)
    params = {"snapshot": "2025-11-01", "year": 2024, "level": "village", "rules": rs.pk}
    job = _assess(client, params)
    page = client.get(job.result_url)
    assert [r["unit_code"] for r in page.context["rows"]] == [V11]
    assert client.get(job.result_url, {"format": "csv"}).status_code == 403
    resp = client.post("/stats/assessment/targets/", {"year": 2024, "unit_code": V21, "indicator": "cdr", "high": "8"})
    assert UnitTarget.objects.count() == 0 and "not a unit" in resp.content.decode()
    client.logout()
    _login(client, django_user_model, "stat", "county_statistician", UNITS[0][0])
    assert client.post("/stats/assessment/targets/", {"year": 2024, "unit_code": V21, "indicator": "cdr", "high": "8"}).status_code == 403
    assert client.post("/stats/assessment/rules/", {"definition": "{}"}).status_code == 200
    assert RuleSetVersion.objects.count() == 1
    tmpl = client.get("/stats/assessment/targets/template.xlsx", {"year": 2025})
    assert tmpl.status_code == 200 and tmpl.content[:2] == b"PK"


def test_page_renders_no_value_as_dash(site, client, django_user_model):
    RuleSetVersion.objects.create(name="r", version=1, definition=RULES, checksum="x")
    _login(client, django_user_model, "admin", "county_admin", UNITS[0][0])
    params = {"snapshot": "2025-11-01", "year": 2024, "level": "village", "rules": RuleSetVersion.objects.get().pk}
    html = client.get(_assess(client, params).result_url).content.decode()
    assert "nan" not in html.lower() and "一票否决：粗死亡率（‰）" in html and "后进" in html
    assert client.post("/stats/assessment/", {**params, "snapshot": "nope"}).context["error"]
    # a GET only fills the form: nothing is computed and no job starts
    page = client.get("/stats/assessment/", params)
    assert page.status_code == 200 and page.context["result"] is None
    assert Job.objects.filter(kind="assessment").count() == 1


def _assess(client, params):
    """Calculate through the page: a POST starts an assessment job (run at once in tests)."""
    resp = client.post("/stats/assessment/", params)
    assert resp.status_code == 302, resp.content.decode()[:500]
    job = Job.objects.filter(kind="assessment").latest("pk")
    assert resp["Location"] == f"/jobs/{job.pk}/" and job.state == "succeeded", job.error_en
    return job
