"""Registration forms in headless Chromium: a birth submitted with several mistakes (a
future date, a bad ID number, an unknown mother and household — the issue's case) shows
every error at once next to its field and saves nothing; corrected, it is saved.  A move
out to the issue's destination 999999999999 shows that error with the date's."""

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
