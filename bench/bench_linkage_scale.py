"""Benchmark: how ``popreg dedupe`` grows from a county to a province, on DuckDB.

Run by hand, never in the test suite (the 10 M run needs about 20 GB of memory and tens
of minutes on two cores)::

    .venv/bin/python bench/bench_linkage_scale.py --sizes 1000000 3000000 10000000

For each size, records are generated once (``popreg.linkage.testdata``, fixed seed, with
truth: 12 % duplicate copies with one to three errors each, 3 % of people without an ID
number, twins and namesakes), written to CSV, then ``popreg.linkage.engine.dedupe`` runs on
it in a child process (DuckDB, the shipped model).  Reported per size:

* wall time of the child's ``dedupe`` (read CSV → clusters) and per phase;
* peak resident memory of the child (``os.wait4`` rusage);
* records with a usable (checksum-valid) ID number, resolved by the hash join, and the
  candidate pairs the blocking rules produce for the probabilistic step (counted after the
  timed run, with Splink's ``count_comparisons_from_blocking_rules`` on the same table);
* pairwise precision / recall / F1 against the truth.

The baseline, measured in the same run at the smallest size (``--baseline-size``, default
the first): the same model scoring **every** candidate pair (``compare_valid_ids=True``,
the behaviour before the hash join), so the ratios say what the hash join buys.

Finally a paper projection to a province (50 M records) and the nation (1.4 B) from the
measured costs: seconds per record for the per-record phases (read, prepare, register,
cluster), seconds per candidate pair for scoring (estimate + predict), and the number of
candidate pairs extrapolated with the power law fitted to the measured sizes.  It is a
projection, not a measurement; the note printed with it says what it assumes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_linkage import _generate, _scores  # noqa: E402

PER_RECORD_PHASES = ("read", "prepare", "register", "cluster")
PER_PAIR_PHASES = ("predict",)  # "estimate" samples a fixed number of pairs: a constant
COUNTY = 1_000_000  # the generator's largest county; bigger files are several counties


def _generate_many(n: int, workdir: Path, seed: int) -> Path:
    """``n`` records: one generated county up to a million, else ``n / 1 M`` counties of a
    million each (county codes 411424, 411425, …; record and entity ids made unique), as
    one CSV.  The generator's ID sequence numbers run out beyond a million in one county."""
    if n <= COUNTY:
        return _generate(n, workdir, seed)
    path = workdir / f"records_{n}_{seed}_counties.csv"
    if path.exists():
        return path
    from popreg.linkage.testdata import generate_records

    started = time.monotonic()
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as f:
        for c in range(-(-n // COUNTY)):
            size = min(COUNTY, n - c * COUNTY)
            df = generate_records(size, seed=seed + c, county=f"4114{24 + c:02d}")
            df["record_id"] = f"C{c:02d}" + df["record_id"]
            df["entity_id"] = f"C{c:02d}-" + df["entity_id"].astype(str)
            df.to_csv(f, index=False, header=c == 0)
            del df
    partial.rename(path)  # only a complete file is reused
    print(f"generated {n:,} records ({-(-n // COUNTY)} counties) in "
          f"{time.monotonic() - started:.0f} s -> {path}")
    return path


def worker(records_csv: Path, compare_valid_ids: bool, count_pairs: bool) -> dict[str, Any]:
    import pandas as pd
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    from popreg.linkage import engine, exact

    kept: dict[str, Any] = {}
    register = engine.SplinkBackend.register

    def keep(self: engine.SplinkBackend, df: Any, name: str) -> Any:
        sdf = register(self, df, name)
        if name == "records":
            kept["backend"], kept["sdf"] = self, sdf
            kept["n_valid"] = int(sum(1 for v in df.column("id_valid").to_pylist() if v))
        return sdf

    engine.SplinkBackend.register = keep  # type: ignore[method-assign]
    started = time.monotonic()
    result = engine.dedupe(records_csv, compare_valid_ids=compare_valid_ids)
    wall = time.monotonic() - started
    clusters = result.clusters
    assert isinstance(clusters, pd.DataFrame)
    out: dict[str, Any] = {
        "wall_s": wall,
        "phases": {p: round(t, 1) for p, t in result.timings.items()},
        "records": len(clusters),
        "valid_ids": kept["n_valid"],
        "scored_pairs_kept": len(result.pairs),
    }
    out.update(_scores(records_csv, clusters))
    if count_pairs:
        began = time.monotonic()
        settings = result.model.settings_dict("duckdb")
        if not compare_valid_ids:
            settings = exact.restrict_settings(settings)
        counts = count_comparisons_from_blocking_rules(
            kept["sdf"],
            blocking_rules=settings["blocking_rules_to_generate_predictions"],
            link_type="dedupe_only",
            unique_id_column_name="record_id",
            record_sample_proportion=1.0,
        )
        out["candidate_pairs"] = int(sum(c["marginal_comparison_count"] for c in counts))
        out["rules"] = [(c["equi_join_conditions"], c["filter_conditions"]) for c in counts]
        out["count_s"] = round(time.monotonic() - began, 1)
    return out


def _child(system: str, records: Path, timeout: float) -> dict[str, Any]:
    """Run one system in a child process; its wall time, pair count, scores and peak RSS."""
    import subprocess

    cmd = [sys.executable, __file__, "--worker", system, "--input", str(records)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        started = time.monotonic()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.5)
        out.seek(0)
        text = out.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"error": f"exit {code} (killed for memory?)" if code < 0 else f"exit {code}"}
    result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


def _projection(rows: list[tuple[int, dict[str, Any]]]) -> None:
    usable = [(n, r) for n, r in rows if "candidate_pairs" in r and "error" not in r]
    if len(usable) < 2:
        print("\n(projection needs two measured sizes with pair counts)")
        return
    sizes = [n for n, _ in usable]
    pairs = [float(r["candidate_pairs"]) for _, r in usable]
    # pairs = a · n^b, least squares on the logarithms
    xs, ys = [math.log(n) for n in sizes], [math.log(max(p, 1.0)) for p in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    a = math.exp(my - b * mx)
    n_big, r_big = usable[-1]
    per_record = sum(r_big["phases"].get(p, 0.0) for p in PER_RECORD_PHASES) / n_big
    per_pair = sum(r_big["phases"].get(p, 0.0) for p in PER_PAIR_PHASES) / float(r_big["candidate_pairs"])
    fixed = r_big["phases"].get("estimate", 0.0)
    print(f"\ncandidate pairs ≈ {a:.3g} · n^{b:.3f} (fitted on {', '.join(f'{n:,}' for n in sizes)})")
    print(f"measured at {n_big:,}: {per_record * 1e6:.1f} µs per record (read, prepare, register, "
          f"cluster), {per_pair * 1e6:.2f} µs per candidate pair (predict), {fixed:.0f} s estimating u "
          "and λ (sampled: about constant)")
    # the measured wall times are on this machine's cores; "1 core" doubles them (both cores
    # busy throughout: pessimistic for the single-threaded Python phases)
    print(f"{'records':>15} {'pairs':>14} {'1 core h':>10} {'on 2 cores h':>13} {'on 200 cores h':>15}")
    for n in (50_000_000, 1_400_000_000):
        p = a * n**b
        core_s = per_record * n + per_pair * p + fixed
        # the measured run used two cores; a Spark cluster of 200 cores at the same per-core speed
        print(f"{n:>15,} {p:>14.3g} {core_s * 2 / 3600:>10.1f} {core_s / 3600:>13.1f} "
              f"{core_s * 2 / 200 / 3600:>15.2f}")
    share = r_big["valid_ids"] / r_big["records"]
    print(f"Assumes: the generated data's shares ({share:.0%} usable ID numbers, 12 % duplicate copies), "
          "the per-record and per-pair costs measured at the largest size, costs that divide by "
          "cores on Spark (shuffle and skew not counted), and block sizes that keep growing as "
          "fitted (names and birth years are shared by more people in a larger population).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--baseline-size", type=int, help="size at which the baseline runs (default: the first)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=20251129)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "popreg-bench"))
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--reuse", action="store_true",
                        help="take sizes already measured (same seed) from WORKDIR/scale-results.jsonl "
                             "instead of running them again; each run appends its results there")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        logging.disable(logging.WARNING)
        print(json.dumps(worker(Path(args.input), args.worker == "all-pairs", count_pairs=True)))
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    base_size = args.baseline_size or args.sizes[0]
    print(f"CPU cores: {os.cpu_count()}; sizes: {', '.join(f'{n:,}' for n in args.sizes)}")
    rows: list[tuple[int, dict[str, Any]]] = []
    log = workdir / "scale-results.jsonl"
    earlier: dict[tuple[int, str], dict[str, Any]] = {}
    if args.reuse and log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["seed"] == args.seed and "error" not in entry["result"]:
                earlier[(entry["records"], entry["system"])] = entry["result"]

    def measure(n: int, system: str, records: Path | None) -> dict[str, Any]:
        if (n, system) in earlier:
            print(f"{n:>12,} {system}: from {log.name} ({earlier[(n, system)].get('measured', '?')})")
            return earlier[(n, system)]
        assert records is not None
        result = _child(system, records, args.timeout)
        result["measured"] = time.strftime("%Y-%m-%d %H:%M")
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"records": n, "seed": args.seed, "system": system, "result": result}) + "\n")
        return result

    for n in args.sizes:
        wanted = ["hash-join"] + (["all-pairs"] if n == base_size and not args.no_baseline else [])
        records = (
            None if all((n, w) in earlier for w in wanted) else _generate_many(n, workdir, args.seed)
        )
        result = measure(n, "hash-join", records)
        rows.append((n, result))
        _print(n, "hash join", result)
        if "all-pairs" in wanted:
            base = measure(n, "all-pairs", records)
            _print(n, "all pairs", base)
            if "error" not in base and "error" not in result:
                print(f"  ratio hash join / all pairs: wall {result['wall_s'] / base['wall_s']:.2f}, "
                      f"peak memory {result['peak_rss_mb'] / base['peak_rss_mb']:.2f}, "
                      f"candidate pairs {result['candidate_pairs'] / base['candidate_pairs']:.3f}")
        if records is not None and os.environ.get("POPREG_BENCH_KEEP") != "1" and n >= 3_000_000:
            records.unlink(missing_ok=True)  # 10 M records are 600 MB of CSV
    _projection(rows)


def _print(n: int, label: str, r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"{n:>12,} {label:10} {r['error']}")
        return
    phases = ", ".join(f"{p} {t:.0f} s" for p, t in r["phases"].items())
    print(f"{n:>12,} {label:10} wall {r['wall_s']:8.1f} s  peak {r['peak_rss_mb']:8,.0f} MB  "
          f"valid IDs {r['valid_ids'] / r['records']:.1%}  candidate pairs {r['candidate_pairs']:,} "
          f"(counted in {r['count_s']:.0f} s)  F1 {r['f1']:.4f} P {r['precision']:.4f} R {r['recall']:.4f}")
    print(f"{'':>12} {'':10} phases: {phases}")


if __name__ == "__main__":
    main()
