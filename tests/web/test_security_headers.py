"""Headers and templates that keep personal data in the page and out of caches and URLs:
the Content-Security-Policy forbids inline script, so no template may need it; every page
and download a view produces says ``Cache-Control: no-store``; no GET form carries the CSRF
token (it would land in the URL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import popreg

from ..conftest import TOWN_A, VILLAGE_A1

TEMPLATES = sorted(Path(popreg.__file__).parent.glob("**/templates/**/*.html"))
# Rendered to PDF by WeasyPrint only (popreg.registry.exports), never served to a browser.
PRINT_ONLY = {"stats/templates/stats/report_print.html", "campaigns/templates/campaigns/summary_print.html",
              "campaigns/templates/campaigns/print/field_list.html",
              "planning/templates/planning/plan_print.html",
              "benefits/templates/benefits/notice_print.html",
              # households and certificates (registry)
              "registry/templates/registry/certificates/certificate.html"}
ACTIVE_CONTENT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)


def _name(path: Path) -> str:
    return str(path.relative_to(Path(popreg.__file__).parent))


def test_the_scan_finds_the_templates():
    assert len(TEMPLATES) > 50
    assert any(p.name == "base.html" for p in TEMPLATES)


@pytest.mark.parametrize("path", TEMPLATES, ids=_name)
def test_no_inline_script_or_event_handler(path):
    """script-src 'self': a <script> must load a file (src=...) or be data (JSON)."""
    text = path.read_text(encoding="utf-8")
    for attrs, body in ACTIVE_CONTENT.findall(text):
        is_data = re.search(r'type="application/(ld\+)?json"', attrs)
        assert "src=" in attrs or is_data, f"{_name(path)}: inline <script>{body[:60]!r}"
        assert not body.strip() or is_data, f"{_name(path)}: <script src> with inline code"
    handler = EVENT_HANDLER.search(text)
    assert not handler, f"{_name(path)}: event-handler attribute {handler.group(0)[-40:]!r}"
    assert "javascript:" not in text.lower(), f"{_name(path)}: javascript: URL"


@pytest.mark.parametrize("path", [p for p in TEMPLATES if _name(p) not in PRINT_ONLY], ids=_name)
def test_no_inline_style(path):
    """style-src 'self': styles come from static/popreg/*.css."""
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<style\b", text, re.I), f"{_name(path)}: <style> block"
    attribute = re.search(r"<[a-z][^>]*\sstyle\s*=", text, re.I | re.S)
    assert not attribute, f"{_name(path)}: style attribute {attribute.group(0)[-40:]!r}"


def test_print_only_templates_are_still_there():
    assert {_name(p) for p in TEMPLATES} >= PRINT_ONLY


@pytest.mark.parametrize("path", TEMPLATES, ids=_name)
def test_no_get_form_carries_the_csrf_token(path):
    text = path.read_text(encoding="utf-8")
    for attrs, body in re.findall(r"<form\b([^>]*)>(.*?)</form\s*>", text, re.S | re.I):
        method = re.search(r'method="(\w+)"', attrs, re.I)
        if method is None or method.group(1).lower() == "get":
            assert "csrf_token" not in body, f"{_name(path)}: a GET form with {{% csrf_token %}}: {attrs!r}"


def test_the_scans_catch_what_they_look_for():
    """The patterns above are not vacuous."""
    assert ACTIVE_CONTENT.search("<script>alert(1)</script>")
    assert EVENT_HANDLER.search('<button type="button" onclick="go()">')
    assert not EVENT_HANDLER.search('<form action="/x" method="post">')


def _pages(people) -> list[str]:
    return ["/", "/search/?q=王", f"/persons/{people['mother'].pk}/", f"/units/{TOWN_A}/",
            f"/units/{VILLAGE_A1}/persons/", f"/households/{people['hh_a'].household_no}/",
            "/import/", "/stats/", "/campaigns/", "/linkage/", "/jobs/", "/audit/", "/api/docs"]


def test_main_pages_send_the_policy_and_no_store(login, people):
    c = login("admin")
    for url in _pages(people):
        r = c.get(url)
        assert r.status_code == 200, url
        policy = r["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", url
        assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in policy, url
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'", url
        assert "no-store" in r["Cache-Control"], url
        assert "cdn" not in r.content.decode().lower(), url  # the API docs use the vendored Swagger UI


def test_downloads_are_not_stored(login, people):
    r = login("officer_a").get(f"/units/{TOWN_A}/persons.csv")
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"


def test_a_view_cannot_let_a_logged_in_page_be_cached(rf, users):
    """A view's own caching is overridden for a logged-in user, kept for an anonymous one."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from popreg.web.middleware import NoStoreMiddleware

    def view(request):
        response = HttpResponse("x")
        response["Cache-Control"] = "public, max-age=3600"
        return response

    request = rf.get("/")
    request.user = users["clerk_a1"]
    cc = NoStoreMiddleware(view)(request)["Cache-Control"]
    assert "no-store" in cc and "public" not in cc
    request.user = AnonymousUser()
    assert NoStoreMiddleware(view)(request)["Cache-Control"] == "public, max-age=3600"
    request.user = AnonymousUser()
    assert NoStoreMiddleware(lambda r: HttpResponse("x"))(request)["Cache-Control"] == "no-store"


def test_login_page_is_not_stored_and_static_files_are_cacheable(client, county):
    r = client.get("/login/")
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    assert "Content-Security-Policy" in r
    static = client.get("/static/popreg/popreg.css")
    assert static.status_code == 200 and "no-store" not in static.get("Cache-Control", "")


def test_chart_script_is_a_static_file(client):
    r = client.get("/static/popreg/stats-charts.js")
    assert r.status_code == 200
    assert b"stats-data" in b"".join(r.streaming_content)
