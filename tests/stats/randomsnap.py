"""A random but consistent snapshot: persons with event chains that agree with their state."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from popreg.snapshot.format import write_snapshot

COUNTY = "411000000000"
ELSEWHERE = "110105001001"


def write_random_snapshot(out: Path, seed: int = 1, persons: int = 1500) -> Path:
    rng = random.Random(seed)
    townships = [f"411000{t:03d}000" for t in range(1, 4)]
    villages = [f"{t[:9]}{v:03d}" for t in townships for v in range(1, 4)]
    units = [(COUNTY, "随机县", "county", None)]
    units += [(t, f"镇{i}", "township", COUNTY) for i, t in enumerate(townships)]
    units += [(v, f"村{i}", "village", v[:9] + "000") for i, v in enumerate(villages)]
    hist_start, ref = date(2019, 1, 1), date(2025, 11, 1)
    span = (ref - hist_start).days

    def rday() -> date:
        return hist_start + timedelta(days=rng.randrange(span))

    prows, erows = [], []
    eid = 0
    women: list[tuple[int, date]] = []
    for pid in range(1, persons + 1):
        sex = rng.choice("MF") if rng.random() > 0.01 else None
        rtype = rng.choices(
            ["registered", "floating_out", "floating_in", "foreign", "pending"], [80, 8, 8, 2, 2]
        )[0]
        kind = rng.random()
        events = []
        if kind < 0.12:  # born during the history
            bdate = rday()
            unit = rng.choice(villages)
            events.append(("birth", bdate, unit, None, None))
            present = True
        elif kind < 0.2:  # moved in during the history
            bdate = date(1950, 1, 1) + timedelta(days=rng.randrange(25000))
            unit = rng.choice(villages)
            events.append(("move_in", max(rday(), bdate), unit, ELSEWHERE, unit))
            present = True
        else:
            bdate = date(1925, 1, 1) + timedelta(days=rng.randrange(36000))
            unit = rng.choice(villages)
            present = True
        if bdate.day == 1 and rng.random() < 0.5:
            bdate = bdate.replace(day=2)
        last = events[-1][1] if events else hist_start
        status = "active"
        # a few later events, each consistent with the state before it
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            if not present or last >= ref - timedelta(days=2):
                break
            d = last + timedelta(days=rng.randrange(0, (ref - last).days))
            choice = rng.choice(["transfer", "transfer", "death", "move_out", "enlistment", "marriage"])
            if choice == "transfer":
                to = rng.choice([v for v in villages if v != unit])
                events.append(("transfer", d, unit, unit, to))
                unit = to
            elif choice == "marriage":
                events.append(("marriage", d, unit, None, None))
            elif choice == "death":
                events.append(("death", d, unit, None, None))
                present, status = False, "deceased"
            elif choice == "move_out":
                events.append(("move_out", d, unit, unit, ELSEWHERE))
                present, status = False, "emigrated"
            else:
                events.append(("enlistment", d, unit, None, None))
                present, status = False, "deregistered"
                if rng.random() < 0.5 and d < ref - timedelta(days=30):
                    d2 = d + timedelta(days=rng.randrange(1, (ref - d).days))
                    events.append(("discharge", d2, unit, None, None))
                    present, status = True, "active"
                    d = d2
            last = d
        mother = None
        if events and events[0][0] == "birth" and women and rng.random() < 0.9:
            cands = [w for w in women[-200:] if 16 <= (events[0][1] - w[1]).days / 365.25 <= 48]
            if cands:
                mother = rng.choice(cands)[0]
        if sex == "F":
            women.append((pid, bdate))
        if rng.random() < 0.03:
            bdate = None  # missing birth date
        prows.append((pid, sex, bdate, unit, unit, rtype, status, mother))
        for etype, d, u, fu, tu in events:
            eid += 1
            erows.append((eid, pid, etype, d, u, fu, tu))
    rng.shuffle(erows)  # event_id order must not matter beyond ties
    tables = {
        "units": pa.table(
            {
                "unit_code": [u[0] for u in units],
                "name": [u[1] for u in units],
                "level": [u[2] for u in units],
                "parent_code": pa.array([u[3] for u in units], pa.string()),
                "valid_from": [date(2000, 1, 1)] * len(units),
                "valid_to": pa.array([None] * len(units), pa.date32()),
            }
        ),
        "households": pa.table(
            {
                "household_id": pa.array([], pa.int64()),
                "household_no": pa.array([], pa.string()),
                "unit_code": pa.array([], pa.string()),
                "kind": pa.array([], pa.string()),
                "address": pa.array([], pa.string()),
            }
        ),
        "persons": pa.table(
            {
                "person_id": pa.array([p[0] for p in prows], pa.int64()),
                "household_id": pa.array([None] * len(prows), pa.int64()),
                "name": [f"人{p[0]}" for p in prows],
                "sex": pa.array([p[1] for p in prows], pa.string()),
                "birth_date": pa.array([p[2] for p in prows], pa.date32()),
                "id_number": pa.array([None] * len(prows), pa.string()),
                "registered_unit": [p[3] for p in prows],
                "residence_unit": [p[4] for p in prows],
                "residence_type": [p[5] for p in prows],
                "status": [p[6] for p in prows],
                "mother_id": pa.array([p[7] for p in prows], pa.int64()),
            }
        ),
        "events": pa.table(
            {
                "event_id": pa.array([e[0] for e in erows], pa.int64()),
                "person_id": pa.array([e[1] for e in erows], pa.int64()),
                "event_type": [e[2] for e in erows],
                "event_date": pa.array([e[3] for e in erows], pa.date32()),
                "recorded_date": pa.array([e[3] for e in erows], pa.date32()),
                "unit_code": [e[4] for e in erows],
                "from_unit": pa.array([e[5] for e in erows], pa.string()),
                "to_unit": pa.array([e[6] for e in erows], pa.string()),
            }
        ),
    }
    write_snapshot(out, tables, datetime.combine(ref, datetime.min.time()))
    return out
