"""The SQL engines of the indicator engine (:mod:`popreg.stats.indicators`): DuckDB (the
default) and Spark run the same SQL; only the connection, integer division and how a
result table is kept differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from popreg.snapshot import format as snapfmt
from popreg.stats._indicator_defs import IndicatorError


class _Backend:
    """What the engine needs from a SQL engine; the SQL itself is shared.

    The definitions use the dialect common to DuckDB and Spark SQL 3.4+ (``GROUP BY ALL``,
    ``FILTER (WHERE ...)``, ``CAST``, named windows); only integer division differs.
    """

    def idiv(self, a: str, b: int) -> str:
        raise NotImplementedError

    def table(self, name: str, sql: str) -> None:
        raise NotImplementedError

    def values(self, name: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        def lit(v: Any) -> str:
            return "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(int(v))

        body = ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)
        self.table(name, f"SELECT * FROM (VALUES {body}) AS t({', '.join(columns)})")

    def df(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def long_df(self, sql: str) -> pd.DataFrame:
        """A long result (text and non-null integer columns only)."""
        return self.df(sql)

    def scalar(self, sql: str) -> Any:
        frame = self.df(sql)
        return None if frame.empty else frame.iloc[0, 0]


class _DuckDBBackend(_Backend):
    def __init__(self, root: Path, con: duckdb.DuckDBPyConnection | None) -> None:
        self.con = con or duckdb.connect()
        for name in ("persons", "events", "units"):
            path = str(snapfmt.table_path(root, name)).replace("'", "''")
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name}_src AS SELECT * FROM read_parquet('{path}')"
            )

    def idiv(self, a: str, b: int) -> str:
        return f"(({a}) // {b})"

    def table(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def long_df(self, sql: str) -> pd.DataFrame:
        # Through Arrow: several times faster than .df() for millions of string rows (the
        # village pyramids of a province); same dtypes for text and non-null integers.
        return self.con.sql(sql).to_arrow_table().to_pandas()

    def scalar(self, sql: str) -> Any:
        row = self.con.execute(sql).fetchone()
        return row[0] if row else None


class _SparkBackend(_Backend):
    """Spark SQL (``pyspark``, Java 17): the same definitions, for national-scale data."""

    def __init__(self, root: Path, spark: Any) -> None:
        if spark is None:
            try:
                from popreg.spark import local_session

                spark = local_session()
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise IndicatorError(
                    "Spark 引擎需要安装 pyspark 和 Java 17 / the spark engine needs pyspark and Java 17"
                ) from exc
        self.spark = spark
        self._cached: dict[str, Any] = {}
        for name in ("persons", "events", "units"):
            self.spark.read.parquet(str(snapfmt.table_path(root, name))).createOrReplaceTempView(
                f"{name}_src"
            )

    def idiv(self, a: str, b: int) -> str:
        return f"(CAST({a} AS BIGINT) div {b})"

    def table(self, name: str, sql: str) -> None:
        old = self._cached.pop(name, None)
        frame = self.spark.sql(sql).cache()
        frame.count()
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame
        if old is not None:
            old.unpersist()

    def df(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(sql).toPandas()
