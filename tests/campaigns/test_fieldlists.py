import re
from datetime import date

import pytest

from popreg.campaigns.fieldlists import (
    FieldListError,
    door_plate_number,
    render_field_list_parts,
    render_field_list_pdf,
    split_persons,
)
from popreg.core.idnumber import compose
from popreg.core.privacy import mask_id

from .pdfcheck import fonts, notdef_count, page_count, text

VILLAGE = {"code": "411122100001", "name": "东关村民委员会", "township_name": "城关镇",
           "county_name": "临颍县"}
CAMPAIGN = {"id": 7, "name": "2025年户口整顿", "reference_moment": "2025-11-01T00:00:00"}
RARE_NAMES = ["龚丽华", "翟强", "禤国明", "妘芳", "堃", "阿依古丽·买买提", "欧阳堃"]


def _persons(names, group_size=100):
    out = []
    for i, name in enumerate(names):
        birth = date(1950 + i % 60, 1 + i % 12, 1 + i % 28)
        out.append({
            "person_id": 1000 + i, "household_no": f"{300000 + i // 3:09d}", "name": name,
            "sex": "M" if i % 2 else "F", "birth_date": birth,
            "id_number": compose("411122", birth, 2 * i + (i % 2)),
            "relation": "户主" if i % 3 == 0 else "子女", "residence_type": "registered",
            "address": f"东关村{i // 3 + 1}号",
            "group_code": f"411122100001{1 + i // group_size:03d}",
        })
    return out


@pytest.fixture(scope="module")
def rare_pdf():
    return render_field_list_pdf(VILLAGE, _persons(RARE_NAMES), CAMPAIGN, strict=True)


def test_rare_characters_come_back_from_the_pdf(rare_pdf):
    got = text(rare_pdf)
    for name in RARE_NAMES + [VILLAGE["name"], CAMPAIGN["name"], "临颍县城关镇"]:
        assert name in got, name
    # the list's rows, in order, read back exactly
    rows = re.findall(r"\d+(\d{9})([^\d]+?)([男女])(\d{4}-\d{2}-\d{2})", got)
    assert [r[1] for r in rows] == RARE_NAMES


def test_fonts_are_embedded_and_no_glyph_is_missing(rare_pdf):
    embedded = fonts(rare_pdf)
    assert embedded and all(embedded.values()), embedded
    assert any("CJK" in name for name in embedded), embedded
    assert notdef_count(rare_pdf) == 0


def test_page_numbers_count_all_pages():
    pdf = render_field_list_pdf(VILLAGE, _persons(["张三"] * 40), CAMPAIGN)
    n = page_count(pdf)
    assert n >= 2
    got = text(pdf)
    for i in range(1, n + 1):
        assert f"第{i}页共{n}页" in got


def test_a_character_no_font_has_is_refused_when_strict():
    # U+E000 is a private-use code point: no installed font draws it
    with pytest.raises(FieldListError, match="U\\+E000"):
        render_field_list_pdf(VILLAGE, _persons(["张\ue000"]), CAMPAIGN, strict=True)


def test_ids_are_masked_unless_the_campaign_shows_them(rare_pdf):
    person = _persons(RARE_NAMES)[0]
    assert mask_id(person["id_number"]) in text(rare_pdf)
    assert person["id_number"] not in text(rare_pdf)
    full = render_field_list_pdf(VILLAGE, [person], CAMPAIGN | {"show_full_id": True})
    assert person["id_number"] in text(full)


def test_split_by_group_renders_one_pdf_per_group():
    persons = _persons([f"甲{i:02d}" for i in range(6)], group_size=3)
    parts = render_field_list_parts(VILLAGE, persons, CAMPAIGN, split_by="group")
    assert [p.label for p, _ in parts] == ["第1组", "第2组"]
    first, second = text(parts[0][1]), text(parts[1][1])
    assert {"甲00", "甲01", "甲02"} <= set(re.findall("甲\\d\\d", first)) == {"甲00", "甲01", "甲02"}
    assert set(re.findall("甲\\d\\d", second)) == {"甲03", "甲04", "甲05"}
    assert "第2组" in second


@pytest.mark.parametrize(
    "address, plate", [("东关村3组12号", 12), ("城关镇解放路 105 号", 105), ("东关村", None),
                       ("北街7", 7), (None, None)],
)
def test_door_plate_number(address, plate):
    assert door_plate_number(address) == plate


def test_split_by_door_plate_keeps_households_whole():
    persons = _persons([f"乙{i:02d}" for i in range(9)])  # plates 1, 2, 3 (3 persons each)
    persons[8]["address"] = "无门牌"  # same household as 6 and 7: follows its head
    parts = split_persons(persons, "door_plate", plate_ranges=[(1, 2), (3, 10)])
    assert [(p.label, [x["name"] for x in p.persons]) for p in parts] == [
        ("1–2号", ["乙00", "乙01", "乙02", "乙03", "乙04", "乙05"]),
        ("3–10号", ["乙06", "乙07", "乙08"]),
    ]
    auto = split_persons(persons, "door_plate", plate_range_size=2)
    assert [p.label for p in auto] == ["1–2号", "3–4号"]


def test_unknown_split_and_missing_keys_are_explained():
    with pytest.raises(FieldListError, match="group"):
        split_persons([], "street")
    with pytest.raises(FieldListError, match="name"):
        render_field_list_pdf({"code": "1"}, [], CAMPAIGN)
