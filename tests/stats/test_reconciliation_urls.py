"""The comparison of a stored snapshot runs as a job like that of the registry now, and the
CSRF token of the reconciliation page's POST forms never lands in a URL: not in the
redirect to the job, not in the CSV link of the result page, not when the page is reached
with a token in its URL (a URL ends up in the browser history, proxy and server logs and
Referer headers)."""

from __future__ import annotations

import pytest

from popreg.registry.job_models import Job

from .test_reconciliation import LINKS, write_recon_snapshot
from .test_reconciliation_items import _officer_a, loaded  # noqa: F401  (fixture)

pytestmark = pytest.mark.urls("tests.stats.urls_for_tests")

TOKEN = "secret-csrf-token-value"


def test_comparing_a_snapshot_is_a_job_and_no_url_carries_the_csrf_token(loaded, client, settings, tmp_path, monkeypatch):  # noqa: F811
    settings.POPREG_HOME = tmp_path / "home"
    write_recon_snapshot(tmp_path / "home" / "snapshots" / "s1")
    monkeypatch.setattr("popreg.stats.assessment.source_links", lambda path: LINKS)
    _officer_a(client)
    params = {"month": "2024-05", "snapshot": "s1", "level": "village"}

    # A GET computes nothing: the form, with the chosen snapshot
    page = client.get("/stats/reconciliation/", params)
    assert page.status_code == 200 and not page.context.get("rows")
    assert not Job.objects.exists()
    compare = client.post("/stats/reconciliation/", {**params, "action": "compare", "csrfmiddlewaretoken": TOKEN})
    job = Job.objects.get(kind="reconciliation")
    assert compare.status_code == 302 and compare["Location"] == f"/jobs/{job.pk}/"
    assert job.params["snapshot"] == "s1" and job.state == "succeeded", job.error_en
    assert job.result["snapshot"] == "s1" and job.result["rows"]

    result = client.get(job.result_url)
    assert result.status_code == 200 and result.context["rows"]
    html = result.content.decode()
    assert "format=csv" in _csv_link(html) and "csrfmiddlewaretoken" not in _csv_link(html)
    assert "csrfmiddlewaretoken=" not in html
    create = client.post(job.result_url, {"csrfmiddlewaretoken": TOKEN})
    assert create.status_code == 302 and "csrfmiddlewaretoken" not in create["Location"]


def test_page_reached_with_a_token_in_its_url_does_not_copy_it(loaded, client, settings, tmp_path, monkeypatch):  # noqa: F811
    """Bookmarks made before the fix carry the token: no link or form of the page passes it on."""
    settings.POPREG_HOME = tmp_path / "home"
    write_recon_snapshot(tmp_path / "home" / "snapshots" / "s1")
    monkeypatch.setattr("popreg.stats.assessment.source_links", lambda path: LINKS)
    _officer_a(client)
    page = client.get("/stats/reconciliation/", {"month": "2024-05", "snapshot": "s1", "level": "village",
                                                 "csrfmiddlewaretoken": TOKEN})
    assert page.status_code == 200
    import re

    links = re.findall(r'(?:href|action)="([^"]*)"', page.content.decode())
    assert links and not [link for link in links if TOKEN in link]


def _csv_link(html: str) -> str:
    import re

    link = re.search(r'<a href="([^"]*)" id="export-csv"', html)
    assert link, "the page has no CSV link"
    return link.group(1)
