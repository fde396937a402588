"""A menu offers only pages its user may open: for every role (the test county's users and
a benefits officer), every link of the main menu and of the exchange pages' sub-menu, on
the home page and on each exchange page the role may see, opens (no 403).  The import
page needs import_persons, the exchange pages view_exchange, the notifications to
review review_exchange; a statistician, an auditor or a benefits officer saw "导入" and
were refused, a township officer reviewing notifications saw the exchange pages and was
refused."""

from __future__ import annotations

import re

import pytest

from popreg.registry.models import Role

from ..conftest import COUNTY

pytestmark = pytest.mark.django_db

NAV = re.compile(r"<nav\b[^>]*>(.*?)</nav>", re.S)
HREF = re.compile(r'href="(/[^"#?]*)')
EXCHANGE_PAGES = ("/exchange/", "/exchange/outbox/", "/exchange/received/", "/exchange/review/")


def _menu_links(page: str) -> set[str]:
    return {href for nav in NAV.findall(page) for href in HREF.findall(nav)}


def test_every_menu_link_opens_for_every_role(client, users, settings):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    fuli = get_user_model().objects.create_user(username="fuli", password="x-unused-1")
    Assignment.objects.create(user=fuli, role=Role.BENEFITS_OFFICER, unit_id=COUNTY)
    refused: list[str] = []
    offered: dict[str, set[str]] = {}
    for name, user in {**users, "fuli": fuli}.items():
        client.force_login(user)
        pages = ["/"] + [p for p in EXCHANGE_PAGES if client.get(p).status_code == 200]
        links: set[str] = set()
        for page in pages:
            r = client.get(page)
            assert r.status_code == 200, (name, page)
            links |= _menu_links(r.content.decode())
        offered[name] = links
        for link in sorted(links):
            if link.startswith(("/logout", "/static/", "/i18n")):
                continue
            status = client.get(link).status_code
            if status == 403:
                refused.append(f"{name}: {link} (offered in a menu, refused)")
    assert not refused, "\n".join(refused)
    # the menus do offer the pages where the role may go
    assert "/import/" in offered["clerk_a1"] and "/import/" not in offered["statistician"]
    assert "/exchange/review/" in offered["officer_a"] and "/exchange/outbox/" not in offered["officer_a"]
    assert "/exchange/outbox/" in offered["admin"]
