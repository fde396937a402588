"""The overview's table of provinces of origin and destination names a place nobody knows
in the page's language: 不详 on the Chinese page, "unknown" on the English one (the
English page showed 不详), in the table and in the chart's labels."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from popreg.migrants import actions

from ..bilingual import get_page
from .test_pages import data  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.django_db


def _destinations(page: str) -> list[str]:
    found = re.search(r'<script id="[^"]*" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))["destinations"]


def test_an_unknown_destination_is_named_in_the_page_language(client, users, people, actors, data):  # noqa: F811
    actions.record_whereabouts_unknown(actors["admin"], people["mother"], left_on=date(2025, 6, 1),
                                       source="campaign")
    client.force_login(users["admin"])
    zh = get_page(client, "/migrants/", english=False)
    assert "<td>不详</td>" in zh and "不详" in _destinations(zh)
    en = get_page(client, "/migrants/", english=True)
    assert "不详" not in en
    assert "<td>unknown</td>" in en and "unknown" in _destinations(en)
