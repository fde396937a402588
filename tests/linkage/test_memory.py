"""The memory-saving paths of the engine give the same results as the plain ones."""

from __future__ import annotations

import logging

import duckdb
import pandas as pd
import pyarrow as pa
from splink import DuckDBAPI, Linker

from popreg.linkage import engine
from popreg.linkage.cluster import cluster_pairs
from popreg.linkage.model import adapt_to_data, load_model, snapshot_model
from popreg.linkage.prepare import REQUIRED_COLUMNS, column_values, prepare_records, prepare_table
from popreg.linkage.testdata import generate_records


def test_prepare_table_holds_the_values_of_prepare_records() -> None:
    records = generate_records(400, seed=5).drop(columns=["entity_id", "errors"])
    table = prepare_table(records)
    frame = prepare_records(records)
    assert table.column_names == list(frame.columns)
    assert table.schema.field("name_readings").type == pa.list_(pa.string())
    assert table.schema.field("birth_day").type == pa.int64()
    for col in frame.columns:
        expected = [None if v is pd.NA else v for v in frame[col].tolist()]
        assert table.column(col).to_pylist() == expected, col


def test_mixed_python_objects_are_read_like_strings() -> None:
    # 1, 1.0 and True hash alike; each must still be read as its own str().
    df = pd.DataFrame(
        {c: [""] * 4 for c in REQUIRED_COLUMNS}
        | {"record_id": ["a", "b", "c", "d"], "household_no": [1, 1.0, True, None]}
    )
    assert prepare_table(df).column("household_no").to_pylist() == ["1", "1.0", "True", None]
    assert column_values(df, "household_no") == ["1", "1.0", "True", ""]


def test_dedupe_equals_the_plain_splink_run() -> None:
    """Pairs (with probabilities and levels) and clusters as when the whole prepared
    frame goes to Splink and every prediction column comes back."""
    records = generate_records(1500, seed=11).drop(columns=["entity_id", "errors"])
    result = engine.dedupe(records)

    mdl = load_model(None)
    prepared = prepare_records(records)
    db_api = DuckDBAPI()
    sdf = db_api.register(pa.Table.from_pandas(prepared, preserve_index=False))
    linker = Linker(sdf, mdl.settings_dict("duckdb"), log_level=logging.WARNING)
    adapt_to_data(linker, mdl, len(records))
    mdl = snapshot_model(linker, mdl, "m from model, u and λ from data", "x")
    linker = Linker(sdf, mdl.settings_dict("duckdb"), log_level=logging.WARNING)
    raw = linker.inference.predict(
        threshold_match_probability=min(engine.PAIRS_FLOOR, mdl.threshold),
        warning_mode="never",
    ).as_pandas_dataframe()
    assert any(c.endswith("_l") and c.startswith("name_norm") for c in raw.columns)
    pairs = engine._pairs_frame(raw, mdl)
    pd.testing.assert_frame_equal(result.pairs, pairs, check_exact=True)
    assert len(pairs) > 100

    valid = dict(
        zip(
            prepared["record_id"],
            prepared["id18"].where(prepared["id_valid"], None),
            strict=True,
        )
    )
    mapping = cluster_pairs(
        list(prepared["record_id"]), valid, engine.pairs_as_tuples(pairs), mdl.threshold
    )
    assert result.clusters["record_id"].tolist() == list(prepared["record_id"])
    assert result.clusters["cluster_id"].tolist() == [mapping[r] for r in prepared["record_id"]]
    assert result.clusters["record_id"].dtype == object
    assert result.clusters["cluster_id"].nunique() < len(records)


def _gib(setting: str) -> float:
    number, unit = setting.split()
    return float(number) * {"KiB": 2**-20, "MiB": 2**-10, "GiB": 1.0, "TiB": 2**10}[unit]


def test_duckdb_gets_less_memory_than_its_default_and_spills_to_a_temporary_dir() -> None:
    query = "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    con = engine.SplinkBackend("duckdb").con.native
    limit, spill = con.execute(query).fetchone()
    default_limit, default_spill = duckdb.connect().execute(query).fetchone()
    assert 1.0 <= _gib(limit) < _gib(default_limit)
    assert "popreg-duckdb-" in spill and spill != default_spill
    con.close()


def test_only_model_columns_reach_splink() -> None:
    assert set(engine.MODEL_COLUMNS) < set(prepare_table(generate_records(5, seed=1)).column_names)
    assert not {"name", "birth_date", "id_number"} & set(engine.MODEL_COLUMNS)
