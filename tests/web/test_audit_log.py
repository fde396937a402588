"""The audit log page: auditors and county administrators read who saw or changed what."""

from __future__ import annotations

import pytest

from ..conftest import VILLAGE_A1


def rows(page: bytes) -> str:
    text = page.decode()
    return text[text.index("<tbody>"):text.index("</tbody>")]


def test_auditor_sees_id_reads_and_exports(login, people):
    login("clerk_a1").get(f"/persons/{people['mother'].pk}/")
    login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons.csv")
    c = login("auditor")
    page = c.get("/audit/").content.decode()
    assert "审计记录" in page
    assert "查看完整身份证号" in page and "导出人员名单" in page and "clerk_a1" in page
    only_exports = rows(c.get("/audit/", {"action": "export_persons"}).content)
    assert "导出人员名单" in only_exports and "查看完整身份证号" not in only_exports
    by_admin = rows(c.get("/audit/", {"who": "admin"}).content)
    assert "clerk_a1" not in by_admin and "出生登记" in by_admin


@pytest.mark.parametrize("role", ["clerk_a1", "officer_a", "statistician"])
def test_other_roles_cannot_read_the_audit_log(login, people, role):
    c = login(role)
    assert c.get("/audit/").status_code == 403
    assert "/audit/" not in c.get("/").content.decode()


def _record_at(when, action, name="admin"):
    """An audit record written at ``when`` (an aware datetime), through audit(): the clock
    is the default of ``AuditRecord.at`` (set before saving, the hash chain covers it)."""
    from unittest import mock

    from popreg.registry.access import Actor
    from popreg.registry.audit import audit
    from popreg.registry.models import AuditRecord

    at = AuditRecord._meta.get_field("at")
    with mock.patch("django.utils.timezone.now", return_value=when), \
            mock.patch.object(at, "_get_default", lambda: when, create=True):
        rec = audit(Actor(name=name, role="county_admin", prefix=""), action, None, unit_code=VILLAGE_A1)
    assert rec.at == when
    return rec


def test_date_range_is_whole_days_in_the_county_time_zone(login, users):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from popreg.registry.audit import AuditAction

    shanghai = ZoneInfo("Asia/Shanghai")
    late_1st = _record_at(datetime(2025, 3, 1, 23, 30, tzinfo=shanghai), AuditAction.REGISTER_BIRTH)
    # 00:30 on the 2nd in the county is still the 1st in UTC: a UTC day would misplace it
    early_2nd = _record_at(datetime(2025, 3, 2, 0, 30, tzinfo=shanghai), AuditAction.REGISTER_DEATH)
    on_3rd = _record_at(datetime(2025, 3, 3, 10, 0, tzinfo=shanghai), AuditAction.MOVE_IN)
    c = login("auditor")

    def shown(**params):
        page = c.get("/audit/", params)
        assert page.status_code == 200
        return [r.pk for r in page.context["page"].object_list]

    assert shown(**{"from": "2025-03-02", "to": "2025-03-02"}) == [early_2nd.pk]
    assert shown(**{"from": "2025-03-02", "to": "2025-03-03"}) == [on_3rd.pk, early_2nd.pk]
    assert shown(**{"from": "2025-03-02"})[-2:] == [on_3rd.pk, early_2nd.pk]  # and today's sign-in
    assert shown(to="2025-03-01") == [late_1st.pk]
    assert shown(**{"from": "2025-03-01", "to": "2025-03-03", "action": "move_in"}) == [on_3rd.pk]
    page = c.get("/audit/", {"from": "2025-03-02", "to": "2025-03-02"}).content.decode()
    assert "死亡注销" in rows(page.encode()) and "出生登记" not in rows(page.encode())
    bad = c.get("/audit/", {"from": "3/2/2025", "to": "2025-03-01"}).content.decode()
    assert "起始日期" in bad and "2025-11-01" in bad  # names the field and shows the format


def test_filtered_records_download_through_the_export_layer(login, users):
    import csv
    import io
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from popreg.registry.audit import AuditAction
    from popreg.registry.models import AuditRecord

    shanghai = ZoneInfo("Asia/Shanghai")
    _record_at(datetime(2025, 3, 1, 9, 0, tzinfo=shanghai), AuditAction.REGISTER_BIRTH, name="=HYPERLINK(1)")
    _record_at(datetime(2025, 3, 5, 9, 0, tzinfo=shanghai), AuditAction.REGISTER_DEATH)
    c = login("auditor")
    resp = c.get("/audit/", {"from": "2025-03-01", "to": "2025-03-01", "format": "csv", "reason": "季度检查"})
    assert resp.status_code == 200
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][0].startswith("# ") and "auditor" in lines[0][0]  # stamped: who
    body = lines[2:]
    assert [r[2] for r in body] == ["register_birth"] and body[0][3] == "出生登记"
    assert body[0][1] == "'=HYPERLINK(1)"  # neutralised
    export = AuditRecord.objects.get(action="export_audit_log")
    assert export.actor_name == "auditor" and export.detail["rows"] == 1
    assert export.detail["filter"]["from"] == "2025-03-01" and export.detail["reason"] == "季度检查"
    xlsx = c.get("/audit/", {"action": "register_death", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert login("officer_a").get("/audit/", {"format": "csv"}).status_code == 403
