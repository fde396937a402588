"""Every registration form shows every problem at once (docs/validation.md): one submission
with several mistakes gets one answer (400) with an error next to each field at fault, and
nothing is saved."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from popreg.registry import actions
from popreg.registry.models import Person

from ..conftest import VILLAGE_A1, VILLAGE_B1, make_id

FUTURE = (date.today() + timedelta(days=3)).isoformat()
BAD_ID = "110105194912310023"  # wrong check character (X), born 1949-12-31, a woman's number


def errors(page: str) -> dict[str, str]:
    """Field → the error text shown next to it."""
    return {m.group(1): re.sub(r"\s+", " ", m.group(2)).strip()
            for m in re.finditer(r'id="id_(\w+)_error">(.*?)</div>', page, re.S)}


def refused(response, counts_before, counts) -> dict[str, str]:
    assert response.status_code == 400
    assert counts() == counts_before
    return errors(response.content.decode())


def test_birth_form_shows_every_problem_of_the_issue(login, people, counts):
    """A future date, a bad ID number and an unknown mother: the three errors of the issue,
    with an unknown household and an ethnicity outside GB/T 3304, all in one answer."""
    before = counts()
    r = login("clerk_a1").post("/register/birth/", {
        "name": "赵小明", "sex": "M", "birth_date": FUTURE, "registered_unit": VILLAGE_A1,
        "household_no": "999999999", "id_number": BAD_ID, "ethnicity": "火星族",
        "mother": "424242", "father": "",
    })
    shown = refused(r, before, counts)
    assert set(shown) == {"birth_date", "id_number", "mother", "household_no", "ethnicity"}, shown
    assert "不能晚于今天" in shown["birth_date"]
    assert "校验码应为 X" in shown["id_number"]
    assert "未找到" in shown["mother"] and "424242" in shown["mother"]
    assert "999999999" in shown["household_no"]
    assert "GB/T 3304" in shown["ethnicity"]
    # a summary on top lists the five fields, each a link to its input
    summary = r.content.decode().split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "请更正以下各项" in summary
    assert re.findall(r'<a href="#id_(\w+)">', summary) == [
        "birth_date", "household_no", "id_number", "ethnicity", "mother"]


def test_birth_form_mother_age_sex_and_a_birth_in_1890(login, people, counts):
    before = counts()
    r = login("clerk_a1").post("/register/birth/", {
        "name": "赵小明", "sex": "M", "birth_date": "1890-05-01", "registered_unit": VILLAGE_A1,
        "household_no": "", "id_number": "", "ethnicity": "汉族",
        "mother": str(people["child"].pk), "father": str(people["mother"].pk),
    })
    shown = refused(r, before, counts)
    assert set(shown) == {"birth_date", "mother", "father"}, shown
    assert "早于 1900 年" in shown["birth_date"]
    # the boy given as mother: his sex, and he was not born yet in 1890
    assert "母亲的性别登记为男" in shown["mother"] and "尚未出生" in shown["mother"]
    assert "性别登记为女" in shown["father"]


def test_move_in_form(login, people, counts):
    before = counts()
    r = login("clerk_a1").post("/register/move-in/", {
        "name": "钱多多", "sex": "F", "birth_date": "1890-05-01", "id_number": "",
        "ethnicity": "火星族", "registered_unit": VILLAGE_A1, "household_no": "",
        "from_unit_code": "999999999999", "move_date": FUTURE,
    })
    shown = refused(r, before, counts)
    assert set(shown) == {"birth_date", "ethnicity", "from_unit_code", "move_date"}, shown
    assert "999999" in shown["from_unit_code"] and "GB/T 2260" in shown["from_unit_code"]
    assert "不能晚于今天" in shown["move_date"]


def test_move_in_origin_not_in_use_at_the_move_date(login, people, counts):
    before = counts()
    r = login("clerk_a1").post("/register/move-in/", {
        "name": "钱多多", "sex": "F", "birth_date": "1980-05-01", "id_number": "",
        "ethnicity": "汉族", "registered_unit": VILLAGE_A1, "household_no": "",
        "from_unit_code": "110112", "move_date": "1990-06-01",  # 通州区 from 1997 only
    })
    shown = refused(r, before, counts)
    assert set(shown) == {"from_unit_code"} and "1990" in shown["from_unit_code"]


def test_death_form(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/death/", {"death_date": "1985-01-01"})
    shown = refused(r, before, counts)
    assert set(shown) == {"death_date"} and "不能早于出生日期 1990-03-04" in shown["death_date"]


def test_move_out_form_date_and_destination_together(login, people, counts):
    """The issue's destination 999999999999 is refused, and with it a date before birth."""
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/move-out/",
                               {"move_date": "1980-01-01", "destination_code": "999999999999"})
    shown = refused(r, before, counts)
    assert set(shown) == {"move_date", "destination_code"}, shown
    assert "不能早于出生日期" in shown["move_date"]
    assert "999999" in shown["destination_code"]


def test_move_out_destination_valid_at_the_move_date(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/move-out/",
                               {"move_date": "2011-06-01", "destination_code": "110103"})  # 崇文区 until 2010
    shown = refused(r, before, counts)
    assert set(shown) == {"destination_code"} and "2011" in shown["destination_code"]


def test_transfer_form(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/transfer/",
                               {"to_unit": VILLAGE_B1, "household_no": "999999999", "move_date": FUTURE})
    shown = refused(r, before, counts)
    assert set(shown) == {"household_no", "move_date"}, shown


def test_marriage_form_legal_age(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/marriage/", {"marriage_date": "2009-06-01"})
    shown = refused(r, before, counts)
    assert set(shown) == {"marriage_date"} and "法定婚龄" in shown["marriage_date"]
    assert "20 周岁" in shown["marriage_date"]  # she is a woman, born 1990: 19 then


def test_divorce_form_before_the_marriage(login, people, actors, counts):
    mother = people["mother"]
    actions.do_register_marriage(actors["clerk_a1"], mother, marriage_date=date(2012, 1, 1))
    before = counts()
    r = login("clerk_a1").post(f"/persons/{mother.pk}/divorce/", {"divorce_date": "2011-01-01"})
    shown = refused(r, before, counts)
    assert set(shown) == {"divorce_date"} and "早于结婚日期 2012-01-01" in shown["divorce_date"]


def test_enlistment_form_age(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/enlistment/", {"enlistment_date": "2024-09-01"})
    shown = refused(r, before, counts)
    assert set(shown) == {"enlistment_date"} and "34 周岁" in shown["enlistment_date"]
    assert "兵役法" in shown["enlistment_date"]


def test_discharge_form_date_and_household_together(login, people, actors, counts):
    other = people["other"]
    actions.do_register_enlistment(actors["admin"], other, enlistment_date=date(2004, 9, 1))
    before = counts()
    r = login("admin").post(f"/persons/{other.pk}/discharge/",
                            {"discharge_date": "2003-01-01", "to_unit": VILLAGE_B1, "household_no": "999999999"})
    shown = refused(r, before, counts)
    assert set(shown) == {"discharge_date", "household_no"}, shown
    assert "早于入伍日期 2004-09-01" in shown["discharge_date"]


def test_correction_form(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/correct/", {
        "birth_date": FUTURE, "ethnicity": "火星族", "id_number": BAD_ID, "sex": "", "name": "",
        "reason": "户口本笔误",
    })
    shown = refused(r, before, counts)
    assert set(shown) == {"birth_date", "ethnicity", "id_number"}, shown


def test_correction_of_the_sex_against_the_stored_number(login, people, counts):
    before = counts()
    r = login("clerk_a1").post(f"/persons/{people['mother'].pk}/correct/", {"sex": "M", "reason": "更正性别"})
    shown = refused(r, before, counts)
    assert set(shown) == {"sex"} and "第 17 位" in shown["sex"]


def test_errors_in_english(login, people, counts):
    c = login("clerk_a1")
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    before = counts()
    r = c.post(f"/persons/{people['mother'].pk}/move-out/",
               {"move_date": "1980-01-01", "destination_code": "999999999999"})
    shown = refused(r, before, counts)
    assert "cannot be before the birth date" in shown["move_date"]
    assert "not a division code" in shown["destination_code"]


def test_the_select_offers_the_gb_t_3304_list(login, people):
    page = login("clerk_a1").get("/register/birth/").content.decode()
    options = re.findall(r'<option value="([^"]*)"', page.split('name="ethnicity"', 1)[1].split("</select>", 1)[0])
    assert len(options) == 58 and options[0] == "汉族" and options[-1] == "外国血统中国籍人士"


@pytest.mark.parametrize("written", ["蒙古族", "其他未识别民族"])
def test_a_valid_birth_is_saved_with_its_ethnicity(login, people, written):
    r = login("clerk_a1").post("/register/birth/", {
        "name": "孙小红", "sex": "F", "birth_date": "2024-06-01", "registered_unit": VILLAGE_A1,
        "household_no": "", "id_number": make_id(date(2024, 6, 1), "F", 41), "ethnicity": written,
        "mother": str(people["mother"].pk), "father": "",
    })
    assert r.status_code == 302, errors(r.content.decode())
    assert Person.objects.get(name="孙小红").ethnicity == written


def test_household_split_form_shows_the_date_rule_with_the_other_errors(login, people, counts):
    hh = people["hh_a"]
    before = counts()
    r = login("clerk_a1").post(f"/households/{hh.household_no}/split/",
                               {"version": hh.version, "split_date": "1890-01-01"})
    assert r.status_code == 400 and counts() == before
    page = r.content.decode()
    assert "请选择分出的成员" in page and "请选择新户的户主" in page
    assert "早于 1900 年" in page  # the date floor of the plausibility rules
