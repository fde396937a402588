"""Benchmark: coverage of the Chapman dual-system estimate of births on synthetic counties.

For each seed: generate a county (``popreg.synth``), link hospital birth records to
registry persons with the linkage engine (``popreg match``, in-process), and estimate the
true number of births in the hospital source's window from

    n1 = registry births (birth events dated in the window),
    n2 = hospital birth records dated in the window,
    m  = hospital records linked to one of those registry births (distinct persons).

The true number is known from the generator's truth files: distinct real children among
the registry births (truth/entities.csv), plus the hospital births whose child was never
registered (truth/defects.csv, ``unregistered_birth``), plus the births on neither list
(truth/unrecorded_births.csv).  Truth is read only to score.

Links missed by the engine bias N̂ upwards, and with two lists this complete the interval
is only a few births wide.  ``popreg match`` ends with a clerical second pass over the
hospital records its model left unlinked (``rule`` = ``same_mother`` / ``date_village``,
see docs/linkage.md); the estimate is also shown with the model's links alone
(``rule`` = ``model``) to show what that pass is worth.

As a reference the same estimate is also computed with the exact links of
truth/source_links.csv ("truth links", a fallback that shows the estimator alone, without
linkage error).

    .venv/bin/python bench/bench_dse.py                    # 20 default-size counties (~5 min)
    .venv/bin/python bench/bench_dse.py --persons 20000    # 20 small counties (~1 min)
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from popreg.core.dse import ASSUMPTIONS, chapman
from popreg.snapshot.format import read_manifest, read_table
from popreg.synth.plan import DEFAULT_PERSONS


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def one_county(snap: Path, window_start: date) -> dict[str, object]:
    from popreg.linkage.sources import match_source

    ref = datetime.fromisoformat(read_manifest(snap)["reference_moment"]).date()
    events = read_table(snap, "events", ["person_id", "event_type", "event_date"]).to_pandas()
    births = events[(events["event_type"] == "birth")]
    births = births[(births["event_date"] >= window_start) & (births["event_date"] < ref)]
    reg_births = set(births["person_id"].astype(int))
    hosp = read_table(snap, "sources/hospital_births").to_pandas()
    hosp = hosp[(hosp["birth_date"] >= window_start) & (hosp["birth_date"] < ref)]
    in_window = set(hosp["record_id"])

    t0 = time.perf_counter()
    links = match_source(snap / "sources" / "hospital_births.parquet", snap, kind="hospital_births")
    t_match = time.perf_counter() - t0
    linked = links[(links["status"] == "matched") & links["record_id"].isin(in_window)]
    m_match = len({int(p) for p in linked["person_id"] if int(p) in reg_births})
    by_model = linked[linked["rule"] == "model"]
    m_model = len({int(p) for p in by_model["person_id"] if int(p) in reg_births})

    truth_links = [
        r
        for r in _read_csv(snap / "truth" / "source_links.csv")
        if r["source"] == "hospital_births" and r["record_id"] in in_window
    ]
    m_truth = len({int(r["person_id"]) for r in truth_links if int(r["person_id"]) in reg_births})
    # linkage quality against the truth links (record -> person)
    true_pairs = {(r["record_id"], int(r["person_id"])) for r in truth_links}
    found_pairs = {
        (r, int(p)) for r, p in zip(linked["record_id"], linked["person_id"], strict=True)
    }
    precision = len(found_pairs & true_pairs) / len(found_pairs) if found_pairs else float("nan")
    recall = len(found_pairs & true_pairs) / len(true_pairs) if true_pairs else float("nan")

    entity = {
        int(r["person_id"]): r["entity_id"] for r in _read_csv(snap / "truth" / "entities.csv")
    }
    ghosts = {
        r["record_id"]
        for r in _read_csv(snap / "truth" / "defects.csv")
        if r["source"] == "hospital_births" and r["defect_type"] == "unregistered_birth"
    }
    unseen = sum(
        1
        for r in _read_csv(snap / "truth" / "unrecorded_births.csv")
        if window_start <= date.fromisoformat(r["birth_date"]) < ref
    )
    true_n = len({entity.get(p, f"p{p}") for p in reg_births}) + len(ghosts & in_window) + unseen
    n1, n2 = len(reg_births), len(in_window)
    return {
        "n1": n1,
        "n2": n2,
        "m": m_match,
        "m_truth": m_truth,
        "unseen": unseen,
        "true": true_n,
        "precision": precision,
        "recall": recall,
        "match_s": t_match,
        "m_model": m_model,
        "clerical": len(linked) - len(by_model),
        "est": chapman(n1, n2, m_match),
        "est_model": chapman(n1, n2, m_model),
        "est_log": chapman(n1, n2, m_match, method="lognormal"),
        "est_truth": chapman(n1, n2, m_truth),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument(
        "--persons",
        type=int,
        default=DEFAULT_PERSONS,
        help=f"persons per county (default: the default county, {DEFAULT_PERSONS:,})",
    )
    ap.add_argument(
        "--window-start",
        default="2022-01-01",
        help="first day of the estimation window (the hospital source covers the last four years)",
    )
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from popreg.synth.generator import generate

    window_start = date.fromisoformat(args.window_start)
    print(
        "Chapman DSE of births: registry × hospital records, window "
        f"{window_start} .. reference moment; {args.persons:,} persons per county"
    )
    print("assumptions: " + "; ".join(ASSUMPTIONS))
    print(
        f"{'seed':>4} {'n1':>6} {'n2':>6} {'m':>6} {'N_hat':>8} {'95% CI (normal)':>19} "
        f"{'true':>6} {'cov':>4} {'cov_log':>7} {'m_model':>7} {'N_hat_mod':>9} {'cov_mod':>7} "
        f"{'m_truth':>7} {'cov_truth':>9} {'prec':>6} {'recall':>6}"
    )
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-dse-"))
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            snap = tmp / f"s{seed}"
            generate(snap, seed=seed, persons=args.persons, progress=None)
            r = one_county(snap, window_start)
            shutil.rmtree(snap, ignore_errors=True)
            e, el, e2, et = r["est"], r["est_log"], r["est_model"], r["est_truth"]
            true = r["true"]
            r |= {
                "seed": seed,
                "cov": e.covers(true),
                "cov_log": el.covers(true),
                "cov_model": e2.covers(true),
                "cov_truth": et.covers(true),
            }
            rows.append(r)

            def yn(b: object) -> str:
                return "yes" if b else "NO"

            print(
                f"{seed:>4} {r['n1']:>6} {r['n2']:>6} {r['m']:>6} {e.estimate:>8.1f} "
                f"[{e.low:>7.1f}, {e.high:>7.1f}] {true:>6} {yn(r['cov']):>4} "
                f"{yn(r['cov_log']):>7} {r['m_model']:>7} {e2.estimate:>9.1f} {yn(r['cov_model']):>7} "
                f"{r['m_truth']:>7} {yn(r['cov_truth']):>9} "
                f"{r['precision']:>6.3f} {r['recall']:>6.3f}",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    df = pd.DataFrame(rows)
    k = len(df)
    print(f"\ncoverage of the true births by the 95 % interval over {k} seeds:")
    print(
        f"  links from popreg match, normal interval:     {df['cov'].sum()}/{k} = {df['cov'].mean():.0%}"
    )
    print(
        f"  links from popreg match, log-normal interval: {df['cov_log'].sum()}/{k} = {df['cov_log'].mean():.0%}"
    )
    print(
        f"  model links only (no clerical pass), normal:  {df['cov_model'].sum()}/{k} = {df['cov_model'].mean():.0%}"
    )
    print(
        f"  exact truth links (fallback reference):       {df['cov_truth'].sum()}/{k} = {df['cov_truth'].mean():.0%}"
    )
    bias = [(r["est"].estimate - r["true"]) / r["true"] for r in rows]
    print(
        f"  mean relative error of N_hat (match links): {sum(bias) / k:+.2%}; "
        f"registry completeness n1/true: {sum(r['n1'] / r['true'] for r in rows) / k:.1%}; "
        f"births on neither list: {df['unseen'].mean():.1f} per county"
    )
    print(
        f"  linkage precision {df['precision'].mean():.4f}, recall {df['recall'].mean():.4f}, "
        f"clerical links {df['clerical'].mean():.1f} per county, "
        f"match time {df['match_s'].mean():.1f} s per county"
    )


if __name__ == "__main__":
    main()
