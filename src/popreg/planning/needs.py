"""Needs of a projected population (no Django): grain, school places, elderly-care beds.

The inputs are plain numbers: the projection's population by year (and by single year of
age for the school and old ages), a norm with its value, and figures another office
states (the harvest by year, the school places and beds of the latest year).

Grain, the seed's arithmetic: 1,000 more people at 750 jin a person need 750,000 jin more,
which is 55.6 % of a harvest increase of 1,350,000 jin (:func:`growth_share`).  The
harvest's trend is the least-squares line through the stated harvests (two years: their
difference), its slope the expected increase per year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: School levels by single years of age at 1 January (primary 6–11, junior 12–14, senior 15–17).
SCHOOL_LEVELS: tuple[tuple[str, int, int], ...] = (
    ("school_primary", 6, 11),
    ("school_junior", 12, 14),
    ("school_senior", 15, 17),
)
ELDERLY_FROM = 65


def growth_share(
    extra_people: float, grain_per_person: float, harvest_increase: float
) -> float | None:
    """The extra grain ``extra_people`` need, as a share of ``harvest_increase`` (None when
    the harvest does not increase)."""
    if harvest_increase <= 0:
        return None
    return extra_people * grain_per_person / harvest_increase


@dataclass(frozen=True)
class Trend:
    """Stated harvests and the line through them: output(year) = level + slope·(year − base)."""

    years: tuple[int, ...]
    values: tuple[float, ...]
    slope: float | None
    level: float | None
    base: int | None

    def at(self, year: int) -> float | None:
        if self.level is None or self.base is None:
            return None
        return self.level + (self.slope or 0.0) * (year - self.base)


def harvest_trend(stated: Mapping[int, float]) -> Trend:
    years = tuple(sorted(stated))
    values = tuple(float(stated[y]) for y in years)
    if not years:
        return Trend(years, values, None, None, None)
    if len(years) == 1:
        return Trend(years, values, None, values[0], years[0])
    slope, intercept = np.polyfit(np.array(years, dtype=float), np.array(values), 1)
    base = years[-1]
    return Trend(years, values, float(slope), float(intercept + slope * base), base)


def grain_rows(
    years: Sequence[int],
    population: Sequence[float],
    grain_per_person: float,
    stated: Mapping[int, float],
) -> list[dict[str, Any]]:
    """Per year: the need (population × norm), the growth to the next year and the grain it
    needs, the harvest's trend and that extra need as a share of the trend's increase."""
    trend = harvest_trend(stated)
    rows = []
    for i, (year, pop) in enumerate(zip(years, population, strict=True)):
        growth = population[i + 1] - pop if i + 1 < len(population) else None
        extra = growth * grain_per_person if growth is not None else None
        output = trend.at(year)
        share = (
            growth_share(growth, grain_per_person, trend.slope)
            if growth is not None and trend.slope
            else None
        )
        rows.append({
            "year": year, "population": pop, "need": pop * grain_per_person, "growth": growth,
            "extra_need": extra, "output": output, "output_increase": trend.slope,
            "share_of_increase": share,
            "balance": None if output is None else output - pop * grain_per_person,
        })  # fmt: skip
    return rows


def school_rows(
    years: Sequence[int], population: np.ndarray, capacity: Mapping[str, float | None]
) -> list[dict[str, Any]]:
    """Children of each school level (population (T, 2, A+1) by year) against the places."""
    rows = []
    for t, year in enumerate(years):
        both = population[t].sum(axis=0)
        row: dict[str, Any] = {"year": year}
        for key, lo, hi in SCHOOL_LEVELS:
            children = float(both[lo : hi + 1].sum())
            cap = capacity.get(key)
            row[key] = children
            row[key + "_capacity"] = cap
            row[key + "_gap"] = None if cap is None else children - cap
        rows.append(row)
    return rows


def care_rows(
    years: Sequence[int], population: np.ndarray, beds_per_1000: float, stated_beds: float | None
) -> list[dict[str, Any]]:
    """People aged 65+ and the beds the norm asks for, against the stated beds."""
    rows = []
    for t, year in enumerate(years):
        old = float(population[t].sum(axis=0)[ELDERLY_FROM:].sum())
        need = old * beds_per_1000 / 1000.0
        rows.append({"year": year, "aged_65_plus": old, "beds_needed": need, "beds": stated_beds,
                     "gap": None if stated_beds is None else need - stated_beds})  # fmt: skip
    return rows
