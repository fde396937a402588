"""Tests for popreg.core.names: normalisation, surname split, pinyin keys."""

from __future__ import annotations

import pytest
from pypinyin import Style, pinyin

from popreg.core import names
from popreg.core.names import (
    COMPOUND_SURNAMES,
    MIDDLE_DOT,
    SURNAME_READINGS,
    initials_key,
    normalize_name,
    pinyin_key,
    pinyin_readings,
    split_surname,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # traditional → simplified
        ("張偉", "张伟"),
        ("歐陽鋒", "欧阳锋"),
        ("單田芳", "单田芳"),
        ("劉德華", "刘德华"),
        # simplified stays as it is, including characters t2s would misread as traditional
        ("张伟", "张伟"),
        ("张乾", "张乾"),
        ("何乾坤", "何乾坤"),
        ("於梨华", "於梨华"),
        ("於梨華", "於梨华"),
        ("王昇", "王昇"),
        ("李後主", "李后主"),
        # whitespace of every kind, including the ideographic space U+3000
        (" 张 伟 ", "张伟"),
        ("张\u3000伟", "张伟"),
        ("张\t伟\n", "张伟"),
        ("张\u00a0伟", "张伟"),
        # full-width Latin letters and digits → half-width, Latin upper-cased
        ("ｊｏｈｎ　ｓｍｉｔｈ", "JOHNSMITH"),
        ("Zhang Wei", "ZHANGWEI"),
        ("张ａ１", "张A1"),
        # middle-dot variants of minority names
        ("买买提·艾力", "买买提·艾力"),
        ("买买提•艾力", "买买提·艾力"),
        ("买买提‧艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),
        ("买买提･艾力", "买买提·艾力"),
        ("买买提.艾力", "买买提·艾力"),
        ("买买提。艾力", "买买提·艾力"),
        ("买买提．艾力", "买买提·艾力"),
        ("买买提｡艾力", "买买提·艾力"),
        ("买买提 · 艾力", "买买提·艾力"),
        ("买买提··艾力", "买买提·艾力"),
        ("·买买提·艾力·", "买买提·艾力"),
        ("阿沛∙阿旺晋美", "阿沛·阿旺晋美"),
        # empty input
        ("", ""),
        (None, ""),
        ("\u3000 ", ""),
    ],
)
def test_normalize_name(raw: str | None, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_normalize_name_is_idempotent() -> None:
    for raw in ["張 偉", "买买提•艾力", "ｊｏｈｎ", "歐陽　鋒"]:
        once = normalize_name(raw)
        assert normalize_name(once) == once


def test_middle_dot_is_u00b7() -> None:
    assert MIDDLE_DOT == "\u00b7"
    assert normalize_name("A・B")[1] == "\u00b7"


@pytest.mark.parametrize(
    ("name", "surname", "given"),
    [
        ("张伟", "张", "伟"),
        ("张三丰", "张", "三丰"),
        ("欧阳修", "欧阳", "修"),
        ("歐陽修", "欧阳", "修"),
        ("司马相如", "司马", "相如"),
        ("诸葛亮", "诸葛", "亮"),
        ("上官婉儿", "上官", "婉儿"),
        ("尉迟恭", "尉迟", "恭"),
        ("长孙无忌", "长孙", "无忌"),
        ("慕容复", "慕容", "复"),
        ("皇甫嵩", "皇甫", "嵩"),
        ("万俟卨", "万俟", "卨"),
        # a compound surname needs a given name after it
        ("司马", "司", "马"),
        ("欧阳", "欧", "阳"),
        # minority and Latin names: no Han surname
        ("买买提·艾力", "", "买买提·艾力"),
        ("JOHN", "", "JOHN"),
        ("", "", ""),
    ],
)
def test_split_surname(name: str, surname: str, given: str) -> None:
    assert split_surname(name) == (surname, given)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("张伟", "zhangwei"),
        ("單田芳", "shantianfang"),
        ("单田芳", "shantianfang"),
        ("曾国藩", "zengguofan"),
        ("解缙", "xiejin"),
        ("区志强", "ouzhiqiang"),
        ("仇英", "qiuying"),
        ("朴树", "piaoshu"),
        ("查良镛", "zhaliangyong"),
        ("盖聂", "genie"),
        ("缪斯", "miaosi"),
        ("乐毅", "yueyi"),
        ("覃明", "qinming"),
        ("尉迟恭", "yuchigong"),
        ("万俟卨", "moqixie"),
        ("长孙无忌", "zhangsunwuji"),
        ("欧阳修", "ouyangxiu"),
        ("吕布", "lvbu"),
        ("买买提·艾力", "maimaitiaili"),
        ("JOHN SMITH", "johnsmith"),
        ("", ""),
    ],
)
def test_pinyin_key(name: str, key: str) -> None:
    assert pinyin_key(name) == key


@pytest.mark.parametrize(
    ("name", "initials"),
    [("张伟", "zw"), ("欧阳修", "oyx"), ("单田芳", "stf"), ("曾国藩", "zgf"), ("", "")],
)
def test_initials_key(name: str, initials: str) -> None:
    assert initials_key(name) == initials


@pytest.mark.parametrize(
    ("surname", "surname_reading", "common_reading"),
    [
        ("单", "shan", "dan"),
        ("曾", "zeng", "ceng"),
        ("解", "xie", "jie"),
        ("区", "ou", "qu"),
        ("仇", "qiu", "chou"),
        ("朴", "piao", "pu"),
        ("查", "zha", "cha"),
        ("盖", "ge", "gai"),
        ("缪", "miao", "mou"),
        ("乐", "yue", "le"),
        ("覃", "qin", "tan"),
    ],
)
def test_heteronym_surname_read_as_surname_first(
    surname: str, surname_reading: str, common_reading: str
) -> None:
    readings = pinyin_readings(surname + "明")
    assert readings[0] == surname_reading + "ming"
    # the everyday reading stays available, for records typed with it
    assert common_reading + "ming" in readings
    # but the same character inside a given name is read the ordinary way first
    assert pinyin_key("王" + surname) == "wang" + common_reading


@pytest.mark.parametrize(
    ("left", "right", "shared"),
    [
        ("张伟", "张玮", "zhangwei"),
        ("李娜", "李纳", "lina"),
        ("王芳", "王方", "wangfang"),
        ("陈静", "陈晶", "chenjing"),
        ("刘洋", "刘阳", "liuyang"),
        ("單田芳", "单天芳", "shantianfang"),
        ("曾伟", "曾玮", "zengwei"),
    ],
)
def test_homophones_share_a_reading(left: str, right: str, shared: str) -> None:
    common = set(pinyin_readings(left)) & set(pinyin_readings(right))
    assert shared in common
    assert normalize_name(left) != normalize_name(right)


def test_readings_are_bounded_and_unique() -> None:
    # 10 heteronym-rich characters: the full product is in the thousands
    long_name = "单长重行乐朴查解会还"
    readings = pinyin_readings(long_name, max_readings=16)
    assert len(readings) == 16
    assert len(set(readings)) == len(readings)
    assert readings[0] == pinyin_key(long_name)
    assert len(pinyin_readings(long_name, max_readings=3)) == 3
    # at least one reading for any non-empty name, however small the cap
    assert pinyin_readings("张伟", max_readings=0) == ["zhangwei"]
    assert pinyin_readings("") == []


def test_readings_most_likely_first() -> None:
    # one change from the primary reading comes before two changes
    readings = pinyin_readings("曾乐", max_readings=16)
    assert readings[0] == "zengle"
    one_change = {"cengle", "zengyue"}
    assert set(readings[1:3]) == one_change
    assert readings.index("cengyue") > max(readings.index(r) for r in one_change)


def test_traditional_and_simplified_give_same_readings() -> None:
    assert pinyin_readings("歐陽鋒") == pinyin_readings("欧阳锋")
    assert pinyin_key("張　偉") == pinyin_key("张伟")


def test_surname_tables_are_sane() -> None:
    # each surname reading is a reading pypinyin knows, except the few it lacks
    missing_in_pypinyin = {"黑", "贠"}
    for ch, reading in SURNAME_READINGS.items():
        assert len(ch) == 1
        known = pinyin(ch, heteronym=True, style=Style.NORMAL)[0]
        if ch not in missing_in_pypinyin:
            assert reading in known, (ch, reading, known)
    for compound, syllables in COMPOUND_SURNAMES.items():
        assert len(compound) == 2 == len(syllables)
        assert normalize_name(compound) == compound  # stored in simplified form
        for ch, reading in zip(compound, syllables, strict=True):
            assert reading in pinyin(ch, heteronym=True, style=Style.NORMAL)[0], compound


def test_public_names() -> None:
    assert names.__all__ == sorted(names.__all__)
    for name in names.__all__:
        assert hasattr(names, name)
