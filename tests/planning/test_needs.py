"""Needs: the seed's grain arithmetic, the harvest trend, school places and care beds."""

from __future__ import annotations

import numpy as np
import pytest

from popreg.planning.needs import care_rows, grain_rows, growth_share, harvest_trend, school_rows


def test_the_seeds_grain_arithmetic():
    """1,000 more people × 750 jin = 750,000 jin, 55.6 % of a 1,350,000-jin harvest increase."""
    assert growth_share(1000, 750, 1_350_000) == pytest.approx(0.5556, abs=5e-5)
    assert round(growth_share(1000, 750, 1_350_000) * 100, 1) == 55.6
    assert growth_share(1000, 750, 0) is None


def test_grain_rows_with_a_stated_harvest_trend():
    rows = grain_rows([2025, 2026], [157_000.0, 158_000.0], 750.0, {2023: 67_300_000, 2024: 68_650_000,
                                                                     2025: 70_000_000})
    first = rows[0]
    assert first["need"] == 157_000 * 750
    assert first["growth"] == 1000 and first["extra_need"] == 750_000
    assert first["output_increase"] == pytest.approx(1_350_000)
    assert first["output"] == pytest.approx(70_000_000)
    assert first["share_of_increase"] == pytest.approx(750_000 / 1_350_000)
    assert rows[1]["growth"] is None and rows[1]["output"] == pytest.approx(71_350_000)


def test_trend_of_one_or_no_harvest():
    assert harvest_trend({}).at(2026) is None
    one = harvest_trend({2024: 5.0})
    assert one.at(2030) == 5.0 and one.slope is None


def test_school_places_and_care_beds():
    pop = np.zeros((1, 2, 101))
    pop[0, :, 6:12] = 10  # 120 primary
    pop[0, :, 12:15] = 5  # 30 junior
    pop[0, :, 15:18] = 4  # 24 senior
    pop[0, :, 65:] = 1  # 72 aged 65+
    s = school_rows([2026], pop, {"school_primary": 100, "school_junior": None, "school_senior": 30})[0]
    assert (s["school_primary"], s["school_primary_gap"]) == (120, 20)
    assert s["school_junior"] == 30 and s["school_junior_gap"] is None
    assert s["school_senior_gap"] == -6
    c = care_rows([2026], pop, 30.0, 1.0)[0]
    assert c["aged_65_plus"] == 72 and c["beds_needed"] == pytest.approx(2.16) and c["gap"] == pytest.approx(1.16)
