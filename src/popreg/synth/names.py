"""Chinese names for the synthetic county, and the noise that outside sources add to them.

Surnames and their frequencies come from Faker's zh_CN provider (a ranking with percentage
shares, including the heteronym surnames 单/曾/解).  Given names mix Faker's lists (common
names of older generations) with names composed from period-typical characters, so that
the young have 梓轩/欣怡-style names and the old 建国/秀英-style ones.  A few persons of
minority nationalities carry transliterated names with the middle dot (艾力·买买提).

Everything here works on numpy index arrays so millions of names cost little.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from faker.providers.person.zh_CN import Provider as _ZhPerson

# -- surnames -----------------------------------------------------------------------------

_SURNAME_WEIGHTS: dict[str, float] = dict(_ZhPerson.last_names)
SURNAMES: tuple[str, ...] = tuple(_SURNAME_WEIGHTS)
_sw = np.array([_SURNAME_WEIGHTS[s] for s in SURNAMES], dtype=float)
SURNAME_P: np.ndarray = _sw / _sw.sum()

# -- given names --------------------------------------------------------------------------

_OLD_MALE_CHARS = "建国军民华平强明志德海林文忠永福庆春生金宝成伟刚勇红卫东山兴旺富贵荣树"
_OLD_FEMALE_CHARS = "秀英兰芳桂珍玉梅凤华淑琴霞丽红云翠萍彩香菊花荣芬燕敏娟春"
_MID_MALE_CHARS = "伟磊涛鹏辉斌超波杰峰俊浩宇飞凯亮军勇强斌健龙刚锋毅晨阳光明"
_MID_FEMALE_CHARS = "丽静娜敏艳婷燕霞娟洁琳颖倩雪莉玲慧芳萍晶璐丹蕾薇红梅洋"
_NEW_MALE_CHARS = "子浩宇轩梓睿俊杰博文泽铭逸辰昊然一航皓晨佳豪嘉煜奕宸瑞钰"
_NEW_FEMALE_CHARS = "欣怡梓涵子萱雨诗琪可馨佳悦思彤一若汐语桐依晨紫梦芷瑶沐安"


def _compose(chars: str, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    cs = list(dict.fromkeys(chars))
    out: set[str] = set()
    while len(out) < count:
        a, b = rng.choice(len(cs), 2, replace=False)
        out.add(cs[a] + cs[b])
    return sorted(out)


def _pool(faker_names: list[str], chars: str, seed: int) -> tuple[str, ...]:
    singles = list(dict.fromkeys(chars))
    return tuple(dict.fromkeys(list(faker_names) + _compose(chars, 160, seed) + singles[:12]))


#: Given-name pools by sex (0 male, 1 female) and generation (0 born <1965, 1 1965–1999,
#: 2 2000 and later).
GIVEN: tuple[tuple[tuple[str, ...], ...], ...] = (
    (
        _pool(_ZhPerson.first_names_male[:30], _OLD_MALE_CHARS, 1),
        _pool(_ZhPerson.first_names_male, _MID_MALE_CHARS, 2),
        _pool([], _NEW_MALE_CHARS, 3),
    ),
    (
        _pool(_ZhPerson.first_names_female[:40], _OLD_FEMALE_CHARS, 4),
        _pool(_ZhPerson.first_names_female, _MID_FEMALE_CHARS, 5),
        _pool([], _NEW_FEMALE_CHARS, 6),
    ),
)

#: Zipf-like popularity inside each pool (a few given names are very common).
def _zipf(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.9
    return np.asarray(w / w.sum())


GIVEN_P = tuple(tuple(_zipf(len(p)) for p in by_sex) for by_sex in GIVEN)

#: Names carried by many people: namesakes that must never be taken for duplicates.
COMMON_FULL_NAMES = (("张伟", "王伟", "李伟", "刘伟", "李强", "王磊"), ("王芳", "李娜", "张敏", "李静", "王静", "张丽"))

# -- minority nationalities ---------------------------------------------------------------

ETHNICITIES = ("汉族", "回族", "满族", "蒙古族", "维吾尔族", "藏族", "土家族")
ETHNICITY_P = np.array([0.962, 0.018, 0.008, 0.005, 0.003, 0.002, 0.002])
#: ethnic groups whose names are often transliterated with the middle dot
DOTTED_ETHNIC = {"维吾尔族": 0, "藏族": 1}
_DOTTED_GIVEN = (
    ("艾力", "买买提", "阿卜杜拉", "吐尔逊", "艾合买提", "努尔", "热合曼", "古丽", "阿依古丽", "帕提古丽"),
    ("扎西", "次仁", "多吉", "卓玛", "央金", "格桑", "尼玛", "拉姆", "平措", "德吉"),
)


def dotted_name(group: int, rng: np.random.Generator) -> str:
    first, second = rng.choice(len(_DOTTED_GIVEN[group]), 2, replace=False)
    return f"{_DOTTED_GIVEN[group][first]}·{_DOTTED_GIVEN[group][second]}"


def generation_of(birth_year: np.ndarray) -> np.ndarray:
    return np.where(birth_year < 1965, 0, np.where(birth_year < 2000, 1, 2)).astype(np.int8)


def draw_given(rng: np.random.Generator, sex: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
    """An object array of given names for persons of ``sex`` (0/1) born in ``birth_year``."""
    out = np.empty(len(sex), dtype=object)
    gen = generation_of(birth_year)
    for s in (0, 1):
        for g in (0, 1, 2):
            mask = (sex == s) & (gen == g)
            k = int(mask.sum())
            if k:
                pool = GIVEN[s][g]
                idx = rng.choice(len(pool), k, p=GIVEN_P[s][g])
                out[mask] = np.asarray(pool, dtype=object)[idx]
    return out


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(len(SURNAMES), n, p=SURNAME_P).astype(np.int32)


# -- noise ---------------------------------------------------------------------------------


@cache
def _homophones() -> dict[str, tuple[str, ...]]:
    """Characters of our pools (plus common variants) grouped by toneless pinyin."""
    from pypinyin import lazy_pinyin

    chars = set("".join(SURNAMES))
    for by_sex in GIVEN:
        for pool in by_sex:
            chars.update("".join(pool))
    chars.update("玮炜莉俐婧铭桦君健方虹宏瑛铃鹃侠滔锋垒洁琳彬斌萍苹娅亚芬纷梅玫霞")
    groups: dict[str, list[str]] = {}
    for ch in sorted(chars):
        groups.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {ch: tuple(c for c in g if c != ch) for g in groups.values() for ch in g if len(g) > 1}


@cache
def _s2t() -> object:
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(name: str) -> str:
    conv = _s2t()
    return str(conv.convert(name))  # type: ignore[attr-defined]


def homophone_variant(name: str, rng: np.random.Generator) -> str:
    """Replace one given-name character by a homophone (as a clerk typing pinyin would)."""
    table = _homophones()
    start = 1 if "·" not in name else 0
    spots = [i for i in range(start, len(name)) if name[i] in table]
    if not spots:
        return name
    i = spots[int(rng.integers(len(spots)))]
    alts = table[name[i]]
    return name[:i] + alts[int(rng.integers(len(alts)))] + name[i + 1 :]


def noisy_name(name: str, rng: np.random.Generator, p_homophone: float, p_trad: float) -> str:
    u = rng.random()
    if u < p_homophone:
        return homophone_variant(name, rng)
    if u < p_homophone + p_trad:
        return to_traditional(name)
    return name
