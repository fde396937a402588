"""Bulk import throughput against a naive per-row save through the action layer.

    .venv/bin/python bench/bench_import.py [--rows 50000] [--naive-rows 1000]
                                           [--database-url postgres://...]

Both paths run in the same process on the same scratch database (a temporary SQLite file
unless ``--database-url`` names a scratch PostgreSQL database, which is created and
dropped):

- bulk: CSV bytes → ``importing.parse_file`` → ``bulk.do_import_persons`` (parse, every
  validation, jurisdiction and duplicate checks, households, persons, registration
  events, audit), timed end to end;
- naive: the same kind of rows, one ``actions.do_create_household`` per household and one
  ``actions.do_register_birth`` per person (each its own transaction with event and audit).

Prints rows per second for each and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

HEADER = [
    "户号",
    "户别",
    "住址",
    "姓名",
    "性别",
    "出生日期",
    "公民身份号码",
    "民族",
    "户籍地代码",
    "居住类型",
    "与户主关系",
]


def setup_django(database_url: str | None, home: Path) -> None:
    os.environ["POPREG_HOME"] = str(home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "popreg.web.settings"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{home / 'bench.sqlite3'}"
    import django

    django.setup()


def make_county(n_villages: int = 40) -> list[str]:
    from popreg.registry.models import AdminUnit

    county = "110105000000"
    AdminUnit.objects.create(
        code=county, name="基准县", level="county", valid_from=date(2000, 1, 1)
    )
    villages = []
    for t in range(1, 5):
        town = f"110105{t:03d}000"
        AdminUnit.objects.create(
            code=town,
            name=f"镇{t}",
            level="township",
            parent_id=county,
            valid_from=date(2000, 1, 1),
        )
        for v in range(1, n_villages // 4 + 1):
            code = f"110105{t:03d}{v:03d}"
            AdminUnit.objects.create(
                code=code,
                name=f"村{t}-{v}",
                level="village",
                parent_id=town,
                valid_from=date(2000, 1, 1),
            )
            villages.append(code)
    return villages


def make_rows(
    n: int, villages: list[str], rng: random.Random, hh_start: int, seq_base: int
) -> list[list[str]]:
    """Households of 1-5 persons with valid, unique ID numbers (unique per birth date + sequence)."""
    from popreg.core.idnumber import compose

    rows: list[list[str]] = []
    names = realistic_names(n, rng.randrange(2**31))
    used: set[tuple[date, int]] = set()
    hh = hh_start
    base = date(1940, 1, 1)
    while len(rows) < n:
        hh += 1
        unit = rng.choice(villages)
        for k in range(rng.randint(1, 5)):
            if len(rows) >= n:
                break
            sex = rng.choice("MF")
            while True:
                birth = base + timedelta(days=rng.randrange(0, 365 * 80))
                seq = seq_base + rng.randrange(0, 250) * 2 + (1 if sex == "M" else 0)
                if (birth, seq) not in used:
                    used.add((birth, seq))
                    break
            name = names.pop()
            rows.append(
                [
                    f"{hh:09d}",
                    "家庭户",
                    f"{unit[-3:]}号院{hh % 300}",
                    name,
                    "男" if sex == "M" else "女",
                    birth.isoformat(),
                    compose("110105", birth, seq),
                    "汉族",
                    unit,
                    "常住户籍",
                    "户主" if k == 0 else "子女",
                ]
            )
    return rows


def realistic_names(n: int, seed: int) -> list[str]:
    """Names drawn like the synthetic county's (Faker zh_CN surname shares, period given names)."""
    import numpy as np

    from popreg.synth import names as synth_names

    g = np.random.default_rng(seed)
    surnames = np.asarray(synth_names.SURNAMES, dtype=object)[synth_names.draw_surnames(g, n)]
    given = synth_names.draw_given(g, g.integers(0, 2, n), g.integers(1940, 2025, n))
    return [s + gv for s, gv in zip(surnames, given, strict=True)]


def to_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def naive(actor, rows: list[list[str]]) -> float:
    from popreg.registry import actions

    households: dict[str, object] = {}
    start = time.perf_counter()
    for r in rows:
        hh_no, unit = r[0], r[8]
        hh = households.get(hh_no)
        if hh is None:
            hh = actions.do_create_household(
                actor, unit_code=unit, address=r[2], household_no=hh_no
            )
            households[hh_no] = hh
        actions.do_register_birth(
            actor,
            name=r[3],
            sex="M" if r[4] == "男" else "F",
            birth_date=date.fromisoformat(r[5]),
            registered_unit_code=unit,
            household=hh,
            id_number=r[6],
        )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000, help="rows in the bulk file")
    ap.add_argument("--naive-rows", type=int, default=1_000, help="rows saved one by one")
    ap.add_argument(
        "--database-url", help="scratch PostgreSQL URL (database is created and dropped)"
    )
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="popreg-bench-") as tmp:
        pg = args.database_url
        if pg:
            _create_pg(pg)
        try:
            setup_django(pg, Path(tmp))
            run(args)
        finally:
            if pg:
                from django.db import connections

                connections.close_all()
                _drop_pg(pg)


def _admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rstrip("/").rpartition("/")
    return base + "/postgres", name


def _create_pg(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')


def _drop_pg(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def run(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from popreg.registry.access import actor_for
    from popreg.registry.bulk import do_import_persons
    from popreg.registry.importing import check_against_registry, parse_file
    from popreg.registry.models import Assignment, Event, Person

    call_command("migrate", verbosity=0)
    villages = make_county()
    user = get_user_model().objects.create_user("bench_admin", password="x")
    Assignment.objects.create(user=user, role="county_admin", unit_id="110105000000")
    actor = actor_for(user)
    rng = random.Random(args.seed)
    # Sequence numbers: the bulk file uses even/odd 0-499, the naive sample 500-999: no clashes.
    bulk_rows = make_rows(args.rows, villages, rng, 100_000_000, 0)
    naive_rows = make_rows(args.naive_rows, villages, rng, 500_000_000, 500)
    data = to_csv(bulk_rows)
    print(
        f"database: {connection.vendor}; bulk file {len(data) / 1e6:.1f} MB, {len(bulk_rows):,} rows; "
        f"naive sample {len(naive_rows):,} rows"
    )

    t0 = time.perf_counter()
    result = parse_file(data, "bench.csv")
    t1 = time.perf_counter()
    assert result.ok, result.errors[:3]
    check = check_against_registry(actor, result.rows, result.sha256)
    assert not check.errors, check.errors[:3]
    t2 = time.perf_counter()
    summary = do_import_persons(actor, result.rows, "bench.csv", result.sha256)
    t3 = time.perf_counter()
    bulk_time = (t1 - t0) + (t3 - t2)  # the preview check (t1-t2) is repeated inside the commit
    assert summary.persons == len(bulk_rows) == Person.objects.count()

    naive_time = naive(actor, naive_rows)
    assert Person.objects.count() == len(bulk_rows) + len(naive_rows)
    assert Event.objects.count() == Person.objects.count()

    bulk_rate = len(bulk_rows) / bulk_time
    naive_rate = len(naive_rows) / naive_time
    print(
        f"bulk import : {len(bulk_rows):>8,} rows in {bulk_time:7.2f} s = {bulk_rate:9,.0f} rows/s "
        f"(parse+validate {t1 - t0:.2f} s, preview check {t2 - t1:.2f} s, commit {t3 - t2:.2f} s)"
    )
    print(
        f"naive action: {len(naive_rows):>8,} rows in {naive_time:7.2f} s = {naive_rate:9,.0f} rows/s "
        "(do_create_household + do_register_birth per row)"
    )
    print(f"ratio       : {bulk_rate / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
