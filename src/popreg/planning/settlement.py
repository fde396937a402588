"""Settlement structure (no Django): how the registered population is spread over villages
and townships, now (the snapshot's reference moment) and ten years earlier (reconstructed
from the events, :mod:`popreg.planning.events`).

- the village size distribution: villages by registered population in the classes
  under 100, 100–199, 200–499, 500–999 and 1,000+, with their population;
- each township's share of the population, then and now, and its change;
- population density where the area is known (a stated figure, km²).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from popreg.planning.events import read_counts, snapshot_info, unit_codes, unit_prefix
from popreg.snapshot import SnapshotConnection

#: (key, lowest, highest or None for the open class)
SIZE_CLASSES: tuple[tuple[str, int, int | None], ...] = (
    ("under_100", 0, 99),
    ("100_199", 100, 199),
    ("200_499", 200, 499),
    ("500_999", 500, 999),
    ("1000_plus", 1000, None),
)


def size_class(population: float) -> str:
    for key, _lo, hi in SIZE_CLASSES:
        if hi is None or population <= hi:
            return key
    return SIZE_CLASSES[-1][0]


def ten_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 10)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 10, day=28)


def _valid(con: SnapshotConnection, level: str, on: date, within: str) -> set[str]:
    rows = con.rows(
        "SELECT unit_code FROM units WHERE level = ? AND unit_code LIKE ? AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to >= ?)",
        [level, within + "%", on, on],
    )
    return {str(r[0]) for r in rows}


def settlement_structure(
    con: SnapshotConnection, within: str = "", areas: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The structure of the villages (and townships) under the code prefix ``within``."""
    info = snapshot_info(con)
    now = info.reference_date
    then = ten_years_before(now)
    villages = unit_codes(con, "village", within)
    towns = unit_codes(con, "township", within)
    names = {str(c): str(n) for c, n in con.rows("SELECT unit_code, name FROM units")}
    counts = read_counts(con, "village", villages, [], [], reference_date=now, extra_dates=[then])
    pop_now = counts.population[now].sum(axis=(1, 2))
    pop_then = counts.population[then].sum(axis=(1, 2))
    valid_now, valid_then = (
        _valid(con, "village", now, within),
        _valid(con, "village", then, within),
    )
    classes = []
    for key, lo, hi in SIZE_CLASSES:
        row: dict[str, Any] = {"key": key, "low": lo, "high": hi}
        for label, pops, valid in (("now", pop_now, valid_now), ("then", pop_then, valid_then)):
            members = [
                i for i, c in enumerate(villages) if c in valid and size_class(pops[i]) == key
            ]
            row[f"villages_{label}"] = len(members)
            row[f"population_{label}"] = float(pops[members].sum()) if members else 0.0
        classes.append(row)
    total_now, total_then = float(pop_now.sum()), float(pop_then.sum())
    areas = areas or {}
    township_rows = []
    for t in towns:
        idx = [
            i
            for i, c in enumerate(villages)
            if unit_prefix(c, "township") == unit_prefix(t, "township")
        ]
        n_now, n_then = float(pop_now[idx].sum()), float(pop_then[idx].sum())
        area = areas.get(t)
        township_rows.append({
            "code": t, "name": names.get(t, t), "villages": len(idx),
            "population_now": n_now, "population_then": n_then,
            "share_now": n_now / total_now if total_now else None,
            "share_then": n_then / total_then if total_then else None,
            "change": (n_now - n_then) / n_then if n_then else None,
            "area_km2": area, "density": n_now / area if area else None,
        })  # fmt: skip
    village_rows = [
        {"code": c, "name": names.get(c, c), "population_now": float(pop_now[i]),
         "population_then": float(pop_then[i]), "class_now": size_class(pop_now[i]),
         "change": (float(pop_now[i]) - float(pop_then[i])) / float(pop_then[i]) if pop_then[i] else None,
         "area_km2": areas.get(c), "density": float(pop_now[i]) / areas[c] if areas.get(c) else None}
        for i, c in enumerate(villages)
    ]  # fmt: skip
    smallest = sorted(village_rows, key=lambda r: r["population_now"])[:10]
    return {
        "now": now.isoformat(), "then": then.isoformat(), "total_now": total_now, "total_then": total_then,
        "villages_now": len(valid_now), "villages_then": len(valid_then), "classes": classes,
        "townships": township_rows, "smallest": smallest,
        "densest": sorted((r for r in village_rows if r["density"] is not None), key=lambda r: -r["density"])[:10],
        "median_village": float(np.median(pop_now)) if len(pop_now) else None,
    }  # fmt: skip
