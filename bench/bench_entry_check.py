"""The duplicate check at data entry on the default county: time per check, and what it finds.

    .venv/bin/python bench/bench_entry_check.py [--snapshot DIR] [--seed 20251101]
        [--database-url URL] [--checks 500]

Without ``--snapshot`` the default county is generated first (``popreg synth``).  The
registry is loaded as a user loads it (``popreg migrate``, ``popreg load DIR``: the load's
post-load step builds the index of blocking keys, timed separately by
``popreg linkage_index --rebuild``), into a fresh SQLite file or, with
``--database-url``, a PostgreSQL database (emptied first).

Then, in this process, ``--checks`` records are checked one at a time exactly as a form
checks them (:func:`popreg.registry.entry_check.check_entry` with a county-wide actor: the
catch-up of the index, the candidate lookup, the scoring with the model's m and u, and the
jurisdiction query), each timed with ``time.perf_counter``.  The records are drawn from
the loaded persons (fixed seed) and typed again with the noise a clerk makes:

- ``same``: the person typed again as registered (when an active record holds the ID
  number, the registration's own ID check answers, naming the record: counted as found);
- ``id_typo``: typed again with one digit of the ID number's sequence mistyped;
- ``no_id``: the same without the ID number;
- ``variant``: the name in traditional characters, the ID number left out;
- ``day_off``: the birth date one day off, no ID number;
- ``new``: a person who does not exist (a name and birth date not in the registry).

For each kind: the share of checks that show the original person first (for ``new``: the
share that show nothing), and the median, 95th percentile and maximum time per check.
The first check of the process (model file read, connection opened) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

KINDS = ("same", "id_typo", "no_id", "variant", "day_off", "new")
TRADITIONAL = str.maketrans("张刘陈杨赵黄吴周孙马胡郭罗梁宋郑谢韩冯邓许萧曾叶苏卢蒋蔡贾丁魏钟", "張劉陳楊趙黃吳周孫馬胡郭羅梁宋鄭謝韓馮鄧許蕭曾葉蘇盧蔣蔡賈丁魏鍾")


def popreg(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "popreg", *args], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", help="an existing snapshot directory (default: generate one)")
    ap.add_argument("--seed", type=int, default=20251101)
    ap.add_argument("--database-url", help="PostgreSQL URL (emptied first); default a fresh SQLite file")
    ap.add_argument("--checks", type=int, default=500, help="checks per kind of record")
    ap.add_argument("--skip-load", action="store_true", help="the database is loaded already")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="popreg-bench-entry-") as tmp:
        home = Path(tmp)
        url = args.database_url or f"sqlite:///{home / 'entry.sqlite3'}"
        env = {**os.environ, "POPREG_HOME": str(home), "DJANGO_SETTINGS_MODULE": "popreg.web.settings",
               "DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")}
        if not args.skip_load:
            snapshot = Path(args.snapshot) if args.snapshot else home / "county"
            if not args.snapshot:
                took = popreg("synth", "--seed", str(args.seed), "--out", str(snapshot), env=env)
                print(f"synth (default county, seed {args.seed}): {took:.1f} s", flush=True)
            if args.database_url:
                popreg("flush", "--no-input", env=env)
            popreg("migrate", "--no-input", "-v", "0", env=env)
            took = popreg("load", str(snapshot), env=env)
            print(f"load (with the index of blocking keys): {took:.1f} s", flush=True)
            took = popreg("linkage_index", "--rebuild", env=env)
            print(f"linkage_index --rebuild alone: {took:.1f} s", flush=True)
        os.environ.update({k: env[k] for k in ("POPREG_HOME", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
        run_checks(args.checks, args.seed)


def run_checks(n: int, seed: int) -> None:
    import django

    django.setup()
    from popreg.linkage.models import EntryKey
    from popreg.registry.access import system_actor
    from popreg.registry.entry_check import NewRecord, check_entry, id_number_held
    from popreg.registry.models import Person

    actor = system_actor("bench")
    total = Person.objects.filter(merged_into__isnull=True).count()
    print(f"persons {total:,}; index keys {EntryKey.objects.count():,}", flush=True)
    rng = random.Random(seed)
    ids = list(Person.objects.filter(merged_into__isnull=True, birth_date__isnull=False)
               .values_list("pk", flat=True))
    sample = rng.sample(ids, n)
    rows = {p.pk: p for p in Person.objects.filter(pk__in=sample).select_related("household")}
    names = set(Person.objects.values_list("name", flat=True).distinct())

    def typed(p: Person) -> NewRecord:
        return NewRecord(name=p.name, sex=p.sex, birth_date=p.birth_date, id_number=p.id_number or "",
                         village_code=p.registered_unit_id, household_no=p.household.household_no if p.household else "")

    def new_person(i: int) -> NewRecord:
        while True:
            name = rng.choice("赵钱孙李周吴郑王") + rng.choice("子丹一星") + rng.choice("墨澜霁岚") + rng.choice("甲乙丙丁戊")
            if name not in names:
                return NewRecord(name=name, sex=rng.choice("MF"), birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(30000)),
                                 village_code=rows[sample[i]].registered_unit_id)

    first_start = time.perf_counter()
    check_entry(actor, typed(rows[sample[0]]))
    print(f"first check of the process: {1000 * (time.perf_counter() - first_start):.0f} ms", flush=True)

    results: dict[str, dict[str, object]] = {}
    for kind in KINDS:
        times: list[float] = []
        hits = 0
        for i, pk in enumerate(sample):
            p = rows[pk]
            rec = typed(p)
            if kind == "id_typo" and rec.id_number:
                d = rec.id_number[15]
                rec = replace(rec, id_number=rec.id_number[:15] + str((int(d) + 2) % 10) + rec.id_number[16:])
            elif kind == "no_id":
                rec = replace(rec, id_number="")
            elif kind == "variant":
                rec = replace(rec, name=rec.name.translate(TRADITIONAL), id_number="")
            elif kind == "day_off":
                assert rec.birth_date is not None
                rec = replace(rec, birth_date=rec.birth_date + timedelta(days=1), id_number="")
            elif kind == "new":
                rec = new_person(i)
            start = time.perf_counter()
            check = check_entry(actor, rec)
            times.append(1000 * (time.perf_counter() - start))
            shown = [q.pk for q, _d in check.shown]
            if kind == "new":
                hits += not shown
            elif kind == "same" and not shown and id_number_held(rec.id_number):
                hits += 1
            else:
                hits += bool(shown) and (shown[0] == pk or (p.merged_into_id is not None and shown[0] == p.merged_into_id))
        results[kind] = {"checks": n, "found_share": round(hits / n, 4), "median_ms": round(statistics.median(times), 1),
                         "p95_ms": round(pct(times, 0.95), 1), "max_ms": round(max(times), 1)}
        r = results[kind]
        print(f"{kind:8} {'shows nothing' if kind == 'new' else 'original first'}: {r['found_share']:.4f}  "
              f"median {r['median_ms']} ms  p95 {r['p95_ms']} ms  max {r['max_ms']} ms", flush=True)
    print(json.dumps({"persons": total, "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
