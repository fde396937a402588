"""Benefit runs over the live registry: every shipped programme as separate runs against
the same programmes in one job over one snapshot.

    .venv/bin/python bench/bench_benefit_runs.py [--persons N] [--seed 20251101] [--repeat 2]

Generates a county (``popreg synth``; default: the 157,000-person county), loads it into a
throw-away SQLite registry (its own ``POPREG_HOME``), then times, in the same run and
alternately, the baseline — ``runs.run_live`` once per programme (a snapshot each) — and
``runs.run_programmes`` over all four (one snapshot).  Prints both times and their ratio,
the phases of one ``run_live``, the time to reproduce a run from its kept inputs, and the
peak memory of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int)
    parser.add_argument("--seed", type=int, default=20251101)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-benefits-") as tmp:
        env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "POPREG_HOME": tmp}
        env.pop("DATABASE_URL", None)
        popreg = str(ROOT / ".venv" / "bin" / "popreg")
        snap = Path(tmp) / "county"
        subprocess.run([popreg, "migrate", "-v0"], check=True, env=env)
        subprocess.run([popreg, "synth", "--seed", str(args.seed), "--out", str(snap)]
                       + (["--persons", str(args.persons)] if args.persons else []), check=True, env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run([popreg, "load", str(snap)], check=True, env=env, stdout=subprocess.DEVNULL)
        os.environ.update({"POPREG_HOME": tmp, "DJANGO_SETTINGS_MODULE": "popreg.web.settings"})
        os.environ.pop("DATABASE_URL", None)
        run(args.repeat)


def run(repeat: int) -> None:
    import django

    django.setup()
    from popreg.benefits.programmes import CODES
    from popreg.benefits.runs import differences, reproduce, run_live, run_programmes
    from popreg.registry.models import Person

    month = date(2025, 10, 1)
    print(f"persons in the registry: {Person.objects.count():,}")
    marks: list[tuple[str, float]] = []
    run_live(CODES[0], month, progress=lambda done, total, stage=None, **kw: marks.append((stage, time.perf_counter())))
    phases = {marks[i][0]: marks[i + 1][1] - marks[i][1] for i in range(len(marks) - 1)}
    print("one run_live (" + CODES[0] + "): " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    for rep in range(repeat):
        t0 = time.perf_counter()
        for code in CODES:
            run_live(code, month)
        t1 = time.perf_counter()
        out = run_programmes(list(CODES), month)
        t2 = time.perf_counter()
        print(f"repeat {rep + 1}: baseline {len(CODES)} x run_live {t1 - t0:.1f} s; run_programmes {t2 - t1:.1f} s; "
              f"ratio {(t1 - t0) / (t2 - t1):.2f}")
    for r, _result in out:
        t0 = time.perf_counter()
        diff = differences(r, reproduce(r))
        print(f"{r.programme}: {r.considered:,} considered, {r.eligible_count:,} eligible; reproduced in "
              f"{time.perf_counter() - t0:.1f} s, {len(diff)} differences")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
