"""``popreg audit`` rules on a synthetic county, scored against its ground truth.

    .venv/bin/python bench/bench_audit.py [--persons N] [--seed 20251101] [--snapshot DIR]

Generates a county (``popreg synth``; default: the 157,000-person county) unless
``--snapshot`` names one, then times ``detect_anomalies`` against a baseline measured in
the same run: reading every table of the snapshot into memory with pyarrow (the I/O floor
any rule engine pays).  Prints both times, their ratio, and recall and precision per
defect type against truth/defects.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int)
    parser.add_argument("--seed", type=int, default=20251101)
    parser.add_argument("--snapshot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        snap = Path(args.snapshot) if args.snapshot else Path(tmp) / "county"
        if not args.snapshot:
            cmd = [str(ROOT / ".venv" / "bin" / "popreg"), "synth", "--seed", str(args.seed),
                   "--out", str(snap)] + (["--persons", str(args.persons)] if args.persons else [])
            subprocess.run(cmd, check=True, env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
        run(snap)


def run(snap: Path) -> None:
    import django
    import pyarrow.parquet as pq

    # The rules print choice labels from the registry's vocabulary (Django's catalogs).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    django.setup()

    from popreg.campaigns.anomalies import detect_anomalies
    from popreg.snapshot.format import DEFECT_TYPES

    start = time.perf_counter()
    rows = sum(pq.read_table(p).num_rows for p in sorted(snap.rglob("*.parquet")))
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    findings = detect_anomalies(snap)
    elapsed = time.perf_counter() - start
    print(f"snapshot: {snap} ({rows:,} rows in all tables)")
    print(f"baseline  read every table (pyarrow): {baseline:7.2f} s")
    print(f"audit     detect_anomalies:           {elapsed:7.2f} s  "
          f"({elapsed / baseline:.1f}x the baseline), {len(findings):,} findings")

    truth_file = snap / "truth" / "defects.csv"
    if not truth_file.is_file():
        return
    truth, found = defaultdict(set), defaultdict(set)
    with truth_file.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            truth[r["defect_type"]].add((r["record_id"], r["source"]))
    for x in findings:
        found[x.anomaly_type].add((x.record_id, x.source))
    print(f"\n{'defect type':28s} {'truth':>6s} {'found':>6s} {'hit':>6s} {'recall':>7s} {'precision':>9s}")
    for defect in DEFECT_TYPES:
        hit = len(truth[defect] & found[defect])
        recall = hit / len(truth[defect]) if truth[defect] else float("nan")
        precision = hit / len(found[defect]) if found[defect] else float("nan")
        print(f"{defect:28s} {len(truth[defect]):6d} {len(found[defect]):6d} {hit:6d} "
              f"{recall:7.3f} {precision:9.3f}")


if __name__ == "__main__":
    main()
