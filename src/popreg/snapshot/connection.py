"""One way to query a snapshot: ``connect(snapshot_dir, engine="duckdb" | "spark")``.

Statistics, dashboards, anomaly rules, field lists and the linkage engine all read
snapshots through a :class:`SnapshotConnection`; the engine is a choice, not a rewrite::

    with connect("var/demo-county") as con:          # DuckDB, in-process
        con.view("persons")                           # the snapshot table as a view
        con.view("sources/death_notices", "dn")       # under another name
        con.df("SELECT sex, count(*) FROM persons GROUP BY ALL")

    con = connect("var/demo-county", engine="spark")  # the same SQL on local Spark

Both engines speak the SQL dialect shared by DuckDB and Spark SQL 3.4+ (``GROUP BY ALL``,
``FILTER (WHERE ...)``, named windows); :meth:`SnapshotConnection.idiv` writes the one
construct that differs (integer division).  ``native`` is the engine's own object (a
``duckdb.DuckDBPyConnection`` or a ``SparkSession``) for what only one engine has
(DuckDB user functions, Splink's database APIs).

A DuckDB connection is limited to a share of the machine's memory (``DUCKDB_MEMORY_SHARE``)
and spills to a private temporary directory beyond it, removed with the connection: the
processes that use it also hold pandas frames and Arrow tables of their own, so DuckDB's
default (80 % of memory) could outgrow the machine on a large county.  Results do not
depend on it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

import pandas as pd
import pyarrow as pa

from popreg.snapshot.format import SnapshotError, table_path

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")

#: DuckDB's memory limit: this share of the machine's memory, at least the minimum.
DUCKDB_MEMORY_SHARE = 0.25
DUCKDB_MIN_MEMORY_MB = 1024


@runtime_checkable
class SnapshotConnection(Protocol):
    """What every engine offers; the SQL itself is shared between them."""

    engine: Engine
    root: Path | None
    native: Any

    def has_table(self, name: str) -> bool:
        """Whether the snapshot holds table ``name`` (``"persons"``, ``"sources/death_notices"``)."""
        ...

    def view(self, name: str, as_name: str | None = None) -> None:
        """Expose snapshot table ``name`` as a view (default name: the part after ``/``)."""
        ...

    def register(self, name: str, data: pa.Table | pd.DataFrame) -> Any:
        """Expose an in-memory table as view ``name``; returns the engine's frame of it."""
        ...

    def create_table(self, name: str, sql: str) -> None:
        """Materialise the result of ``sql`` as temporary table ``name`` (replacing it)."""
        ...

    def arrow(self, sql: str) -> pa.Table:
        ...

    def df(self, sql: str) -> pd.DataFrame:
        """The result as pandas, converted the engine's own way (dates as datetime64)."""
        ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The result as tuples; ``params`` fill ``?`` placeholders."""
        ...

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        ...

    def idiv(self, a: str, b: int) -> str:
        """SQL for the integer quotient ``a // b`` (``a`` an expression, ``b`` positive)."""
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> SnapshotConnection:
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ...


def connect(
    snapshot_dir: str | Path | None = None,
    engine: Engine = "duckdb",
    *,
    tables: Sequence[str] = (),
    spark: Any = None,
    memory_share: float = DUCKDB_MEMORY_SHARE,
) -> SnapshotConnection:
    """A connection over ``snapshot_dir`` (None: no snapshot, in-memory tables only).

    ``tables`` are exposed as views at once (each must exist: :class:`SnapshotError`
    names the missing one).  ``spark``: an existing ``SparkSession`` (default: the local
    one of :mod:`popreg.spark`).  ``memory_share``: DuckDB's share of the machine's memory.
    """
    root = None if snapshot_dir is None else Path(snapshot_dir)
    if root is not None and not root.is_dir():
        raise SnapshotError(f"snapshot directory {root} does not exist")
    con: SnapshotConnection
    if engine == "duckdb":
        con = DuckDBConnection(root, memory_share=memory_share)
    elif engine == "spark":
        con = SparkConnection(root, spark)
    else:
        raise SnapshotError(
            f"不支持的引擎 {engine!r}：可选 duckdb 或 spark / unknown engine {engine!r}: "
            "use duckdb or spark"
        )
    for name in tables:
        con.view(name)
    return con


class _Base:
    """The parts both engines share: snapshot paths and the context manager."""

    engine: Engine
    root: Path | None

    def _path(self, name: str) -> Path:
        if self.root is None:
            raise SnapshotError(f"this connection has no snapshot: cannot read table {name}")
        path = table_path(self.root, name)
        if not path.is_file():
            raise SnapshotError(f"snapshot {self.root} has no table {name} ({path.name})")
        return path

    def has_table(self, name: str) -> bool:
        return self.root is not None and table_path(self.root, name).is_file()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _view_name(name: str, as_name: str | None) -> str:
    return as_name or name.rsplit("/", 1)[-1]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_memory_limit_mb(share: float = DUCKDB_MEMORY_SHARE) -> int:
    """``share`` of the machine's physical memory in MB (at least ``DUCKDB_MIN_MEMORY_MB``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        total = 0
    return max(DUCKDB_MIN_MEMORY_MB, int(total * share) // 2**20)


class DuckDBConnection(_Base):
    """In-process DuckDB over the snapshot's Parquet files (views read them in place)."""

    engine: Engine = "duckdb"

    def __init__(self, root: Path | None, *, memory_share: float = DUCKDB_MEMORY_SHARE) -> None:
        import duckdb

        self.root = root
        self.native: duckdb.DuckDBPyConnection = duckdb.connect()
        spill = tempfile.mkdtemp(prefix="popreg-duckdb-")
        weakref.finalize(self.native, shutil.rmtree, spill, ignore_errors=True)
        self._spill = spill
        self.native.execute(f"SET memory_limit = '{duckdb_memory_limit_mb(memory_share)}MB'")
        self.native.execute(f"SET temp_directory = {_sql_string(spill)}")
        self.native.execute("SET enable_progress_bar = false")

    def view(self, name: str, as_name: str | None = None) -> None:
        path = _sql_string(str(self._path(name)))
        self.native.execute(
            f"CREATE OR REPLACE TEMP VIEW {_view_name(name, as_name)} AS "
            f"SELECT * FROM read_parquet({path})"
        )

    def register(self, name: str, data: pa.Table | pd.DataFrame) -> Any:
        self.native.register(name, data)
        return self.native.table(name)

    def create_table(self, name: str, sql: str) -> None:
        self.native.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def arrow(self, sql: str) -> pa.Table:
        return self.native.sql(sql).to_arrow_table()

    def df(self, sql: str) -> pd.DataFrame:
        return self.native.execute(sql).df()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.native.execute(sql, list(params)).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.native.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    def idiv(self, a: str, b: int) -> str:
        return f"(({a}) // {b})"

    def close(self) -> None:
        self.native.close()
        shutil.rmtree(self._spill, ignore_errors=True)


class SparkConnection(_Base):
    """Spark SQL (pyspark in local mode, or a given ``SparkSession``), for national scale.

    Views are session-wide temporary views; :meth:`create_table` caches its result and
    releases the table it replaces.  Closing releases the cached tables but keeps the
    shared session running (starting Spark costs seconds).
    """

    engine: Engine = "spark"

    def __init__(self, root: Path | None, spark: Any = None) -> None:
        if spark is None:
            try:
                from popreg.spark import local_session

                spark = local_session()
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise SnapshotError(
                    "Spark 引擎需要安装 pyspark 和 Java 17，或使用 duckdb 引擎 / "
                    "the spark engine needs pyspark and Java 17; or use the duckdb engine"
                ) from exc
        self.root = root
        self.native = spark
        self._cached: dict[str, Any] = {}

    def view(self, name: str, as_name: str | None = None) -> None:
        frame = self.native.read.parquet(str(self._path(name)))
        frame.createOrReplaceTempView(_view_name(name, as_name))

    def register(self, name: str, data: pa.Table | pd.DataFrame) -> Any:
        frame = self.frame(data)
        frame.createOrReplaceTempView(name)
        return frame

    def frame(self, data: pa.Table | pd.DataFrame) -> Any:
        """A Spark DataFrame of an in-memory table, registered under no name."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        rows = [tuple(r.values()) for r in table.to_pylist()]
        return self.native.createDataFrame(rows, schema=spark_schema(table.schema))

    def create_table(self, name: str, sql: str) -> None:
        old = self._cached.pop(name, None)
        frame = self.native.sql(sql).cache()
        frame.count()
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame
        if old is not None:
            old.unpersist()

    def arrow(self, sql: str) -> pa.Table:
        return pa.Table.from_pandas(self.df(sql), preserve_index=False)

    def df(self, sql: str) -> pd.DataFrame:
        return self.native.sql(sql).toPandas()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        frame = self.native.sql(sql, args=list(params)) if params else self.native.sql(sql)
        return [tuple(r) for r in frame.collect()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def idiv(self, a: str, b: int) -> str:
        return f"(CAST({a} AS BIGINT) div {b})"

    def close(self) -> None:
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()


def spark_schema(schema: pa.Schema) -> Any:
    """Spark types for an Arrow schema (strings, integers, floats, booleans, string lists)."""
    from pyspark.sql import types as T

    fields = []
    for f in schema:
        if pa.types.is_list(f.type):
            kind: Any = T.ArrayType(T.StringType())
        elif pa.types.is_boolean(f.type):
            kind = T.BooleanType()
        elif pa.types.is_integer(f.type):
            kind = T.LongType()
        elif pa.types.is_floating(f.type):
            kind = T.DoubleType()
        else:
            kind = T.StringType()
        fields.append(T.StructField(f.name, kind, True))
    return T.StructType(fields)
