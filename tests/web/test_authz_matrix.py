"""Authorization matrix: every route of the URL configuration and every operation of the
API schema, asked by every role (and anonymously) for an object inside and one outside the
role's jurisdiction.

The expected outcome comes from the one policy table (``ROLE_PERMISSIONS``): each route
names the permission its view requires and the kind of object its path parameters name.
A route without an entry in :data:`ROUTES` (or an entry without a route) fails the test, so
a new page cannot escape the matrix.

* anonymous: a page redirects to the login page, the API answers 401;
* an object outside the jurisdiction: 403 or 404, and none of the outside person's name,
  ID number (full or masked) or household number on the page;
* an object inside with the permission: not refused (200, a redirect, a form's 400);
* without the permission: 403 or 404;
* a refused POST (empty body) changes no row of any table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from popreg.core.privacy import mask_id
from popreg.registry.models import Role
from popreg.registry.policy import COUNTY_WIDE, ROLE_PERMISSIONS, Permission

from ..conftest import COUNTY, TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_B1

P = Permission

#: Routes outside the matrix, with the reason.
EXEMPT_PREFIXES = {
    "admin/": "the Django admin: superusers only (admin.site.has_permission), tested in tests/registry",
    "i18n/": "language switch: no data, open to everyone by design",
    "^static/": "stylesheets and vendored files: public by design",
    "login/": "the login page itself: public by design",
    "logout/": "ends the session: no data",
    "otp/": "two-factor enrolment of the logged-in user only (tests/web/test_login_security.py)",
    "certificates/verify/": "checks a printed certificate's serial number and verification code: "
                            "public by design (schools, banks); shows only a matching certificate's kind, "
                            "date, office and masked name (tests/registry/test_certificates.py)",
    "exchange/inbox/": "where other counties' deployments POST signed messages: no session, each "
                       "message authenticated by its Ed25519 signature (tests/exchange/test_pages.py)",
}
#: Single routes outside the matrix (exact pattern), with the reason.
EXEMPT_EXACT = {"api/": "django-ninja's root: answers 404 to everyone, no data"}

#: The jurisdiction of each test user (tests/conftest.py ``users``) and its role.
ROLES: dict[str | None, tuple[str, str]] = {
    "clerk_a1": (Role.VILLAGE_CLERK, VILLAGE_A1),
    "officer_a": (Role.TOWNSHIP_OFFICER, TOWN_A),
    "admin": (Role.COUNTY_ADMIN, COUNTY),
    "statistician": (Role.COUNTY_STATISTICIAN, COUNTY),
    "auditor": (Role.AUDITOR, COUNTY),
}

#: Tables a request may add to without changing anything (sessions, login bookkeeping,
#: audit records of reads).
BOOKKEEPING = {"django_session", "registry_auditrecord", "axes_accesslog", "axes_accessattempt",
               "axes_accessfailurelog", "otp_totp_totpdevice"}


@dataclass(frozen=True)
class Entry:
    """How to use one route: the permission its view requires, the kind of object its path
    names (``None``: no object, asked once per role), and its methods."""

    perm: Permission | None  # None: any logged-in user with a jurisdiction
    obj: str | None = None
    methods: tuple[str, ...] = ("GET",)
    #: For an object that is not the user's own (another user's job), this permission too.
    others: Permission | None = None
    #: A POST needs this permission instead of ``perm`` (a page anyone may read, a form not).
    post: Permission | None = None
    #: A POST without the permission is refused by the action, not the view: the form or a
    #: redirect comes back with the error (still nothing may change).
    soft: bool = False
    #: Only the object's owner may use it (an import folder): another user's object is
    #: refused whatever the role.
    owner_only: bool = False


G, POST, GP = ("GET",), ("POST",), ("GET", "POST")

#: Every route: web routes by their pattern, API operations by "METHOD /api/path".
ROUTES: dict[str, Entry] = {
    # ---- site and registry
    "": Entry(None),
    "search/": Entry(P.VIEW_REGISTRY),
    "units/<str:code>/": Entry(P.VIEW_REGISTRY, "unit"),
    "units/<str:code>/persons/": Entry(P.VIEW_REGISTRY, "unit"),
    "units/<str:code>/persons.csv": Entry(P.EXPORT_PERSONS, "unit"),
    # full-ID person lists: a reason; county-wide, a second person's approval (exports)
    "units/<str:code>/persons/full-id/": Entry(P.VIEW_FULL_ID, "unit", GP),
    "exports/approvals/": Entry(P.VIEW_FULL_ID),
    "exports/approvals/<int:pk>/approve/": Entry(P.VIEW_FULL_ID, "export_approval", POST),
    "exports/approvals/<int:pk>/download/": Entry(P.VIEW_FULL_ID, "export_request", POST, owner_only=True),
    "households/<str:number>/": Entry(P.VIEW_REGISTRY, "household"),
    "persons/<int:pk>/": Entry(P.VIEW_REGISTRY, "person"),
    "persons/<int:pk>/death/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/move-out/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/transfer/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/marriage/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/divorce/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/enlistment/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/discharge/": Entry(P.EDIT_REGISTRY, "person", GP),
    "persons/<int:pk>/correct/": Entry(P.EDIT_REGISTRY, "person", GP),
    # ---- households and certificates (registry)
    "households/<str:number>/head/": Entry(P.EDIT_REGISTRY, "household", GP),
    "households/<str:number>/split/": Entry(P.EDIT_REGISTRY, "household", GP),
    "households/<str:number>/merge/": Entry(P.EDIT_REGISTRY, "household", GP),
    "households/<str:number>/address/": Entry(P.EDIT_REGISTRY, "household", GP),
    "households/<str:number>/dissolve/": Entry(P.EDIT_REGISTRY, "household", GP),
    "persons/<int:pk>/certificate/": Entry(P.PRINT_CERTIFICATES, "person", GP),
    "register/birth/": Entry(P.EDIT_REGISTRY, None, GP),
    "register/move-in/": Entry(P.EDIT_REGISTRY, None, GP),
    "audit/": Entry(P.READ_AUDIT),
    "permissions/": Entry(P.MANAGE_USERS),
    "users/": Entry(P.MANAGE_USERS),
    "users/new/": Entry(P.MANAGE_USERS, None, GP),
    "users/<int:pk>/password/": Entry(P.MANAGE_USERS, "user", GP),
    "users/<int:pk>/deactivate/": Entry(P.MANAGE_USERS, "user", POST),
    "tokens/": Entry(None),
    "tokens/<int:pk>/revoke/": Entry(None, "token", POST, others=P.MANAGE_USERS),
    # ---- migrants
    "migrants/": Entry(P.VIEW_REGISTRY),
    "migrants/in/": Entry(P.VIEW_REGISTRY),
    "migrants/in/new/": Entry(P.MANAGE_MIGRANTS, None, GP),
    "migrants/in/<int:pk>/": Entry(P.VIEW_REGISTRY, "in_migrant"),
    "migrants/in/<int:pk>/move/": Entry(P.MANAGE_MIGRANTS, "in_migrant", POST),
    "migrants/in/<int:pk>/depart/": Entry(P.MANAGE_MIGRANTS, "in_migrant", POST),
    "migrants/in/<int:pk>/permit/": Entry(P.MANAGE_MIGRANTS, "in_migrant", POST),
    "migrants/permits/<int:pk>/renew/": Entry(P.MANAGE_MIGRANTS, "permit", POST),
    "migrants/permits/expiring/": Entry(P.VIEW_REGISTRY),
    "migrants/permits/expiring.xlsx": Entry(P.EXPORT_PERSONS),
    "migrants/out/": Entry(P.VIEW_REGISTRY),
    "migrants/out/unknown/": Entry(P.VIEW_REGISTRY),
    "migrants/out/unknown.xlsx": Entry(P.EXPORT_PERSONS),
    "migrants/out/<int:pk>/": Entry(P.VIEW_REGISTRY, "person", GP, post=P.MANAGE_MIGRANTS),
    "migrants/places/": Entry(P.VIEW_REGISTRY),
    "migrants/places/new/": Entry(P.MANAGE_MIGRANTS, None, GP),
    "migrants/places/<int:pk>/": Entry(P.VIEW_REGISTRY, "place", GP, post=P.MANAGE_MIGRANTS),
    "migrants/occupants/<int:pk>/end/": Entry(P.MANAGE_MIGRANTS, "occupant", POST),
    "migrants/import/": Entry(P.MANAGE_MIGRANTS, None, GP),
    "migrants/import/errors.csv": Entry(P.MANAGE_MIGRANTS),
    # ---- jobs
    "jobs/": Entry(P.VIEW_JOBS),
    "jobs/<int:pk>/": Entry(P.VIEW_JOBS, "job", others=P.MANAGE_JOBS),
    "jobs/<int:pk>/progress/": Entry(P.VIEW_JOBS, "job", others=P.MANAGE_JOBS),
    "jobs/<int:pk>/cancel/": Entry(P.VIEW_JOBS, "job", POST, others=P.MANAGE_JOBS),
    "jobs/<int:pk>/retry/": Entry(P.VIEW_JOBS, "job", POST, others=P.MANAGE_JOBS),
    # ---- import
    "import/": Entry(P.IMPORT_PERSONS, None, GP),
    "import/template.xlsx": Entry(P.IMPORT_PERSONS),
    "import/template.csv": Entry(P.IMPORT_PERSONS),
    "import/<str:job>/": Entry(P.IMPORT_PERSONS, "import", owner_only=True),
    "import/<str:job>/progress/": Entry(P.IMPORT_PERSONS, "import", owner_only=True),
    "import/<str:job>/commit/": Entry(P.IMPORT_PERSONS, "import", POST, owner_only=True),
    "import/<str:job>/errors.csv": Entry(P.IMPORT_PERSONS, "import", owner_only=True),
    "import/<str:job>/errors.xlsx": Entry(P.IMPORT_PERSONS, "import", owner_only=True),
    # ---- duplicate review (reading the queue and the runs is reading the registry)
    "linkage/": Entry(P.VIEW_REGISTRY),
    "linkage/candidates/<int:pk>/": Entry(P.VIEW_REGISTRY, "candidate"),
    "linkage/candidates/<int:pk>/decide/": Entry(P.REVIEW_DUPLICATES, "candidate", POST),
    "linkage/candidates/<int:pk>/merge/": Entry(P.REVIEW_DUPLICATES, "candidate", POST),
    "linkage/merges/": Entry(P.VIEW_REGISTRY),
    "linkage/merges/<int:pk>/undo/": Entry(P.REVIEW_DUPLICATES, "merge", POST),
    "linkage/runs/": Entry(P.VIEW_REGISTRY),
    "linkage/runs/start/": Entry(P.RUN_DEDUP, None, POST),
    "linkage/runs/<int:pk>/": Entry(P.VIEW_REGISTRY, "run"),
    "linkage/runs/<int:pk>/progress.json": Entry(P.VIEW_REGISTRY, "run"),
    "linkage/labels.csv": Entry(P.REVIEW_DUPLICATES),
    # ---- campaigns
    "campaigns/": Entry(P.VIEW_REGISTRY),
    # The form shows to every writer; the action refuses who may not create (a test of its own).
    "campaigns/new/": Entry(P.EDIT_REGISTRY, None, GP, post=P.MANAGE_CAMPAIGNS, soft=True),
    "campaigns/<int:pk>/": Entry(P.VIEW_REGISTRY, "campaign"),
    "campaigns/<int:pk>/advance/": Entry(P.MANAGE_CAMPAIGNS, "campaign", POST),
    "campaigns/<int:pk>/generate/": Entry(P.MANAGE_CAMPAIGNS, "campaign", POST),
    "campaigns/<int:pk>/items/": Entry(P.VIEW_REGISTRY, "campaign"),
    "campaigns/<int:pk>/items/<int:item_pk>/": Entry(P.VIEW_REGISTRY, "campaign_item"),
    "campaigns/<int:pk>/summary/": Entry(P.VIEW_REGISTRY, "campaign"),
    "campaigns/<int:pk>/summary.<str:fmt>": Entry(P.VIEW_REGISTRY, "campaign"),
    "campaigns/<int:pk>/sign-off/": Entry(P.CAMPAIGN_FIELDWORK, "campaign", POST),
    "campaigns/<int:pk>/villages/<str:code>/workbook.xlsx": Entry(P.CAMPAIGN_FIELDWORK, "campaign_village"),
    "campaigns/<int:pk>/villages/<str:code>/list.pdf": Entry(P.CAMPAIGN_FIELDWORK, "campaign_village", POST),
    "campaigns/field-lists/<int:job>/download/": Entry(P.CAMPAIGN_FIELDWORK, "field_list_job", others=P.MANAGE_JOBS),
    "campaigns/<int:pk>/villages/<str:code>/upload/": Entry(P.CAMPAIGN_FIELDWORK, "campaign_village", GP),
    "campaigns/<int:pk>/villages/<str:code>/capture/": Entry(P.VIEW_REGISTRY, "campaign_village"),
    "campaigns/<int:pk>/villages/<str:code>/capture/<int:person_pk>/": Entry(
        P.CAMPAIGN_FIELDWORK, "campaign_village_person", POST),
    "campaigns/<int:pk>/villages/<str:code>/found/": Entry(P.CAMPAIGN_FIELDWORK, "campaign_village", POST),
    "campaigns/<int:pk>/villages/<str:code>/spot-check/": Entry(P.VIEW_REGISTRY, "campaign_village"),
    # ---- statistics, assessment, reconciliation
    "stats/": Entry(P.VIEW_STATISTICS),
    "stats/refresh/": Entry(P.REFRESH_STATISTICS, None, POST),
    "stats/dse/build/": Entry(P.REFRESH_STATISTICS, None, POST),
    "stats/units/<str:code>/": Entry(P.VIEW_STATISTICS, "unit"),
    "stats/units/<str:code>/dse/": Entry(P.VIEW_STATISTICS, "unit"),
    "stats/units/<str:code>/report.pdf": Entry(P.EXPORT_STATISTICS, "unit"),
    "stats/units/<str:code>/report.xlsx": Entry(P.EXPORT_STATISTICS, "unit"),
    # closed periods: a unit closes, the county approves (docs/periods.md)
    "stats/periods/": Entry(P.VIEW_STATISTICS),
    "stats/units/<str:code>/periods/": Entry(P.VIEW_STATISTICS, "unit", GP, post=P.CLOSE_PERIODS),
    "stats/units/<str:code>/periods/approve/": Entry(P.APPROVE_PERIODS, "unit", POST),
    "stats/assessment/": Entry(P.VIEW_STATISTICS),
    "stats/assessment/jobs/<int:pk>/": Entry(P.VIEW_STATISTICS, "assessment_job", others=P.MANAGE_JOBS),
    "stats/assessment/rules/": Entry(P.VIEW_STATISTICS, None, GP, post=P.MAINTAIN_ASSESSMENT, soft=True),
    "stats/assessment/targets/": Entry(P.VIEW_STATISTICS, None, GP, post=P.SET_TARGETS),
    "stats/assessment/targets/template.xlsx": Entry(P.VIEW_STATISTICS),
    "stats/reconciliation/": Entry(P.VIEW_STATISTICS),
    "stats/reconciliation/jobs/<int:pk>/": Entry(P.VIEW_STATISTICS, "reconciliation_job", GP, others=P.MANAGE_JOBS,
                                                  post=P.RECONCILE),
    "stats/reconciliation/items/<int:pk>/settle/": Entry(P.RECONCILE, "reconciliation_item", GP),
    # ---- planning (a job of another kind on a planning page goes to the job's own page)
    "planning/": Entry(P.VIEW_STATISTICS, None, GP),
    "planning/jobs/<int:pk>/": Entry(P.VIEW_STATISTICS, "job", others=P.MANAGE_JOBS),
    "planning/jobs/<int:pk>/plan.pdf": Entry(P.EXPORT_STATISTICS, "job", others=P.MANAGE_JOBS),
    "planning/jobs/<int:pk>/plan.xlsx": Entry(P.EXPORT_STATISTICS, "job", others=P.MANAGE_JOBS),
    "planning/scenarios/": Entry(P.VIEW_STATISTICS, None, GP, post=P.MAINTAIN_PLANNING),
    "planning/norms/": Entry(P.VIEW_STATISTICS, None, GP, post=P.MAINTAIN_PLANNING),
    # ---- exchange between deployments: transport pages (county-wide; messages by id only)
    "exchange/": Entry(P.VIEW_EXCHANGE),
    "exchange/outbox/": Entry(P.VIEW_EXCHANGE),
    "exchange/outbox/<int:pk>/": Entry(P.VIEW_EXCHANGE, "missing"),
    "exchange/received/": Entry(P.VIEW_EXCHANGE),
    "exchange/received/<int:pk>/": Entry(P.VIEW_EXCHANGE, "missing"),
    "exchange/deliver/": Entry(P.MANAGE_EXCHANGE, None, POST),
    "exchange/requeue/": Entry(P.MANAGE_EXCHANGE, None, POST),
    # ---- exchange: review queue of incoming notifications (jurisdiction of the candidates)
    "exchange/review/": Entry(P.REVIEW_EXCHANGE),
    "exchange/review/<int:pk>/": Entry(P.REVIEW_EXCHANGE, "exchange_review"),
    "exchange/review/<int:pk>/accept/": Entry(P.REVIEW_EXCHANGE, "exchange_review", POST),
    "exchange/review/<int:pk>/link/": Entry(P.REVIEW_EXCHANGE, "exchange_review", POST),
    "exchange/review/<int:pk>/reject/": Entry(P.REVIEW_EXCHANGE, "exchange_review", POST),
    # ---- family benefits (popreg.benefits)
    "benefits/": Entry(P.VIEW_BENEFITS, None, GP, post=P.PREPARE_BENEFITS),
    "benefits/runs/<int:pk>/": Entry(P.VIEW_BENEFITS, "benefit_run"),
    "benefits/runs/<int:pk>/reproduce/": Entry(P.VIEW_BENEFITS, "benefit_run"),
    "benefits/runs/<int:pk>/decisions.csv": Entry(P.VIEW_BENEFITS, "benefit_run"),
    "benefits/runs/<int:pk>/publish/": Entry(P.PREPARE_BENEFITS, "benefit_run", POST),
    "benefits/runs/<int:pk>/approve/": Entry(P.APPROVE_BENEFITS, "benefit_run", POST),
    "benefits/runs/<int:pk>/villages/<str:code>/notice.pdf": Entry(P.VIEW_BENEFITS, "benefit_run_village"),
    "benefits/runs/<int:pk>/villages/<str:code>/list.<str:fmt>": Entry(P.VIEW_BENEFITS, "benefit_run_village"),
    "benefits/disclosures/<int:pk>/close/": Entry(P.PREPARE_BENEFITS, "benefit_disclosure", POST),
    "benefits/disclosures/<int:pk>/objections/": Entry(P.PREPARE_BENEFITS, "benefit_disclosure", POST),
    "benefits/objections/<int:pk>/resolve/": Entry(P.PREPARE_BENEFITS, "benefit_objection", POST),
    "benefits/payments/": Entry(P.VIEW_BENEFITS, None, GP, post=P.MANAGE_PAYMENTS),
    "benefits/payments/<int:pk>/": Entry(P.VIEW_BENEFITS, "benefit_batch"),
    "benefits/payments/<int:pk>/file.<str:fmt>": Entry(P.MANAGE_PAYMENTS, "benefit_batch"),
    "benefits/payments/<int:pk>/return/": Entry(P.MANAGE_PAYMENTS, "benefit_batch", POST),
    "benefits/payments/<int:pk>/resubmit/": Entry(P.MANAGE_PAYMENTS, "benefit_batch", POST),
    "benefits/recoveries/": Entry(P.VIEW_BENEFITS),
    "benefits/recoveries/<int:pk>/settle/": Entry(P.MANAGE_PAYMENTS, "benefit_recovery", POST),
    "benefits/applications/": Entry(P.VIEW_BENEFITS, None, GP, post=P.PREPARE_BENEFITS),
    "benefits/applications/<int:pk>/decide/": Entry(P.APPROVE_BENEFITS, "benefit_application", POST),
    "benefits/persons/<int:pk>/": Entry(P.VIEW_BENEFITS, "person", GP, post=P.RECORD_FAMILY_FACTS),
    # ---- outside sources arriving in the registry (popreg.sources): a job of another kind
    # goes to the job's own page; files and links by the units of their records
    "sources/": Entry(P.REVIEW_SOURCES, None, GP, post=P.IMPORT_SOURCES),
    "sources/jobs/<int:pk>/": Entry(P.IMPORT_SOURCES, "job", others=P.MANAGE_JOBS),
    "sources/jobs/<int:pk>/errors.<str:fmt>": Entry(P.IMPORT_SOURCES, "job", others=P.MANAGE_JOBS),
    "sources/batches/<int:pk>/": Entry(P.REVIEW_SOURCES, "source_batch"),
    "sources/review/": Entry(P.REVIEW_SOURCES),
    "sources/links/<int:pk>/": Entry(P.REVIEW_SOURCES, "source_link", GP),
    # ---- read API: its documentation and schema (logged-in users), then its operations
    "api/docs": Entry(None),
    "api/openapi.json": Entry(None),
    "GET /api/units": Entry(P.VIEW_REGISTRY),
    "GET /api/units/{code}": Entry(P.VIEW_REGISTRY, "unit"),
    "GET /api/units/{code}/children": Entry(P.VIEW_REGISTRY, "unit"),
    "GET /api/stats/units/{code}/periods": Entry(P.VIEW_STATISTICS, "unit"),
    "GET /api/stats/units/{code}/indicators": Entry(P.VIEW_STATISTICS, "unit"),
    "GET /api/households": Entry(P.VIEW_REGISTRY),
    "GET /api/households/{household_id}": Entry(P.VIEW_REGISTRY, "household_id"),
    "GET /api/persons": Entry(P.VIEW_REGISTRY),
    "GET /api/persons/{person_id}": Entry(P.VIEW_REGISTRY, "person"),
    # the plausibility rules for other systems: checks a record, saves nothing (docs/validation.md)
    "POST /api/validate": Entry(P.VIEW_REGISTRY),
}

def _web_routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _web_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def all_routes() -> set[str]:
    from popreg.web.api import api

    paths = api.get_openapi_schema()["paths"]
    routes = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    for r in _web_routes(get_resolver().url_patterns):
        # The API's operations come from its schema; its other routes (docs, schema) are pages.
        if not r.startswith(tuple(EXEMPT_PREFIXES)) and r not in EXEMPT_EXACT and "/" + re.sub(r"<(\w+)>", r"{\1}", r) not in paths:
            routes.add(r)
    return routes


def test_every_route_has_an_entry_and_every_entry_a_route(db):
    routes = all_routes()
    missing, stale = sorted(routes - ROUTES.keys()), sorted(ROUTES.keys() - routes)
    assert not missing and not stale, (f"routes without an entry in ROUTES (add one): {missing}\n"
                                       f"entries in ROUTES for routes that no longer exist: {stale}")


# ---------------------------------------------------------------- the county's objects


def in_scope(role_unit: str, code: str) -> bool:
    if role_unit == COUNTY:
        return True
    if role_unit.endswith("000"):  # a township
        return code[:9] == role_unit[:9]
    return code == role_unit


def _counts() -> dict[str, int]:
    tables = sorted(t for t in connection.introspection.table_names() if not t.startswith("sqlite_"))
    qn = connection.ops.quote_name
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {qn(t)}" for t in tables)
    with connection.cursor() as cur:
        cur.execute(sql)
        return dict(cur.fetchall())


#: A one-row import file (its person is not in the registry).
IMPORT_CSV = ("household_no,name,sex,birth_date,id_number,registered_unit\n"
              ",{name},女,1990-03-04,,{unit}\n")


@pytest.fixture
def world(people, users, actors, settings, tmp_path):
    """Inside and outside objects of every kind (outside: township B).  Jobs started here
    run at once (the immediate backend of tests/conftest.py) and finish."""
    from popreg.campaigns import actions as campaign_actions
    from popreg.linkage.models import DedupRun, DuplicateCandidate
    from popreg.registry import actions
    from popreg.registry.actions.accounts import do_create_api_token
    from popreg.registry.job_models import Job

    admin = actors["admin"]
    twin_b = actions.do_register_birth(admin, name="李娜", sex="F", birth_date=date(1985, 1, 2),
                                       registered_unit_code=VILLAGE_B1, household=people["hh_b"])
    dates = {"preparation_start": date(2025, 10, 1), "preparation_end": date(2025, 10, 31),
             "verification_start": date(2025, 11, 1), "verification_end": date(2025, 11, 15),
             "rectification_start": date(2025, 11, 16), "rectification_end": date(2025, 11, 30),
             "summary_start": date(2025, 12, 1), "summary_end": date(2025, 12, 15)}

    def campaign(code):
        return campaign_actions.do_create_campaign(
            admin, name=f"整顿{code}", scope_codes=[code], reference_moment=datetime(2025, 11, 1),
            dates=dates, spot_check_households=2, error_threshold=0.05, seed=7)

    camp_a, camp_b = campaign(TOWN_A), campaign(TOWN_B)

    def candidate(a, b):
        lo, hi = sorted((a.pk, b.pk))
        return DuplicateCandidate.objects.create(person_a_id=lo, person_b_id=hi, match_weight=9.5,
                                                 match_probability=0.9, evidence=[])

    def run(code, user):
        return DedupRun.objects.create(unit_id=code, started_by=user, started_by_name=user.username)

    def job(user, code, kind="import", state="failed"):
        return Job.objects.create(kind=kind, owner=user, owner_name=user.username, unit_code=code,
                                  state=state)

    def jobs_of(kind):  # a running job of each user (its result page points to its progress)
        return {name: job(users[name], unit, kind, "running") for name, (_, unit) in ROLES.items()}

    def account(username, code):  # users the matrix may deactivate
        from django.contrib.auth import get_user_model

        from popreg.registry.models import Assignment

        u = get_user_model().objects.create_user(username=username, password="x-unused-1")
        Assignment.objects.create(user=u, role=Role.VILLAGE_CLERK, unit_id=code)
        return u

    own_jobs = {name: job(users[name], unit) for name, (_, unit) in ROLES.items()}

    # Files of the jobs below (import folders, PDFs, snapshots, scorecards) under POPREG_HOME.
    settings.POPREG_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from popreg.linkage.actions import do_merge_persons
    from popreg.registry.access import actor_for
    from popreg.registry.jobs import start_job
    from popreg.registry.models import Event
    from popreg.stats.actions import do_create_reconciliation_items, do_save_rule_set
    from popreg.stats.refresh import do_refresh_statistics
    from popreg.stats.snapshots import snapshots

    from ..stats.test_assessment import RULES

    def upload(username, unit, name):  # an import folder, made by the upload page
        c = Client()
        c.force_login(users[username])
        r = c.post("/import/", {"file": SimpleUploadedFile(
            "p.csv", IMPORT_CSV.format(name=name, unit=unit).encode(), "text/csv")})
        assert r.status_code == 302, r.content.decode()[:2000]
        return r["Location"].rstrip("/").rsplit("/", 1)[1]

    def merge(code, names):
        keep, drop = (actions.do_register_birth(admin, name=n, sex="M", birth_date=date(1970, 5, 6),
                                                registered_unit_code=code) for n in names)
        return do_merge_persons(admin, keep, drop, "同一人重复登记")

    def adult_without_id(code, name):  # a "missing field" rectification item of the campaigns
        return actions.do_register_birth(admin, name=name, sex="F", birth_date=date(1980, 1, 1),
                                         registered_unit_code=code)

    def finished(username, kind, params, code):
        actor = actor_for(users[username])
        j = start_job(actor, kind, params, unit_code=code)
        j.refresh_from_db()
        assert j.state == "succeeded", (kind, j.state, j.error_en)
        return j

    def recon_item(person, code):
        from popreg.stats.models import ReconciliationItem

        ev = Event.objects.filter(person=person).order_by("pk").first()
        rec = {"month": "2025-10", "kind": "birth", "category": "registry_only", "unit_code": code,
               "event_id": ev.pk, "person_id": person.pk, "event_date": "2025-10-02",
               "recorded_date": "2025-10-03", "delay_days": 1, "late": False, "source": "",
               "record_id": "", "source_date": "", "match_probability": None}
        do_create_reconciliation_items(admin, pd.DataFrame([rec]))
        return ReconciliationItem.objects.get(person=person)

    foreign_names = ["钱慕白", "钱慕青", "孙七巧", "周导入"]  # township B's, for the traces
    imports = {"clerk_a1": upload("clerk_a1", VILLAGE_A1, "吴导入")}
    import_b = upload("clerk_b1", VILLAGE_B1, foreign_names[3])
    merge_a, merge_b = merge(VILLAGE_A1, ["郑合一", "郑合二"]), merge(VILLAGE_B1, foreign_names[:2])
    adult_without_id(VILLAGE_A1, "冯缺号")
    adult_b = adult_without_id(VILLAGE_B1, foreign_names[2])
    campaign_actions.do_generate_items(admin, camp_a)
    campaign_actions.do_generate_items(admin, camp_b)
    item_a = camp_a.items.filter(unit_id=VILLAGE_A1).order_by("pk").first()
    item_b = camp_b.items.filter(person=adult_b).first()

    def field_list(username, c, code):
        return finished(username, "field_list_pdf", {"campaign": c.pk, "village": code, "split": "",
                                                     "full_id": False, "reason": ""}, code)

    field_lists = {"clerk_a1": field_list("clerk_a1", camp_a, VILLAGE_A1)}
    do_refresh_statistics(admin)  # the snapshot of the assessment and the statistics pages
    rules = do_save_rule_set(admin, RULES)
    assess = {"snapshot": snapshots()[0], "year": 2024, "level": "village", "rules": rules.pk, "lagging": 10.0}

    def recon(username, code):
        return finished(username, "reconciliation", {"month": "2025-10", "level": "village",
                                                      "unit": code if code != COUNTY else ""}, code)

    assessed = {name: finished(name, "assessment", assess, unit) for name, (_, unit) in ROLES.items()}
    reconciled = {name: recon(name, unit) for name, (_, unit) in ROLES.items()}
    foreign_done = {"field_list_job": field_list("clerk_b1", camp_b, VILLAGE_B1),
                    "assessment_job_done": finished("clerk_b1", "assessment", assess, VILLAGE_B1),
                    "reconciliation_job_done": recon("clerk_b1", VILLAGE_B1)}
    recon_items = ((recon_item(people["mother"], VILLAGE_A1).pk,), (recon_item(people["other"], VILLAGE_B1).pk,))
    own_tokens = {name: do_create_api_token(actors[name], "script")[0] for name in ROLES}
    mother, other = people["mother"], people["other"]

    def review_message(person):  # an incoming notification waiting for review, one candidate
        from popreg.exchange.models import InboxMessage

        return InboxMessage.objects.create(
            # letters only after the prefix: a zero-padded number could contain a household
            # number of the traces (000000002) and read as a leak
            message_id="01REVIEW" + "".join("ABCDEFGHJK"[int(d)] for d in f"{person.pk:018d}"),
            sender="330102", recipient="110105",
            type="migrant_registered", subject={"name": person.name, "id_number": ""},
            payload={"residence_unit": "330102001001"}, status="review", reason="待人工确认",
            candidates=[{"person_id": person.pk, "name": person.name, "id_number": person.id_number,
                         "registered_unit": person.registered_unit_id, "probability": 0.5, "levels": {}}],
        )

    def migrant(code, name, seq):  # an in-migrant with a permit, living at a place (migrants)
        from popreg.migrants import actions as migrant_actions

        place = migrant_actions.save_place(admin, kind="rental", name=f"出租屋{code}", address="1号",
                                           unit_code=code, contact_name="房东")
        m = migrant_actions.register_in_migrant(
            admin, residence_unit_code=code, arrival_date=date(2024, 1, 10), origin_code="410102",
            reason="work", name=name, sex="M", birth_date=date(1988, 6, seq), place=place)
        permit = migrant_actions.issue_permit(admin, m, applied_on=date(2024, 8, 1), condition="work",
                                              evidence="劳动合同", issue_date=date(2024, 8, 2))
        occupant = migrant_actions.report_occupant(admin, place, m.person, since=date(2024, 1, 10),
                                                   reported_on=date(2024, 1, 11))
        return m, permit, place, occupant

    mig_a, mig_b = migrant(VILLAGE_A1, "陈建国", 1), migrant(VILLAGE_B1, "周外来", 2)
    foreign_names.append("周外来")

    from ..benefits.matrix_objects import (
        benefit_objects,  # family benefits: runs, disclosures, batches...
    )

    benefits = benefit_objects(people, admin)
    from ..registry.test_export_privacy import approval_objects  # full-ID exports (exports)

    approvals = approval_objects(users, ROLES)
    from ..sources.test_pages import source_objects  # outside sources (popreg.sources)

    sources = source_objects(people, admin)
    # kind -> (value for the path of an inside object, of an outside one), with its unit.
    return {
        **benefits,
        **approvals,
        **sources,
        "in_migrant": ((mig_a[0].pk,), (mig_b[0].pk,)),
        "permit": ((mig_a[1].pk,), (mig_b[1].pk,)),
        "place": ((mig_a[2].pk,), (mig_b[2].pk,)),
        "occupant": ((mig_a[3].pk,), (mig_b[3].pk,)),
        "unit": ((VILLAGE_A1,), (VILLAGE_B1,)),
        "household": ((people["hh_a"].household_no,), (people["hh_b"].household_no,)),
        "household_id": ((people["hh_a"].pk,), (people["hh_b"].pk,)),
        "person": ((mother.pk,), (other.pk,)),
        "campaign": ((camp_a.pk,), (camp_b.pk,)),
        "campaign_village": ((camp_a.pk, VILLAGE_A1), (camp_b.pk, VILLAGE_B1)),
        "campaign_village_person": ((camp_a.pk, VILLAGE_A1, mother.pk), (camp_b.pk, VILLAGE_B1, other.pk)),
        "candidate": ((candidate(mother, people["child"]).pk,), (candidate(other, twin_b).pk,)),
        "run": ((run(VILLAGE_A1, users["clerk_a1"]).pk,), (run(VILLAGE_B1, users["clerk_b1"]).pk,)),
        "user": ((account("target_a1", VILLAGE_A1).pk,), (account("target_b1", VILLAGE_B1).pk,)),
        "job": own_jobs, "job_foreign": job(users["clerk_b1"], VILLAGE_B1),
        "assessment_job": jobs_of("assessment"),
        "assessment_job_foreign": job(users["clerk_b1"], VILLAGE_B1, "assessment", "running"),
        "reconciliation_job": jobs_of("reconciliation"),
        "reconciliation_job_foreign": job(users["clerk_b1"], VILLAGE_B1, "reconciliation", "running"),
        "import": imports, "import_foreign": import_b,
        "merge": ((merge_a.pk,), (merge_b.pk,)),
        "campaign_item": ((camp_a.pk, item_a.pk), (camp_b.pk, item_b.pk)),
        "field_list_job": field_lists, "assessment_job_done": assessed, "reconciliation_job_done": reconciled,
        **{kind + "_foreign": j for kind, j in foreign_done.items()},
        "reconciliation_item": recon_items,
        "exchange_review": ((review_message(mother).pk,), (review_message(other).pk,)),
        "token": own_tokens, "token_foreign": do_create_api_token(actors["clerk_b1"], "script")[0],
        "traces": [other.name, other.id_number, mask_id(other.id_number), people["hh_b"].household_no,
                   f'href="/persons/{other.pk}/"', *foreign_names],
    }


def _fill(route: str, values: tuple) -> str:
    it = iter(values)
    url = re.sub(r"<(?:\w+:)?(\w+)>|\{(\w+)\}", lambda m: "xlsx" if m.group(1) == "fmt" else str(next(it)), route)
    return url if url.startswith("/") else "/" + url


def _cases(route: str, entry: Entry, world, name: str | None):
    """(label, url) for one route and one user: "own" (inside the jurisdiction of the
    township-A users, or the user's own job or token), "foreign" (township B, or another
    user's), "missing" (no such object), "-" (no object in the path)."""
    path = route.split(" ", 1)[1] if route.startswith(("GET ", "POST ")) else route
    if entry.obj is None:
        yield "-", _fill(path, ())
    elif entry.obj == "missing":
        yield "missing", _fill(path, (999999,) * 3)
    elif entry.obj in ("job", "token", "assessment_job", "reconciliation_job", "import", "field_list_job",
                       "export_request"):
        # The user's own (a running job of the statistics), then a finished one; a user
        # without one of its own is tried with clerk_a1's ("other": another user's, inside).
        for kind in (entry.obj, entry.obj + "_done"):
            if kind not in world:
                continue
            own = world[kind].get(name)
            mine = own if own is not None else world[kind]["clerk_a1"]
            yield "own" if own is not None else "other", _fill(path, (getattr(mine, "pk", mine),))
            foreign = world[kind + "_foreign"]
            yield "foreign", _fill(path, (getattr(foreign, "pk", foreign),))
    else:
        inside, outside = world[entry.obj]
        yield "own", _fill(path, inside)
        yield "foreign", _fill(path, outside)


def _allowed(name: str, entry: Entry, label: str, method: str) -> bool:
    role, unit = ROLES[name]
    perms = ROLE_PERMISSIONS[role]
    if label == "missing":
        return False
    perm = entry.post if method == "POST" and entry.post else entry.perm
    if perm is not None and (perm not in perms or (perm in COUNTY_WIDE and unit != COUNTY)):
        return False
    if label in ("foreign", "other") and entry.owner_only:
        return False
    if label == "other":  # another user's object inside township A
        return entry.others is not None and entry.others in perms and in_scope(unit, VILLAGE_A1)
    if label == "foreign":
        if entry.others is not None:  # another user's object (job, token) in township B
            return entry.others in perms and unit == COUNTY
        return unit == COUNTY
    return True


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_authorization_matrix(client, world, users, actors, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    # Jobs a request starts (a snapshot refresh, a PDF field list) queue without running:
    # who may start them is under test here, not their work.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    failures: list[str] = []
    checked = 0
    for route in sorted(ROUTES):
        entry = ROUTES[route]
        api = " " in route  # an operation of the API schema
        methods = (route.split(" ", 1)[0],) if " " in route else entry.methods
        for name in [None, *ROLES]:
            if name is None:
                client.logout()
            else:
                client.force_login(users[name])
            for label, url in _cases(route, entry, world, name):
                for method in methods:
                    before = _counts() if method == "POST" else None
                    r = client.get(url) if method == "GET" else client.post(url, {})
                    checked += 1
                    status = r.status_code
                    allowed = name is not None and _allowed(name, entry, label, method)
                    where = f"{method} {url} [{route}] as {name or 'anonymous'} ({label}): {status}"
                    if name is None:
                        ok = status == 401 if api else (status == 302 and "/login/" in r.get("Location", ""))
                        if not ok:
                            failures.append(f"{where}, expected {'401' if api else 'redirect to login'}")
                    elif status >= 500:
                        failures.append(f"{where}, server error")
                    elif allowed:
                        if status in (401, 403, 404):
                            failures.append(f"{where}, expected to be allowed")
                    elif status not in (403, 404) and not (entry.soft and method == "POST" and label != "foreign"):
                        failures.append(f"{where}, expected 403 or 404")
                    if name is not None and not in_scope(ROLES[name][1], VILLAGE_B1) and status < 500:
                        body = _body(r)
                        leaked = [t for t in world["traces"] if t in body and t not in url]  # not echoed
                        if leaked:
                            failures.append(f"{where}, shows the outside person: {leaked}")
                    if before is not None and not allowed:
                        after = _counts()
                        changed = sorted(t for t in after if after[t] != before.get(t) and t not in BOOKKEEPING)
                        if changed:
                            failures.append(f"{where}, refused but changed {changed}")
    assert checked > 500
    assert not failures, f"{len(failures)} of {checked} requests:\n" + "\n".join(failures)
