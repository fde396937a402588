"""Ethnic groups (民族) as GB/T 3304-1991 codes them, and the two extra categories.

GB/T 3304-1991 《中国各民族名称的罗马字母拼写法和代码》 gives each of the 56 recognised
groups a two-digit code (01 汉族 … 56 基诺族), a romanised name and a two-letter code.  Registry
and ID-card systems that use the standard add two categories after it, and the registry
accepts them too:

* ``97`` 其他未识别民族 (persons of a group not yet identified, e.g. 穿青人, 僜人),
* ``98`` 外国血统中国籍人士 (naturalised Chinese citizens of foreign descent).

:func:`normalize` turns what a clerk or a file writes into the name the registry stores:
the name itself, the name without 族 (``蒙古``), the two-digit or two-letter code, and the
names used before the State Council renamed two groups (崩龙族 → 德昂族 in 1985,
毛难族 → 毛南族 in 1986).  Anything else (``火星族``) is not an ethnic group: None.

>>> normalize("蒙古"), normalize("04"), normalize("HA"), normalize("毛难族")
('蒙古族', '藏族', '汉族', '毛南族')
>>> normalize("火星族") is None
True
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["EthnicGroup", "GROUPS", "NAMES", "by_code", "normalize"]


@dataclass(frozen=True, slots=True)
class EthnicGroup:
    """One entry of the list: code, Chinese name, romanised name, letter code."""

    code: str
    name: str
    roman: str
    letters: str

    @property
    def label_en(self) -> str:
        return f"{self.name} ({self.roman})"


_TABLE = (
    ("01", "汉族", "Han", "HA"), ("02", "蒙古族", "Mongol", "MG"), ("03", "回族", "Hui", "HU"),
    ("04", "藏族", "Zang", "ZA"), ("05", "维吾尔族", "Uygur", "UG"), ("06", "苗族", "Miao", "MH"),
    ("07", "彝族", "Yi", "YI"), ("08", "壮族", "Zhuang", "ZH"), ("09", "布依族", "Buyei", "BY"),
    ("10", "朝鲜族", "Chosen", "CS"), ("11", "满族", "Man", "MA"), ("12", "侗族", "Dong", "DO"),
    ("13", "瑶族", "Yao", "YA"), ("14", "白族", "Bai", "BA"), ("15", "土家族", "Tujia", "TJ"),
    ("16", "哈尼族", "Hani", "HN"), ("17", "哈萨克族", "Kazak", "KZ"), ("18", "傣族", "Dai", "DA"),
    ("19", "黎族", "Li", "LI"), ("20", "傈僳族", "Lisu", "LS"), ("21", "佤族", "Va", "VA"),
    ("22", "畲族", "She", "SH"), ("23", "高山族", "Gaoshan", "GS"), ("24", "拉祜族", "Lahu", "LH"),
    ("25", "水族", "Sui", "SU"), ("26", "东乡族", "Dongxiang", "DX"), ("27", "纳西族", "Naxi", "NX"),
    ("28", "景颇族", "Jingpo", "JP"), ("29", "柯尔克孜族", "Kirgiz", "KG"), ("30", "土族", "Tu", "TU"),
    ("31", "达斡尔族", "Daur", "DU"), ("32", "仫佬族", "Mulao", "ML"), ("33", "羌族", "Qiang", "QI"),
    ("34", "布朗族", "Blang", "BL"), ("35", "撒拉族", "Salar", "SL"), ("36", "毛南族", "Maonan", "MN"),
    ("37", "仡佬族", "Gelao", "GL"), ("38", "锡伯族", "Xibe", "XB"), ("39", "阿昌族", "Achang", "AC"),
    ("40", "普米族", "Pumi", "PM"), ("41", "塔吉克族", "Tajik", "TA"), ("42", "怒族", "Nu", "NU"),
    ("43", "乌孜别克族", "Uzbek", "UZ"), ("44", "俄罗斯族", "Russ", "RS"), ("45", "鄂温克族", "Ewenki", "EW"),
    ("46", "德昂族", "Deang", "DE"), ("47", "保安族", "Bonan", "BN"), ("48", "裕固族", "Yugur", "YG"),
    ("49", "京族", "Gin", "GI"), ("50", "塔塔尔族", "Tatar", "TT"), ("51", "独龙族", "Derung", "DR"),
    ("52", "鄂伦春族", "Oroqen", "OR"), ("53", "赫哲族", "Hezhen", "HZ"), ("54", "门巴族", "Monba", "MB"),
    ("55", "珞巴族", "Lhoba", "LB"), ("56", "基诺族", "Jino", "JN"),
    ("97", "其他未识别民族", "unidentified ethnic group", ""),
    ("98", "外国血统中国籍人士", "Chinese citizen of foreign descent", ""),
)

#: Every accepted group, in code order: the 56 groups, then 97 and 98.
GROUPS: tuple[EthnicGroup, ...] = tuple(EthnicGroup(*row) for row in _TABLE)
#: The stored names, in code order.
NAMES: tuple[str, ...] = tuple(g.name for g in GROUPS)

_BY_CODE = {g.code: g for g in GROUPS}

# Other spellings of the two extra categories, and the names two groups had before they
# were renamed (State Council approvals of 1985 and 1986).
_ALIASES = {
    "其他": "97", "其它": "97", "未识别民族": "97", "其他民族": "97", "未识别": "97",
    "外国血统": "98", "外国血统中国籍": "98", "入籍": "98",
    "崩龙族": "46", "崩龙": "46", "毛难族": "36", "毛难": "36",
}


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _index() -> dict[str, str]:
    out: dict[str, str] = dict(_ALIASES)
    for g in GROUPS:
        out[g.name] = g.code
        out[g.code] = g.code
        out[str(int(g.code))] = g.code
        if g.letters:
            out[g.letters] = g.code
        if g.name.endswith("族") and len(g.name) > 2:
            out[g.name[:-1]] = g.code  # 蒙古, 维吾尔 (汉 and 回 below)
    for g in GROUPS[:56]:
        if len(g.name) == 2:
            out.setdefault(g.name[0], g.code)  # 汉, 回, 藏 …
    return out


_INDEX = _index()


def by_code(code: str) -> EthnicGroup | None:
    """The group of a two-digit code (``"01"``), or None."""
    return _BY_CODE.get(code)


def normalize(text: str | None) -> str | None:
    """The stored name for what was written, or None when it is no ethnic group.

    Empty input gives None too; callers decide whether an empty value is allowed.
    """
    if text is None:
        return None
    key = _key(str(text))
    if not key:
        return None
    code = _INDEX.get(key) or _INDEX.get(key.upper())
    return _BY_CODE[code].name if code else None
