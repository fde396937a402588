"""``popreg synth --counties N``: sibling counties that share migrants, and their truth."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from popreg.core.idnumber import check_character
from popreg.snapshot.format import read_manifest, verify_snapshot
from popreg.synth.counties import MIGRANTS_HEADER, NOISE, REASONS, county_list, generate_counties
from popreg.synth.generator import generate
from popreg.synth.names import to_traditional

REF = date(2025, 11, 1)


def _persons(snapshot: Path) -> dict[int, dict]:
    return {p["person_id"]: p for p in pq.read_table(snapshot / "persons.parquet").to_pylist()}


def _truth(root: Path) -> list[dict[str, str]]:
    with (root / "truth" / "migrants.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("three")
    generate_counties(out, seed=21, counties=3, persons=3000, progress=None)
    return out


@pytest.fixture(scope="module")
def data(three):
    codes = sorted(p.name for p in three.iterdir() if p.name != "truth")
    return {"codes": codes, "persons": {c: _persons(three / c) for c in codes}, "truth": _truth(three),
            "manifests": {c: read_manifest(three / c) for c in codes}}


def test_layout_one_valid_snapshot_per_county(three, data):
    codes = data["codes"]
    assert sorted(p.name for p in three.iterdir()) == [*codes, "truth"]
    assert len(codes) == 3 and len(set(codes)) == 3
    assert codes == sorted(c for c, _ in county_list(3))
    assert {c[:4] for c in codes} == {"1401"}  # neighbours: the counties of one prefecture
    for code in codes:
        root = three / code
        assert verify_snapshot(root) == []
        assert code.isdigit() and len(code) == 6
        units = pq.read_table(root / "units.parquet").to_pylist()
        county = [u for u in units if u["level"] == "county"]
        assert [u["unit_code"] for u in county] == [f"{code}000000"]
        assert county[0]["name"].endswith("县")
        assert all(u["unit_code"].startswith(code) for u in units)
        gen = data["manifests"][code]["generator"]
        assert gen["parameters"]["county_code"] == code and gen["parameters"]["counties"] == [c for c, _ in county_list(3)]
        # as realistic as the default: registered population near the size asked for
        persons = data["persons"][code].values()
        registered = sum(p["status"] == "active" and p["residence_type"] in ("registered", "floating_out")
                         for p in persons)
        assert 0.9 * 3000 <= registered <= 1.1 * 3000
        natives = [p for p in persons if p["id_number"] and p["id_number"].startswith(code)]
        assert len(natives) > 2000
    names = {data["manifests"][c]["generator"]["parameters"]["county_name"] for c in codes}
    assert len(names) == 3
    assert (three / "truth" / "migrants.csv").read_text(encoding="utf-8").splitlines()[0] == ",".join(MIGRANTS_HEADER)


def test_truth_agrees_with_both_registries(data):
    truth, persons = data["truth"], data["persons"]
    assert len(truth) > 200
    pairs = {(r["registered_county"], r["residence_county"]) for r in truth}
    assert pairs == {(a, b) for a in data["codes"] for b in data["codes"] if a != b}
    seen_reg, seen_res = set(), set()
    kinds = {"registered": 0, "floating_out": 0}
    for r in truth:
        a_code, b_code = r["registered_county"], r["residence_county"]
        a = persons[a_code][int(r["registered_person_id"])]
        b = persons[b_code][int(r["residence_person_id"])]
        assert a["status"] == b["status"] == "active"
        assert a["residence_type"] in ("registered", "floating_out")
        kinds[a["residence_type"]] += 1
        # where registered, the destination is unknown or stale: never the county they live in
        assert a["residence_unit"] is None or not a["residence_unit"].startswith(b_code)
        assert b["residence_type"] == "floating_in"
        assert b["registered_unit"] == a["registered_unit"]
        assert len(b["registered_unit"]) == 12 and b["registered_unit"].startswith(a_code)
        assert not b["registered_unit"].endswith("000")  # a village, not the county
        assert b["residence_unit"].startswith(b_code)
        assert b["sex"] == a["sex"]
        assert r["entity_id"].startswith(a_code)
        seen_reg.add((a_code, a["person_id"]))
        seen_res.add((b_code, b["person_id"]))
    assert len(seen_reg) == len(seen_res) == len(truth)  # one person, one record on each side
    assert kinds["floating_out"] > 3 * kinds["registered"] > 0


def test_nothing_else_points_at_a_sibling_county(data):
    """Only the shared people name a sibling county, so located out-migrants can be scored."""
    truth = {(r["residence_county"], int(r["residence_person_id"])) for r in data["truth"]}
    for code, persons in data["persons"].items():
        others = tuple(c for c in data["codes"] if c != code)
        for pid, p in persons.items():
            if (p["registered_unit"] or "").startswith(others):
                assert (code, pid) in truth
            assert not (p["residence_unit"] or "").startswith(others)


def _digits_differ(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def test_noise_between_the_two_records_at_the_stated_rates(data, three):
    persons = data["persons"]
    found = dict.fromkeys(NOISE, 0)
    for r in data["truth"]:
        a = persons[r["registered_county"]][int(r["registered_person_id"])]
        b = persons[r["residence_county"]][int(r["residence_person_id"])]
        if b["name"] != a["name"]:
            if len(b["name"]) == len(a["name"]) - 1:
                found["name_dropped_character"] += 1
                assert b["name"][0] == a["name"][0]
            elif to_traditional(a["name"]) == b["name"]:
                found["name_traditional"] += 1
            else:
                assert len(b["name"]) == len(a["name"]) and _digits_differ(b["name"], a["name"]) == 1
                found["name_homophone"] += 1
        if b["birth_date"] != a["birth_date"]:
            assert _digits_differ(b["birth_date"].strftime("%Y%m%d"), a["birth_date"].strftime("%Y%m%d")) == 1
            found["birth_date_digit"] += 1
        if b["id_number"] is None:
            found["id_missing"] += 1
        elif b["id_number"] != a["id_number"]:
            assert _digits_differ(b["id_number"], a["id_number"]) == 1
            assert check_character(b["id_number"][:17]) != b["id_number"][17]
            found["id_digit"] += 1
    drawn = {k: 0 for k in NOISE}
    for m in data["manifests"].values():
        mig = m["generator"]["parameters"]["migrants"]
        assert mig["noise_rates"] == NOISE
        for k, v in mig["noise_drawn"].items():
            drawn[k] += v
    assert found == drawn
    n = len(data["truth"])
    for kind, rate in NOISE.items():
        spread = 4 * math.sqrt(n * rate * (1 - rate)) + 2
        assert found[kind] <= n * rate + spread, kind
        # a name variant can be no different (no traditional form, no homophone, two characters)
        low = 0.3 if kind.startswith("name_") else 1.0
        assert found[kind] >= low * n * rate - spread, kind
    assert sum(found.values()) > 0.1 * n


def test_defect_truth_follows_the_noise(data, three):
    """A mistyped ID where the migrant lives is an id_checksum_error there, a missing one a
    missing_field (the documented rules)."""
    for r in data["truth"]:
        b_code, pid = r["residence_county"], int(r["residence_person_id"])
        b = data["persons"][b_code][pid]
        a = data["persons"][r["registered_county"]][int(r["registered_person_id"])]
        if b["id_number"] is None or b["id_number"] != a["id_number"] or b["birth_date"] != a["birth_date"]:
            with (three / b_code / "truth" / "defects.csv").open(encoding="utf-8") as f:
                kinds = {row["defect_type"] for row in csv.DictReader(f) if row["record_id"] == str(pid)}
            if b["id_number"] is None:
                assert "missing_field" in kinds
            elif b["id_number"] != a["id_number"]:
                assert "id_checksum_error" in kinds
            else:
                assert kinds == {"id_birthdate_mismatch"}


def test_optional_migration_columns(data):
    for persons in data["persons"].values():
        n_in = 0
        for p in persons.values():
            if p["status"] == "active" and p["residence_type"] == "floating_in":
                n_in += 1
                assert p["arrival_date"] is not None and p["arrival_date"] <= p["registered_date"]
                assert p["migration_reason"] in REASONS
                assert p["destination_code"] is None
            elif p["status"] == "active" and p["residence_type"] == "floating_out":
                assert p["migration_reason"] in REASONS
                assert p["destination_code"] == p["residence_unit"]
                assert p["arrival_date"] is None
            else:
                assert p["arrival_date"] is None and p["migration_reason"] is None and p["destination_code"] is None
        assert n_in > 500


def _file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_people(tmp_path, three):
    generate_counties(tmp_path / "a", seed=21, counties=3, persons=3000, progress=None)
    assert _file_hashes(tmp_path / "a") == _file_hashes(three)
    generate_counties(tmp_path / "b", seed=22, counties=2, persons=1000, progress=None)
    assert _truth(tmp_path / "b") != _truth(three)


#: The single-county default before multi-county runs existed (seed 7, 1,000 persons): the
#: SHA-256 of each truth CSV and of each table's schema and rows (so that a newer pyarrow
#: writing other bytes for the same content does not fail it).
DEFAULT_SEED7 = {
    "events.parquet": "4fbed031b7389a7e4fafe1750cafa97b5d03c40420065479b805919f85a36311",
    "households.parquet": "210bb10400def9768c4eb3d4c9eecccdac102f410f6a791a82caef20cd9ffaec",
    "persons.parquet": "c2e098d72ae5b9ad3ffa98b8e6b882418c45282f3ece7ddb36f569fc8139d24e",
    "sources/death_notices.parquet": "b45d67b3f2b22fbc52abae3e2a135ea5a6f850d83ffcc4a6711632c11837ba70",
    "sources/hospital_births.parquet": "7712bc8606e177faac4881b83e1463efde75ead436844052ebd7622653081356",
    "truth/defects.csv": "eda6233ae59cd6cd02ce4b8182bba596790f5c44de816247648a04b505534016",
    "truth/entities.csv": "f1263636eb01ef37f70e31e97bd63af1f9499a1b7affd462124effbc4c83b4f5",
    "truth/source_links.csv": "cda6318a885242fad9bccd215a363b24e94a64727cc1ef64585f1aa7d19bcd65",
    "truth/unrecorded_births.csv": "a03d0094611ef7b8de9452cd8309e0e40278d5a4be8e12d9b00283d67edb5add",
    "units.parquet": "35b29a0fc16699728c3bde6536d229f819ea188724d1aabcec7b37e6cc1e5509",
}


def _content_hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == "manifest.json":
            continue
        rel = p.relative_to(root).as_posix()
        if p.suffix == ".parquet":
            t = pq.read_table(p)
            text = json.dumps({"schema": [f"{f.name}:{f.type}" for f in t.schema], "rows": t.to_pylist()},
                              default=str, ensure_ascii=False, sort_keys=True)
            out[rel] = hashlib.sha256(text.encode()).hexdigest()
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_single_county_default_is_unchanged(tmp_path):
    generate(tmp_path, seed=7, persons=1000, progress=None)
    assert _content_hashes(tmp_path) == DEFAULT_SEED7
    assert read_manifest(tmp_path)["generator"] == {
        "name": "synth", "seed": 7, "version": 1,
        "parameters": {"county_code": "140122", "persons": 1000, "reference_moment": "2025-11-01T00:00:00",
                       "start": "2015-11-01", "townships": 1, "villages": 2},
    }


def test_command(tmp_path, capsys):
    out = tmp_path / "two"
    call_command("synth", "--seed", "3", "--counties", "2", "--persons", "1000", "--out", str(out))
    text = capsys.readouterr().out
    assert "2 counties written" in text and "shared migrants" in text
    assert sorted(p.name for p in out.iterdir()) == ["140121", "140122", "truth"]
    assert len(_truth(out)) > 20
    for bad in ("1", "21"):
        with pytest.raises(CommandError, match="2 to 20 counties"):
            call_command("synth", "--seed", "3", "--counties", bad, "--out", str(tmp_path / f"c{bad}"))
    with pytest.raises(CommandError, match="不为空"):
        call_command("synth", "--seed", "3", "--counties", "2", "--persons", "1000", "--out", str(out))
    with pytest.raises(CommandError, match="at most 2,000,000"):
        call_command("synth", "--seed", "3", "--counties", "3", "--persons", "700000", "--out", str(tmp_path / "big"))
    assert not (tmp_path / "big").exists()


def test_counties_option_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "synthetic-county.md").read_text(encoding="utf-8")
    assert "`--counties N`" in doc and "truth/migrants.csv" in doc
    for kind in NOISE:
        assert f"`{kind}`" in doc, kind
    fmt = (Path(__file__).resolve().parents[2] / "docs" / "snapshot-format.md").read_text(encoding="utf-8")
    for column in ("arrival_date", "migration_reason", "destination_code"):
        assert f"`{column}`" in fmt, column
