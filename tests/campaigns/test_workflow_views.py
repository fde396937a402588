"""The campaign pages through Django's test client: thin views over the actions."""

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from popreg.campaigns.models import Campaign, FieldOutcome, ListedPerson, RectificationItem
from popreg.registry.models import AuditRecord, Person

from ..conftest import COUNTY, PASSWORD, VILLAGE_A1, VILLAGE_B1
from . import pdfcheck
from .conftest import advance_to
from .test_upload import fill


@pytest.fixture
def client_for(client, users):
    def login(name):
        client.force_login(users[name])
        return client
    return login


def test_create_campaign_form(client_for, people):
    c = client_for("admin")
    assert c.get("/campaigns/").status_code == 200
    page = c.get("/campaigns/new/")
    assert "发起整顿活动" in page.content.decode()
    data = {"name": "2025年户口整顿", "scope_codes": [COUNTY], "reference_moment": "2025-11-01T00:00",
            "preparation_start": "2025-09-01", "preparation_end": "2025-09-30",
            "verification_start": "2025-10-01", "verification_end": "2025-10-31",
            "rectification_start": "2025-11-01", "rectification_end": "2025-11-30",
            "summary_start": "2025-12-01", "summary_end": "2025-11-15",  # before its start
            "spot_check_households": 5, "error_threshold": 0.05, "seed": 1}
    bad = c.post("/campaigns/new/", data)
    assert bad.status_code == 200 and "阶段日期顺序不正确" in bad.content.decode()
    assert not Campaign.objects.exists()
    data["summary_end"] = "2025-12-15"
    resp = c.post("/campaigns/new/", data)
    campaign = Campaign.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/campaigns/{campaign.pk}/"
    page = c.get(resp["Location"]).content.decode()
    assert "东关村民委员会" in page and "核对表Excel" in page


def test_clerk_sees_own_village_only(client_for, campaign):
    c = client_for("clerk_b1")
    page = c.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "柳树村民委员会" in page and "东关村民委员会" not in page
    assert c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx").status_code == 404
    assert c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_B1}/workbook.xlsx").status_code == 200
    assert c.get("/campaigns/new/").status_code == 200  # the form shows, the action refuses
    assert client_for("statistician").post(f"/campaigns/{campaign.pk}/advance/").status_code == 403


def test_download_upload_resolve_through_pages(client_for, campaign, people, actors):
    c = client_for("clerk_a1")
    resp = c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx")
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert AuditRecord.objects.filter(action="campaign_export_workbook").exists()
    assert load_workbook(io.BytesIO(resp.content))["核对名单"].max_row == 3
    advance_to(campaign, "verification", actors["admin"])
    data = fill(resp.content, {people["mother"].pk: ("已死亡", None, None, "2025-10-03"),
                               people["child"].pk: ("核实无误", None, None, None)})
    up = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/upload/",
                {"file": io.BytesIO(data)}, format="multipart")
    assert up.status_code == 302, up.content.decode()[:2000]
    items = c.get(up["Location"]).content.decode()
    item = RectificationItem.objects.get(campaign=campaign)
    assert f'data-item="{item.pk}"' in items and "已死亡" in items
    # the same file again: the page says nothing changed
    again = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/upload/", {"file": io.BytesIO(data)})
    assert "未做任何修改" in again.content.decode()
    page = c.get(f"/campaigns/{campaign.pk}/items/{item.pk}/").content.decode()
    assert 'value="register_death"' in page and 'value="2025-10-03"' in page
    resp = c.post(f"/campaigns/{campaign.pk}/items/{item.pk}/", {"op": "resolve", "action": "register_death",
                                                                  "date": "2025-10-03"})
    assert resp.status_code == 302
    assert Person.objects.get(pk=people["mother"].pk).status == "deceased"
    summary = c.get(f"/campaigns/{campaign.pk}/summary/").content.decode()
    row = re.search(rf'data-unit="{VILLAGE_A1}">(.*?)</tr>', summary, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[3:6] == ["2", "2", "100.0"]


def test_capture_form_records_an_outcome(client_for, campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    c = client_for("clerk_a1")
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/capture/"
    page = c.get(url).content.decode()
    assert page.count('class="person-card') == 2 and "/static/popreg/campaigns.css" in page
    # Tap targets of at least 48 px on a phone (the stylesheet, not inline: the CSP forbids that).
    css = b"".join(c.get("/static/popreg/campaigns.css").streaming_content).decode()
    assert ".person-card button { min-height: 48px" in css
    resp = c.post(f"{url}{people['child'].pk}/", {"outcome": "died"})
    assert resp.status_code == 200 and "请填写日期" in resp.content.decode()
    resp = c.post(f"{url}{people['child'].pk}/?todo=1", {"outcome": "field_wrong", "field_name": "name",
                                                          "value": "张伟"})
    assert resp.status_code == 302 and resp["Location"].endswith(f"?todo=1#p{people['child'].pk}")
    todo = c.get(f"{url}?todo=1").content.decode()
    assert todo.count('class="person-card') == 1 and f'id="p{people["mother"].pk}"' in todo
    assert c.get(f"{url}?q=王秀").content.decode().count('class="person-card') == 1
    assert FieldOutcome.objects.get(person=people["child"]).corrected_value == "张伟"
    resp = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/found/",
                  {"name": "张小花", "sex": "F", "birth_date": "2024-02-02", "kind": "birth"})
    assert resp.status_code == 302
    assert RectificationItem.objects.filter(item_type="found_person").count() == 1


def test_summary_exports(client_for, campaign, people, actors):
    c = client_for("admin")
    xlsx = c.get(f"/campaigns/{campaign.pk}/summary.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[cell.value for cell in r] for r in ws.iter_rows()]
    header = rows[4]
    assert header[:5] == ["单位代码", "单位名称", "层级", "名单人数", "已核对"]
    assert rows[5][1] == "2025年户口整顿" and rows[5][3] == 3
    assert "制表人 admin" in rows[2][0]
    pdf = c.get(f"/campaigns/{campaign.pk}/summary.pdf")
    assert pdf.content.startswith(b"%PDF")
    text = pdfcheck.text(pdf.content)
    assert "2025年户口整顿整顿情况汇总表" in text and "东关村民委员会" in text and "制表人admin" in text
    fonts = pdfcheck.fonts(pdf.content)
    assert any("Noto-Sans-CJK-SC" in name for name in fonts) and all(fonts.values())
    assert pdfcheck.notdef_count(pdf.content) == 0
    assert c.get(f"/campaigns/{campaign.pk}/summary.doc").status_code == 404
    assert c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf").status_code == 405


def test_field_list_pdf_is_a_job_with_a_download(client_for, campaign, people, actors, settings, tmp_path):
    """The PDF is rendered by a field_list_pdf job into POPREG_HOME; the job links its download."""
    from popreg.registry.job_models import Job

    settings.POPREG_HOME = tmp_path
    c = client_for("admin")
    detail = c.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'action="/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf"' in detail
    resp = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf")
    job = Job.objects.get(kind="field_list_pdf")
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert job.state == "succeeded" and job.unit_code == VILLAGE_A1 and job.result["persons"] == 2
    page = c.get(resp["Location"]).content.decode()
    assert 'data-job-progress="' in page and job.result_url in page
    stored = list((tmp_path / "fieldlists" / str(job.pk)).iterdir())
    assert [p.name for p in stored] == [job.result["file"]]  # no temporary file left
    field_list = c.get(job.result_url)
    body = b"".join(field_list.streaming_content)
    assert field_list["Content-Type"] == "application/pdf"
    text = pdfcheck.text(body)
    assert "王秀英" in text and "張偉" in text and "李娜" not in text
    assert "admin" in text  # the export layer's stamp
    assert AuditRecord.objects.filter(action="campaign_export_field_list", actor_name="admin").exists()
    assert AuditRecord.objects.filter(action="export_file", target_id=str(job.pk)).exists()


def test_field_list_pdf_refused_starts_nothing(client_for, campaign, people, actors):
    from popreg.registry.job_models import Job

    c = client_for("auditor")  # sees the campaign, may not print field lists
    resp = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf")
    assert resp.status_code == 403
    assert not Job.objects.exists()


def test_login_page_then_campaigns(client, users):
    resp = client.post("/login/", {"username": "admin", "password": PASSWORD})
    assert resp.status_code == 302
    assert client.get("/campaigns/").status_code == 200


def test_sign_off_refusal_is_explained(client_for, campaign, people, actors):
    advance_to(campaign, "summary", actors["admin"])
    c = client_for("clerk_a1")
    resp = c.post(f"/campaigns/{campaign.pk}/sign-off/", {"unit": VILLAGE_A1, "level": "village"}, follow=True)
    assert "还有 2 人未核对" in resp.content.decode()
    spot = c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/").content.decode()
    assert 'id="draw"' not in spot and 'id="why-no-buttons"' in spot  # the township draws, not the clerk
    spot = client_for("officer_a").get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/")
    assert 'id="draw"' in spot.content.decode()
    assert c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/",
                  {"spot_check": "x", "agrees": "1"}).status_code == 404
    from popreg.campaigns.models import SignOff
    assert not SignOff.objects.exists()


def test_generate_items_from_the_page(client_for, campaign, people, actors):
    from popreg.registry import actions as registry

    adult = registry.do_register_birth(actors["admin"], name="赵六", sex="M", birth_date=date(1980, 1, 1),
                                       registered_unit_code=VILLAGE_A1)  # an adult without an ID number
    c = client_for("admin")
    resp = c.post(f"/campaigns/{campaign.pk}/generate/", follow=True)
    page = resp.content.decode()
    item = RectificationItem.objects.get(campaign=campaign, item_type="missing_field")
    assert "新增整改事项" in page and f'data-item="{item.pk}"' in page
    assert item.unit_id == VILLAGE_A1 and item.origin == "anomaly"
    assert adult.pk not in ListedPerson.objects.filter(campaign=campaign).values_list("person_id", flat=True)
