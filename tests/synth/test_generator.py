"""Determinism, scaling and streaming of the generator, and the command line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from popreg.snapshot import verify_snapshot
from popreg.synth import generator
from popreg.synth.generator import generate

from .conftest import connect


def _digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path):
    generate(tmp_path / "a", seed=11, persons=3000, progress=None)
    # another process with another string-hash seed: no set or dict order may leak into files
    code = "import sys; from popreg.synth.generator import generate; generate(sys.argv[1], seed=11, persons=3000, progress=None)"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    generate(tmp_path / "c", seed=12, persons=3000, progress=None)
    a, b, c = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert a == b
    assert "persons.parquet" in a and "truth/defects.csv" in a and "manifest.json" in a
    assert a["persons.parquet"] != c["persons.parquet"]


def test_scaled_county_keeps_the_village_size_distribution(small_county):
    con = connect(small_county)
    villages, under200, under100 = con.execute("""
        WITH c AS (SELECT registered_unit AS u, count(*) AS n FROM persons
                   WHERE status = 'active' AND residence_type IN ('registered', 'floating_out') GROUP BY 1)
        SELECT count(*), sum((coalesce(n, 0) < 200)::INT), sum((coalesce(n, 0) < 100)::INT)
        FROM units LEFT JOIN c ON u = unit_code WHERE level = 'village'
    """).fetchone()
    scale = 12_000 / 157_000
    assert villages == round(343 * scale)
    assert under200 == round(35 * scale) + round(52 * scale)
    assert under100 == round(35 * scale)
    (registered,) = con.execute("""
        SELECT count(*) FROM persons WHERE status = 'active' AND residence_type IN ('registered', 'floating_out')
    """).fetchone()
    assert abs(registered - 12_000) < 0.05 * 12_000
    assert verify_snapshot(small_county) == []


def test_streaming_writes_township_by_township(tmp_path, monkeypatch):
    """Tables are written in several row groups as townships finish, never all at once."""
    monkeypatch.setattr(generator, "ROW_GROUP", 2000)
    written: list[int] = []
    real_build = generator.build

    def spy(t, county, counters):
        rows = real_build(t, county, counters)
        written.append(rows.persons.num_rows)
        return rows

    monkeypatch.setattr(generator, "build", spy)
    manifest = generate(tmp_path, seed=3, persons=25_000, progress=None)
    assert len(written) >= 2  # two or more townships, each built and written on its own
    persons = pq.ParquetFile(tmp_path / "persons.parquet")
    assert persons.metadata.num_row_groups >= 2
    assert persons.metadata.num_rows == sum(written) == manifest["row_counts"]["persons"]
    ids = pq.read_table(tmp_path / "persons.parquet", columns=["person_id"]).column(0).to_pylist()
    assert ids == list(range(1, len(ids) + 1))
    entities = (tmp_path / "truth" / "entities.csv").read_text(encoding="utf-8").splitlines()
    assert len(entities) == len(ids) + 1


def test_command_writes_a_snapshot_with_generator_entry(tmp_path, capsys):
    out = tmp_path / "county"
    call_command("synth", "--seed", "4", "--out", str(out), "--persons", "2000")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["generator"]["seed"] == 4
    assert manifest["generator"]["parameters"]["persons"] == 2000
    captured = capsys.readouterr()
    assert "township" in captured.err  # progress on stderr
    with pytest.raises(CommandError, match="不为空"):
        call_command("synth", "--seed", "4", "--out", str(out), "--persons", "2000")
    with pytest.raises(CommandError, match="at least 1000"):
        call_command("synth", "--seed", "4", "--out", str(tmp_path / "x"), "--persons", "10")
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("synth", "--seed", "4", "--out", str(tmp_path / "y"), "--reference-moment", "yesterday")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_reference_moment_moves_the_decade(tmp_path):
    from datetime import datetime

    generate(tmp_path, seed=2, persons=2000, reference=datetime(2020, 11, 1), progress=None)
    con = connect(tmp_path)
    first, last, recorded = con.execute(
        "SELECT min(event_date), max(event_date), max(recorded_date) FROM events"
    ).fetchone()
    assert str(first) >= "2010-11-01" and str(last) < "2020-11-01" and str(recorded) <= "2020-11-01"


def test_every_command_option_is_documented():
    from pathlib import Path

    from popreg.synth.management.commands.synth import Command

    doc = (Path(__file__).resolve().parents[2] / "docs" / "synthetic-county.md").read_text(encoding="utf-8")
    parser = Command().create_parser("popreg", "synth")
    own = [a for a in parser._actions if a.dest in ("seed", "out", "persons", "reference_moment")]
    assert len(own) == 4
    for action in own:
        assert f"`{action.option_strings[0]}" in doc, action.option_strings[0]
