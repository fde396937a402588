"""Exact resolution on valid ID numbers before the probabilistic step (linkage/exact.py)."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import pytest
from splink import DuckDBAPI, Linker

from popreg.core.idnumber import check_character, compose
from popreg.linkage.engine import MODEL_COLUMNS, dedupe
from popreg.linkage.exact import exact_pairs, restrict_rules, restrict_settings
from popreg.linkage.model import load_model
from popreg.linkage.prepare import prepare_table
from popreg.linkage.testdata import generate_records, pairwise_scores, true_pairs

V1 = "411423001001"
V2 = "411423002003"


def _id(birth: date, seq: int) -> str:
    return compose("411423", birth, seq)


def _rows() -> pd.DataFrame:
    born = date(1985, 3, 7)
    same = _id(born, 123)
    twin_a, twin_b = _id(born, 125), _id(born, 127)
    return pd.DataFrame(
        [
            # one person, valid number, the second record with wrong sex and birth date
            ("a1", "张秀英", "F", "1985-03-07", same, V1, "001"),
            ("a2", "张秀英", "M", "1958-07-03", same, V2, "044"),
            # twins: same household and date, valid numbers differing in the sequence
            ("t1", "李明", "M", "1985-03-07", twin_a, V1, "007"),
            ("t2", "李亮", "M", "1985-03-07", twin_b, V1, "007"),
            # the first twin again, without an ID number, in another village
            ("t3", "李明", "M", "1985-03-07", "", V2, "090"),
            # namesakes in one village, same birth year, two valid numbers
            ("n1", "王芳", "F", "1990-01-02", _id(date(1990, 1, 2), 200), V1, "010"),
            ("n2", "王芳", "F", "1990-05-06", _id(date(1990, 5, 6), 202), V1, "011"),
        ],
        columns=["record_id", "name", "sex", "birth_date", "id_number", "village_code",
                 "household_no"],
    )  # fmt: skip


def test_every_rule_but_the_hash_join_is_split_by_side() -> None:
    settings = load_model().settings_dict("duckdb")
    rules = settings["blocking_rules_to_generate_predictions"]
    restricted = restrict_rules(rules)
    assert restricted[0]["blocking_rule"] == rules[0]["blocking_rule"] == 'l."id18" = r."id18"'
    assert len(restricted) == 1 + 2 * (len(rules) - 1)
    for rule in restricted[1:]:
        sql = rule["blocking_rule"]
        assert sql.count("CASE WHEN") == 1, sql
        assert ('CASE WHEN l."id_valid"' in sql) != ('CASE WHEN r."id_valid"' in sql), sql
    spark = restrict_settings(load_model().settings_dict("spark"))
    assert "CASE WHEN l.`id_valid` THEN NULL ELSE l.`id_body` END" in (
        spark["blocking_rules_to_generate_predictions"][1]["blocking_rule"]
    )


def test_a_rule_that_is_not_plain_equality_is_kept() -> None:
    rule = {"blocking_rule": "levenshtein(l.name, r.name) < 2", "sql_dialect": "duckdb"}
    assert restrict_rules([rule]) == [rule]


def test_exact_pairs_groups_by_number_in_input_order() -> None:
    ids = ["r1", "r2", "r3", "r4", "r5"]
    valid = {"r1": "X", "r3": "X", "r4": "Y", "r5": "X"}
    assert exact_pairs(ids, valid) == [("r1", "r3"), ("r1", "r5")]


def _all_candidate_pairs(restricted: bool) -> set[frozenset[str]]:
    table = prepare_table(_rows()).select(list(MODEL_COLUMNS))
    settings = load_model().settings_dict("duckdb")
    if restricted:
        settings = restrict_settings(settings)
    db = DuckDBAPI()
    linker = Linker(db.register(table), settings, log_level=logging.WARNING)
    scored = linker.inference.predict().as_pandas_dataframe()
    return {frozenset(p) for p in zip(scored["record_id_l"], scored["record_id_r"], strict=True)}


def test_no_pair_of_two_different_valid_numbers_is_scored() -> None:
    everything = _all_candidate_pairs(restricted=False)
    assert frozenset(("t1", "t2")) in everything  # the twins meet on the date rules
    assert frozenset(("n1", "n2")) in everything  # the namesakes on name and village
    pairs = _all_candidate_pairs(restricted=True)
    assert frozenset(("t1", "t2")) not in pairs
    assert frozenset(("n1", "n2")) not in pairs
    assert frozenset(("a1", "a2")) in pairs  # one valid number: still scored (id18 rule)
    assert frozenset(("t1", "t3")) in pairs  # a record without a number meets both twins
    assert frozenset(("t2", "t3")) in pairs


def test_same_valid_number_is_one_person_whatever_the_fields_say() -> None:
    result = dedupe(_rows())
    cluster = dict(zip(result.clusters["record_id"], result.clusters["cluster_id"], strict=True))
    assert cluster["a1"] == cluster["a2"]
    assert cluster["t1"] != cluster["t2"]
    assert cluster["n1"] != cluster["n2"]
    assert cluster["t3"] == cluster["t1"]


def test_a_reviewer_rejection_keeps_a_shared_number_apart() -> None:
    labels = pd.DataFrame({"record_id_l": ["a1"], "record_id_r": ["a2"], "is_match": ["0"]})
    result = dedupe(_rows(), labels=labels)
    cluster = dict(zip(result.clusters["record_id"], result.clusters["cluster_id"], strict=True))
    assert cluster["a1"] != cluster["a2"]


@pytest.mark.parametrize("seed", [7])
def test_same_clusters_as_scoring_every_pair(seed: int) -> None:
    records = generate_records(3000, seed=seed)
    data = records.drop(columns=["entity_id", "errors"])
    fast, full = dedupe(data), dedupe(data, compare_valid_ids=True)
    truth = true_pairs(records)
    assert pairwise_scores(truth, fast.clusters)["f1"] >= pairwise_scores(truth, full.clusters)["f1"]
    assert pairwise_scores(truth, fast.clusters)["f1"] >= 0.98
    # every pair the full run scored and the fast one did not joins two valid numbers
    valid = {
        rid: number
        for rid, number in zip(data["record_id"], data["id_number"], strict=True)
        if len(number) == 18 and number[:17].isdigit() and check_character(number[:17]) == number[17]
    }
    missing = set(zip(full.pairs["record_id_l"], full.pairs["record_id_r"], strict=True)) - set(
        zip(fast.pairs["record_id_l"], fast.pairs["record_id_r"], strict=True)
    )
    assert all(a in valid and b in valid and valid[a] != valid[b] for a, b in missing), missing
