"""Exports that respect privacy (issue 14, point 7): masked by default; a full-ID list asks
for a reason, stays inside the jurisdiction and, county-wide, needs a second person's
approval before its requester downloads it once; the file says who, when and why; every
step is audited; the import preview masks ID numbers."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from popreg.core.privacy import mask_id
from popreg.registry.audit import AuditAction
from popreg.registry.export_models import ExportApproval
from popreg.registry.models import AuditRecord, Role

from ..bilingual import check_bilingual
from ..conftest import COUNTY, PASSWORD, VILLAGE_A1, VILLAGE_B1


@pytest.fixture
def login(client, users):
    def _login(name):
        client.logout()
        client.login(username=name, password=PASSWORD)
        return client
    return _login


def _csv(response) -> list[list[str]]:
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _ids(rows: list[list[str]]) -> set[str]:
    return {row[4] for row in rows[2:]}


def _exports() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=AuditAction.EXPORT_PERSONS).order_by("id"))


def test_person_list_is_masked_by_default(login, people):
    rows = _csv(login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons.csv"))
    mother = people["mother"].id_number
    assert mask_id(mother) in _ids(rows) and mother not in _ids(rows)
    assert "已脱敏 masked" in rows[0][3] and "clerk_a1" in rows[0][0]
    assert _exports()[-1].detail["masked"] is True


def test_full_id_list_asks_for_a_reason_and_carries_it(login, people):
    c = login("clerk_a1")
    # the old one-click link now leads to the form, keeping the list's filters
    r = c.get(f"/units/{VILLAGE_A1}/persons.csv?full_id=1&status=all")
    assert r.status_code == 302 and r["Location"].startswith(f"/units/{VILLAGE_A1}/persons/full-id/?")
    assert "status=all" in r["Location"]
    form = c.get(r["Location"])
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    # no reason: the form again, naming the field, nothing exported
    r = c.post(f"/units/{VILLAGE_A1}/persons/full-id/", {"reason": "  "})
    assert r.status_code == 400 and 'id="id_reason_error"' in r.content.decode()
    r = c.post(f"/units/{VILLAGE_A1}/persons/full-id/", {"reason": "查" * 201})
    assert r.status_code == 400 and "用途不能超过200个字" in r.content.decode()
    assert _exports() == []
    r = c.post(f"/units/{VILLAGE_A1}/persons/full-id/?status=all", {"reason": "入户核查 household check"})
    rows = _csv(r)
    assert people["mother"].id_number in _ids(rows)
    assert people["other"].id_number not in _ids(rows)  # township B: outside the clerk's village
    stamp = "；".join(rows[0])
    assert "clerk_a1" in stamp and "入户核查 household check" in stamp and "完整 full" in stamp
    assert "导出时间 exported at" in stamp
    rec = _exports()[-1]
    assert rec.actor_name == "clerk_a1" and rec.unit_code == VILLAGE_A1
    assert rec.detail["masked"] is False and rec.detail["reason"] == "入户核查 household check"
    assert rec.detail["filters"]["status"] == "all"


def test_full_id_list_stays_inside_the_jurisdiction_and_the_role(login, people):
    c = login("clerk_a1")
    assert c.get(f"/units/{VILLAGE_B1}/persons/full-id/").status_code == 404
    assert c.post(f"/units/{VILLAGE_B1}/persons/full-id/", {"reason": "核查"}).status_code == 404
    stat = login("statistician")  # sees the registry, never full ID numbers
    assert stat.get(f"/units/{VILLAGE_A1}/persons/full-id/").status_code == 403
    assert stat.post(f"/units/{VILLAGE_A1}/persons/full-id/", {"reason": "核查"}).status_code == 403
    assert stat.get(f"/units/{VILLAGE_A1}/persons.csv?full_id=1").status_code == 403
    assert _exports() == []


@pytest.fixture
def admin2(users):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    u = get_user_model().objects.create_user(username="admin2", password=PASSWORD)
    Assignment.objects.create(user=u, role=Role.COUNTY_ADMIN, unit_id=COUNTY)
    return u


def test_county_wide_full_id_list_needs_a_second_person_then_downloads_once(login, people, admin2):
    c = login("admin")
    assert "提交审批" in c.get(f"/units/{COUNTY}/persons/full-id/").content.decode()  # "Ask for approval"
    r = c.post(f"/units/{COUNTY}/persons/full-id/", {"reason": "公安协查 police request 12"})
    assert r.status_code == 302 and r["Location"] == "/exports/approvals/"
    assert _exports() == []  # nothing handed out yet
    req = ExportApproval.objects.get()
    assert req.state == "pending" and req.requested_by.username == "admin"
    asked = AuditRecord.objects.get(action=AuditAction.REQUEST_FULL_ID_EXPORT)
    assert asked.detail["reason"] == "公安协查 police request 12" and asked.unit_code == COUNTY
    # neither the requester nor a user below the county approves it
    c.post(f"/exports/approvals/{req.pk}/approve/")
    assert ExportApproval.objects.get().state == "pending"
    assert login("officer_a").post(f"/exports/approvals/{req.pk}/approve/").status_code == 404
    assert "公安协查" not in login("clerk_a1").get("/exports/approvals/").content.decode()
    # the requester cannot download before the approval
    r = login("admin").post(f"/exports/approvals/{req.pk}/download/")
    assert r.status_code == 302 and _exports() == []
    # a second county user approves
    page = login("admin2").get("/exports/approvals/").content.decode()
    assert f"/exports/approvals/{req.pk}/approve/" in page
    assert login("admin2").get(f"/exports/approvals/{req.pk}/download/").status_code == 302  # a GET takes nothing
    assert login("admin2").post(f"/exports/approvals/{req.pk}/approve/").status_code == 302
    req.refresh_from_db()
    assert req.state == "approved" and req.approved_by_name == "admin2"
    assert AuditRecord.objects.filter(action=AuditAction.APPROVE_FULL_ID_EXPORT, actor_name="admin2").count() == 1
    # the approver may not take the file; the requester takes it once
    assert login("admin2").post(f"/exports/approvals/{req.pk}/download/").status_code == 404
    c = login("admin")
    rows = _csv(c.post(f"/exports/approvals/{req.pk}/download/"))
    assert {people["mother"].id_number, people["other"].id_number} <= _ids(rows)
    stamp = "；".join(rows[0])
    assert "公安协查 police request 12" in stamp and "exported by: admin；" in stamp
    assert "批准人 approved by: admin2" in stamp
    rec = _exports()[-1]
    assert rec.detail["approval"] == req.pk and rec.detail["approved_by"] == "admin2"
    assert rec.detail["masked"] is False and rec.unit_code == COUNTY
    again = c.post(f"/exports/approvals/{req.pk}/download/")
    assert again.status_code == 302 and len(_exports()) == 1
    req.refresh_from_db()
    assert req.state == "used"


def test_pages_in_both_languages(login, people, admin2):
    c = login("admin")
    check_bilingual(c, f"/units/{VILLAGE_A1}/persons/full-id/",
                    ["Person list with full ID numbers", "Download with full ID numbers", "Reason"],
                    ["含完整身份证号的人员名单", "下载（含完整身份证号）", "用途"])
    check_bilingual(c, f"/units/{COUNTY}/persons/full-id/", ["Ask for approval"], ["提交审批"])
    c.post(f"/units/{COUNTY}/persons/full-id/", {"reason": "公安协查"})
    check_bilingual(c, "/exports/approvals/", ["Full-ID exports", "Waiting for approval",
                                               "Another user must approve your request."],
                    ["完整身份证号导出", "待批准", "须由另一位人员批准您的申请。"])
    check_bilingual(login("admin2"), "/exports/approvals/", ["Approve", "Requested by"], ["批准", "申请人"])


def test_import_preview_masks_id_numbers(login, settings, tmp_path):
    from ..importing.helpers import sample_rows, to_csv

    settings.POPREG_HOME = tmp_path
    rows = sample_rows(4)
    full = rows[0][6]
    c = login("officer_a")
    r = c.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(rows), "text/csv")})
    url = r["Location"]
    page = c.get(url).content.decode()
    assert mask_id(full) in page and full not in page
    assert not AuditRecord.objects.filter(action=AuditAction.VIEW_ID_NUMBER).exists()
    assert "full_id=1" in page  # the officer may see full ID numbers, on request
    page = c.get(url + "?full_id=1").content.decode()
    assert full in page
    rec = AuditRecord.objects.get(action=AuditAction.VIEW_ID_NUMBER)
    assert rec.actor_name == "officer_a" and rec.detail["id_numbers"] == 4


def approval_objects(users, roles) -> dict:
    """Full-ID export requests for the authorization matrix (tests/web/test_authz_matrix.py):
    ``export_approval``, a pending request inside township A and one in township B, made by
    a user other than those who approve them; ``export_request``, an approved request of
    each user who may see full ID numbers, in their own unit, and one of clerk_b1."""
    from django.utils import timezone

    from popreg.registry.models import AdminUnit
    from popreg.registry.policy import ROLE_PERMISSIONS, Permission

    def make(user, code, approved_by=None):
        now = timezone.now()
        return ExportApproval.objects.create(
            unit=AdminUnit.objects.get(code=code), reason="核查", requested_by=user,
            requested_by_name=user.username, requested_at=now,
            approved_by=approved_by, approved_by_name=approved_by.username if approved_by else "",
            approved_at=now if approved_by else None)

    approver = users["clerk_b1"]
    own = {name: make(users[name], unit, approver) for name, (role, unit) in roles.items()
           if Permission.VIEW_FULL_ID in ROLE_PERMISSIONS[role]}
    return {
        "export_approval": ((make(users["clerk_b1"], VILLAGE_A1).pk,), (make(users["clerk_b1"], VILLAGE_B1).pk,)),
        "export_request": own, "export_request_foreign": make(users["clerk_b1"], VILLAGE_B1, users["admin"]),
    }
