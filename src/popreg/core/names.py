"""Chinese personal names (姓名): normalisation, surname split and pinyin keys.

Used by the linkage engine (blocking and comparison), the registry search and the synthetic
county generator.  Plain Python, no Django.

Rules (see ``docs/domain/identity.md``):

* :func:`normalize_name` makes two spellings of the same written name compare equal:
  traditional → simplified (OpenCC ``t2s``, except a few characters that are also standard
  simplified characters, such as 乾 and 於), Unicode NFKC (full-width → half-width), all
  whitespace removed, every middle-dot variant of minority names (``买买提·艾力``) turned into
  U+00B7 ``·``, Latin letters upper-cased.
* :func:`pinyin_readings` lists the toneless readings of a name, most likely first.  The
  surname is read with its surname reading first (单 → shan, 曾 → zeng, 尉迟 → yuchi), the
  other characters with pypinyin's heteronyms, so that homophones share a reading
  (张伟 and 张玮 both give ``zhangwei``).  ü is written ``v`` (吕 → ``lv``), as pypinyin does.
* :func:`pinyin_key` is the first (most likely) reading; :func:`initials_key` its initials.

pypinyin 0.55 has no surname mode (upstream issues #120 and #297 are still open), so the
surname readings are the small tables ``SURNAME_READINGS`` and ``COMPOUND_SURNAMES`` below.

>>> normalize_name(" 歐陽　鋒 ")
'欧阳锋'
>>> pinyin_readings("单雄信")[0]
'shanxiongxin'
>>> split_surname("诸葛亮")
('诸葛', '亮')
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Protocol, cast

from pypinyin import Style, pinyin

__all__ = [
    "COMPOUND_SURNAMES",
    "MIDDLE_DOT",
    "SURNAME_READINGS",
    "initials_key",
    "normalize_name",
    "pinyin_key",
    "pinyin_readings",
    "split_surname",
]

MIDDLE_DOT = "\u00b7"

# Characters seen in registers in place of the middle dot of minority and foreign names
# (after NFKC, which already maps U+FF0E, U+FF61, U+2024, U+FE52 and U+0387).
_DOT_VARIANTS = (
    "\u00b7"  # · middle dot
    "\u2022"  # • bullet
    "\u2027"  # ‧ hyphenation point
    "\u30fb"  # ・ katakana middle dot
    "\uff65"  # ･ half-width katakana middle dot
    "\u2219"  # ∙ bullet operator
    "\u22c5"  # ⋅ dot operator
    "\u318d"  # ㆍ hangul letter araea
    "\u0387"  # · greek ano teleia
    "\u16eb"  # ᛫ runic single punctuation
    "."  # full stop
    "\u3002"  # 。 ideographic full stop
    "\uff0e"  # ． full-width full stop
    "\uff61"  # ｡ half-width ideographic full stop
    "\u2024"  # ․ one dot leader
    "\ufe52"  # ﹒ small full stop
)
_DOT_RUN = re.compile("[" + re.escape(_DOT_VARIANTS) + "]+")
_WHITESPACE = re.compile(r"\s+")  # str patterns are Unicode-aware: U+3000 included

# Single-character surnames whose surname reading is not pypinyin's first reading.
# Sources: 《现代汉语词典》 surname readings; the list in python-pinyin issue #297.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "盖": "ge",
    "缪": "miao",
    "乐": "yue",
    "覃": "qin",
    "秘": "bi",
    "重": "chong",
    "种": "chong",
    "翟": "zhai",
    "折": "she",
    "都": "du",
    "六": "lu",
    "薄": "bo",
    "阚": "kan",
    "卜": "bu",
    "繁": "po",
    "藏": "zang",
    "粘": "nian",
    "佴": "nai",
    "句": "gou",
    "员": "yun",
    "贠": "yun",
    "召": "shao",
    "祭": "zhai",
    "隗": "wei",
    "长": "chang",
    "乜": "nie",
    "洗": "xian",
    "能": "nai",
    "奇": "ji",
    "亟": "qi",
    "么": "yao",
    "郇": "xun",
    "适": "kuo",
    "铅": "yan",
    "缴": "zhuo",
    "便": "pian",
    "角": "jue",
    "蕃": "pi",
    "扎": "za",
    "黑": "he",
    "乘": "sheng",
    "的": "di",
    "不": "fou",
}

# Two-character (compound) surnames 复姓 with their reading, syllable by syllable.
COMPOUND_SURNAMES: dict[str, tuple[str, str]] = {
    "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"),
    "诸葛": ("zhu", "ge"),
    "上官": ("shang", "guan"),
    "尉迟": ("yu", "chi"),
    "长孙": ("zhang", "sun"),
    "慕容": ("mu", "rong"),
    "皇甫": ("huang", "fu"),
    "东方": ("dong", "fang"),
    "夏侯": ("xia", "hou"),
    "公孙": ("gong", "sun"),
    "令狐": ("ling", "hu"),
    "宇文": ("yu", "wen"),
    "司徒": ("si", "tu"),
    "司空": ("si", "kong"),
    "澹台": ("tan", "tai"),
    "公冶": ("gong", "ye"),
    "宗政": ("zong", "zheng"),
    "濮阳": ("pu", "yang"),
    "淳于": ("chun", "yu"),
    "单于": ("chan", "yu"),
    "太叔": ("tai", "shu"),
    "申屠": ("shen", "tu"),
    "轩辕": ("xuan", "yuan"),
    "万俟": ("mo", "qi"),
    "闻人": ("wen", "ren"),
    "端木": ("duan", "mu"),
    "赫连": ("he", "lian"),
    "呼延": ("hu", "yan"),
    "独孤": ("du", "gu"),
    "南宫": ("nan", "gong"),
    "西门": ("xi", "men"),
    "百里": ("bai", "li"),
    "东郭": ("dong", "guo"),
    "第五": ("di", "wu"),
    "钟离": ("zhong", "li"),
    "拓跋": ("tuo", "ba"),
    "左丘": ("zuo", "qiu"),
    "公羊": ("gong", "yang"),
    "梁丘": ("liang", "qiu"),
    "微生": ("wei", "sheng"),
    "羊舌": ("yang", "she"),
    "谷梁": ("gu", "liang"),
    "乐正": ("yue", "zheng"),
    "颛孙": ("zhuan", "sun"),
    "仲孙": ("zhong", "sun"),
    "巫马": ("wu", "ma"),
    "公西": ("gong", "xi"),
    "漆雕": ("qi", "diao"),
    "壤驷": ("rang", "si"),
    "公良": ("gong", "liang"),
    "段干": ("duan", "gan"),
    "司寇": ("si", "kou"),
    "子车": ("zi", "ju"),
    "亓官": ("qi", "guan"),
    "鲜于": ("xian", "yu"),
    "闾丘": ("lv", "qiu"),
    "东门": ("dong", "men"),
    "夹谷": ("jia", "gu"),
    "完颜": ("wan", "yan"),
    "纳兰": ("na", "lan"),
}


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _t2s() -> _Converter:
    """The OpenCC traditional → simplified converter, built once on first use."""
    import opencc

    return cast(_Converter, opencc.OpenCC("t2s"))


# Standard simplified characters (通用规范汉字表) that OpenCC t2s would still rewrite, as it
# reads them as traditional forms of other characters: 乾 qián (not 干), the surname 於
# (not 于), and 昇, 陞, 徵, 夥, kept in personal names.  Converting them would change a
# correctly written simplified name; the pinyin keys still link 昇/升 and 於/于.
_KEEP_AS_WRITTEN = frozenset("乾於昇陞徵夥")
_KEEP_SPLIT = re.compile("([" + "".join(sorted(_KEEP_AS_WRITTEN)) + "])")


def _to_simplified(text: str) -> str:
    converter = _t2s()
    return "".join(
        part if part in _KEEP_AS_WRITTEN else converter.convert(part)
        for part in _KEEP_SPLIT.split(text)
        if part
    )


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x323AF  # extensions B-H
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs (NFKC maps most)
        or ch == "〇"
    )


def normalize_name(s: str | None) -> str:
    """The canonical written form of a name, for comparison and storage of search keys.

    ``None`` and the empty string give ``""``.

    >>> normalize_name("阿沛•阿旺晋美")
    '阿沛·阿旺晋美'
    >>> normalize_name("ｊｏｈｎ　ｓｍｉｔｈ")
    'JOHNSMITH'
    """
    if not s:
        return ""
    text = unicodedata.normalize("NFKC", s)
    text = _WHITESPACE.sub("", text)
    if any(_is_han(ch) for ch in text):
        text = _to_simplified(text)
    text = _DOT_RUN.sub(MIDDLE_DOT, text).strip(MIDDLE_DOT)
    return text.upper()


def split_surname(name: str | None) -> tuple[str, str]:
    """Split a name into (surname, given name), knowing the compound surnames 复姓.

    A compound surname is only taken when a given name follows it (``司马`` alone is 司 + 马).
    Names with a middle dot (minority and foreign names, 买买提·艾力) have no surname in the
    Han sense: the whole name is returned as the given name, with ``""`` as surname.
    Latin names likewise give ``("", name)``.
    """
    text = normalize_name(name)
    if not text or MIDDLE_DOT in text or not _is_han(text[0]):
        return "", text
    if len(text) >= 3 and text[:2] in COMPOUND_SURNAMES:
        return text[:2], text[2:]
    return text[0], text[1:]


@cache
def _char_readings(ch: str) -> tuple[str, ...]:
    """All toneless readings pypinyin knows for one character, its most common first."""
    result = pinyin(ch, heteronym=True, style=Style.NORMAL, errors="default")
    return tuple(result[0]) if result else (ch,)


def _merge(first: Sequence[str], rest: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for r in (*first, *rest):
        if r and r not in out:
            out.append(r)
    return tuple(out)


@lru_cache(maxsize=65536)
def _syllable_options(name: str) -> tuple[tuple[str, ...], ...]:
    """For each syllable of the normalised name, its candidate readings, best first."""
    surname, given = split_surname(name)
    options: list[tuple[str, ...]] = []
    if surname:
        if surname in COMPOUND_SURNAMES:
            for ch, reading in zip(surname, COMPOUND_SURNAMES[surname], strict=True):
                options.append(_merge([reading], _char_readings(ch)))
        else:
            special = SURNAME_READINGS.get(surname)
            options.append(_merge([special] if special else [], _char_readings(surname)))
    for part in given.split(MIDDLE_DOT):
        if not part:
            continue
        # Phrase-aware reading of the whole part first (pypinyin picks readings from its
        # phrase dictionary), then every heteronym of each character.
        contextual = pinyin(part, heteronym=False, style=Style.NORMAL, errors="default")
        index = 0
        for chunk in contextual:
            token = chunk[0]
            if index < len(part) and _is_han(part[index]):
                options.append(_merge([token], _char_readings(part[index])))
                index += 1
            else:
                # A non-Han run (Latin letters, digits) comes back as one token.
                options.append((token.lower(),))
                index += len(token)
    return tuple(options)


def _best_combinations(options: Sequence[Sequence[str]], limit: int) -> list[tuple[int, ...]]:
    """The ``limit`` index combinations with the smallest rank sum, best first.

    Best-first search over the product, so that a long name with many heteronyms never
    enumerates the full product.
    """
    if not options:
        return []
    start = (0,) * len(options)
    heap: list[tuple[int, tuple[int, ...]]] = [(0, start)]
    seen = {start}
    out: list[tuple[int, ...]] = []
    while heap and len(out) < limit:
        cost, combo = heapq.heappop(heap)
        out.append(combo)
        for i, idx in enumerate(combo):
            if idx + 1 < len(options[i]):
                nxt = combo[:i] + (idx + 1,) + combo[i + 1 :]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost + 1, nxt))
    return out


def pinyin_readings(name: str | None, max_readings: int = 16) -> list[str]:
    """Toneless readings of a name, syllables joined without spaces, most likely first.

    At most ``max_readings`` readings (at least one for any non-empty name).  The first
    reading is :func:`pinyin_key`.

    >>> pinyin_readings("曾")[:2]
    ['zeng', 'ceng']
    """
    options = _syllable_options(normalize_name(name))
    combos = _best_combinations(options, max(1, max_readings))
    readings: list[str] = []
    for combo in combos:
        reading = "".join(options[i][j] for i, j in enumerate(combo))
        if reading not in readings:  # different syllable splits can spell the same
            readings.append(reading)
    return readings


def pinyin_key(name: str | None) -> str:
    """The single most likely reading (surname reading for the surname), for search and blocking.

    >>> pinyin_key("單田芳")
    'shantianfang'
    """
    options = _syllable_options(normalize_name(name))
    return "".join(opts[0] for opts in options)


def initials_key(name: str | None) -> str:
    """First letter of each syllable of :func:`pinyin_key` (张伟 → ``zw``).

    >>> initials_key("欧阳修")
    'oyx'
    """
    options = _syllable_options(normalize_name(name))
    return "".join(opts[0][0] for opts in options if opts[0])
