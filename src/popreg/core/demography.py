"""Demographic indicators (人口统计指标): the formulas of the glossary as plain typed functions.

Everything here is pure Python with no Django and no data-frame import, so the indicator
engine (SQL over a snapshot), the dashboards and the tests all share one definition of
each formula.  Rates are returned per 1000 (‰) where the glossary says so.

Undefined values (a rate over an empty population, a ratio with no female births) are
``None`` rather than ``0`` or ``inf``: a published table must show "no value", not a wrong
one.

Example::

    >>> p = average_population(1000, 1020)
    >>> round(crude_rate(12, p), 2)
    11.88
    >>> srb = sex_ratio_at_birth(530, 470)
    >>> round(srb.ratio, 1), srb.insufficient
    (112.8, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MIN_BIRTHS_FOR_SRB",
    "DependencyRatios",
    "LifeTableRow",
    "SexRatioAtBirth",
    "age_specific_fertility",
    "annualised_rate",
    "average_population",
    "coale_demeny_a0",
    "coale_demeny_a1_4",
    "crude_birth_rate",
    "crude_death_rate",
    "crude_rate",
    "dependency_ratios",
    "life_table",
    "life_table_from_counts",
    "net_reproduction_rate",
    "pas_nax",
    "rate_of_natural_increase",
    "sex_ratio_at_birth",
    "total_fertility_rate",
    "un_nax",
]

#: Below this many live births (boys + girls) the sex ratio at birth is flagged as
#: "insufficient births" (出生数过少, 不宜判断).  The 95 % interval around a ratio of 105 is
#: about 93–119 with 1000 births, 79–137 with 200 and 63–187 with 50: below 1000 births a
#: unit's own births cannot tell a normal ratio (103–107) from a strongly distorted one
#: (120), so the ratio is shown with its count and interval but not judged.
MIN_BIRTHS_FOR_SRB = 1000

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054


# ---------------------------------------------------------------------------------------
# Crude rates
# ---------------------------------------------------------------------------------------


def average_population(start: float, end: float) -> float:
    """Average population P̄ = (population at start + population at end) / 2 (平均人口)."""
    if start < 0 or end < 0:
        raise ValueError("population cannot be negative / 人口数不能为负")
    return (start + end) / 2


def crude_rate(events: float, average_pop: float, per: float = 1000.0) -> float | None:
    """``events / average_pop × per`` (‰ by default); ``None`` when the population is 0."""
    if events < 0:
        raise ValueError("event count cannot be negative / 事件数不能为负")
    if average_pop <= 0:
        return None
    return events / average_pop * per


def crude_birth_rate(births: float, average_pop: float) -> float | None:
    """CBR = births / P̄ × 1000 ‰ (出生率)."""
    return crude_rate(births, average_pop)


def crude_death_rate(deaths: float, average_pop: float) -> float | None:
    """CDR = deaths / P̄ × 1000 ‰ (死亡率)."""
    return crude_rate(deaths, average_pop)


def rate_of_natural_increase(births: float, deaths: float, average_pop: float) -> float | None:
    """RNI = (births − deaths) / P̄ × 1000 ‰ = CBR − CDR (自然增长率); may be negative."""
    if births < 0 or deaths < 0:
        raise ValueError("event count cannot be negative / 事件数不能为负")
    if average_pop <= 0:
        return None
    return (births - deaths) / average_pop * 1000.0


def annualised_rate(rate: float | None, days: int, year_days: int) -> float | None:
    """A crude rate of a part of a year as a rate per year: ``rate × year_days / days``
    (年化率; ``days`` elapsed, ``year_days`` 365 or 366).

    The same as the events over the person-years lived, with the mean population taken to
    live ``days / year_days`` of a year: e.g. 9 births in the first 304 days of 2025 with a
    mean population of 1,498 are 6.01 ‰ of the period and 7.21 ‰ a year.  A full year
    is its own annual rate.
    """
    if rate is None:
        return None
    if days <= 0 or year_days <= 0:
        raise ValueError("a period must have days / 期间天数必须为正")
    return rate * year_days / days


# ---------------------------------------------------------------------------------------
# Sex ratio at birth
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SexRatioAtBirth:
    """Sex ratio at birth (出生人口性别比) with its 95 % interval.

    ``ratio`` = male / female × 100.  The interval is a Wilson score interval for the male
    proportion p = m / (m + f), mapped to the ratio scale by r = 100·p / (1 − p).  The
    mapping is monotone, so the interval keeps its 95 % coverage; unlike a Wald interval on
    the ratio it stays inside [0, ∞) and behaves sensibly for small counts (a unit with 3
    boys and 0 girls gets a wide interval, not a zero-width one).
    ``insufficient`` is true when m + f < ``MIN_BIRTHS_FOR_SRB``.
    """

    male: int
    female: int
    ratio: float | None
    low: float | None
    high: float | None
    insufficient: bool

    @property
    def births(self) -> int:
        return self.male + self.female


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _odds_times_100(p: float) -> float | None:
    return None if p >= 1.0 else 100.0 * p / (1.0 - p)


def sex_ratio_at_birth(
    male: int, female: int, *, z: float = Z95, min_births: int = MIN_BIRTHS_FOR_SRB
) -> SexRatioAtBirth:
    """SRB = male births / female births × 100 with a Wilson-type 95 % interval.

    ``ratio`` is ``None`` without female births; ``high`` is ``None`` when the upper
    bound of the male proportion is 1 (no female births: the ratio is unbounded).
    """
    if male < 0 or female < 0:
        raise ValueError("birth counts cannot be negative / 出生数不能为负")
    n = male + female
    insufficient = n < min_births
    if n == 0:
        return SexRatioAtBirth(male, female, None, None, None, insufficient)
    ratio = None if female == 0 else male / female * 100.0
    p_low, p_high = _wilson(male, n, z)
    low = _odds_times_100(p_low)
    return SexRatioAtBirth(
        male, female, ratio, 0.0 if low is None else low, _odds_times_100(p_high), insufficient
    )


# ---------------------------------------------------------------------------------------
# Fertility
# ---------------------------------------------------------------------------------------


def age_specific_fertility(
    births: Sequence[float], women_years: Sequence[float]
) -> list[float | None]:
    """ASFR(x) = births to women aged x / person-years lived by women aged x (年龄别生育率).

    Per woman-year (not per 1000).  A group with no exposure gives ``None``.
    """
    if len(births) != len(women_years):
        raise ValueError("births and women_years must have the same length / 长度不一致")
    out: list[float | None] = []
    for b, w in zip(births, women_years, strict=True):
        if b < 0 or w < 0:
            raise ValueError("counts cannot be negative / 数值不能为负")
        out.append(None if w == 0 else b / w)
    return out


def total_fertility_rate(
    asfr: Sequence[float | None], widths: Sequence[float] | float = 5.0
) -> float:
    """TFR = Σ ASFR(x) × n(x) (总和生育率); groups with ``None`` ASFR count as 0.

    ``widths`` is one width for all groups (5 for five-year groups, 1 for single years) or
    one width per group.
    """
    ns = [float(widths)] * len(asfr) if isinstance(widths, int | float) else list(widths)
    if len(ns) != len(asfr):
        raise ValueError("asfr and widths must have the same length / 长度不一致")
    return sum((a or 0.0) * n for a, n in zip(asfr, ns, strict=True))


def net_reproduction_rate(asfr: Sequence[float], nlx: Sequence[float], srb: float = 1.05) -> float:
    """NRR = Σ ASFR(x) · nLx / (1 + SRB), nLx on radix 1 and SRB as males per female."""
    if len(asfr) != len(nlx):
        raise ValueError("asfr and nLx must have the same length / 长度不一致")
    return sum(f * lx for f, lx in zip(asfr, nlx, strict=True)) / (1.0 + srb)


# ---------------------------------------------------------------------------------------
# Dependency ratios
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DependencyRatios:
    """Dependency ratios (抚养比) per 100 persons aged 15–64."""

    youth: float | None
    old_age: float | None
    total: float | None


def dependency_ratios(p0_14: float, p15_64: float, p65_plus: float) -> DependencyRatios:
    """youth = P(0–14)/P(15–64)×100 (少儿抚养比), old age = P(65+)/P(15–64)×100 (老年
    抚养比), total = their sum (总抚养比).  All ``None`` without a working-age population."""
    if min(p0_14, p15_64, p65_plus) < 0:
        raise ValueError("population cannot be negative / 人口数不能为负")
    if p15_64 == 0:
        return DependencyRatios(None, None, None)
    youth = p0_14 / p15_64 * 100.0
    old = p65_plus / p15_64 * 100.0
    return DependencyRatios(youth, old, youth + old)


# ---------------------------------------------------------------------------------------
# Life table
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifeTableRow:
    """One age group of a period life table (寿命表)."""

    age: float
    n: float | None  # width; None for the open group
    mx: float
    ax: float
    qx: float
    lx: float
    dx: float
    Lx: float  # noqa: N815 - the demographic symbol
    Tx: float  # noqa: N815
    ex: float


def life_table(
    ages: Sequence[float],
    nmx: Sequence[float],
    nax: Sequence[float] | None = None,
    *,
    radix: float = 100_000.0,
    q0: float | None = None,
) -> list[LifeTableRow]:
    """Abridged or single-year period life table from death rates nmx and nax.

    ``ages`` are the lower bounds; the last group is open (ω+).  ``nax`` defaults to the
    interval midpoint n/2 and, for the open group, 1/mx.  Formulas::

        nqx = n·nmx / (1 + (n − nax)·nmx)      (capped at 1; open group qx = 1)
        l(x+n) = lx·(1 − nqx),  ndx = lx − l(x+n)
        nLx = n·l(x+n) + nax·ndx,  open group Lω = lω / mω
        Tx = Σ_{y ≥ x} nLy,  ex = Tx / lx

    ``q0`` replaces the first group's qx when the infant mortality rate is known separately
    (as in the PAS spreadsheet LTPOPDTH).
    """
    k = len(ages)
    if k < 2 or len(nmx) != k or (nax is not None and len(nax) != k):
        raise ValueError("ages, nmx and nax must have the same length ≥ 2 / 长度不一致")
    widths = [ages[i + 1] - ages[i] for i in range(k - 1)]
    if any(w <= 0 for w in widths):
        raise ValueError("ages must increase / 年龄须递增")
    if any(m < 0 for m in nmx):
        raise ValueError("death rates cannot be negative / 死亡率不能为负")
    if nmx[-1] <= 0:
        raise ValueError("the open age group needs a positive death rate / 最高年龄组死亡率须为正")
    ax = list(nax) if nax is not None else [w / 2 for w in widths] + [1.0 / nmx[-1]]

    qx = [min(1.0, n * m / (1 + (n - a) * m)) for n, m, a in zip(widths, nmx, ax, strict=False)]
    qx.append(1.0)
    if q0 is not None:
        if not 0 <= q0 <= 1:
            raise ValueError("q0 must lie in [0, 1] / q0 须在 0 与 1 之间")
        qx[0] = q0
    lx = [radix]
    for q in qx[:-1]:
        lx.append(lx[-1] * (1 - q))
    dx = [lx[i] - lx[i + 1] for i in range(k - 1)] + [lx[-1]]
    big_l = [widths[i] * lx[i + 1] + ax[i] * dx[i] for i in range(k - 1)]
    big_l.append(lx[-1] / nmx[-1])
    tx = [0.0] * k
    acc = 0.0
    for i in range(k - 1, -1, -1):
        acc += big_l[i]
        tx[i] = acc
    return [
        LifeTableRow(
            age=ages[i],
            n=widths[i] if i < k - 1 else None,
            mx=nmx[i],
            ax=ax[i],
            qx=qx[i],
            lx=lx[i],
            dx=dx[i],
            Lx=big_l[i],
            Tx=tx[i],
            ex=tx[i] / lx[i] if lx[i] > 0 else 0.0,
        )
        for i in range(k)
    ]


# Coale–Demeny separation factors (UN Manual X, table 164; coefficients for 4a1 from the
# PAS spreadsheet LTPOPDTH): region -> sex -> (constant above q0 = 0.1, intercept, slope).
_CD_A0 = {
    "w": {"m": (0.33, 0.0425), "f": (0.35, 0.05)},
    "n": {"m": (0.33, 0.0425), "f": (0.35, 0.05)},
    "e": {"m": (0.29, 0.0025), "f": (0.31, 0.01)},
    "s": {"m": (0.33, 0.0425), "f": (0.35, 0.05)},
}
_CD_A0_SLOPE = {"m": 2.875, "f": 3.0}
_CD_A1 = {
    "w": {"m": (1.352, 1.653), "f": (1.361, 1.524)},
    "n": {"m": (1.558, 1.859), "f": (1.570, 1.733)},
    "e": {"m": (1.313, 1.614), "f": (1.324, 1.487)},
    "s": {"m": (1.240, 1.541), "f": (1.239, 1.402)},
}
_CD_A1_SLOPE = {"m": 3.013, "f": 1.627}


def _cd_key(sex: str, region: str) -> tuple[str, str]:
    s = {"m": "m", "f": "f", "b": "f", "M": "m", "F": "f"}.get(sex)
    r = region.lower()
    if s is None or r not in _CD_A0:
        raise ValueError(f"sex must be m/f/b and region n/e/s/w, got {sex!r}, {region!r}")
    return s, r


def _q0_from_m0(m0: float, alpha: float, beta: float) -> float:
    # PAS LTPOPDTH: solve m0 = q0 / (1 − (1 − a0(q0))·q0) with a0 = alpha + beta·q0.
    a = m0 * beta
    b = 1 + m0 * (1 - alpha)
    disc = b * b - 4 * a * m0
    if a == 0:
        return m0 / b
    return 0.2 if disc <= 0 else (b - math.sqrt(disc)) / (2 * a)


def coale_demeny_a0(
    m0: float, sex: str = "m", region: str = "w", imr: float | None = None
) -> float:
    """Coale–Demeny a0 (mean years lived in the first year by infants who die).

    Uses the infant mortality rate ``imr`` (q0) when given, else q0 approximated from m0.
    """
    s, r = _cd_key(sex, region)
    const, alpha = _CD_A0[r][s]
    beta = _CD_A0_SLOPE[s]
    q0 = _q0_from_m0(m0, alpha, beta) if imr is None else imr
    return const if q0 > 0.1 else alpha + beta * q0


def coale_demeny_a1_4(
    m0: float, sex: str = "m", region: str = "w", imr: float | None = None
) -> float:
    """Coale–Demeny 4a1 from q0 (``imr``), or from m0 through a0 as in the PAS spreadsheet."""
    s, r = _cd_key(sex, region)
    if imr is None:
        a0 = coale_demeny_a0(m0, sex, region)
        q0 = m0 / (1 + (1 - a0) * m0)
    else:
        q0 = imr
    const, intercept = _CD_A1[r][s]
    return const if q0 > 0.1 else intercept - _CD_A1_SLOPE[s] * q0


def pas_nax(
    ages: Sequence[float],
    nmx: Sequence[float],
    sex: str = "m",
    region: str = "w",
    imr: float | None = None,
) -> list[float]:
    """nax by the PAS rule of thumb: Coale–Demeny for 0 and 1–4, n/2 above, 1/mω open.

    ``ages`` must start 0, 1, 5, ... (standard abridged groups).
    """
    if len(ages) < 3 or ages[0] != 0 or ages[1] != 1 or ages[2] != 5:
        raise ValueError("PAS nax needs abridged groups 0, 1, 5, ... / 需要 0、1、5… 年龄组")
    ax = [(ages[i + 1] - ages[i]) / 2 for i in range(len(ages) - 1)] + [1.0 / nmx[-1]]
    ax[0] = coale_demeny_a0(nmx[0], sex, region, imr)
    ax[1] = coale_demeny_a1_4(nmx[0], sex, region, imr)
    return ax


def un_nax(
    ages: Sequence[float], nmx: Sequence[float], sex: str = "m", region: str = "w"
) -> list[float]:
    """nax of the UN (1982) model life tables for standard abridged groups 0, 1, 5, ...

    Ages 0 and 1–4 by Coale–Demeny (from m0), 2.5 for 5–9 and 10–14, and Greville's
    formula above::

        nax = n/2 − (n²/12)·(nmx − k),  k = ln(m(x+n)/m(x−n)) / (n/2 + n + n/2)

    (for 5-year groups 2.5 − (25/12)(nmx − ln(m(x+5)/m(x−5))/10), UN 1982 p. 31); the
    open group 1/mω.  A Greville value outside 0.4n–0.6n (irregular rates of a small
    population) is replaced by the constant-hazard value n + 1/m − n/(1 − e^(−n·m)), as
    in DemoTools.
    """
    if len(ages) != len(nmx):
        raise ValueError("ages and nmx must have the same length / 长度不一致")
    ax = pas_nax(ages, nmx, sex, region)
    k = len(ages)
    for i in range(2, k - 1):
        n = ages[i + 1] - ages[i]
        if ages[i] < 15:
            ax[i] = n / 2
            continue
        prev, m, nxt = nmx[i - 1], nmx[i], nmx[i + 1]
        n_prev = ages[i] - ages[i - 1]
        n_next = (ages[i + 2] - ages[i + 1]) if i + 2 < k else n
        a: float | None = None
        if prev > 0 and nxt > 0:
            kx = math.log(nxt / prev) / (n_prev / 2 + n + n_next / 2)
            a = n / 2 - (n * n / 12) * (m - kx)
        if a is None or not 0.4 * n <= a <= 0.6 * n:
            a = n / 2 if m <= 0 else n + 1 / m - n / (1 - math.exp(-n * m))
        ax[i] = a
    return ax


def life_table_from_counts(
    ages: Sequence[float],
    deaths: Sequence[float],
    exposure: Sequence[float],
    nax: Sequence[float] | None = None,
    *,
    sex: str | None = None,
    region: str = "w",
    method: str = "pas",
    radix: float = 100_000.0,
    q0: float | None = None,
) -> list[LifeTableRow]:
    """Life table from deaths and person-years of exposure (abridged or single-year).

    nmx = deaths / exposure (0 where a group has neither).  Without ``nax``: for abridged
    groups (0, 1, 5, ...) and a given ``sex``, ``method`` "pas" (:func:`pas_nax`) or "un"
    (:func:`un_nax`); for single years (0, 1, 2, ...) and a given ``sex``, Coale–Demeny a0
    and 0.5 above; otherwise the midpoint (``life_table``'s default).
    """
    if not len(ages) == len(deaths) == len(exposure):
        raise ValueError("ages, deaths and exposure must have the same length / 长度不一致")
    nmx: list[float] = []
    for age, d, e in zip(ages, deaths, exposure, strict=True):
        if d < 0 or e < 0:
            raise ValueError(f"age {age:g}: deaths and exposure cannot be negative / 不能为负")
        if e == 0 and d > 0:
            raise ValueError(
                f"age {age:g}: deaths without exposure / 有死亡而无暴露人年: check the data"
            )
        nmx.append(d / e if e > 0 else 0.0)
    if nmx and nmx[-1] <= 0:
        raise ValueError(
            f"age {ages[-1]:g}+: the open group has no deaths: pool years or borrow a larger "
            "unit's schedule / 最高年龄组没有死亡,请合并多年或借用上级单位的死亡模式"
        )
    if nax is None and sex is not None and len(ages) >= 3:
        if list(ages[:3]) == [0, 1, 5]:
            if method not in ("pas", "un"):
                raise ValueError(f"method must be 'pas' or 'un', got {method!r}")
            fn = pas_nax if method == "pas" else un_nax
            nax = fn(ages, nmx, sex, region)
        elif all(ages[i] == i for i in range(len(ages))):
            nax = [0.5] * (len(ages) - 1) + [1.0 / nmx[-1]]
            nax[0] = coale_demeny_a0(nmx[0], sex, region, q0)
    return life_table(ages, nmx, nax, radix=radix, q0=q0)
