"""Household upkeep: head change (a dead or departed head flagged), split, merge, address,
dissolving; their history on the household page; every error at once; no household
without members after loading a synthetic county."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.registry import actions
from popreg.registry.actions.events import StaleVersionError
from popreg.registry.actions.households import HouseholdErrors
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.models import AuditRecord, Event, Household, Person

from ..bilingual import check_bilingual, get_page
from ..conftest import VILLAGE_A1, VILLAGE_A2, make_id


@pytest.fixture
def family(people, actors):
    """Household hh_a of village A1: 王秀英 (mother), 張偉 (child) and 赵建国 (father, head)."""
    admin = actors["admin"]
    father = actions.do_register_birth(admin, name="赵建国", sex="M", birth_date=date(1988, 7, 1),
                                       registered_unit_code=VILLAGE_A1, household=people["hh_a"],
                                       id_number=make_id(date(1988, 7, 1), "M", 5))
    hh = actions.do_change_household_head(admin, people["hh_a"], head=father, reason="立户")
    return {**people, "father": father, "hh_a": hh}


def _history(hh: Household) -> list[str]:
    return list(AuditRecord.objects.filter(target_type="Household", target_id=str(hh.pk))
                .order_by("id").values_list("action", flat=True))


def test_change_head_checks_every_field_and_the_version(family, actors):
    admin, hh = actors["admin"], family["hh_a"]
    assert hh.head_id == family["father"].pk
    with pytest.raises(HouseholdErrors) as exc:
        actions.do_change_household_head(admin, hh, head=None, reason=" ")
    assert {e.field for e in exc.value.errors} == {"head", "reason"}
    with pytest.raises(RegistryError, match="本户成员"):
        actions.do_change_household_head(admin, hh, head=family["other"], reason="x")
    seen = hh.version
    actions.do_change_household_head(admin, hh, head=family["mother"], reason="原户主外出务工",
                                     expected_version=seen)
    hh.refresh_from_db()
    assert hh.head_id == family["mother"].pk and hh.version == seen + 1
    with pytest.raises(StaleVersionError):  # a form opened before the change
        actions.do_change_household_head(admin, hh, head=family["father"], reason="x", expected_version=seen)
    rec = AuditRecord.objects.filter(action="set_household_head", target_id=str(hh.pk)).order_by("-id").first()
    assert rec.before["head_name"] == "赵建国" and rec.after["head_name"] == "王秀英"
    assert rec.detail["reason"] == "原户主外出务工"


def test_dead_head_is_flagged_and_cannot_be_chosen(family, actors, client, users):
    admin, hh = actors["admin"], family["hh_a"]
    actions.do_register_death(admin, family["father"], death_date=date(2025, 3, 1))
    with pytest.raises(RegistryError, match="不能担任户主"):
        actions.do_change_household_head(admin, hh, head=family["father"], reason="x")
    client.force_login(users["clerk_a1"])
    check_bilingual(client, f"/households/{hh.household_no}/", ["The head has died: change the head",
                                                                 "History of the household"],
                    ["户主已死亡，请变更户主", "户的变动记录"])
    unit_page = get_page(client, f"/units/{VILLAGE_A1}/", english=False)
    assert "户主已死亡" in unit_page


def test_head_change_through_the_form_lands_on_the_household_with_a_message(family, client, users):
    hh = family["hh_a"]
    client.force_login(users["clerk_a1"])
    url = f"/households/{hh.household_no}/head/"
    r = client.post(url, {"version": hh.version})
    assert r.status_code == 400
    page = r.content.decode()
    assert "请选择新户主" in page and "请填写变更原因" in page  # both errors at once
    r = client.post(url, {"version": hh.version, "head": family["mother"].pk, "reason": "夫妻协商"}, follow=True)
    assert r.redirect_chain[-1][0] == f"/households/{hh.household_no}/"
    page = r.content.decode()
    assert "现在的户主是 王秀英" in page
    assert "赵建国 → 王秀英（夫妻协商）" in page and "clerk_a1" in page  # the history row


def test_split_moves_members_into_a_new_household(family, actors, client, users):
    admin, hh = actors["admin"], family["hh_a"]
    mother, child, father = family["mother"], family["child"], family["father"]
    with pytest.raises(HouseholdErrors) as exc:  # everyone leaving, head not among them
        actions.do_split_household(admin, hh, members=[mother, child, father], head=family["other"])
    assert {e.field for e in exc.value.errors} == {"members", "head"}
    new = actions.do_split_household(admin, hh, members=[mother, child], head=mother, address="东关村1号之2",
                                     split_date=date(2025, 6, 1), reason="子女成家",
                                     member_versions={mother.pk: mother.version})
    assert new.household_no != hh.household_no and new.unit_id == VILLAGE_A1 and new.head_id == mother.pk
    assert set(Person.objects.filter(household=new).values_list("name", flat=True)) == {"王秀英", "張偉"}
    assert list(Person.objects.filter(household=hh).values_list("name", flat=True)) == ["赵建国"]
    ev = Event.objects.filter(person=mother).order_by("-id").first()
    assert ev.changes["household_id"] == [hh.pk, new.pk] and ev.detail["household_action"] == "split"
    assert _history(hh)[-1] == _history(new)[-1] == "split_household"
    client.force_login(users["clerk_a1"])
    page = get_page(client, f"/households/{new.household_no}/", english=False)
    assert f"由户 {hh.household_no} 分户而来" in page
    # the old head leaving needs a new head for the old household
    with pytest.raises(RegistryError) as one:
        actions.do_split_household(admin, new, members=[mother], head=mother)
    assert one.value.field == "remaining_head"


def test_split_refuses_a_stale_member(family, actors):
    admin, hh, mother = actors["admin"], family["hh_a"], family["mother"]
    seen = mother.version
    actions.do_register_marriage(admin, mother, marriage_date=date(2012, 1, 1))
    with pytest.raises(StaleVersionError):
        actions.do_split_household(admin, hh, members=[mother], head=mother, member_versions={mother.pk: seen})
    assert Household.objects.count() == 2  # nothing created


def test_merge_and_dissolve(family, actors):
    admin, hh = actors["admin"], family["hh_a"]
    other_hh = actions.do_create_household(admin, unit_code=VILLAGE_A1, address="东关村2号")
    granny = actions.do_register_birth(admin, name="孙桂兰", sex="F", birth_date=date(1950, 2, 2),
                                       registered_unit_code=VILLAGE_A1, household=other_hh)
    with pytest.raises(RegistryError, match="在户成员"):
        actions.do_dissolve_household(admin, other_hh)
    with pytest.raises(RegistryError, match="同一村"):
        actions.do_merge_households(admin, hh, other=family["hh_b"].household_no)
    with pytest.raises(HouseholdErrors) as exc:
        actions.do_merge_households(admin, hh, other="999999999", merge_date=date(2999, 1, 1))
    assert {e.field for e in exc.value.errors} == {"other_household", "merge_date"}
    actions.do_merge_households(admin, hh, other=other_hh.household_no, reason="老人随子女生活")
    granny.refresh_from_db()
    other_hh.refresh_from_db()
    assert granny.household_id == hh.pk and other_hh.dissolved_on is not None and other_hh.head_id is None
    assert "merge_households" in _history(other_hh)
    with pytest.raises(RegistryError, match="已于"):  # a dissolved household takes no more changes
        actions.do_change_household_address(admin, other_hh, address="新址", reason="x")
    # an empty household (created, nobody registered) is dissolved; its number is not reused
    empty = actions.do_create_household(admin, unit_code=VILLAGE_A2)
    actions.do_dissolve_household(admin, empty, reason="立户后未落户")
    assert actions.do_create_household(admin, unit_code=VILLAGE_A2).household_no > empty.household_no


def test_address_change_and_jurisdiction(family, actors):
    admin, clerk, hh = actors["admin"], actors["clerk_a1"], family["hh_a"]
    with pytest.raises(HouseholdErrors) as exc:
        actions.do_change_household_address(clerk, hh, address=hh.address, reason="")
    assert {e.field for e in exc.value.errors} == {"address", "reason"}
    actions.do_change_household_address(clerk, hh, address="东关村 新街 5号", reason="门牌整顿")
    hh.refresh_from_db()
    assert hh.address == "东关村 新街 5号"
    with pytest.raises(JurisdictionError):
        actions.do_change_household_address(clerk, family["hh_b"], address="x", reason="y")
    with pytest.raises(RegistryError):  # a read-only role
        actions.do_change_household_address(actors["statistician"], hh, address="x", reason="y")
    actions.do_change_household_address(admin, family["hh_b"], address="柳树村9号", reason="门牌整顿")


def test_household_forms_in_both_languages(family, client, users):
    hh = family["hh_a"]
    client.force_login(users["clerk_a1"])
    for path, en, zh in (("split", "Members who form the new household", "分出的成员"),
                         ("merge", "Number of the household that joins this one", "并入本户的户号"),
                         ("address", "New address", "新住址"),
                         ("dissolve", "Date of dissolution", "销户日期")):
        check_bilingual(client, f"/households/{hh.household_no}/{path}/", [en], [zh])
    r = client.post(f"/households/{hh.household_no}/split/", {"version": hh.version, "split_date": "2025-02-30"})
    page = r.content.decode()
    assert r.status_code == 400
    assert "请选择分出的成员" in page and "请选择新户的户主" in page and "分户日期格式不正确" in page


def test_no_household_without_members_after_loading_a_synthetic_county(db, tmp_path):
    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.snapshot import read_table
    from popreg.synth.generator import generate

    generate(tmp_path, seed=11, persons=1000, progress=None)
    households = set(read_table(tmp_path, "households").column("household_id").to_pylist())
    members = set(read_table(tmp_path, "persons").column("household_id").drop_null().to_pylist())
    assert households and households == members  # the generator writes no empty household
    load_snapshot(tmp_path, system_actor("test"))
    assert Household.objects.count() == len(households)
    assert not Household.objects.filter(members__isnull=True).exists()
