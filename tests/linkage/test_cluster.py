"""Clustering never chains two different checksum-valid ID numbers together."""

from __future__ import annotations

from datetime import date

from popreg.core.idnumber import compose
from popreg.linkage.cluster import cluster_pairs

A = compose("411423", date(1980, 5, 1), 11)
B = compose("411423", date(1980, 5, 1), 13)


def test_chain_through_a_record_without_id_is_cut() -> None:
    # a (ID A) ~ x (no ID) ~ b (ID B): connected components would give one cluster.
    mapping = cluster_pairs(
        ["a", "x", "b"],
        {"a": A, "x": None, "b": B},
        [("a", "x", 0.99), ("x", "b", 0.95)],
        0.5,
    )
    assert mapping["a"] == mapping["x"]
    assert mapping["b"] != mapping["a"]


def test_strongest_pair_wins() -> None:
    mapping = cluster_pairs(
        ["a", "x", "b"],
        {"a": A, "x": None, "b": B},
        [("a", "x", 0.91), ("x", "b", 0.999)],
        0.5,
    )
    assert mapping["x"] == mapping["b"] != mapping["a"]


def test_direct_pair_with_two_valid_ids_is_refused() -> None:
    mapping = cluster_pairs(["a", "b"], {"a": A, "b": B}, [("a", "b", 1.0)], 0.5)
    assert mapping["a"] != mapping["b"]


def test_same_valid_id_merges_and_below_threshold_does_not() -> None:
    mapping = cluster_pairs(
        ["a", "a2", "c"], {"a": A, "a2": A, "c": None}, [("a", "a2", 0.99), ("a", "c", 0.3)], 0.5
    )
    assert mapping["a"] == mapping["a2"] == "a"
    assert mapping["c"] == "c"


def test_reviewer_approved_pair_may_join_two_numbers() -> None:
    mapping = cluster_pairs(
        ["a", "b", "x"],
        {"a": A, "b": B, "x": None},
        [("a", "x", 0.99)],
        0.5,
        approved=[("a", "b")],
    )
    assert mapping["a"] == mapping["b"] == mapping["x"]


def test_reviewer_rejected_pair_stays_apart_even_through_a_chain() -> None:
    mapping = cluster_pairs(
        ["a", "x", "y"],
        {"a": None, "x": None, "y": None},
        [("a", "x", 0.99), ("x", "y", 0.98)],
        0.5,
        rejected=[("a", "y")],
    )
    assert mapping["a"] == mapping["x"]
    assert mapping["y"] != mapping["a"]


def test_every_record_gets_a_cluster() -> None:
    ids = [f"r{i}" for i in range(50)]
    mapping = cluster_pairs(ids, {}, [], 0.5)
    assert sorted(mapping) == sorted(ids)
    assert all(mapping[r] == r for r in ids)
