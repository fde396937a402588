"""Navigation after a registration: a success message on a page that exists, and only the
registrations a record admits are offered (popreg.registry.offers), by the page, the form
and the action alike."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from popreg.registry import actions, offers
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1, make_id

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _buttons(page: str, pk: int) -> set[str]:
    names = ("death", "transfer", "move-out", "marriage", "divorce", "enlistment", "discharge", "correct")
    found = {n for n in names if f"/persons/{pk}/{n}/" in page}
    if f"mother={pk}" in page:
        found.add("child_birth")
    return found


def test_transfer_out_of_the_clerks_village_lands_on_the_household_left_with_a_message(login, people):
    c = login("clerk_a1")
    mother = people["mother"]
    r = c.post(f"/persons/{mother.pk}/transfer/", {"to_unit": VILLAGE_B1, "move_date": "2025-03-01",
                                                   "household_no": ""}, follow=True)
    # The record is now in another township: not "not found", but the household she left.
    assert r.status_code == 200
    assert r.redirect_chain[-1][0] == f"/households/{people['hh_a'].household_no}/"
    text = " ".join(_messages(r))
    assert "王秀英 已迁往 柳树村民委员会" in text and "不在您的辖区" in text
    assert Person.objects.get(pk=mother.pk).registered_unit_id == VILLAGE_B1


def test_transfer_inside_the_jurisdiction_lands_on_the_persons_page(login, people):
    c = login("officer_a")
    mother = people["mother"]
    r = c.post(f"/persons/{mother.pk}/transfer/", {"to_unit": VILLAGE_A2, "move_date": "2025-03-01",
                                                   "household_no": ""}, follow=True)
    assert r.redirect_chain[-1][0] == f"/persons/{mother.pk}/"
    assert _messages(r) == ["王秀英 已迁往 西关社区居民委员会。"]
    page = r.content.decode()
    assert 'class="messages"' in page and "西关社区居民委员会" in page


@pytest.mark.parametrize(("url", "data", "expected"), [
    ("death", {"death_date": "2025-01-02"}, "已登记 王秀英 的死亡。"),
    ("marriage", {"marriage_date": "2015-05-05"}, "已登记 王秀英 的结婚。"),
    ("correct", {"name": "王秀瑛", "reason": "户口簿笔误"}, "已更正 王秀瑛 的登记。"),
    ("move-out", {"move_date": "2025-01-02", "destination_code": "440106"}, "已登记 王秀英 迁出本县。"),
])
def test_every_person_form_lands_on_the_person_with_a_message(login, people, url, data, expected):
    c = login("clerk_a1")
    p = people["mother"]
    r = c.post(f"/persons/{p.pk}/{url}/", data, follow=True)
    assert r.redirect_chain[-1][0] == f"/persons/{p.pk}/"
    assert _messages(r) == [expected]


def test_birth_and_move_in_land_on_the_new_record_with_a_message(login, county, users):
    c = login("clerk_a1")
    r = c.post("/register/birth/", {"name": "赵小明", "sex": "M", "birth_date": "2025-01-01",
                                    "registered_unit": VILLAGE_A1, "ethnicity": "汉族"}, follow=True)
    new = Person.objects.get(name="赵小明")
    assert r.redirect_chain[-1][0] == f"/persons/{new.pk}/"
    assert _messages(r) == [f"已登记 赵小明 的出生（编号 {new.pk}）。"]
    born = date(1980, 2, 3)
    r = c.post("/register/move-in/", {"name": "钱多多", "sex": "F", "birth_date": "1980-02-03",
                                      "id_number": make_id(born, "F", 40), "registered_unit": VILLAGE_A1,
                                      "ethnicity": "汉族", "from_unit_code": "440106",
                                      "move_date": "2025-02-01"}, follow=True)
    moved = Person.objects.get(name="钱多多")
    assert r.redirect_chain[-1][0] == f"/persons/{moved.pk}/"
    assert _messages(r) == [f"已登记 钱多多 迁入本县（编号 {moved.pk}）。"]


def test_english_success_message(login, people):
    c = login("clerk_a1")
    c.cookies["django_language"] = "en"
    p = people["mother"]
    r = c.post(f"/persons/{p.pk}/death/", {"death_date": "2025-01-02"}, follow=True)
    assert _messages(r) == ["The death of 王秀英 was registered."]


def test_a_two_week_old_is_offered_neither_marriage_nor_a_childs_birth(login, people, actors):
    baby = actions.do_register_birth(actors["admin"], name="周小红", sex="F",
                                     birth_date=timezone.localdate() - timedelta(days=14),
                                     registered_unit_code=VILLAGE_A1, household=people["hh_a"])
    c = login("clerk_a1")
    page = c.get(f"/persons/{baby.pk}/").content.decode()
    assert _buttons(page, baby.pk) == {"death", "transfer", "move-out", "correct"}
    # The page says why the others are missing.
    why = page[page.index('id="not-offered"'):page.index("</details>")]
    assert "为什么有些事项不能办理" in why
    assert "<strong>结婚登记</strong> — 周小红 在" in why and "未满 20 周岁，不能登记结婚（法定婚龄）" in why
    assert "<strong>退伍恢复户口</strong> — 周小红 没有入伍注销记录" in why
    # An adult woman is offered them (the same page, another record).
    adult = _buttons(c.get(f"/persons/{people['mother'].pk}/").content.decode(), people["mother"].pk)
    assert {"marriage", "child_birth"} <= adult and not {"discharge", "enlistment"} & adult  # 34: past 26
    # The form does not open: back to the person with the reason.
    r = c.get(f"/persons/{baby.pk}/marriage/", follow=True)
    assert r.redirect_chain[-1][0] == f"/persons/{baby.pk}/"
    assert "未满 20 周岁，不能登记结婚" in " ".join(_messages(r))
    # And the action itself refuses, whoever calls it.
    with pytest.raises(RegistryError):
        actions.do_register_marriage(actors["admin"], baby, marriage_date=timezone.localdate())
    assert "法定婚龄" in offers.refusal("marriage", baby, timezone.localdate()).message_zh
    with pytest.raises(RegistryError):
        actions.do_register_enlistment(actors["admin"], baby, enlistment_date=timezone.localdate())
    assert offers.refusal("child_birth", baby, timezone.localdate()) is not None


def test_marriage_and_enlistment_ages_follow_the_law(people):
    man = Person(name="甲", sex="M", birth_date=date(2000, 6, 1), status="active")
    woman = Person(name="乙", sex="F", birth_date=date(2000, 6, 1), status="active")
    assert offers.refusal("marriage", man, date(2022, 5, 31)) is not None  # 21
    assert offers.refusal("marriage", man, date(2022, 6, 1)) is None  # 22 on the day
    assert offers.refusal("marriage", woman, date(2020, 5, 31)) is not None  # 19
    assert offers.refusal("marriage", woman, date(2020, 6, 1)) is None
    assert offers.age_on(man, date(2024, 2, 29)) == 23
    # Enlistment: 17 by 31 December of the year, at most 26.
    assert offers.refusal("enlistment", man, date(2016, 12, 31)) is not None  # 16 at the end of 2016
    assert offers.refusal("enlistment", man, date(2017, 1, 2)) is None  # 16 now, 17 by the end of 2017
    assert offers.refusal("enlistment", man, date(2026, 12, 1)) is None  # 26
    assert offers.refusal("enlistment", man, date(2027, 6, 1)) is not None  # 27


def test_discharge_only_for_an_enlisted_record(login, people, actors):
    admin = actors["admin"]
    mother, other = people["mother"], people["other"]
    c = login("admin")
    assert "discharge" not in _buttons(c.get(f"/persons/{mother.pk}/").content.decode(), mother.pk)
    r = c.get(f"/persons/{mother.pk}/discharge/", follow=True)
    assert "没有入伍注销记录" in " ".join(_messages(r))
    with pytest.raises(RegistryError) as exc:
        actions.do_register_discharge(admin, mother, discharge_date=date(2025, 1, 1), to_unit_code=VILLAGE_A1)
    assert exc.value.field == "person"
    recruit = actions.do_register_birth(admin, name="周建军", sex="M", birth_date=date(2005, 3, 1),
                                        registered_unit_code=VILLAGE_A1)
    assert "enlistment" in _buttons(c.get(f"/persons/{recruit.pk}/").content.decode(), recruit.pk)
    actions.do_register_enlistment(admin, recruit, enlistment_date=date(2024, 9, 1))
    assert _buttons(c.get(f"/persons/{recruit.pk}/").content.decode(), recruit.pk) == {"discharge", "correct"}
    assert other.status == "active"


def test_nothing_is_offered_for_a_merged_record(login, people, actors):
    from popreg.linkage import actions as linkage_actions

    admin = actors["admin"]
    twin = actions.do_register_birth(admin, name="王秀英", sex="F", birth_date=date(1990, 3, 4),
                                     registered_unit_code=VILLAGE_A1)
    linkage_actions.do_merge_persons(admin, people["mother"], twin, "同一人")
    twin.refresh_from_db()
    assert twin.merged_into_id == people["mother"].pk and twin.status == "deregistered"
    c = login("admin")
    page = c.get(f"/persons/{twin.pk}/").content.decode()
    assert _buttons(page, twin.pk) == set()
    assert f"本记录已合并到编号 {people['mother'].pk}" in page
    for url in ("discharge", "correct", "death"):
        r = c.get(f"/persons/{twin.pk}/{url}/", follow=True)
        assert r.redirect_chain[-1][0] == f"/persons/{twin.pk}/", url
        assert "已合并到编号" in " ".join(_messages(r)), url
    with pytest.raises(RegistryError):
        actions.do_register_discharge(admin, twin, discharge_date=date(2025, 1, 1), to_unit_code=VILLAGE_A1)
    with pytest.raises(RegistryError):
        actions.do_correct_person(admin, twin, changes={"name": "王秀瑛"}, reason="x")


def test_nothing_but_a_correction_for_a_dead_record(login, people, actors):
    p = people["other"]
    actions.do_register_death(actors["admin"], p, death_date=date(2025, 1, 1))
    c = login("admin")
    assert _buttons(c.get(f"/persons/{p.pk}/").content.decode(), p.pk) == {"correct"}
    r = c.get(f"/persons/{p.pk}/transfer/", follow=True)
    assert "不能办理县内迁移" in " ".join(_messages(r))
