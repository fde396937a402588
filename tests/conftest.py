"""Shared fixtures: a tiny county with two townships, three villages, and one user per role."""

from __future__ import annotations

import os
from datetime import date

import pytest

from popreg.core.idnumber import compose

COUNTY = "110105000000"
TOWN_A = "110105001000"
TOWN_B = "110105002000"
VILLAGE_A1 = "110105001001"
VILLAGE_A2 = "110105001002"
VILLAGE_B1 = "110105002001"
PASSWORD = "test-pass-123"


def make_id(birth: date, sex: str, seq: int = 10) -> str:
    sequence = seq * 2 + (1 if sex == "M" else 0)
    return compose("110105", birth, sequence % 1000)


@pytest.fixture(scope="session")
def default_county(tmp_path_factory):
    """The default synthetic county (157,000 people), generated once per test run.

    Under pytest-xdist the workers share one copy (a lock file guards it; the directory name
    carries the run's id, so no stale county from an earlier run is reused).
    """
    import fcntl

    from popreg.synth.generator import generate

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        out = tmp_path_factory.mktemp("county")
        generate(out, seed=20251101, progress=None)
        return out
    shared = tmp_path_factory.getbasetemp().parent / f"synth-county-{run}"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "manifest.json").is_file():
            generate(shared, seed=20251101, progress=None)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return shared


_DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


def pytest_collection_modifyitems(config, items):
    """With POPREG_TEST_DB_ONLY=1 (the PostgreSQL pass of ``make test``), run only the tests
    that touch the database: the others (domain core, generator, engines over Parquet) do
    not depend on the database and already ran in the SQLite pass."""
    if os.environ.get("POPREG_TEST_DB_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or _DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _default_language_after():
    """A request with the English cookie leaves English active in the test's thread; put
    the default (Chinese) back so that later tests see Chinese labels."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """PBKDF2 makes each test user cost ~0.3 s; hash strength is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def county(db):
    from popreg.registry.models import AdminUnit

    def unit(code, name, level, parent):
        return AdminUnit.objects.create(code=code, name=name, level=level, parent_id=parent,
                                        valid_from=date(2000, 1, 1))

    units = {
        "county": unit(COUNTY, "示例县", "county", None),
        "town_a": unit(TOWN_A, "城关镇", "township", COUNTY),
        "town_b": unit(TOWN_B, "北山乡", "township", COUNTY),
        "village_a1": unit(VILLAGE_A1, "东关村民委员会", "village", TOWN_A),
        "village_a2": unit(VILLAGE_A2, "西关社区居民委员会", "village", TOWN_A),
        "village_b1": unit(VILLAGE_B1, "柳树村民委员会", "village", TOWN_B),
    }
    return units


@pytest.fixture
def users(county):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    User = get_user_model()
    spec = {
        "clerk_a1": ("village_clerk", VILLAGE_A1),
        "clerk_b1": ("village_clerk", VILLAGE_B1),
        "officer_a": ("township_officer", TOWN_A),
        "admin": ("county_admin", COUNTY),
        "statistician": ("county_statistician", COUNTY),
        "auditor": ("auditor", COUNTY),
    }
    out = {}
    for username, (role, unit) in spec.items():
        u = User.objects.create_user(username=username, password=PASSWORD)
        Assignment.objects.create(user=u, role=role, unit_id=unit)
        out[username] = u
    return out


@pytest.fixture
def actors(users):
    from popreg.registry.access import actor_for

    return {name: actor_for(u) for name, u in users.items()}


@pytest.fixture
def people(county, actors):
    """A household in village A1 and one in B1, with a few persons registered by birth."""
    from popreg.registry import actions

    admin = actors["admin"]
    hh_a = actions.do_create_household(admin, unit_code=VILLAGE_A1, address="东关村1号")
    hh_b = actions.do_create_household(admin, unit_code=VILLAGE_B1, address="柳树村8号")
    mother = actions.do_register_birth(
        admin, name="王秀英", sex="F", birth_date=date(1990, 3, 4), registered_unit_code=VILLAGE_A1,
        household=hh_a, id_number=make_id(date(1990, 3, 4), "F", 1),
    )
    child = actions.do_register_birth(
        admin, name="張偉", sex="M", birth_date=date(2020, 5, 6), registered_unit_code=VILLAGE_A1,
        household=hh_a, mother=mother, id_number=make_id(date(2020, 5, 6), "M", 2),
    )
    other = actions.do_register_birth(
        admin, name="李娜", sex="F", birth_date=date(1985, 1, 2), registered_unit_code=VILLAGE_B1,
        household=hh_b, id_number=make_id(date(1985, 1, 2), "F", 3),
    )
    return {"mother": mother, "child": child, "other": other, "hh_a": hh_a, "hh_b": hh_b}


@pytest.fixture(autouse=True)
def _jobs_run_immediately(settings):
    """Jobs run inside the call that starts them (the immediate django-tasks backend); the
    tests of the runner itself switch to the database backend and a real worker."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(scope="session", autouse=True)
def _flush_past_append_only_triggers():
    """Between transactional tests Django empties every table; on SQLite it does so with
    ``DELETE FROM``, which the append-only triggers refuse (PostgreSQL uses ``TRUNCATE``,
    which fires no row trigger).  Lift the triggers for the flush only, then put them back."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from popreg.registry import append_only

    DatabaseOperations = DatabaseWrapper.ops_class

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            for sql in append_only.drop_sql("sqlite"):
                cursor.execute(sql)
        try:
            return original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                for sql in append_only.create_sql("sqlite"):
                    cursor.execute(sql)

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original
