"""Registry forms: each calls its action; bad input shows the field error and changes nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from popreg.registry import actions
from popreg.registry.models import AuditRecord, Event, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, make_id


def field_error(page: str, field: str) -> str:
    """Text of the error shown next to a form field ('' when none)."""
    m = re.search(rf'id="id_{field}_error">(.*?)</div>', page, re.S)
    return m.group(1).strip() if m else ""


def birth_data(**over):
    data = {"name": "赵小明", "sex": "M", "birth_date": "2024-06-01", "registered_unit": VILLAGE_A1,
            "household_no": "", "id_number": "", "ethnicity": "汉族", "mother": "", "father": ""}
    data.update(over)
    return data


def test_birth_form_registers_and_redirects_to_the_person(login, people):
    data = birth_data(household_no=people["hh_a"].household_no, mother=str(people["mother"].pk),
                      id_number=make_id(date(2024, 6, 1), "M", 40))
    r = login("clerk_a1").post("/register/birth/", data)
    assert r.status_code == 302
    person = Person.objects.get(name="赵小明")
    assert r.url == f"/persons/{person.pk}/"
    assert person.mother_id == people["mother"].pk and person.household == people["hh_a"]
    assert Event.objects.get(person=person).event_type == "birth"
    assert AuditRecord.objects.filter(action="register_birth", actor_name="clerk_a1").exists()


def test_birth_form_accepts_the_mother_by_id_number(login, people):
    data = birth_data(mother=people["mother"].id_number)
    assert login("clerk_a1").post("/register/birth/", data).status_code == 302
    assert Person.objects.get(name="赵小明").mother_id == people["mother"].pk


def test_birth_form_prefills_from_the_household_page(login, people):
    hh = people["hh_a"]
    page = login("clerk_a1").get(f"/households/{hh.household_no}/").content.decode()
    link = re.search(r'href="(/register/birth/\?[^"]+)"', page).group(1).replace("&amp;", "&")
    form = login("clerk_a1").get(link).content.decode()
    assert f'value="{hh.household_no}"' in form
    assert re.search(rf'<input[^>]*name="registered_unit"[^>]*value="{VILLAGE_A1}"', form)  # the unit picker


@pytest.mark.parametrize(
    "over, field, message",
    [
        ({"id_number": "110105202406010011"}, "id_number", "公民身份号码有误"),
        ({"id_number": "11010520240601"}, "id_number", "公民身份号码有误"),
        ({"birth_date": "2023-02-30"}, "birth_date", "日期无效"),
        ({"birth_date": "2023-13-01"}, "birth_date", "日期无效"),
        ({"birth_date": "昨天"}, "birth_date", "日期无效"),
        ({"birth_date": (date.today() + timedelta(days=2)).isoformat()}, "birth_date", "不能晚于今天"),
        ({"birth_date": ""}, "birth_date", "请填写日期"),
        ({"name": ""}, "name", "这个字段是必填项"),
        ({"sex": "X"}, "sex", "选择一个有效的选项"),
        ({"household_no": "999999999"}, "household_no", "不存在或不在您的辖区内"),
        ({"mother": "424242"}, "mother", "未找到"),
    ],
)
def test_bad_birth_input_names_the_field_and_changes_nothing(login, people, counts, over, field, message):
    before = counts()
    r = login("clerk_a1").post("/register/birth/", birth_data(**over))
    page = r.content.decode()
    assert r.status_code == 400
    assert message in field_error(page, field), page
    assert counts() == before


def test_errors_follow_the_language(login, people, counts):
    c = login("clerk_a1")
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    before = counts()
    r = c.post("/register/birth/", birth_data(birth_date="2023-02-30"))
    assert "Enter a real date as YYYY-MM-DD" in field_error(r.content.decode(), "birth_date")
    future = (date.today() + timedelta(days=5)).isoformat()
    r = c.post("/register/birth/", birth_data(birth_date=future))
    assert "cannot be in the future" in field_error(r.content.decode(), "birth_date")
    assert counts() == before


def test_death_form(login, people, counts):
    p = people["mother"]
    c = login("clerk_a1")
    before = counts()
    bad = c.post(f"/persons/{p.pk}/death/", {"death_date": "1980-01-01"})  # before birth
    assert bad.status_code == 400 and "不能早于出生日期" in field_error(bad.content.decode(), "death_date")
    assert counts() == before
    r = c.post(f"/persons/{p.pk}/death/", {"death_date": "2025-01-02", "cause": "病故"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == "deceased" and p.death_date == date(2025, 1, 2)
    again = c.post(f"/persons/{p.pk}/death/", {"death_date": "2025-01-02"})
    assert again.status_code == 400 and "不能登记死亡" in again.content.decode()


def test_move_out_form(login, people, counts):
    p = people["mother"]
    c = login("clerk_a1")
    before = counts()
    r = c.post(f"/persons/{p.pk}/move-out/", {"move_date": "2025-01-01", "destination_code": "1101"})
    assert r.status_code == 400 and "6位或12位" in field_error(r.content.decode(), "destination_code")
    r = c.post(f"/persons/{p.pk}/move-out/", {"move_date": "2025-01-01", "destination_code": "110105"})
    assert r.status_code == 400 and "县内迁移" in field_error(r.content.decode(), "destination_code")
    assert counts() == before
    r = c.post(f"/persons/{p.pk}/move-out/", {"move_date": "2025-01-01", "destination_code": "440106",
                                              "destination_name": "广州市天河区"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == "emigrated"


def test_transfer_form(login, people):
    p = people["mother"]
    r = login("clerk_a1").post(f"/persons/{p.pk}/transfer/", {"to_unit": VILLAGE_A2, "move_date": "2025-03-01",
                                                             "household_no": ""})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.registered_unit_id == VILLAGE_A2
    assert Event.objects.filter(person=p, event_type="transfer", from_unit=VILLAGE_A1).exists()


def test_move_in_form(login, people, counts):
    c = login("clerk_a1")
    data = {"name": "陈静", "sex": "F", "birth_date": "1995-07-08", "id_number": "",
            "ethnicity": "汉族", "registered_unit": VILLAGE_A1, "household_no": "",
            "from_unit_code": "4401", "move_date": "2025-02-02"}
    before = counts()
    r = c.post("/register/move-in/", data)
    assert r.status_code == 400 and field_error(r.content.decode(), "from_unit_code")
    assert counts() == before
    data["from_unit_code"] = "440106"
    r = c.post("/register/move-in/", data)
    assert r.status_code == 302
    assert Event.objects.get(person__name="陈静").event_type == "move_in"


def test_marriage_and_correction_forms(login, people, counts):
    p = people["mother"]
    c = login("clerk_a1")
    assert c.post(f"/persons/{p.pk}/marriage/", {"marriage_date": "2015-05-05"}).status_code == 302
    before = counts()
    r = c.post(f"/persons/{p.pk}/correct/", {"name": "王秀瑛", "reason": ""})
    assert r.status_code == 400 and field_error(r.content.decode(), "reason")
    r = c.post(f"/persons/{p.pk}/correct/", {"id_number": "110105199003040011", "reason": "核对"})
    assert r.status_code == 400 and "公民身份号码有误" in field_error(r.content.decode(), "id_number")
    assert counts() == before
    r = c.post(f"/persons/{p.pk}/correct/", {"name": "王秀瑛", "reason": "户口本笔误"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.name == "王秀瑛" and p.marital_status == "married"


@pytest.mark.parametrize("role", ["statistician", "auditor"])
def test_read_only_roles_see_no_write_buttons_and_get_403(login, people, counts, role):
    c = login(role)
    p = people["mother"]
    for url in ("/", f"/persons/{p.pk}/", f"/units/{VILLAGE_A1}/", f"/households/{people['hh_a'].household_no}/"):
        page = c.get(url).content.decode()
        assert "/register/" not in page and "/death/" not in page and "/correct/" not in page, url
    before = counts()
    forms = {
        "/register/birth/": birth_data(),
        "/register/move-in/": {"name": "x"},
        f"/persons/{p.pk}/death/": {"death_date": "2025-01-01"},
        f"/persons/{p.pk}/move-out/": {"move_date": "2025-01-01", "destination_code": "440106"},
        f"/persons/{p.pk}/transfer/": {"to_unit": VILLAGE_A2, "move_date": "2025-01-01"},
        f"/persons/{p.pk}/marriage/": {"marriage_date": "2025-01-01"},
        f"/persons/{p.pk}/correct/": {"name": "改", "reason": "x"},
        f"/persons/{p.pk}/divorce/": {"divorce_date": "2025-01-01"},
        f"/persons/{p.pk}/enlistment/": {"enlistment_date": "2025-01-01"},
        f"/persons/{p.pk}/discharge/": {"discharge_date": "2025-01-01", "to_unit": VILLAGE_A1},
    }
    for url, data in forms.items():
        assert c.get(url).status_code == 403, url
        assert c.post(url, data).status_code == 403, url
    assert counts() == before


def test_divorce_enlistment_and_discharge_forms(login, people, counts, actors):
    c = login("clerk_a1")
    mother, child = people["mother"], people["child"]
    assert "/divorce/" not in c.get(f"/persons/{mother.pk}/").content.decode()
    assert c.post(f"/persons/{mother.pk}/marriage/", {"marriage_date": "2015-05-05"}).status_code == 302
    assert "/divorce/" in c.get(f"/persons/{mother.pk}/").content.decode()
    assert c.post(f"/persons/{mother.pk}/divorce/", {"divorce_date": "2020-01-01"}).status_code == 302
    mother.refresh_from_db()
    assert mother.marital_status == "divorced"

    # The child (born 2020) is too young to be enlisted: no button, and the form does not open.
    assert "/enlistment/" not in c.get(f"/persons/{child.pk}/").content.decode()
    assert c.get(f"/persons/{child.pk}/enlistment/").status_code == 302
    recruit = actions.do_register_birth(actors["admin"], name="周建军", sex="M", birth_date=date(2005, 3, 1),
                                        registered_unit_code=VILLAGE_A1, id_number=make_id(date(2005, 3, 1), "M", 21))
    assert "/discharge/" not in c.get(f"/persons/{recruit.pk}/").content.decode()
    assert c.post(f"/persons/{recruit.pk}/enlistment/", {"enlistment_date": "2024-09-01"}).status_code == 302
    recruit.refresh_from_db()
    assert recruit.status == "deregistered"
    assert "/discharge/" in c.get(f"/persons/{recruit.pk}/").content.decode()
    r = c.post(f"/persons/{recruit.pk}/discharge/", {"discharge_date": "2025-09-01", "to_unit": VILLAGE_A1,
                                                     "household_no": ""})
    assert r.status_code == 302
    recruit.refresh_from_db()
    assert recruit.status == "active" and recruit.registered_unit_id == VILLAGE_A1
