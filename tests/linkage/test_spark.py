"""The same model on Spark (local mode) gives the same pairs and clusters as on DuckDB."""

from __future__ import annotations

import shutil

import pytest

from popreg.linkage.engine import dedupe
from popreg.linkage.testdata import generate_records

pytestmark = pytest.mark.spark


def test_spark_matches_duckdb() -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    records = generate_records(300, seed=13).drop(columns=["entity_id", "errors"])
    on_duckdb = dedupe(records)
    on_spark = dedupe(records, engine="spark")
    merged = on_duckdb.pairs.merge(
        on_spark.pairs, on=["record_id_l", "record_id_r"], how="outer", suffixes=("_d", "_s")
    )
    assert len(merged) == len(on_duckdb.pairs) == len(on_spark.pairs) > 0
    assert (merged["match_probability_d"] - merged["match_probability_s"]).abs().max() < 1e-6
    assert (merged["id_number_level_d"] == merged["id_number_level_s"]).all()
    assert list(on_duckdb.clusters["cluster_id"]) == list(on_spark.clusters["cluster_id"])
