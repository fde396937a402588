"""Campaign files with full ID numbers go through the export layer like the person list:
``full_id=1`` alone gives the page asking why (nothing exported), the file then carries
who, when and that reason, the export is audited with it, a role without full ID numbers
and a village outside the user's jurisdiction are refused."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from popreg.registry.models import AuditRecord

from ..conftest import VILLAGE_A1, VILLAGE_B1


def _exports(action):
    return list(AuditRecord.objects.filter(action=action).order_by("id"))


def _workbook_text(content: bytes) -> str:
    wb = load_workbook(io.BytesIO(content))
    return "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)


def test_workbook_with_full_ids_asks_why_then_carries_the_reason(client, users, campaign, people):
    client.force_login(users["clerk_a1"])
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx"
    masked = client.get(url)
    assert masked["Content-Type"].startswith("application/vnd.openxmlformats")
    assert people["mother"].id_number not in _workbook_text(masked.content)
    assert _exports("campaign_export_workbook")[-1].detail["masked"] is True
    # full_id=1 without a reason: the form, nothing exported
    form = client.get(url, {"full_id": "1"})
    page = form.content.decode()
    assert form.status_code == 200 and 'name="reason"' in page and 'name="full_id" value="1"' in page
    assert len(_exports("campaign_export_workbook")) == 1
    # an empty reason: the form again, the error under the field
    again = client.get(url, {"full_id": "1", "reason": " "})
    assert again.status_code == 400 and 'id="id_reason_error"' in again.content.decode()
    assert len(_exports("campaign_export_workbook")) == 1
    full = client.get(url, {"full_id": "1", "reason": "入户核对 派出所协查"})
    text = _workbook_text(full.content)
    assert people["mother"].id_number in text
    assert "clerk_a1" in text and "入户核对 派出所协查" in text  # the stamp: who and why
    rec = _exports("campaign_export_workbook")[-1]
    assert rec.detail["masked"] is False and rec.detail["reason"] == "入户核对 派出所协查"
    assert rec.actor_name == "clerk_a1" and rec.unit_code == VILLAGE_A1


def test_workbook_with_full_ids_refused_outside_the_jurisdiction_and_the_role(client, users, campaign, people):
    client.force_login(users["clerk_a1"])
    r = client.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_B1}/workbook.xlsx",
                   {"full_id": "1", "reason": "入户核对"})
    assert r.status_code in (403, 404)
    client.force_login(users["statistician"])  # no full ID numbers (nor field work)
    r = client.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx",
                   {"full_id": "1", "reason": "入户核对"})
    assert r.status_code in (403, 404)
    assert _exports("campaign_export_workbook") == []


def test_field_list_pdf_with_full_ids(client, users, campaign, people, settings, tmp_path):
    from popreg.registry.job_models import Job

    from . import pdfcheck

    settings.POPREG_HOME = tmp_path
    client.force_login(users["clerk_a1"])
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/list.pdf"
    form = client.post(url, {"full_id": "1", "split": ""})
    page = form.content.decode()
    assert form.status_code == 200 and 'name="reason"' in page and 'method="post"' in page
    assert not Job.objects.filter(kind="field_list_pdf").exists()
    r = client.post(url, {"full_id": "1", "split": "", "reason": "入户核对"})
    job = Job.objects.get(kind="field_list_pdf")
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.pk}/"
    assert job.params["full_id"] is True and job.params["reason"] == "入户核对"
    body = b"".join(client.get(job.result_url).streaming_content)
    text = pdfcheck.text(body)
    assert people["mother"].id_number in text and "入户核对" in text and "clerk_a1" in text
    rec = _exports("campaign_export_field_list")[-1]
    assert rec.detail["masked"] is False and rec.detail["reason"] == "入户核对"


def test_the_campaign_page_offers_full_ids_only_to_roles_that_may_see_them(client, users, campaign, people):
    client.force_login(users["clerk_a1"])
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx?full_id=1" in page
    assert 'name="full_id" value="1"' in page and "含完整身份证号" in page
    client.force_login(users["statistician"])
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "full_id=1" not in page and 'name="full_id"' not in page
