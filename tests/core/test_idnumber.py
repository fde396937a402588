"""Tests for popreg.core.idnumber (GB 11643-1999 resident ID numbers)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from stdnum.cn import ric

from popreg.core import idnumber
from popreg.core.idnumber import (
    PROBLEM_CODES,
    IdCheck,
    check_character,
    compose,
    is_valid,
    normalize,
    region_codes,
    region_name,
    region_periods,
    region_valid_at,
    upgrade_15_to_18,
    validate,
)

EXAMPLE = "11010519491231002X"  # published example: female, 1949-12-31, Beijing Chaoyang
TODAY = date(2026, 1, 1)
DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# ----------------------------------------------------------------- published example


def test_published_example() -> None:
    check = validate(EXAMPLE, today=TODAY)
    assert check.ok
    assert check.problems == ()
    assert check.number == EXAMPLE
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex == "F"
    assert check.region == "110105"
    assert check.region_name == "北京市朝阳区"
    assert not check.upgraded_from_15
    assert check_character(EXAMPLE[:17]) == "X"
    assert compose("110105", date(1949, 12, 31), 2) == EXAMPLE
    assert is_valid(EXAMPLE)


def test_check_character_matches_stdnum() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert check_character(body) == ric.calc_check_digit(body + "0")


# ----------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
        ("110105-19491231-002X", "11010519491231002X"),
        ("110105—19491231–002X", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("110105\u300019491231\t002X\n", "11010519491231002X"),
        ("１１０１０５－１９４９", "1101051949"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("bad", [None, 110105194912310020, b"11010519491231002X", ["1"]])
def test_non_strings_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        normalize(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        validate(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        is_valid(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("raw", "codes", "zh_part", "en_part"),
    [
        ("", ("length",), "实际为 0 位", "found 0"),
        ("1101051949123100", ("length",), "实际为 16 位", "found 16"),
        ("11010519491231002X1", ("length",), "实际为 19 位", "found 19"),
        ("1101A519491231002X", ("characters",), "第 5 位“A”", "character 5 'A'"),
        ("110105194912310X2X", ("characters",), "第 16 位“X”", "character 16 'X'"),
        ("11010549123100X", ("characters",), "第 15 位“X”", "character 15 'X'"),
        ("110105194912310023", ("checksum",), "校验码应为 X，实际为 3", "should be X, found 3"),
        ("110105194912310021", ("checksum",), "校验码应为 X，实际为 1", "should be X, found 1"),
        (
            "110105199902300024",  # check character of this body is 3
            ("checksum", "birth_date_invalid"),
            "19990230 不是有效日期",
            "19990230",
        ),
        ("110105990230002", ("birth_date_invalid",), "990230 不是有效日期", "not a real date"),
        (
            compose("999999", date(1990, 1, 1), 1),
            ("region_unknown",),
            "999999 不是行政区划代码",
            "999999",
        ),
        (
            compose("119999", date(1990, 1, 1), 1),
            ("region_unknown",),
            "119999",
            "not a division code",
        ),
        (
            compose("110112", date(1990, 5, 1), 1),  # Tongzhou district: code from 1997
            ("region_not_valid_at_birth",),
            "1997 年起",
            "from 1997",
        ),
        (
            compose("110103", date(2012, 5, 1), 1),  # Chongwen district: retired after 2010
            ("region_not_valid_at_birth",),
            "至 2010 年",
            "until 2010",
        ),
        (
            compose("110105", date(2030, 1, 1), 1),
            ("birth_date_future",),
            "晚于今天",
            "in the future",
        ),
    ],
)
def test_bad_numbers_are_explained(
    raw: str, codes: tuple[str, ...], zh_part: str, en_part: str
) -> None:
    check = validate(raw, today=TODAY)
    assert not check.ok
    assert check.codes == codes
    assert not is_valid(raw) or "birth_date_future" in codes
    joined_zh = " ".join(p.message_zh for p in check.problems)
    joined_en = " ".join(p.message_en for p in check.problems)
    assert zh_part in joined_zh
    assert en_part in joined_en
    for problem in check.problems:
        # every message says what is wrong and what to do: Chinese and English
        assert problem.message_zh and problem.message_en
        assert "请" in problem.message_zh
        assert (
            "check" in problem.message_en
            or "correct" in problem.message_en
            or ("re-enter" in problem.message_en)
        )
        assert str(problem) == f"{problem.message_zh} / {problem.message_en}"


def test_boundary_years_are_inclusive() -> None:
    # Tongzhou (110112) is in use from 1997, Chongwen (110103) until 2010 inclusive.
    assert validate(compose("110112", date(1997, 1, 1), 1), today=TODAY).ok
    assert not validate(compose("110112", date(1996, 12, 31), 1), today=TODAY).ok
    assert validate(compose("110103", date(2010, 12, 31), 1), today=TODAY).ok
    assert not validate(compose("110103", date(2011, 1, 1), 1), today=TODAY).ok


def test_birth_date_today_is_not_future() -> None:
    assert validate(compose("110105", TODAY, 1), today=TODAY).ok
    late = validate(compose("110105", TODAY + timedelta(days=1), 1), today=TODAY)
    assert late.codes == ("birth_date_future",)


def test_impossible_date_is_a_problem_not_an_exception() -> None:
    for raw_date in ("19990230", "19991301", "19990100", "19990229", "00000101"):
        body = "110105" + raw_date + "001"
        check = validate(body + check_character(body), today=TODAY)
        assert check.codes == ("birth_date_invalid",)
        assert check.birth_date is None
        assert check.sex == "M"
    assert validate("110105" + "20000229" + "001" + check_character("11010520000229001")).ok


@pytest.mark.parametrize(
    ("sequence", "sex"), [(1, "M"), (3, "M"), (999, "M"), (0, "F"), (2, "F"), (998, "F")]
)
def test_sex_from_sequence_parity(sequence: int, sex: str) -> None:
    assert validate(compose("110105", date(1980, 6, 1), sequence), today=TODAY).sex == sex


@pytest.mark.parametrize(
    ("kwargs", "codes"),
    [
        ({"birth_date": date(1949, 12, 31), "sex": "F"}, ()),
        ({"birth_date": datetime(1949, 12, 31, 8, 0), "sex": "女"}, ()),
        ({"sex": "f"}, ()),
        ({"sex": "2"}, ()),
        ({"sex": "9"}, ()),
        ({"birth_date": date(1949, 12, 30)}, ("birth_date_mismatch",)),
        ({"sex": "M"}, ("sex_mismatch",)),
        ({"sex": "男"}, ("sex_mismatch",)),
        ({"birth_date": date(1950, 1, 1), "sex": "1"}, ("birth_date_mismatch", "sex_mismatch")),
    ],
)
def test_compare_with_recorded_birth_date_and_sex(
    kwargs: dict[str, object], codes: tuple[str, ...]
) -> None:
    check = validate(EXAMPLE, today=TODAY, **kwargs)  # type: ignore[arg-type]
    assert check.codes == codes
    assert check.ok == (codes == ())


def test_mismatch_messages_name_both_values() -> None:
    check = validate(EXAMPLE, birth_date=date(1950, 1, 1), sex="M", today=TODAY)
    by_code = {p.code: p for p in check.problems}
    assert "1949-12-31" in by_code["birth_date_mismatch"].message_zh
    assert "1950-01-01" in by_code["birth_date_mismatch"].message_en
    assert "女" in by_code["sex_mismatch"].message_zh and "男" in by_code["sex_mismatch"].message_zh
    assert "female" in by_code["sex_mismatch"].message_en


def test_unrecognised_sex_argument_raises() -> None:
    with pytest.raises(ValueError):
        validate(EXAMPLE, sex="unknown")


# ------------------------------------------------------------------------ 15 digits


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("110105491231002", "11010519491231002X"),
        ("110105-491231-002", "11010519491231002X"),
        ("110105670401001", "110105196704010013"),
        # sequence codes 996-999 were given to people aged 100 or more: century 18
        ("110105011231997", "110105180112319977"),
    ],
)
def test_upgrade_15_to_18(old: str, new: str) -> None:
    assert upgrade_15_to_18(old) == new
    assert check_character(new[:17]) == new[17]
    assert validate(old, today=TODAY).number == new


@pytest.mark.parametrize("bad", ["11010549123100", "11010549123100X", "1101054912310021", ""])
def test_upgrade_rejects_non_15_digit(bad: str) -> None:
    with pytest.raises(ValueError):
        upgrade_15_to_18(bad)


def test_validate_15_digit_numbers() -> None:
    check = validate("110105491231002", today=TODAY)
    assert check.ok
    assert check.upgraded_from_15
    assert check.number == EXAMPLE
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex == "F"
    # region code created in 1997: a 1990 birth is flagged on the upgraded number too
    assert validate("110112900501001", today=TODAY).codes == ("region_not_valid_at_birth",)


# -------------------------------------------------------------------------- regions


def test_region_validity_from_stdnum_table() -> None:
    assert region_valid_at("110105", date(1949, 12, 31)) is True
    assert region_valid_at("110112", date(1996, 1, 1)) is False
    assert region_valid_at("110112", date(1997, 1, 1)) is True
    assert region_valid_at("999999", date(2000, 1, 1)) is None
    assert region_valid_at("119999", date(2000, 1, 1)) is None
    # a code re-used for a new name: 120110 was 东郊区 until 1991, 东丽区 from 1992
    periods = region_periods("120110")
    assert periods is not None
    assert [(p.name, p.start_year, p.end_year) for p in periods] == [
        ("东郊区", None, 1991),
        ("东丽区", 1992, None),
    ]
    assert region_name("120110", date(1980, 1, 1)) == "天津市东郊区"
    assert region_name("120110", date(2000, 1, 1)) == "天津市东丽区"
    assert region_name("999999") is None
    codes = region_codes()
    assert len(codes) > 3000
    assert codes == tuple(sorted(codes))
    assert all(len(c) == 6 and c.isdigit() for c in codes)


# ------------------------------------------------------- agreement with python-stdnum


def _stdnum_is_valid(number: str) -> bool:
    """stdnum's verdict; stdnum 2.2 raises KeyError for an unknown county code inside a known
    province (``get_birth_place`` reads ``info['county']``), which means "not valid"."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def _years(code: str, *, in_use: bool) -> list[int]:
    """The years 1900-2025 in which a region code was (or was not) in use."""
    used: set[int] = set()
    for p in region_periods(code) or ():
        used.update(range(max(p.start_year or 1900, 1900), min(p.end_year or 2025, 2025) + 1))
    return [y for y in range(1900, 2026) if (y in used) == in_use]


def _make_corpus(n: int, seed: int) -> list[tuple[str, str]]:
    """(kind, number): half valid numbers, half corrupted in the ways people get them wrong."""
    rng = random.Random(seed)
    codes = region_codes()
    ranged = [c for c in codes if any(p.start_year or p.end_year for p in region_periods(c) or ())]
    known = set(codes)

    def with_body(body: str) -> str:
        return body + check_character(body)

    years_in_use: dict[str, list[int]] = {}
    years_unused: dict[str, list[int]] = {}

    def birth_for(code: str) -> str | None:
        """A random YYYYMMDD in 1900-2025 when the code was in use."""
        if code not in years_in_use:
            years_in_use[code] = _years(code, in_use=True)
        years = years_in_use[code]
        if not years:
            return None
        year = rng.choice(years)
        month = rng.randrange(1, 13)
        last = 29 if month == 2 and year % 4 == 0 and year != 1900 else DAYS_IN_MONTH[month]
        return f"{year:04d}{month:02d}{rng.randrange(1, last + 1):02d}"

    def valid_number() -> str:
        while True:
            code = rng.choice(codes)
            born = birth_for(code)
            if born is not None:
                return with_body(f"{code}{born}{rng.randrange(1000):03d}")

    def one_digit_changed(number: str) -> str:
        i = rng.randrange(18)
        pool = "0123456789X" if i == 17 else "0123456789"
        new = rng.choice([c for c in pool if c != number[i]])
        return number[:i] + new + number[i + 1 :]

    def adjacent_swap(number: str) -> str:
        while True:
            i = rng.randrange(17)
            if number[i] != number[i + 1]:
                return number[:i] + number[i + 1] + number[i] + number[i + 2 :]

    def bad_date(number: str) -> str:
        year = number[6:10]
        choice = rng.choice(
            ["0230", "0231", "1301", "0001", "0100", "0432", "1131", "0229", "0000", "9999"]
        )
        if choice == "0229" and int(year) % 4 == 0:
            choice = "0230"
        return with_body(number[:6] + year + choice + number[14:17])

    def unknown_region(number: str) -> str:
        while True:
            code = f"{rng.randrange(1000000):06d}"
            if code not in known:
                return with_body(code + number[6:17])

    def region_not_in_use(number: str) -> str:
        while True:
            code = rng.choice(ranged)
            if code not in years_unused:
                years_unused[code] = _years(code, in_use=False)
            years = years_unused[code]
            if years:
                year = rng.choice(years)
                month_day = "0228" if number[10:14] == "0229" else number[10:14]
                return with_body(code + f"{year:04d}" + month_day + number[14:17])

    def lower_case_x(number: str) -> str:
        # the check character is X for one sequence code in eleven: walk the sequence
        start = rng.randrange(1000)
        for step in range(1000):
            body = f"{number[:14]}{(start + step) % 1000:03d}"
            if check_character(body) == "X":
                return (body + "X").lower()
        raise AssertionError(number)

    corruptions: list[tuple[str, Callable[[str], str]]] = [
        ("one_digit_changed", one_digit_changed),
        ("adjacent_swap", adjacent_swap),
        ("bad_date", bad_date),
        ("unknown_region", unknown_region),
        ("region_not_in_use", region_not_in_use),
        ("lower_case_x", lower_case_x),
    ]
    corpus: list[tuple[str, str]] = []
    for i in range(n):
        number = valid_number()
        if i % 2 == 0:
            corpus.append(("valid", number))
        else:
            kind, corrupt = corruptions[(i // 2) % len(corruptions)]
            corpus.append((kind, corrupt(number)))
    return corpus


# The number of generated cases; the comparison is the test, the size its strength.
AGREEMENT_CASES = 100_000


def test_agrees_with_stdnum_on_random_numbers() -> None:
    """Our verdict equals stdnum's on 100,000 numbers, half valid and half corrupted.

    Shared semantics: stdnum does not reject birth dates in the future, so the comparison
    passes a ``today`` far ahead; the future check is tested on its own above.  Inputs
    are compact 18-character strings (stdnum keeps inner spaces and hyphens and so rejects
    them, while :func:`normalize` removes them; 15-digit numbers are outside stdnum's
    scope).  Lower-case ``x`` is accepted by both.
    """
    corpus = _make_corpus(AGREEMENT_CASES, seed=11643)
    far_future = date(9999, 12, 31)
    disagreements: list[tuple[str, str, bool, tuple[str, ...]]] = []
    verdicts: Counter[tuple[str, bool]] = Counter()
    codes_seen: dict[str, Counter[str]] = {}
    for kind, number in corpus:
        ours = validate(number, today=far_future)
        theirs = _stdnum_is_valid(number)
        verdicts[(kind, ours.ok)] += 1
        codes_seen.setdefault(kind, Counter()).update(ours.codes)
        if ours.ok != theirs:
            disagreements.append((kind, number, theirs, ours.codes))

    assert disagreements == [], disagreements[:20]
    # The corpus really is half valid, half corrupted, and each corruption is caught for
    # the reason it was made (so that agreement is not agreement on trivia).
    n_valid = sum(1 for kind, _ in corpus if kind == "valid")
    assert n_valid == AGREEMENT_CASES // 2
    assert verdicts[("valid", True)] == n_valid
    assert verdicts[("lower_case_x", True)] == sum(1 for k, _ in corpus if k == "lower_case_x")
    for kind in (
        "one_digit_changed",
        "adjacent_swap",
        "bad_date",
        "unknown_region",
        "region_not_in_use",
    ):
        assert verdicts[(kind, True)] == 0, kind
    assert codes_seen["bad_date"]["birth_date_invalid"] == verdicts[("bad_date", False)]
    assert codes_seen["unknown_region"]["region_unknown"] == verdicts[("unknown_region", False)]
    assert (
        codes_seen["region_not_in_use"]["region_not_valid_at_birth"]
        == verdicts[("region_not_in_use", False)]
    )
    assert codes_seen["adjacent_swap"]["checksum"] + codes_seen["adjacent_swap"]["characters"] > 0


def test_public_names() -> None:
    assert idnumber.__all__ == sorted(idnumber.__all__)
    for name in idnumber.__all__:
        assert hasattr(idnumber, name)
    assert isinstance(validate(EXAMPLE), IdCheck)


def test_every_problem_code_is_documented_and_emitted() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "domain" / "identity.md"
    text = doc.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(PROBLEM_CODES)
    emitted = {
        *validate("123", today=TODAY).codes,
        *validate("1101A519491231002X", today=TODAY).codes,
        *validate("110105199902300024", today=TODAY).codes,
        *validate(compose("110105", date(2030, 1, 1), 1), today=TODAY).codes,
        *validate(compose("999999", date(1990, 1, 1), 1), today=TODAY).codes,
        *validate(compose("110112", date(1990, 1, 1), 1), today=TODAY).codes,
        *validate(EXAMPLE, birth_date=date(1950, 1, 1), sex="M", today=TODAY).codes,
    }
    assert emitted == set(PROBLEM_CODES)
