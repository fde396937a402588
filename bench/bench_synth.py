"""Benchmark of ``popreg synth``: wall time and peak memory by county size.

Run by hand:  .venv/bin/python bench/bench_synth.py            (100,000 and 1,000,000 persons)
              .venv/bin/python bench/bench_synth.py 10000000   (adds that size)

Each size runs in a fresh child process so that its peak RSS (``resource.getrusage``,
ru_maxrss of the child) is its own.  The baseline is the smallest size measured in the same
run: the table shows time per 1,000 persons and the ratio against it, so a streaming
generator shows about constant time per person and a memory peak that does not grow with
the county.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from popreg.synth.generator import generate
t = time.perf_counter()
m = generate(sys.argv[1], seed=20251101, persons=int(sys.argv[2]), progress=None)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, m["row_counts"]["persons"], m["row_counts"]["events"])
"""


def run(persons: int) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(Path(tmp) / "county"), str(persons)],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        _ = time.perf_counter() - began
        seconds, maxrss_kib, rows, events = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    return seconds, maxrss_kib / 1024, rows, events


def main() -> None:
    sizes = [100_000, 1_000_000] + [int(a) for a in sys.argv[1:]]
    results = []
    for n in sizes:
        seconds, rss_mib, rows, events = run(n)
        results.append((n, seconds, rss_mib, rows, events))
        print(f"measured {n:>11,} persons: {seconds:8.1f} s, peak RSS {rss_mib:8.0f} MiB", flush=True)
    base_n, base_s, base_rss = results[0][0], results[0][1], results[0][2]
    print()
    print(f"{'persons':>12} {'records':>12} {'events':>12} {'wall s':>9} {'s/1000':>8} {'x base':>7} {'peak MiB':>9} {'x base':>7}")
    for n, seconds, rss, rows, events in results:
        per_k = seconds / n * 1000
        print(
            f"{n:>12,} {rows:>12,} {events:>12,} {seconds:>9.1f} {per_k:>8.3f} "
            f"{per_k / (base_s / base_n * 1000):>7.2f} {rss:>9.0f} {rss / base_rss:>7.2f}"
        )
    print(f"\nbaseline: {base_n:,} persons in the same run; children also use {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB at most")


if __name__ == "__main__":
    main()
