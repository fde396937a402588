"""A GET never writes: every page, API call and download, asked by every role (with plain
and with hostile query parameters), leaves the row count of every table and the files
under POPREG_HOME as they were, and never answers 500.

Only bookkeeping may grow: sessions and login records, and audit records of reads (a
full ID number shown, a file downloaded)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from popreg.registry.audit import AuditAction
from popreg.registry.models import AuditRecord

from ..conftest import VILLAGE_A1

#: Tables a GET may add rows to (sessions, login bookkeeping, audit records of reads).
#: ``otp_totp_totpdevice``: the two-factor enrolment page keeps one unconfirmed device per
#: user (its secret must outlive the page to check the first code; it is reused, not added).
ALLOWED_TABLES = {"django_session", "registry_auditrecord", "axes_accesslog", "axes_accessattempt",
                  "axes_accessfailurelog", "otp_totp_totpdevice"}
#: Audit records a GET may write: reads and downloads, never a change (and the test's own
#: logins between pages).
READ_ACTIONS = {AuditAction.LOGIN,
    AuditAction.VIEW_ID_NUMBER, AuditAction.READ_ID_NUMBER, AuditAction.CHECK_ID_ELSEWHERE,
    AuditAction.EXPORT_PERSONS, AuditAction.EXPORT_STATISTICS, AuditAction.EXPORT_SCORECARDS,
    AuditAction.EXPORT_DUPLICATE_LABELS, AuditAction.EXPORT_FILE, AuditAction.EXPORT_AUDIT_LOG,
    AuditAction.CAMPAIGN_EXPORT_WORKBOOK, AuditAction.CAMPAIGN_EXPORT_SUMMARY,
    AuditAction.CAMPAIGN_EXPORT_FIELD_LIST,
}
HOSTILE = {
    "page": str(10**30), "page_size": "-1", "year": str(10**30), "month": "9999-99", "rules": str(10**30),
    "snapshot": "../../etc", "level": "x" * 300, "q": "张" * 300, "unit": "9" * 40, "fmt": "exe",
    "population": "<script>", "status": "'; drop table x", "next": "//evil.example",
}
ROLES = ["clerk_a1", "officer_a", "admin", "statistician", "auditor"]


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _urls(people) -> list[str]:
    values = {"code": VILLAGE_A1, "number": people["hh_a"].household_no, "pk": str(people["child"].pk),
              "person_id": str(people["child"].pk), "household_id": str(people["hh_a"].pk),
              "person_pk": str(people["child"].pk), "item_pk": "1", "job": "1", "fmt": "csv"}
    urls = []
    for route in _routes(get_resolver().url_patterns):
        if route.startswith(("^", "admin/", "static/")):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
        urls.append("/" + url)
    # Pages whose GET once wrote (the reconciliation of the registry now wrote a snapshot),
    # with valid choices rather than none.
    urls += ["/stats/reconciliation/?month=2025-10&level=village&snapshot=",
             "/stats/reconciliation/?month=2025-10&level=township", "/stats/assessment/?year=2024&level=village",
             "/stats/?year=2024&population=resident", "/jobs/?page=2", "/audit/?page=999999"]
    return sorted(set(urls))


def _counts() -> dict[str, int]:
    tables = sorted(t for t in connection.introspection.table_names() if not t.startswith("sqlite_"))
    qn = connection.ops.quote_name
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {qn(t)}" for t in tables)
    with connection.cursor() as cur:
        cur.execute(sql)
        return dict(cur.fetchall())


def _files(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*")}


@pytest.mark.parametrize("role", ROLES)
def test_no_get_writes(client, users, people, role, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(users[role])
    urls = _urls(people)
    assert len(urls) > 60  # the walk found the site
    before, files = _counts(), _files(tmp_path)
    first_audit = AuditRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    failures = []
    for url in urls:
        for params in ({}, HOSTILE):
            r = client.get(url, params)
            if r.status_code >= 500:
                failures.append(f"{url} {params and 'hostile'}: {r.status_code}")
            after = _counts()
            changed = {t for t in after if after[t] != before.get(t) and t not in ALLOWED_TABLES}
            if changed:
                failures.append(f"{url} {params and 'hostile'} wrote to {sorted(changed)}")
                before = after
            if _files(tmp_path) != files:
                failures.append(f"{url} wrote files {sorted(_files(tmp_path) - files)}")
                files = _files(tmp_path)
        client.force_login(users[role])  # a GET of /logout/ or similar must not end the walk
    written = set(AuditRecord.objects.filter(pk__gt=first_audit).values_list("action", flat=True))
    assert not failures, "\n".join(failures)
    assert written <= {a.value for a in READ_ACTIONS}, written - {a.value for a in READ_ACTIONS}
    if "otp_totp_totpdevice" in before:
        with connection.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM otp_totp_totpdevice WHERE user_id = %s", [users[role].pk])
            assert cur.fetchone()[0] <= 1
