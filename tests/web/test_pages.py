"""Pages as a user sees them: login, home, search, units, persons, households, export."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.utils import timezone

from popreg.core.privacy import mask_id
from popreg.registry import actions
from popreg.registry.models import AuditRecord

from ..conftest import COUNTY, PASSWORD, TOWN_A, VILLAGE_A1, VILLAGE_A2, VILLAGE_B1


def text(response) -> str:
    return response.content.decode()


def test_anonymous_user_is_sent_to_login(client, county):
    r = client.get("/")
    assert r.status_code == 302 and r.url.startswith("/login/")
    r = client.get("/login/")
    assert r.status_code == 200
    assert "登录" in text(r) and "用户名" in text(r)


def test_login_then_home_shows_role_and_jurisdiction(client, users):
    r = client.post("/login/", {"username": "clerk_a1", "password": PASSWORD}, follow=True)
    page = text(r)
    assert r.status_code == 200
    assert "村(居)户籍员" in page and "东关村民委员会" in page
    assert "出生登记" in page  # a write role sees the register links


def test_wrong_password_is_explained_in_chinese(client, users):
    r = client.post("/login/", {"username": "clerk_a1", "password": "wrong"})
    assert r.status_code == 200
    assert "请输入一个正确的" in text(r)  # Django's own zh-hans message


def test_logout_is_a_post(login):
    c = login("clerk_a1")
    r = c.post("/logout/")
    assert r.status_code == 302
    assert c.get("/").status_code == 302


def test_english_is_available(login):
    c = login("clerk_a1")
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    page = text(r)
    assert "Population registry" in page and "Register a birth" in page
    assert "Village clerk" in page  # model choice labels are translated too


@pytest.mark.parametrize("query", ["张伟", "張偉", "zhangwei", "ZHANG WEI", "0052", "000000001"])
def test_search_finds_by_name_pinyin_partial_id_and_household(login, people, query):
    child = people["child"]
    assert child.id_number.endswith("0052")
    r = login("clerk_a1").get("/search/", {"q": query})
    page = text(r)
    assert f"/persons/{child.pk}/" in page
    # Lists show masked ID numbers only.
    assert child.id_number not in page
    if child.household.household_no != query:
        assert mask_id(child.id_number) in page


def test_search_full_id_number(login, people):
    child = people["child"]
    page = text(login("clerk_a1").get("/search/", {"q": child.id_number}))
    assert f"/persons/{child.pk}/" in page and f"/persons/{people['mother'].pk}/" not in page


def test_person_page_shows_history_and_audits_the_id_read(login, people, actors):
    mother = people["mother"]
    actions.do_correct_person(actors["clerk_a1"], mother, changes={"name": "王秀瑛"}, reason="户口本笔误")
    before = AuditRecord.objects.filter(action="view_id_number").count()
    page = text(login("clerk_a1").get(f"/persons/{mother.pk}/"))
    assert mother.id_number in page
    assert AuditRecord.objects.filter(action="view_id_number").count() == before + 1
    rec = AuditRecord.objects.filter(action="view_id_number").first()
    assert rec.actor_name == "clerk_a1" and rec.target_id == str(mother.pk)
    # Timeline: event dates, recorded dates, who, and the change before → after.
    assert "1990-03-04" in page and "出生" in page and "更正" in page
    assert "王秀英" in page and "王秀瑛" in page and "户口本笔误" in page
    assert "clerk_a1" in page and "admin" in page
    assert f"登记于 {timezone.localdate():%Y-%m-%d}" in page  # recorded date
    # Family: the child links back.
    assert f"/persons/{people['child'].pk}/" in page


def test_unit_drill_down(login, people):
    c = login("admin")
    county_page = text(c.get(f"/units/{COUNTY}/"))
    assert f"/units/{TOWN_A}/" in county_page and "城关镇" in county_page
    town_page = text(c.get(f"/units/{TOWN_A}/"))
    assert f"/units/{VILLAGE_A1}/" in town_page and f"/units/{VILLAGE_A2}/" in town_page
    assert f"/units/{VILLAGE_B1}/" not in town_page
    village_page = text(c.get(f"/units/{VILLAGE_A1}/"))
    assert people["hh_a"].household_no in village_page
    assert f"/units/{TOWN_A}/" in village_page  # breadcrumb back up


def test_township_counts_active_persons_per_village(login, people):
    page = text(login("admin").get(f"/units/{TOWN_A}/"))
    row = page[page.index(f"/units/{VILLAGE_A1}/"):]
    row = row[: row.index("</tr>")]
    assert '<td class="num" data-population="registered">2</td>' in row  # the registered population


def test_person_list_filters_and_pages(login, people, actors):
    for i in range(55):
        actions.do_register_birth(actors["admin"], name=f"测试{i}", sex="M", birth_date=date(2001, 1, 1),
                                  registered_unit_code=VILLAGE_A2)
    actions.do_register_death(actors["admin"], people["mother"], death_date=date(2024, 1, 1))
    c = login("officer_a")
    first = text(c.get(f"/units/{TOWN_A}/persons/"))
    assert "共 56 人" in first and "第 1 页，共 2 页" in first
    assert "王秀英" not in first  # deceased: not in the default (active) list
    dead = text(c.get(f"/units/{TOWN_A}/persons/", {"status": "deceased"}))
    assert "王秀英" in dead and "共 1 人" in dead
    second = text(c.get(f"/units/{TOWN_A}/persons/", {"page": 2}))
    assert second.count("/persons/") - second.count("/persons/\"") >= 6
    floating = text(c.get(f"/units/{TOWN_A}/persons/", {"residence_type": "floating_in", "status": "all"}))
    assert "共 0 人" in floating


def test_household_page_lists_members(login, people):
    page = text(login("clerk_a1").get(f"/households/{people['hh_a'].household_no}/"))
    assert "王秀英" in page and "張偉" in page and "东关村1号" in page
    assert people["mother"].id_number not in page


def test_export_is_scoped_signed_excel_friendly_and_audited(login, people):
    before = AuditRecord.objects.filter(action="export_persons").count()
    r = login("officer_a").get(f"/units/{TOWN_A}/persons.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    body = b"".join(r.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens it as UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert "officer_a" in rows[0][0] and "导出时间" in rows[0][1]
    names = {row[1] for row in rows[2:]}
    assert names == {"王秀英", "張偉"}
    # ID numbers are masked unless asked for in full; no cell is a formula.
    assert mask_id(people["mother"].id_number) in {row[4] for row in rows[2:]}
    assert people["mother"].id_number not in body.decode("utf-8-sig")
    assert people["hh_a"].household_no in {row[6] for row in rows[2:]}
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert r["Cache-Control"] == "no-store" and r["Content-Disposition"].startswith("attachment;")
    recs = AuditRecord.objects.filter(action="export_persons")
    assert recs.count() == before + 1
    assert recs.first().actor_name == "officer_a" and recs.first().unit_code == TOWN_A
    assert recs.first().detail["rows"] == 2


def test_admin_is_for_superusers_only(client, users):
    from django.contrib.auth import get_user_model

    staff = users["admin"]
    staff.is_staff = True
    staff.save()
    client.login(username="admin", password=PASSWORD)
    r = client.get("/admin/")
    assert r.status_code == 302 and "/admin/login/" in r.url
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.login(username="root", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_nav_renders_with_or_without_other_areas(login, people):
    page = text(login("clerk_a1").get("/"))
    assert 'href="/"' in page and "/search/" in page


def test_stylesheet_is_served_without_debug(client, settings):
    settings.DEBUG = False
    r = client.get("/static/popreg/popreg.css")
    assert r.status_code == 200
    css = b"".join(r.streaming_content).decode()
    assert "Noto Sans CJK SC" in css and "@media print" in css
    assert client.get("/static/popreg/missing.css").status_code == 404


def test_templates_load_nothing_from_other_hosts():
    from pathlib import Path

    import popreg.registry
    import popreg.web

    roots = [Path(popreg.web.__file__).parent / "templates",
             Path(popreg.registry.__file__).parent / "templates"]
    for path in (p for root in roots for p in root.rglob("*.html")):
        text = path.read_text()
        assert "//" not in text.replace("http://127.0.0.1", ""), path


def test_export_does_not_let_excel_run_a_name_as_a_formula(login, people, actors):
    actions.do_register_birth(actors["admin"], name="=HYPERLINK(1)", sex="M", birth_date=date(2001, 1, 1),
                              registered_unit_code=VILLAGE_A1)
    r = login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons.csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert "'=HYPERLINK(1)" in {row[1] for row in rows[2:]}
