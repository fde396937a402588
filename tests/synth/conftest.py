from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from popreg.synth.generator import generate

TABLES = ("units", "persons", "households", "events", "sources/hospital_births", "sources/death_notices")


def connect(snapshot: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLES:
        con.execute(f"CREATE VIEW {name.split('/')[-1]} AS SELECT * FROM read_parquet('{snapshot}/{name}.parquet')")
    for name in ("entities", "defects", "source_links", "unrecorded_births"):
        con.execute(
            f"CREATE VIEW truth_{name} AS SELECT * FROM read_csv('{snapshot}/truth/{name}.csv', all_varchar=true, header=true)"
        )
    return con


def read_truth(snapshot: Path, name: str) -> list[dict[str, str]]:
    with (snapshot / "truth" / f"{name}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def county(default_county: Path) -> Path:
    """The default county (157,000 people), generated once per test run (tests/conftest.py)."""
    return default_county


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, seed=5, persons=12_000, progress=None)
    return out
