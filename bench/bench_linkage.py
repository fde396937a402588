"""Benchmark: popreg dedupe vs generic Splink on generated Chinese registry records.

Run by hand, never in the test suite::

    .venv/bin/python bench/bench_linkage.py --sizes 100000 1000000

For each size, records are generated once (``popreg.linkage.testdata``, fixed seed, with
truth), then each system runs in its own subprocess on the same CSV:

* ``popreg``   ``popreg.linkage.engine.dedupe`` with the shipped model (u and λ
               re-estimated on the data, m from the model), constrained clustering;
* ``popreg+train``  the same with full unsupervised training on the data (``--train``);
* ``generic``  Splink with generic comparisons: Jaro-Winkler on the raw name, Levenshtein
               on the raw ID number, Splink's standard date-of-birth comparison, exact sex
               and village; blocking on the raw columns with about the same number of
               pairs; trained with the same recipe (λ, u by sampling, EM); Splink's
               connected-components clustering at 0.9.

Reported per system: pairwise precision / recall / F1 against the truth, wall time of
the linkage (read CSV → clusters, in the child), peak resident memory of the child
(``os.wait4`` rusage), and the ratios against generic Splink.  ``--phase-memory`` adds,
for popreg, the peak resident memory within each phase of ``dedupe`` (read, prepare,
register, estimate, predict, cluster; Linux only: ``VmHWM``, reset at each phase end).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THRESHOLDS_GENERIC = (0.5, 0.9, 0.99)


def _generate(n: int, workdir: Path, seed: int) -> Path:
    path = workdir / f"records_{n}_{seed}.csv"
    if not path.exists():
        from popreg.linkage.testdata import generate_records

        started = time.monotonic()
        df = generate_records(n, seed=seed)
        df.to_csv(path, index=False)
        print(f"generated {n:,} records in {time.monotonic() - started:.0f} s -> {path}")
    return path


def _scores(records_csv: Path, clusters: object) -> dict[str, float]:
    import pandas as pd

    from popreg.linkage.testdata import pairwise_scores, true_pairs

    truth = pd.read_csv(records_csv, dtype=str, usecols=["record_id", "entity_id"])
    return pairwise_scores(true_pairs(truth), clusters)  # type: ignore[arg-type]


def _peak_rss_mb() -> int:
    """Peak resident memory since the last reset (Linux ``VmHWM``), then reset it."""
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return peak // 1024


def worker_popreg(records_csv: Path, train: bool, phase_memory: bool) -> dict[str, object]:
    import pandas as pd

    from popreg.linkage import engine
    from popreg.linkage.model import LinkageModel

    phases: dict[str, int] = {}
    if phase_memory:
        clock = engine._Clock.__call__

        def measured(self: engine._Clock, phase: str) -> None:
            clock(self, phase)
            phases[phase] = _peak_rss_mb()

        engine._Clock.__call__ = measured  # type: ignore[method-assign]
        _peak_rss_mb()
    started = time.monotonic()
    result = (
        engine.dedupe(records_csv, model=LinkageModel(), train=True)
        if train
        else engine.dedupe(records_csv)
    )
    wall = time.monotonic() - started
    clusters = result.clusters
    assert isinstance(clusters, pd.DataFrame)
    out: dict[str, object] = {"wall_s": wall, "pairs": len(result.pairs)}
    if phase_memory:
        out["phases"] = {p: [round(result.timings[p], 1), mb] for p, mb in phases.items()}
    return {**out, **_scores(records_csv, clusters)}


def worker_generic(records_csv: Path) -> dict[str, object]:
    import pandas as pd
    from splink import DuckDBAPI, Linker

    from popreg.linkage.model import LinkageModel, train_unsupervised

    started = time.monotonic()
    df = pd.read_csv(records_csv, dtype=str, keep_default_na=False, usecols=[
        "record_id", "name", "sex", "birth_date", "id_number", "village_code", "household_no",
    ])  # fmt: skip
    df = df.replace({"": None})
    model = LinkageModel(name="generic")
    db_api = DuckDBAPI()
    sdf = db_api.register(df)
    linker = Linker(sdf, model.settings_dict("duckdb"), log_level=logging.WARNING)
    train_unsupervised(linker, model)
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.9
    )
    clusters = clustered.as_pandas_dataframe()[["record_id", "cluster_id"]]
    wall = time.monotonic() - started
    out: dict[str, object] = {"wall_s": wall, **_scores(records_csv, clusters)}
    # Untimed: the baseline's best threshold, so it is not judged on one arbitrary cut.
    for cut in THRESHOLDS_GENERIC:
        other = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=cut
        ).as_pandas_dataframe()[["record_id", "cluster_id"]]
        out[f"f1_at_{cut}"] = _scores(records_csv, other)["f1"]
    return out


def _run_child(
    system: str, records_csv: Path, timeout: float, phase_memory: bool = False
) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", system, "--input", str(records_csv)]
    if phase_memory:
        cmd.append("--phase-memory")
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
                pid, status, usage = os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.2)
        out.seek(0)
        text = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": f"exit {os.waitstatus_to_exitcode(status)}"}
    result: dict[str, object] = json.loads(text.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    if "phases" in result:  # resetting VmHWM resets ru_maxrss too: the phases hold the peak
        phase_peaks = [mb for _t, mb in result["phases"].values()]  # type: ignore[attr-defined]
        result["peak_rss_mb"] = max([result["peak_rss_mb"], *phase_peaks])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--systems", nargs="+", default=["popreg", "generic", "popreg+train"])
    parser.add_argument("--seed", type=int, default=20251129)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "popreg-bench"))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--phase-memory", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
        logging.disable(logging.WARNING)
        path = Path(args.input)
        if args.worker == "generic":
            result = worker_generic(path)
        else:
            result = worker_popreg(
                path, train=args.worker == "popreg+train", phase_memory=args.phase_memory
            )
        print(json.dumps(result))
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"CPU cores: {os.cpu_count()}; systems: {', '.join(args.systems)}")
    for n in args.sizes:
        records = _generate(n, workdir, args.seed)
        results = {s: _run_child(s, records, args.timeout, args.phase_memory) for s in args.systems}
        base = results.get("generic", {})
        print(f"\n== {n:,} records ==")
        print(f"{'system':14} {'F1':>7} {'prec':>7} {'recall':>7} {'wall s':>8} {'peak MB':>8} "
              f"{'time/generic':>12} {'mem/generic':>11}")  # fmt: skip
        for system, r in results.items():
            if "error" in r:
                print(f"{system:14} {r['error']}")
                continue
            t_ratio = (
                f"{float(r['wall_s']) / float(base['wall_s']):.2f}" if "wall_s" in base else "-"
            )
            m_ratio = (
                f"{float(r['peak_rss_mb']) / float(base['peak_rss_mb']):.2f}"
                if "peak_rss_mb" in base
                else "-"
            )
            print(
                f"{system:14} {float(r['f1']):7.4f} {float(r['precision']):7.4f} "
                f"{float(r['recall']):7.4f} {float(r['wall_s']):8.1f} "
                f"{float(r['peak_rss_mb']):8.0f} {t_ratio:>12} {m_ratio:>11}"
            )
        for system, r in results.items():
            if "phases" in r:
                steps = ", ".join(
                    f"{p} {t:.1f} s / {mb:,} MB"
                    for p, (t, mb) in r["phases"].items()  # type: ignore[attr-defined]
                )
                print(f"{system} per phase (wall / peak RSS): {steps}")
        if "generic" in results and "error" not in base:
            extra = ", ".join(
                f"F1 at {c}: {float(base[f'f1_at_{c}']):.4f}" for c in THRESHOLDS_GENERIC
            )  # type: ignore[arg-type]
            print(f"generic Splink at other thresholds (untimed): {extra}")


if __name__ == "__main__":
    main()
