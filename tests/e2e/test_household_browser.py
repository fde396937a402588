"""The change of a household's head in headless Chromium: the dead head is flagged on the
household page, an empty submission shows every error at once, and a correct one lands on
the household page with a success message and a new line in its history."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.registry import actions
from popreg.registry.models import Household

from ..conftest import PASSWORD, VILLAGE_A1

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_household_head_change(browser, people, actors):
    admin = actors["admin"]
    hh = people["hh_a"]
    father = actions.do_register_birth(admin, name="赵建国", sex="M", birth_date=date(1960, 7, 1),
                                       registered_unit_code=VILLAGE_A1, household=hh)
    actions.do_change_household_head(admin, hh, head=father, reason="立户")
    actions.do_register_death(admin, father, death_date=date(2025, 3, 1))

    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    b.open(f"/households/{hh.household_no}/")
    assert "户主已死亡，请变更户主" in b.css(".household-flag").text
    b.shot("flagged")
    b.submit("#household-change-head")
    b.submit("form.entry button[type=submit]")  # nothing chosen: both errors at once
    errors = [e.text for e in b.all(".field-error")]
    assert any("请选择新户主" in e for e in errors) and any("请填写变更原因" in e for e in errors)
    b.shot("errors")

    from selenium.webdriver.support.ui import Select

    Select(b.css("#id_head")).select_by_visible_text("王秀英（1990-03-04）")
    b.css("#id_reason").send_keys("原户主死亡")
    b.submit("form.entry button[type=submit]")
    assert b.driver.current_url.endswith(f"/households/{hh.household_no}/")
    assert f"户 {hh.household_no} 现在的户主是 王秀英。" in b.css(".messages").text
    assert not b.all(".household-flag")
    history = b.css("#household-history").text
    assert "赵建国 → 王秀英（原户主死亡）" in history and "clerk_a1" in history
    b.shot("changed")
    assert Household.objects.get(pk=hh.pk).head_id == people["mother"].pk
