"""Run the benchmarks one after another with their default sizes (``make bench``).

Each benchmark measures its own baseline in the same run and prints the ratios; this
script only runs them in turn, prints their output, and keeps a copy in
``bench/results/<timestamp>.txt``.  Pass names to run a subset:
``python bench/run_all.py search import``.  It takes a long time (tens of minutes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["load", "search", "import", "synth", "audit", "field_list", "campaign", "linkage",
         "indicators", "dashboard", "dse", "http", "eligibility", "benefit_runs",
         "projection_core", "exchange", "migrants", "entry_check"]


def main(names: list[str]) -> int:
    chosen = names or ORDER
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    log = out_dir / f"{datetime.now():%Y%m%d-%H%M%S}.txt"
    failed = []
    with log.open("w", encoding="utf-8") as f:
        for name in chosen:
            script = HERE / f"bench_{name}.py"
            if not script.is_file():
                print(f"no benchmark named {name}", file=sys.stderr)
                return 2
            header = f"\n===== bench_{name}.py ====="
            print(header, flush=True)
            f.write(header + "\n")
            began = time.perf_counter()
            proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
            text = proc.stdout + (proc.stderr if proc.returncode else "")
            print(text, flush=True)
            f.write(text + f"\n(exit {proc.returncode}, {time.perf_counter() - began:.0f} s)\n")
            if proc.returncode:
                failed.append(name)
    print(f"results written to {log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
