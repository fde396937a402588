"""Registration forms in headless Chromium: a birth submitted with several mistakes (a
future date, a bad ID number, an unknown mother and household — the issue's case) shows
every error at once next to its field and saves nothing; corrected, it is saved.  A move
out to the issue's destination 999999999999 shows that error with the date's, and every
other registration form (move in, death, transfer, marriage, divorce, enlistment,
discharge, correction) shows all of its errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from popreg.registry.models import Person

from ..conftest import PASSWORD, make_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD_ID = "110105194912310023"  # wrong check character


def _errors(b) -> dict[str, str]:
    return {e.get_attribute("id").removeprefix("id_").removesuffix("_error"): e.text
            for e in b.all(".field-error")}


def test_birth_form_shows_every_error_at_once_then_saves(browser, people):
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    b.open("/register/birth/")
    b.css("#id_name").send_keys("欧阳小明")
    b.click("input[name=sex][value=M]")
    b.set_value("#id_birth_date", (date.today() + timedelta(days=3)).isoformat())
    b.css("#id_household_no").send_keys("999999999")
    b.css("#id_id_number").send_keys(BAD_ID)
    b.css("#id_mother").send_keys("424242")
    b.submit("form.entry button[type=submit]")
    errors = _errors(b)
    b.shot("birth-errors")
    assert set(errors) == {"birth_date", "household_no", "id_number", "mother"}, errors
    assert "不能晚于今天" in errors["birth_date"]
    assert "999999999" in errors["household_no"]
    assert "校验码应为 X" in errors["id_number"]
    assert "424242" in errors["mother"] and "未找到" in errors["mother"]
    assert not Person.objects.filter(name="欧阳小明").exists()
    # the values typed are kept: the clerk corrects only what is wrong
    assert b.css("#id_name").get_attribute("value") == "欧阳小明"

    born = date(2024, 6, 1)
    b.set_value("#id_birth_date", born.isoformat())
    for field, value in (("household_no", people["hh_a"].household_no),
                         ("id_number", make_id(born, "M", 77)), ("mother", str(people["mother"].pk))):
        b.css(f"#id_{field}").clear()
        b.css(f"#id_{field}").send_keys(value)
    b.submit("form.entry button[type=submit]")
    b.shot("birth-saved")
    assert not b.all(".field-error"), _errors(b)
    child = Person.objects.get(name="欧阳小明")
    assert f"/persons/{child.pk}/" in b.driver.current_url
    assert child.mother_id == people["mother"].pk and child.birth_date == born


def test_move_out_shows_the_date_and_the_destination_errors(browser, people):
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    mother = people["mother"]
    b.open(f"/persons/{mother.pk}/move-out/")
    b.set_value("#id_move_date", "1980-01-01")
    b.css("#id_destination_code").send_keys("999999999999")
    b.submit("form.entry button[type=submit]")
    errors = _errors(b)
    b.shot("move-out-errors")
    assert set(errors) == {"move_date", "destination_code"}, errors
    assert "不能早于出生日期 1990-03-04" in errors["move_date"]
    assert "999999" in errors["destination_code"] and "GB/T 2260" in errors["destination_code"]
    mother.refresh_from_db()
    assert mother.status == "active"


def test_every_other_registration_form_shows_all_its_errors(browser, people, actors):
    """Move in, death, transfer, marriage, divorce, enlistment, discharge and correction:
    each submitted with its mistakes shows every one of them at once, and saves nothing."""
    from popreg.registry import actions
    from popreg.registry.models import Event

    from ..conftest import VILLAGE_A1, VILLAGE_A2

    admin = actors["admin"]
    mother, child = people["mother"], people["child"]
    recruit = actions.do_register_birth(admin, name="孙志强", sex="M", birth_date=date(2004, 5, 1),
                                        registered_unit_code=VILLAGE_A1, household=people["hh_a"])
    actions.do_register_enlistment(admin, recruit, enlistment_date=date(2024, 9, 1))
    # 18 today, but 16 on 1 September 2024 (not yet 17 by the end of that year)
    young = actions.do_register_birth(admin, name="孙志远", sex="M", birth_date=date(2008, 1, 1),
                                      registered_unit_code=VILLAGE_A1, household=people["hh_a"])
    future = (date.today() + timedelta(days=3)).isoformat()
    events_before = Event.objects.count()

    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    def submit(path: str, values: dict[str, str], typed: dict[str, str] | None = None) -> dict[str, str]:
        b.open(path)
        for field, value in values.items():
            b.set_value(f"#id_{field}", value)
        for field, value in (typed or {}).items():
            b.css(f"#id_{field}").clear()
            b.css(f"#id_{field}").send_keys(value)
        b.submit("form.entry button[type=submit]")
        b.shot(path.strip("/").replace("/", "-"))
        return _errors(b)

    b.open("/register/move-in/")
    b.click("input[name=sex][value=F]")
    shown = submit("/register/move-in/", {"birth_date": "1890-05-01", "move_date": future},
                   {"name": "钱多多", "from_unit_code": "999999999999"})
    # the sex radio was lost by reopening the page: its error is one more, not instead of the others
    assert {"birth_date", "from_unit_code", "move_date"} <= set(shown), shown
    assert "早于 1900 年" in shown["birth_date"] and "999999" in shown["from_unit_code"]

    shown = submit(f"/persons/{mother.pk}/death/", {"death_date": "1980-01-01"})
    assert set(shown) == {"death_date"} and "不能早于出生日期" in shown["death_date"]

    shown = submit(f"/persons/{mother.pk}/transfer/", {"move_date": future},
                   {"to_unit": VILLAGE_A2, "household_no": "999999999"})
    assert set(shown) == {"move_date", "household_no"}, shown

    shown = submit(f"/persons/{mother.pk}/marriage/", {"marriage_date": "2009-06-01"})
    assert set(shown) == {"marriage_date"} and "法定婚龄" in shown["marriage_date"]

    actions.do_register_marriage(admin, mother, marriage_date=date(2012, 1, 1))
    shown = submit(f"/persons/{mother.pk}/divorce/", {"divorce_date": "2011-01-01"})
    assert set(shown) == {"divorce_date"} and "早于结婚日期" in shown["divorce_date"]

    shown = submit(f"/persons/{young.pk}/enlistment/", {"enlistment_date": "2024-09-01"})
    assert set(shown) == {"enlistment_date"} and "兵役法" in shown["enlistment_date"]
    assert "16 周岁" in shown["enlistment_date"]

    shown = submit(f"/persons/{recruit.pk}/discharge/", {"discharge_date": "2023-01-01"},
                   {"household_no": "999999999"})
    assert set(shown) == {"discharge_date", "household_no"}, shown
    assert "早于入伍日期 2024-09-01" in shown["discharge_date"]

    shown = submit(f"/persons/{child.pk}/correct/", {"birth_date": future},
                   {"id_number": BAD_ID, "reason": "户口本笔误"})
    assert set(shown) == {"birth_date", "id_number"}, shown

    # the marriage registered above is the only new event: every form refused
    assert Event.objects.count() == events_before + 1
