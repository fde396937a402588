"""Exports in headless Chromium (issue 14, point 7): the person list downloads with masked
ID numbers; the full-ID download asks for a reason (an empty one is refused, naming the
field), and the file it gives carries the full numbers, who, when and why."""

from __future__ import annotations

import csv
import io

import pytest

from popreg.core.privacy import mask_id
from popreg.registry.audit import AuditAction
from popreg.registry.models import AuditRecord

from ..conftest import PASSWORD, VILLAGE_A1

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_masked_export_and_full_id_export_with_a_reason(browser, people):
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)
    full = people["mother"].id_number

    b.open(f"/units/{VILLAGE_A1}/persons/")
    b.click('a[href*="/persons.csv"]')
    masked = _rows(b.wait_download(".csv"))
    ids = {r[4] for r in masked[2:]}
    assert mask_id(full) in ids and full not in ids and "已脱敏 masked" in "；".join(masked[0])
    for p in list(b.downloads.iterdir()):
        p.unlink()

    b.submit('a[href*="/persons/full-id/"]')
    assert "含完整身份证号的人员名单" in b.text()
    b.shot("reason-form")
    b.submit("form.entry button[type=submit]")  # no reason: refused, naming the field
    assert "请填写导出完整身份证号的用途" in b.css("#id_reason_error").text
    b.shot("reason-missing")
    b.css("#id_reason").send_keys("入户核查")
    b.click("form.entry button[type=submit]")
    rows = _rows(b.wait_download(".csv"))
    stamp = "；".join(rows[0])
    assert full in {r[4] for r in rows[2:]}
    assert "clerk_a1" in stamp and "入户核查" in stamp and "完整 full" in stamp
    rec = AuditRecord.objects.filter(action=AuditAction.EXPORT_PERSONS).latest("id")
    assert rec.detail["masked"] is False and rec.detail["reason"] == "入户核查"
