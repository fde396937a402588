"""Demographic inputs of the generator: the 2010 census age-sex shape and simple rate schedules.

The census shape is read from ``data/china_census2010_pop_by_sex_age5.csv`` (see the README
there).  Mortality is a Gompertz curve with a childhood floor, calibrated so that the
county's crude death rate is about 7 ‰; fertility is a five-year ASFR shape scaled by a
year factor (the 2016–2017 second-child peak, then the decline), giving a crude birth rate
falling from about 12 ‰ to about 8 ‰.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"


@cache
def census_shape() -> tuple[np.ndarray, np.ndarray]:
    """Single-year (0–104) population shares for males and females (each row sums to its sex)."""
    male = np.zeros(105)
    female = np.zeros(105)
    with (DATA / "china_census2010_pop_by_sex_age5.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["age_start"]:
                continue
            a = int(row["age_start"])
            b = int(row["age_end"]) if row["age_end"] else 104
            width = b - a + 1
            male[a : b + 1] = int(row["male"]) / width
            female[a : b + 1] = int(row["female"]) / width
    total = male.sum() + female.sum()
    return male / total, female / total


def mortality(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Annual probability of dying at exact ``age`` (years) for sex 0 (male) / 1 (female)."""
    a = np.asarray(age, dtype=float)
    m = 0.000048 * np.exp(0.0865 * a)
    m = np.where(a < 1, 0.0055, np.where(a < 5, 0.0005, np.maximum(m, np.where(a < 15, 0.0002, 0.0005))))
    m = m * np.where(sex == 0, 1.6, 0.9)
    return np.asarray(np.minimum(m, 0.6))


#: births per woman-year by five-year age group 15–19 ... 45–49 (TFR ≈ 1.5 before scaling)
_ASFR = np.array([0.006, 0.07, 0.115, 0.073, 0.03, 0.007, 0.001])
#: year factor for the ten simulated years (Nov 2015 – Oct 2025)
YEAR_FACTOR = np.array([1.1, 1.14, 1.02, 0.95, 0.9, 0.86, 0.82, 0.8, 0.8, 0.78])


def fertility(age: np.ndarray, year: int) -> np.ndarray:
    a = np.asarray(age, dtype=float)
    idx = np.clip(((a - 15) // 5).astype(int), 0, 6)
    rate = np.where((a >= 15) & (a < 50), _ASFR[idx], 0.0)
    return np.asarray(rate * YEAR_FACTOR[min(year, 9)])


def sex_ratio_at_birth(year: int) -> float:
    """Males per 100 females, drifting from about 115 to 107 over the decade."""
    return 115.0 - 8.0 * min(year, 9) / 9


def marriage_rate(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    a = np.asarray(age, dtype=float) - np.where(sex == 0, 2.0, 0.0)
    return np.asarray(
        np.select([a < 20, a < 25, a < 30, a < 35, a < 41], [0.0, 0.13, 0.22, 0.12, 0.05], 0.0)
    )
