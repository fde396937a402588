"""The contract of issue 11, end to end through the command line only.

Two sibling counties from ``popreg synth --counties 2``, each its own deployment (its own
SQLite database and key directory), exchange signed bundles: each loads its snapshot,
creates its identity, trusts the other, backfills its in-migrants and exports them; each
imports the other's bundle, the replies go back the same way; then in a ``popreg snapshot``
of each county the out-migrants who live in the other county are ``floating_out`` with a
residence unit in the other county, scored against ``truth/migrants.csv`` (precision 1.0,
recall at least 0.97).  A bundle imported twice applies nothing the second time; a bundle
with one altered byte is refused whole, with its reason, and changes nothing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

SEED = 20261204
PERSONS = 3000
SUMMARY_KEYS = {"applied", "duplicate", "refused", "unmatched", "stale"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POPREG_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@dataclass
class Deployment:
    code: str
    home: Path
    port: int

    @property
    def env(self) -> dict[str, str]:
        return _clean_env() | {
            "DATABASE_URL": f"sqlite:///{self.home / 'popreg.sqlite3'}",
            "POPREG_HOME": str(self.home),
            "POPREG_EXCHANGE_KEY_DIR": str(self.home / "exchange-keys"),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "popreg.cli", *args], env=self.env, cwd=self.home,
                              capture_output=True, text=True, timeout=600)
        print(f"  [{self.code}] popreg {' '.join(args[:2])}: {time.monotonic() - t0:.1f} s")
        if check and done.returncode != 0:
            raise AssertionError(f"[{self.code}] popreg {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def import_bundle(self, path: Path) -> dict[str, int]:
        done = self.run("exchange", "import", str(path))
        return _summary(done.stdout)

    def snapshot(self, out: Path) -> dict[int, dict]:
        self.run("snapshot", "--out", str(out))
        return {p["person_id"]: p for p in pq.read_table(out / "persons.parquet").to_pylist()}


def _summary(stdout: str) -> dict[str, int]:
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    assert lines, "the import printed nothing"
    summary = json.loads(lines[-1])
    assert set(summary) == SUMMARY_KEYS, lines[-1]
    return {k: int(v) for k, v in summary.items()}


def _altered_copy(src: Path, dst: Path) -> Path:
    """``src`` with one byte changed, in the middle, to another character of the same kind
    (so that the file still parses and only the signature can tell)."""
    data = bytearray(src.read_bytes())
    i = len(data) // 2
    while not chr(data[i]).isalnum():
        i += 1
    data[i] = ord("B") if data[i] == ord("A") else ord("A")
    dst.write_bytes(bytes(data))
    return dst


def _score(persons: dict[int, dict], truth: list[dict[str, str]], here: str, other: str,
           lives: dict[int, str]) -> tuple[float, float, int, int]:
    located = {pid for pid, p in persons.items()
               if p["status"] == "active" and p["residence_type"] == "floating_out"
               and (p["residence_unit"] or "").startswith(other)}
    # where they were located is the unit they live in over there (the sender's unit)
    for r in truth:
        pid = int(r["registered_person_id"])
        if r["registered_county"] == here and pid in located:
            assert persons[pid]["residence_unit"] == lives[int(r["residence_person_id"])], r
    wanted = {int(r["registered_person_id"]) for r in truth
              if r["registered_county"] == here and r["residence_county"] == other}
    hit = len(located & wanted)
    precision = hit / len(located) if located else 0.0
    recall = hit / len(wanted) if wanted else 0.0
    return precision, recall, len(located), len(wanted)


@pytest.mark.slow
def test_two_deployments_exchange_by_bundle(tmp_path):
    began = time.monotonic()
    synth = tmp_path / "synth"
    done = subprocess.run([sys.executable, "-m", "popreg.cli", "synth", "--seed", str(SEED), "--counties", "2",
                           "--persons", str(PERSONS), "--out", str(synth)],
                          env=_clean_env() | {"POPREG_HOME": str(tmp_path)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    codes = sorted(p.name for p in synth.iterdir() if p.name != "truth")
    assert len(codes) == 2
    with (synth / "truth" / "migrants.csv").open(encoding="utf-8", newline="") as f:
        truth = list(csv.DictReader(f))
    dep: dict[str, Deployment] = {}
    for code in codes:
        home = tmp_path / f"deploy-{code}"
        home.mkdir()
        dep[code] = Deployment(code, home, _free_port())
    a, b = codes
    other = {a: b, b: a}

    # one migration run; the second deployment starts from a copy of the migrated, empty database
    dep[a].run("migrate", "-v", "0")
    shutil.copyfile(dep[a].home / "popreg.sqlite3", dep[b].home / "popreg.sqlite3")
    for code, d in dep.items():
        d.run("load", str(synth / code))
        d.run("exchange", "identity", "--code", code, "--url", d.url, "--out", str(d.home / "identity.json"))
        ident = json.loads((d.home / "identity.json").read_text(encoding="utf-8"))
        assert ident["code"] == code and ident["public_jwk"]["crv"] == "Ed25519" and ident["thumbprint"]
        # the private key stays outside the database, in the deployment's key directory
        assert any((d.home / "exchange-keys").iterdir())
    for code, d in dep.items():
        d.run("exchange", "trust", str(dep[other[code]].home / "identity.json"))

    first: dict[str, Path] = {}
    for code, d in dep.items():
        d.run("exchange", "backfill", "--to", other[code])
        first[code] = d.home / f"to-{other[code]}-1.bundle"
        d.run("exchange", "export", "--to", other[code], "--out", str(first[code]))
        assert first[code].stat().st_size > 0

    # a bundle with one altered byte is refused whole, with its reason, and changes nothing
    before = dep[b].snapshot(tmp_path / "b-before")
    bad = _altered_copy(first[a], tmp_path / "altered.bundle")
    refused = dep[b].run("exchange", "import", str(bad), check=False)
    said = (refused.stdout + refused.stderr).strip()
    assert "拒收" in said or "refused" in said.lower(), said[-2000:]
    if refused.returncode == 0:
        assert _summary(refused.stdout)["applied"] == 0
    assert dep[b].snapshot(tmp_path / "b-after-altered") == before

    received: dict[str, dict[str, int]] = {}
    for code, d in dep.items():
        received[code] = d.import_bundle(first[other[code]])
        print(f"{code} imports {other[code]}'s bundle: {received[code]}")
        assert received[code]["applied"] > 0
        assert received[code]["refused"] == 0

    # the same bundle again: every message is a duplicate, nothing is applied
    again = dep[b].import_bundle(first[a])
    print(f"{b} imports {a}'s bundle again: {again}")
    assert again["applied"] == 0
    assert again["duplicate"] == sum(received[b].values())

    # after the import the replies to the sender are pending in the outbox: the next export
    # carries them (with the acks), and they go back the same way
    for code, d in dep.items():
        path = d.home / f"to-{other[code]}-2.bundle"
        exported = json.loads(d.run("exchange", "export", "--to", other[code], "--out", str(path))
                              .stdout.strip().splitlines()[-1])
        assert exported["messages"] >= received[code]["applied"], exported
        first[code] = path
    for code, d in dep.items():
        replies = d.import_bundle(first[other[code]])
        print(f"{code} imports {other[code]}'s replies: {replies}")
        assert replies["refused"] == 0

    figures = []
    for code, d in dep.items():
        persons = d.snapshot(tmp_path / f"final-{code}")
        there = pq.read_table(synth / other[code] / "persons.parquet", columns=["person_id", "residence_unit"])
        lives = dict(zip(there.column("person_id").to_pylist(), there.column("residence_unit").to_pylist(), strict=True))
        precision, recall, located, wanted = _score(persons, truth, code, other[code], lives)
        figures.append((code, precision, recall, located, wanted))
        print(f"{code}: out-migrants living in {other[code]}: {wanted} in truth, {located} located, "
              f"precision {precision:.3f}, recall {recall:.3f}")
    total_hit = sum(round(p * n) for _, p, _, n, _ in figures)
    total_wanted = sum(w for *_, w in figures)
    total_located = sum(n for *_, n, _ in figures)
    print(f"both counties: precision {total_hit / max(total_located, 1):.3f}, "
          f"recall {total_hit / max(total_wanted, 1):.3f} ({total_wanted} migrants); "
          f"{time.monotonic() - began:.0f} s")
    for code, precision, recall, located, wanted in figures:
        assert wanted > 50, code
        assert precision == 1.0, (code, precision, located, wanted)
        assert recall >= 0.97, (code, recall, located, wanted)
