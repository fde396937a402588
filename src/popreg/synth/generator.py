"""Generate a synthetic county snapshot (format v1), township by township.

>>> generate("var/county", seed=20251101)            # the default county, ~157,000 people
>>> generate("var/big", seed=1, persons=10_000_000)   # streams; stays well under 4 GB

Each township is simulated on its own and written at once (Parquet row groups through
``pyarrow.parquet.ParquetWriter``, truth CSV rows appended), so memory does not grow with
the county.  Everything random comes from ``numpy.random.SeedSequence([seed, ...])``: the
same seed and parameters give byte-identical files.

If a township's villages do not end in their size class (under 100, 100–199, 200 and
more registered people), the township is drawn again with the next sub-seed; this keeps the
county's village size distribution exact.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from popreg.snapshot.format import (
    REQUIRED_COLUMNS,
    SnapshotError,
    table_path,
    write_manifest,
    write_table,
)
from popreg.synth import endstate, ids
from popreg.synth.output import (
    BIRTH_SCHEMA,
    DEATH_SCHEMA,
    EVENT_SCHEMA,
    HOUSEHOLD_SCHEMA,
    PERSON_SCHEMA,
    Counters,
    build,
    registered_counts,
)
from popreg.synth.plan import DEFAULT_PERSONS, CountyPlan, TownshipPlan, build_plan
from popreg.synth.township import Township

DEFAULT_REFERENCE = datetime(2025, 11, 1)
ROW_GROUP = 256_000
MAX_ATTEMPTS = 30
GENERATOR_VERSION = 1


class _Writer:
    """Buffers tables and writes them as large row groups of one Parquet file."""

    def __init__(self, root: Path, name: str, schema: pa.Schema) -> None:
        missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in schema.names]
        if missing:
            raise SnapshotError(f"table {name} lacks required columns: {', '.join(missing)}")
        path = table_path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True, store_schema=True)
        self.buffer: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.buffer.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.concat_tables(self.buffer), row_group_size=ROW_GROUP)
        self.buffer, self.rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _outside_code_factory(exclude: str, also: frozenset[str] = frozenset()) -> Callable[[np.random.Generator, int], np.ndarray]:
    pool = np.array([c for c in ids._codes_by_year()[2020] if c != exclude and c not in also], dtype=object)

    def outside(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.array([c + "000000" for c in pool[rng.integers(0, len(pool), n)]], dtype=object)

    return outside


def units_table(plan: CountyPlan) -> pa.Table:
    since = date(2001, 1, 1)
    rows: list[tuple[str, str, str, str | None, str | None]] = [
        (f"{plan.code}000000", plan.name, "county", None, "rural")
    ]
    for t in plan.townships:
        rows.append((t.code, t.name, "township", f"{plan.code}000000", "urban" if t.seat else "rural"))
        for v in t.villages:
            rows.append((v.code, v.name, "village", t.code, "urban" if v.urban else "rural"))
    code, name, level, parent, ur = zip(*rows, strict=True)
    n = len(rows)
    return pa.table({
        "unit_code": pa.array(code, pa.string()),
        "name": pa.array(name, pa.string()),
        "level": pa.array(level, pa.string()),
        "parent_code": pa.array(parent, pa.string()),
        "valid_from": pa.array([since] * n, pa.date32()),
        "valid_to": pa.array([None] * n, pa.date32()),
        "urban_rural": pa.array(ur, pa.string()),
        "successor_code": pa.array([None] * n, pa.string()),
    })


def _classes_hold(t: Township) -> bool:
    counts = registered_counts(t)
    cls = np.array([v.size_class for v in t.plan.villages])
    want = np.where(cls == 0, counts < 100, np.where(cls == 1, (counts >= 100) & (counts < 200), counts >= 200))
    return bool(want.all())


def simulate_township(plan: TownshipPlan, seed: int, start: date, reference: date,
                      outside: Callable[[np.random.Generator, int], np.ndarray],
                      stream: tuple[int, ...] = ()) -> Township:
    for attempt in range(MAX_ATTEMPTS):
        t = Township(plan, start, reference, np.random.SeedSequence([seed, 1, plan.index, attempt, *stream]), outside)
        t.initial_population()
        for y in range(10):
            t.year(y)
        endstate.finish(t)
        if _classes_hold(t):
            return t
    raise RuntimeError(f"township {plan.name}: village sizes left their class {MAX_ATTEMPTS} times")


@dataclass(frozen=True)
class County:
    """Which county to generate when it is not the default one (multi-county runs).

    ``stream`` is appended to every random seed so that each county draws its own people;
    ``excluded`` are the sibling counties' codes, from which no outside origin or destination
    is drawn (the people shared between siblings are placed by ``popreg.synth.counties``).
    """

    code: str
    name: str
    stream: tuple[int, ...]
    excluded: frozenset[str]


def generate(out_dir: str | Path, seed: int, persons: int | None = None,
             reference: datetime = DEFAULT_REFERENCE, progress: TextIO | None = sys.stderr,
             county: County | None = None) -> dict[str, Any]:
    """Write a synthetic county snapshot to ``out_dir``; returns the manifest."""
    root = Path(out_dir)
    n_persons = DEFAULT_PERSONS if persons is None else int(persons)
    if n_persons < 1000:
        raise ValueError(f"--persons {n_persons}: 至少 1000 人 / at least 1000 persons")
    ref_day = reference.date()
    start = date(ref_day.year - 10, ref_day.month, min(ref_day.day, 28 if ref_day.month == 2 else 31))
    if county is None:
        stream: tuple[int, ...] = ()
        plan = build_plan(n_persons, np.random.default_rng(np.random.SeedSequence([seed, 0])))
    else:
        stream = county.stream
        plan = build_plan(n_persons, np.random.default_rng(np.random.SeedSequence([seed, 0, *stream])),
                          code=county.code, county_name=county.name, excluded=county.excluded)
    root.mkdir(parents=True, exist_ok=True)
    (root / "truth").mkdir(exist_ok=True)
    write_table(root, "units", units_table(plan))
    writers = {
        "persons": _Writer(root, "persons", PERSON_SCHEMA),
        "households": _Writer(root, "households", HOUSEHOLD_SCHEMA),
        "events": _Writer(root, "events", EVENT_SCHEMA),
        "sources/hospital_births": _Writer(root, "sources/hospital_births", BIRTH_SCHEMA),
        "sources/death_notices": _Writer(root, "sources/death_notices", DEATH_SCHEMA),
    }
    truth_files = {k: (root / "truth" / f"{k}.csv").open("w", encoding="utf-8", newline="")
                   for k in ("entities", "defects", "source_links", "unrecorded_births")}
    truth = {k: csv.writer(f, lineterminator="\n") for k, f in truth_files.items()}
    truth["entities"].writerow(("person_id", "entity_id"))
    truth["defects"].writerow(("record_id", "source", "defect_type"))
    truth["source_links"].writerow(("source", "record_id", "person_id"))
    truth["unrecorded_births"].writerow(("birth_date", "village_code", "sex", "mother_id"))
    outside = _outside_code_factory(plan.code, county.excluded if county else frozenset())
    counters = Counters()
    began = time.monotonic()
    try:
        for t_plan in plan.townships:
            t = simulate_township(t_plan, seed, start, ref_day, outside, stream)
            rows = build(t, plan.name, counters)
            writers["persons"].add(rows.persons)
            writers["households"].add(rows.households)
            writers["events"].add(rows.events)
            writers["sources/hospital_births"].add(rows.hospital_births)
            writers["sources/death_notices"].add(rows.death_notices)
            truth["entities"].writerows(rows.entities)
            truth["defects"].writerows(rows.defects)
            truth["source_links"].writerows(rows.links)
            truth["unrecorded_births"].writerows(rows.unrecorded_births)
            del t, rows
            if progress is not None:
                done = t_plan.index + 1
                progress.write(
                    f"synth: 乡镇 township {done}/{len(plan.townships)} {t_plan.name}, "
                    f"{counters.person - 1:,} records, {time.monotonic() - began:.1f} s\n"
                )
                progress.flush()
    finally:
        for w in writers.values():
            w.close()
        for f in truth_files.values():
            f.close()
    params = {"persons": n_persons, "reference_moment": reference.replace(microsecond=0).isoformat(),
              "start": start.isoformat(), "townships": len(plan.townships),
              "villages": sum(len(t.villages) for t in plan.townships), "county_code": plan.code}
    return write_manifest(root, reference, {"generator": {"name": "synth", "version": GENERATOR_VERSION,
                                                          "seed": seed, "parameters": params}})
