from __future__ import annotations

import csv
import fcntl
import os
from pathlib import Path

import duckdb
import pytest

from popreg.synth.generator import generate

TABLES = ("units", "persons", "households", "events", "sources/hospital_births", "sources/death_notices")


def connect(snapshot: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLES:
        con.execute(f"CREATE VIEW {name.split('/')[-1]} AS SELECT * FROM read_parquet('{snapshot}/{name}.parquet')")
    for name in ("entities", "defects", "source_links"):
        con.execute(
            f"CREATE VIEW truth_{name} AS SELECT * FROM read_csv('{snapshot}/truth/{name}.csv', all_varchar=true, header=true)"
        )
    return con


def read_truth(snapshot: Path, name: str) -> list[dict[str, str]]:
    with (snapshot / "truth" / f"{name}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default county (157,000 people), generated once per test run.

    Under pytest-xdist the workers share one copy (a lock file guards it; the directory
    name carries the run's id so no stale county from an earlier run is ever reused).
    """
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        out = tmp_path_factory.mktemp("county")
        generate(out, seed=20251101, progress=None)
        return out
    shared = tmp_path_factory.getbasetemp().parent / f"synth-county-{run}"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "manifest.json").is_file():
            generate(shared, seed=20251101, progress=None)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return shared


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, seed=5, persons=12_000, progress=None)
    return out
