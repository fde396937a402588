"""Navigation and lists in headless Chromium: a transfer lands on the person's new page with
a success message (and, out of the clerk's jurisdiction, on the household left); the person
list filters, sorts, pages and jumps with the filters kept in the URL and in its CSV link,
and its table reflows into labelled cards on a tablet."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest

from popreg.registry import actions
from popreg.registry.models import Person

from ..conftest import PASSWORD, TOWN_A, VILLAGE_A2, VILLAGE_B1

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(b, username: str) -> None:
    b.open("/login/")
    b.css("#id_username").send_keys(username)
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)


def test_transfer_lands_on_the_persons_new_page_with_a_success_message(browser, people):
    b = browser
    mother = people["mother"]
    _login(b, "officer_a")
    b.open(f"/persons/{mother.pk}/")
    b.submit(f'a[href="/persons/{mother.pk}/transfer/"]')
    picker = b.css("#id_to_unit")
    assert picker.get_attribute("list") == "id_to_unit_units" and picker.tag_name == "input"
    assert len(b.all("#id_to_unit_units option")) == 3  # every village of the county, by type-ahead
    picker.send_keys("西关社区居民委员会")  # a name typed, as a clerk would
    b.set_value("#id_move_date", "2025-03-01")
    b.shot("transfer-form")
    b.submit("form.entry button[type=submit]")
    assert urlparse(b.driver.current_url).path == f"/persons/{mother.pk}/"
    assert b.css(".messages").text == "王秀英 已迁往 西关社区居民委员会。"
    assert "西关社区居民委员会" in b.css("dl.facts").text and "未找到" not in b.text()
    b.shot("landed")
    assert Person.objects.get(pk=mother.pk).registered_unit_id == VILLAGE_A2


def test_transfer_out_of_the_clerks_village_lands_on_the_household_left(browser, people):
    b = browser
    child = people["child"]
    _login(b, "clerk_a1")
    b.open(f"/persons/{child.pk}/transfer/")
    b.css("#id_to_unit").send_keys(VILLAGE_B1)
    b.set_value("#id_move_date", "2025-03-01")
    b.submit("form.entry button[type=submit]")
    assert urlparse(b.driver.current_url).path == f"/households/{people['hh_a'].household_no}/"
    message = b.css(".messages").text
    assert "張偉 已迁往 柳树村民委员会。" in message and "不在您的辖区内" in message
    assert "未找到" not in b.text()
    b.shot("household")


def test_person_list_filters_sort_pages_and_reflows(browser, people, actors):
    admin = actors["admin"]
    for i in range(30):
        actions.do_register_birth(admin, name=f"测试{i:02d}", sex="M" if i % 2 else "F",
                                  birth_date=date(1960 + i, 1, 15), registered_unit_code=VILLAGE_A2)
    b = browser
    _login(b, "officer_a")
    b.open(f"/units/{TOWN_A}/persons/")
    b.css("input[name=name]").send_keys("测试")
    from selenium.webdriver.support.ui import Select

    Select(b.css("select[name=sex]")).select_by_value("F")
    b.css("input[name=age_min]").send_keys("20")
    b.css("input[name=age_max]").send_keys("60")
    Select(b.css("select[name=sort]")).select_by_value("-birth_date")
    Select(b.css("select[name=size]")).select_by_value("20")
    b.submit("#apply-filters")
    query = parse_qs(urlparse(b.driver.current_url).query)
    assert query["name"] == ["测试"] and query["sex"] == ["F"] and query["age_min"] == ["20"]
    assert query["age_max"] == ["60"] and query["sort"] == ["-birth_date"] and query["size"] == ["20"]
    today = date.today()
    expected = [p for p in Person.objects.filter(name__startswith="测试", sex="F")
                if 20 <= today.year - p.birth_date.year - ((today.month, today.day) < (1, 15)) <= 60]
    expected.sort(key=lambda p: p.birth_date, reverse=True)
    names = [a.text for a in b.all("table.list tbody td:first-child a")]
    assert names == [p.name for p in expected][:20] and names  # youngest first
    # The filters are kept in the form, in the pager and in the CSV link.
    assert b.css("input[name=name]").get_attribute("value") == "测试"
    export = parse_qs(urlparse(b.css("#export-csv").get_attribute("href")).query)
    assert export["name"] == ["测试"] and export["sort"] == ["-birth_date"] and "size" not in export
    b.shot("filtered")

    # A tablet: the rows become cards labelled with the column headings.
    b.driver.set_window_size(800, 1000)
    b.open(f"/units/{TOWN_A}/persons/?status=all&size=20")
    cell = b.css("table.list tbody tr td:first-child")
    assert cell.get_attribute("data-label") == "姓名"
    label = b.driver.execute_script(
        "return getComputedStyle(arguments[0], '::before').content;", cell)
    assert label == '"姓名"'
    assert b.driver.execute_script("return getComputedStyle(arguments[0]).display;", cell) == "grid"
    b.shot("tablet")

    # Jump to the last page; the filters stay.
    b.driver.set_window_size(1280, 1000)
    b.open(f"/units/{TOWN_A}/persons/?status=all&size=20&sort=name")
    assert "第 1 页，共 2 页" in b.text()
    jump = b.css("form.jump input[name=page]")
    jump.clear()
    jump.send_keys("2")
    b.submit("form.jump button[type=submit]")
    query = parse_qs(urlparse(b.driver.current_url).query)
    assert query["page"] == ["2"] and query["sort"] == ["name"] and query["size"] == ["20"]
    assert "第 2 页，共 2 页" in b.text()


def test_a_unit_typed_by_name_in_a_template_form_becomes_its_code(browser, people):
    from ..conftest import VILLAGE_A1

    b = browser
    _login(b, "admin")
    b.open("/linkage/")
    unit = b.css("input[name=unit]")
    assert unit.get_attribute("list") == "unit_units"
    unit.send_keys("东关村民委员会")
    b.css("select[name=status]").click()  # leaving the input resolves the name (unit-picker.js)
    assert unit.get_attribute("value") == VILLAGE_A1
    b.submit("form.filters button[type=submit]")
    assert parse_qs(urlparse(b.driver.current_url).query)["unit"] == [VILLAGE_A1]
