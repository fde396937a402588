"""A village clerk in a real browser: log in, search by pinyin, open the person, register a
death with an impossible date (refused, explained next to the field), then a real one."""

from __future__ import annotations

import pytest

from popreg.registry.models import Person

from ..conftest import PASSWORD
from ..e2e.conftest import browser  # noqa: F401  (the headless Chromium fixture)

pytestmark = pytest.mark.browser


def test_clerk_registers_a_death_in_the_browser(browser, people):  # noqa: F811
    b = browser
    b.open("/login/")
    assert "登录" in b.text()
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary")
    assert "村(居)户籍员" in b.text() and "东关村民委员会" in b.text()

    b.css(".big-search input[name=q]").send_keys("wangxiuying")
    b.submit(".big-search button")
    mother = people["mother"]
    assert "王秀英" in b.text() and mother.id_number not in b.text()
    b.submit(f'a[href="/persons/{mother.pk}/"]')
    assert mother.id_number in b.text() and "历史记录" in b.text()
    b.shot("person")

    b.submit(f'a[href="/persons/{mother.pk}/death/"]')
    # The date input is the browser's date picker (type=date, no impossible day can be
    # picked): a date before the birth is refused next to the field.
    assert b.css("#id_death_date").get_attribute("type") == "date"
    b.set_value("#id_death_date", "1980-01-01")
    b.submit("form.entry button.primary")
    assert "不能早于出生日期" in b.css("#id_death_date_error").text
    b.shot("error")
    assert Person.objects.get(pk=mother.pk).status == "active"

    b.set_value("#id_death_date", "2025-01-02")
    b.submit("form.entry button.primary")
    assert "死亡" in b.css("h1").text and "2025-01-02" in b.text()
    assert Person.objects.get(pk=mother.pk).status == "deceased"
