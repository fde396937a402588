"""Turn a finished township into snapshot rows: tables, outside sources and the truth.

The truth of the documented defect types is derived from the written records by the
definitions of ``docs/snapshot-format.md`` (so a record is listed exactly when it has the
documented form); only what the data cannot show is taken from the simulation: which
records are one person (duplicates) and who really died (death notices).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from popreg.snapshot.format import (
    EVENTS_SCHEMA,
    HOUSEHOLDS_SCHEMA,
    PERSONS_SCHEMA,
    RESIDENCE_TYPES,
    STATUSES,
)
from popreg.synth import ids
from popreg.synth import names as nm
from popreg.synth.township import (
    ACTIVE,
    DECEASED,
    EVENT_CODE,
    FOREIGN,
    FOUT,
    PENDING,
    REG,
    Township,
)

MARITAL = ("single", "married", "divorced", "widowed")
EVENT_NAMES = tuple(EVENT_CODE)

PERSON_SCHEMA = PERSONS_SCHEMA
HOUSEHOLD_SCHEMA = HOUSEHOLDS_SCHEMA
EVENT_SCHEMA = EVENTS_SCHEMA.append(pa.field("detail", pa.string()))
BIRTH_SCHEMA = pa.schema([
    ("record_id", pa.string()), ("hospital", pa.string()), ("birth_date", pa.date32()),
    ("child_sex", pa.string()), ("child_name", pa.string()), ("mother_name", pa.string()),
    ("mother_id_number", pa.string()), ("mother_birth_date", pa.date32()),
    ("father_name", pa.string()), ("address_unit", pa.string()),
])
DEATH_SCHEMA = pa.schema([
    ("record_id", pa.string()), ("notifier", pa.string()), ("name", pa.string()),
    ("sex", pa.string()), ("id_number", pa.string()), ("birth_date", pa.date32()),
    ("death_date", pa.date32()), ("address_unit", pa.string()),
])

#: years of outside sources before the reference moment
HOSPITAL_YEARS = 4
#: Share of the births of those years that the hospital source holds.
HOSPITAL_SHARE = 0.97
DEATH_NOTICE_YEARS = 3


@dataclass
class Counters:
    person: int = 1
    household: int = 1
    event: int = 1
    hospital: int = 1
    notice: int = 1


@dataclass
class TownshipRows:
    persons: pa.Table
    households: pa.Table
    events: pa.Table
    hospital_births: pa.Table
    death_notices: pa.Table
    entities: list[tuple[int, int]] = field(default_factory=list)
    defects: list[tuple[str, str, str]] = field(default_factory=list)
    links: list[tuple[str, str, int]] = field(default_factory=list)
    unrecorded_births: list[tuple[str, str, str, int]] = field(default_factory=list)


def _dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    mask = days < -100_000 if null is None else null
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def _opt_int(values: np.ndarray, base: int) -> pa.Array:
    return pa.array(values + base, type=pa.int64(), mask=values < 0)


def full_names(t: Township) -> np.ndarray:
    c = t.c
    return np.array([str(a) + str(b) for a, b in zip(c["sur"], c["given"], strict=True)], dtype=object)


def registered_codes(t: Township) -> np.ndarray:
    c = t.c
    return np.where(c["vil"] >= 0, t.vcodes[np.maximum(c["vil"], 0)], c["reg_out"])


def residence_codes(t: Township, reg: np.ndarray) -> np.ndarray:
    c = t.c
    res = np.where(c["res_vil"] >= 0, t.vcodes[np.maximum(c["res_vil"], 0)], reg)
    return np.where(c["rtype"] == FOUT, c["res_code"], res)


def registered_counts(t: Township) -> np.ndarray:
    """Registered population per village at the reference moment (the documented count)."""
    c = t.c
    counted = (c["status"] == ACTIVE) & np.isin(c["rtype"], (REG, FOUT)) & (c["vil"] >= 0)
    return np.bincount(c["vil"][counted], minlength=len(t.vcodes))


def build(t: Township, county_name: str, counters: Counters) -> TownshipRows:
    c = t.c
    n = t.n
    pid = np.arange(n, dtype=np.int64) + counters.person
    hid_base = counters.household
    ref_date = ids.to_date(t.ref)
    names = full_names(t)
    reg = registered_codes(t)
    res = residence_codes(t, reg)
    sex = np.where(c["sex"] == 0, "M", "F").astype(object)
    persons = pa.table({
        "person_id": pid,
        "household_id": _opt_int(c["hh"], hid_base),
        "name": pa.array(names, pa.string(), mask=t.null_name),
        "sex": pa.array(sex, pa.string(), mask=t.null_sex),
        "birth_date": _dates(c["bd"], t.null_bd),
        "id_number": pa.array(c["idn"], pa.string()),
        "registered_unit": pa.array(reg, pa.string()),
        "residence_unit": pa.array(res, pa.string()),
        "residence_type": pa.array(np.asarray(RESIDENCE_TYPES, dtype=object)[c["rtype"]], pa.string()),
        "status": pa.array(np.asarray(STATUSES, dtype=object)[c["status"]], pa.string()),
        "mother_id": _opt_int(c["mother"], counters.person),
        "father_id": _opt_int(c["father"], counters.person),
        "ethnicity": pa.array(np.asarray(nm.ETHNICITIES, dtype=object)[np.maximum(c["eth"], 0)], pa.string(), mask=c["eth"] < 0),
        "hukou_kind": pa.array(np.where(c["agri"], "agricultural", "non_agricultural").astype(object), pa.string(), mask=c["rtype"] == FOREIGN),
        "marital_status": pa.array(np.asarray(MARITAL, dtype=object)[c["marital"]], pa.string()),
        "death_date": _dates(c["death"], c["death"] < 0),
        "registered_date": _dates(c["regdate"]),
    }, schema=PERSON_SCHEMA)

    households = _households(t, pid, hid_base)
    events, enlisted = _events(t, pid, counters)
    rows = TownshipRows(persons, households, events, pa.table({}), pa.table({}))
    rows.entities = list(zip(pid.tolist(), (c["entity"] + counters.person).tolist(), strict=True))
    births, b_defects, b_links = _hospital_births(t, pid, county_name, counters, rows.unrecorded_births)
    notices, dead_active, d_links = _death_notices(t, pid, counters)
    rows.hospital_births, rows.death_notices = births, notices
    rows.links = b_links + d_links
    rows.defects = b_defects + _registry_defects(t, pid, reg, res, enlisted, dead_active, ref_date)
    counters.person += n
    counters.household += len(t.hh_vil)
    return rows


def _households(t: Township, pid: np.ndarray, hid_base: int) -> pa.Table:
    c = t.c
    n_hh = len(t.hh_vil)
    hv = np.asarray(t.hh_vil, dtype=np.int64)
    kind = np.asarray(t.hh_kind)
    # head: the oldest active member who lives in the household's unit
    member = np.flatnonzero((c["hh"] >= 0) & (c["status"] == ACTIVE) & np.isin(c["rtype"], (REG, FOUT, PENDING)))
    order = member[np.lexsort((c["bd"][member], c["hh"][member]))]
    head = np.full(n_hh, -1, dtype=np.int64)
    hh_of = c["hh"][order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = hh_of[1:] != hh_of[:-1]
    head[hh_of[first]] = order[first]
    vnames = np.array([v.name for v in t.plan.villages], dtype=object)
    hid = np.arange(n_hh, dtype=np.int64) + hid_base
    door = t.rng.integers(1, 300, n_hh)
    grp = t.rng.integers(1, 12, n_hh)
    urban = t.vurban[hv]
    address = np.array([
        f"{vn}{g}号楼{d}号" if u else f"{vn}{g}组{d}号"
        for vn, g, d, u in zip(vnames[hv], grp, door, urban, strict=True)
    ], dtype=object)
    address[kind == 1] = [f"{vn}集体户" for vn in vnames[hv[kind == 1]]]
    # A household whose last member left (married into another, moved with a new household,
    # a duplicate placed elsewhere) was dissolved (销户): it is not written.  Numbers stay
    # as drawn (no other row changes); only households nobody belongs to are left out.
    kept = np.zeros(n_hh, dtype=bool)
    kept[c["hh"][c["hh"] >= 0]] = True
    return pa.table({
        "household_id": hid[kept],
        "household_no": pa.array([f"{100_000_000 + h:09d}" for h in hid[kept].tolist()], pa.string()),
        "unit_code": pa.array(t.vcodes[hv[kept]], pa.string()),
        "kind": pa.array(np.where(kind[kept] == 1, "collective", "family").astype(object), pa.string()),
        "address": pa.array(address[kept], pa.string()),
        "head_person_id": pa.array(np.where(head[kept] >= 0, head[kept] + pid[0], 0), pa.int64(),
                                   mask=head[kept] < 0),
    }, schema=HOUSEHOLD_SCHEMA)


def _events(t: Township, pid: np.ndarray, counters: Counters) -> tuple[pa.Table, set[int]]:
    ev = t.ev
    if not ev["pid"]:
        return EVENT_SCHEMA.empty_table(), set()
    who = np.concatenate(ev["pid"])
    typ = np.concatenate(ev["type"])
    day = np.concatenate(ev["date"])
    rec = np.concatenate(ev["rec"])
    unit = np.concatenate(ev["unit"])
    frm = np.concatenate(ev["frm"])
    to = np.concatenate(ev["to"])
    detail = np.concatenate(ev["detail"])
    # events recorded after the reference moment are not in the registry yet
    keep = rec <= t.ref
    order = np.flatnonzero(keep)[np.lexsort((typ[keep], who[keep], day[keep]))]
    m = len(order)
    # map spouse ids in details from local numbers to person ids
    det = detail[order]
    for i, d in enumerate(det):
        if d is not None and '"spouse_id": ' in d:
            obj = json.loads(d)
            if obj.get("spouse_id") is not None:
                obj["spouse_id"] = int(obj["spouse_id"]) + int(pid[0])
            det[i] = json.dumps(obj, ensure_ascii=False)
    table = pa.table({
        "event_id": np.arange(m, dtype=np.int64) + counters.event,
        "person_id": pid[who[order]],
        "event_type": pa.array(np.asarray(EVENT_NAMES, dtype=object)[typ[order]], pa.string()),
        "event_date": _dates(day[order]),
        "recorded_date": _dates(rec[order]),
        "unit_code": pa.array(unit[order], pa.string()),
        "from_unit": pa.array(frm[order], pa.string()),
        "to_unit": pa.array(to[order], pa.string()),
        "detail": pa.array(det, pa.string()),
    }, schema=EVENT_SCHEMA)
    counters.event += m
    # enlisted and not discharged afterwards (by the documented rule)
    last_enlist: dict[int, int] = {}
    last_discharge: dict[int, int] = {}
    for p, ty, d in zip(who[keep].tolist(), typ[keep].tolist(), day[keep].tolist(), strict=True):
        if ty == EVENT_CODE["enlistment"]:
            last_enlist[p] = max(d, last_enlist.get(p, d))
        elif ty == EVENT_CODE["discharge"]:
            last_discharge[p] = max(d, last_discharge.get(p, d))
    enlisted = {p for p, d in last_enlist.items() if last_discharge.get(p, -10**9) < d}
    return table, enlisted


def _noisy_date(d: date | None, rng: np.random.Generator, p_swap: float, p_missing: float) -> date | None:
    if d is None:
        return None
    u = rng.random()
    if u < p_missing:
        return None
    if u < p_missing + p_swap:
        return ids.swap_day_month(d) or d
    return d


def _noisy_id(number: str | None, rng: np.random.Generator, p_typo: float, p_missing: float) -> str | None:
    if not number:
        return None
    u = rng.random()
    if u < p_missing:
        return None
    if u < p_missing + p_typo and len(number) == 18:
        return ids.typo(number, rng)
    return number


def _true_name(t: Township, p: int) -> str:
    return str(t.c["sur"][p]) + str(t.c["given"][p])


def _hospital_births(t: Township, pid: np.ndarray, county: str, counters: Counters,
                     unrecorded: list[tuple[str, str, str, int]]) -> tuple[pa.Table, list[tuple[str, str, str]], list[tuple[str, str, int]]]:
    """Hospital birth records of the last ``HOSPITAL_YEARS`` years; births on no list at
    all (never registered, not in the source) are appended to ``unrecorded``."""
    rng, c = t.rng, t.c
    since = t.ref - HOSPITAL_YEARS * 365
    hospitals = (f"{county}人民医院", f"{county}妇幼保健院", f"{county}中医医院", f"{t.plan.name}卫生院")
    rows: list[tuple[int, int, int, int, str | None, int]] = []  # child, mother, father, date, name, sex
    for child, mother, father, day, sx in t.births:
        if day >= since and rng.random() < HOSPITAL_SHARE:
            rows.append((child, mother, father, day, None, sx))
    # An unregistered birth reaches the hospital source as often as a registered one (the
    # two lists are independent, as dual-system estimation assumes); the others are on no
    # list at all.  Drawn from a stream of their own so that the rest stays as it was.
    ghost_rng = np.random.default_rng(t.rng.bit_generator.seed_seq.spawn(1)[0])  # type: ignore[attr-defined]
    for mother, father, day, sx, name in t.ghosts:
        in_source = ghost_rng.random() < HOSPITAL_SHARE
        if since <= day < t.ref and in_source:
            rows.append((-1, mother, father, day, name, sx))
        elif day < t.ref:
            vil = int(c["vil"][mother])
            unrecorded.append((ids.to_date(day).isoformat(), str(t.vcodes[vil]) if vil >= 0 else "",
                               "M" if sx == 0 else "F", int(pid[mother])))
    rows.sort(key=lambda r: (r[3], r[1], r[0]))
    out: dict[str, list[object]] = {k: [] for k in BIRTH_SCHEMA.names}
    defects: list[tuple[str, str, str]] = []
    links: list[tuple[str, str, int]] = []
    for child, mother, father, day, ghost_name, sx in rows:
        rid = f"HB{counters.hospital:09d}"
        counters.hospital += 1
        born = ids.to_date(day)
        child_name = ghost_name if child < 0 else _true_name(t, child)
        mbd = ids.to_date(int(c["bd"][mother]))
        out["record_id"].append(rid)
        out["hospital"].append(hospitals[int(rng.choice(4, p=[0.45, 0.3, 0.1, 0.15]))])
        out["birth_date"].append(_noisy_date(born, rng, 0.01, 0.0))
        out["child_sex"].append("M" if sx == 0 else "F")
        out["child_name"].append(nm.noisy_name(child_name, rng, 0.05, 0.02) if rng.random() < 0.35 else None)
        out["mother_name"].append(nm.noisy_name(_true_name(t, mother), rng, 0.06, 0.03))
        out["mother_id_number"].append(_noisy_id(c["idn"][mother], rng, 0.03, 0.04))
        out["mother_birth_date"].append(_noisy_date(mbd, rng, 0.02, 0.03))
        out["father_name"].append(nm.noisy_name(_true_name(t, father), rng, 0.04, 0.02) if father >= 0 and rng.random() < 0.8 else None)
        out["address_unit"].append(t.vcodes[c["vil"][mother]] if rng.random() >= 0.05 else None)
        if child < 0:
            defects.append((rid, "hospital_births", "unregistered_birth"))
        else:
            links.append(("hospital_births", rid, int(pid[child])))
    return pa.table(out, schema=BIRTH_SCHEMA), defects, links


def _death_notices(t: Township, pid: np.ndarray, counters: Counters) -> tuple[pa.Table, set[int], list[tuple[str, str, int]]]:
    rng, c = t.rng, t.c
    since = t.ref - DEATH_NOTICE_YEARS * 365
    known = np.flatnonzero((c["status"] == DECEASED) & (c["death"] >= since))
    known = known[rng.random(len(known)) < 0.9]
    hidden = np.flatnonzero((c["hidden_death"] >= since) & (c["hidden_death"] < t.ref))
    subjects = [(int(p), int(c["death"][p])) for p in known] + [(int(p), int(c["hidden_death"][p])) for p in hidden]
    # people who died here but were never registered here (travellers, patients from elsewhere)
    n_out = int(rng.poisson(0.04 * max(len(subjects), 1)))
    out_bd = (since - rng.uniform(30, 90, n_out) * 365.25).astype(int)
    out_region = ids.outside_regions(rng, np.array([ids.to_date(int(d)).year for d in out_bd]), t.plan.native_regions)
    out_sex = rng.integers(0, 2, n_out)
    out_names = np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, n_out)] + nm.draw_given(
        rng, out_sex, np.array([ids.to_date(int(d)).year for d in out_bd]))
    for k in range(n_out):
        subjects.append((-1 - k, int(since + rng.integers(0, t.ref - since))))
    subjects.sort(key=lambda s: (s[1], s[0]))
    out: dict[str, list[object]] = {k: [] for k in DEATH_SCHEMA.names}
    dead_active: set[int] = set()
    links: list[tuple[str, str, int]] = []
    for p, day in subjects:
        rid = f"DN{counters.notice:09d}"
        counters.notice += 1
        if p >= 0:
            name, sx = _true_name(t, p), int(c["sex"][p])
            number, bd = c["idn"][p], ids.to_date(int(c["bd"][p]))
            links.append(("death_notices", rid, int(pid[p])))
            if c["status"][p] == ACTIVE:
                dead_active.add(p)
        else:
            k = -1 - p
            name, sx, bd = str(out_names[k]), int(out_sex[k]), ids.to_date(int(out_bd[k]))
            number = ids.compose_many(out_region[k : k + 1], out_bd[k : k + 1], np.array([990 + 2 * (k % 5) + (1 - sx)]))[0]
        out["record_id"].append(rid)
        out["notifier"].append(("hospital", "civil_affairs", "crematorium")[int(rng.choice(3, p=[0.4, 0.3, 0.3]))])
        out["name"].append(nm.noisy_name(name, rng, 0.07, 0.03))
        out["sex"].append(None if rng.random() < 0.02 else ("M" if sx == 0 else "F"))
        out["id_number"].append(_noisy_id(number, rng, 0.03, 0.06))
        out["birth_date"].append(_noisy_date(bd, rng, 0.02, 0.04))
        out["death_date"].append(ids.to_date(day))
        vil = int(c["vil"][p]) if p >= 0 and c["vil"][p] >= 0 else int(c["res_vil"][p]) if p >= 0 else int(rng.integers(len(t.vcodes)))
        out["address_unit"].append(t.vcodes[vil] if vil >= 0 and rng.random() >= 0.08 else None)
    return pa.table(out, schema=DEATH_SCHEMA), dead_active, links


def _registry_defects(t: Township, pid: np.ndarray, reg: np.ndarray, res: np.ndarray,
                      enlisted: set[int], dead_active: set[int], ref: date) -> list[tuple[str, str, str]]:
    c = t.c
    out: list[tuple[str, str, str]] = []
    active = c["status"] == ACTIVE
    # duplicates: every active record of an entity with two or more active records
    ent = c["entity"][active]
    uniq, counts = np.unique(ent, return_counts=True)
    multi = set(uniq[counts >= 2].tolist())
    found: dict[int, list[str]] = {}
    for p in np.flatnonzero(active):
        kinds = found.setdefault(int(p), [])
        if int(c["entity"][p]) in multi:
            kinds.append("duplicate")
        rtype = int(c["rtype"][p])
        if rtype == REG and res[p] is not None and res[p] != reg[p]:
            kinds.append("living_away")
        if int(p) in dead_active:
            kinds.append("death_not_deregistered")
        if int(p) in enlisted:
            kinds.append("enlisted_not_deregistered")
        if rtype == PENDING and t.ref - int(c["regdate"][p]) > 180:
            kinds.append("pending_registration")
        if rtype == FOREIGN:
            continue
        bd = None if t.null_bd[p] else ids.to_date(int(c["bd"][p]))
        sx = None if t.null_sex[p] else ("M" if c["sex"][p] == 0 else "F")
        number = c["idn"][p]
        kinds.extend(ids.id_problems(number, bd, sx))
        if t.null_name[p] or sx is None or bd is None or (not number and ids.age_at(bd, ref) >= 16):
            kinds.append("missing_field")
    for p, kinds in found.items():
        for k in kinds:
            out.append((str(int(pid[p])), "registry", k))
    return out
