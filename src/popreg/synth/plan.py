"""The layout of the synthetic county: townships, villages, their codes, names and sizes.

The default county (157,000 registered people) mirrors a real one: 15 townships, 7 of them
in the north holding about 65 % of the people, the county town 城关镇 with about 52,000
registered and 70,000 living there, and 343 villages of which 87 have under 200 people
and 35 under 100.  ``--persons N`` scales the same template: more townships and villages
with the same size distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from popreg.synth.ids import stable_county_codes

DEFAULT_PERSONS = 157_000
#: registered population ten years before the reference moment, relative to the end
START_SHARE = 147_100 / 157_000

COUNTY_CODE = "140122"  # 阳曲县: a real 县 code that never changed (valid for any birth date)
COUNTY_NAME = "阳曲县"

_TEMPLATE_NAMES = (
    "城关镇", "龙泉镇", "石桥镇", "河口镇", "杨庄镇", "北岭镇", "大营镇",
    "南山乡", "王家坪乡", "马坊乡", "青龙乡", "柳林乡", "高庄乡", "石门乡", "桃园乡",
)
_TEMPLATE_NORTH = (True,) * 7 + (False,) * 8
#: registered people per township (thousands) in the default county
_TEMPLATE_WEIGHT = (52.0,) + (50.0 / 6,) * 6 + (55.0 / 8,) * 8
#: villages per township in the default county (sum 343)
_TEMPLATE_VILLAGES = (30, 22, 21, 21, 21, 21, 20, 24, 24, 24, 23, 23, 23, 23, 23)
#: weights for placing small (<200) and tiny (<100) villages
_TEMPLATE_SMALL_W = (0.0,) + (3.0,) * 6 + (4.25,) * 8
_TEMPLATE_TINY_W = (0.0,) + (1.0,) * 6 + (3.6,) * 8
#: people living there but registered elsewhere (floating_in), per 157,000
_TEMPLATE_FLOATING_IN = (21_000,) + (250,) * 6 + (60,) * 8

_PLACE_A = "东西南北前后上下大小新老石柳杨李王张刘陈赵马高白黄青红龙凤金银长平安和兴永丰"
_PLACE_B = "庄营店集坪沟河湾峪寨堡岭洼坡桥口头园林屯铺场家"
_PLACE_C = "关街城门苑园桥路"


@dataclass(frozen=True)
class VillagePlan:
    code: str
    name: str
    urban: bool
    size_class: int  # 0: under 100, 1: 100-199, 2: 200 and more (registered at the end)
    target: int  # registered people at the reference moment


@dataclass
class TownshipPlan:
    index: int
    code: str
    name: str
    region: str  # region code of ID numbers of people born here
    block: int  # block of ID sequence numbers
    north: bool
    seat: bool
    floating_in: int
    foreign: int
    native_regions: frozenset[str] = frozenset()  # region codes of all townships' natives
    villages: list[VillagePlan] = field(default_factory=list)

    @property
    def target(self) -> int:
        return sum(v.target for v in self.villages)


@dataclass
class CountyPlan:
    code: str
    name: str
    persons: int
    townships: list[TownshipPlan]


def _largest_remainder(total: int, weights: np.ndarray, minimum: np.ndarray | None = None) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    base = np.zeros(len(w), dtype=int) if minimum is None else minimum.astype(int).copy()
    rest = total - int(base.sum())
    if rest <= 0 or w.sum() == 0:
        return base
    share = w / w.sum() * rest
    out = base + np.floor(share).astype(int)
    left = total - int(out.sum())
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    out[order[:left]] += 1
    return out


def _place_names(rng: np.random.Generator, n: int, suffixes: tuple[str, ...], taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        suffix = suffixes[int(rng.integers(len(suffixes)))]
        if suffix == "社区":
            stem = _PLACE_A[int(rng.integers(len(_PLACE_A)))] + _PLACE_C[int(rng.integers(len(_PLACE_C)))]
        elif rng.random() < 0.35:
            stem = _PLACE_A[int(rng.integers(12, len(_PLACE_A)))] + "家" + _PLACE_B[int(rng.integers(len(_PLACE_B) - 1))]
        else:
            stem = _PLACE_A[int(rng.integers(len(_PLACE_A)))] + _PLACE_B[int(rng.integers(len(_PLACE_B) - 1))]
        name = stem + suffix
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def build_plan(persons: int, rng: np.random.Generator, code: str = COUNTY_CODE, county_name: str = COUNTY_NAME,
               excluded: frozenset[str] = frozenset()) -> CountyPlan:
    """Townships and villages for a county of about ``persons`` registered people.

    ``code``/``county_name``: the county (a never-changed 县 code); ``excluded``: region codes no
    person born elsewhere may come from (the sibling counties of a multi-county run, whose
    people are placed by the migrant exchange instead).
    """
    scale = persons / DEFAULT_PERSONS
    n_town = max(1, round(15 * scale))
    if n_town > 999:
        raise ValueError(
            f"--persons {persons}: 最多约 10,400,000 人(乡镇代码只有三位)/ at most about "
            "10,400,000 persons: township codes have three digits"
        )
    tmpl = np.arange(n_town) % 15
    weights = np.array([_TEMPLATE_WEIGHT[t] for t in tmpl])
    n_vill_total = max(n_town, round(343 * scale))
    n_tiny = round(35 * scale)
    n_small = round(52 * scale)
    n_vill = _largest_remainder(
        n_vill_total, np.array([_TEMPLATE_VILLAGES[t] for t in tmpl], float), np.ones(n_town)
    )
    small_w = np.array([_TEMPLATE_SMALL_W[t] for t in tmpl]) + (0.01 if n_town < 15 else 0.0)
    tiny_w = np.array([_TEMPLATE_TINY_W[t] for t in tmpl]) + (0.01 if n_town < 15 else 0.0)
    # every township keeps at least one village of 200 or more
    cap = n_vill - 1
    tiny = np.minimum(_largest_remainder(n_tiny, tiny_w), cap)
    small = np.minimum(_largest_remainder(n_small, small_w), cap - tiny)
    pop = _largest_remainder(persons, weights)
    regions = [c for c, _ in stable_county_codes() if c != code and c not in excluded]
    township_names: set[str] = set()
    plans: list[TownshipPlan] = []
    counters = {"镇": 100, "乡": 200}
    for i in range(n_town):
        t = int(tmpl[i])
        group = i // 15
        if group == 0:
            name = _TEMPLATE_NAMES[t]
            township_names.add(name)
        else:
            name = _place_names(rng, 1, ("镇",) if _TEMPLATE_NORTH[t] else ("乡",), township_names)[0]
        if n_town <= 15:
            kind = "镇" if name.endswith("镇") else "乡"
            code_t = counters[kind]
            counters[kind] += 1
        else:  # a very large synthetic county numbers its townships 001-999
            code_t = i + 1
        tcode = f"{code}{code_t:03d}000"
        fi = round(_TEMPLATE_FLOATING_IN[t] * pop[i] / (_TEMPLATE_WEIGHT[t] * 1000))
        plan = TownshipPlan(
            index=i,
            code=tcode,
            name=name,
            region=code if group == 0 else regions[(group * 37) % len(regions)],
            block=i % 15,
            north=_TEMPLATE_NORTH[t],
            seat=t == 0,
            floating_in=fi,
            foreign=max(1, round(12 * pop[i] / 52_000)) if t == 0 else 0,
        )
        plan.villages = _villages(rng, plan, int(n_vill[i]), int(tiny[i]), int(small[i]), int(pop[i]))
        plans.append(plan)
    natives = frozenset(t.region for t in plans) | excluded
    for plan in plans:
        plan.native_regions = natives
    return CountyPlan(code, county_name, persons, plans)


def _villages(rng: np.random.Generator, t: TownshipPlan, n: int, n_tiny: int, n_small: int, pop: int) -> list[VillagePlan]:
    n_urban = max(1, round(n * 0.6)) if t.seat else 1
    n_urban = min(n_urban, n - n_tiny - n_small)
    names = _place_names(rng, n_urban, ("社区",), set()) if n_urban else []
    taken = set(names)
    names += _place_names(rng, n - n_urban, ("村",), taken)
    classes = [2] * n_urban + [0] * n_tiny + [1] * n_small + [2] * (n - n_urban - n_tiny - n_small)
    targets = np.zeros(n, dtype=int)
    cls = np.array(classes)
    targets[cls == 0] = rng.integers(45, 86, int((cls == 0).sum()))
    targets[cls == 1] = rng.integers(120, 181, int((cls == 1).sum()))
    normal = np.flatnonzero(cls == 2)
    rest = max(pop - int(targets.sum()), 300 * len(normal))
    w = rng.lognormal(0.0, 0.45, len(normal))
    w[: n_urban] *= 3.0 if t.seat else 1.8
    share = w / w.sum() * rest
    # keep every normal village well above 200 so ten years of change cannot cross the line
    share = np.maximum(share, 300)
    share = share / share.sum() * rest
    targets[normal] = np.maximum(np.round(share).astype(int), 260)
    out = []
    for k in range(n):
        num = (k + 1) if k < n_urban else 200 + (k - n_urban + 1)
        out.append(VillagePlan(f"{t.code[:9]}{num:03d}", names[k], k < n_urban, classes[k], int(targets[k])))
    return out
