"""Dual-system estimation (双系统估计) of a true count from two independent lists.

Used to estimate under-reporting (漏报): the registry's births (list 1) against hospital
birth records (list 2), linked person to person; the Chapman estimator gives the number of
births that really happened, including those missing from both lists.

Chapman (1951), nearly unbiased for the Lincoln–Petersen estimate::

    N̂ = (n1 + 1)(n2 + 1) / (m + 1) − 1
    Var(N̂) = (n1 + 1)(n2 + 1)(n1 − m)(n2 − m) / ((m + 1)²(m + 2))      (Seber 1970)

n1, n2: records in each list; m: records matched in both.

Assumptions (the estimate is only as good as these; they are shown with every result):

* **closure**: the population is the same for both lists (the same unit and period; no
  births counted in one list for a different period or territory);
* **independence**: being on one list does not change the chance of being on the other
  (a hospital birth is not more likely to be registered *because* of the hospital record;
  if it is, N̂ is biased downwards);
* **homogeneity**: within the unit, every birth has the same chance of being on each list
  (otherwise stratify, e.g. by township, and add the estimates);
* **perfect matching**: a link is found exactly when both records are the same event (no
  false links, no missed links); missed links inflate N̂, false links deflate it.
  Each list must also be free of duplicates and out-of-scope records.

Interval: by default the normal approximation N̂ ± z·√Var of the glossary, with the lower
bound raised to the number of distinct records actually observed (n1 + n2 − m), since the
true count cannot be below what was seen.  ``method="lognormal"`` gives Chao's (1987)
log-normal interval, which models the *unseen* count f0 = N̂ − (n1 + n2 − m) as log-normal:
it is asymmetric (longer upwards), never drops below the observed count, and covers better
when m is small or coverage is very high; for the large, well-covered counts of a county
the two agree closely.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ASSUMPTIONS",
    "ASSUMPTIONS_ZH",
    "ChapmanEstimate",
    "chapman",
    "chapman_variance",
    "coverage_start",
]

Z95 = 1.959963984540054

ASSUMPTIONS = (
    "closure: both lists cover the same population (same unit, same period)",
    "independence: being on one list does not change the chance of being on the other",
    "homogeneity: every member has the same chance of being on each list",
    "perfect matching: links are exactly the records of the same event; no duplicates",
)
ASSUMPTIONS_ZH = (
    "封闭性：两个来源覆盖同一人群（同一单位、同一时期）",
    "独立性：是否被一个来源登记不影响被另一个来源登记的概率",
    "同质性：每个人被各来源登记的概率相同",
    "匹配准确：链接恰好对应同一事件；来源内无重复记录",
)


@dataclass(frozen=True)
class ChapmanEstimate:
    """A Chapman dual-system estimate with its interval and the completeness of each list."""

    n1: int
    n2: int
    m: int
    estimate: float
    variance: float
    low: float
    high: float
    method: str

    @property
    def observed(self) -> int:
        """Distinct records seen in at least one list: n1 + n2 − m."""
        return self.n1 + self.n2 - self.m

    @property
    def std_error(self) -> float:
        return math.sqrt(self.variance)

    @property
    def completeness_1(self) -> float | None:
        """Estimated share of the true count on list 1 (e.g. registry completeness)."""
        return self.n1 / self.estimate if self.estimate > 0 else None

    @property
    def completeness_2(self) -> float | None:
        return self.n2 / self.estimate if self.estimate > 0 else None

    def covers(self, true_count: float) -> bool:
        return self.low <= true_count <= self.high


def _check(n1: int, n2: int, m: int) -> None:
    if min(n1, n2, m) < 0:
        raise ValueError("counts cannot be negative / 计数不能为负")
    if m > min(n1, n2):
        raise ValueError(
            f"matched count m={m} exceeds a list size (n1={n1}, n2={n2}) / 匹配数不能超过任一来源数"
        )


def chapman_variance(n1: int, n2: int, m: int) -> float:
    """(n1 + 1)(n2 + 1)(n1 − m)(n2 − m) / ((m + 1)²(m + 2))."""
    _check(n1, n2, m)
    return (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))


def chapman(
    n1: int,
    n2: int,
    m: int,
    *,
    z: float = Z95,
    method: Literal["normal", "lognormal"] = "normal",
) -> ChapmanEstimate:
    """Chapman estimate N̂ = (n1 + 1)(n2 + 1)/(m + 1) − 1 with a (default 95 %) interval."""
    _check(n1, n2, m)
    est = (n1 + 1) * (n2 + 1) / (m + 1) - 1
    var = chapman_variance(n1, n2, m)
    observed = n1 + n2 - m
    if method == "normal":
        half = z * math.sqrt(var)
        low, high = max(float(observed), est - half), est + half
    elif method == "lognormal":
        f0 = est - observed
        if f0 <= 0 or var == 0:
            low = high = max(est, float(observed))
        else:
            c = math.exp(z * math.sqrt(math.log(1 + var / (f0 * f0))))
            low, high = observed + f0 / c, observed + f0 * c
    else:
        raise ValueError(f"unknown interval method {method!r}: use 'normal' or 'lognormal'")
    return ChapmanEstimate(n1, n2, m, est, var, low, high, method)


#: A month opens the coverage of a source when it holds at least this share of the source's
#: median month.
COVERAGE_SHARE = 0.5


def coverage_start(monthly: dict[tuple[int, int], int]) -> tuple[int, int] | None:
    """First month (year, month) from which a source reports in full, from its monthly counts.

    The earliest record of a source is a poor start of its coverage: one mistyped birth
    date years too early would open a window in which the registry counts births the source
    never covered (a breach of closure that inflates N̂).  The coverage starts instead at
    the first month holding at least ``COVERAGE_SHARE`` of the median count of the months
    that have records (so a stray record years early, with empty months after it, does not
    pull the median down).  ``None`` when there are no records.

    >>> coverage_start({(2021, 2): 1, (2021, 11): 70, (2021, 12): 80, (2022, 1): 75})
    (2021, 11)
    """
    months = {k: v for k, v in monthly.items() if v > 0}
    if not months:
        return None
    median = statistics.median(months.values())
    # the median month itself qualifies, so there is always one
    return min(ym for ym, n in months.items() if n >= COVERAGE_SHARE * median)
