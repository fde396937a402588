"""The Spark engine runs the same SQL and gives the same tables as DuckDB.

Starting a JVM takes a while, so this runs only with POPREG_TEST_SPARK=1 (and pyspark with
Java 17 installed):  POPREG_TEST_SPARK=1 .venv/bin/pytest tests/stats/test_spark_engine.py
"""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from popreg.stats.indicators import SnapshotIndicators

from .handmade import write_handmade_snapshot

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        os.environ.get("POPREG_TEST_SPARK") != "1" or shutil.which("java") is None,
        reason="set POPREG_TEST_SPARK=1 (needs pyspark and Java 17)",
    ),
]


@pytest.mark.parametrize(("level", "period"), [("county", "quarter"), ("village", "year")])
def test_spark_equals_duckdb(tmp_path, level, period):
    pytest.importorskip("pyspark")
    snap = write_handmade_snapshot(tmp_path / "snap")
    spark_table, spark_pyr = SnapshotIndicators(snap, engine="spark").compute([2024], level, period)
    duck_table, duck_pyr = SnapshotIndicators(snap).compute([2024], level, period)
    pd.testing.assert_frame_equal(spark_table, duck_table, check_dtype=False)
    pd.testing.assert_frame_equal(
        spark_pyr.reset_index(drop=True), duck_pyr.reset_index(drop=True), check_dtype=False
    )
    assert spark_table["births"].sum() == 2
