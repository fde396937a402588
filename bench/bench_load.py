"""``popreg load`` of the default synthetic county into SQLite, against naive per-row saves.

    .venv/bin/python bench/bench_load.py [--snapshot DIR] [--seed 20251101] [--sample 2000]

Without ``--snapshot`` the default county is generated first (``popreg synth --seed S``,
timed separately).  The load runs as a user would run it: ``popreg migrate`` then
``popreg load DIR`` on a fresh SQLite file, timed as wall-clock seconds of the load
command.  The baseline, in the same run on the same database after the load: a sample of
the snapshot's persons saved the naive Django way — ``Person(...).save()`` one row at a
time, each in its own transaction (with the same name keys and baseline the loader
writes).  Prints rows per second for both and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def popreg(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "popreg", *args], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", help="an existing snapshot directory (default: generate one)")
    ap.add_argument("--seed", type=int, default=20251101)
    ap.add_argument(
        "--sample", type=int, default=2000, help="persons saved one by one for the baseline"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="popreg-bench-load-") as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "POPREG_HOME": str(home),
            "DJANGO_SETTINGS_MODULE": "popreg.web.settings",
            "DATABASE_URL": f"sqlite:///{home / 'load.sqlite3'}",
            "PYTHONPATH": str(ROOT / "src"),
        }
        snapshot = Path(args.snapshot) if args.snapshot else home / "county"
        if not args.snapshot:
            took = popreg("synth", "--seed", str(args.seed), "--out", str(snapshot), env=env)
            print(f"synth (default county, seed {args.seed}): {took:.1f} s", flush=True)
        manifest = json.loads((snapshot / "manifest.json").read_text())
        counts = {k: parquet_rows(snapshot / v["file"]) for k, v in manifest["tables"].items()
                  if not k.startswith("truth") and str(v["file"]).endswith(".parquet")}
        total = sum(counts.values())
        popreg("migrate", "--noinput", "-v", "0", env=env)
        load_time = popreg("load", str(snapshot), env=env)
        rate = total / load_time
        print(f"popreg load: {total:,} rows ({', '.join(f'{k} {v:,}' for k, v in counts.items())})")
        print(f"  wall time {load_time:.1f} s = {rate:,.0f} rows/s (aim: under 60 s)")

        os.environ.update(env)
        import django

        django.setup()
        naive_time, n = naive_saves(snapshot, args.sample)
        naive_rate = n / naive_time
        print(
            f"naive Person.save() per row: {n:,} persons in {naive_time:.1f} s = {naive_rate:,.0f} rows/s"
        )
        print(
            f"ratio: {rate / naive_rate:.1f}x (a naive load of these {total:,} rows would take "
            f"about {total / naive_rate / 60:.0f} min)"
        )


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def naive_saves(snapshot: Path, sample: int) -> tuple[float, int]:
    import pyarrow.parquet as pq

    from popreg.registry.models import STATE_FIELDS, Person
    from popreg.registry.search import name_keys
    from popreg.snapshot import table_path

    table = pq.read_table(table_path(snapshot, "persons")).slice(0, sample).to_pylist()
    start = time.perf_counter()
    for r in table:
        p = Person(
            household_id=r["household_id"],
            name=r["name"] or "",
            sex=r["sex"] or "",
            birth_date=r["birth_date"],
            id_number=r["id_number"] or None,
            registered_unit_id=r["registered_unit"],
            residence_unit_id=r["residence_unit"] or None,
            residence_type=r["residence_type"],
            status=r["status"],
            ethnicity=r.get("ethnicity") or "",
            hukou_kind=r.get("hukou_kind") or "",
            marital_status=r.get("marital_status") or "",
            death_date=r.get("death_date"),
        )
        p.name_key, p.name_pinyin = name_keys(p.name)
        p.baseline = {
            f: (v.isoformat() if isinstance(v, date) else v)
            for f in STATE_FIELDS
            for v in [getattr(p, f)]
        }
        p.save()
    return time.perf_counter() - start, len(table)


if __name__ == "__main__":
    main()
