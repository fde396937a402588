"""End-to-end deduplication on generated records with known truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from popreg.linkage.engine import dedupe
from popreg.linkage.model import LinkageModel, load_model
from popreg.linkage.prepare import prepare_records
from popreg.linkage.testdata import generate_records, pairwise_scores, true_pairs


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return generate_records(3000, seed=42)


@pytest.fixture(scope="module")
def result(records: pd.DataFrame):  # type: ignore[no-untyped-def]
    return dedupe(records.drop(columns=["entity_id", "errors"]))


def test_pairwise_f1_at_least_098(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    scores = pairwise_scores(true_pairs(records), result.clusters)
    assert scores["true_pairs"] > 300  # the set really has duplicates of every error kind
    assert scores["f1"] >= 0.98, scores


def test_every_error_kind_is_present_and_found(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    cluster = dict(zip(result.clusters["record_id"], result.clusters["cluster_id"], strict=True))
    originals = records[records["errors"] == ""].drop_duplicates("entity_id")
    first = dict(zip(originals["entity_id"], originals["record_id"], strict=True))
    found: dict[str, list[bool]] = {}
    for rid, eid, errors in records[["record_id", "entity_id", "errors"]].itertuples(index=False):
        if not errors or eid not in first or first[eid] == rid:
            continue
        for kind in errors.split(";"):
            found.setdefault(kind, []).append(cluster[rid] == cluster[first[eid]])
    for kind in ("traditional", "homophone", "fullwidth", "space", "id_typo", "id_transpose",
                 "id15", "id_missing", "id_fullwidth", "dob_swap", "dob_pm1day", "dob_pm1year"):  # fmt: skip
        assert kind in found, kind
        assert sum(found[kind]) / len(found[kind]) >= 0.9, (kind, found[kind])


def test_no_cluster_holds_two_valid_ids(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    prepared = prepare_records(records)
    merged = prepared.assign(cluster_id=result.clusters["cluster_id"].to_numpy())
    valid = merged[merged["id_valid"]]
    assert (valid.groupby("cluster_id")["id18"].nunique() <= 1).all()


def test_twins_and_namesakes_stay_apart(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    prepared = prepare_records(records).assign(entity_id=records["entity_id"].to_numpy())
    cluster = dict(zip(result.clusters["record_id"], result.clusters["cluster_id"], strict=True))
    clean = prepared[prepared["id_valid"]]
    groups = clean.groupby("id_prefix14")
    hard = 0
    for _, group in groups:
        if group["entity_id"].nunique() < 2:
            continue
        for a in group.itertuples():
            for b in group.itertuples():
                if a.entity_id < b.entity_id and a.id18 != b.id18:
                    hard += 1
                    assert cluster[a.record_id] != cluster[b.record_id]
    assert hard > 10


def test_pairs_carry_weight_probability_and_levels(result) -> None:  # type: ignore[no-untyped-def]
    pairs = result.pairs
    for col in ("record_id_l", "record_id_r", "match_weight", "match_probability",
                "name_level", "id_number_level", "birth_date_level", "sex_level",
                "address_level"):  # fmt: skip
        assert col in pairs.columns
    assert "same reading (homophone / variant)" in set(pairs["name_level"])


def test_every_row_is_clustered(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    assert list(result.clusters["record_id"]) == list(records["record_id"])
    assert result.clusters["cluster_id"].notna().all()


def test_labels_improve_or_keep_the_model(records: pd.DataFrame, result) -> None:  # type: ignore[no-untyped-def]
    truth = true_pairs(records)
    before = pairwise_scores(truth, result.clusters)["f1"]
    # Review decisions on the uncertain and on some confident pairs, as a reviewer would.
    pairs = result.pairs
    review = pd.concat([pairs[pairs["match_probability"].between(0.01, 0.99)], pairs.head(200)])
    labels = pd.DataFrame(
        {
            "record_id_l": review["record_id_l"],
            "record_id_r": review["record_id_r"],
            "is_match": [
                int(tuple(sorted((a, b))) in truth)
                for a, b in zip(review["record_id_l"], review["record_id_r"], strict=True)
            ],
        }
    )
    assert labels["is_match"].sum() > 50
    improved = dedupe(records.drop(columns=["entity_id", "errors"]), labels=labels)
    after = pairwise_scores(truth, improved.clusters)["f1"]
    assert after >= before - 1e-9
    assert improved.model.meta["recipe"] == "labels"


def test_unsupervised_training_and_model_round_trip(tmp_path: Path) -> None:
    data = generate_records(2500, seed=9)
    trained = dedupe(data.drop(columns=["entity_id", "errors"]), model=LinkageModel(), train=True)
    assert pairwise_scores(true_pairs(data), trained.clusters)["f1"] >= 0.98
    path = tmp_path / "model.json"
    trained.model.save(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["popreg_model"]["format"] == 1
    assert saved["popreg_model"]["recipe"] == "unsupervised"
    again = load_model(path)
    assert again.splink is not None
    levels = [c["comparison_levels"] for c in again.splink["comparisons"]]
    assert all(lvl.get("m_probability") is not None for c in levels for lvl in c[1:])


def test_shipped_model_is_versioned() -> None:
    model = load_model()
    assert model.name == "registry" and model.version
    assert model.splink is not None and 0 < model.threshold < 1
