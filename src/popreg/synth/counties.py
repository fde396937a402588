"""Several synthetic counties that share migrants (``popreg synth --counties N``).

>>> generate_counties("var/two", seed=1, counties=2, persons=3000)

Each county is an ordinary synthetic county (``popreg.synth.generator.generate`` with its
own code, name and random streams) written to ``DIR/<6-digit county code>/``.  Then people
are shared: some people registered in county A actually live in a sibling county B.  In A
nothing changes (they stay ``floating_out`` with a stale or blank destination, or
``registered`` as if they had never left); in B one of the ``floating_in`` records drawn by
the generator becomes that person, as B's clerks recorded them: ``registered_unit`` is the
person's real village in A, and the name, birth date and ID number carry clerical noise at
the rates of :data:`NOISE` (the rates and the counts drawn go into each county's manifest).
``DIR/truth/migrants.csv`` lists every shared person with both record ids.

Sibling counties never draw each other as an outside origin or destination for anyone
else, so a record that points at a sibling county is a shared person.  B's truth of
defects is updated for the records that changed (a mistyped ID number is an
``id_checksum_error`` there, by the documented rules).
"""

from __future__ import annotations

import bisect
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from popreg.snapshot.format import read_manifest, table_path, write_manifest
from popreg.synth import ids
from popreg.synth import names as nm
from popreg.synth.generator import DEFAULT_REFERENCE, ROW_GROUP, County, generate
from popreg.synth.output import PERSON_SCHEMA
from popreg.synth.plan import COUNTY_CODE, COUNTY_NAME, DEFAULT_PERSONS

MAX_COUNTIES = 20
#: Most registered people of all counties together: sharing holds every county's persons in
#: memory (two default counties, 314,000 people, peak at about 850 MiB).
MAX_TOTAL_PERSONS = 2_000_000
#: The three 县 of 太原市 (Taiyuan), neighbours, all codes that never changed; further
#: counties are the other never-changed 县 codes in code order (山西 first, where it has any).
NEIGHBOURS = (COUNTY_CODE, "140121", "140123")

#: Share of a county's ``floating_out`` people (adults of family households without any
#: defect) who live in a sibling county, and share of its ``registered`` adults 16-55 who in
#: fact live in a sibling county although the registry does not know it.  Split evenly
#: over the sibling counties.
SHARE_FLOATING_OUT = 0.4
SHARE_REGISTERED = 0.01

#: Clerical noise of the record where the person lives, against the record where they are
#: registered (each line drawn independently per person; the name kinds exclude each other).
NOISE = {
    "name_traditional": 0.03,  # traditional characters (OpenCC), where the name has any
    "name_homophone": 0.04,  # one given-name character replaced by a homophone
    "name_dropped_character": 0.02,  # one given-name character left out (names of 3+ characters)
    "birth_date_digit": 0.02,  # one digit of the birth date wrong (still a valid date)
    "id_digit": 0.03,  # one digit of the ID number wrong
    "id_missing": 0.03,  # no ID number recorded
}

#: Reasons for migrating (docs/snapshot-format.md, ``migration_reason``) and their shares
#: among adults; children move with their family.
REASONS = ("work", "business", "study", "family", "other")
REASON_P = (0.55, 0.15, 0.05, 0.2, 0.05)

EXTRA_FIELDS = [
    pa.field("arrival_date", pa.date32()),
    pa.field("migration_reason", pa.string()),
    pa.field("destination_code", pa.string()),
]
MIGRANT_PERSON_SCHEMA = pa.schema([*PERSON_SCHEMA, *EXTRA_FIELDS])
MIGRANTS_HEADER = ("entity_id", "registered_county", "registered_person_id", "residence_county",
                   "residence_person_id")


def county_list(n: int) -> list[tuple[str, str]]:
    """``n`` distinct county codes and names: neighbours of one prefecture first."""
    if not 2 <= n <= MAX_COUNTIES:
        raise ValueError(f"--counties {n}: 2 到 {MAX_COUNTIES} 个县 / between 2 and {MAX_COUNTIES} counties")
    stable = dict(ids.stable_county_codes())
    order = [c for c in NEIGHBOURS if c in stable]
    rest = sorted((c for c in stable if c not in order), key=lambda c: (c[:2] != "14", c[:4] != "1401", c))
    codes = (order + rest)[:n]
    names = {COUNTY_CODE: COUNTY_NAME} | stable
    return [(c, names[c]) for c in codes]


@dataclass
class _Snapshot:
    code: str
    root: Path
    cols: dict[str, list[Any]]
    defects: list[list[str]]
    entities: dict[int, int]
    defective: set[int]
    index: dict[int, int] = field(default_factory=dict)

    @classmethod
    def read(cls, code: str, root: Path) -> _Snapshot:
        cols = pq.read_table(table_path(root, "persons")).to_pydict()
        with (root / "truth" / "defects.csv").open(encoding="utf-8", newline="") as f:
            defects = list(csv.reader(f))
        with (root / "truth" / "entities.csv").open(encoding="utf-8", newline="") as f:
            entities = {int(r["person_id"]): int(r["entity_id"]) for r in csv.DictReader(f)}
        defective = {int(r[0]) for r in defects[1:] if r[1] == "registry"}
        snap = cls(code, root, cols, defects, entities, defective)
        snap.index = {int(p): i for i, p in enumerate(cols["person_id"])}
        return snap


def _age(birth: date, at: date) -> int:
    return ids.age_at(birth, at)


def _origin_pools(s: _Snapshot, ref: date, shared_ids: set[str]) -> tuple[list[int], list[int]]:
    """Rows of people who may live in a sibling county: (floating_out, registered)."""
    c = s.cols
    households = pq.read_table(table_path(s.root, "households"), columns=["household_id", "kind"]).to_pydict()
    family = {h for h, k in zip(households["household_id"], households["kind"], strict=True) if k == "family"}
    per_entity = Counter(s.entities.values())
    fout: list[int] = []
    reg: list[int] = []
    for i, pid in enumerate(c["person_id"]):
        rtype = c["residence_type"][i]
        if c["status"][i] != "active" or rtype not in ("floating_out", "registered"):
            continue
        number, bd = c["id_number"][i], c["birth_date"][i]
        if (pid in s.defective or per_entity[s.entities[pid]] > 1 or not number or len(number) != 18
                or bd is None or not c["name"][i] or c["sex"][i] is None
                or c["household_id"][i] not in family or number in shared_ids):
            continue
        if rtype == "registered" and (c["residence_unit"][i] not in (None, c["registered_unit"][i])
                                      or not 16 <= _age(bd, ref) < 56):
            continue
        (fout if rtype == "floating_out" else reg).append(i)
    return fout, reg


def _slots(s: _Snapshot, ref: date) -> list[int]:
    """Rows of adult ``floating_in`` records without defects (people to be replaced)."""
    c = s.cols
    out = []
    for i, pid in enumerate(c["person_id"]):
        if (c["residence_type"][i] == "floating_in" and c["status"][i] == "active" and pid not in s.defective
                and c["birth_date"][i] is not None and _age(c["birth_date"][i], ref) >= 16):
            out.append(i)
    return out


def drop_character(name: str, rng: np.random.Generator) -> str:
    """The name with one given-name character left out (names of three or more characters)."""
    if len(name) < 3 or "·" in name:
        return name
    i = int(rng.integers(1, len(name)))
    return name[:i] + name[i + 1:]


def digit_off_date(d: date, rng: np.random.Generator, latest: date) -> date:
    """``d`` with one digit of YYYYMMDD changed, still a valid date not after ``latest``."""
    text = d.strftime("%Y%m%d")
    for _ in range(50):
        i = int(rng.integers(3, 8))
        digit = str((int(text[i]) + int(rng.integers(1, 10))) % 10)
        cand = text[:i] + digit + text[i + 1:]
        try:
            new = date(int(cand[:4]), int(cand[4:6]), int(cand[6:8]))
        except ValueError:
            continue
        if new != d and new <= latest:
            return new
    return d


def digit_off_id(number: str, rng: np.random.Generator) -> str:
    """One of the first 17 digits replaced by another (MOD 11-2 always catches it)."""
    i = int(rng.integers(0, 17))
    return number[:i] + str((int(number[i]) + int(rng.integers(1, 10))) % 10) + number[i + 1:]


def _noisy_copy(name: str, bd: date, number: str, rng: np.random.Generator, latest: date,
                drawn: Counter[str]) -> tuple[str, date, str | None]:
    u = rng.random()
    new_name = name
    p_trad, p_homo = NOISE["name_traditional"], NOISE["name_homophone"]
    if u < p_trad:
        new_name, kind = nm.to_traditional(name), "name_traditional"
    elif u < p_trad + p_homo:
        new_name, kind = nm.homophone_variant(name, rng), "name_homophone"
    elif u < p_trad + p_homo + NOISE["name_dropped_character"]:
        new_name, kind = drop_character(name, rng), "name_dropped_character"
    if new_name != name:
        drawn[kind] += 1
    new_bd = bd
    if rng.random() < NOISE["birth_date_digit"]:
        new_bd = digit_off_date(bd, rng, latest)
        if new_bd != bd:
            drawn["birth_date_digit"] += 1
    new_id: str | None = number
    u = rng.random()
    if u < NOISE["id_digit"]:
        new_id = digit_off_id(number, rng)
        drawn["id_digit"] += 1
    elif u < NOISE["id_digit"] + NOISE["id_missing"]:
        new_id = None
        drawn["id_missing"] += 1
    return new_name, new_bd, new_id


def _defect_kinds(number: str | None, bd: date | None, sex: str | None, name: str | None, ref: date) -> list[str]:
    kinds = ids.id_problems(number, bd, sex)
    if not name or sex is None or bd is None or (not number and _age(bd, ref) >= 16):
        kinds.append("missing_field")
    return kinds


def _migration_columns(s: _Snapshot, rng: np.random.Generator, ref: date) -> None:
    """arrival_date and migration_reason of floating_in records, migration_reason and
    destination_code of floating_out records."""
    c = s.cols
    n = len(c["person_id"])
    arrival: list[date | None] = [None] * n
    reason: list[str | None] = [None] * n
    dest: list[str | None] = [None] * n
    draws = rng.choice(len(REASONS), n, p=REASON_P)
    lag = rng.integers(0, 91, n)
    for i in range(n):
        rtype = c["residence_type"][i]
        if rtype not in ("floating_in", "floating_out") or c["status"][i] != "active":
            continue
        bd = c["birth_date"][i]
        child = bd is not None and _age(bd, ref) < 16
        reason[i] = "family" if child else REASONS[int(draws[i])]
        if rtype == "floating_in":
            registered = c["registered_date"][i]
            if registered is not None:
                day = registered - timedelta(days=int(lag[i]))
                # not before birth, where the record allows (some children's records were
                # opened before the recorded birth date)
                arrival[i] = max(day, bd) if bd is not None and bd <= registered else day
        else:
            dest[i] = c["residence_unit"][i]
    c["arrival_date"], c["migration_reason"], c["destination_code"] = arrival, reason, dest


def _insert_defects(rows: list[list[str]], new: list[tuple[int, str]]) -> list[list[str]]:
    """Registry defect rows added where the generator would have written them (by person id)."""
    if not new:
        return rows
    header, body = rows[0], rows[1:]
    positions = [k for k, r in enumerate(body) if r[1] == "registry"]
    keys = [int(body[k][0]) for k in positions]
    inserts: dict[int, list[list[str]]] = {}
    for pid, kind in sorted(new):
        at = bisect.bisect_right(keys, pid)
        where = positions[at] if at < len(positions) else len(body)
        inserts.setdefault(where, []).append([str(pid), "registry", kind])
    out = [header]
    for k in range(len(body) + 1):
        out.extend(inserts.get(k, []))
        if k < len(body):
            out.append(body[k])
    return out


def generate_counties(out_dir: str | Path, seed: int, counties: int, persons: int | None = None,
                      reference: datetime = DEFAULT_REFERENCE,
                      progress: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Write ``counties`` sibling county snapshots and ``truth/migrants.csv`` to ``out_dir``.

    Returns a summary: county codes, migrants per (registered, residence) pair, noise counts.
    """
    chosen = county_list(counties)
    total = counties * (DEFAULT_PERSONS if persons is None else persons)
    if total > MAX_TOTAL_PERSONS:
        raise ValueError(
            f"--counties {counties} × --persons {persons or DEFAULT_PERSONS}: 共 {total:,} 人，多县合成最多 "
            f"{MAX_TOTAL_PERSONS:,} 人，请减少县数或每县人数 / {total:,} persons in all; a multi-county run "
            f"takes at most {MAX_TOTAL_PERSONS:,}: give fewer counties or fewer persons per county"
        )
    codes = frozenset(code for code, _ in chosen)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for k, (code, name) in enumerate(chosen):
        if progress is not None:
            progress.write(f"synth: 县 county {k + 1}/{counties} {code} {name}\n")
        generate(root / code, seed, persons, reference, progress,
                 County(code=code, name=name, stream=(1000 + k,), excluded=codes - {code}))
    ref = reference.date()
    snaps = {code: _Snapshot.read(code, root / code) for code, _ in chosen}
    ids_seen: dict[str, set[str]] = {code: {x for x in s.cols["id_number"] if x} for code, s in snaps.items()}

    # who lives where: origin rows by destination county
    moves: list[tuple[str, int, str]] = []  # (origin code, origin row, destination code)
    for k, (code, _) in enumerate(chosen):
        others = [c for c, _ in chosen if c != code]
        shared = set().union(*(ids_seen[o] for o in others))
        fout, reg = _origin_pools(snaps[code], ref, shared)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 3, k]))
        for pool, share in ((fout, SHARE_FLOATING_OUT), (reg, SHARE_REGISTERED)):
            take = rng.permutation(np.asarray(pool, dtype=np.int64))[: round(share * len(pool))]
            dest = rng.integers(0, len(others), len(take))
            moves.extend((code, int(i), others[int(d)]) for i, d in zip(take, dest, strict=True))

    truth: list[tuple[str, str, int, str, int]] = []
    drawn: dict[str, Counter[str]] = {code: Counter() for code in codes}
    pairs: Counter[str] = Counter()
    new_defects: dict[str, list[tuple[int, str]]] = {code: [] for code in codes}
    for k, (code, _) in enumerate(chosen):
        s = snaps[code]
        rng = np.random.default_rng(np.random.SeedSequence([seed, 4, k]))
        slots = [int(i) for i in rng.permutation(np.asarray(_slots(s, ref), dtype=np.int64))]
        incoming = sorted((o, int(snaps[o].cols["person_id"][i]), i) for o, i, d in moves if d == code)
        if len(incoming) > len(slots):
            incoming = incoming[: len(slots)]
        c = s.cols
        for (origin, origin_pid, i), slot in zip(incoming, slots, strict=False):
            a = snaps[origin].cols
            name, bd, number = _noisy_copy(a["name"][i], a["birth_date"][i], a["id_number"][i], rng, ref,
                                           drawn[code])
            for col in ("sex", "ethnicity", "hukou_kind", "marital_status"):
                c[col][slot] = a[col][i]
            c["name"][slot], c["birth_date"][slot], c["id_number"][slot] = name, bd, number
            c["registered_unit"][slot] = a["registered_unit"][i]
            pid = int(c["person_id"][slot])
            new_defects[code].extend((pid, kind) for kind in _defect_kinds(number, bd, c["sex"][slot], name, ref))
            if number:
                ids_seen[code].add(number)
            entity = snaps[origin].entities[origin_pid]
            truth.append((f"{origin}-{entity}", origin, origin_pid, code, pid))
            pairs[f"{origin}>{code}"] += 1
            drawn[code]["migrants"] += 1

    # optional migration columns, copied from the registered record for a shared person
    for k, (code, _) in enumerate(chosen):
        _migration_columns(snaps[code], np.random.default_rng(np.random.SeedSequence([seed, 5, k])), ref)
    for _, origin, origin_pid, code, pid in truth:
        src, dst = snaps[origin], snaps[code]
        reason = src.cols["migration_reason"][src.index[origin_pid]]
        if reason is not None:
            dst.cols["migration_reason"][dst.index[pid]] = reason

    truth.sort(key=lambda r: (r[1], r[2]))
    (root / "truth").mkdir(exist_ok=True)
    with (root / "truth" / "migrants.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MIGRANTS_HEADER)
        w.writerows(truth)

    for code, name in chosen:
        s = snaps[code]
        pq.write_table(pa.Table.from_pydict(s.cols, schema=MIGRANT_PERSON_SCHEMA), table_path(s.root, "persons"),
                       compression="zstd", row_group_size=ROW_GROUP, write_statistics=True, store_schema=True)
        rows = _insert_defects(s.defects, new_defects[code])
        with (s.root / "truth" / "defects.csv").open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        manifest = read_manifest(s.root)
        gen = manifest["generator"]
        gen["parameters"] |= {
            "county_name": name,
            "counties": [c for c, _ in chosen],
            "migrants": {
                "share_floating_out": SHARE_FLOATING_OUT,
                "share_registered": SHARE_REGISTERED,
                "noise_rates": NOISE,
                "noise_drawn": {kind: drawn[code][kind] for kind in NOISE},
                "received": drawn[code]["migrants"],
                "sent": sum(n for pair, n in pairs.items() if pair.startswith(code + ">")),
            },
        }
        write_manifest(s.root, reference, {"generator": gen})
    return {"counties": [c for c, _ in chosen], "migrants": dict(sorted(pairs.items())), "total": len(truth),
            "noise": {code: dict(drawn[code]) for code in sorted(codes)}}


def read_migrants(out_dir: str | Path) -> Sequence[dict[str, str]]:
    with (Path(out_dir) / "truth" / "migrants.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
