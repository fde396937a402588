"""Resident ID numbers (公民身份号码, GB 11643-1999): normalise, validate, explain.

Layout ``RRRRRR YYYYMMDD SSS C``: region code of registration (6, GB/T 2260), birth date
(8), sequence (3; odd for men, even for women), check character (ISO 7064 MOD 11-2).
The legacy 15-character form ``RRRRRR YYMMDD SSS`` has a two-digit year and no check
character.

:func:`validate` never raises on a bad number (only ``TypeError`` for a non-string): it
returns an :class:`IdCheck` whose ``problems`` each say, in Chinese and English, what is
wrong and how to fix it.

>>> check = validate("11010519491231002X")
>>> check.ok, check.sex, check.birth_date, check.region_name
(True, 'F', datetime.date(1949, 12, 31), '北京市朝阳区')
>>> validate("110105194912310023").problems[0].message_en
'check character should be X, found 3: at least one character is mistyped; compare the number with the ID card character by character'

Region codes come from python-stdnum's GB/T 2260 table (``stdnum.numdb.get("cn/loc")``),
whose county names carry the years a code was in use (``[1986-]房山区``,
``[-2010]崇文区``).  A code must be in use in the birth year, as
``stdnum.cn.ric.get_birth_place`` checks; see ``docs/domain/identity.md`` for the few
places where our rules differ from stdnum's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from operator import mul
from typing import Literal

__all__ = [
    "IdCheck",
    "IdProblem",
    "PROBLEM_CODES",
    "RegionPeriod",
    "check_character",
    "compose",
    "is_valid",
    "normalize",
    "region_codes",
    "region_name",
    "region_periods",
    "region_valid_at",
    "upgrade_15_to_18",
    "validate",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# Separators people type inside a number: whitespace and every dash (after NFKC).
_NOISE = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\ufe58\ufe63]+")

Sex = Literal["M", "F"]

# Every IdProblem.code validate() can return, in the order checks run (documented in
# docs/domain/identity.md).
PROBLEM_CODES = (
    "length",
    "characters",
    "checksum",
    "birth_date_invalid",
    "birth_date_future",
    "region_unknown",
    "region_not_valid_at_birth",
    "birth_date_mismatch",
    "sex_mismatch",
)


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17:
        raise ValueError(f"check_character needs 17 digits, got {len(first17)}")
    return _CHECK[sum(map(mul, map(int, first17), _WEIGHTS)) % 11]


def compose(region: str, birth_date: date, sequence: int) -> str:
    """Build a valid 18-character number; ``sequence`` 0-999, odd for men, even for women."""
    body = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return body + check_character(body)


def normalize(raw: str) -> str:
    """The compact form of a typed number: no spaces or hyphens, half-width, upper-case X.

    >>> normalize(" １１０１０５-19491231-002x ")
    '11010519491231002X'
    """
    if not isinstance(raw, str):
        raise TypeError(f"ID number must be a string, not {type(raw).__name__}")
    return _NOISE.sub("", unicodedata.normalize("NFKC", raw)).upper()


def upgrade_15_to_18(number15: str) -> str:
    """Convert a legacy 15-digit number to 18 characters.

    The century ``19`` is inserted before the two-digit year (``18`` for the sequence codes
    996-999, which the 15-digit scheme reserved for people aged 100 or more), and the
    check character is appended.  The input is normalised first; a value that is not 15
    digits raises ``ValueError`` (use :func:`validate` to get an explanation instead).

    >>> upgrade_15_to_18("110105491231002")
    '11010519491231002X'
    """
    number = normalize(number15)
    if len(number) != 15 or not number.isascii() or not number.isdigit():
        raise ValueError(
            f"15 位旧号码应由 15 位数字组成：{number15!r} / "
            f"a legacy number must be 15 digits: {number15!r}"
        )
    century = "18" if number[12:15] in ("996", "997", "998", "999") else "19"
    body = number[:6] + century + number[6:]
    return body + check_character(body)


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True, slots=True)
class RegionPeriod:
    """One name of a region code and the years (inclusive) it was in use; None = open."""

    name: str
    start_year: int | None
    end_year: int | None

    def covers(self, year: int) -> bool:
        return (self.start_year is None or year >= self.start_year) and (
            self.end_year is None or year <= self.end_year
        )

    def describe_zh(self) -> str:
        if self.start_year is None and self.end_year is None:
            return f"{self.name}（一直使用）"
        if self.start_year is None:
            return f"{self.name}（至 {self.end_year} 年）"
        if self.end_year is None:
            return f"{self.name}（{self.start_year} 年起）"
        return f"{self.name}（{self.start_year}–{self.end_year} 年）"

    def describe_en(self) -> str:
        if self.start_year is None and self.end_year is None:
            return f"{self.name} (always)"
        if self.start_year is None:
            return f"{self.name} (until {self.end_year})"
        if self.end_year is None:
            return f"{self.name} (from {self.start_year})"
        return f"{self.name} ({self.start_year}-{self.end_year})"


_PERIOD = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


def _parse_counties(county: str) -> tuple[RegionPeriod, ...]:
    """``"[-1991]东郊区,[1992-]东丽区"`` → one period per name, as stdnum's loc.dat writes them."""
    periods: list[RegionPeriod] = []
    for part in county.split(","):
        match = _PERIOD.match(part)
        if match is None:
            periods.append(RegionPeriod(part, None, None))
        else:
            start, end, name = match.groups()
            periods.append(
                RegionPeriod(name, int(start) if start else None, int(end) if end else None)
            )
    return tuple(periods)


@cache
def _regions() -> dict[str, tuple[str, tuple[RegionPeriod, ...]]]:
    """code → (province name, periods), read once from stdnum's ``cn/loc`` database."""
    from stdnum import numdb

    table: dict[str, tuple[str, tuple[RegionPeriod, ...]]] = {}
    merged: dict[str, dict[str, str]] = {}
    for length, low, high, props, children in numdb.get("cn/loc").prefixes:
        if length != 2:
            continue
        for prov in range(int(low), int(high) + 1):
            for clen, clow, chigh, cprops, _ in children:
                if clen != 4:
                    continue
                for county in range(int(clow), int(chigh) + 1):
                    code = f"{prov:02d}{county:04d}"
                    # later lines for the same code add to earlier ones, as numdb does
                    merged.setdefault(code, dict(props)).update(cprops)
    for code, info in merged.items():
        if "county" in info:
            table[code] = (info.get("province", ""), _parse_counties(info["county"]))
    return table


def region_codes() -> tuple[str, ...]:
    """Every 6-digit region code in the table (current and retired), sorted."""
    return tuple(sorted(_regions()))


def region_periods(code: str) -> tuple[RegionPeriod, ...] | None:
    """The names and years of use of a region code; None when the code is unknown."""
    entry = _regions().get(code)
    return entry[1] if entry else None


def region_valid_at(code: str, on: date) -> bool | None:
    """Whether ``code`` was a region code in the year of ``on``; None when it is unknown.

    Years are inclusive at both ends (a code retired in 2010 is still valid in 2010), as in
    stdnum; the table has no finer dates.

    >>> region_valid_at("110112", date(1990, 1, 1)), region_valid_at("110112", date(1997, 6, 1))
    (False, True)
    """
    periods = region_periods(code)
    if periods is None:
        return None
    return any(p.covers(on.year) for p in periods)


def region_name(code: str, on: date | None = None) -> str | None:
    """Province and county name of a code (in the year of ``on`` when given); None if unknown."""
    entry = _regions().get(code)
    if entry is None:
        return None
    province, periods = entry
    chosen = periods[-1]
    if on is not None:
        chosen = next((p for p in periods if p.covers(on.year)), chosen)
    county = chosen.name
    if not county or county == province or county.startswith(province):
        return county or province
    return province + county


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class IdProblem:
    """One thing wrong with a number: a stable ``code`` and a message in both languages."""

    code: str
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        """Chinese first, then English, as shown to users."""
        return f"{self.message_zh} / {self.message_en}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class IdCheck:
    """The result of :func:`validate`.

    ``number`` is the normalised number (18 characters when a valid 15-digit number was
    upgraded).  The parsed parts are None when they cannot be read.
    """

    number: str
    ok: bool
    problems: tuple[IdProblem, ...]
    birth_date: date | None = None
    sex: Sex | None = None
    region: str | None = None
    region_name: str | None = None
    upgraded_from_15: bool = False

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)


_SEX_INPUT: dict[str, Sex | None] = {
    "M": "M",
    "F": "F",
    "男": "M",
    "女": "F",
    "1": "M",  # GB/T 2261.1
    "2": "F",
    "0": None,
    "9": None,
    "": None,
}
_SEX_ZH = {"M": "男", "F": "女"}
_SEX_EN = {"M": "male", "F": "female"}


def _wanted_sex(sex: str | None) -> Sex | None:
    if sex is None:
        return None
    if not isinstance(sex, str):
        raise TypeError(f"sex must be a string such as 'M' or 'F', not {type(sex).__name__}")
    key = sex.strip().upper()
    if key not in _SEX_INPUT:
        raise ValueError(f"性别取值应为 M/F/男/女：{sex!r} / sex must be M, F, 男 or 女: {sex!r}")
    return _SEX_INPUT[key]


def _wanted_birth_date(value: date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"birth_date must be a date, not {type(value).__name__}")
    return value


def _length_problem(number: str) -> IdProblem:
    n = len(number)
    return IdProblem(
        "length",
        f"公民身份号码应为 18 位（旧证为 15 位），实际为 {n} 位；请对照身份证或户口簿重新录入。",
        f"an ID number has 18 characters (15 on old cards), found {n}; "
        "re-enter it from the ID card or household register",
    )


def _character_problem(number: str) -> IdProblem | None:
    last_x_ok = len(number) == 18
    bad = [
        (i, ch)
        for i, ch in enumerate(number, start=1)
        if not ("0" <= ch <= "9" or (ch == "X" and last_x_ok and i == 18))
    ]
    if not bad:
        return None
    where_zh = "、".join(f"第 {i} 位“{ch}”" for i, ch in bad[:5])
    where_en = ", ".join(f"character {i} '{ch}'" for i, ch in bad[:5])
    more = len(bad) > 5
    rule_zh = "只能是数字，仅第 18 位可以是 X" if last_x_ok else "15 位旧号码只能是数字"
    rule_en = (
        "must be a digit; only the 18th may be X"
        if last_x_ok
        else "a 15-digit number has digits only"
    )
    return IdProblem(
        "characters",
        f"{where_zh}{'等' if more else ''}不合规：{rule_zh}；请对照证件更正。",
        f"{where_en}{' and more' if more else ''}: {rule_en}; correct it from the ID card",
    )


def _checksum_problem(number: str) -> IdProblem | None:
    expected = check_character(number[:17])
    found = number[17]
    if expected == found:
        return None
    return IdProblem(
        "checksum",
        f"校验码应为 {expected}，实际为 {found}：号码中至少有一位录入错误，请对照证件逐位核对。",
        f"check character should be {expected}, found {found}: at least one character is "
        "mistyped; compare the number with the ID card character by character",
    )


def _parse_birth_date(number: str, legacy: bool) -> tuple[date | None, IdProblem | None]:
    raw = number[6:14]
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])), None
    except ValueError:
        pos = "第 7–12 位" if legacy else "第 7–14 位"
        pos_en = "characters 7-12" if legacy else "characters 7-14"
        shown = raw[2:] if legacy else raw
        return None, IdProblem(
            "birth_date_invalid",
            f"{pos}的出生日期 {shown} 不是有效日期（年 {raw[:4]}、月 {raw[4:6]}、日 {raw[6:8]}）；"
            "请核对出生年月日。",
            f"the birth date {shown} ({pos_en}) is not a real date (year {raw[:4]}, month "
            f"{raw[4:6]}, day {raw[6:8]}); check the year, month and day",
        )


def _region_problems(code: str, birth: date | None) -> tuple[str | None, list[IdProblem]]:
    periods = region_periods(code)
    if periods is None:
        return None, [
            IdProblem(
                "region_unknown",
                f"前 6 位地区码 {code} 不是行政区划代码（GB/T 2260）；请核对号码前 6 位。",
                f"the region code {code} (first 6 characters) is not a division code "
                "(GB/T 2260); check the first 6 characters",
            )
        ]
    if birth is None or region_valid_at(code, birth):
        return region_name(code, birth), []
    name = region_name(code)
    used_zh = "；".join(p.describe_zh() for p in periods)
    used_en = "; ".join(p.describe_en() for p in periods)
    return name, [
        IdProblem(
            "region_not_valid_at_birth",
            f"地区码 {code}（{name}）在出生年份 {birth.year} 年未在使用（使用期：{used_zh}）；"
            "请核对号码前 6 位或出生日期。",
            f"the region code {code} ({name}) was not in use in the birth year {birth.year} "
            f"(in use: {used_en}); check the first 6 characters or the birth date",
        )
    ]


def validate(
    raw: str,
    *,
    birth_date: date | None = None,
    sex: str | None = None,
    today: date | None = None,
) -> IdCheck:
    """Check a number and explain every problem; compare with a known birth date and sex.

    ``sex`` accepts ``M``/``F``/``男``/``女`` (or GB/T 2261.1 ``1``/``2``); ``today`` fixes
    the date used for the "birth date in the future" check (default: today).
    """
    number = normalize(raw)
    wanted_birth = _wanted_birth_date(birth_date)
    wanted_sex = _wanted_sex(sex)
    if len(number) not in (15, 18):
        return IdCheck(number, False, (_length_problem(number),))
    bad_chars = _character_problem(number)
    if bad_chars is not None:
        return IdCheck(number, False, (bad_chars,))

    legacy = len(number) == 15
    if legacy:
        number = upgrade_15_to_18(number)
    problems: list[IdProblem] = []
    if not legacy:
        checksum = _checksum_problem(number)
        if checksum is not None:
            problems.append(checksum)

    birth, date_problem = _parse_birth_date(number, legacy)
    if date_problem is not None:
        problems.append(date_problem)
    elif birth is not None and birth > (today or date.today()):
        problems.append(
            IdProblem(
                "birth_date_future",
                f"出生日期 {birth:%Y-%m-%d} 晚于今天；请核对出生年份。",
                f"the birth date {birth:%Y-%m-%d} is in the future; check the year of birth",
            )
        )

    region = number[:6]
    name, region_issues = _region_problems(region, birth)
    problems.extend(region_issues)

    parsed_sex: Sex = "M" if int(number[16]) % 2 else "F"

    if wanted_birth is not None and birth is not None and wanted_birth != birth:
        problems.append(
            IdProblem(
                "birth_date_mismatch",
                f"号码中的出生日期为 {birth:%Y-%m-%d}，与登记的出生日期 {wanted_birth:%Y-%m-%d} "
                "不一致；请核对号码或出生日期。",
                f"the number says born {birth:%Y-%m-%d} but the recorded birth date is "
                f"{wanted_birth:%Y-%m-%d}; check the number or the birth date",
            )
        )
    if wanted_sex is not None and wanted_sex != parsed_sex:
        digit = number[16]
        parity_zh = "奇数" if parsed_sex == "M" else "偶数"
        parity_en = "odd" if parsed_sex == "M" else "even"
        problems.append(
            IdProblem(
                "sex_mismatch",
                f"号码第 17 位 {digit} 为{parity_zh}，表示{_SEX_ZH[parsed_sex]}性，与登记的性别"
                f"“{_SEX_ZH[wanted_sex]}”不一致；请核对号码或性别。",
                f"character 17 of the number is {digit} ({parity_en}), meaning "
                f"{_SEX_EN[parsed_sex]}, but the recorded sex is {_SEX_EN[wanted_sex]}; "
                "check the number or the sex",
            )
        )

    return IdCheck(
        number=number,
        ok=not problems,
        problems=tuple(problems),
        birth_date=birth,
        sex=parsed_sex,
        region=region,
        region_name=name,
        upgraded_from_15=legacy,
    )


def is_valid(raw: str) -> bool:
    """Shortcut for ``validate(raw).ok``."""
    return validate(raw).ok
