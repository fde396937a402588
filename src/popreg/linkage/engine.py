"""The linkage engine: deduplication and matching of outside sources on Splink.

No Django here: the management commands ``popreg dedupe`` and ``popreg match`` and (later)
the web app call these functions.

>>> result = dedupe("persons.csv")                       # doctest: +SKIP
>>> result.clusters.head()                              # record_id, cluster_id
>>> result.pairs.head()                                 # scored pairs, level per comparison

Engines: ``duckdb`` (default, in-process) and ``spark`` (pyspark in local mode, or an
existing ``SparkSession``); both run the same model and the same SQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from splink import Linker

from popreg.linkage import comparisons, exact
from popreg.linkage.cluster import cluster_pairs
from popreg.linkage.model import (
    LinkageModel,
    estimate_on_data,
    load_model,
    snapshot_model,
    train_unsupervised,
    with_prior,
)
from popreg.linkage.prepare import (
    REQUIRED_COLUMNS,
    LinkageInputError,
    check_columns,
    check_record_ids,
    column_values,
    prepare_table,
    read_input_csv,
)
from popreg.snapshot import SnapshotError
from popreg.snapshot.connection import SparkConnection, connect

ENGINES = ("duckdb", "spark")
# Prepared columns the comparisons and blocking rules read (the raw name, birth_date and
# id_number are not among them): only these are handed to Splink.
MODEL_COLUMNS = (
    "record_id", "sex", "village_code", "township", "household_no", "name_norm", "surname",
    "name_py", "name_readings", "name_len", "name_sorted", "name_py_full", "name_py_sorted",
    "name_py_drops", "id_norm", "id18", "id_valid", "id_body", "id_prefix14", "id_dob", "id_sex",
    "dob", "birth_day", "birth_year", "birth_md", "birth_swapped",
)  # fmt: skip
PAIRS_FLOOR = 0.01  # pairs.csv keeps scored pairs with at least this match probability
# Pairs from this probability up to the threshold are uncertain: never merged, put before a
# reviewer (DedupeResult.review), as are the pairs above it the clustering refused.
REVIEW_FLOOR = 0.05

logger = logging.getLogger(__name__)


@dataclass
class DedupeResult:
    """``clusters``: record_id, cluster_id (every input row); ``pairs``: scored pairs;
    ``review``: the pairs for a reviewer, not merged (see :data:`REVIEW_FLOOR`)."""

    clusters: pd.DataFrame
    pairs: pd.DataFrame
    model: LinkageModel
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    review: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- backends --------------------------------------------------------------------------


class SplinkBackend:
    """Splink's database API over a :func:`popreg.snapshot.connect` connection.

    DuckDB: an in-memory connection limited to its share of memory, spilling to a
    temporary directory beyond it (the prepared records, the pairs and the clustering
    also live in this process).  Spark: the local session, or ``spark`` when given.
    """

    def __init__(self, engine: str, spark: Any = None) -> None:
        if engine not in ENGINES:
            raise LinkageInputError(
                f"不支持的引擎 {engine!r}：可选 duckdb 或 spark。\n"
                f"Unknown engine {engine!r}: use duckdb or spark."
            )
        self.engine = engine
        try:
            self.con = connect(None, "duckdb" if engine == "duckdb" else "spark", spark=spark)
        except SnapshotError as exc:  # pragma: no cover - depends on the installation
            raise LinkageInputError(
                "未安装 pyspark，无法使用 spark 引擎：请安装 pyspark 和 Java 17，或使用 --engine duckdb。\n"
                "pyspark is not installed: install pyspark and Java 17, or use --engine duckdb."
            ) from exc
        self.dialect = self.con.engine
        if self.con.engine == "duckdb":
            from splink import DuckDBAPI

            self.db_api: Any = DuckDBAPI(self.con.native)
        else:
            from splink import SparkAPI

            self.db_api = SparkAPI(spark_session=self.con.native)  # type: ignore[no-untyped-call]

    def register(self, df: pd.DataFrame | pa.Table, name: str) -> Any:
        table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        if self.con.engine == "duckdb":
            return self.db_api.register(table, dataset_display_name=name)
        # Splink registers the frame under ``name`` itself (and refuses a name in use)
        assert isinstance(self.con, SparkConnection)
        return self.db_api.register(self.con.frame(table), table_name=name)


# --- input -----------------------------------------------------------------------------


def load_records(data: pd.DataFrame | str | Path, source: str | None = None) -> pd.DataFrame:
    """Input rows as a DataFrame of strings, checked (columns, record_id, non-empty)."""
    if isinstance(data, pd.DataFrame):
        name = source or "input"
        check_columns(data, REQUIRED_COLUMNS, name)
        if data.empty:
            raise LinkageInputError(f"{name} 没有数据行。\n{name} has no records.")
        df = data
    else:
        name = source or str(data)
        df = read_input_csv(data)
    check_record_ids(df, name)
    return df


def _read_labels(labels: pd.DataFrame | str | Path) -> pd.DataFrame:
    # comment="#": the first line of a downloaded labels file says who exported it, when and why
    df = labels if isinstance(labels, pd.DataFrame) else pd.read_csv(labels, dtype=str, comment="#")
    check_columns(df, ("record_id_l", "record_id_r", "is_match"), "labels")
    out = df[["record_id_l", "record_id_r"]].astype(str).copy()
    out["is_match"] = (
        df["is_match"]
        .astype(str)
        .str.strip()
        .str.lower()
        .isin(("1", "true", "yes", "y", "是", "same"))
    )
    return out


# --- dedupe ----------------------------------------------------------------------------


class _Clock:
    """Phase timings, logged at DEBUG (``popreg.linkage.engine``)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.phases: dict[str, float] = {}

    def __call__(self, phase: str) -> None:
        now = time.monotonic()
        self.phases[phase] = now - self.last
        self.last = now
        logger.debug("%s: %.2f s", phase, self.phases[phase])


def dedupe(
    data: pd.DataFrame | str | Path,
    *,
    engine: str = "duckdb",
    model: LinkageModel | str | Path | None = None,
    threshold: float | None = None,
    train: bool = False,
    labels: pd.DataFrame | str | Path | None = None,
    spark: Any = None,
    compare_valid_ids: bool = False,
) -> DedupeResult:
    """Find duplicate persons in ``data`` (DataFrame or CSV path with the input columns).

    ``model``: a :class:`LinkageModel` or a model JSON path; default the shipped model.
    ``train``: re-estimate the model on this data without labels first (Splink's recipe).
    ``labels``: review decisions (record_id_l, record_id_r, is_match): matches improve
    the m probabilities; all decisions bind the clustering (approved pairs are merged,
    rejected pairs are kept apart).
    ``compare_valid_ids``: also score the pairs of two records with different valid ID
    numbers (by default they are decided without scoring, see :mod:`popreg.linkage.exact`).
    """
    clock = _Clock()
    records = load_records(data)
    clock("read")
    mdl = model if isinstance(model, LinkageModel) else load_model(model)
    if mdl.splink is None and not train:
        raise LinkageInputError(
            "模型未训练：请使用 --train 或提供已训练的模型。\n"
            "The model is untrained: use --train or give a trained model."
        )
    cut = mdl.threshold if threshold is None else threshold
    # Parallel only for a CSV read here: nothing in this process has started Arrow,
    # DuckDB or Spark thread pools yet, so forking workers is safe.
    n_records = len(records)
    if mdl.name == "generic":
        table: pd.DataFrame | pa.Table = records[list(REQUIRED_COLUMNS)]
        record_ids = column_values(records, "record_id")
        valid: dict[str, str] = {}
    else:
        prepared = prepare_table(records, parallel=not isinstance(data, pd.DataFrame))
        del records  # the prepared Arrow table holds all that is needed from here on
        table = prepared.select(list(MODEL_COLUMNS))
        del prepared
        record_ids = table.column("record_id").to_pylist()
        valid_rows = table.filter(table.column("id_valid")).select(["record_id", "id18"])
        valid = dict(
            zip(
                valid_rows.column("record_id").to_pylist(),
                valid_rows.column("id18").to_pylist(),
                strict=True,
            )
        )
        del valid_rows
    clock("prepare")
    backend = SplinkBackend(engine, spark)
    sdf = backend.register(table, "records")
    del table
    clock("register")
    restrict = mdl.name != "generic" and not compare_valid_ids

    def settings(m: LinkageModel) -> dict[str, Any]:
        built = m.settings_dict(backend.dialect)
        return exact.restrict_settings(built) if restrict else built

    linker = Linker(sdf, settings(mdl), log_level=logging.WARNING)
    label_df = _read_labels(labels) if labels is not None else None
    if train:
        # EM's estimates, with the model's m (or the priors in comparisons.py) as prior:
        # a kind of difference the data happens not to show does not become a veto.
        prior = mdl.settings_dict(backend.dialect)
        train_unsupervised(linker, mdl)
        mdl = snapshot_model(linker, mdl, "unsupervised", f"{n_records} records")
        if mdl.name != "generic":
            mdl = with_prior(mdl, prior, n_records)
    else:
        mdl = estimate_on_data(linker, mdl, n_records)
    if label_df is not None and label_df["is_match"].any():
        apply_labels(linker, backend, label_df)
        mdl = snapshot_model(linker, mdl, "labels", f"{int(label_df['is_match'].sum())} pairs")
    # Score with a linker rebuilt from the snapshot, so that levels the estimation could
    # not observe get their priors back (Splink leaves them without m or u).
    linker = Linker(sdf, settings(mdl), log_level=logging.WARNING)

    clock("estimate")
    predictions = linker.inference.predict(
        threshold_match_probability=min(PAIRS_FLOOR, cut), warning_mode="never"
    )
    pairs = _pairs_frame(_used_columns(predictions), mdl)
    predictions.drop_table_from_database_and_remove_from_cache()
    clock("predict")

    approved: list[tuple[str, str]] = []
    rejected: list[tuple[str, str]] = []
    if label_df is not None:
        for a, b, is_match in label_df.itertuples(index=False):
            (approved if is_match else rejected).append((a, b))
    mapping = cluster_pairs(
        record_ids,
        valid,
        pairs[["record_id_l", "record_id_r", "match_probability"]].itertuples(
            index=False, name=None
        ),
        cut,
        approved=approved,
        rejected=rejected,
        exact=exact.exact_pairs(record_ids, valid) if restrict else (),
    )
    clusters = pd.DataFrame(
        {
            "record_id": pd.Series(record_ids, dtype=object),
            "cluster_id": pd.Series([mapping[r] for r in record_ids], dtype=object),
        }
    )
    review = _review_pairs(pairs, mapping, cut)
    clock("cluster")
    return DedupeResult(
        clusters=clusters, pairs=pairs, model=mdl, timings=clock.phases, review=review
    )


def _review_pairs(pairs: pd.DataFrame, mapping: dict[str, str], cut: float) -> pd.DataFrame:
    """The uncertain pairs: ``REVIEW_FLOOR`` ≤ probability < threshold, and the pairs at or
    above the threshold that the clustering did not merge (two valid numbers, a rejection)."""
    prob = pairs["match_probability"]
    apart = pd.Series(
        [
            mapping[a] != mapping[b]
            for a, b in zip(pairs["record_id_l"], pairs["record_id_r"], strict=True)
        ],
        index=pairs.index,
        dtype=bool,
    )
    return pairs[(prob >= REVIEW_FLOOR) & ((prob < cut) | apart)].reset_index(drop=True)


def apply_labels(linker: Linker, backend: SplinkBackend, labels: pd.DataFrame) -> None:
    """m probabilities from reviewer-confirmed matches (Splink's estimate_m_from_pairwise_labels)."""
    matches = labels[labels["is_match"]][["record_id_l", "record_id_r"]].rename(
        columns={"record_id_l": "record_id_l", "record_id_r": "record_id_r"}
    )
    matches = matches.assign(source_dataset_l="records", source_dataset_r="records")
    sdf = backend.register(matches, f"labels_{id(matches)}")
    linker.training.estimate_m_from_pairwise_labels(sdf)  # type: ignore[no-untyped-call]


def _used_columns(predictions: Any) -> pd.DataFrame:
    """The predictions' ids, weight, probability and levels (not the compared values)."""
    keep = [
        c.name  # quoted for the dialect
        for c in predictions.columns
        if c.unquote().name in ("record_id_l", "record_id_r", "match_weight", "match_probability")
        or c.unquote().name.startswith("gamma_")
    ]
    select = ", ".join(keep)
    return predictions.query_sql(f"SELECT {select} FROM {{this}}").as_pandas_dataframe()


def _pairs_frame(raw: pd.DataFrame, model: LinkageModel) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "record_id_l": raw["record_id_l"].astype(str),
            "record_id_r": raw["record_id_r"].astype(str),
            "match_weight": raw["match_weight"].astype(float).round(4),
            "match_probability": raw["match_probability"].astype(float).round(6),
        }
    )
    for col in raw.columns:
        if col.startswith("gamma_"):
            name = col[len("gamma_") :]
            gammas = raw[col].astype(int)
            out[f"{name}_gamma"] = gammas
            if model.name != "generic" and name in comparisons.LEVEL_LABELS:
                labels = {g: comparisons.level_label(name, g) for g in set(gammas.tolist())}
                out[f"{name}_level"] = [labels[g] for g in gammas.tolist()]
    return out.sort_values(
        ["match_probability", "record_id_l", "record_id_r"], ascending=[False, True, True]
    ).reset_index(drop=True)


def score_records(
    new: pd.DataFrame,
    existing: pd.DataFrame,
    *,
    model: LinkageModel | str | Path | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Score every record of ``new`` against every record of ``existing`` with the model,
    as ``dedupe`` scores a pair: no blocking, no estimation (the model's m, u and λ as
    they are; names term-frequency adjusted on ``existing``).

    Both frames have the input columns (``REQUIRED_COLUMNS``).  Returns the pairs as in
    ``DedupeResult.pairs`` (``record_id_l`` from ``new``, ``record_id_r`` from
    ``existing``, weight, probability, gamma and level per comparison), best first.

    This is the public way to score given records with the current model, e.g. for the
    entry-time duplicate check (``popreg.linkage.entrycheck`` decides the same levels in
    plain Python for speed; its results should agree with this function's).
    """
    mdl = model if isinstance(model, LinkageModel) else load_model(model)
    if mdl.splink is None:
        raise LinkageInputError(
            "模型未训练：请提供已训练的模型。\nThe model is untrained: give a trained model."
        )
    for frame, name in ((new, "new records"), (existing, "existing records")):
        check_columns(frame, REQUIRED_COLUMNS, name)
    if new.empty or existing.empty:
        return _pairs_frame(
            pd.DataFrame(
                columns=["record_id_l", "record_id_r", "match_weight", "match_probability"]
            ),
            mdl,
        )
    backend = SplinkBackend(engine)
    right = backend.register(prepare_table(existing).select(list(MODEL_COLUMNS)), "existing")
    left = backend.register(prepare_table(new).select(list(MODEL_COLUMNS)), "new")
    linker = Linker(right, mdl.settings_dict(backend.dialect), log_level=logging.WARNING)
    scored = linker.inference.score_pairs(left, right)
    return _pairs_frame(_used_columns(scored), mdl)


def pairs_as_tuples(pairs: pd.DataFrame) -> Iterable[tuple[str, str, float]]:
    rows: Iterable[tuple[str, str, float]] = pairs[
        ["record_id_l", "record_id_r", "match_probability"]
    ].itertuples(index=False, name=None)
    return rows


def build_default_model(n_records: int = 20000, seed: int = 20251101) -> LinkageModel:
    """Train the shipped model: the unsupervised recipe on generated records.

    ``python -m popreg.linkage.engine OUT.json`` writes it; the result is committed as
    ``models/registry-v1.json``.  No truth is used.
    """
    from popreg.linkage.testdata import generate_records

    records = generate_records(n_records, seed=seed).drop(columns=["entity_id", "errors"])
    result = dedupe(records, model=LinkageModel(), train=True)
    mdl = result.model
    mdl.meta["trained_on"] = f"{n_records} generated records (popreg.linkage.testdata, seed {seed})"
    return mdl


if __name__ == "__main__":  # pragma: no cover
    import sys

    build_default_model().save(sys.argv[1])
