"""The two shared inputs (popreg.registry.widgets): one date input everywhere, and a
type-ahead unit picker instead of a drop-down of every village; tables that reflow."""

from __future__ import annotations

import re

import pytest

from popreg.registry.models import Person
from popreg.registry.widgets import resolve_unit

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1

pytestmark = pytest.mark.django_db


def _inputs(page: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*name="{name}"[^>]*>', page)


def test_transfer_destination_is_a_type_ahead_input_with_every_village(login, people):
    page = login("clerk_a1").get(f"/persons/{people['mother'].pk}/transfer/").content.decode()
    assert '<select name="to_unit"' not in page
    (field,) = _inputs(page, "to_unit")
    assert 'type="text"' in field and 'list="id_to_unit_units"' in field and "unit-picker" in field
    datalist = page[page.index('<datalist id="id_to_unit_units">'):]
    datalist = datalist[:datalist.index("</datalist>")]
    # Every village of the county, labelled township / village (code); no empty choice.
    for code in (VILLAGE_A1, VILLAGE_A2, VILLAGE_B1):
        assert f'<option value="{code}">' in datalist
    assert "北山乡 / 柳树村民委员会 (110105002001)" in datalist and 'value=""' not in datalist


@pytest.mark.parametrize("typed", [VILLAGE_A2, "西关社区居民委员会", "城关镇 / 西关社区居民委员会 (110105001002)"])
def test_a_unit_is_read_from_its_code_name_or_label(login, people, typed):
    c = login("officer_a")
    p = people["mother"]
    r = c.post(f"/persons/{p.pk}/transfer/", {"to_unit": typed, "move_date": "2025-03-01", "household_no": ""})
    assert r.status_code == 302
    assert Person.objects.get(pk=p.pk).registered_unit_id == VILLAGE_A2


def test_an_unknown_unit_is_named_with_how_to_fix_it(login, people):
    c = login("officer_a")
    p = people["mother"]
    r = c.post(f"/persons/{p.pk}/transfer/", {"to_unit": "火星村", "move_date": "2025-03-01", "household_no": ""})
    assert r.status_code == 400
    page = r.content.decode()
    assert "列表中没有单位“火星村”" in page and "从提示中选择" in page
    assert 'value="火星村"' in page  # what was typed stays in the box
    assert Person.objects.get(pk=p.pk).registered_unit_id == VILLAGE_A1


def test_resolve_unit_prefers_nothing_when_a_name_is_ambiguous():
    one, two, three = "110105001001", "110105002001", "110105002002"
    pairs = [(one, f"甲镇 / 新村 ({one})"), (two, f"乙镇 / 新村 ({two})"), (three, f"乙镇 / 旧村 ({three})")]
    assert resolve_unit("新村", pairs) == "新村"  # two villages of that name: the field refuses
    assert resolve_unit("旧村", pairs) == three
    assert resolve_unit("乙镇 / 新村", pairs) == two
    assert resolve_unit(f"新村 ({two})", pairs) == two
    assert resolve_unit(" 110105001001 ", pairs.copy()) == one


def test_birth_form_preselects_a_clerks_only_village_in_the_picker(login, county, users):
    page = login("clerk_a1").get("/register/birth/").content.decode()
    (field,) = _inputs(page, "registered_unit")
    assert f'value="{VILLAGE_A1}"' in field


@pytest.mark.parametrize(("user", "url"), [
    ("clerk_a1", "/register/birth/"),
    ("clerk_a1", "/register/move-in/"),
    ("clerk_a1", "/persons/{mother}/death/"),
    ("clerk_a1", "/persons/{mother}/transfer/"),
    ("clerk_a1", "/persons/{mother}/correct/"),
    ("clerk_a1", "/households/{hh}/split/"),
    ("clerk_a1", "/households/{hh}/dissolve/"),
    ("auditor", "/audit/"),
    ("clerk_a1", "/migrants/in/new/"),
])
def test_the_same_date_input_everywhere(login, people, user, url):
    page = login(user).get(url.format(mother=people["mother"].pk, hh=people["hh_a"].household_no))
    assert page.status_code == 200, url
    text = page.content.decode()
    dates = [i for i in re.findall(r"<input[^>]*>", text) if 'class="date-input"' in i]
    assert dates, url
    for field in dates:
        assert 'type="date"' in field and 'placeholder="YYYY-MM-DD"' in field, field
        described = re.search(r'aria-describedby="([^"]+)"', field).group(1).split()[-1]
        assert f'<small class="format-hint" id="{described}">日期格式：年-月-日，例如 2024-03-15</small>' in text
    # No date typed into a plain text box any more.
    assert not [i for i in re.findall(r"<input[^>]*>", text)
                if re.search(r'name="\w*date"', i) and 'type="date"' not in i and 'type="hidden"' not in i], url


def test_a_date_typed_in_another_form_is_still_read(login, people):
    """A browser without a date picker shows a text box: 2025/01/02 and 20250102 still work."""
    c = login("clerk_a1")
    p = people["mother"]
    assert c.post(f"/persons/{p.pk}/death/", {"death_date": "2025/01/02"}).status_code == 302


def test_list_tables_are_labelled_for_the_tablet_layout(login, people, client):
    page = login("officer_a").get("/units/110105001000/persons/").content.decode()
    assert '<script src="/static/popreg/reflow.js" defer></script>' in page
    script = client.get("/static/popreg/reflow.js")
    body = b"".join(script.streaming_content).decode() if script.streaming else script.content.decode()
    assert "data-label" in body and 'classList.add("reflow")' in body
    css = client.get("/static/popreg/popreg.css")
    css_text = b"".join(css.streaming_content).decode() if css.streaming else css.content.decode()
    block = css_text[css_text.index("@media (max-width: 960px)"):]
    assert "table.reflow td::before { content: attr(data-label)" in block


@pytest.mark.parametrize("url", ["/linkage/", "/linkage/runs/"])
def test_units_chosen_in_templates_use_the_same_picker(login, people, url):
    page = login("admin").get(url).content.decode()
    assert '<select name="unit"' not in page
    (field,) = _inputs(page, "unit")
    assert "unit-picker" in field and 'list="unit_units"' in field
    assert f'<option value="{VILLAGE_A1}">东关村民委员会 ({VILLAGE_A1})</option>' in page
    assert '<script src="/static/popreg/unit-picker.js" defer></script>' in page
