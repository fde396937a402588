"""One township of the synthetic county: its people, households and ten years of events.

A township is generated on its own (people marry, move and transfer inside it, or to and
from outside the county), which lets the generator stream a county of millions township
by township.  State is kept in numpy columns indexed by a local person number; relations
(mother, father, spouse, duplicate entity) are local numbers too.

Simulation: the population of the start moment (ten years before the reference moment) is
drawn from the 2010 census shape and assembled into households (couples, their children,
widowed parents, people living alone; school and factory collective households).  Then ten
one-year steps: deaths, births, marriages, divorces, moves out and in, transfers between
villages, enlistment and discharge, corrections; each event has a date and a recorded date
(late registration happens).  Events whose recording would fall after the reference moment
are not in the registry, which is where part of the defects come from (deaths not yet
deregistered, births not yet registered).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import numpy as np

from popreg.synth import demography as demo
from popreg.synth import ids
from popreg.synth import names as nm
from popreg.synth.plan import START_SHARE, TownshipPlan

REG, FIN, FOUT, FOREIGN, PENDING = range(5)
ACTIVE, DECEASED, EMIGRATED, DEREG = range(4)
SINGLE, MARRIED, DIVORCED, WIDOWED = range(4)
YEAR = 365.2425

_COLS: dict[str, tuple[type, object]] = {
    "sur": (object, ""),
    "given": (object, ""),
    "sex": (np.int8, 0),
    "bd": (np.int32, 0),
    "eth": (np.int8, 0),
    "agri": (np.bool_, True),
    "marital": (np.int8, SINGLE),
    "spouse": (np.int64, -1),
    "mother": (np.int64, -1),
    "father": (np.int64, -1),
    "region": (object, ""),
    "idn": (object, None),
    "rtype": (np.int8, REG),
    "status": (np.int8, ACTIVE),
    "vil": (np.int32, -1),
    "hh": (np.int64, -1),
    "res_code": (object, None),  # residence outside the township's villages (code or None)
    "res_vil": (np.int32, -1),  # residence village when it differs from the registered one
    "reg_out": (object, None),  # registered unit of floating_in persons (outside the county)
    "death": (np.int32, -1),
    "hidden_death": (np.int32, -1),  # died, but the registry does not know it
    "regdate": (np.int32, 0),
    "away": (np.bool_, False),  # left the simulation (dead unknown to the registry, soldier)
    "discharge": (np.int32, -1),
    "entity": (np.int64, -1),
    "birth_unregistered": (np.bool_, False),
}

EVENT_CODE = {
    name: i
    for i, name in enumerate(
        ("birth", "death", "move_in", "move_out", "transfer", "marriage", "divorce",
         "enlistment", "discharge", "correction")
    )
}


def _lag(rng: np.random.Generator, n: int, quick: tuple[int, int], late_share: float, late: tuple[int, int]) -> np.ndarray:
    out = rng.integers(quick[0], quick[1], n)
    is_late = rng.random(n) < late_share
    out[is_late] = rng.integers(late[0], late[1], int(is_late.sum()))
    return out.astype(np.int32)


class Township:
    """State and history of one township.  Call :meth:`run` once."""

    def __init__(self, plan: TownshipPlan, start: date, reference: date, seed: np.random.SeedSequence,
                 outside_code: Callable[[np.random.Generator, int], np.ndarray]) -> None:
        self.plan = plan
        self.rng = np.random.default_rng(seed)
        self.start = ids.to_days(start)
        self.ref = ids.to_days(reference)
        self.vcodes = np.array([v.code for v in plan.villages], dtype=object)
        self.vtarget = np.array([v.target for v in plan.villages], dtype=float)
        self.vurban = np.array([v.urban for v in plan.villages])
        self.c: dict[str, np.ndarray] = {k: np.empty(0, dtype=t) for k, (t, _) in _COLS.items()}
        self.n = 0
        self.hh_vil: list[int] = []
        self.hh_kind: list[int] = []
        self.ev: dict[str, list[np.ndarray]] = {k: [] for k in ("pid", "type", "date", "rec", "unit", "frm", "to", "detail")}
        self.used_seq: dict[tuple[str, int], int] = {}
        self.ghosts: list[tuple[int, int, int, int, str]] = []  # mother, father, date, sex, name
        self.births: list[tuple[int, int, int, int, int]] = []  # child, mother, father, date, sex
        self.outside_code = outside_code
        self.twins: list[tuple[int, int]] = []
        self.namesakes: list[tuple[int, int]] = []
        self.null_name = np.zeros(0, dtype=bool)
        self.null_sex = np.zeros(0, dtype=bool)
        self.null_bd = np.zeros(0, dtype=bool)

    # -- storage ---------------------------------------------------------------------------

    def add(self, n: int, **cols: object) -> np.ndarray:
        idx = np.arange(self.n, self.n + n)
        for k, (t, default) in _COLS.items():
            value = cols.get(k, default)
            arr = np.empty(n, dtype=t)
            if t is object and not isinstance(value, np.ndarray):
                arr[:] = [value] * n
            else:
                arr[:] = value  # type: ignore[call-overload]
            self.c[k] = np.concatenate([self.c[k], arr])
        self.c["entity"][idx] = idx
        self.n += n
        return idx

    def new_households(self, vil: np.ndarray, kind: int = 0) -> np.ndarray:
        start = len(self.hh_vil)
        self.hh_vil.extend(int(v) for v in vil)
        self.hh_kind.extend([kind] * len(vil))
        return np.arange(start, start + len(vil), dtype=np.int64)

    def event(self, pid: np.ndarray, kind: str, day: np.ndarray, rec: np.ndarray, unit: object,
              frm: object = None, to: object = None, detail: object = None) -> None:
        n = len(pid)
        if n == 0:
            return
        self.ev["pid"].append(np.asarray(pid, dtype=np.int64))
        self.ev["type"].append(np.full(n, EVENT_CODE[kind], dtype=np.int8))
        self.ev["date"].append(np.broadcast_to(np.asarray(day, dtype=np.int32), (n,)).copy())
        self.ev["rec"].append(np.broadcast_to(np.asarray(rec, dtype=np.int32), (n,)).copy())
        for key, value in (("unit", unit), ("frm", frm), ("to", to), ("detail", detail)):
            arr = np.empty(n, dtype=object)
            if isinstance(value, np.ndarray):
                arr[:] = value
            else:
                arr[:] = [value] * n
            self.ev[key].append(arr)

    def assign_ids(self, idx: np.ndarray) -> None:
        c = self.c
        seq = ids.assign_sequences(c["region"][idx], c["bd"][idx], c["sex"][idx], self.plan.block, self.used_seq)
        c["idn"][idx] = ids.compose_many(c["region"][idx], c["bd"][idx], seq)

    def name_people(self, idx: np.ndarray) -> None:
        c = self.c
        years = np.array([ids.to_date(d).year for d in c["bd"][idx]])
        c["given"][idx] = nm.draw_given(self.rng, c["sex"][idx], years)
        for k, group in nm.DOTTED_ETHNIC.items():
            code = nm.ETHNICITIES.index(k)
            dotted = idx[(c["eth"][idx] == code) & (self.rng.random(len(idx)) < 0.7)]
            for i in dotted:
                c["sur"][i] = ""
                c["given"][i] = nm.dotted_name(group, self.rng)

    def born_elsewhere(self, idx: np.ndarray) -> None:
        years = np.array([ids.to_date(d).year for d in self.c["bd"][idx]])
        self.c["region"][idx] = ids.outside_regions(self.rng, years, self.plan.native_regions)

    def agri_for(self, vil: np.ndarray) -> np.ndarray:
        seat = self.plan.seat
        p_non = np.where(self.vurban[vil], 0.4 if seat else 0.2, 0.05 if seat else 0.02)
        return np.asarray(self.rng.random(len(vil)) >= p_non)

    def present(self) -> np.ndarray:
        c = self.c
        return (c["status"] == ACTIVE) & (c["rtype"] == REG) & ~c["away"]

    def clip_recorded(self, day: np.ndarray, rec: np.ndarray) -> np.ndarray:
        """Recorded dates that would fall after the reference moment are drawn again before it."""
        late = rec >= self.ref
        if late.any():
            room = np.maximum(self.ref - day[late], 1)
            rec = rec.copy()
            rec[late] = day[late] + (self.rng.random(int(late.sum())) * room).astype(np.int32)
        return rec

    def age(self, at: int) -> np.ndarray:
        return (at - self.c["bd"]) / YEAR

    # -- the start population ----------------------------------------------------------------

    def initial_population(self) -> None:
        rng, c = self.rng, self.c
        start_targets = np.round(self.vtarget * START_SHARE).astype(int)
        n = int(start_targets.sum())
        male, female = demo.census_shape()
        cells = rng.choice(210, n, p=np.concatenate([male, female]))
        sex = (cells >= 105).astype(np.int8)
        age_days = (cells % 105) * YEAR + rng.random(n) * YEAR
        bd = (self.start - age_days).astype(np.int32)
        idx = self.add(n, sex=sex, bd=bd, region=self.plan.region)
        age = age_days / YEAR
        free = np.ones(n, dtype=bool)

        # collective households: boarding schools and factory dormitories
        collectives: list[tuple[int, np.ndarray]] = []
        specs = [(13, 19, 0.012)] if n > 2500 else []
        if self.plan.seat:
            specs = [(13, 19, 0.009), (13, 19, 0.007), (18, 41, 0.006), (18, 41, 0.005), (18, 41, 0.004)]
        big = np.argsort(-self.vtarget, kind="stable")
        for k, (lo, hi, share) in enumerate(specs):
            pool = np.flatnonzero(free & (age >= lo) & (age < hi))
            members = rng.choice(pool, min(len(pool), int(n * share)), replace=False)
            free[members] = False
            collectives.append((int(big[k % len(big)]), members))

        p_married = np.where(
            sex == 1,
            np.select([age < 20, age < 25, age < 30, age < 60, age < 70, age < 80], [0, 0.35, 0.8, 0.93, 0.85, 0.62], 0.35),
            np.select([age < 22, age < 25, age < 30, age < 40, age < 60, age < 70, age < 80], [0, 0.2, 0.65, 0.88, 0.92, 0.88, 0.78], 0.55),
        )
        married = free & (rng.random(n) < p_married)
        women = np.flatnonzero(married & (sex == 1))
        men = np.flatnonzero(married & (sex == 0))
        k = min(len(women), len(men))
        women = rng.choice(women, k, replace=False)
        men = rng.choice(men, k, replace=False)
        women = women[np.argsort(age[women] + rng.normal(2.5, 2.0, k), kind="stable")]
        men = men[np.argsort(age[men], kind="stable")]
        couple_hh = self.new_households(np.zeros(k, dtype=int))
        c["hh"][men] = couple_hh
        c["hh"][women] = couple_hh
        c["spouse"][men] = women
        c["spouse"][women] = men
        c["marital"][men] = MARRIED
        c["marital"][women] = MARRIED
        c["sur"][idx] = np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, n)]
        free[men] = False
        free[women] = False

        # many young couples live with the husband's parents (three generations)
        young = np.flatnonzero(age[men] < 38)
        young = young[rng.random(len(young)) < 0.45]
        order = np.argsort(bd[women], kind="stable")
        wbd = bd[women][order]
        h = men[young]
        lo = np.searchsorted(wbd, bd[h] - int(40 * YEAR))
        hi = np.searchsorted(wbd, bd[h] - int(20 * YEAR))
        has = hi > lo
        pick = order[(lo + np.floor(rng.random(len(h)) * np.maximum(hi - lo, 1))).astype(int)[has]]
        yc = young[has]
        c["hh"][men[yc]] = couple_hh[pick]
        c["hh"][women[yc]] = couple_hh[pick]
        c["mother"][men[yc]] = women[pick]
        c["father"][men[yc]] = men[pick]
        c["sur"][men[yc]] = c["sur"][men[pick]]
        couple_hh = c["hh"][men]

        # children (and some young adults) live with a couple whose wife could be their mother
        order = np.argsort(bd[women], kind="stable")
        wbd = bd[women][order]
        kids = np.flatnonzero(free & ((age < 24) | ((age < 34) & (rng.random(n) < 0.6))))
        lo = np.searchsorted(wbd, bd[kids] - int(40 * YEAR))
        hi = np.searchsorted(wbd, bd[kids] - int(20 * YEAR))
        has = hi > lo
        pick = order[(lo + np.floor(rng.random(len(kids)) * np.maximum(hi - lo, 1))).astype(int)[has]]
        kk = kids[has]
        c["hh"][kk] = couple_hh[pick]
        c["mother"][kk] = women[pick]
        c["father"][kk] = men[pick]
        keep_father = rng.random(len(kk)) < 0.92
        c["sur"][kk] = np.where(keep_father, c["sur"][men[pick]], c["sur"][women[pick]])
        free[kk] = False
        orphans = kids[~has & (age[kids] < 16)]
        if len(orphans) and k:
            host = rng.integers(0, k, len(orphans))
            c["hh"][orphans] = couple_hh[host]
            c["sur"][orphans] = c["sur"][men[host]]
            free[orphans] = False

        # widowed parents living with a son
        old = np.flatnonzero(free & (age >= 60) & (rng.random(n) < 0.65))
        horder = np.argsort(bd[men], kind="stable")
        hbd = bd[men][horder]
        lo = np.searchsorted(hbd, bd[old] + int(20 * YEAR))
        hi = np.searchsorted(hbd, bd[old] + int(40 * YEAR))
        has = hi > lo
        pick = horder[(lo + np.floor(rng.random(len(old)) * np.maximum(hi - lo, 1))).astype(int)[has]]
        oo = old[has]
        c["hh"][oo] = couple_hh[pick]
        son = men[pick]
        is_m = sex[oo] == 0
        c["sur"][oo[is_m]] = c["sur"][son[is_m]]
        # a son has one father and one mother: the first match wins
        for o, s in zip(oo, son, strict=True):
            key = "father" if sex[o] == 0 else "mother"
            if c[key][s] < 0:
                c[key][s] = o
        free[oo] = False

        singles = np.flatnonzero(free)
        c["hh"][singles] = self.new_households(np.zeros(len(singles), dtype=int))
        unpaired = singles[age[singles] >= 20]
        c["marital"][unpaired] = np.where(age[unpaired] >= 60, WIDOWED,
                                          np.where((age[unpaired] >= 30) & (rng.random(len(unpaired)) < 0.4), DIVORCED, SINGLE))
        c["marital"][oo] = WIDOWED

        # twins among the children
        twin_of = kk[(age[kk] < 18) & (rng.random(len(kk)) < 0.006)]
        tw = self.add(len(twin_of), sex=rng.integers(0, 2, len(twin_of)).astype(np.int8), bd=bd[twin_of],
                      region=self.plan.region, hh=c["hh"][twin_of], mother=c["mother"][twin_of],
                      father=c["father"][twin_of], sur=c["sur"][twin_of])
        self.twins.extend(zip(twin_of.tolist(), tw.tolist(), strict=True))
        # children of one mother who happen to share a birthday are twins as well
        seen: dict[tuple[int, int], int] = {}
        paired = {x for pair in self.twins for x in pair}
        for p in np.flatnonzero(c["mother"] >= 0).tolist():
            key = (int(c["mother"][p]), int(c["bd"][p]))
            if key in seen and p not in paired and seen[key] not in paired:
                self.twins.append((seen[key], p))
            seen.setdefault(key, p)

        # households to villages: family households cut by cumulative size, collectives to big ones
        hh_all = c["hh"]
        n_hh = len(self.hh_vil)
        sizes = np.bincount(hh_all[hh_all >= 0], minlength=n_hh)
        fam_targets = start_targets.astype(float)
        for v, members in collectives:
            fam_targets[v] -= len(members)
        perm = rng.permutation(n_hh)
        cum = np.cumsum(sizes[perm])
        bounds = np.cumsum(np.maximum(fam_targets, 0))
        bounds = bounds / bounds[-1] * cum[-1]
        vil_of = np.minimum(np.searchsorted(bounds, cum - sizes[perm] / 2), len(self.vcodes) - 1)
        hv = np.empty(n_hh, dtype=np.int32)
        hv[perm] = vil_of
        self.hh_vil = hv.tolist()
        for v, members in collectives:
            h = self.new_households(np.array([v]), kind=1)
            c["hh"][members] = h[0]
        c["vil"][: self.n] = np.asarray(self.hh_vil, dtype=np.int32)[c["hh"]]

        # ethnicity follows the husband / father, hukou kind the household
        everyone = np.arange(self.n)
        eth = rng.choice(len(nm.ETHNICITIES), self.n, p=nm.ETHNICITY_P).astype(np.int8)
        fam = c["father"] >= 0
        eth[fam] = eth[c["father"][fam]]
        wives = women[rng.random(k) < 0.85]
        eth[wives] = eth[c["spouse"][wives]]
        c["eth"][:] = eth
        hh_agri = self.agri_for(np.asarray(self.hh_vil))
        for _v, members in collectives:
            c["agri"][members] = rng.random(len(members)) < 0.7
        c["agri"][:] = np.where(np.asarray(self.hh_kind)[c["hh"]] == 1, c["agri"], hh_agri[c["hh"]])

        # where they were born, when the record was made
        adults = everyone[self.age(self.start) >= 18]
        elsewhere = adults[rng.random(len(adults)) < np.where(c["sex"][adults] == 1, 0.14, 0.04)]
        self.born_elsewhere(elsewhere)
        reg = c["bd"] + rng.integers(3, 60, self.n)
        early = reg < ids.to_days(date(1990, 1, 1))
        reg[early] = ids.to_days(date(1985, 1, 1)) + rng.integers(0, 3650, int(early.sum()))
        moved = np.zeros(self.n, dtype=bool)
        moved[elsewhere] = True
        reg[moved] = np.maximum(c["bd"][moved] + int(18 * YEAR), ids.to_days(date(1990, 1, 1))) + rng.integers(0, 2000, int(moved.sum()))
        c["regdate"][:] = np.minimum(reg, self.start - 1)
        c["rtype"][:] = REG
        self.name_people(everyone)
        for a, b in self.twins:
            while c["given"][b] == c["given"][a]:
                c["given"][b] = nm.draw_given(rng, c["sex"][b : b + 1], np.array([ids.to_date(c["bd"][b]).year]))[0]
        self.assign_ids(everyone)

    # -- one year ----------------------------------------------------------------------------

    def year(self, y: int) -> None:
        rng, c = self.rng, self.c
        t0 = self.start + int(round(y * YEAR))
        t1 = self.start + int(round((y + 1) * YEAR))
        span = t1 - t0
        # soldiers coming back
        back = np.flatnonzero(c["away"] & (c["discharge"] >= 0) & (c["discharge"] < t0))
        c["away"][back] = False
        c["status"][back] = ACTIVE
        ok = self.present() & (c["regdate"] < t0)
        age = self.age(t0)
        busy = ~ok

        # deaths
        dies = np.flatnonzero(ok & (rng.random(self.n) < demo.mortality(age, c["sex"])))
        day = t0 + rng.integers(0, span, len(dies))
        rec = day + _lag(rng, len(dies), (1, 30), 0.15, (30, 400))
        unknown = (rec >= self.ref) | ((day >= self.ref - 3 * 365) & (rng.random(len(dies)) < 0.075))
        hid = dies[unknown]
        c["hidden_death"][hid] = day[unknown]
        c["away"][hid] = True
        known = dies[~unknown]
        c["status"][known] = DECEASED
        c["death"][known] = day[~unknown]
        self.event(known, "death", day[~unknown], rec[~unknown], self.vcodes[c["vil"][known]])
        sp = c["spouse"][known]
        has = sp >= 0
        c["marital"][sp[has]] = WIDOWED
        c["spouse"][sp[has]] = -1
        busy[dies] = True

        # births
        mothers = np.flatnonzero(~busy & (c["sex"] == 1) & (age >= 15) & (age < 49))
        rate = demo.fertility(age[mothers], y) * np.where(c["marital"][mothers] == MARRIED, 1.32, 0.05)
        mothers = mothers[rng.random(len(mothers)) < rate]
        self._births(mothers, t0, span, y)

        busy = self._pad(busy)
        self._marriages(busy, self.age(t0), t0, span)
        busy = self._pad(busy)
        self._divorces(busy, t0, span)
        self._moves_out(busy, self.age(t0), t0, span)
        self._moves_in(t0, span)
        busy = self._pad(busy)
        self._transfers(busy, t0, span)
        self._enlistment(busy, self.age(t0), t0, span)
        self._corrections(busy, t0, span)

    def _pad(self, busy: np.ndarray) -> np.ndarray:
        """People added during the year (births, in-migrants) take no further part in it."""
        if len(busy) == self.n:
            return busy
        return np.concatenate([busy, np.ones(self.n - len(busy), dtype=bool)])

    def _births(self, mothers: np.ndarray, t0: int, span: int, y: int) -> None:
        rng, c = self.rng, self.c
        day = t0 + rng.integers(0, span, len(mothers))
        twin = rng.random(len(mothers)) < 0.01
        mothers = np.concatenate([mothers, mothers[twin]])
        day = np.concatenate([day, day[twin]])
        m = len(mothers)
        srb = demo.sex_ratio_at_birth(y)
        sex = (rng.random(m) >= srb / (100 + srb)).astype(np.int8)
        father = np.where(c["marital"][mothers] == MARRIED, c["spouse"][mothers], -1)
        sur = np.where((father >= 0) & (rng.random(m) < 0.93), c["sur"][np.maximum(father, 0)], c["sur"][mothers])
        sur = np.where(sur == "", np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, m)], sur)
        eth = np.where(father >= 0, c["eth"][np.maximum(father, 0)], c["eth"][mothers])
        rec = day + _lag(rng, m, (3, 60), 0.09, (60, 1500))
        never = (day >= self.ref - 4 * 365) & (rng.random(m) < 0.035)
        never[len(mothers) - int(twin.sum()):] = never[: len(mothers) - int(twin.sum())][twin]
        rec[len(mothers) - int(twin.sum()):] = rec[: len(mothers) - int(twin.sum())][twin]
        ghost = never | (rec >= self.ref)
        years = np.array([ids.to_date(d).year for d in day])
        given = nm.draw_given(rng, sex, years)
        for i in np.flatnonzero(ghost):
            self.ghosts.append((int(mothers[i]), int(father[i]), int(day[i]), int(sex[i]), str(sur[i]) + str(given[i])))
        keep = ~ghost
        kid = self.add(int(keep.sum()), sex=sex[keep], bd=day[keep], region=self.plan.region,
                       hh=c["hh"][mothers[keep]], vil=c["vil"][mothers[keep]], mother=mothers[keep],
                       father=father[keep], sur=sur[keep], given=given[keep], eth=eth[keep],
                       agri=c["agri"][mothers[keep]], regdate=rec[keep], rtype=REG)
        row_kid = np.full(m, -1, dtype=np.int64)
        row_kid[keep] = kid
        first = len(mothers) - int(twin.sum())
        for j, i in enumerate(np.flatnonzero(twin)):
            if row_kid[i] >= 0 and row_kid[first + j] >= 0:
                self.twins.append((int(row_kid[i]), int(row_kid[first + j])))
        self._fix_twin_names()
        self.assign_ids(kid)
        self.event(kid, "birth", c["bd"][kid], rec[keep], self.vcodes[c["vil"][kid]])
        self.births.extend(
            zip(kid.tolist(), c["mother"][kid].tolist(), c["father"][kid].tolist(),
                c["bd"][kid].tolist(), c["sex"][kid].tolist(), strict=True)
        )

    def _fix_twin_names(self) -> None:
        c = self.c
        for a, b in self.twins:
            while c["given"][b] == c["given"][a]:
                c["given"][b] = nm.draw_given(self.rng, c["sex"][b : b + 1], np.array([ids.to_date(c["bd"][b]).year]))[0]

    def _marriages(self, busy: np.ndarray, age: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        cand = ~busy & (c["marital"] != MARRIED) & (c["hh"] >= 0)
        p = demo.marriage_rate(age, c["sex"])
        go = cand & (rng.random(self.n) < p)
        women = np.flatnonzero(go & (c["sex"] == 1))
        men = np.flatnonzero(go & (c["sex"] == 0))
        women = women[np.argsort(age[women], kind="stable")]
        men = men[np.argsort(age[men], kind="stable")]
        k = min(len(women), len(men))
        if len(women) > k:
            sel = np.sort(rng.choice(len(women), k, replace=False))
            extra_w, women = np.delete(women, sel), women[sel]
        else:
            extra_w = women[:0]
        if len(men) > k:
            sel = np.sort(rng.choice(len(men), k, replace=False))
            extra_m, men = np.delete(men, sel), men[sel]
        else:
            extra_m = men[:0]
        related = (c["hh"][women] == c["hh"][men]) | (c["sur"][women] == c["sur"][men])
        women, men = women[~related], men[~related]
        k = len(women)
        day = t0 + rng.integers(0, span, k)
        rec = self.clip_recorded(day, day + _lag(rng, k, (0, 20), 0.03, (20, 200)))
        for a, b in ((women, men), (men, women)):
            self.event(a, "marriage", day, rec, self.vcodes[c["vil"][a]],
                       detail=np.array([json.dumps({"spouse_id": int(x)}) for x in b], dtype=object))
        c["spouse"][women] = men
        c["spouse"][men] = women
        c["marital"][women] = MARRIED
        c["marital"][men] = MARRIED
        busy[women] = True
        busy[men] = True
        # half of the couples found a household of their own in the husband's village
        new = rng.random(k) < 0.35
        nh = self.new_households(c["vil"][men[new]])
        c["hh"][men[new]] = nh
        moving = c["vil"][women] != c["vil"][men]
        mv = women[moving]
        tlag = self.clip_recorded(day[moving], rec[moving] + rng.integers(0, 30, len(mv)))
        self.event(mv, "transfer", day[moving], tlag, self.vcodes[c["vil"][men[moving]]],
                   frm=self.vcodes[c["vil"][mv]], to=self.vcodes[c["vil"][men[moving]]])
        c["hh"][women] = c["hh"][men]
        c["vil"][women] = c["vil"][men]

        # women marrying out of the county take their registration with them
        out = extra_w[rng.random(len(extra_w)) < 0.7]
        day = t0 + rng.integers(0, span, len(out))
        rec = self.clip_recorded(day, day + _lag(rng, len(out), (0, 30), 0.05, (30, 300)))
        dest = self.outside_code(rng, len(out))
        self.event(out, "marriage", day, rec, self.vcodes[c["vil"][out]], detail=json.dumps({"spouse_id": None}))
        self.event(out, "move_out", day, rec, self.vcodes[c["vil"][out]], frm=self.vcodes[c["vil"][out]], to=dest)
        c["status"][out] = EMIGRATED
        c["marital"][out] = MARRIED
        busy[out] = True

        # brides from outside the county
        grooms = extra_m[rng.random(len(extra_m)) < 0.6]
        g = len(grooms)
        if g == 0:
            return
        bd = (c["bd"][grooms] + rng.normal(2, 2, g) * YEAR).astype(np.int32)
        bd = np.minimum(bd, t0 - int(20 * YEAR))
        day = t0 + rng.integers(0, span, g)
        rec = self.clip_recorded(day, day + _lag(rng, g, (0, 30), 0.06, (30, 400)))
        brides = self.add(g, sex=1, bd=bd, hh=c["hh"][grooms], vil=c["vil"][grooms], spouse=grooms,
                          marital=MARRIED, eth=c["eth"][grooms], agri=c["agri"][grooms], regdate=rec,
                          sur=np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, g)])
        c["spouse"][grooms] = brides
        c["marital"][grooms] = MARRIED
        busy[grooms] = True
        self.born_elsewhere(brides)
        self.name_people(brides)
        self.assign_ids(brides)
        origin = np.array([r + "000000" for r in c["region"][brides]], dtype=object)
        self.event(brides, "move_in", day, rec, self.vcodes[c["vil"][brides]], frm=origin, to=self.vcodes[c["vil"][brides]])
        for a, b in ((brides, grooms), (grooms, brides)):
            self.event(a, "marriage", day, rec, self.vcodes[c["vil"][a]],
                       detail=np.array([json.dumps({"spouse_id": int(x)}) for x in b], dtype=object))

    def _divorces(self, busy: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        husbands = np.flatnonzero(~busy & (c["sex"] == 0) & (c["marital"] == MARRIED) & (c["spouse"] >= 0))
        wives = c["spouse"][husbands]
        both = ~busy[wives]
        husbands, wives = husbands[both], wives[both]
        go = rng.random(len(husbands)) < 0.004
        h, w = husbands[go], wives[go]
        day = t0 + rng.integers(0, span, len(h))
        rec = self.clip_recorded(day, day + rng.integers(0, 30, len(h)))
        nh = self.new_households(c["vil"][w])
        for a, b in ((h, w), (w, h)):
            self.event(a, "divorce", day, rec, self.vcodes[c["vil"][a]],
                       detail=np.array([json.dumps({"spouse_id": int(x)}) for x in b], dtype=object))
        c["hh"][w] = nh
        for x in (h, w):
            c["marital"][x] = DIVORCED
            c["spouse"][x] = -1
            busy[x] = True

    def _moves_out(self, busy: np.ndarray, age: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        single = np.flatnonzero(~busy & (age >= 18) & (age < 36) & (c["marital"] != MARRIED) & (rng.random(self.n) < 0.007))
        n_hh = len(self.hh_vil)
        leaving_hh = np.flatnonzero((rng.random(n_hh) < 0.0015) & (np.asarray(self.hh_kind) == 0))
        in_hh = np.flatnonzero(~busy & np.isin(c["hh"], leaving_hh))
        who = np.unique(np.concatenate([single, in_hh]))
        if len(who) == 0:
            return
        # a household leaves on one day
        hh_day = t0 + rng.integers(0, span, n_hh)
        day = np.where(np.isin(who, in_hh), hh_day[c["hh"][who]], t0 + rng.integers(0, span, len(who)))
        rec = self.clip_recorded(day, day + _lag(rng, len(who), (0, 20), 0.05, (20, 200)))
        dest = self.outside_code(rng, len(who))
        self.event(who, "move_out", day, rec, self.vcodes[c["vil"][who]], frm=self.vcodes[c["vil"][who]], to=dest)
        c["status"][who] = EMIGRATED
        busy[who] = True

    def _moves_in(self, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        k = int(rng.poisson(0.0022 * self.present().sum()))
        if k == 0:
            return
        size = rng.choice([1, 2, 3, 4], k, p=[0.35, 0.2, 0.3, 0.15])
        w = self.vtarget * np.where(self.vurban, 2.0, 1.0)
        vil = rng.choice(len(self.vcodes), k, p=w / w.sum())
        hh = self.new_households(vil)
        day = t0 + rng.integers(0, span, k)
        rec = self.clip_recorded(day, day + _lag(rng, k, (0, 30), 0.1, (30, 400)))
        agri = self.agri_for(vil)
        head_age = rng.uniform(22, 50, k)
        head_sex = (rng.random(k) >= 0.75).astype(np.int8)
        sur = np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, k)]
        eth = rng.choice(len(nm.ETHNICITIES), k, p=nm.ETHNICITY_P).astype(np.int8)
        head = self.add(k, sex=head_sex, bd=(day - head_age * YEAR).astype(np.int32), hh=hh, vil=vil,
                        sur=sur, eth=eth, agri=agri, regdate=rec,
                        marital=np.where(size >= 2, MARRIED, np.where(rng.random(k) < 0.15, DIVORCED, SINGLE)))
        new = [head]
        two = np.flatnonzero(size >= 2)
        sp = self.add(len(two), sex=1 - head_sex[two], bd=(day[two] - (head_age[two] + rng.normal(0, 2, len(two))) * YEAR).astype(np.int32),
                      hh=hh[two], vil=vil[two], sur=np.asarray(nm.SURNAMES, dtype=object)[nm.draw_surnames(rng, len(two))],
                      eth=eth[two], agri=agri[two], regdate=rec[two], marital=MARRIED, spouse=head[two])
        c["spouse"][head[two]] = sp
        new.append(sp)
        mother = np.where(head_sex[two] == 1, head[two], sp)
        father = np.where(head_sex[two] == 0, head[two], sp)
        kid_age_all = np.minimum(rng.uniform(0.1, 12, k), head_age - 21)
        for extra in (3, 4):
            fam = np.flatnonzero(size[two] >= extra)
            j = two[fam]
            # a second child is one to five years older than the first
            kid_age = kid_age_all[j] + (rng.uniform(1.2, 5, len(j)) if extra == 4 else 0.0)
            kid = self.add(len(j), sex=rng.integers(0, 2, len(j)).astype(np.int8), bd=(day[j] - np.maximum(kid_age, 0.1) * YEAR).astype(np.int32),
                           hh=hh[j], vil=vil[j], sur=c["sur"][father[fam]], eth=eth[j], agri=agri[j], regdate=rec[j],
                           mother=mother[fam], father=father[fam])
            new.append(kid)
        who = np.concatenate(new)
        self.born_elsewhere(who)
        self.name_people(who)
        self.assign_ids(who)
        hh_row = np.searchsorted(hh, c["hh"][who])
        origin = np.array([r + "000000" for r in c["region"][head]], dtype=object)[hh_row]
        self.event(who, "move_in", day[hh_row], rec[hh_row], self.vcodes[c["vil"][who]], frm=origin, to=self.vcodes[c["vil"][who]])

    def _transfers(self, busy: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        if len(self.vcodes) < 2:
            return
        n_hh = len(self.hh_vil)
        go = np.flatnonzero((rng.random(n_hh) < 0.002) & (np.asarray(self.hh_kind) == 0))
        if len(go) == 0:
            return
        w = self.vtarget * np.where(self.vurban, 3.0, 1.0)
        dest = rng.choice(len(self.vcodes), len(go), p=w / w.sum())
        hv = np.asarray(self.hh_vil)
        same = dest == hv[go]
        dest[same] = (dest[same] + 1) % len(self.vcodes)
        day = t0 + rng.integers(0, span, len(go))
        rec = self.clip_recorded(day, day + rng.integers(0, 30, len(go)))
        members = np.flatnonzero(~busy & np.isin(c["hh"], go))
        row = np.searchsorted(go, c["hh"][members])
        self.event(members, "transfer", day[row], rec[row], self.vcodes[dest[row]],
                   frm=self.vcodes[c["vil"][members]], to=self.vcodes[dest[row]])
        c["vil"][members] = dest[row]
        for h, d in zip(go, dest, strict=True):
            self.hh_vil[int(h)] = int(d)
        # people of the household who could not move with it (away, busy) keep their own unit:
        # they get a household of their own there
        stay = np.flatnonzero(np.isin(c["hh"], go) & np.isin(c["status"], (ACTIVE, DEREG))
                              & (c["vil"] != np.asarray(self.hh_vil)[c["hh"]]))
        if len(stay):
            c["hh"][stay] = self.new_households(c["vil"][stay])
        busy[members] = True

    def _enlistment(self, busy: np.ndarray, age: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        go = np.flatnonzero(~busy & (c["sex"] == 0) & (age >= 18) & (age < 22) & (c["marital"] == SINGLE)
                            & (rng.random(self.n) < 0.025))
        if len(go) == 0:
            return
        day = t0 + rng.integers(300, 330, len(go))
        rec = self.clip_recorded(day, day + rng.integers(0, 20, len(go)))
        self.event(go, "enlistment", day, rec, self.vcodes[c["vil"][go]])
        c["away"][go] = True
        stays_active = rng.random(len(go)) < 0.5
        c["status"][go] = np.where(stays_active, ACTIVE, DEREG)
        serve = day + 730 + rng.integers(0, 30, len(go))
        back = (rng.random(len(go)) < 0.75) & (serve + 60 < self.ref)
        drec = serve + rng.integers(1, 60, len(go))
        self.event(go[back], "discharge", serve[back], drec[back], self.vcodes[c["vil"][go[back]]])
        c["discharge"][go[back]] = serve[back]
        busy[go] = True

    def _corrections(self, busy: np.ndarray, t0: int, span: int) -> None:
        rng, c = self.rng, self.c
        go = np.flatnonzero(~busy & (rng.random(self.n) < 0.0015))
        for p in go:
            day = t0 + int(rng.integers(0, span))
            name = str(c["sur"][p]) + str(c["given"][p])
            d = ids.to_date(int(c["bd"][p]))
            swapped = ids.swap_day_month(d)
            if rng.random() < 0.6 or swapped is None:
                before = nm.homophone_variant(name, rng)
                if before == name:
                    continue
                detail = {"field": "name", "before": before, "after": name}
            else:
                detail = {"field": "birth_date", "before": swapped.isoformat(), "after": d.isoformat()}
            self.event(np.array([p]), "correction", np.array([day]), np.array([min(day + int(rng.integers(0, 10)), self.ref - 1)]),
                       self.vcodes[c["vil"][p]], detail=json.dumps(detail, ensure_ascii=False))
