"""Indicators computed straight from the events in plain Python, independently of the engine.

Same definitions as docs/indicators.md, written the slow and obvious way: for each person
walk the sorted events; count births, deaths and moves one by one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from popreg.snapshot.format import read_table

REGISTERED = {"registered", "floating_out"}
RESIDENT = {"registered", "floating_in", "foreign"}
EVENTS = {"birth", "death", "move_in", "move_out", "transfer", "enlistment", "discharge"}


def _before(e: dict[str, Any]) -> str | None:
    t = e["event_type"]
    if t in ("death", "enlistment"):
        return e["unit_code"]
    if t in ("move_out", "transfer"):
        return e["from_unit"] or e["unit_code"]
    return None


ENTRY = {"birth": "births", "move_in": "move_in", "discharge": "discharges"}
EXIT = {"death": "deaths", "move_out": "move_out", "enlistment": "enlistments"}


def level_code(code: str | None, level: str) -> str | None:
    if code is None:
        return None
    if level == "county":
        return code[:6] + "000000"
    if level == "township":
        return code[:9] + "000"
    return code[:12]


def age_at(birth: date | None, t: date) -> int | None:
    if birth is None:
        return None
    return t.year - birth.year - ((birth.month, birth.day) > (t.month, t.day))


class Reference:
    def __init__(self, snapshot_dir: Path, population: str = "registered") -> None:
        types = REGISTERED if population == "registered" else RESIDENT
        persons = read_table(snapshot_dir, "persons").to_pylist()
        self.all_persons = {p["person_id"]: p for p in persons}
        self.persons = {p["person_id"]: p for p in persons if p["residence_type"] in types}
        self.events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in read_table(snapshot_dir, "events").to_pylist():
            if e["event_type"] in EVENTS and e["person_id"] in self.persons:
                self.events[e["person_id"]].append(e)
        for evs in self.events.values():
            evs.sort(key=lambda e: (e["event_date"], e["event_id"]))
        self.resident = population == "resident"

    def current_unit(self, pid: int) -> str | None:
        p = self.persons[pid]
        if p["status"] != "active":
            return None
        unit = (p["residence_unit"] or p["registered_unit"]) if self.resident else p["registered_unit"]
        return unit[:12]

    def unit_at(self, pid: int, t: date) -> str | None:
        for e in self.events.get(pid, []):
            if e["event_date"] >= t:
                b = _before(e)
                return None if b is None else b[:12]
        return self.current_unit(pid)

    def after(self, pid: int, i: int) -> str | None:
        """State just after the i-th event: before the next one, or the current state."""
        evs = self.events[pid]
        if i + 1 < len(evs):
            b = _before(evs[i + 1])
            return None if b is None else b[:12]
        return self.current_unit(pid)

    def indicators(self, start: date, end: date, level: str) -> dict[str, dict[str, Any]]:
        pop_s: Counter[str] = Counter()
        pop_e: Counter[str] = Counter()
        women: dict[tuple[str, int], float] = Counter()
        broad: Counter[tuple[str, str]] = Counter()
        for pid, p in self.persons.items():
            for t, counter in ((start, pop_s), (end, pop_e)):
                u = level_code(self.unit_at(pid, t), level)
                if u is None:
                    continue
                counter[u] += 1
                age = age_at(p["birth_date"], t)
                if p["sex"] == "F" and age is not None and 15 <= age <= 49:
                    women[(u, 15 + 5 * ((age - 15) // 5))] += 0.5  # mean of start and end
                if t == end and age is not None:
                    broad[(u, "young" if age < 15 else "old" if age >= 65 else "work")] += 1
        flows: dict[str, Counter[str]] = defaultdict(Counter)
        mother_births: dict[str, Counter[int | None]] = defaultdict(Counter)
        for pid, evs in self.events.items():
            for i, e in enumerate(evs):
                if not start <= e["event_date"] < end:
                    continue
                b, a = level_code(_before(e), level), level_code(self.after(pid, i), level)
                if a == b:
                    continue
                kind = e["event_type"]
                if a is not None:
                    if kind in ENTRY:
                        flows[a][ENTRY[kind]] += 1
                    elif kind == "transfer" and b is not None:
                        flows[a]["transfer_in"] += 1
                    else:
                        flows[a]["other_in"] += 1
                    if kind == "birth":
                        flows[a]["sex_" + str(self.persons[pid]["sex"])] += 1
                        mother = self.all_persons.get(self.persons[pid]["mother_id"])
                        age = age_at(mother["birth_date"], e["event_date"]) if mother else None
                        group = None if age is None else 15 + 5 * min(6, max(0, (age - 15) // 5))
                        mother_births[a][group] += 1
                if b is not None:
                    if kind in EXIT:
                        flows[b][EXIT[kind]] += 1
                    elif kind == "transfer" and a is not None:
                        flows[b]["transfer_out"] += 1
                    else:
                        flows[b]["other_out"] += 1
        years = (end - start).days / (366 if start.year % 4 == 0 else 365)
        out: dict[str, dict[str, Any]] = {}
        for u in set(pop_s) | set(pop_e) | set(flows):
            f = flows[u]
            avg = (pop_s[u] + pop_e[u]) / 2
            births, deaths = f["births"], f["deaths"]
            mb = mother_births[u]
            known = sum(v for k, v in mb.items() if k is not None)
            tfr = None
            if births == 0 and any(women[(u, g)] > 0 for g in range(15, 50, 5)):
                tfr = 0.0  # no births among women at risk (documented)
            elif known:
                scale = births / known
                tfr = 5 * sum(
                    mb[g] * scale / (women[(u, g)] * years)
                    for g in range(15, 50, 5)
                    if women[(u, g)] > 0
                )
            work = broad[(u, "work")]
            out[u] = {
                "population_start": pop_s[u],
                "population_end": pop_e[u],
                "births": births,
                "male_births": f["sex_M"],
                "female_births": f["sex_F"],
                "deaths": deaths,
                "in_migration": f["move_in"] + f["transfer_in"],
                "out_migration": f["move_out"] + f["transfer_out"],
                "enlistments": f["enlistments"],
                "discharges": f["discharges"],
                "other_in": f["other_in"],
                "other_out": f["other_out"],
                "cbr": births / avg * 1000 if avg else None,
                "cdr": deaths / avg * 1000 if avg else None,
                "rni": (births - deaths) / avg * 1000 if avg else None,
                "srb": f["sex_M"] / f["sex_F"] * 100 if f["sex_F"] else None,
                "tfr": tfr,
                "total_dependency_ratio": (
                    (broad[(u, "young")] + broad[(u, "old")]) / work * 100 if work else None
                ),
            }
        return out
