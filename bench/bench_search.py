"""Person search latency over 1,000,000 persons in PostgreSQL, against a naive scan.

    .venv/bin/python bench/bench_search.py [--persons 1000000] [--queries 200]
        [--pg postgres://postgres@127.0.0.1:5432/]

Creates the scratch database ``popreg_bench`` (dropped at the end, also on failure),
migrates it (the search indexes included), generates persons and households with
vectorised code (names drawn like the synthetic county's, valid ID numbers) and loads them
with COPY.  Then, for target persons drawn at random, it times
``popreg.registry.search.search_persons`` — the code behind the web search and
``/api/persons?q=`` — for five kinds of query: full name, pinyin, full ID number, the last
6 digits of an ID number, household number; as a county administrator and as a village
clerk.  The baseline, in the same run on the same data, is the search one would write
first: one ``icontains`` over name, pinyin, ID number and household number (no index can
serve it).  Prints p50/p95/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

DB_NAME = "popreg_bench"
COUNTY = "110105000000"
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[94], q[98]


def units() -> tuple[list[tuple[str, str, str, str | None]], list[str]]:
    rows: list[tuple[str, str, str, str | None]] = [(COUNTY, "基准县", "county", None)]
    villages = []
    per_town = [23] * 13 + [22, 22]  # 343 villages in 15 townships
    for t, n in enumerate(per_town, start=1):
        town = f"110105{t:03d}000"
        rows.append((town, f"第{t}镇", "township", COUNTY))
        for v in range(1, n + 1):
            code = f"110105{t:03d}{v:03d}"
            rows.append((code, f"第{t}镇{v}村", "village", town))
            villages.append(code)
    return rows, villages


def id_numbers(birth: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valid GB 11643 numbers, unique: the sequence counts persons born the same day."""
    order = np.lexsort((rng.random(len(birth)), birth))
    sorted_birth = birth[order]
    first = np.r_[True, sorted_birth[1:] != sorted_birth[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(birth)), 0))
    rank = np.empty(len(birth), dtype=np.int64)
    rank[order] = np.arange(len(birth)) - group_start
    seq = rank * 2 + male.astype(np.int64)
    assert seq.max() < 1000, "too many births on one day for unique sequence numbers"
    ymd = birth.astype("datetime64[D]").astype(str)
    body = np.char.add(
        np.char.add("110105", np.char.replace(ymd, "-", "")), np.char.zfill(seq.astype(str), 3)
    )
    digits = np.frombuffer("".join(body.tolist()).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    check = CHECK[(digits.astype(np.int64) @ WEIGHTS) % 11]
    return np.char.add(body, check)


def generate(n: int, seed: int) -> dict[str, Any]:
    from popreg.synth import names as synth_names

    rng = np.random.default_rng(seed)
    _, villages = units()
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n // 2, p=[0.15, 0.25, 0.27, 0.18, 0.1, 0.05])
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    n_hh = len(sizes)
    hh_unit = np.asarray(villages)[rng.integers(0, len(villages), n_hh)]
    person_hh = np.repeat(np.arange(n_hh), sizes)
    male = rng.random(n) < 0.51
    birth = (np.datetime64("1930-01-01") + rng.integers(0, 94 * 365, n)).astype("datetime64[D]")
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    surnames = np.asarray(synth_names.SURNAMES, dtype=object)[synth_names.draw_surnames(rng, n)]
    given = synth_names.draw_given(rng, np.where(male, 0, 1), years)
    full = surnames + given
    return {
        "sizes": sizes,
        "hh_unit": hh_unit,
        "person_hh": person_hh,
        "male": male,
        "birth": birth,
        "names": full,
        "ids": id_numbers(birth, male, rng),
    }


def load(data: dict[str, Any]) -> None:
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from popreg.registry.search import name_keys

    unit_rows, _ = units()
    now = timezone.now()
    names = data["names"]
    t = time.perf_counter()
    distinct = sorted(set(names.tolist()))
    keys = {nm: name_keys(nm) for nm in distinct}
    print(
        f"  name keys for {len(distinct):,} distinct names: {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    with connection.cursor() as cur:
        raw = cur.cursor
        # FK integrity holds by construction: every household and unit is written first.
        with raw.copy(
            "COPY registry_adminunit (code, name, level, parent_id, valid_from, urban_rural) FROM STDIN"
        ) as cp:
            for code, name, level, parent in unit_rows:
                cp.write_row([code, name, level, parent, "2000-01-01", ""])
        t = time.perf_counter()
        with raw.copy(
            "COPY registry_household (id, household_no, unit_id, kind, address, created_at) FROM STDIN"
        ) as cp:
            for i, unit in enumerate(data["hh_unit"].tolist(), start=1):
                cp.write_row([i, f"{i:09d}", unit, "family", f"{unit[-3:]}村{i % 500}号", now])
        print(
            f"  households: {len(data['hh_unit']):,} in {time.perf_counter() - t:.1f} s", flush=True
        )
        # Load persons without their secondary indexes and FK triggers, then build the
        # indexes once (the same definitions the migrations created).
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'registry_person' "
            "AND i.indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute("SET session_replication_role = replica")
        t = time.perf_counter()
        cols = (
            "id, household_id, name, former_names, name_key, name_pinyin, sex, birth_date, ethnicity, "
            "id_number, registered_unit_id, residence_unit_id, residence_type, status, hukou_kind, "
            "marital_status, baseline, baseline_event_id, created_at, updated_at"
        )
        empty = Jsonb({})
        hh_unit = data["hh_unit"]
        with raw.copy(f"COPY registry_person ({cols}) FROM STDIN") as cp:
            for i, (hh, nm, male, birth, idn) in enumerate(
                zip(
                    data["person_hh"].tolist(),
                    names.tolist(),
                    data["male"].tolist(),
                    data["birth"].tolist(),
                    data["ids"].tolist(),
                    strict=True,
                ),
                start=1,
            ):
                unit = hh_unit[hh]
                key, py = keys[nm]
                cp.write_row(
                    [
                        i,
                        hh + 1,
                        nm,
                        "",
                        key,
                        py,
                        "M" if male else "F",
                        birth,
                        "汉族",
                        idn,
                        unit,
                        unit,
                        "registered",
                        "active",
                        "",
                        "",
                        empty,
                        0,
                        now,
                        now,
                    ]
                )
        cur.execute("SET session_replication_role = DEFAULT")
        print(f"  persons: {len(names):,} in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        for _, definition in indexes:
            cur.execute(definition)
        print(
            f"  {len(indexes)} person indexes rebuilt: {time.perf_counter() - t:.1f} s", flush=True
        )
        for table in ("registry_household", "registry_person"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        t = time.perf_counter()
        cur.execute("ANALYZE")
        print(f"  analyze: {time.perf_counter() - t:.1f} s", flush=True)


def naive_search(actor: Any, q: str, limit: int = 50) -> Any:
    """What a first version of search looks like: one case-insensitive substring match."""
    from django.db.models import Q

    from popreg.registry.access import scope_persons
    from popreg.registry.models import Person

    cond = (
        Q(name__icontains=q)
        | Q(name_pinyin__icontains=q)
        | Q(id_number__icontains=q)
        | Q(household__household_no__icontains=q)
    )
    return (
        scope_persons(Person.objects.select_related("registered_unit", "household"), actor)
        .filter(cond)
        .order_by("id")[:limit]
    )


def run(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from popreg.registry.access import Actor
    from popreg.registry.search import search_persons

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - t0:.1f} s", flush=True)
    t = time.perf_counter()
    data = generate(args.persons, args.seed)
    print(
        f"generate {args.persons:,} persons (vectorised): {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    t = time.perf_counter()
    load(data)
    print(f"load (COPY, then indexes): {time.perf_counter() - t:.1f} s", flush=True)

    rng = np.random.default_rng(args.seed + 1)
    targets = rng.integers(0, args.persons, args.queries)
    from popreg.registry.models import Person

    people = {
        p.pk: p
        for p in Person.objects.filter(pk__in=(targets + 1).tolist()).select_related("household")
    }
    kinds = {
        "name": lambda p: p.name,
        "pinyin": lambda p: p.name_pinyin,
        "full ID": lambda p: p.id_number,
        "ID last 6": lambda p: p.id_number[-6:],
        "household no": lambda p: p.household.household_no,
    }
    county = Actor(name="bench_county", role="county_admin", prefix="110105", unit_code=COUNTY)

    def village_actor(p: Person) -> Actor:
        return Actor(
            name="bench_clerk",
            role="village_clerk",
            prefix=p.registered_unit_id,
            unit_code=p.registered_unit_id,
        )

    def measure(fn: Any, actor_of: Any, kind: str, sample: list[Person]) -> tuple[list[float], int]:
        times, misses = [], 0
        for p in sample:
            q = kinds[kind](p)
            start = time.perf_counter()
            found = list(fn(actor_of(p), q))
            times.append((time.perf_counter() - start) * 1000)
            misses += p.pk not in {f.pk for f in found} and kind in ("full ID", "household no")
        return times, misses

    sample = [people[int(i) + 1] for i in targets]
    if args.explain:
        from django.db import connection

        for kind, pick in kinds.items():
            qs = search_persons(county, pick(sample[0]))
            sql, params = qs.query.sql_with_params()
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
                plan = "\n    ".join(r[0] for r in cur.fetchall())
            print(f"\n[{kind}] {sql % tuple(repr(p) for p in params)}\n    {plan}")
    for p in sample[:5]:  # warm the connection and caches
        list(search_persons(county, p.name))
    print(
        f"\nsearch_persons over {Person.objects.count():,} persons, {len(sample)} queries per row "
        "(milliseconds)"
    )
    print(
        f"{'query':<14}{'actor':<9}{'p50':>8}{'p95':>8}{'p99':>8}   | naive icontains p50/p95/p99"
        f" ({args.naive_queries} queries)   speed-up at p95"
    )
    for kind in kinds:
        for actor_label, actor_of in (("county", lambda p: county), ("village", village_actor)):
            fast, misses = measure(search_persons, actor_of, kind, sample)
            slow, _ = measure(naive_search, actor_of, kind, sample[: args.naive_queries])
            f50, f95, f99 = percentiles(fast)
            s50, s95, s99 = percentiles(slow)
            miss = f"  ({misses} targets not found!)" if misses else ""
            print(
                f"{kind:<14}{actor_label:<9}{f50:8.1f}{f95:8.1f}{f99:8.1f}   | {s50:8.1f}{s95:8.1f}{s99:8.1f}"
                f"   {s95 / f95:8.1f}x{miss}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200, help="queries per kind for search_persons")
    ap.add_argument(
        "--naive-queries", type=int, default=20, help="queries per kind for the naive scan"
    )
    ap.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432/",
        help="PostgreSQL server URL (the scratch database popreg_bench is created there)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--explain", action="store_true", help="print the query plans (county actor)")
    args = ap.parse_args()

    import psycopg

    server = args.pg.rstrip("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        c.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "popreg.web.settings"
    try:
        import django

        django.setup()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        print(f"\nscratch database {DB_NAME} dropped")


if __name__ == "__main__":
    main()
