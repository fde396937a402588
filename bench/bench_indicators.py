"""Benchmark: the full indicator cube on a large synthetic snapshot.

All units (county, townships, villages) × ten years (2015–2024) × all indicators, computed
three ways in the same run on the same snapshot:

1. the engine (``popreg.stats.indicators``: DuckDB SQL + core formulas), the thing measured:
   every column of docs/indicators.md plus the age pyramid of every unit and year;
2. a straightforward pandas computation of the same counts (the baseline);
3. one raw DuckDB query producing the same counts (population at start/end, births by sex,
   deaths, in/out migration per unit and year at all three levels), without the engine's
   pre-aggregation and formula layer.

The three are checked to agree on the contract counts before timings are printed.

    .venv/bin/python bench/bench_indicators.py --persons 1000000
    .venv/bin/python bench/bench_indicators.py --persons 10000000 --skip-pandas
    .venv/bin/python bench/bench_indicators.py --snapshot DIR   # e.g. from popreg synth
    .venv/bin/python bench/bench_indicators.py --persons 1000000 --spark --engine-only

Without ``--snapshot`` it writes a snapshot with its own vectorised generator (10 years of
births, deaths, moves and transfers with consistent event chains); ``--cache DIR`` keeps it
between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from popreg.snapshot.format import write_snapshot
from popreg.stats.indicators import LEVELS, SnapshotIndicators

YEARS = list(range(2015, 2025))
REF = datetime(2025, 11, 1)
HIST_START = date(2015, 1, 1)
EPOCH = np.datetime64("1970-01-01", "D")


def _d(x: date) -> int:
    return (np.datetime64(x, "D") - EPOCH).astype(int)


# ---------------------------------------------------------------------------------------
# Vectorised snapshot generator
# ---------------------------------------------------------------------------------------


def generate(out: Path, persons: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    county = "411000000000"
    n_town, n_vill = 15, 343
    town_codes = [f"411000{t + 1:03d}000" for t in range(n_town)]
    town_of_village = np.sort(rng.integers(0, n_town, n_vill))
    town_of_village[:n_town] = np.arange(n_town)
    town_of_village.sort()
    vill_codes = []
    counters = [0] * n_town
    for t in town_of_village:
        counters[t] += 1
        vill_codes.append(f"{town_codes[t][:9]}{counters[t]:03d}")
    vill = np.array(vill_codes)
    weights = rng.lognormal(0, 0.9, n_vill)
    weights /= weights.sum()

    h0, ref = _d(HIST_START), _d(REF.date())
    span = ref - h0
    n = persons
    kind = rng.choice(3, n, p=[0.86, 0.09, 0.05])  # 0 present at start, 1 born, 2 moved in
    age0 = np.minimum(rng.gamma(2.2, 17.0, n), 100)
    birth = (h0 - age0 * 365.25).astype(np.int64)
    entry = np.full(n, -1, np.int64)
    born = kind == 1
    entry[born] = h0 + rng.integers(0, span, born.sum())
    birth[born] = entry[born]
    moved = kind == 2
    entry[moved] = h0 + rng.integers(0, span, moved.sum())
    unit0 = rng.choice(n_vill, n, p=weights)
    start_ev = np.where(kind == 0, h0, entry)
    # exits: death (older more likely), move out, enlistment
    age_ref = (ref - birth) / 365.25
    p_death = np.clip(0.0004 * np.exp(0.085 * np.maximum(age_ref - 20, 0)), 0, 0.95)
    u = rng.random(n)
    exit_kind = np.where(
        u < p_death,
        1,
        np.where(
            u < p_death + 0.07,
            2,
            np.where((u < p_death + 0.075) & (age_ref > 18) & (age_ref < 30), 3, 0),
        ),
    )
    exit_date = start_ev + (rng.random(n) * (ref - start_ev)).astype(np.int64)
    exit_date = np.maximum(exit_date, start_ev + 1)
    exit_kind[exit_date >= ref] = 0
    # transfers within the county: before the exit (or the reference moment)
    has_tr = rng.random(n) < 0.15
    end_ev = np.where(exit_kind > 0, exit_date, ref)
    tr_date = start_ev + (rng.random(n) * (end_ev - start_ev)).astype(np.int64)
    has_tr &= (tr_date > start_ev) & (tr_date < end_ev)
    unit1 = np.where(has_tr, (unit0 + rng.integers(1, n_vill, n)) % n_vill, unit0)

    sex = np.where(rng.random(n) < 0.512, "M", "F")
    sex = np.where(born, np.where(rng.random(n) < 105 / 205, "M", "F"), sex)
    rtype = rng.choice(
        np.array(["registered", "floating_out", "floating_in", "foreign", "pending"]),
        n,
        p=[0.86, 0.07, 0.05, 0.01, 0.01],
    )
    status = np.select(
        [exit_kind == 1, exit_kind == 2, exit_kind == 3],
        ["deceased", "emigrated", "deregistered"],
        "active",
    )
    # mothers: a woman present at the start aged 20-40 at the child's birth
    women = np.flatnonzero((sex == "F") & (kind == 0))
    wb = birth[women]
    order = np.argsort(wb)
    women, wb = women[order], wb[order]
    mother = np.full(n, -1, np.int64)
    bidx = np.flatnonzero(born)
    lo = np.searchsorted(wb, birth[bidx] - int(40 * 365.25))
    hi = np.searchsorted(wb, birth[bidx] - int(20 * 365.25))
    ok = hi > lo
    pick = lo[ok] + (rng.random(ok.sum()) * (hi[ok] - lo[ok])).astype(np.int64)
    mother[bidx[ok]] = women[pick] + 1
    mother[bidx[ok][rng.random(ok.sum()) < 0.05]] = -1  # mother not in the registry

    pid = np.arange(1, n + 1, dtype=np.int64)
    ev_parts = []

    def add(
        mask: np.ndarray,
        etype: str,
        when: np.ndarray,
        unit: np.ndarray,
        frm: np.ndarray | None,
        to: np.ndarray | None,
        order_key: int,
    ) -> None:
        idx = np.flatnonzero(mask)
        ev_parts.append(
            pd.DataFrame(
                {
                    "person_id": pid[idx],
                    "event_type": etype,
                    "event_date": when[idx],
                    "unit_code": vill[unit[idx]],
                    "from_unit": None if frm is None else frm[idx],
                    "to_unit": None if to is None else to[idx],
                    "_k": order_key,
                }
            )
        )

    elsewhere = np.full(n, "110105001001")
    add(born, "birth", entry, unit0, None, None, 0)
    add(moved, "move_in", entry, unit0, elsewhere, vill[unit0], 0)
    add(has_tr, "transfer", tr_date, unit0, vill[unit0], vill[unit1], 1)
    add(exit_kind == 1, "death", exit_date, unit1, None, None, 2)
    add(exit_kind == 2, "move_out", exit_date, unit1, vill[unit1], elsewhere, 2)
    add(exit_kind == 3, "enlistment", exit_date, unit1, None, None, 2)
    ev = pd.concat(ev_parts, ignore_index=True).sort_values(["event_date", "person_id", "_k"])
    ev["event_id"] = np.arange(1, len(ev) + 1, dtype=np.int64)
    dates = EPOCH + ev["event_date"].to_numpy().astype("timedelta64[D]")

    units = pa.table(
        {
            "unit_code": [county, *town_codes, *vill_codes],
            "name": [
                "基准县",
                *[f"镇{i + 1}" for i in range(n_town)],
                *[f"村{i + 1}" for i in range(n_vill)],
            ],
            "level": ["county"] + ["township"] * n_town + ["village"] * n_vill,
            "parent_code": pa.array(
                [None, *[county] * n_town, *[f"{c[:9]}000" for c in vill_codes]], pa.string()
            ),
            "valid_from": pa.array([date(2000, 1, 1)] * (1 + n_town + n_vill), pa.date32()),
            "valid_to": pa.array([None] * (1 + n_town + n_vill), pa.date32()),
        }
    )
    households = pa.table(
        {
            "household_id": pa.array([], pa.int64()),
            "household_no": pa.array([], pa.string()),
            "unit_code": pa.array([], pa.string()),
            "kind": pa.array([], pa.string()),
            "address": pa.array([], pa.string()),
        }
    )
    reg_unit = vill[unit1]
    persons_t = pa.table(
        {
            "person_id": pid,
            "household_id": pa.nulls(n, pa.int64()),
            "name": pa.array(np.full(n, "某某")),
            "sex": pa.array(sex),
            "birth_date": pa.array((EPOCH + birth.astype("timedelta64[D]")), pa.date32()),
            "id_number": pa.nulls(n, pa.string()),
            "registered_unit": pa.array(reg_unit),
            "residence_unit": pa.array(reg_unit),
            "residence_type": pa.array(rtype),
            "status": pa.array(status),
            "mother_id": pa.array(np.where(mother > 0, mother, 0), pa.int64(), mask=mother <= 0),
        }
    )
    events_t = pa.table(
        {
            "event_id": ev["event_id"].to_numpy(),
            "person_id": ev["person_id"].to_numpy(),
            "event_type": pa.array(ev["event_type"].to_numpy().astype(str)),
            "event_date": pa.array(dates, pa.date32()),
            "recorded_date": pa.array(dates, pa.date32()),
            "unit_code": pa.array(ev["unit_code"].to_numpy().astype(str)),
            "from_unit": pa.array(ev["from_unit"].to_numpy(), pa.string()),
            "to_unit": pa.array(ev["to_unit"].to_numpy(), pa.string()),
        }
    )
    write_snapshot(
        out,
        {"units": units, "households": households, "persons": persons_t, "events": events_t},
        REF,
        {"generator": {"bench": seed, "persons": n}},
    )
    return out


# ---------------------------------------------------------------------------------------
# The three computations
# ---------------------------------------------------------------------------------------

CONTRACT = [
    "population_start",
    "population_end",
    "births",
    "male_births",
    "female_births",
    "deaths",
    "in_migration",
    "out_migration",
]


def run_engine(snap: Path) -> pd.DataFrame:
    """Every indicator column of every unit and year, and the age pyramids (5-year groups by
    sex at the start and end of each year) of every unit, as the dashboards use them."""
    eng = SnapshotIndicators(snap)
    tables, pyramids = [], 0
    for level in LEVELS:
        table, pyramid = eng.compute(YEARS, level, "year", with_pyramid=True)
        tables.append(table)
        pyramids += 0 if pyramid is None else len(pyramid)
    cube = pd.concat(tables, ignore_index=True)
    cube.attrs["pyramid_rows"] = pyramids
    return cube


def run_spark(snap: Path) -> pd.DataFrame:
    """The same cube with the Spark engine (local mode), the session already started."""
    from popreg.spark import local_session

    eng = SnapshotIndicators(snap, engine="spark", spark=local_session())
    return pd.concat(
        [eng.compute(YEARS, level, "year", with_pyramid=True)[0] for level in LEVELS],
        ignore_index=True,
    )


def _lvl(col: str, level: str) -> str:
    return {
        "county": f"substr({col},1,6)||'000000'",
        "township": f"substr({col},1,9)||'000'",
        "village": f"substr({col},1,12)",
    }[level]


def run_raw_duckdb(snap: Path) -> pd.DataFrame:
    """One SQL statement: the same counts, straight from persons and events."""
    p, e = (f"read_parquet('{snap / (t + '.parquet')}')" for t in ("persons", "events"))
    years = ", ".join(str(y) for y in YEARS)
    parts = []
    for level in LEVELS:
        b, a, u = _lvl("before_u", level), _lvl("after_u", level), _lvl("unit", level)
        parts.append(f"""
        pop_{level} AS (
            SELECT '{level}' AS level, y.year, {u} AS unit_code,
                   count(*) FILTER ((lo IS NULL OR lo < make_date(y.year, 1, 1))
                                    AND (hi IS NULL OR make_date(y.year, 1, 1) <= hi)) AS population_start,
                   count(*) FILTER ((lo IS NULL OR lo < make_date(y.year + 1, 1, 1))
                                    AND (hi IS NULL OR make_date(y.year + 1, 1, 1) <= hi)) AS population_end
            FROM seg, years y GROUP BY ALL),
        in_{level} AS (
            SELECT '{level}' AS level, year(event_date) AS year, {a} AS unit_code,
                   count(*) FILTER (event_type = 'birth') AS births,
                   count(*) FILTER (event_type = 'birth' AND sex = 'M') AS male_births,
                   count(*) FILTER (event_type = 'birth' AND sex = 'F') AS female_births,
                   count(*) FILTER (event_type IN ('move_in', 'transfer')) AS in_migration
            FROM ev WHERE after_u IS NOT NULL AND (before_u IS NULL OR {a} <> {b}) GROUP BY ALL),
        out_{level} AS (
            SELECT '{level}' AS level, year(event_date) AS year, {b} AS unit_code,
                   count(*) FILTER (event_type = 'death') AS deaths,
                   count(*) FILTER (event_type IN ('move_out', 'transfer')) AS out_migration
            FROM ev WHERE before_u IS NOT NULL AND (after_u IS NULL OR {a} <> {b}) GROUP BY ALL)""")
    union = " UNION ALL ".join(
        f"SELECT * FROM pop_{lv} LEFT JOIN in_{lv} USING (level, year, unit_code) "
        f"LEFT JOIN out_{lv} USING (level, year, unit_code)"
        for lv in LEVELS
    )
    sql = f"""
    WITH years AS (SELECT unnest([{years}]) AS year),
    scope AS (SELECT person_id, sex, CASE WHEN status = 'active' THEN registered_unit END AS unit_now
              FROM {p} WHERE residence_type IN ('registered', 'floating_out')),
    ev AS (SELECT e.person_id, e.event_id, e.event_type, e.event_date, s.sex,
              CASE WHEN e.event_type IN ('death', 'enlistment') THEN e.unit_code
                   WHEN e.event_type IN ('move_out', 'transfer')
                   THEN coalesce(e.from_unit, e.unit_code) END AS before_u,
              CASE WHEN e.event_type IN ('birth', 'discharge') THEN e.unit_code
                   WHEN e.event_type IN ('move_in', 'transfer')
                   THEN coalesce(e.to_unit, e.unit_code) END AS after_u
           FROM {e} e JOIN scope s USING (person_id)
           WHERE e.event_type IN ('birth', 'death', 'move_in', 'move_out', 'transfer',
                                  'enlistment', 'discharge')),
    o AS (SELECT *, lag(event_date) OVER w AS lo,
                 row_number() OVER (PARTITION BY person_id ORDER BY event_date DESC, event_id DESC) AS rn
          FROM ev WINDOW w AS (PARTITION BY person_id ORDER BY event_date, event_id)),
    seg AS (SELECT lo, event_date AS hi, before_u AS unit FROM o WHERE before_u IS NOT NULL
            UNION ALL
            SELECT l.event_date, NULL, s.unit_now FROM scope s
            LEFT JOIN (SELECT person_id, event_date FROM o WHERE rn = 1) l USING (person_id)
            WHERE s.unit_now IS NOT NULL),
    {",".join(parts)}
    SELECT * FROM ({union}) WHERE year BETWEEN {YEARS[0]} AND {YEARS[-1]}
    """
    df = duckdb.connect().execute(sql).df()
    return df.fillna(0)


def run_pandas(snap: Path) -> pd.DataFrame:
    """The straightforward way: for each year boundary, undo later events person by person
    (vectorised per boundary), then group."""
    persons = pd.read_parquet(
        snap / "persons.parquet",
        columns=["person_id", "sex", "registered_unit", "residence_type", "status"],
    )
    persons = persons[persons["residence_type"].isin(["registered", "floating_out"])]
    ev = pd.read_parquet(snap / "events.parquet")
    ev = ev[
        ev["event_type"].isin(
            ["birth", "death", "move_in", "move_out", "transfer", "enlistment", "discharge"]
        )
    ]
    ev = ev.merge(persons[["person_id", "sex"]], on="person_id")
    et = ev["event_type"]
    ev["before_u"] = np.where(
        et.isin(["death", "enlistment"]),
        ev["unit_code"],
        np.where(et.isin(["move_out", "transfer"]), ev["from_unit"].fillna(ev["unit_code"]), None),
    )
    ev["after_u"] = np.where(
        et.isin(["birth", "discharge"]),
        ev["unit_code"],
        np.where(et.isin(["move_in", "transfer"]), ev["to_unit"].fillna(ev["unit_code"]), None),
    )
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    ev = ev.sort_values(["person_id", "event_date", "event_id"])
    now = persons.set_index("person_id")
    now_unit = now["registered_unit"].where(now["status"] == "active")
    pop: dict[pd.Timestamp, pd.Series] = {}
    for y in [*YEARS, YEARS[-1] + 1]:
        t = pd.Timestamp(y, 1, 1)
        first = ev[ev["event_date"] >= t].groupby("person_id", sort=False).head(1)
        unit = now_unit.copy()
        unit.loc[first["person_id"].to_numpy()] = first["before_u"].to_numpy()
        pop[t] = unit.dropna()
    ev["year"] = ev["event_date"].dt.year
    out = []
    for level in LEVELS:

        def lv(s: pd.Series, level: str = level) -> pd.Series:
            s = s.astype("string")
            if level == "county":
                return s.str[:6] + "000000"
            if level == "township":
                return s.str[:9] + "000"
            return s.str[:12]

        b, a = lv(ev["before_u"]), lv(ev["after_u"])
        moved = a.fillna("-") != b.fillna("-")
        for y in YEARS:
            ps = lv(pop[pd.Timestamp(y, 1, 1)]).value_counts()
            pe = lv(pop[pd.Timestamp(y + 1, 1, 1)]).value_counts()
            m = (ev["year"] == y) & moved
            ins, outs = ev[m & a.notna()], ev[m & b.notna()]
            ia, ob = a[m & a.notna()], b[m & b.notna()]
            t = pd.DataFrame({"population_start": ps, "population_end": pe})
            t["births"] = ia[ins["event_type"] == "birth"].value_counts()
            t["male_births"] = ia[
                (ins["event_type"] == "birth") & (ins["sex"] == "M")
            ].value_counts()
            t["female_births"] = ia[
                (ins["event_type"] == "birth") & (ins["sex"] == "F")
            ].value_counts()
            t["deaths"] = ob[outs["event_type"] == "death"].value_counts()
            t["in_migration"] = ia[ins["event_type"].isin(["move_in", "transfer"])].value_counts()
            t["out_migration"] = ob[
                outs["event_type"].isin(["move_out", "transfer"])
            ].value_counts()
            t = t.fillna(0).astype("int64")
            t["cbr"] = t["births"] / ((t["population_start"] + t["population_end"]) / 2) * 1000
            t["cdr"] = t["deaths"] / ((t["population_start"] + t["population_end"]) / 2) * 1000
            t["srb"] = t["male_births"] / t["female_births"].replace(0, np.nan) * 100
            t.index.name = "unit_code"
            out.append(t.reset_index().assign(level=level, year=y))
    return pd.concat(out, ignore_index=True)


def _key(df: pd.DataFrame, year_col: str) -> pd.DataFrame:
    d = df.copy()
    d["year"] = d[year_col].astype(int)
    return d.set_index(["level", "year", "unit_code"])[CONTRACT].astype("int64").sort_index()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--snapshot", type=Path, help="use this snapshot instead of generating one")
    ap.add_argument("--cache", type=Path, help="keep the generated snapshot here")
    ap.add_argument("--skip-pandas", action="store_true", help="skip the (slow) pandas baseline")
    ap.add_argument(
        "--engine-only", action="store_true", help="time the engine alone (no baselines, no ratios)"
    )
    ap.add_argument("--repeat", type=int, default=1, help="best of N for the DuckDB timings")
    ap.add_argument(
        "--years",
        default=f"{YEARS[0]}-{YEARS[-1]}",
        help="calendar years of the cube, FIRST-LAST (a popreg synth snapshot taken at "
        "2025-11-01 has full years 2016-2024)",
    )
    ap.add_argument(
        "--spark",
        action="store_true",
        help="also time the Spark engine (local mode; the JVM start is timed apart)",
    )
    args = ap.parse_args()
    first, _, last = args.years.partition("-")
    YEARS[:] = list(range(int(first), int(last or first) + 1))

    tmp = None
    if args.snapshot:
        snap = args.snapshot
    else:
        snap = args.cache or Path(tempfile.mkdtemp(prefix="bench-ind-")) / "snap"
        tmp = None if args.cache else snap.parent
        if not (snap / "manifest.json").is_file():
            t0 = time.perf_counter()
            generate(snap, args.persons)
            print(
                f"generated {args.persons:,} persons in {time.perf_counter() - t0:.1f} s -> {snap}"
            )
    rows = pd.read_parquet(snap / "events.parquet", columns=["event_id"]).shape[0]
    persons = pd.read_parquet(snap / "persons.parquet", columns=["person_id"]).shape[0]
    print(f"snapshot: {snap}  persons: {persons:,}  events: {rows:,}  years {YEARS[0]}-{YEARS[-1]}")

    cpu: dict[str, float] = {}

    def timed(fn):  # type: ignore[no-untyped-def]
        best, res = float("inf"), None
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            res = fn(snap)
            wall = time.perf_counter() - t0
            if wall < best:
                best, cpu[fn.__name__] = wall, time.process_time() - c0
        return best, res

    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    print(
        f"machine: {os.cpu_count()} CPUs, load average before the run {load} "
        "(wall time is shared with whatever else runs; CPU time is this process's)"
    )
    t_eng, eng = timed(run_engine)
    print(
        f"engine (DuckDB + core formulas), all levels × {len(YEARS)} years: {t_eng:7.2f} s wall, "
        f"{cpu['run_engine']:7.2f} s CPU  ({len(eng):,} rows × {eng.shape[1]} columns, "
        f"{eng.attrs['pyramid_rows']:,} pyramid rows)"
    )
    if args.spark:
        from popreg.spark import local_session

        t0 = time.perf_counter()
        local_session()
        print(
            f"Spark session start (JVM, not in the timings):            {time.perf_counter() - t0:7.2f} s"
        )
        t_sp, sp = timed(run_spark)
        print(
            f"Spark engine, same cube:                                {t_sp:7.2f} s wall "
            f"(driver CPU {cpu['run_spark']:.2f} s; executors run in the JVM)"
        )
        assert _key(sp, "period").equals(_key(eng, "period")), "Spark and DuckDB disagree"
        print(f"ratio Spark / DuckDB engine: {t_sp / t_eng:.1f}")
    if args.engine_only:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    t_raw, raw = timed(run_raw_duckdb)
    print(
        f"single raw DuckDB query (contract counts only):          {t_raw:7.2f} s wall, "
        f"{cpu['run_raw_duckdb']:7.2f} s CPU"
    )
    assert _key(eng, "period").equals(_key(raw, "year")), "engine and raw query disagree"
    if not args.skip_pandas:
        t0, c0 = time.perf_counter(), time.process_time()
        pdf = run_pandas(snap)
        t_pd = time.perf_counter() - t0
        cpu["run_pandas"] = time.process_time() - c0
        print(
            f"straightforward pandas:                                 {t_pd:7.2f} s wall, "
            f"{time.process_time() - c0:7.2f} s CPU"
        )
        assert _key(eng, "period").equals(_key(pdf, "year")), "engine and pandas disagree"
        print(f"ratio engine / pandas: {t_eng / t_pd:.3f}  (pandas / engine: {t_pd / t_eng:.1f}×)")
    print(f"ratio engine / raw DuckDB query: {t_eng / t_raw:.2f}")
    print(
        "CPU-time ratios: engine / raw DuckDB "
        f"{cpu['run_engine'] / cpu['run_raw_duckdb']:.2f}"
        + (
            f", engine / pandas {cpu['run_engine'] / cpu['run_pandas']:.3f}"
            if "run_pandas" in cpu
            else ""
        )
    )
    print("counts agree across the computations: yes")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
