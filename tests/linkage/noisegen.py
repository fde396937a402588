"""An independent test set for record linkage: registry records with real-world noise.

Written apart from ``popreg synth`` and ``popreg.linkage.testdata`` (own name lists, own
ID-number arithmetic, own noise), so that the engine is not judged on the noise it was
tuned to.  ``generate(n_people, seed)`` returns ``(records, duplicates, negatives)``:

* ``records`` — the engine's input columns plus ``entity_id`` (truth) and ``noise``
  (the class of a duplicate record, ``""`` for an original);
* ``duplicates`` — ``(original record_id, duplicate record_id, class)``, one row per
  planted duplicate;
* ``negatives`` — ``(record_id, record_id, class)``, hard non-matches that must stay
  apart.

The population: ``n_people`` people in households of one to six in 2 counties × 4
townships × 6 villages; surnames drawn by frequency, given names of one or two characters
from separate male and female lists (so common names like 王伟 repeat, as they do); every
person holds a checksum-valid 18-digit ID number (region of birth, birth date, sequence
odd for men and even for women, MOD 11-2 check character).

Duplicate classes (:data:`DUPLICATE_CLASSES`; each at ``rate`` × ``n_people``
duplicates, chosen among people the class applies to; a person gets at most one):

====================  =============================================================
class                 the duplicate record, compared with the original
====================  =============================================================
id_sex_conflict       same ID number; the sex field is the other sex
id_date_conflict      same ID number; the birth-date field is another date
                      (a registration date, another year, another month)
id_fields_missing     same ID number; sex and/or birth date missing
id_digit              one digit of the ID number substituted (check fails)
id_transposed         two adjacent different digits of the ID swapped
id_check_digit        wrong check character only
id_legacy15           the legacy 15-digit number of the same person
name_dropped          one given-name character dropped (伍玉珍 / 伍珍)
name_added            a character added to a one-character given name (包红 / 包小红)
name_swapped          the two given-name characters in swapped order
name_homophone        one given-name character replaced by a homophone
name_traditional      the name in traditional characters
name_former           曾用名: surname kept, given name changed; same ID number
dob_missing           birth date missing, everything else agrees
id_missing            ID number missing, everything else agrees
moved_village         another village of the same township, new household
moved_township        another township of the same county, new household
moved_county          another county, new household
====================  =============================================================

In the name classes (except ``name_former``) and the moved classes, the duplicate's ID
number is left out in half of the cases (``ID_DROPPED_SHARE``), so that the name, date
and address comparisons decide alone; in the other half it is the original number.
Duplicates that did not move are registered in the original's household in half of the
cases, else in another household of the same village.  On top of its class, a duplicate
carries a second, milder difference in ``SECOND_NOISE_SHARE`` of the cases (chosen among
those that do not touch what the class changed): birth date one day off, one given-name
character written as a homophone, the surname in traditional form, or a move to another
village of the same township.

Hard negatives (:data:`NEGATIVE_CLASSES`, each ``rate`` × ``n_people`` pairs, new
people added to the population, all with checksum-valid ID numbers):

* ``twins`` — same household, surname and birth date, different given names, ID numbers
  differing in the sequence (and so the check character);
* ``namesakes`` — same full name and sex in the same village, born 2 to 120 days apart;
* ``parent_child`` — same full name in the same household, born 20 to 40 years apart.

In half of the pairs of each kind (``NEGATIVE_ID_MISSING_SHARE``) the second record has
no ID number, so the two numbers cannot tell them apart.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd

ID_DROPPED_SHARE = 0.5
SECOND_NOISE_SHARE = 0.3
NEGATIVE_ID_MISSING_SHARE = 0.5

DUPLICATE_CLASSES = (
    "id_sex_conflict", "id_date_conflict", "id_fields_missing", "id_digit", "id_transposed",
    "id_check_digit", "id_legacy15", "name_dropped", "name_added", "name_swapped",
    "name_homophone", "name_traditional", "name_former", "dob_missing", "id_missing",
    "moved_village", "moved_township", "moved_county",
)  # fmt: skip
NEGATIVE_CLASSES = ("twins", "namesakes", "parent_child")

# --- own lists ------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
    "覃武戴莫孔向汤伍包"
)
MALE_CHARS = "伟强军杰磊涛明超勇刚平辉鹏华飞建国志文斌波宇浩凯健俊帆旭宁龙林阳东晨海峰亮成兵振瑞鑫博嘉泽宏宝庆春德福贵荣山"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英兰萍红玉梅琳燕婷雪慧颖倩洁佳琪欣月凤珍莉云晶彩瑶妍蓉菲莹璐"
ADDED_CHARS = "小晓春秀玉金银"

# Characters read alike (toneless pinyin), from dictionaries by hand.
HOMOPHONES = (
    "伟玮炜韦维薇", "丽莉俐立力利", "华桦骅", "静晶靖婧京敬菁", "敏民珉闽", "芳方舫", "红宏虹鸿洪",
    "军君俊峻骏", "英颖莹瑛", "艳燕妍彦", "玲铃灵凌", "梅美玫", "霞夏侠", "平萍苹", "玉宇雨钰瑜",
    "林琳霖麟", "浩豪昊皓", "涛韬桃", "强蔷", "超朝", "飞菲非", "建健剑坚", "国果", "志智芝", "文雯",
    "斌彬滨", "波博", "凯楷", "帆凡", "阳洋扬", "东冬", "晨辰臣", "峰锋凤丰枫", "亮良", "成诚程",
    "瑞蕊睿", "鑫欣新馨", "佳嘉家", "琪琦奇淇", "月悦岳", "珍贞振真", "云芸韵", "荣蓉容", "雪学",
    "慧辉惠", "杰洁婕", "婷亭", "龙隆", "宁凝", "春纯", "德得", "福富", "贵桂", "山珊",
)  # fmt: skip
TRADITIONAL = dict(zip(
    "张刘陈杨黄赵吴郑孙马罗许韩冯邓叶苏卢钟谭陆汪贾韦邹龙陶贺顾龚钱严汤伟强军涛辉鹏华飞国凯健帅龙阳东"
    "海宝庆贵荣丽艳娟红凤兰云莹颖静纪惠燕鸿兴义礼书学爱长进连顺发",
    "張劉陳楊黃趙吳鄭孫馬羅許韓馮鄧葉蘇盧鍾譚陸汪賈韋鄒龍陶賀顧龔錢嚴湯偉強軍濤輝鵬華飛國凱健帥龍陽東"
    "海寶慶貴榮麗艷娟紅鳳蘭雲瑩穎靜紀惠燕鴻興義禮書學愛長進連順發",
    strict=True,
))  # fmt: skip

COUNTIES = ("360321", "360322")  # region codes (also the birth regions of the ID numbers)
TOWNSHIPS = 4
VILLAGES = 6

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_char(body17: str) -> str:
    """MOD 11-2 (GB 11643), written here independently of popreg.core."""
    return _CHECK[sum(int(d) * w for d, w in zip(body17, _WEIGHTS, strict=True)) % 11]


def _homophone(ch: str, rng: random.Random) -> str | None:
    for group in HOMOPHONES:
        if ch in group and len(group) > 1:
            return rng.choice([c for c in group if c != ch])
    return None


def _sound(name: str) -> str:
    """The name with every character replaced by the first of its homophone group."""
    return "".join(next((g[0] for g in HOMOPHONES if ch in g), ch) for ch in name)


class _World:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_seq: dict[tuple[str, date], set[int]] = {}
        self.villages = [
            f"{county}{t:03d}{v:03d}"
            for county in COUNTIES
            for t in range(1, TOWNSHIPS + 1)
            for v in range(201, 201 + VILLAGES)
        ]
        self.households: dict[str, list[str]] = {v: [] for v in self.villages}
        self.next_household = 0
        weights = [1.0 / (i + 3) ** 0.9 for i in range(len(SURNAMES))]
        self.surname_weights = weights

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, weights=self.surname_weights)[0]

    def given(self, sex: str, length: int | None = None) -> str:
        chars = MALE_CHARS if sex == "M" else FEMALE_CHARS
        n = length or (2 if self.rng.random() < 0.7 else 1)
        while True:
            g = "".join(self.rng.choice(chars) for _ in range(n))
            if len(set(g)) == len(g):
                return g

    def id_number(self, region: str, born: date, sex: str, near: int | None = None) -> str:
        used = self.used_seq.setdefault((region, born), set())
        parity = 1 if sex == "M" else 0
        candidates = [s for s in range(1, 1000) if s % 2 == parity and s not in used]
        if near is not None:
            candidates.sort(key=lambda s: (abs(s - near), s))
            seq = candidates[0]
        else:
            seq = self.rng.choice(candidates)
        used.add(seq)
        body = f"{region}{born:%Y%m%d}{seq:03d}"
        return body + check_char(body)

    def household(self, village: str) -> str:
        self.next_household += 1
        hh = f"{village}{self.next_household:05d}"
        self.households[village].append(hh)
        return hh

    def birth(self, lo: int = 1930, hi: int = 2024) -> date:
        return date(lo, 1, 1) + timedelta(
            days=self.rng.randrange((date(hi, 12, 31) - date(lo, 1, 1)).days)
        )


def _person(
    pid: str, name: str, sex: str, born: date, idn: str, village: str, hh: str
) -> dict[str, str]:
    return {
        "record_id": pid, "name": name, "sex": sex, "birth_date": born.isoformat(),
        "id_number": idn, "village_code": village, "household_no": hh,
        "entity_id": pid, "noise": "", "noise2": "",
    }  # fmt: skip


def _population(world: _World, n_people: int) -> list[dict[str, str]]:
    rng = world.rng
    people: list[dict[str, str]] = []
    while len(people) < n_people:
        village = rng.choice(world.villages)
        hh = world.household(village)
        surname = world.surname()
        for _ in range(rng.randint(1, 6)):
            sex = rng.choice("MF")
            born = world.birth()
            # Mostly born in the county of residence; some elsewhere.
            region = village[:6] if rng.random() < 0.85 else rng.choice(("430102", "410105"))
            name = surname + world.given(sex)
            pid = f"P{len(people) + 1:06d}"
            people.append(
                _person(pid, name, sex, born, world.id_number(region, born, sex), village, hh)
            )
    return people


def _legacy15(id18: str) -> str:
    return id18[:6] + id18[8:17]


def _other_date(born: date, rng: random.Random) -> date:
    kind = rng.choice(("registration", "year", "month"))
    if kind == "registration":
        return born + timedelta(days=rng.randint(30, 3000))
    if kind == "year":
        return born.replace(
            year=born.year + rng.choice((-7, -5, -3, -2, 2, 3, 5, 10)), day=min(born.day, 28)
        )
    return born.replace(month=(born.month + rng.randint(2, 9)) % 12 + 1, day=min(born.day, 28))


def _near_id(idn: str, kind: str, rng: random.Random) -> str:
    body = idn[:17]
    if kind == "id_check_digit":
        return body + rng.choice([c for c in _CHECK if c != idn[17]])
    while True:
        if kind == "id_digit":
            pos = rng.randrange(17)
            new = (
                body[:pos]
                + rng.choice([d for d in "0123456789" if d != body[pos]])
                + body[pos + 1 :]
            )
        else:  # id_transposed
            pos = rng.randrange(16)
            if body[pos] == body[pos + 1]:
                continue
            new = body[:pos] + body[pos + 1] + body[pos] + body[pos + 2 :]
        out = new + idn[17]
        if check_char(new) != idn[17]:  # a typo the check catches (always, for these)
            return out


def _applies(cls: str, p: dict[str, str]) -> bool:
    given = p["name"][1:]
    if cls in ("name_dropped", "name_swapped"):
        return len(given) == 2 and given[0] != given[1]
    if cls == "name_added":
        return len(given) == 1
    if cls == "name_homophone":
        return any(_homophone(c, random.Random(0)) for c in given)
    if cls == "name_traditional":
        return any(c in TRADITIONAL for c in p["name"])
    if cls == "id_legacy15":  # 15-digit numbers were issued until 1999
        return p["birth_date"] < "1999"
    return True


def _duplicate(world: _World, p: dict[str, str], cls: str, k: int) -> dict[str, str]:
    rng = world.rng
    d = dict(p)
    d["record_id"] = f"D{k:06d}"
    d["noise"] = cls
    surname, given = p["name"][0], p["name"][1:]
    village = p["village_code"]
    if not cls.startswith("moved_") and rng.random() < 0.5:
        d["household_no"] = world.household(village)
    drop_id = (cls.startswith("name_") and cls != "name_former") or cls.startswith("moved_")
    if drop_id and rng.random() < ID_DROPPED_SHARE:
        d["id_number"] = ""
    born = date.fromisoformat(p["birth_date"])
    if cls == "id_sex_conflict":
        d["sex"] = "F" if p["sex"] == "M" else "M"
    elif cls == "id_date_conflict":
        d["birth_date"] = _other_date(born, rng).isoformat()
    elif cls == "id_fields_missing":
        which = rng.choice(("sex", "birth_date", "both"))
        if which in ("sex", "both"):
            d["sex"] = ""
        if which in ("birth_date", "both"):
            d["birth_date"] = ""
    elif cls in ("id_digit", "id_transposed", "id_check_digit"):
        d["id_number"] = _near_id(p["id_number"], cls, rng)
    elif cls == "id_legacy15":
        d["id_number"] = _legacy15(p["id_number"])
    elif cls == "name_dropped":
        d["name"] = surname + given[rng.randrange(2)]
    elif cls == "name_added":
        extra = rng.choice([c for c in ADDED_CHARS if c != given])
        d["name"] = surname + (extra + given if rng.random() < 0.6 else given + extra)
    elif cls == "name_swapped":
        d["name"] = surname + given[::-1]
    elif cls == "name_homophone":
        positions = [i for i, c in enumerate(given) if _homophone(c, rng)]
        i = rng.choice(positions)
        d["name"] = surname + given[:i] + (_homophone(given[i], rng) or "") + given[i + 1 :]
    elif cls == "name_traditional":
        d["name"] = "".join(TRADITIONAL.get(c, c) for c in p["name"])
    elif cls == "name_former":
        while (new := world.given(p["sex"])) == given:
            pass
        d["name"] = surname + new
    elif cls == "dob_missing":
        d["birth_date"] = ""
    elif cls == "id_missing":
        d["id_number"] = ""
    elif cls.startswith("moved_"):
        same_county = [v for v in world.villages if v[:6] == village[:6]]
        if cls == "moved_village":
            choices = [v for v in same_county if v[:9] == village[:9] and v != village]
        elif cls == "moved_township":
            choices = [v for v in same_county if v[:9] != village[:9]]
        else:
            choices = [v for v in world.villages if v[:6] != village[:6]]
        new_village = rng.choice(choices)
        d["village_code"] = new_village
        d["household_no"] = world.household(new_village)
    if rng.random() < SECOND_NOISE_SHARE:
        _second_noise(world, d, cls)
    return d


def _second_noise(world: _World, d: dict[str, str], cls: str) -> None:
    rng = world.rng
    options = []
    if d["birth_date"] and cls not in ("id_date_conflict", "id_fields_missing", "dob_missing"):
        options.append("dob_day")
    if cls not in ("name_homophone", "name_traditional", "name_former", "name_dropped"):
        options.append("homophone")
    if not cls.startswith("name_"):
        options.append("traditional")
    if not cls.startswith("moved_"):
        options.append("village")
    kind = rng.choice(options)
    if kind == "dob_day":
        d["birth_date"] = (
            date.fromisoformat(d["birth_date"]) + timedelta(days=rng.choice((-1, 1)))
        ).isoformat()
    elif kind == "homophone":
        name = d["name"]
        positions = [i for i in range(1, len(name)) if _homophone(name[i], rng)]
        if positions:
            i = rng.choice(positions)
            d["name"] = name[:i] + (_homophone(name[i], rng) or "") + name[i + 1 :]
    elif kind == "traditional":
        d["name"] = TRADITIONAL.get(d["name"][0], d["name"][0]) + d["name"][1:]
    else:
        village = d["village_code"]
        choices = [v for v in world.villages if v[:9] == village[:9] and v != village]
        d["village_code"] = rng.choice(choices)
        d["household_no"] = world.household(d["village_code"])
    d["noise2"] = kind


def _negatives(
    world: _World, people: list[dict[str, str]], n: int
) -> tuple[list[dict[str, str]], list[tuple[str, str, str]]]:
    rng = world.rng
    added: list[dict[str, str]] = []
    pairs: list[tuple[str, str, str]] = []

    def new_id() -> str:
        return f"N{len(added) + 1:06d}"

    # A new person's name (up to homophones) is new to the village, so that the only
    # look-alike of each record is its planned partner.
    in_village = {(q["village_code"], _sound(q["name"])) for q in people}

    def given(sex: str, surname: str, village: str, length: int | None = None) -> str:
        while (village, _sound(surname + (g := world.given(sex, length)))) in in_village:
            pass
        in_village.add((village, _sound(surname + g)))
        return g

    for cls in NEGATIVE_CLASSES:
        for _ in range(n):
            p = rng.choice(people)
            village, hh, surname = p["village_code"], p["household_no"], p["name"][0]
            region = p["id_number"][:6]
            if cls == "twins":
                born = world.birth(1950, 2020)
                sex_a, sex_b = rng.choice("MF"), rng.choice("MF")
                a_given = given(sex_a, surname, village, 2)
                b_given = given(sex_b, surname, village, 2)
                a_id = world.id_number(region, born, sex_a)
                b_id = world.id_number(region, born, sex_b, near=int(a_id[14:17]))
                a = _person(new_id(), surname + a_given, sex_a, born, a_id, village, hh)
                added.append(a)
                b = _person(new_id(), surname + b_given, sex_b, born, b_id, village, hh)
            elif cls == "namesakes":
                sex = rng.choice("MF")
                name = surname + given(sex, surname, village)
                born = world.birth(1950, 2020)
                other = born + timedelta(days=rng.randint(2, 120) * rng.choice((-1, 1)))
                a = _person(new_id(), name, sex, born, world.id_number(region, born, sex), village,
                            world.household(village))  # fmt: skip
                added.append(a)
                b = _person(new_id(), name, sex, other, world.id_number(region, other, sex), village,
                            world.household(village))  # fmt: skip
            else:  # parent_child
                sex = rng.choice("MF")
                name = surname + given(sex, surname, village)
                born = world.birth(1940, 1985)
                child = date(
                    born.year + rng.randint(20, 40), rng.randint(1, 12), rng.randint(1, 28)
                )
                a = _person(
                    new_id(), name, sex, born, world.id_number(region, born, sex), village, hh
                )
                added.append(a)
                b = _person(
                    new_id(), name, sex, child, world.id_number(region, child, sex), village, hh
                )
            if rng.random() < NEGATIVE_ID_MISSING_SHARE:
                b["id_number"] = ""
            added.append(b)
            pairs.append((a["record_id"], b["record_id"], cls))
    return added, pairs


def generate(
    n_people: int = 5000, seed: int = 1, rate: float = 0.015
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(records, duplicates, negatives)`` as described in the module docstring."""
    world = _World(random.Random(seed))
    rng = world.rng
    people = _population(world, n_people)
    per_class = max(1, round(rate * n_people))
    free = list(range(len(people)))
    rng.shuffle(free)
    taken: set[int] = set()
    dups: list[dict[str, str]] = []
    dup_pairs: list[tuple[str, str, str]] = []
    for cls in DUPLICATE_CLASSES:
        chosen = 0
        for i in free:
            if chosen == per_class:
                break
            if i in taken or not _applies(cls, people[i]):
                continue
            taken.add(i)
            d = _duplicate(world, people[i], cls, len(dups) + 1)
            dups.append(d)
            dup_pairs.append((people[i]["record_id"], d["record_id"], cls))
            chosen += 1
    negatives, neg_pairs = _negatives(world, people, per_class)
    records = pd.DataFrame(people + dups + negatives)
    records = records.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return (
        records,
        pd.DataFrame(dup_pairs, columns=["record_id_a", "record_id_b", "noise"]),
        pd.DataFrame(neg_pairs, columns=["record_id_a", "record_id_b", "noise"]),
    )


def class_table(
    records: pd.DataFrame,
    duplicates: pd.DataFrame,
    negatives: pd.DataFrame,
    clusters: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per class: pairs, found (same cluster) and share; and overall pairwise scores."""
    cluster = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    rows = []
    for frame, kind in ((duplicates, "duplicate"), (negatives, "hard negative")):
        for cls, group in frame.groupby("noise", sort=False):
            together = sum(
                cluster[a] == cluster[b]
                for a, b in zip(group["record_id_a"], group["record_id_b"], strict=True)
            )
            n = len(group)
            share = together / n if kind == "duplicate" else 1 - together / n
            rows.append({"kind": kind, "class": cls, "pairs": n, "together": together,
                         "recall" if kind == "duplicate" else "kept_apart": share})  # fmt: skip
    table = pd.DataFrame(rows)

    def pairs_of(groups: pd.Series) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for ids in groups.groupby(groups).groups.values():
            members = sorted(ids)
            out.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
        return out

    truth = pairs_of(pd.Series(records["entity_id"].to_numpy(), index=records["record_id"]))
    found = pairs_of(pd.Series(clusters["cluster_id"].to_numpy(), index=clusters["record_id"]))
    tp = len(truth & found)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return table, {"precision": precision, "recall": recall, "f1": f1,
                   "true_pairs": len(truth), "found_pairs": len(found)}  # fmt: skip
