"""Generated Chinese registry records with known truth, for linkage tests and benchmarks.

Every record has the linkage input columns (``record_id, name, sex, birth_date, id_number,
village_code, household_no``) plus ``entity_id`` (the real person) and ``errors`` (the
errors injected into that copy, ``;``-separated).  Nothing here is a real person.

Duplicate copies (重口) carry one to three of exactly these errors:

* names: ``traditional`` (whole name in traditional characters, OpenCC s2t),
  ``variant`` (one character replaced by a variant form 异体字), ``homophone`` (one
  given-name character replaced by another with the same reading 同音字),
  ``fullwidth`` (full-width space U+3000 inside), ``space`` (ASCII space inside),
  ``middle_dot`` (another middle-dot character in a minority name);
* ID numbers: ``id_typo`` (one digit changed), ``id_transpose`` (two adjacent digits
  exchanged), ``id15`` (legacy 15-digit form), ``id_lower_x`` (check character ``x``),
  ``id_missing``, ``id_fullwidth`` (full-width digits);
* birth dates: ``dob_swap`` (day and month exchanged), ``dob_pm1day``, ``dob_pm1year``.

Hard non-matches are generated on purpose: twins (same household, surname and birth
date, valid IDs differing only in the sequence digits, often similar given names) and
namesakes (same name and birth date elsewhere in the county, valid IDs differing only
in the sequence digits).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from typing import Any

import pandas as pd

from popreg.core.idnumber import check_character, compose

# Given-name characters (common in registers), with enough homophones among them.
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鹏飞玲斌宇浩凯"
    "健俊帆帅旭宁龙林欢阳波丹亮成春梅海东雪峰琳晨云淑珍国荣志新金凤彬兵琴雷燕佳"
    "嘉豪子轩梓涵欣怡雨萱博文浩然俊杰宇航思彤诗琪晓慧颖婷倩晶莉蕾瑶玮炜薇维巍卫"
    "玉钰煜毓宏鸿红虹洪泓军均钧俊骏峻珺晖慧惠蕙辉徽伟玮炜苇晴清卿庆青静婧靖敬"
    "立丽莉利力励荔志智致稚治永勇咏涌泳"
)
# Variant forms 异体字 that registers really contain (simplified → variant).
VARIANTS = {
    "峰": "峯", "群": "羣", "够": "夠", "秋": "秌", "村": "邨", "杰": "傑", "岩": "巖",
    "略": "畧", "线": "綫", "恒": "恆", "叙": "敘", "凉": "涼", "针": "鍼", "裤": "袴",
    "嘉": "嘉", "启": "啓", "强": "強", "丽": "麗", "华": "華", "云": "雲", "凤": "鳳",
}  # fmt: skip
MINORITY_NAMES = (
    "阿依古丽·买买提", "买买提·艾力", "热依拉·阿不都", "古丽娜尔·吐尔逊", "艾尔肯·吾守尔",
    "帕提古丽·热合曼", "阿迪力·努尔", "迪丽娜尔·阿不都", "努尔兰·哈力克", "巴特尔·朝鲁",
)  # fmt: skip
DOT_VARIANTS = ("•", "・", "．", "·", ".", "‧")
REGIONS = ("411423", "411421", "411422", "410102", "410305", "412726", "130102", "320106")

NAME_ERRORS = ("traditional", "variant", "homophone", "fullwidth", "space")
ID_ERRORS = ("id_typo", "id_transpose", "id15", "id_lower_x", "id_missing", "id_fullwidth")
DATE_ERRORS = ("dob_swap", "dob_pm1day", "dob_pm1year")


@dataclass
class _Person:
    entity_id: int
    name: str
    sex: str
    birth: date
    id_number: str
    village: str
    household: str


class _Chars:
    def __init__(self) -> None:
        from pypinyin import Style, pinyin

        seen: list[str] = []
        for ch in GIVEN_CHARS:
            if ch not in seen:
                seen.append(ch)
        self.chars = seen
        by_reading: dict[str, list[str]] = {}
        for ch in seen:
            reading = pinyin(ch, style=Style.NORMAL)[0][0]
            by_reading.setdefault(reading, []).append(ch)
        self.homophones = {
            ch: [c for c in by_reading[r] if c != ch]
            for r, group in by_reading.items()
            for ch in group
            if len(group) > 1
        }


@cache
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


@cache
def _chars() -> _Chars:
    return _Chars()


def _surnames() -> tuple[list[str], list[float]]:
    from faker.providers.person.zh_CN import Provider

    items = list(Provider.last_names.items())
    return [s for s, _ in items], [float(w) for _, w in items]


def _random_birth(rng: random.Random) -> date:
    return date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 94))


def generate_records(
    n_records: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.12,
    twin_rate: float = 0.02,
    namesake_rate: float = 0.02,
    missing_id_rate: float = 0.03,
    county: str = "411423",
) -> pd.DataFrame:
    """About ``n_records`` records (exactly that many) of a county, with truth columns."""
    rng = random.Random(seed)
    chars = _chars()
    surnames, weights = _surnames()
    cum_weights = list(accumulate(weights))
    n_villages = max(3, n_records // 450)
    villages = [f"{county}{1 + (v // 25):03d}{200 + (v % 25):03d}" for v in range(n_villages)]
    used_ids: set[str] = set()
    household_seq = [100000000]

    def new_household() -> str:
        household_seq[0] += rng.randrange(1, 9)
        return f"{household_seq[0]:09d}"

    def given_name(sex: str) -> str:
        first = rng.choice(chars.chars)
        if rng.random() < 0.3:
            return first
        return first + rng.choice(chars.chars)

    def make_id(birth: date, sex: str, region: str | None = None) -> str:
        region = region or (county if rng.random() < 0.85 else rng.choice(REGIONS))
        tries = 0
        while True:
            tries += 1
            if tries % 500 == 0:  # region and day crowded (ten million records): move on
                region = rng.choice(REGIONS)
            seq = rng.randrange(0, 999)
            if (seq % 2 == 1) != (sex == "M"):
                seq = seq + 1 if seq < 998 else seq - 1
            number = compose(region, birth, seq)
            if number not in used_ids:
                used_ids.add(number)
                return number

    def sibling_id(number: str, sex: str) -> str:
        """A valid ID differing from ``number`` only in the sequence digits."""
        body = number[:14]
        seq = int(number[14:17])
        # Nearby sequence numbers first (twins are usually registered one after the
        # other); in a crowded region and day (ten million records), any free one.
        near = [s for step in (2, 1, 3, 4, 6, 8, 10, 12, 14, 16) for s in (seq + step, seq - step)]
        for cand_seq in [*near, *sorted(range(1000), key=lambda s: abs(s - seq))]:
            if not 0 <= cand_seq <= 999 or (cand_seq % 2 == 1) != (sex == "M"):
                continue
            cand = body + f"{cand_seq:03d}"
            cand += check_character(cand)
            if cand not in used_ids:
                used_ids.add(cand)
                return cand
        raise RuntimeError("no sibling ID: all 500 sequence numbers of this sex are taken")

    persons: list[_Person] = []
    next_entity = [0]

    def add(name: str, sex: str, birth: date, id_number: str, village: str, hh: str) -> None:
        persons.append(_Person(next_entity[0], name, sex, birth, id_number, village, hh))
        next_entity[0] += 1

    n_entities = int(n_records / (1 + duplicate_rate * 1.3))
    while len(persons) < n_entities:
        village = rng.choice(villages)
        hh = new_household()
        surname = rng.choices(surnames, cum_weights=cum_weights)[0]
        size = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6))
        for _ in range(size):
            sex = rng.choice("MF")
            name = rng.choice(MINORITY_NAMES) if rng.random() < 0.02 else surname + given_name(sex)
            birth = _random_birth(rng)
            add(name, sex, birth, make_id(birth, sex), village, hh)
            roll = rng.random()
            base = persons[-1]
            if roll < twin_rate:
                tsex = rng.choice("MF")
                given = base.name[len(surname) :]
                tgiven = (
                    (given[0] + rng.choice(chars.chars)) if len(given) == 2 else given_name(tsex)
                )
                if tgiven == given:
                    tgiven = given_name(tsex) + "儿"
                add(surname + tgiven, tsex, birth, sibling_id(base.id_number, tsex), village, hh)
            elif roll < twin_rate + namesake_rate:
                other = rng.choice(villages)
                add(base.name, sex, birth, sibling_id(base.id_number, sex), other, new_household())
    persons = persons[:n_entities]

    rows: list[dict[str, object]] = []
    for p in persons:
        rows.append(_record(p, [], rng))
        if rng.random() < missing_id_rate:
            rows[-1]["id_number"] = ""
            rows[-1]["errors"] = "id_missing"
    n_dups = n_records - len(rows)
    for _ in range(max(0, n_dups)):
        p = rng.choice(persons)
        where = rng.random()
        if where < 0.4:
            village, hh = p.village, p.household
        elif where < 0.7:
            village, hh = p.village, new_household()
        else:
            village, hh = rng.choice(villages), new_household()
        errors = _pick_errors(p, rng)
        copy = _Person(p.entity_id, p.name, p.sex, p.birth, p.id_number, village, hh)
        rows.append(_record(copy, errors, rng, chars))
    rng.shuffle(rows)
    df = pd.DataFrame(rows[:n_records])
    df.insert(0, "record_id", [f"R{i:08d}" for i in range(len(df))])
    return df


def _pick_errors(p: _Person, rng: random.Random) -> list[str]:
    k = rng.choice((1, 1, 2, 2, 3))
    pool = list(NAME_ERRORS) + list(ID_ERRORS) + list(DATE_ERRORS)
    if "·" in p.name:
        pool.append("middle_dot")
    chosen: list[str] = []
    while len(chosen) < k:
        e = rng.choice(pool)
        family = ID_ERRORS if e in ID_ERRORS else DATE_ERRORS if e in DATE_ERRORS else None
        if family and any(c in family for c in chosen):
            continue  # one error per field family is enough for ID and date
        if e not in chosen:
            chosen.append(e)
    return chosen


_NAME_ERRORS = ("traditional", "variant", "homophone", "fullwidth", "space", "middle_dot")
_ID_ERRORS = ("id_typo", "id_transpose", "id15", "id_lower_x", "id_missing", "id_fullwidth")
_DOB_ERRORS = ("dob_swap", "dob_pm1day", "dob_pm1year")


def _record(
    p: _Person, errors: list[str], rng: random.Random, chars: _Chars | None = None
) -> dict[str, object]:
    name, birth, number = p.name, p.birth, p.id_number
    applied: list[str] = []
    for e in errors:
        if e in _NAME_ERRORS:
            new_name = _name_error(e, name, rng, chars)
            if new_name is not None:
                name = new_name
                applied.append(e)
        elif e in _ID_ERRORS:
            new_number = _id_error(e, number, rng)
            if new_number is not None:
                number = new_number
                applied.append(e)
        elif e in _DOB_ERRORS:
            new_birth = _dob_error(e, birth, rng)
            if new_birth is not None:
                birth = new_birth
                applied.append(e)
    return {
        "name": name,
        "sex": p.sex,
        "birth_date": birth.isoformat(),
        "id_number": number,
        "village_code": p.village,
        "household_no": p.household,
        "entity_id": p.entity_id,
        "errors": ";".join(applied),
    }


def _name_error(e: str, name: str, rng: random.Random, chars: _Chars | None) -> str | None:
    """The name with error ``e`` made, or None when it cannot be made on this name."""
    if e == "traditional":
        trad = _s2t().convert(name)
        return trad if trad != name else None
    if e == "variant":
        idx = [i for i, ch in enumerate(name) if ch in VARIANTS and VARIANTS[ch] != ch]
        if not idx:
            return None
        i = rng.choice(idx)
        return name[:i] + VARIANTS[name[i]] + name[i + 1 :]
    if e == "homophone":
        if chars is None:
            return None
        idx = [i for i, ch in enumerate(name) if i > 0 and ch in chars.homophones]
        if not idx:
            return None
        i = rng.choice(idx)
        return name[:i] + rng.choice(chars.homophones[name[i]]) + name[i + 1 :]
    if e == "fullwidth":
        return name[:1] + "\u3000" + name[1:]
    if e == "space":
        return name[:1] + " " + name[1:] if rng.random() < 0.7 else " " + name + " "
    return name.replace("·", rng.choice(DOT_VARIANTS))  # middle_dot


def _id_error(e: str, number: str, rng: random.Random) -> str | None:
    """The ID number with error ``e`` made, or None when it cannot be made on this number."""
    if e == "id_typo":
        i = rng.randrange(0, 17)
        digit = str((int(number[i]) + rng.randrange(1, 10)) % 10)
        return number[:i] + digit + number[i + 1 :]
    if e == "id_transpose":
        idx = [i for i in range(17) if number[i] != number[i + 1]]
        i = rng.choice(idx)
        return number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    if e == "id15":
        return number[:6] + number[8:17] if number[6:8] == "19" else None
    if e == "id_lower_x":
        return number[:-1] + "x" if number.endswith("X") else None
    if e == "id_missing":
        return ""
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)  # id_fullwidth


def _dob_error(e: str, birth: date, rng: random.Random) -> date | None:
    """The birth date with error ``e`` made, or None when it cannot be made on this date."""
    if e == "dob_swap":
        if birth.day <= 12 and birth.day != birth.month:
            return date(birth.year, birth.day, birth.month)
        return None
    if e == "dob_pm1day":
        return birth + timedelta(days=rng.choice((-1, 1)))
    try:  # dob_pm1year
        return birth.replace(year=birth.year + rng.choice((-1, 1)))
    except ValueError:
        return None


def true_pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    """All pairs of record_ids (sorted) that belong to the same entity."""
    pairs: set[tuple[str, str]] = set()
    for _, group in df.groupby("entity_id")["record_id"]:
        ids = sorted(group)
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                pairs.add((ids[i], ids[j]))
    return pairs


def pairwise_scores(truth: set[tuple[str, str]], clusters: pd.DataFrame) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a ``record_id, cluster_id`` table."""
    predicted = true_pairs(
        clusters.rename(columns={"cluster_id": "entity_id"})[["record_id", "entity_id"]]
    )
    tp = len(truth & predicted)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": float(len(truth)),
        "predicted_pairs": float(len(predicted)),
        "true_positives": float(tp),
    }


def with_errors(
    name: str, sex: str, birth: date, id_number: str, errors: list[str], seed: int = 0
) -> dict[str, object]:
    """One noisy copy of a person (the error kinds listed in the module docstring)."""
    rng = random.Random(seed)
    person = _Person(0, name, sex, birth, id_number, "", "")
    record = _record(person, errors, rng, _chars())
    return {k: record[k] for k in ("name", "sex", "birth_date", "id_number", "errors")}
