"""Registry lists: the person list filters (name or pinyin, sex, age range, household,
status, residence type), sorts and pages, and its CSV holds exactly the listed rows in the
same order (popreg.registry.listing); a village's household list is searched and sorted."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from popreg.registry import actions

from ..conftest import TOWN_A, VILLAGE_A1, VILLAGE_A2

pytestmark = pytest.mark.django_db


def _names(page: str) -> list[str]:
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return re.findall(r'<td><a href="/persons/\d+/">([^<]+)</a></td>', body)


def _csv_names(response) -> list[str]:
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    return [r[1] for r in rows[2:]]


@pytest.fixture
def many(people, actors):
    admin = actors["admin"]
    today = timezone.localdate()
    out = {}
    for name, sex, age in (("张伟", "M", 30), ("张薇", "F", 25), ("李强", "M", 61), ("赵敏", "F", 17),
                           ("王芳", "F", 40)):
        born = date(today.year - age, 1, 1)  # ``age`` full years today
        out[name] = actions.do_register_birth(admin, name=name, sex=sex, birth_date=born,
                                              registered_unit_code=VILLAGE_A2)
    return out


@pytest.mark.parametrize(("params", "expected"), [
    ({"name": "张"}, ["张伟", "张薇", "張偉"]),  # simplified finds the record written in traditional
    ({"name": "zhang"}, ["张伟", "张薇", "張偉"]),
    ({"name": "張偉"}, ["張偉", "张伟"]),
    ({"sex": "F", "age_min": "18"}, ["王秀英", "张薇", "王芳"]),
    ({"age_min": "25", "age_max": "40"}, ["王秀英", "张伟", "张薇", "王芳"]),
    ({"age_max": "17"}, ["張偉", "赵敏"]),
    ({"sex": "M", "age_min": "60"}, ["李强"]),
])
def test_person_list_filters(login, many, people, params, expected):
    c = login("officer_a")
    page = c.get(f"/units/{TOWN_A}/persons/", {**params, "sort": "birth_date"}).content.decode()
    got = _names(page)
    assert sorted(got) == sorted(expected), got
    # The CSV of the same filters lists the same persons in the same order.
    export = c.get(f"/units/{TOWN_A}/persons.csv", {**params, "sort": "birth_date"})
    assert _csv_names(export) == got


def test_household_filter_and_sorts(login, many, people):
    c = login("officer_a")
    hh = people["hh_a"]
    page = c.get(f"/units/{TOWN_A}/persons/", {"household": hh.household_no}).content.decode()
    assert sorted(_names(page)) == ["張偉", "王秀英"]
    oldest = _names(c.get(f"/units/{TOWN_A}/persons/", {"sort": "birth_date"}).content.decode())
    youngest = _names(c.get(f"/units/{TOWN_A}/persons/", {"sort": "-birth_date"}).content.decode())
    assert oldest[0] == "李强" and youngest[0] == "張偉" and oldest == list(reversed(youngest))
    by_name = _names(c.get(f"/units/{TOWN_A}/persons/", {"sort": "name"}).content.decode())
    assert by_name.index("李强") < by_name.index("王芳") < by_name.index("张伟")  # li < wang < zhang


def test_page_size_jump_and_filters_kept_in_links(login, people, actors):
    for i in range(25):
        actions.do_register_birth(actors["admin"], name=f"测试{i:02d}", sex="M", birth_date=date(2001, 1, 1),
                                  registered_unit_code=VILLAGE_A2)
    c = login("officer_a")
    page = c.get(f"/units/{TOWN_A}/persons/", {"name": "测试", "size": "20", "sort": "name"}).content.decode()
    assert len(_names(page)) == 20 and "第 1 页，共 2 页" in page
    # The pager links and the jump form keep the filters; the CSV link keeps them but not the size.
    pager = page[page.index('<nav class="pager"'):]
    next_link = re.search(r'href="\?([^"]*page=2)"', pager).group(1).replace("&amp;", "&")
    assert parse_qs(next_link) == {"status": ["active"], "where": ["registered"], "name": ["测试"],
                                   "sort": ["name"], "size": ["20"], "page": ["2"]}
    jump = page[page.index('<form method="get" class="jump">'):]
    jump = jump[:jump.index("</form>")]
    assert '<input type="hidden" name="name" value="测试">' in jump and 'name="page"' in jump
    assert 'id="export-csv"' in page and re.search(r'persons\.csv\?[^"]*name=%E6%B5%8B%E8%AF%95', page)
    assert "size=20" not in re.search(r'href="([^"]*persons\.csv[^"]*)"', page).group(1)
    second = c.get(f"/units/{TOWN_A}/persons/", {"name": "测试", "size": "20", "sort": "name", "page": "2"})
    assert len(_names(second.content.decode())) == 5
    # An unknown size or sort falls back to the defaults instead of failing.
    odd = c.get(f"/units/{TOWN_A}/persons/", {"size": "7", "sort": "drop table", "age_min": "x"})
    assert odd.status_code == 200 and len(_names(odd.content.decode())) == 27  # 50 a page, active only


def test_village_household_list_is_searched_and_sorted(login, people, actors):
    admin = actors["admin"]
    big = actions.do_create_household(admin, unit_code=VILLAGE_A1, address="东关村9号")
    for i in range(3):
        actions.do_register_birth(admin, name=f"钱{i}", sex="M", birth_date=date(1990 + i, 1, 1),
                                  registered_unit_code=VILLAGE_A1, household=big)
    c = login("clerk_a1")
    page = c.get(f"/units/{VILLAGE_A1}/", {"sort": "-members"}).content.decode()
    numbers = re.findall(r'<td><a href="/households/(\d+)/">', page)
    assert numbers[:2] == [big.household_no, people["hh_a"].household_no]
    assert "共 2 户" in page
    found = c.get(f"/units/{VILLAGE_A1}/", {"q": "9号"}).content.decode()
    assert re.findall(r'<td><a href="/households/(\d+)/">', found) == [big.household_no]
    by_head = c.get(f"/units/{VILLAGE_A1}/", {"q": "不存在"}).content.decode()
    assert "共 0 户" in by_head


def test_column_headings_sort_and_keep_the_filters(login, many, people):
    c = login("officer_a")
    page = c.get(f"/units/{TOWN_A}/persons/", {"sex": "F", "sort": "name"}).content.decode()
    head = page[page.index("<thead>"):page.index("</thead>")].replace("&amp;", "&")
    name_link = re.search(r'<th aria-sort="ascending"><a class="sort" href="\?([^"]+)">姓名 ▲</a>', head)
    assert name_link, head
    assert parse_qs(name_link.group(1)) == {"status": ["active"], "where": ["registered"], "sex": ["F"],
                                            "size": ["50"], "sort": ["-name"]}  # a second click reverses
    birth = re.search(r'<a class="sort" href="\?([^"]+)">出生日期</a>', head).group(1)
    assert parse_qs(birth)["sort"] == ["birth_date"] and parse_qs(birth)["sex"] == ["F"]
    reversed_page = c.get(f"/units/{TOWN_A}/persons/?{name_link.group(1)}").content.decode()
    assert _names(reversed_page) == list(reversed(_names(page)))
    # Lists that are not sortable (search results, a household's members) keep plain headings.
    household = c.get(f"/households/{people['hh_a'].household_no}/").content.decode()
    assert 'class="sort"' not in household
