"""The state of a township at the reference moment: migrants, pending cases, injected defects.

After the ten simulated years: soldiers back home are active again; some registered people
work elsewhere (``floating_out``); people registered elsewhere live here (``floating_in``);
a few foreigners; ``pending`` cases (old ones are defects, those under 180 days are not).
Then registry defects are injected into ordinary records: duplicates (a second, noisy
record of the same person), living away, ID errors, missing fields; and hard non-matches
(namesakes; twins come from the simulation).
"""

from __future__ import annotations

import numpy as np

from popreg.synth import ids
from popreg.synth import names as nm
from popreg.synth.township import (
    ACTIVE,
    FIN,
    FOREIGN,
    FOUT,
    MARRIED,
    PENDING,
    SINGLE,
    YEAR,
    Township,
)

#: rates of injected defects, per registered person present at the reference moment
RATES = {
    "living_away": 0.0022,
    "duplicate": 0.0016,
    "id_checksum_error": 0.0016,
    "id_birthdate_mismatch": 0.0016,
    "id_sex_mismatch": 0.0014,
    "missing_field": 0.002,
    "pending_old": 0.0016,
    "pending_recent": 0.0004,
    "namesake_pairs": 0.0008,
    "floating_out": 0.11,
}

_FOREIGN_NAMES = ("约翰·史密斯", "玛丽亚·加西亚", "阮氏·兰", "金·敏俊", "安娜·伊万诺娃", "穆罕默德·阿里", "朴·秀妍", "彼得·穆勒")


def finish(t: Township) -> None:
    rng, c = t.rng, t.c
    back = np.flatnonzero(c["away"] & (c["discharge"] >= 0) & (c["discharge"] < t.ref))
    c["away"][back] = False
    c["status"][back] = ACTIVE
    age = t.age(t.ref)

    # registered here, working elsewhere
    present = np.flatnonzero(t.present() & (age >= 16) & (age < 56) & (np.asarray(t.hh_kind)[c["hh"]] == 0))
    out = present[rng.random(len(present)) < RATES["floating_out"]]
    c["rtype"][out] = FOUT
    codes = t.outside_code(rng, len(out))
    codes[rng.random(len(out)) < 0.4] = None
    c["res_code"][out] = codes

    _floating_in(t)
    _foreign(t)
    _pending(t)
    _inject(t)


def _village_choice(t: Township, n: int, urban_weight: float) -> np.ndarray:
    w = t.vtarget * np.where(t.vurban, urban_weight, 1.0)
    return t.rng.choice(len(t.vcodes), n, p=w / w.sum())


def _floating_in(t: Township) -> None:
    rng, c = t.rng, t.c
    n = t.plan.floating_in
    if n == 0:
        return
    adult = rng.random(n) < 0.85
    age = np.where(adult, rng.uniform(16, 56, n), rng.uniform(0, 16, n))
    bd = (t.ref - age * YEAR).astype(np.int32)
    vil = _village_choice(t, n, 4.0)
    who = t.add(n, sex=(rng.random(n) < 0.45).astype(np.int8), bd=bd, rtype=FIN, res_vil=vil,
                eth=rng.choice(len(nm.ETHNICITIES), n, p=nm.ETHNICITY_P).astype(np.int8),
                sur=np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, n)],
                marital=np.where(age > 25, MARRIED, SINGLE), regdate=t.ref - rng.integers(10, 2500, n))
    t.born_elsewhere(who)
    c["reg_out"][who] = np.array([r + "000000" for r in c["region"][who]], dtype=object)
    t.name_people(who)
    t.assign_ids(who)


def _foreign(t: Township) -> None:
    rng, c = t.rng, t.c
    n = t.plan.foreign
    if n == 0:
        return
    vil = _village_choice(t, n, 10.0)
    who = t.add(n, sex=rng.integers(0, 2, n).astype(np.int8), bd=(t.ref - rng.uniform(20, 60, n) * YEAR).astype(np.int32),
                rtype=FOREIGN, vil=vil, eth=-1, regdate=t.ref - rng.integers(10, 1500, n))
    c["given"][who] = np.asarray(_FOREIGN_NAMES, dtype=object)[rng.integers(0, len(_FOREIGN_NAMES), n)]


def _pending(t: Township) -> None:
    rng = t.rng
    base = int(t.present().sum())
    n_old = int(rng.poisson(RATES["pending_old"] * base))
    n_new = int(rng.poisson(RATES["pending_recent"] * base))
    n = n_old + n_new
    if n == 0:
        return
    waited = np.concatenate([rng.integers(190, 2500, n_old), rng.integers(1, 171, n_new)])
    child = rng.random(n) < 0.3
    age = np.where(child, rng.uniform(0.6, 15, n), rng.uniform(18, 70, n))
    vil = _village_choice(t, n, 1.5)
    fam = np.flatnonzero(np.asarray(t.hh_kind) == 0)
    hh = np.full(n, -1, dtype=np.int64)
    for k in range(n):
        cand = fam[np.asarray(t.hh_vil)[fam] == vil[k]]
        if len(cand) and rng.random() < 0.5:
            hh[k] = int(cand[int(rng.integers(len(cand)))])
    who = t.add(n, sex=rng.integers(0, 2, n).astype(np.int8), bd=(t.ref - age * YEAR).astype(np.int32),
                rtype=PENDING, vil=vil, hh=hh, region=t.plan.region, regdate=t.ref - waited,
                sur=np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, n)],
                agri=t.agri_for(vil), eth=rng.choice(len(nm.ETHNICITIES), n, p=nm.ETHNICITY_P).astype(np.int8))
    t.name_people(who)
    with_id = who[~child]
    t.assign_ids(with_id)


def _inject(t: Township) -> None:
    rng, c = t.rng, t.c
    age = t.age(t.ref)
    pool = np.flatnonzero(t.present() & (np.asarray(t.hh_kind)[c["hh"]] == 0) & (age >= 1))
    pool = rng.permutation(pool)
    twins = {x for pair in t.twins for x in pair}
    pool = np.array([p for p in pool if p not in twins], dtype=np.int64)
    cursor = 0

    def take(rate: float) -> np.ndarray:
        nonlocal cursor
        k = min(int(rng.poisson(rate * len(pool))), len(pool) - cursor)
        out = pool[cursor : cursor + k]
        cursor += k
        return out

    # living away: registered here, actually living in another village of the township
    if len(t.vcodes) > 1:
        away = take(RATES["living_away"])
        dest = _village_choice(t, len(away), 3.0)
        clash = dest == c["vil"][away]
        dest[clash] = (dest[clash] + 1) % len(t.vcodes)
        c["res_vil"][away] = dest

    # duplicates: the same person registered a second time, with clerical noise
    dup = take(RATES["duplicate"])
    _duplicates(t, dup)
    t.null_name = np.zeros(t.n, dtype=bool)
    t.null_sex = np.zeros(t.n, dtype=bool)
    t.null_bd = np.zeros(t.n, dtype=bool)

    # ID errors and missing fields on the record itself
    for p in take(RATES["id_checksum_error"]):
        c["idn"][p] = ids.typo(str(c["idn"][p]), rng)
    for p in take(RATES["id_birthdate_mismatch"]):
        d = ids.to_date(int(c["bd"][p]))
        swapped = ids.swap_day_month(d)
        if swapped is None or rng.random() < 0.3:
            swapped = ids.to_date(int(c["bd"][p]) + int(rng.choice([-365, -1, 1, 365])))
        c["bd"][p] = ids.to_days(swapped)
    sexflip = take(RATES["id_sex_mismatch"])
    c["sex"][sexflip] = 1 - c["sex"][sexflip]
    for p in take(RATES["missing_field"]):
        u = rng.random()
        if u < 0.5 and age[p] >= 16.1:
            c["idn"][p] = None
        elif u < 0.7:
            t.null_name[p] = True
        elif u < 0.85:
            t.null_sex[p] = True
        else:
            t.null_bd[p] = True

    # namesakes: two different people, same common name, same sex and birth year
    rest = pool[cursor:]
    years = np.array([ids.to_date(int(d)).year for d in c["bd"][rest]])
    by_key: dict[tuple[int, int, str], list[int]] = {}
    for p, y in zip(rest.tolist(), years.tolist(), strict=True):
        s = str(c["sur"][p])
        if s in "张王李刘" and s and age[p] >= 18:
            by_key.setdefault((int(c["sex"][p]), y, s), []).append(p)
    want = int(rng.poisson(RATES["namesake_pairs"] * len(pool)))
    keys = [k for k, v in sorted(by_key.items()) if len(v) >= 2]
    rng.shuffle(keys)
    for key in keys[:want]:
        a, b = by_key[key][:2]
        if c["hh"][a] == c["hh"][b]:
            continue
        choices = [x for x in nm.COMMON_FULL_NAMES[key[0]] if x.startswith(key[2])]
        if not choices:
            continue
        full = choices[int(rng.integers(len(choices)))]
        for p in (a, b):
            c["sur"][p], c["given"][p] = full[0], full[1:]
        t.namesakes.append((a, b))


def _duplicates(t: Township, dup: np.ndarray) -> None:
    rng, c = t.rng, t.c
    k = len(dup)
    if k == 0:
        return
    nv = len(t.vcodes)
    other = np.where(rng.random(k) < 0.65, (c["vil"][dup] + rng.integers(1, max(nv, 2), k)) % nv, c["vil"][dup])
    fam = np.flatnonzero(np.asarray(t.hh_kind) == 0)
    hv = np.asarray(t.hh_vil)
    hh = np.empty(k, dtype=np.int64)
    for j in range(k):
        cand = fam[(hv[fam] == other[j]) & (fam != c["hh"][dup[j]])]
        hh[j] = int(cand[int(rng.integers(len(cand)))]) if len(cand) and rng.random() < 0.6 else -1
    new = hh < 0
    hh[new] = t.new_households(other[new])
    first = np.maximum(c["bd"][dup] + 30, ids.to_days(ids.date(1990, 1, 1)))
    regdate = first + (rng.random(k) * np.maximum(t.start - first, 1)).astype(np.int32)
    copy = t.add(k, sex=c["sex"][dup], bd=c["bd"][dup], region=c["region"][dup], idn=c["idn"][dup].copy(),
                 sur=c["sur"][dup], given=c["given"][dup], eth=c["eth"][dup], agri=c["agri"][dup],
                 marital=c["marital"][dup], vil=other, hh=hh, regdate=regdate)
    c["entity"][copy] = c["entity"][dup]
    for p in copy:
        u = rng.random()
        name = str(c["sur"][p]) + str(c["given"][p])
        if u < 0.35:
            variant = nm.homophone_variant(name, rng)
        elif u < 0.45:
            variant = nm.to_traditional(name)
        else:
            variant = name
        if variant != name:
            c["sur"][p], c["given"][p] = "", variant
        born = ids.to_date(int(c["bd"][p]))
        u = rng.random()
        if u < 0.15:
            c["idn"][p] = ids.typo(str(c["idn"][p]), rng)
        elif u < 0.3 and born.year < 2000:
            c["idn"][p] = ids.to_legacy15(str(c["idn"][p]))
        elif u < 0.42:
            c["idn"][p] = None
        elif u < 0.52:
            swapped = ids.swap_day_month(born)
            if swapped is not None:
                c["bd"][p] = ids.to_days(swapped)
