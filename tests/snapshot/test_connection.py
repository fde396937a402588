"""popreg.snapshot.connect: the same SQL over a snapshot on DuckDB and on Spark.

The Spark cases start a JVM, so they run only with POPREG_TEST_SPARK=1 (pyspark, Java 17).
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pytest

from popreg.snapshot import SnapshotConnection, SnapshotError, connect, write_snapshot
from popreg.snapshot.connection import DUCKDB_MIN_MEMORY_MB
from popreg.snapshot.format import REQUIRED_COLUMNS

SPARK = pytest.param(
    "spark",
    marks=[
        pytest.mark.spark,
        pytest.mark.skipif(
            os.environ.get("POPREG_TEST_SPARK") != "1" or shutil.which("java") is None,
            reason="set POPREG_TEST_SPARK=1 (needs pyspark and Java 17)",
        ),
    ],
)
ENGINES = ["duckdb", SPARK]


def _tiny_snapshot(root):
    """Three persons in one village, one death notice."""
    units = pa.table({
        "unit_code": ["411122000000", "411122103001"], "name": ["示例县", "东村"],
        "level": ["county", "village"], "parent_code": pa.array([None, "411122000000"]),
        "valid_from": [date(2000, 1, 1)] * 2, "valid_to": pa.array([None, None], pa.date32()),
    })
    households = pa.table({
        "household_id": [1], "household_no": ["H1"], "unit_code": ["411122103001"],
        "kind": ["family"], "address": ["东村1号"],
    })
    persons = pa.table({
        "person_id": [1, 2, 3], "household_id": [1, 1, 1], "name": ["张三", "李四", "王五"],
        "sex": ["M", "F", "F"], "birth_date": [date(1980, 5, 1), date(1982, 7, 9), date(2010, 1, 2)],
        "id_number": ["", "", ""], "registered_unit": ["411122103001"] * 3,
        "residence_unit": ["411122103001"] * 3, "residence_type": ["registered"] * 3,
        "status": ["active", "active", "deceased"], "mother_id": pa.array([None, None, 2], pa.int64()),
    })
    events = pa.table({c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS["events"]})
    notices = pa.table({"record_id": ["D1"], "name": ["王五"]})
    write_snapshot(root, {
        "units": units, "households": households, "persons": persons, "events": events,
        "sources/death_notices": notices,
    }, datetime(2025, 11, 1))
    return root


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    return _tiny_snapshot(tmp_path_factory.mktemp("snap"))


@pytest.mark.parametrize("engine", ENGINES)
def test_views_and_queries_give_the_same_answers_on_each_engine(snap, engine):
    with connect(snap, engine, tables=["persons"]) as con:
        assert isinstance(con, SnapshotConnection)
        assert con.engine == engine
        con.view("sources/death_notices")  # named after the part after the slash
        con.view("units", "u")
        assert con.has_table("sources/death_notices") and not con.has_table("sources/hospital_births")
        by_sex = con.df("SELECT sex, count(*) AS n FROM persons GROUP BY sex ORDER BY sex")
        assert by_sex.to_dict("records") == [{"sex": "F", "n": 2}, {"sex": "M", "n": 1}]
        assert con.arrow("SELECT name FROM u ORDER BY unit_code").column("name").to_pylist() == [
            "示例县", "东村",
        ]
        joined = con.rows(
            "SELECT p.person_id FROM persons p JOIN death_notices d ON d.name = p.name"
        )
        assert joined == [(3,)]
        assert con.scalar("SELECT name FROM persons WHERE person_id = ?", [2]) == "李四"
        assert con.scalar("SELECT name FROM persons WHERE person_id = 99") is None
        assert con.scalar(f"SELECT {con.idiv('7 + 6', 5)}") == 2  # integer quotient on each dialect


@pytest.mark.parametrize("engine", ENGINES)
def test_in_memory_tables_and_materialised_tables(snap, engine):
    with connect(snap, engine, tables=["persons"]) as con:
        con.register("ages", pa.table({"person_id": [1, 2], "age": [45, 43]}))
        con.create_table("older", "SELECT person_id FROM ages WHERE age > 44")
        assert con.rows("SELECT p.name FROM older JOIN persons p USING (person_id)") == [("张三",)]
        con.create_table("older", "SELECT person_id FROM ages WHERE age > 40")  # replaced
        assert con.scalar("SELECT count(*) FROM older") == 2


def test_a_connection_without_snapshot_holds_only_registered_tables():
    with connect() as con:
        con.register("t", pa.table({"x": [1, 2, 3]}))
        assert con.scalar("SELECT sum(x) FROM t") == 6
        assert not con.has_table("persons")
        with pytest.raises(SnapshotError, match="no snapshot"):
            con.view("persons")


def test_missing_snapshot_table_and_directory_and_engine_are_named(snap, tmp_path):
    with pytest.raises(SnapshotError, match="hospital_births"):
        connect(snap, tables=["sources/hospital_births"])
    with pytest.raises(SnapshotError, match="does not exist"):
        connect(tmp_path / "nope")
    with pytest.raises(SnapshotError, match="unknown engine 'sqlite'"):
        connect(snap, "sqlite")  # type: ignore[arg-type]


def test_duckdb_is_limited_in_memory_and_spills_to_a_private_directory_removed_on_close(snap):
    query = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    con = connect(snap)
    limit, spill = con.native.execute(query).fetchone()
    default_limit, _ = duckdb.connect().execute(query).fetchone()
    number, unit = limit.split()
    limit_mib = float(number) * {"MiB": 1, "GiB": 1024, "TiB": 2**20}[unit]
    assert limit_mib >= DUCKDB_MIN_MEMORY_MB * 0.95 and limit != default_limit
    assert "popreg-duckdb-" in spill and os.path.isdir(spill)
    con.close()
    assert not os.path.exists(spill)
