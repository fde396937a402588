"""The CSRF token of the reconciliation page's POST forms never lands in a URL: not in the
redirect after creating items, not in the CSV link of the page it leads to (a URL ends up in
the browser history, proxy and server logs and Referer headers)."""

from __future__ import annotations

import pytest

from .test_reconciliation import LINKS, write_recon_snapshot
from .test_reconciliation_items import _officer_a, loaded  # noqa: F401  (fixture)

pytestmark = pytest.mark.urls("tests.stats.urls_for_tests")

TOKEN = "secret-csrf-token-value"


def test_creating_items_redirects_without_the_csrf_token(loaded, client, settings, tmp_path, monkeypatch):  # noqa: F811
    settings.POPREG_HOME = tmp_path / "home"
    write_recon_snapshot(tmp_path / "home" / "snapshots" / "s1")
    monkeypatch.setattr("popreg.stats.views_reconciliation.source_links", lambda path: LINKS)
    _officer_a(client)
    params = {"month": "2024-05", "snapshot": "s1", "level": "village"}

    compare = client.post("/stats/reconciliation/", {**params, "action": "compare", "csrfmiddlewaretoken": TOKEN})
    assert compare.status_code == 302 and TOKEN not in compare["Location"]
    create = client.post("/stats/reconciliation/",
                         {**params, "action": "create_items", "csrfmiddlewaretoken": TOKEN})
    assert create.status_code == 302
    location = create["Location"]
    assert "csrfmiddlewaretoken" not in location and "month=2024-05" in location and "snapshot=s1" in location

    page = client.get(location)
    assert page.status_code == 200 and page.context["rows"]
    html = page.content.decode()
    assert "format=csv" in _csv_link(html) and "csrfmiddlewaretoken" not in _csv_link(html)
    assert "csrfmiddlewaretoken=" not in html


def test_page_reached_with_a_token_in_its_url_does_not_copy_it(loaded, client, settings, tmp_path, monkeypatch):  # noqa: F811
    """Bookmarks made before the fix carry the token: the CSV link must not pass it on."""
    settings.POPREG_HOME = tmp_path / "home"
    write_recon_snapshot(tmp_path / "home" / "snapshots" / "s1")
    monkeypatch.setattr("popreg.stats.views_reconciliation.source_links", lambda path: LINKS)
    _officer_a(client)
    page = client.get("/stats/reconciliation/", {"month": "2024-05", "snapshot": "s1", "level": "village",
                                                 "csrfmiddlewaretoken": TOKEN})
    assert page.status_code == 200 and page.context["rows"]
    assert TOKEN not in _csv_link(page.content.decode())


def _csv_link(html: str) -> str:
    import re

    link = re.search(r'<a href="([^"]*)" id="export-csv"', html)
    assert link, "the page has no CSV link"
    return link.group(1)
