"""Plausibility rules of a registration, run in one pass: every problem, not the first.

Each rule (:data:`RULES`) has a stable ``code``, the fields it names, what it checks and
the source of its limits; ``docs/validation.md`` is the same table for people.  A caller
describes what is being recorded as an :class:`Entry` (the kind of registration, its date,
the values typed and what the registry already knows about the person) and
:func:`check` returns every :class:`Problem`, each naming one field with a Chinese and an
English message that says what is wrong and how to fix it.

The web forms, the action layer, the validation endpoint of the API, the person import
and the campaign's capture of found persons all call :func:`check`, so one rule set
decides everywhere.  Plain Python: no Django, no database; ``today`` is given by the
caller (the county's local date).

>>> entry = Entry(kind="birth", birth_date=date(1890, 5, 1), ethnicity="火星族",
...               today=date(2026, 6, 1))
>>> [p.code for p in check(entry)]
['date_before_floor', 'ethnicity_unknown']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from popreg.core import ethnicity as ethnic_groups
from popreg.core import idnumber

__all__ = [
    "DATE_FLOOR",
    "ENLISTMENT_AGE_MAX",
    "ENLISTMENT_AGE_MIN",
    "FATHER_AGE_MIN",
    "KINDS",
    "MAX_AGE",
    "MOTHER_AGE_MAX",
    "MOTHER_AGE_MIN",
    "RULES",
    "Entry",
    "Problem",
    "Relative",
    "Rule",
    "age_on",
    "check",
    "marriage_age",
]

# --------------------------------------------------------------------------- limits

#: No date before this is accepted: the registry holds nobody born before 1900, and no
#: earlier event of a living record can be documented (the household registration system
#: itself dates from 1958).
DATE_FLOOR = date(1900, 1, 1)
#: Oldest plausible age (full years) on any date: the oldest verified person lived to 122.
MAX_AGE = 120
#: Mother's age at the child's birth (full years), inclusive.  Outside it a record is
#: almost surely a wrong parent or a mistyped year (the census fertility tables stop at 49
#: and births before 12 are not documented).
MOTHER_AGE_MIN = 12
MOTHER_AGE_MAX = 60
#: Father's age at the child's birth (full years), at least.
FATHER_AGE_MIN = 12
#: Days before the birth a father may have died (a posthumous child): 300 days, the
#: longest pregnancy presumed in law.
FATHER_DEATH_DAYS = 300
#: Enlistment (入伍) ages, 《中华人民共和国兵役法》 (2021) 第二十条: men are conscripted
#: from 18, volunteers from 17, the limit is 22 (24 for graduates of higher education,
#: 26 for postgraduates).  17 counts by 31 December of the year of enlistment.
ENLISTMENT_AGE_MIN = 17
ENLISTMENT_AGE_MAX = 26
#: The legal age of marriage: 男 22, 女 20 from 1981-01-01 (婚姻法 1980 第五条, kept by
#: 民法典 第一千零四十七条); 男 20, 女 18 before (婚姻法 1950 第四条).
MARRIAGE_AGE_1981 = {"M": 22, "F": 20}
MARRIAGE_AGE_1950 = {"M": 20, "F": 18}
MARRIAGE_LAW_1981 = date(1981, 1, 1)


def marriage_age(sex: str, on: date) -> int:
    """The legal age of marriage for ``sex`` (M/F) on the date of the marriage."""
    table = MARRIAGE_AGE_1981 if on >= MARRIAGE_LAW_1981 else MARRIAGE_AGE_1950
    return table[sex]


def age_on(born: date, on: date) -> int:
    """Full years (周岁) on ``on``; someone born on 29 February is a year older on 1 March."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --------------------------------------------------------------------------- types

#: Kinds of registration, with the Chinese and English name of their date.
KINDS: dict[str, tuple[str, str]] = {
    "birth": ("出生日期", "birth date"),
    "move_in": ("迁入日期", "move-in date"),
    "death": ("死亡日期", "date of death"),
    "move_out": ("迁出日期", "move-out date"),
    "transfer": ("迁移日期", "transfer date"),
    "marriage": ("结婚日期", "date of marriage"),
    "divorce": ("离婚日期", "date of divorce"),
    "enlistment": ("入伍日期", "date of enlistment"),
    "discharge": ("退伍日期", "date of discharge"),
    "correction": ("更正日期", "date of the correction"),
    "household": ("办理日期", "date"),
    "person": ("日期", "date"),  # a person recorded without an event (import, field capture)
}

_FIELD_LABELS = {
    "birth_date": ("出生日期", "birth date"),
    "death_date": ("死亡日期", "date of death"),
    "id_number": ("公民身份号码", "ID number"),
    "ethnicity": ("民族", "ethnicity"),
    "sex": ("性别", "sex"),
    "mother": ("母亲", "mother"),
    "father": ("父亲", "father"),
    "origin_code": ("迁出地代码", "origin code"),
    "destination_code": ("迁往地代码", "destination code"),
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One documented rule: ``code``, the ``fields`` it names, what it checks, its source."""

    code: str
    fields: tuple[str, ...]
    rule_zh: str
    rule_en: str
    source: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: the rule's ``code``, the ``field`` to fix, and how, in both languages."""

    code: str
    field: str
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Relative:
    """What the registry knows of a parent."""

    birth_date: date | None = None
    sex: str | None = None
    death_date: date | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """What is being recorded.

    ``kind``: one of :data:`KINDS`.  ``event_date`` and ``event_field``: the date of the
    registration and the name of its field (for a birth the event is the birth itself).
    ``entered``: the fields typed now; the others (``None``: every field that has a value)
    are what the registry already holds and are only read as context (a stored birth date
    older than the floor is not reported on a marriage form).  ``home_county``: the
    6-digit code of this county (origins and destinations are outside it).
    """

    kind: str = "person"
    today: date = field(default_factory=date.today)
    event_date: date | None = None
    event_field: str = "event_date"
    sex: str | None = None
    birth_date: date | None = None
    death_date: date | None = None
    id_number: str | None = None
    ethnicity: str | None = None
    mother: Relative | None = None
    father: Relative | None = None
    origin_code: str | None = None
    destination_code: str | None = None
    home_county: str = ""
    marriage_date: date | None = None
    enlistment_date: date | None = None
    entered: frozenset[str] | None = None
    #: Chinese and English name of the event's date, where the kind's own does not fit.
    event_label: tuple[str, str] | None = None

    def is_entered(self, name: str) -> bool:
        return self.entered is None or name in self.entered

    def label(self, name: str) -> tuple[str, str]:
        if name == self.event_field and self.event_label is not None:
            return self.event_label
        if name == self.event_field and self.kind in KINDS and name not in _FIELD_LABELS:
            return KINDS[self.kind]
        return _FIELD_LABELS.get(name, (name, name.replace("_", " ")))


# --------------------------------------------------------------------------- the rules

_LAW_MARRIAGE = "《民法典》第一千零四十七条（1981 年起：《婚姻法》(1980) 第五条；此前：《婚姻法》(1950) 第四条）"
_LAW_SERVICE = "《兵役法》(2021) 第二十条"
_GB2260 = "GB/T 2260 行政区划代码（python-stdnum 的 cn/loc 表，含各代码的使用年份）"

RULES: tuple[Rule, ...] = (
    Rule("date_future", ("birth_date", "event date"),
         "日期不能晚于今天（县所在时区）", "a date cannot be after today (county time zone)",
         "只能登记已发生的事件 / only events that happened are registered"),
    Rule("date_before_floor", ("birth_date", "event date"),
         f"日期不能早于 {DATE_FLOOR:%Y-%m-%d}", f"a date cannot be before {DATE_FLOOR:%Y-%m-%d}",
         "本项目规定 / project rule: nobody born before 1900 is alive or documented"),
    Rule("date_before_birth", ("event date",),
         "事件不能早于本人出生日期", "an event cannot be before the person's birth",
         "逻辑 / logic"),
    Rule("date_after_death", ("event date", "birth_date"),
         "事件不能晚于本人死亡日期；出生日期不能晚于死亡日期",
         "an event cannot be after the person's death; birth cannot be after death", "逻辑 / logic"),
    Rule("age_over_max", ("birth_date", "event date"),
         f"事件发生时年龄不能超过 {MAX_AGE} 周岁", f"age on the event date at most {MAX_AGE}",
         "本项目规定 / project rule: the oldest verified person lived to 122"),
    Rule("marriage_age", ("marriage_date",),
         "结婚时须达到法定婚龄：1981 年起男 22 周岁、女 20 周岁，此前男 20、女 18",
         "at marriage the legal age: from 1981 men 22, women 20; before, men 20, women 18",
         _LAW_MARRIAGE),
    Rule("divorce_before_marriage", ("divorce_date",),
         "离婚日期不能早于结婚日期", "a divorce cannot be before the marriage", "逻辑 / logic"),
    Rule("enlistment_age", ("enlistment_date",),
         f"入伍时年龄：当年 12 月 31 日前满 {ENLISTMENT_AGE_MIN} 周岁，且不超过 {ENLISTMENT_AGE_MAX} 周岁",
         f"age at enlistment: {ENLISTMENT_AGE_MIN} by 31 December of the year, at most "
         f"{ENLISTMENT_AGE_MAX}", _LAW_SERVICE),
    Rule("discharge_before_enlistment", ("discharge_date",),
         "退伍日期不能早于入伍日期", "a discharge cannot be before the enlistment", "逻辑 / logic"),
    Rule("mother_age", ("mother",),
         f"生育时母亲年龄 {MOTHER_AGE_MIN}–{MOTHER_AGE_MAX} 周岁",
         f"mother aged {MOTHER_AGE_MIN}-{MOTHER_AGE_MAX} at the birth",
         "本项目规定 / project rule: outside it the wrong mother was chosen or a year mistyped"),
    Rule("father_age", ("father",),
         f"生育时父亲年龄不小于 {FATHER_AGE_MIN} 周岁", f"father at least {FATHER_AGE_MIN} at the birth",
         "本项目规定 / project rule"),
    Rule("mother_sex", ("mother",), "母亲的性别应为女", "the mother is a woman", "逻辑 / logic"),
    Rule("father_sex", ("father",), "父亲的性别应为男", "the father is a man", "逻辑 / logic"),
    Rule("mother_died_before_birth", ("mother",),
         "母亲的死亡日期不能早于子女出生日期", "the mother cannot have died before the birth",
         "逻辑 / logic"),
    Rule("father_died_before_birth", ("father",),
         f"父亲的死亡日期不能早于子女出生前 {FATHER_DEATH_DAYS} 天",
         f"the father cannot have died more than {FATHER_DEATH_DAYS} days before the birth",
         "妊娠期上限 / longest pregnancy"),
    Rule("ethnicity_unknown", ("ethnicity",),
         "民族须为 GB/T 3304 的 56 个民族之一，或 其他未识别民族（97）、外国血统中国籍人士（98）",
         "ethnicity is one of the 56 groups of GB/T 3304, or 97 unidentified, 98 foreign descent",
         "GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码"),
    Rule("division_required", ("destination_code",),
         "迁出须填写迁往地区划代码", "a move out needs the destination's division code",
         "户口登记条例 第十条 / Hukou Registration Regulation art. 10"),
    Rule("division_format", ("origin_code", "destination_code"),
         "区划代码为 6 位或 12 位数字", "a division code has 6 or 12 digits", _GB2260),
    Rule("division_unknown", ("origin_code", "destination_code"),
         "区划代码的前 6 位须是 GB/T 2260 中的代码", "the first 6 digits are a GB/T 2260 code",
         _GB2260),
    Rule("division_not_valid_at", ("origin_code", "destination_code"),
         "区划代码须在事件发生的年份有效（未撤销、已设立）",
         "the division code was in use in the year of the event", _GB2260),
    Rule("division_in_county", ("origin_code", "destination_code"),
         "迁入地、迁往地须在本县以外（县内迁移请办理县内迁移）",
         "origin and destination are outside this county (within it: a transfer)",
         "户口登记条例 第十条、第十三条"),
    *(
        Rule(f"id_{code}", ("id_number",), zh, en, "GB 11643-1999 公民身份号码")
        for code, zh, en in (
            ("length", "18 位（旧证 15 位）", "18 characters (15 on old cards)"),
            ("characters", "只能是数字，第 18 位可以是 X", "digits; the 18th may be X"),
            ("checksum", "第 18 位校验码（ISO 7064 MOD 11-2）正确", "check character (ISO 7064 MOD 11-2)"),
            ("birth_date_invalid", "第 7–14 位是有效日期", "characters 7-14 are a real date"),
            ("birth_date_future", "号码中的出生日期不晚于今天", "the birth date in it is not in the future"),
            ("region_unknown", "前 6 位是行政区划代码", "the first 6 are a division code"),
            ("region_not_valid_at_birth", "前 6 位在出生年份有效", "the first 6 were in use in the birth year"),
            ("birth_date_mismatch", "号码中的出生日期与登记的出生日期一致",
             "the birth date in it agrees with the recorded one"),
            ("sex_mismatch", "第 17 位奇偶与性别一致（奇男偶女）",
             "character 17 agrees with the sex (odd men, even women)"),
        )
    ),
)
_RULE_CODES = frozenset(r.code for r in RULES)


def check(entry: Entry) -> list[Problem]:
    """Every problem of ``entry``, in the order of :data:`RULES` within each field."""
    problems: list[Problem] = []
    for part in (_dates, _ages, _parents, _id_number, _ethnicity, _divisions):
        problems.extend(part(entry))
    assert all(p.code in _RULE_CODES for p in problems), [p.code for p in problems]
    return problems


def _fmt(d: date) -> str:
    return f"{d:%Y-%m-%d}"


# --------------------------------------------------------------------------- dates


def _dated_fields(entry: Entry) -> list[tuple[str, date]]:
    """The entered dates to check on their own (birth, death, the event), once each."""
    out: list[tuple[str, date]] = []
    if entry.birth_date is not None and entry.is_entered("birth_date"):
        out.append(("birth_date", entry.birth_date))
    if entry.death_date is not None and entry.is_entered("death_date") and entry.event_field != "death_date":
        out.append(("death_date", entry.death_date))
    if (entry.event_date is not None and entry.event_field not in ("birth_date",)
            and entry.is_entered(entry.event_field)):
        out.append((entry.event_field, entry.event_date))
    return out


def _dates(entry: Entry) -> Iterator[Problem]:
    bad: set[str] = set()
    for name, value in _dated_fields(entry):
        zh, en = entry.label(name)
        if value > entry.today:
            bad.add(name)
            yield Problem(
                "date_future", name,
                f"{zh} {_fmt(value)} 不能晚于今天（{_fmt(entry.today)}）：只能登记已经发生的事，请核对年月日",
                f"the {en} {_fmt(value)} cannot be in the future (today is {_fmt(entry.today)}): "
                "only what has happened can be registered; check the year, month and day",
            )
        elif value < DATE_FLOOR:
            bad.add(name)
            yield Problem(
                "date_before_floor", name,
                f"{zh} {_fmt(value)} 早于 {DATE_FLOOR.year} 年，不合理；请核对年份（如 1990 误录为 1890）",
                f"the {en} {_fmt(value)} is before {DATE_FLOOR.year}, which is not plausible; "
                "check the year (1890 typed for 1990?)",
            )
    born = entry.birth_date
    event = entry.event_date
    ev = entry.event_field
    if born is not None and event is not None and ev != "birth_date" and ev not in bad and event < born:
        zh, en = entry.label(ev)
        yield Problem(
            "date_before_birth", ev if entry.is_entered(ev) else "birth_date",
            f"{zh} {_fmt(event)} 不能早于出生日期 {_fmt(born)}；请核对{zh}或出生日期",
            f"the {en} {_fmt(event)} cannot be before the birth date {_fmt(born)}; check the {en} "
            "or the birth date",
        )
    died = entry.death_date
    if died is not None and ev != "death_date":
        if event is not None and ev != "birth_date" and ev not in bad and event > died:
            zh, en = entry.label(ev)
            yield Problem(
                "date_after_death", ev,
                f"{zh} {_fmt(event)} 晚于死亡日期 {_fmt(died)}；已死亡人员不能再办理，请核对日期或人员",
                f"the {en} {_fmt(event)} is after the date of death {_fmt(died)}; check the date "
                "or the person",
            )
        if born is not None and born > died and "birth_date" not in bad:
            yield Problem(
                "date_after_death", "birth_date" if entry.is_entered("birth_date") else "death_date",
                f"出生日期 {_fmt(born)} 晚于死亡日期 {_fmt(died)}；请核对出生日期",
                f"the birth date {_fmt(born)} is after the date of death {_fmt(died)}; check the "
                "birth date",
            )
    # the oldest plausible age, on the event date (a birth: today)
    on = entry.today if ev == "birth_date" or event is None else event
    if died is not None and on > died:
        on = died  # a deceased person's age stops at death
    if born is not None and born >= DATE_FLOOR and on >= born and age_on(born, on) > MAX_AGE:
        name = "birth_date" if entry.is_entered("birth_date") or event is None else ev
        zh, en = entry.label(name)
        yield Problem(
            "age_over_max", name,
            f"按出生日期 {_fmt(born)}，{_fmt(on)} 时已 {age_on(born, on)} 周岁，超过 {MAX_AGE} 岁，不合理；"
            "请核对出生日期",
            f"born {_fmt(born)}, the person would be {age_on(born, on)} on {_fmt(on)}, older than "
            f"{MAX_AGE}: check the birth date",
        )


# --------------------------------------------------------------------------- ages


def _ages(entry: Entry) -> Iterator[Problem]:
    born, event, ev = entry.birth_date, entry.event_date, entry.event_field
    if born is None or event is None or event < born or not entry.is_entered(ev):
        return
    age = age_on(born, event)
    zh, en = entry.label(ev)
    if entry.kind == "marriage" and entry.sex in ("M", "F"):
        legal = marriage_age(entry.sex, event)
        if age < legal:
            who_zh, who_en = ("男", "men") if entry.sex == "M" else ("女", "women")
            yield Problem(
                "marriage_age", ev,
                f"{_fmt(event)} 结婚时本人 {age} 周岁，未达法定婚龄（{who_zh}不早于 {legal} 周岁）；"
                f"请核对结婚日期或本人出生日期，法定婚龄之日为 {_fmt(_birthday(born, legal))}",
                f"on {_fmt(event)} the person was {age}, under the legal age of marriage ({legal} for "
                f"{who_en}); check the date of marriage or the birth date (of age on "
                f"{_fmt(_birthday(born, legal))})",
            )
    if entry.kind == "divorce" and entry.marriage_date is not None and event < entry.marriage_date:
        yield Problem(
            "divorce_before_marriage", ev,
            f"{zh} {_fmt(event)} 早于结婚日期 {_fmt(entry.marriage_date)}；请核对{zh}",
            f"the {en} {_fmt(event)} is before the marriage on {_fmt(entry.marriage_date)}; check "
            f"the {en}",
        )
    if entry.kind == "enlistment":
        by_year_end = age_on(born, date(event.year, 12, 31))
        if by_year_end < ENLISTMENT_AGE_MIN or age > ENLISTMENT_AGE_MAX:
            yield Problem(
                "enlistment_age", ev,
                f"{_fmt(event)} 入伍时本人 {age} 周岁；入伍年龄为当年 12 月 31 日前满 {ENLISTMENT_AGE_MIN} 周岁"
                f"至 {ENLISTMENT_AGE_MAX} 周岁（《兵役法》第二十条）；请核对入伍日期或出生日期",
                f"on {_fmt(event)} the person was {age}; enlistment is from {ENLISTMENT_AGE_MIN} "
                f"(by 31 December of the year) to {ENLISTMENT_AGE_MAX} (Military Service Law art. "
                "20); check the date of enlistment or the birth date",
            )
    if entry.kind == "discharge" and entry.enlistment_date is not None and event < entry.enlistment_date:
        yield Problem(
            "discharge_before_enlistment", ev,
            f"{zh} {_fmt(event)} 早于入伍日期 {_fmt(entry.enlistment_date)}；请核对{zh}",
            f"the {en} {_fmt(event)} is before the enlistment on {_fmt(entry.enlistment_date)}; "
            f"check the {en}",
        )


def _birthday(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February
        return date(born.year + years, 3, 1)


# --------------------------------------------------------------------------- parents


def _parents(entry: Entry) -> Iterator[Problem]:
    child = entry.birth_date
    for role, parent in (("mother", entry.mother), ("father", entry.father)):
        if parent is None:
            continue
        zh = "母亲" if role == "mother" else "父亲"
        wanted = "F" if role == "mother" else "M"
        if parent.sex in ("M", "F") and parent.sex != wanted:
            yield Problem(
                f"{role}_sex", role,
                f"所填{zh}的性别登记为{'男' if parent.sex == 'M' else '女'}；请核对所填编号或身份证号是否为{zh}本人",
                f"the {role} given is recorded as {'male' if parent.sex == 'M' else 'female'}; check "
                f"that the number given is the {role}'s",
            )
        if child is None or parent.birth_date is None:
            continue
        age = age_on(parent.birth_date, child) if child >= parent.birth_date else -1
        low = MOTHER_AGE_MIN if role == "mother" else FATHER_AGE_MIN
        high = MOTHER_AGE_MAX if role == "mother" else None
        if age < low or (high is not None and age > high):
            shown = f"{age} 周岁" if age >= 0 else "尚未出生"
            shown_en = f"{age}" if age >= 0 else "not yet born"
            limits_zh = f"{low}–{high} 周岁" if high else f"不小于 {low} 周岁"
            limits_en = f"{low}-{high}" if high else f"at least {low}"
            yield Problem(
                f"{role}_age", role,
                f"子女出生（{_fmt(child)}）时{zh}（生于 {_fmt(parent.birth_date)}）{shown}，应为 {limits_zh}；"
                f"请核对所填{zh}或子女的出生日期",
                f"at the birth ({_fmt(child)}) the {role} (born {_fmt(parent.birth_date)}) was "
                f"{shown_en}, expected {limits_en}; check the {role} given or the child's birth date",
            )
        if parent.death_date is not None:
            limit = parent.death_date if role == "mother" else parent.death_date + timedelta(days=FATHER_DEATH_DAYS)
            if child > limit:
                yield Problem(
                    f"{role}_died_before_birth", role,
                    f"所填{zh}已于 {_fmt(parent.death_date)} 死亡，早于子女出生日期 {_fmt(child)}；"
                    f"请核对所填{zh}或出生日期",
                    f"the {role} given died on {_fmt(parent.death_date)}, before the birth on "
                    f"{_fmt(child)}; check the {role} given or the birth date",
                )


# --------------------------------------------------------------------------- ID number


def _id_number(entry: Entry) -> Iterator[Problem]:
    raw = (entry.id_number or "").strip()
    if not raw:
        return
    if not (entry.is_entered("id_number") or entry.is_entered("birth_date") or entry.is_entered("sex")):
        return
    sex = entry.sex if entry.sex in ("M", "F") else None
    result = idnumber.validate(raw, birth_date=entry.birth_date, sex=sex, today=entry.today)
    for p in result.problems:
        where = "id_number"
        if not entry.is_entered("id_number"):
            # a correction of the birth date or sex that the stored number contradicts
            where = "birth_date" if p.code == "birth_date_mismatch" else "sex" if p.code == "sex_mismatch" else where
        yield Problem(
            f"id_{p.code}", where,
            f"公民身份号码有误：{p.message_zh}",
            f"ID number: {p.message_en}",
        )


# --------------------------------------------------------------------------- ethnicity


def _ethnicity(entry: Entry) -> Iterator[Problem]:
    raw = entry.ethnicity
    if raw is None or not str(raw).strip() or not entry.is_entered("ethnicity"):
        return
    if ethnic_groups.normalize(raw) is None:
        yield Problem(
            "ethnicity_unknown", "ethnicity",
            f"民族“{raw}”不在 GB/T 3304 民族名称表中；请从 56 个民族中选择（如 汉族、回族），"
            "未识别民族填 其他未识别民族，外国血统的中国公民填 外国血统中国籍人士",
            f"ethnicity {raw!r} is not in the GB/T 3304 list; choose one of the 56 groups (such as "
            "汉族 Han, 回族 Hui), 其他未识别民族 for an unidentified group or 外国血统中国籍人士 for a "
            "citizen of foreign descent",
        )


# --------------------------------------------------------------------------- divisions


def _divisions(entry: Entry) -> Iterator[Problem]:
    on = entry.event_date or entry.today
    for name in ("origin_code", "destination_code"):
        code = (getattr(entry, name) or "").strip()
        zh, en = entry.label(name)
        if not code:
            if name == "destination_code" and entry.kind == "move_out" and entry.is_entered(name):
                yield Problem(
                    "division_required", name,
                    "请填写迁往地代码：6 位或 12 位区划代码（如 110105 北京市朝阳区）",
                    "give the 6- or 12-digit division code of the destination (such as 110105 "
                    "Chaoyang, Beijing)",
                )
            continue
        if not entry.is_entered(name):
            continue
        if not (code.isascii() and code.isdigit() and len(code) in (6, 12)):
            yield Problem(
                "division_format", name,
                f"{zh}“{code}”应为6位或12位数字区划代码（县级6位，村级12位）；请核对",
                f"the {en} {code!r} must be a 6-digit (county) or 12-digit (village) division code",
            )
            continue
        region = code[:6]
        periods = idnumber.region_periods(region)
        if periods is None:
            yield Problem(
                "division_unknown", name,
                f"{zh} {code} 的前 6 位 {region} 不是行政区划代码（GB/T 2260）；请核对代码，可查迁移证件或"
                "民政部公布的区划代码",
                f"the {en} {code}: its first 6 digits {region} are not a division code (GB/T 2260); "
                "check the code on the migration papers or the published code list",
            )
            continue
        if not idnumber.region_valid_at(region, on):
            used_zh = "；".join(p.describe_zh() for p in periods)
            used_en = "; ".join(p.describe_en() for p in periods)
            yield Problem(
                "division_not_valid_at", name,
                f"{zh} {code}（{idnumber.region_name(region) or region}）在 {on.year} 年不是有效的区划代码"
                f"（使用期：{used_zh}）；请填写 {on.year} 年时该地的代码",
                f"the {en} {code} ({idnumber.region_name(region) or region}) was not a valid division "
                f"code in {on.year} (in use: {used_en}); give the code the place had in {on.year}",
            )
            continue
        home = entry.home_county[:6]
        if home and region == home:
            yield Problem(
                "division_in_county", name,
                f"{zh} {code} 在本县内；县内村居之间的迁移请办理县内迁移",
                f"the {en} {code} is inside this county; a move between its villages is a transfer",
            )
