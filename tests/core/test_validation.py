"""The plausibility rules of popreg.core.validation, each with published values.

Sources: marriage ages 《民法典》第一千零四十七条 (男 22, 女 20; 《婚姻法》1980 第五条 from
1981-01-01, 《婚姻法》1950 第四条 before: 男 20, 女 18); enlistment ages 《兵役法》(2021)
第二十条 (17 at one's own wish, up to 26 for postgraduates); GB/T 3304-1991 (56 groups, 01 汉族
… 56 基诺族, with 97 and 98); GB/T 2260 codes and their years of use as python-stdnum's
cn/loc table records them (110112 通州区 from 1997, 110103 崇文区 until 2010); the
GB 11643-1999 example number 11010519491231002X.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from popreg.core import ethnicity
from popreg.core.validation import (
    DATE_FLOOR,
    RULES,
    Entry,
    Relative,
    age_on,
    check,
    marriage_age,
)

TODAY = date(2026, 6, 1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "validation.md"


def codes(entry: Entry) -> list[str]:
    return [p.code for p in check(entry)]


def fields(entry: Entry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in check(entry):
        out.setdefault(p.field, []).append(p.code)
    return out


# --------------------------------------------------------------------------- one pass


def test_every_problem_comes_back_at_once():
    """The case of the issue: a future birth date, a bad ID number, an unknown ethnicity and
    a mother too young are four problems on four fields, not the first one only."""
    entry = Entry(kind="birth", today=TODAY, birth_date=date(2026, 7, 1), sex="M",
                  id_number="110105194912310023", ethnicity="火星族",
                  mother=Relative(birth_date=date(2020, 1, 1), sex="F"))
    found = fields(entry)
    assert found["birth_date"] == ["date_future"]
    assert "id_checksum" in found["id_number"] and "id_birth_date_mismatch" in found["id_number"]
    assert found["ethnicity"] == ["ethnicity_unknown"]
    assert found["mother"] == ["mother_age"]


def test_a_clean_entry_has_no_problem():
    entry = Entry(kind="birth", today=TODAY, birth_date=date(1949, 12, 31), sex="F",
                  id_number="11010519491231002X", ethnicity="汉族")
    assert check(entry) == []


def test_every_message_is_bilingual_and_names_no_field_code():
    entry = Entry(kind="move_out", today=TODAY, event_date=date(2030, 1, 1), event_field="move_date",
                  birth_date=date(1890, 1, 1), destination_code="999999999999", sex="M",
                  id_number="110105194912310023")
    problems = check(entry)
    assert {p.code for p in problems} == {"date_future", "date_before_floor", "division_unknown",
                                          "id_checksum", "id_birth_date_mismatch", "id_sex_mismatch"}
    for p in problems:
        assert re.search(r"[\u4e00-\u9fff]", p.message_zh), p
        assert p.message_en.isascii(), p  # no Chinese left in the English message
        assert "_" not in p.message_zh + p.message_en, p  # no field code shown


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(("born", "code"), [
    (date(1890, 5, 1), "date_before_floor"),   # the issue's birth in 1890
    (date(1899, 12, 31), "date_before_floor"),
    (date(2026, 6, 2), "date_future"),
])
def test_birth_dates_outside_the_range(born, code):
    assert codes(Entry(kind="birth", today=TODAY, birth_date=born)) == [code]


def test_the_floor_and_today_are_allowed():
    assert check(Entry(kind="birth", today=TODAY, birth_date=TODAY)) == []
    assert date(1900, 1, 1) == DATE_FLOOR
    entry = Entry(kind="death", today=TODAY, event_date=date(1999, 1, 1), event_field="death_date",
                  birth_date=DATE_FLOOR, entered=frozenset({"death_date"}))
    assert check(entry) == []  # died at 98


def test_event_before_birth_and_after_death():
    before = Entry(kind="transfer", today=TODAY, event_date=date(1989, 1, 1), event_field="move_date",
                   birth_date=date(1990, 3, 4), entered=frozenset({"move_date"}))
    assert fields(before) == {"move_date": ["date_before_birth"]}
    after = Entry(kind="correction", today=TODAY, event_field="correction_date",
                  birth_date=date(2021, 1, 1), death_date=date(2020, 1, 1), entered=frozenset({"birth_date"}))
    assert fields(after) == {"birth_date": ["date_after_death"]}


def test_oldest_plausible_age():
    # 1901-01-02 to 2022-01-02 is 121 years: older than the 120 the rule allows
    entry = Entry(kind="death", today=TODAY, event_date=date(2022, 1, 2), event_field="death_date",
                  birth_date=date(1901, 1, 2), entered=frozenset({"death_date"}))
    assert codes(entry) == ["age_over_max"]
    ok = Entry(kind="death", today=TODAY, event_date=date(2021, 1, 1), event_field="death_date",
               birth_date=date(1901, 1, 2), entered=frozenset({"death_date"}))
    assert check(ok) == []  # 119 on the day


def test_a_stored_birth_date_is_context_not_an_error_of_the_form():
    """On a marriage form the stored birth date before the floor is not reported."""
    entry = Entry(kind="marriage", today=TODAY, event_date=date(1950, 6, 1), event_field="marriage_date",
                  birth_date=date(1899, 1, 1), sex="M", entered=frozenset({"marriage_date"}))
    assert "date_before_floor" not in codes(entry)


def test_age_on_counts_completed_years_and_29_february():
    assert age_on(date(2000, 2, 29), date(2022, 2, 28)) == 21
    assert age_on(date(2000, 2, 29), date(2022, 3, 1)) == 22
    assert age_on(date(1990, 3, 4), date(2024, 3, 3)) == 33


# --------------------------------------------------------------------------- ages


def _marriage(sex: str, born: date, on: date) -> list[str]:
    return codes(Entry(kind="marriage", today=TODAY, event_date=on, event_field="marriage_date",
                       birth_date=born, sex=sex, entered=frozenset({"marriage_date"})))


def test_marriage_age_per_civil_code_article_1047():
    assert marriage_age("M", date(2021, 1, 1)) == 22 and marriage_age("F", date(2021, 1, 1)) == 20
    assert _marriage("M", date(2000, 5, 1), date(2022, 4, 30)) == ["marriage_age"]  # 21
    assert _marriage("M", date(2000, 5, 1), date(2022, 5, 1)) == []  # 22 on the day
    assert _marriage("F", date(2004, 5, 1), date(2024, 4, 30)) == ["marriage_age"]  # 19
    assert _marriage("F", date(2004, 5, 1), date(2024, 5, 1)) == []  # 20


def test_marriage_age_before_1981_per_marriage_law_1950():
    assert marriage_age("M", date(1980, 12, 31)) == 20 and marriage_age("F", date(1980, 12, 31)) == 18
    assert _marriage("F", date(1960, 6, 1), date(1979, 6, 1)) == []  # 19 in 1979: of age then
    assert _marriage("F", date(1962, 6, 1), date(1979, 6, 1)) == ["marriage_age"]  # 17


def test_marriage_age_message_says_the_legal_age_and_the_date_of_age():
    (p,) = check(Entry(kind="marriage", today=TODAY, event_date=date(2022, 4, 30),
                       event_field="marriage_date", birth_date=date(2000, 5, 1), sex="M",
                       entered=frozenset({"marriage_date"})))
    assert "22 周岁" in p.message_zh and "2022-05-01" in p.message_zh
    assert "legal age of marriage (22 for men)" in p.message_en


def _enlist(born: date, on: date) -> list[str]:
    return codes(Entry(kind="enlistment", today=TODAY, event_date=on, event_field="enlistment_date",
                       birth_date=born, sex="M", entered=frozenset({"enlistment_date"})))


def test_enlistment_ages_per_military_service_law_article_20():
    assert _enlist(date(2007, 12, 31), date(2024, 9, 1)) == []  # 17 by 31 December 2024
    assert _enlist(date(2008, 1, 1), date(2024, 9, 1)) == ["enlistment_age"]  # 16 then
    assert _enlist(date(1998, 9, 1), date(2024, 9, 1)) == []  # 26: a postgraduate
    assert _enlist(date(1990, 3, 4), date(2024, 9, 1)) == ["enlistment_age"]  # 34


def test_divorce_and_discharge_follow_their_start():
    div = Entry(kind="divorce", today=TODAY, event_date=date(2010, 1, 1), event_field="divorce_date",
                birth_date=date(1980, 1, 1), marriage_date=date(2012, 1, 1),
                entered=frozenset({"divorce_date"}))
    assert codes(div) == ["divorce_before_marriage"]
    dis = Entry(kind="discharge", today=TODAY, event_date=date(2003, 1, 1), event_field="discharge_date",
                birth_date=date(1985, 1, 2), enlistment_date=date(2004, 9, 1),
                entered=frozenset({"discharge_date"}))
    assert codes(dis) == ["discharge_before_enlistment"]


# --------------------------------------------------------------------------- parents


def _birth_with(mother: Relative | None = None, father: Relative | None = None) -> dict[str, list[str]]:
    return fields(Entry(kind="birth", today=TODAY, birth_date=date(2024, 6, 1), mother=mother, father=father))


def test_mother_age_12_to_60():
    assert _birth_with(Relative(date(2012, 6, 1), "F")) == {}  # 12 on the day
    assert _birth_with(Relative(date(2012, 6, 2), "F")) == {"mother": ["mother_age"]}  # 11
    assert _birth_with(Relative(date(1963, 6, 2), "F")) == {}  # 60
    assert _birth_with(Relative(date(1963, 6, 1), "F")) == {"mother": ["mother_age"]}  # 61
    assert _birth_with(Relative(date(2025, 1, 1), "F")) == {"mother": ["mother_age"]}  # not born


def test_father_age_sex_and_death():
    assert _birth_with(father=Relative(date(2013, 1, 1), "M")) == {"father": ["father_age"]}  # 11
    assert _birth_with(Relative(date(1990, 1, 1), "M")) == {"mother": ["mother_sex"]}
    assert _birth_with(father=Relative(date(1990, 1, 1), "F")) == {"father": ["father_sex"]}
    assert _birth_with(Relative(date(1990, 1, 1), "F", death_date=date(2024, 5, 31))) == {
        "mother": ["mother_died_before_birth"]}
    # a posthumous child: the father died 200 days before the birth
    assert _birth_with(father=Relative(date(1990, 1, 1), "M", death_date=date(2023, 11, 14))) == {}
    assert _birth_with(father=Relative(date(1990, 1, 1), "M", death_date=date(2023, 6, 1))) == {
        "father": ["father_died_before_birth"]}


# --------------------------------------------------------------------------- ID number


def test_id_number_agrees_with_sex_and_birth_date():
    ok = Entry(kind="person", today=TODAY, id_number="11010519491231002X", sex="F", birth_date=date(1949, 12, 31))
    assert check(ok) == []
    wrong = Entry(kind="person", today=TODAY, id_number="11010519491231002X", sex="M",
                  birth_date=date(1950, 1, 1))
    assert codes(wrong) == ["id_birth_date_mismatch", "id_sex_mismatch"]


def test_every_problem_of_the_id_number():
    assert codes(Entry(kind="person", today=TODAY, id_number="1101051949")) == ["id_length"]
    assert codes(Entry(kind="person", today=TODAY, id_number="110105194912310023")) == ["id_checksum"]
    # 999999: no such region; the check character is right for the digits
    assert "id_region_unknown" in codes(Entry(kind="person", today=TODAY, id_number="99999919491231002X"[:17]
                                              + _check("99999919491231002")))


def _check(first17: str) -> str:
    from popreg.core.idnumber import check_character

    return check_character(first17)


def test_a_correction_of_the_sex_that_the_stored_number_contradicts_names_the_sex():
    entry = Entry(kind="correction", today=TODAY, event_field="correction_date", id_number="11010519491231002X",
                  sex="M", birth_date=date(1949, 12, 31), entered=frozenset({"sex"}))
    assert fields(entry) == {"sex": ["id_sex_mismatch"]}


# --------------------------------------------------------------------------- ethnicity


def test_the_56_groups_of_gb_t_3304_and_the_two_extra_categories():
    assert len(ethnicity.GROUPS) == 58
    assert [g.code for g in ethnicity.GROUPS[:56]] == [f"{i:02d}" for i in range(1, 57)]
    assert ethnicity.by_code("01").name == "汉族" and ethnicity.by_code("56").name == "基诺族"
    assert ethnicity.by_code("46").roman == "Deang" and ethnicity.by_code("10").letters == "CS"
    assert ethnicity.by_code("97").name == "其他未识别民族"
    assert ethnicity.by_code("98").name == "外国血统中国籍人士"
    assert len(set(ethnicity.NAMES)) == 58


@pytest.mark.parametrize(("written", "stored"), [
    ("汉族", "汉族"), ("汉", "汉族"), (" 蒙古 ", "蒙古族"), ("05", "维吾尔族"), ("8", "壮族"),
    ("ZA", "藏族"), ("崩龙族", "德昂族"), ("毛难族", "毛南族"), ("其他", "其他未识别民族"),
    ("外国血统", "外国血统中国籍人士"),
])
def test_ethnicity_spellings(written, stored):
    assert ethnicity.normalize(written) == stored
    assert check(Entry(kind="person", today=TODAY, ethnicity=written)) == []


@pytest.mark.parametrize("written", ["火星族", "汉人", "99", "Han"])
def test_unknown_ethnicity(written):
    (p,) = check(Entry(kind="person", today=TODAY, ethnicity=written))
    assert p.code == "ethnicity_unknown" and p.field == "ethnicity"
    assert "GB/T 3304" in p.message_zh and "56" in p.message_zh


# --------------------------------------------------------------------------- divisions


def _move_out(code: str, on: date = date(2025, 1, 1), home: str = "") -> list[str]:
    return codes(Entry(kind="move_out", today=TODAY, event_date=on, event_field="move_date",
                       birth_date=date(1990, 1, 1), destination_code=code, home_county=home,
                       entered=frozenset({"move_date", "destination_code"})))


def test_the_issues_destination_999999999999_is_refused():
    assert _move_out("999999999999") == ["division_unknown"]


def test_division_codes_valid_at_the_event_date():
    assert _move_out("110112", date(1997, 6, 1)) == []  # 通州区 from 1997
    assert _move_out("110112", date(1990, 6, 1)) == ["division_not_valid_at"]  # 通县 then
    assert _move_out("110103", date(2009, 6, 1)) == []  # 崇文区 until 2010
    assert _move_out("110103", date(2011, 6, 1)) == ["division_not_valid_at"]
    assert _move_out("110105001001") == []  # a village code: its county part is checked


def test_division_format_required_and_home_county():
    assert _move_out("1101") == ["division_format"]
    assert _move_out("11010A") == ["division_format"]
    assert _move_out("") == ["division_required"]
    assert _move_out("440106", home="440106") == ["division_in_county"]
    origin = Entry(kind="move_in", today=TODAY, event_date=date(2025, 1, 1), event_field="move_date",
                   birth_date=date(1990, 1, 1), origin_code="999999")
    assert fields(origin) == {"origin_code": ["division_unknown"]}


def test_not_valid_at_names_the_years_of_use():
    (p,) = check(Entry(kind="move_out", today=TODAY, event_date=date(2011, 6, 1), event_field="move_date",
                       destination_code="110103", entered=frozenset({"destination_code"})))
    assert "2011" in p.message_zh and "崇文区" in p.message_zh and "2010" in p.message_zh


# --------------------------------------------------------------------------- the documentation


def test_every_rule_is_documented_with_its_source():
    text = DOCS.read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", text, re.M)}
    assert rows == {r.code for r in RULES}, rows ^ {r.code for r in RULES}
    for r in RULES:
        assert r.source
