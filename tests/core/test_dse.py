"""Chapman dual-system estimator."""

from __future__ import annotations

import math
import random

import pytest

from popreg.core.dse import ASSUMPTIONS, ASSUMPTIONS_ZH, chapman, chapman_variance, coverage_start


@pytest.mark.parametrize(
    ("n1", "n2", "m"), [(10, 15, 5), (1200, 1100, 1050), (50, 40, 0), (7, 7, 7), (0, 0, 0)]
)
def test_chapman_formula(n1, n2, m):
    e = chapman(n1, n2, m)
    assert e.estimate == pytest.approx((n1 + 1) * (n2 + 1) / (m + 1) - 1)
    var = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
    assert e.variance == pytest.approx(var) == chapman_variance(n1, n2, m)
    assert e.low <= e.estimate <= e.high
    assert e.low >= n1 + n2 - m


def test_chapman_textbook_example():
    # classic mark–recapture example: 10 marked, 15 caught, 5 recaptured -> 28.3
    e = chapman(10, 15, 5)
    assert round(e.estimate, 1) == 28.3
    assert e.high - e.estimate == pytest.approx(1.959963984540054 * math.sqrt(e.variance))


def test_invalid_counts():
    with pytest.raises(ValueError):
        chapman(10, 5, 6)
    with pytest.raises(ValueError):
        chapman(-1, 5, 0)
    with pytest.raises(ValueError):
        chapman(10, 5, 2, method="bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["normal", "lognormal"])
def test_coverage_under_assumptions(method):
    rng = random.Random(11)
    true_n, p1, p2 = 1500, 0.9, 0.8
    hits = 0
    trials = 400
    for _ in range(trials):
        a = [rng.random() < p1 for _ in range(true_n)]
        b = [rng.random() < p2 for _ in range(true_n)]
        n1, n2 = sum(a), sum(b)
        m = sum(x and y for x, y in zip(a, b, strict=True))
        hits += chapman(n1, n2, m, method=method).covers(true_n)
    assert 0.91 <= hits / trials <= 0.99


def test_lognormal_interval_is_asymmetric_upwards():
    e = chapman(300, 250, 200, method="lognormal")
    assert e.high - e.estimate > e.estimate - e.low
    assert e.low >= e.observed
    assert e.completeness_1 == pytest.approx(300 / e.estimate)


def test_assumptions_are_stated_in_both_languages():
    assert len(ASSUMPTIONS) == len(ASSUMPTIONS_ZH) == 4
    assert any("independ" in a for a in ASSUMPTIONS)


def test_coverage_start_ignores_a_stray_early_record():
    # A source that reports from 2021-11 on, with one birth date typed a year too early.
    monthly = {(2020, 11): 1}
    for i in range(48):
        y, m = divmod(2021 * 12 + 10 + i, 12)
        monthly[(y, m + 1)] = 100 + (i % 7)
    assert coverage_start(monthly) == (2021, 11)
    # without the stray record the first month opens it; a short first month still counts
    assert coverage_start({k: v for k, v in monthly.items() if k != (2020, 11)}) == (2021, 11)
    monthly[(2021, 11)] = 60
    assert coverage_start(monthly) == (2021, 11)
    # a typo ten years early, with 120 empty months after it
    assert coverage_start({**monthly, (2011, 11): 1}) == (2021, 11)
    assert coverage_start({}) is None
    assert coverage_start({(2024, 3): 0}) is None
