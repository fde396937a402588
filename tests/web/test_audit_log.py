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
