"""Migrants: bulk registration, post-load records and indicators, with baselines measured
in the same run.

    .venv/bin/python bench/bench_migrants.py [--rows 2000] [--persons 20000]

On a temporary SQLite database (migrated in the run):

1. load: a synthetic county (``popreg synth`` generator, ``--persons``) loaded with
   ``load_snapshot`` without the migrants step (baseline), then ``sync_migrants`` on the
   snapshot's columns: seconds and the step's share of the load;
2. indicators: ``indicators.compute`` for the county (all in- and out-migrants);
3. import: a CSV of ``--rows`` in-migrants → ``popreg.migrants.importing.import_in_migrants``
   (parse, every check, one ``register_in_migrant`` per row in one transaction, audit) against
   the baseline of the same number of persons registered one by one with the registry's own
   ``do_move_in`` (each its own transaction, event and audit): rows per second and ratio.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

ORIGINS = ["410102", "320582", "330102", "510104", "430102", "340102"]


def _rows(n: int, villages: list[str], rng: random.Random) -> list[dict[str, object]]:
    from bench_import import realistic_names

    from popreg.core.idnumber import compose

    names = realistic_names(n, rng.randrange(2**31))
    out, used = [], set()
    for i in range(n):
        sex = rng.choice("MF")
        origin = rng.choice(ORIGINS)
        while True:
            birth = date(1991, 1, 1) + timedelta(days=rng.randrange(0, 365 * 14))
            seq = rng.randrange(0, 400) * 2 + (1 if sex == "M" else 0)
            if (origin, birth, seq) not in used:
                used.add((origin, birth, seq))
                break
        out.append({"name": names[i], "sex": sex, "birth": birth, "id": compose(origin, birth, seq),
                    "origin": origin, "unit": rng.choice(villages),
                    "arrival": date(2024, 1, 1) + timedelta(days=rng.randrange(0, 300)),
                    "reason": rng.choice(["务工", "经商", "就学", "投亲", "其他"])})
    return out


def _csv(rows: list[dict[str, object]]) -> bytes:
    from popreg.migrants.importing import COLUMNS

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([c.header for c in COLUMNS])
    for r in rows:
        w.writerow([r["name"], "男" if r["sex"] == "M" else "女", r["birth"], r["id"], "", r["origin"],
                    r["unit"], r["arrival"], r["reason"], "", "", "", ""])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def bench_import(n: int) -> None:
    from popreg.migrants.importing import import_in_migrants
    from popreg.registry import actions
    from popreg.registry.access import system_actor
    from popreg.registry.models import AdminUnit

    villages = list(AdminUnit.objects.filter(level="village").values_list("code", flat=True))
    rng = random.Random(1)
    actor = system_actor("bench")
    baseline_rows = _rows(n, villages, random.Random(2))
    start = time.perf_counter()
    for r in baseline_rows:
        actions.do_move_in(actor, name=str(r["name"]), sex=str(r["sex"]), birth_date=r["birth"],  # type: ignore[arg-type]
                           id_number=None, registered_unit_code=str(r["unit"]),
                           from_unit_code=str(r["origin"]) + "000000", move_date=r["arrival"])  # type: ignore[arg-type]
    base = time.perf_counter() - start
    data = _csv(_rows(n, villages, rng))
    start = time.perf_counter()
    res = import_in_migrants(actor, data, "bench.csv")
    took = time.perf_counter() - start
    assert res.imported == n, res.errors[:3]
    print(f"import: {n} rows; do_move_in one by one {n / base:,.0f} rows/s ({base:.1f} s); "
          f"import_migrants {n / took:,.0f} rows/s ({took:.1f} s); ratio {base / took:.2f}")


def bench_load(persons: int, tmp: Path) -> None:
    from django.core.management import call_command

    from popreg.migrants import indicators
    from popreg.migrants.sync import after_load, sync_migrants
    from popreg.registry import loading
    from popreg.registry.access import system_actor
    from popreg.registry.models import AdminUnit
    from popreg.synth.counties import generate_counties

    out = tmp / "counties"
    generate_counties(out, seed=3, counties=2, persons=persons, progress=None)
    root = next(p for p in sorted(out.iterdir()) if p.name.isdigit())
    call_command("migrate", verbosity=0)
    actor = system_actor("bench")
    loading.POST_LOAD_STEPS.remove(after_load)
    start = time.perf_counter()
    counts = loading.load_snapshot(root, actor)
    load_s = time.perf_counter() - start
    loading.POST_LOAD_STEPS.append(after_load)
    start = time.perf_counter()
    made = sync_migrants(actor, root)
    sync_s = time.perf_counter() - start
    print(f"load: {counts['persons']:,} persons loaded in {load_s:.1f} s (baseline); migrant records "
          f"{made['in_migrants']:,} in + {made['out_migrants']:,} out in {sync_s:.2f} s "
          f"({100 * sync_s / load_s:.0f} % of the load)")
    county = AdminUnit.objects.get(level="county")
    start = time.perf_counter()
    ind = indicators.compute(actor, county, date(2025, 11, 1))
    ind_s = time.perf_counter() - start
    print(f"indicators: county with {ind.inflow.total:,} in- and {ind.outflow.total:,} out-migrants "
          f"in {ind_s:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--persons", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="popreg-bench-") as tmp:
        from bench_import import setup_django

        setup_django(None, Path(tmp))
        bench_load(args.persons, Path(tmp))  # first: a snapshot loads into an empty registry
        bench_import(args.rows)


if __name__ == "__main__":
    main()
