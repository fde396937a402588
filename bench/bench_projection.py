"""Benchmark of the registry-driven projection: every village of a large snapshot.

Run by hand (never in the test suite):

    .venv/bin/python bench/bench_projection.py                       # synth 10,000,000 persons
    .venv/bin/python bench/bench_projection.py --snapshot var/big    # an existing snapshot
    .venv/bin/python bench/bench_projection.py --persons 1000000 --baseline-villages 5

The snapshot is ``--snapshot DIR`` when given; with ``--replicate N`` it is the default
synthetic county (``popreg synth``, seed 20251101, 156,684 registered in 343 villages)
replicated N times inside one county: copy r gets its own township codes (the 15
townships renumbered 1 + 15·r + j, so villages keep their three digits), person, event and
household ids shifted by a per-copy offset, and every county-internal unit code in persons
and events (registered and residence unit, event unit, origin and destination) mapped to
the copy's; codes outside the county are kept. 64 copies: about 10,030,000 registered
people in 21,952 villages, with the same ages, events and rates in every copy (a
benchmark of size, not of variety). Otherwise ``popreg synth --persons`` generates one
(``--persons``, default 10,000,000; slow on a shared machine).

Two ways to project every village from 1 January ``--base-year`` for ``--years`` years
under one scenario, each in a fresh child process so that its peak memory
(``ru_maxrss``) is its own:

* **batched** (what the planning app does, :func:`popreg.planning.forecast.forecast_level`):
  one pass over the snapshot for all villages (and one for the county's schedules), then
  the single-year projection of each village;
* **baseline**: the straightforward loop, :func:`popreg.planning.forecast.forecast` called
  once per village (each call reads the snapshot for the county and for that village).
  It is measured on ``--baseline-villages`` villages spread over the county; its time for
  every village is that per-village time multiplied by the number of villages (printed as
  such: an extrapolation of a measured time, not a measured total).

Both project the same villages the same way (the baseline's small villages borrow the
county's schedules too); the printed check compares their horizon totals on the sampled
villages.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from popreg.planning.events import open_snapshot, unit_codes
from popreg.planning.forecast import forecast, forecast_level
from popreg.planning.scenarios import default_scenario

snap, mode, base_year, years, scenario, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
sc = default_scenario(scenario)
t = time.perf_counter()
with open_snapshot(snap) as con:
    villages = unit_codes(con, "village")
    if mode == "batched":
        out = forecast_level(con, "village", base_year, years, sc)
        sample = [villages[i * len(villages) // k] for i in range(k)]
        totals = {c: out[c].totals()[-1] for c in sample if c in out}
        n = len(out)
        persons = float(sum(f.totals()[0] for f in out.values()))
    else:
        sample = [villages[i * len(villages) // k] for i in range(k)]
        totals = {c: forecast(con, c, base_year, years, [sc])[0].totals()[-1] for c in sample}
        n = len(sample)
        persons = 0.0
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "units": n, "villages": len(villages), "totals": totals, "base_population": persons}))
"""


def child(snapshot: Path, mode: str, args: argparse.Namespace) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(snapshot), mode, str(args.base_year), str(args.years), args.scenario,
         str(args.baseline_villages)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    return json.loads(out)


def replicate(base: Path, out: Path, copies: int) -> None:
    """Write ``copies`` copies of snapshot ``base`` as one county under ``out`` (docstring)."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for t in ("units", "persons", "events", "households"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{base / (t + '.parquet')}')")
    county = con.execute("SELECT unit_code FROM units WHERE level = 'county'").fetchone()[0]
    prefix = county[:6]
    towns = [r[0][6:9] for r in con.execute(
        "SELECT unit_code FROM units WHERE level = 'township' ORDER BY unit_code").fetchall()]
    if copies * len(towns) > 998:
        raise SystemExit(f"at most {998 // len(towns)} copies (three-digit township codes)")
    j = "CASE substr({c}, 7, 3) " + " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(towns)) + " END"

    def mapped(col: str) -> str:
        jj = j.format(c=col)
        return (f"CASE WHEN {col} LIKE '{prefix}%' AND ({jj}) IS NOT NULL THEN '{prefix}' || "
                f"lpad(CAST(1 + r * {len(towns)} + ({jj}) AS VARCHAR), 3, '0') || substr({col}, 10) ELSE {col} END")

    p_off = con.execute("SELECT max(person_id) + 1 FROM persons").fetchone()[0]
    e_off = con.execute("SELECT max(event_id) + 1 FROM events").fetchone()[0]
    h_off = con.execute("SELECT max(household_id) + 1 FROM households").fetchone()[0]
    con.execute(f"CREATE TABLE reps AS SELECT range AS r FROM range({copies})")
    con.execute(f"""COPY (
        SELECT * EXCLUDE (r) REPLACE (person_id + r * {p_off} AS person_id, household_id + r * {h_off} AS household_id,
                          mother_id + r * {p_off} AS mother_id, father_id + r * {p_off} AS father_id,
                          {mapped('registered_unit')} AS registered_unit, {mapped('residence_unit')} AS residence_unit)
        FROM persons, reps ORDER BY r, person_id) TO '{out / 'persons.parquet'}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT * EXCLUDE (r) REPLACE (event_id + r * {e_off} AS event_id, person_id + r * {p_off} AS person_id,
                          {mapped('unit_code')} AS unit_code, {mapped('from_unit')} AS from_unit,
                          {mapped('to_unit')} AS to_unit)
        FROM events, reps ORDER BY r, event_id) TO '{out / 'events.parquet'}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT * FROM units WHERE level = 'county'
        UNION ALL
        SELECT * EXCLUDE (r) REPLACE ({mapped('unit_code')} AS unit_code, {mapped('parent_code')} AS parent_code)
        FROM units, reps WHERE level <> 'county') TO '{out / 'units.parquet'}' (FORMAT parquet)""")
    manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    counts = {t: con.execute(f"SELECT count(*) FROM read_parquet('{out / (t + '.parquet')}')").fetchone()[0]
              for t in ("persons", "events", "units")}
    manifest["row_counts"] = counts
    manifest["tables"] = {t: {"file": f"{t}.parquet", "rows": n} for t, n in counts.items()}
    manifest["checksums"] = {}
    manifest["generator"] = {"bench_projection": f"default county replicated {copies} times"}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, help="an existing snapshot (default: generate one)")
    ap.add_argument("--persons", type=int, default=10_000_000, help="persons of the generated snapshot")
    ap.add_argument("--base-year", type=int, default=2026)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--scenario", default="medium")
    ap.add_argument("--baseline-villages", type=int, default=3)
    ap.add_argument("--replicate", type=int, default=0, help="copies of the default county (64: 10 million)")
    ap.add_argument("--keep", type=Path, help="write the generated snapshot here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
        snap = args.snapshot
        if snap is None and args.replicate:
            from popreg.synth.generator import generate

            base = Path(tmp) / "base"
            generate(base, seed=20251101, progress=None)
            snap = args.keep or Path(tmp) / "county"
            t = time.perf_counter()
            replicate(base, snap, args.replicate)
            print(f"replicated the default county {args.replicate} times in {time.perf_counter() - t:.0f} s")
        elif snap is None:
            from popreg.synth.generator import generate

            snap = Path(tmp) / "county"
            t = time.perf_counter()
            generate(snap, seed=20251101, persons=args.persons, progress=None)
            print(f"synth: {args.persons:,} persons generated in {time.perf_counter() - t:.0f} s")
        manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
        rows = manifest["row_counts"]
        print(f"snapshot: {rows['persons']:,} person records, {rows['events']:,} events, "
              f"reference moment {manifest['reference_moment']}")
        batched = child(snap, "batched", args)
        baseline = child(snap, "baseline", args)
    n = batched["villages"]
    per_batched = batched["seconds"] / batched["units"]
    per_base = baseline["seconds"] / baseline["units"]
    print(f"villages: {n:,} (projected: {batched['units']:,}); registered at the base: "
          f"{batched['base_population']:,.0f}; {args.years} years, scenario {args.scenario}")
    print(f"{'':<34}{'wall s':>10}{'s/village':>12}{'peak MB':>10}")
    print(f"{'batched, every village (measured)':<34}{batched['seconds']:>10.1f}{per_batched:>12.4f}"
          f"{batched['maxrss_mb']:>10.0f}")
    print(f"{'baseline, ' + str(baseline['units']) + ' villages (measured)':<34}{baseline['seconds']:>10.1f}"
          f"{per_base:>12.4f}{baseline['maxrss_mb']:>10.0f}")
    print(f"{'baseline, every village (extrap.)':<34}{per_base * n:>10.0f}{per_base:>12.4f}{'':>10}")
    print(f"ratio baseline/batched per village: {per_base / per_batched:.1f}x")
    worst = max((abs(batched["totals"][c] - v) / max(v, 1.0) for c, v in baseline["totals"].items()
                 if c in batched["totals"]), default=0.0)
    print(f"check: horizon totals of the sampled villages, largest relative difference {worst:.2e}")


if __name__ == "__main__":
    main()
