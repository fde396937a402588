"""The vocabulary of the indicator engine (:mod:`popreg.stats.indicators`): levels,
periods, populations, engines, the columns of its tables, its error and the periods of
a year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from popreg.core.population import REGISTERED, RESIDENT

Level = Literal["county", "township", "village"]
Period = Literal["year", "quarter", "month"]
Population = Literal["registered", "resident"]
Engine = Literal["duckdb", "spark"]

LEVELS: tuple[Level, ...] = ("county", "township", "village")
PERIODS: tuple[Period, ...] = ("year", "quarter", "month")
POPULATIONS: tuple[Population, ...] = ("registered", "resident")
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")

#: Who each population counts: the one definition of popreg.core.population (the registry
#: pages, the API and the exports count with the same).
RESIDENCE_TYPES: dict[Population, tuple[str, ...]] = {
    "registered": REGISTERED.residence_types,
    "resident": RESIDENT.residence_types,
}

#: Five-year age groups of mothers for ASFR (births to mothers under 15 go to 15–19 and
#: to mothers 50+ to 45–49, the usual convention).
FERTILE_GROUPS: tuple[int, ...] = (15, 20, 25, 30, 35, 40, 45)
#: Five-year age groups of the pyramid; the last is open (85+).
PYRAMID_GROUPS: tuple[int, ...] = tuple(range(0, 90, 5))

POPULATION_EVENTS = ("birth", "death", "move_in", "move_out", "transfer", "enlistment", "discharge")

#: Columns of the indicator table, in order.  docs/indicators.md documents each of them.
COLUMNS: tuple[str, ...] = (
    "level", "unit_code", "unit_name", "parent_code", "period", "period_start", "period_end",
    "population_start", "population_end", "average_population",
    "population_start_male", "population_start_female",
    "population_end_male", "population_end_female",
    "population_start_registered", "population_start_floating_out",
    "population_start_floating_in", "population_start_foreign",
    "population_end_registered", "population_end_floating_out",
    "population_end_floating_in", "population_end_foreign",
    "births", "male_births", "female_births", "births_sex_unknown",
    "deaths", "in_migration", "out_migration",
    "move_in", "move_out", "transfer_in", "transfer_out", "enlistments", "discharges",
    "other_in", "other_out",
    "cbr", "cdr", "rni",
    "srb", "srb_low", "srb_high", "srb_insufficient",
    *(f"asfr_{a}_{a + 4}" for a in FERTILE_GROUPS),
    "births_mother_age_unknown", "tfr",
    "population_end_0_14", "population_end_15_64", "population_end_65_plus",
    "youth_dependency_ratio", "old_age_dependency_ratio", "total_dependency_ratio",
)  # fmt: skip

PYRAMID_COLUMNS: tuple[str, ...] = (
    "level", "unit_code", "period", "moment", "sex", "age_group", "population",
)  # fmt: skip


class IndicatorError(Exception):
    """Bad input to the engine; the message is Chinese first, then English."""


@dataclass(frozen=True)
class PeriodSpec:
    label: str  # "2024", "2024Q1", "2024-03"
    start: date
    end: date  # exclusive: the moment end 00:00

    @property
    def years(self) -> float:
        """Length in years, counting each day as 1/(days in its year)."""
        total = 0.0
        y = self.start.year
        while date(y, 1, 1) < self.end:
            lo = max(self.start, date(y, 1, 1))
            hi = min(self.end, date(y + 1, 1, 1))
            total += (hi - lo).days / (366 if calendar.isleap(y) else 365)
            y += 1
        return total


def periods_for(years: Iterable[int], period: Period) -> list[PeriodSpec]:
    """The periods of the given years, in order."""
    out: list[PeriodSpec] = []
    for y in sorted(set(years)):
        if period == "year":
            out.append(PeriodSpec(f"{y}", date(y, 1, 1), date(y + 1, 1, 1)))
        elif period == "quarter":
            for q in range(4):
                s = date(y, 3 * q + 1, 1)
                e = date(y + 1, 1, 1) if q == 3 else date(y, 3 * q + 4, 1)
                out.append(PeriodSpec(f"{y}Q{q + 1}", s, e))
        elif period == "month":
            for m in range(1, 13):
                e = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
                out.append(PeriodSpec(f"{y}-{m:02d}", date(y, m, 1), e))
        else:
            raise IndicatorError(
                f"周期 --period 只能是 year、quarter 或 month，收到 {period!r} / "
                f"--period must be year, quarter or month, got {period!r}"
            )
    return out
