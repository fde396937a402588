"""The ``popreg dedupe`` command-line contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.linkage.testdata import generate_records

COLUMNS = ["record_id", "name", "sex", "birth_date", "id_number", "village_code", "household_no"]


@pytest.fixture(scope="module")
def input_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = generate_records(400, seed=3)
    df["extra_column"] = "ignored"
    path = tmp_path_factory.mktemp("cli") / "persons.csv"
    df.drop(columns=["entity_id", "errors"]).to_csv(path, index=False)
    return path


def test_dedupe_writes_every_row_and_pairs(input_csv: Path, tmp_path: Path) -> None:
    out, pairs = tmp_path / "clusters.csv", tmp_path / "pairs.csv"
    call_command("dedupe", str(input_csv), "--out", str(out), "--pairs", str(pairs))
    clusters = pd.read_csv(out, dtype=str)
    source = pd.read_csv(input_csv, dtype=str)
    assert list(clusters.columns) == ["record_id", "cluster_id"]
    assert sorted(clusters["record_id"]) == sorted(source["record_id"])
    assert clusters["cluster_id"].nunique() < len(clusters)  # duplicates were found
    scored = pd.read_csv(pairs)
    assert {"match_weight", "match_probability", "id_number_level"} <= set(scored.columns)


def test_threshold_and_save_model(input_csv: Path, tmp_path: Path) -> None:
    out, model = tmp_path / "c.csv", tmp_path / "m.json"
    call_command(
        "dedupe", str(input_csv), "--out", str(out), "--threshold", "0.99",
        "--save-model", str(model),
    )  # fmt: skip
    assert model.is_file()
    call_command("dedupe", str(input_csv), "--out", str(out), "--model", str(model))
    assert len(pd.read_csv(out)) == 400


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    good = "record_id,name,sex,birth_date,id_number,village_code,household_no\n"
    files = {
        "empty": b"",
        "header_only": good.encode(),
        "missing_column": "record_id,name,sex\n1,张伟,M\n".encode(),
        "latin1": (good + "1,Jos\xe9,M,,,,\n").encode("latin-1"),
        "duplicate_id": (good + "1,张伟,M,,,,\n1,李娜,F,,,,\n").encode(),
    }
    paths = {}
    for name, content in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(content)
        paths[name] = path
    return paths


@pytest.mark.parametrize(
    "case", ["empty", "header_only", "missing_column", "latin1", "duplicate_id"]
)
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path: Path, case: str) -> None:
    path = _bad_inputs(tmp_path)[case]
    out = tmp_path / "clusters.csv"
    with pytest.raises(CommandError) as info:
        call_command("dedupe", str(path), "--out", str(out), "--pairs", str(tmp_path / "p.csv"))
    message = str(info.value)
    zh, en = message.split("\n")[0], message.split("\n")[-1]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    assert en.isascii() or "«" in en
    assert not out.exists() and not (tmp_path / "p.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".popreg-")]


def test_console_exit_code_is_non_zero(tmp_path: Path) -> None:
    path = _bad_inputs(tmp_path)["missing_column"]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="popreg.web.settings")
    proc = subprocess.run(
        [sys.executable, "-m", "popreg", "dedupe", str(path), "--out", str(tmp_path / "c.csv")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "household_no" in proc.stderr and "缺少" in proc.stderr
    assert not (tmp_path / "c.csv").exists()


def test_review_file_holds_the_uncertain_pairs_and_they_are_not_merged(
    input_csv: Path, tmp_path: Path
) -> None:
    out, review = tmp_path / "c.csv", tmp_path / "review.csv"
    # a high threshold leaves true pairs in the uncertain band
    call_command("dedupe", str(input_csv), "--out", str(out), "--threshold", "0.999",
                 "--review", str(review))  # fmt: skip
    uncertain = pd.read_csv(review, dtype={"record_id_l": str, "record_id_r": str})
    assert len(uncertain) > 0
    assert {"record_id_l", "record_id_r", "match_probability"} <= set(uncertain.columns)
    assert (uncertain["match_probability"] >= 0.05).all()
    cluster = dict(pd.read_csv(out, dtype=str).itertuples(index=False, name=None))
    below = uncertain[uncertain["match_probability"] < 0.999]
    assert len(below) > 0
    # a pair below the threshold is never the reason two records share a cluster: those
    # that do were joined through other, stronger pairs or one valid ID number
    apart = [(a, b) for a, b in zip(below["record_id_l"], below["record_id_r"], strict=True)
             if cluster[a] != cluster[b]]
    assert apart, "the uncertain pairs were merged"
