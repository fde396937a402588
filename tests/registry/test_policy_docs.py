"""The role table in docs/permissions.md and on /permissions/ is ROLE_PERMISSIONS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.html import escape

from popreg.registry.policy import COUNTY_WIDE, ROLE_PERMISSIONS, Permission

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table after ``## heading`` (cells stripped, header skipped)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def _codes(cell: str) -> list[str]:
    return re.findall(r"`(\w+)`", cell)


def test_docs_role_table_is_the_policy_table():
    rows = _table("Role table")
    documented = {_codes(r[0])[0]: _codes(r[3]) for r in rows}
    assert len(documented) == len(rows), "a role is listed twice"
    assert set(documented) == {str(role) for role in ROLE_PERMISSIONS}
    for role, perms in ROLE_PERMISSIONS.items():
        listed = documented[str(role)]
        assert len(listed) == len(set(listed)), f"{role}: a permission is listed twice"
        assert set(listed) == {p.value for p in perms}, f"docs/permissions.md: row {role} differs"


def test_docs_permission_table_has_every_permission_with_both_labels():
    rows = {_codes(r[0])[0]: (r[1], r[2]) for r in _table("Permissions")}
    assert set(rows) == set(Permission.values)
    for p in Permission:
        with translation.override("en"):
            assert rows[p.value][1] == str(p.label)
        with translation.override("zh-hans"):
            assert rows[p.value][0] == str(p.label), f"{p.value}: Chinese label differs from the catalog"


def test_docs_name_the_county_wide_permissions():
    paragraph = DOC.read_text(encoding="utf-8").split("County-wide:", 1)[1].split("\n\n", 1)[0]
    assert set(_codes(paragraph)) == {p.value for p in COUNTY_WIDE}


@pytest.mark.django_db
def test_permissions_page_renders_the_table_in_both_languages(client, users):
    from popreg.registry.models import Role

    client.force_login(users["admin"])
    zh = client.get("/permissions/")
    assert zh.status_code == 200
    page = zh.content.decode()
    with translation.override("zh-hans"):
        for p in Permission:
            assert escape(str(p.label)) in page
        assert escape(str(Role.VILLAGE_CLERK.label)) in page
    assert "角色与权限" in page and "全县范围" in page
    cells = zh.context["permissions"]
    roles = [r["role"] for r in zh.context["roles"]]
    for row in cells:
        held = {role for role, cell in zip(roles, row["cells"], strict=True) if cell}
        assert held == {str(r) for r, perms in ROLE_PERMISSIONS.items() if row["value"] in perms}
    assert page.count('class="yes"') == sum(len(p) for p in ROLE_PERMISSIONS.values())

    client.cookies["django_language"] = "en"
    en = client.get("/permissions/").content.decode()
    with translation.override("en"):
        for p in Permission:
            assert escape(str(p.label)) in en
    assert "Roles and permissions" in en and "county-wide" in en and "角色与权限" not in en


@pytest.mark.django_db
@pytest.mark.parametrize("username, allowed", [("admin", True), ("officer_a", False), ("auditor", False),
                                               ("statistician", False)])
def test_only_holders_of_manage_users_see_the_page_and_its_link(client, users, username, allowed):
    client.force_login(users[username])
    assert client.get("/permissions/").status_code == (200 if allowed else 403)
    assert ('href="/permissions/"' in client.get("/").content.decode()) is allowed
