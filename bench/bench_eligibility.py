"""Benchmark: all four shipped benefit programmes over a facts table of 10,000,000 persons.

Two ways, in the same run, over the same facts:

1. the engine (``popreg.core.eligibility.evaluate`` with the shipped JSON programmes, then
   ``Evaluation.frame``): per person the outcome of every condition (passed / failed /
   unknown), eligible, amount and the reasons text; the thing measured;
2. a straightforward pandas computation of the same rules written by hand (boolean
   Series per condition, eligible and amount only): the baseline.

Eligible persons and the total amount of each programme are checked to agree before the
figures are printed.  Each approach runs in its own child process that first reads the
facts from Parquet; time and peak resident memory (Linux ``VmHWM``, reset after the read)
are of the evaluation alone, the memory of the loaded facts is printed separately.

The facts are synthetic, built here with numpy (no snapshot: at this size the facts builder
would time DuckDB, not the rules): ages 0–95 with a share of babies, 93 % active, deceased /
emigrated / deregistered with event dates in 2015–2025, residence types, hukou kinds (1 %
missing), 85 % registered in the county, children counts (Poisson) with daughters, an only
child's death or disability grade, the children's mother's birth date, only-child
certificates for a tenth of one-child parents, move-in dates.  ``--seed`` fixes them.

    .venv/bin/python bench/bench_eligibility.py                     # 10,000,000 persons
    .venv/bin/python bench/bench_eligibility.py --persons 1000000 --month 2025-10
    .venv/bin/python bench/bench_eligibility.py --end-to-end --persons 10000000

``--end-to-end`` measures the whole path from a snapshot instead: a snapshot written by
``bench_indicators``' vectorised generator, ``build_facts`` (DuckDB) and the four programmes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

PROGRAMMES = ("childcare_subsidy", "only_child_parents_reward", "rural_fp_reward", "fp_special_assistance")
EPOCH = np.datetime64("1970-01-01", "D")


# ---------------------------------------------------------------------------------------
# Synthetic facts
# ---------------------------------------------------------------------------------------


def _days(rng: np.random.Generator, lo: str, hi: str, n: int) -> np.ndarray:
    a, b = np.datetime64(lo, "D"), np.datetime64(hi, "D")
    return a + rng.integers(0, int((b - a).astype(int)), n).astype("timedelta64[D]")


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = values.astype("datetime64[s]")
    out[~keep] = np.datetime64("NaT")
    return out


def _ids(values: np.ndarray) -> pd.Series:
    """Nullable integers, 0 meaning missing."""
    return pd.Series(pd.array(values, dtype="Int64")).mask(values == 0)


def build(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    babies = rng.random(n) < 0.05
    birth = np.where(babies, _days(rng, "2021-06-01", "2025-12-31", n), _days(rng, "1930-01-01", "2021-06-01", n))
    birth = _masked(birth, rng.random(n) > 0.001)
    status_draw = rng.random(n)
    status = np.select([status_draw < 0.93, status_draw < 0.98, status_draw < 0.995], ["active", "deceased", "emigrated"], "deregistered")
    event_day = _days(rng, "2015-01-01", "2025-12-31", n)
    dated = rng.random(n) > 0.002  # a few statuses without their date
    children = np.minimum(rng.poisson(1.3, n), 5) * (~babies)
    daughters = rng.binomial(children, 0.48)
    only = children == 1
    child_dead = only & (rng.random(n) < 0.01)
    grade = np.where(only & (rng.random(n) < 0.005), rng.integers(1, 5, n), -1)
    cert = only & (rng.random(n) < 0.1)
    mother_birth = birth.astype("datetime64[D]") + rng.normal(0, 700, n).astype(int).astype("timedelta64[D]")
    ids = np.arange(1, n + 1, dtype=np.int64)
    return pd.DataFrame({
        "person_id": ids,
        "birth_date": birth,
        "status": pd.Categorical(status),
        "residence_type": pd.Categorical(rng.choice(["registered", "floating_out", "floating_in", "pending"], n, p=[0.8, 0.08, 0.11, 0.01])),
        "hukou_kind": pd.Categorical(rng.choice(["agricultural", "non_agricultural", None], n, p=[0.7, 0.29, 0.01])),
        "registered_in_county": rng.random(n) < 0.85,
        "mother_id": _ids(np.where(rng.random(n) < 0.3, rng.integers(1, n + 1, n), 0)),
        "father_id": _ids(np.where(rng.random(n) < 0.3, rng.integers(1, n + 1, n), 0)),
        "death_date": _masked(event_day, (status == "deceased") & dated),
        "move_out_date": _masked(event_day, (status == "emigrated") & dated),
        "deregistration_date": _masked(event_day, (status == "deregistered") & dated),
        "last_move_in_date": _masked(_days(rng, "2015-01-01", "2025-12-31", n), rng.random(n) < 0.03),
        "children_count": children.astype(np.int64),
        "daughters_count": daughters.astype(np.int64),
        "children_dead_count": child_dead.astype(np.int64),
        "child_death_date": _masked(_days(rng, "2000-01-01", "2025-06-30", n), child_dead),
        "child_disability_grade": _ids(np.maximum(grade, 0)),
        "children_min_disability_grade": _ids(np.maximum(grade, 0)),
        "children_mother_birth_date": _masked(mother_birth, children > 0),
        "certificate_number": pd.Series(np.where(cert, "JS" + pd.Series(ids).astype(str).to_numpy(), None), dtype=object),
        "certificate_issued_date": _masked(_days(rng, "1985-01-01", "2016-01-01", n), cert),
        "certificate_child_birth_date": _masked(_days(rng, "1995-01-01", "2015-12-31", n), cert),
    })


# ---------------------------------------------------------------------------------------
# The baseline: the same rules written by hand in pandas
# ---------------------------------------------------------------------------------------


def _age(birth: pd.Series, on: pd.Timestamp) -> pd.Series:
    return on.year - birth.dt.year - ((on.month * 100 + on.day) < (birth.dt.month * 100 + birth.dt.day))


def baseline(df: pd.DataFrame, month: date) -> dict[str, tuple[np.ndarray, float]]:
    start = pd.Timestamp(month)
    end = start + pd.offsets.MonthEnd(0)
    here = (df["registered_in_county"] & df["residence_type"].isin(["registered", "floating_out"])
            & ((df["death_date"] >= start) | (df["death_date"].isna() & (df["status"] != "deceased")))
            & ((df["move_out_date"] >= start) | (df["move_out_date"].isna() & (df["status"] != "emigrated")))
            & ((df["deregistration_date"] >= start) | (df["deregistration_date"].isna() & (df["status"] != "deregistered"))))
    out: dict[str, tuple[np.ndarray, float]] = {}
    birth = df["birth_date"]
    ref = birth.where(birth > start, start)
    child = (birth.notna() & (birth <= end) & (_age(birth, start) < 3)
             & (df["last_move_in_date"].isna() | (df["last_move_in_date"] <= ref)) & here)
    out["childcare_subsidy"] = (df["person_id"].to_numpy()[child.to_numpy()], 300.0 * child.sum())
    cert = (df["certificate_number"].notna() & (df["certificate_issued_date"] <= end)
            & (_age(df["certificate_child_birth_date"], start) < 18) & here)
    out["only_child_parents_reward"] = (df["person_id"].to_numpy()[cert.to_numpy()], 50.0 * cert.sum())
    cc, dd = df["children_count"], df["daughters_count"]
    rural = ((df["hukou_kind"] == "agricultural") & (_age(birth, start) >= 60)
             & ((cc == 1) | ((cc == 2) & (dd == 2))) & here)
    out["rural_fp_reward"] = (df["person_id"].to_numpy()[rural.to_numpy()], 80.0 * rural.sum())
    dead = df["child_death_date"] < start
    special = ((cc == 1) & (dead | df["child_disability_grade"].isin([1, 2, 3]).fillna(False))
               & (_age(df["children_mother_birth_date"], start) >= 49) & df["hukou_kind"].notna() & here)
    urban = df["hukou_kind"] == "non_agricultural"
    amount = np.select([dead & urban, dead, urban], [340.0, 170.0, 270.0], 150.0)
    special = special.fillna(False).astype(bool).to_numpy()
    out["fp_special_assistance"] = (df["person_id"].to_numpy()[special], float(amount[special].sum()))
    return out


# ---------------------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------------------


def _peak_rss_mb(reset: bool) -> int:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    if reset:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    return peak // 1024


def _rss_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) // 1024


def _child(kind: str, facts_path: str, month: date, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    df = pd.read_parquet(facts_path)
    for c in ("status", "residence_type", "hukou_kind"):
        df[c] = df[c].astype("category")
    loaded = _rss_mb()
    _peak_rss_mb(reset=True)
    result: dict[str, object] = {"loaded_mb": loaded}
    t0 = time.perf_counter()
    if kind == "engine":
        from popreg.benefits.programmes import load
        from popreg.core.eligibility import evaluate

        per: dict[str, object] = {}
        for code in PROGRAMMES:
            t = time.perf_counter()
            ev = evaluate(load(code), df, month)
            frame = ev.frame(df)
            ids = frame.loc[frame["eligible"], "person_id"].to_numpy(dtype=np.int64)
            per[code] = {"s": round(time.perf_counter() - t, 2), "considered": len(frame), "eligible": len(ids),
                         "total": float(frame["amount_yuan"].sum()), "ids_sum": int(ids.sum())}
            del ev, frame
        result["programmes"] = per
    else:
        per = {}
        for code, (ids, total) in baseline(df, month).items():
            per[code] = {"eligible": len(ids), "total": float(total), "ids_sum": int(ids.astype(np.int64).sum())}
        result["programmes"] = per
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    result["peak_extra_mb"] = _peak_rss_mb(reset=False) - loaded
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    queue.put(result)


def _reporting(target: str, *args: object) -> None:
    """Run the function named ``target`` in the child; a failure is sent back as its
    traceback (the last argument is the queue), never a hang."""
    queue = args[-1]
    try:
        globals()[target](*args)
    except BaseException:
        import traceback

        queue.put({"error": traceback.format_exc()})  # type: ignore[attr-defined]


def _end_to_end(snapshot: str, month: date, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from popreg.benefits.facts import build_facts
    from popreg.benefits.programmes import load
    from popreg.core.eligibility import evaluate

    start_rss = _rss_mb()
    _peak_rss_mb(reset=True)
    t0 = time.perf_counter()
    facts = build_facts(snapshot)
    built = time.perf_counter() - t0
    per = {}
    for code in PROGRAMMES:
        t = time.perf_counter()
        ev = evaluate(load(code), facts, month)
        frame = ev.frame(facts)
        per[code] = {"s": round(time.perf_counter() - t, 2), "considered": len(frame), "eligible": int(frame["eligible"].sum())}
        del ev, frame
    queue.put({"persons": len(facts), "build_facts_s": round(built, 1), "wall_s": round(time.perf_counter() - t0, 1),
               "peak_rss_mb": _peak_rss_mb(reset=False), "start_rss_mb": start_rss, "programmes": per})


def end_to_end(persons: int, work: Path, month: date) -> dict[str, object]:
    """A snapshot written by bench_indicators' vectorised generator (persons, units, events;
    no father, hukou kind or death date columns: those facts are missing), then the facts
    builder and the four programmes over it, in one child process."""
    import sys

    snap = work / f"snapshot-{persons}"
    if not (snap / "manifest.json").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_indicators import generate  # type: ignore[import-not-found]

        t = time.perf_counter()
        generate(snap, persons)
        print(f"snapshot written: {persons:,} persons in {time.perf_counter() - t:.1f} s")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_reporting, args=("_end_to_end", str(snap), month, q))
    p.start()
    out = q.get()
    p.join()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out  # type: ignore[no-any-return]


def measure(kind: str, facts_path: Path, month: date) -> dict[str, object]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_reporting, args=("_child", kind, str(facts_path), month, q))
    p.start()
    out = q.get()
    p.join()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=10_000_000)
    ap.add_argument("--month", default="2025-10")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", help="directory to keep the generated facts between runs")
    ap.add_argument("--end-to-end", action="store_true",
                    help="instead: write a snapshot of --persons (bench_indicators' generator) and time "
                         "the facts builder (DuckDB) plus the four programmes over it")
    args = ap.parse_args()
    month = date.fromisoformat(args.month + "-01")
    work = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="bench-elig-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.end_to_end:
        print(json.dumps(end_to_end(args.persons, work, month), indent=1))
        return
    facts_path = work / f"facts-{args.persons}-{args.seed}.parquet"
    if not facts_path.exists():
        t = time.perf_counter()
        build(args.persons, args.seed).to_parquet(facts_path, index=False)
        print(f"facts built: {args.persons:,} persons in {time.perf_counter() - t:.1f} s -> {facts_path.stat().st_size / 2**20:.0f} MiB Parquet")
    engine = measure("engine", facts_path, month)
    base = measure("baseline", facts_path, month)
    for code in PROGRAMMES:
        e, b = engine["programmes"][code], base["programmes"][code]  # type: ignore[index]
        assert (e["eligible"], e["ids_sum"], round(e["total"], 2)) == (b["eligible"], b["ids_sum"], round(b["total"], 2)), (code, e, b)
    print(json.dumps({"persons": args.persons, "month": args.month, "cpus": os.cpu_count(),
                      "engine": engine, "pandas_baseline": base}, indent=1, ensure_ascii=False))
    print(f"engine {engine['wall_s']} s, peak +{engine['peak_extra_mb']} MiB over the loaded facts "
          f"({engine['loaded_mb']} MiB); pandas baseline {base['wall_s']} s, peak +{base['peak_extra_mb']} MiB; "
          f"time ratio engine/baseline {float(engine['wall_s']) / float(base['wall_s']):.2f} "  # type: ignore[arg-type]
          "(the engine also gives every condition's outcome and the reasons text)")


if __name__ == "__main__":
    main()
