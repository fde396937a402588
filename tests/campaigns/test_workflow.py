from datetime import date, datetime

import pytest

from popreg.campaigns import actions
from popreg.campaigns.actions import CampaignError, CampaignLockedError
from popreg.campaigns.models import (
    FieldOutcome,
    ItemStatus,
    ListedPerson,
    RectificationItem,
    SignOff,
    SpotCheck,
)
from popreg.campaigns.queries import progress
from popreg.registry import actions as registry_actions
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.models import AuditRecord, Event, Person, SourceRecord

from ..conftest import COUNTY, TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_A2, VILLAGE_B1
from .conftest import DATES, advance_to


def _row(rows, code):
    return next(r for r in rows if r.code == code)


def test_create_freezes_the_list_per_village(campaign, people):
    listed = dict(ListedPerson.objects.filter(campaign=campaign).values_list("person_id", "unit_id"))
    assert listed == {people["mother"].pk: VILLAGE_A1, people["child"].pk: VILLAGE_A1,
                      people["other"].pk: VILLAGE_B1}
    assert AuditRecord.objects.filter(action="campaign_create", target_id=str(campaign.pk)).exists()
    assert campaign.phase == "preparation"


def test_only_county_or_township_staff_create_and_dates_must_be_ordered(people, actors):
    with pytest.raises(PermissionDeniedError):
        actions.do_create_campaign(actors["clerk_a1"], name="x", scope_codes=[VILLAGE_A1],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES)
    with pytest.raises(JurisdictionError):
        actions.do_create_campaign(actors["officer_a"], name="x", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES)
    bad = {**DATES, "verification_start": date(2025, 8, 1)}
    with pytest.raises(CampaignError, match="阶段日期顺序"):
        actions.do_create_campaign(actors["admin"], name="x", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=bad)
    c = actions.do_create_campaign(actors["officer_a"], name="城关镇清查", scope_codes=[TOWN_A, VILLAGE_A1],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES)
    assert sorted(ListedPerson.objects.filter(campaign=c).values_list("unit_id", flat=True)) == [VILLAGE_A1] * 2


def test_outcomes_wait_for_the_verification_phase(campaign, people, actors):
    with pytest.raises(CampaignError, match="当前阶段"):
        actions.do_record_outcome(actors["clerk_a1"], campaign, people["mother"], outcome="confirmed")


def test_record_outcome_is_idempotent_and_opens_items(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    clerk = actors["clerk_a1"]
    _, changed = actions.do_record_outcome(clerk, campaign, people["mother"], outcome="confirmed")
    assert changed
    assert not RectificationItem.objects.filter(campaign=campaign).exists()
    _, changed = actions.do_record_outcome(clerk, campaign, people["mother"], outcome="confirmed")
    assert not changed
    with pytest.raises(CampaignError, match="请填写日期"):
        actions.do_record_outcome(clerk, campaign, people["child"], outcome="died")
    with pytest.raises(CampaignError, match="晚于今天"):
        actions.do_record_outcome(clerk, campaign, people["child"], outcome="died", event_date="2999-01-01")
    with pytest.raises(CampaignError, match="早于出生日期"):
        actions.do_record_outcome(clerk, campaign, people["child"], outcome="died", event_date="2019-01-01")
    actions.do_record_outcome(clerk, campaign, people["child"], outcome="field_wrong", field_name="姓名",
                              corrected_value="张伟")
    item = RectificationItem.objects.get(campaign=campaign, person=people["child"])
    assert (item.item_type, item.status, item.origin) == ("field_wrong", "open", "field")
    assert item.owner.username == "clerk_a1" and item.deadline == DATES["rectification_end"]
    # revised to confirmed: the open item is closed with a reason, not deleted
    actions.do_record_outcome(clerk, campaign, people["child"], outcome="confirmed")
    item.refresh_from_db()
    assert item.status == "rejected" and "核实无误" in item.reject_reason
    assert FieldOutcome.objects.filter(campaign=campaign).count() == 2


def test_clerk_records_only_in_own_village(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    with pytest.raises(JurisdictionError):
        actions.do_record_outcome(actors["clerk_a1"], campaign, people["other"], outcome="confirmed")
    with pytest.raises(RegistryError):
        actions.do_record_outcome(actors["statistician"], campaign, people["mother"], outcome="confirmed")
    assert not FieldOutcome.objects.exists()


def test_resolving_a_death_deregisters_through_the_registry_action(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    clerk = actors["clerk_a1"]
    actions.do_record_outcome(clerk, campaign, people["mother"], outcome="died", event_date="2025-10-03")
    before = _row(progress(campaign), VILLAGE_A1)
    assert (before.checked, before.findings, before.fixed, before.outstanding) == (1, 1, 0, 1)
    advance_to(campaign, "rectification", actors["admin"])
    item = RectificationItem.objects.get(campaign=campaign, person=people["mother"])
    actions.do_resolve_item(clerk, item, action="register_death")
    item.refresh_from_db()
    mother = Person.objects.get(pk=people["mother"].pk)
    assert mother.status == "deceased" and mother.death_date == date(2025, 10, 3)
    assert item.status == "resolved" and item.event.event_type == "death" and item.event.person_id == mother.pk
    assert AuditRecord.objects.filter(action="register_death", target_id=str(mother.pk)).exists()
    assert AuditRecord.objects.filter(action="campaign_resolve_item", target_id=str(item.pk)).exists()
    after = progress(campaign)
    assert (_row(after, VILLAGE_A1).fixed, _row(after, VILLAGE_A1).outstanding) == (1, 0)
    assert _row(after, TOWN_A).fixed == 1 and after[0].fixed == 1
    with pytest.raises(CampaignError, match="已整改"):
        actions.do_resolve_item(clerk, item, action="register_death")


def test_resolve_field_wrong_corrects_and_moves_transfer(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    admin = actors["admin"]
    actions.do_record_outcome(admin, campaign, people["child"], outcome="field_wrong", field_name="name",
                              corrected_value="张伟")
    actions.do_record_outcome(admin, campaign, people["other"], outcome="moved_away",
                              corrected_value=VILLAGE_A2, event_date="2025-06-01")
    fix = RectificationItem.objects.get(person=people["child"])
    move = RectificationItem.objects.get(person=people["other"])
    assert actions.default_params(move)["action"] == "transfer"
    actions.do_resolve_item(admin, fix, action="correct_person")
    actions.do_resolve_item(admin, move, action="transfer")
    child = Person.objects.get(pk=people["child"].pk)
    other = Person.objects.get(pk=people["other"].pk)
    assert child.name == "张伟" and other.registered_unit_id == VILLAGE_A2
    fix.refresh_from_db()
    move.refresh_from_db()
    assert fix.event.event_type == "correction" and move.event.event_type == "transfer"
    assert "整改事项" in fix.event.detail["reason"]


def test_wrong_action_for_the_item_type_is_refused_and_changes_nothing(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    admin = actors["admin"]
    actions.do_record_outcome(admin, campaign, people["child"], outcome="not_found")
    item = RectificationItem.objects.get(person=people["child"])
    with pytest.raises(CampaignError, match="不适用"):
        actions.do_resolve_item(admin, item, action="correct_person", params={"field_name": "name", "value": "x"})
    with pytest.raises(RegistryError, match="迁往地代码"):  # move_out without a destination
        actions.do_resolve_item(admin, item, action="move_out", params={"date": "2025-01-01"})
    item.refresh_from_db()
    assert item.status == "open" and Person.objects.get(pk=people["child"].pk).status == "active"
    assert not Event.objects.filter(person=people["child"], event_type__in=["correction", "move_out"]).exists()


def test_found_person_is_registered_by_birth(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    clerk = actors["clerk_a1"]
    fp, created = actions.do_record_found_person(clerk, campaign, VILLAGE_A1, name="张小花", sex="女",
                                                 birth_date="2024-02-02", household_no=people["hh_a"].household_no)
    assert created
    _, again = actions.do_record_found_person(clerk, campaign, VILLAGE_A1, name="张小花", sex="女",
                                              birth_date="2024-02-02")
    assert not again
    item = RectificationItem.objects.get(found_person=fp)
    assert item.item_type == "found_person"
    actions.do_resolve_item(clerk, item, action="register_birth")
    item.refresh_from_db()
    new = item.result_person
    assert new.name == "张小花" and new.registered_unit_id == VILLAGE_A1 and new.household_id == people["hh_a"].pk
    assert item.event.event_type == "birth"


def test_rectification_hitting_an_id_registered_elsewhere_is_audited_once_after_the_outer_rollback(
        campaign, people, actors):
    # do_resolve_item runs do_register_birth inside its own atomic block: the refusal rolls
    # back both, and the check must still leave exactly one audit record.
    advance_to(campaign, "verification", actors["admin"])
    clerk, other = actors["clerk_a1"], people["other"]  # other: village B1, another township
    fp, _ = actions.do_record_found_person(clerk, campaign, VILLAGE_A1, name="冒名", sex="女",
                                          birth_date=other.birth_date.isoformat())
    item = RectificationItem.objects.get(found_person=fp)
    before = Person.objects.count()
    with pytest.raises(RegistryError) as exc:
        actions.do_resolve_item(clerk, item, action="register_birth", params={"id_number": other.id_number})
    err = exc.value  # the number itself and nothing else: no record number, no name
    assert err.field == "id_number"
    assert err.message_zh == f"公民身份号码 {other.id_number} 已在其他地方登记，请联系县级户籍部门"
    assert err.message_en == f"ID number {other.id_number} is already registered elsewhere; ask the county office"
    assert other.name not in err.message_zh + err.message_en
    assert Person.objects.count() == before
    item.refresh_from_db()
    assert item.status == "open"
    rec = AuditRecord.objects.get(action="check_id_elsewhere")
    assert rec.actor_name == "clerk_a1" and rec.target_id == str(other.pk)
    assert rec.detail["hits"][0]["id_number"] == other.id_number


def test_duplicate_is_settled_by_merging_the_records(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    admin = actors["admin"]
    twin = registry_actions.do_register_birth(admin, name="李娜", sex="F", birth_date=date(1985, 1, 2),
                                              registered_unit_code=VILLAGE_B1)
    actions.do_record_outcome(admin, campaign, people["other"], outcome="duplicate", corrected_value=str(twin.pk))
    item = RectificationItem.objects.get(person=people["other"])
    assert actions.default_params(item) == {"action": "merge_persons", "other_person_id": str(twin.pk)}
    with pytest.raises(CampaignError, match="理由"):
        actions.do_reject_item(admin, item, reason="  ")
    with pytest.raises(CampaignError, match="保留"):
        actions.do_resolve_item(admin, item, action="merge_persons", params={"other_person_id": "x"})
    actions.do_resolve_item(admin, item, action="merge_persons")
    item.refresh_from_db()
    other = Person.objects.get(pk=people["other"].pk)
    assert other.merged_into_id == twin.pk and other.status == "deregistered"
    assert item.status == "resolved" and item.event.event_type == "merge" and item.event.person_id == other.pk
    # both histories stay: the survivor is untouched apart from its own merge event
    assert Person.objects.get(pk=twin.pk).status == "active"


def test_a_duplicate_can_be_rejected_with_a_reason(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    admin = actors["admin"]
    actions.do_record_outcome(admin, campaign, people["other"], outcome="duplicate",
                              corrected_value=str(people["mother"].pk))
    item = RectificationItem.objects.get(person=people["other"])
    actions.do_reject_item(admin, item, reason="经核实为两人，同名同生日")
    item.refresh_from_db()
    assert item.status == "rejected" and item.reject_reason.startswith("经核实")
    assert Person.objects.get(pk=people["other"].pk).merged_into_id is None


def test_generate_items_from_anomalies_once(campaign, people, actors):
    admin = actors["admin"]
    other = people["other"]
    SourceRecord.objects.create(source="death_notices", record_id="DN000001", data={
        "name": other.name, "sex": "F", "birth_date": "1985-01-02", "death_date": "2025-03-01",
        "id_number": other.id_number, "address_unit": VILLAGE_B1, "notifier": "hospital"})
    result = actions.do_generate_items(admin, campaign)
    items = RectificationItem.objects.filter(campaign=campaign, origin="anomaly")
    assert result.created == items.count() >= 1
    death = items.get(item_type="death_not_deregistered")
    assert death.person_id == other.pk and death.unit_id == VILLAGE_B1 and "DN000001" in death.detail
    again = actions.do_generate_items(admin, campaign)
    assert again.created == 0 and again.existing == result.created
    # a township officer generates only inside the township
    c2 = actions.do_create_campaign(admin, name="复查", scope_codes=[COUNTY],
                                    reference_moment=datetime(2025, 11, 1), dates=DATES)
    r2 = actions.do_generate_items(actors["officer_a"], c2)
    assert not RectificationItem.objects.filter(campaign=c2, unit_id=VILLAGE_B1).exists()
    assert r2.outside >= 1
    # the death is settled with the notified date
    advance_to(campaign, "rectification", admin)
    actions.do_resolve_item(admin, death, action="register_death", params={"date": "2025-03-01"})
    assert Person.objects.get(pk=other.pk).death_date == date(2025, 3, 1)


def _check_everyone(campaign, people, actors):
    """Each village clerk verifies their own village (the spot check is someone else's)."""
    advance_to(campaign, "verification", actors["admin"])
    for key, clerk in (("mother", "clerk_a1"), ("child", "clerk_a1"), ("other", "clerk_b1")):
        actions.do_record_outcome(actors[clerk], campaign, people[key], outcome="confirmed")
    return advance_to(campaign, "summary", actors["admin"])


def test_spot_check_is_seeded_and_decides_acceptance(campaign, people, actors):
    campaign = _check_everyone(campaign, people, actors)
    clerk, officer = actors["clerk_a1"], actors["officer_a"]  # the township re-checks the clerk's work
    checks = actions.do_draw_spot_check(officer, campaign, VILLAGE_A1)
    assert [c.household_id for c in checks] == [people["hh_a"].pk]
    assert [c.pk for c in actions.do_draw_spot_check(officer, campaign, VILLAGE_A1)] == [c.pk for c in checks]
    with pytest.raises(CampaignError, match="未复核"):
        actions.do_sign_off(clerk, campaign, VILLAGE_A1, level="village")
    with pytest.raises(CampaignError, match="说明"):
        actions.do_record_spot_check(officer, checks[0], agrees=False)
    actions.do_record_spot_check(officer, checks[0], agrees=False, note="户主姓名不符")
    with pytest.raises(CampaignError, match="差错率"):
        actions.do_sign_off(clerk, campaign, VILLAGE_A1, level="village")
    actions.do_record_spot_check(officer, checks[0], agrees=True)
    assert actions.spot_check_result(campaign, VILLAGE_A1).passed
    actions.do_sign_off(clerk, campaign, VILLAGE_A1, level="village")
    assert SignOff.objects.filter(campaign=campaign, unit_id=VILLAGE_A1, level="village").exists()


def test_seeded_sample_is_reproducible():
    import random

    households = list(range(1, 41))
    a = sorted(random.Random("7:110105001001").sample(households, 5))
    b = sorted(random.Random("7:110105001001").sample(households, 5))
    c = sorted(random.Random("8:110105001001").sample(households, 5))
    assert a == b and a != c


def test_sign_off_goes_up_the_hierarchy_and_county_locks(campaign, people, actors):
    campaign = _check_everyone(campaign, people, actors)
    admin = actors["admin"]
    with pytest.raises(CampaignError, match="尚未村级签字"):
        actions.do_sign_off(actors["officer_a"], campaign, TOWN_A, level="township")
    for village in (VILLAGE_A1, VILLAGE_B1):
        for sc in actions.do_draw_spot_check(admin, campaign, village):
            actions.do_record_spot_check(admin, sc, agrees=True)
        actions.do_sign_off(admin, campaign, village, level="village")
    # village A2 has nobody on the list: no spot check needed, but it must still sign
    with pytest.raises(CampaignError, match="西关社区居民委员会"):  # by name, not code
        actions.do_sign_off(actors["officer_a"], campaign, TOWN_A, level="township")
    actions.do_sign_off(admin, campaign, VILLAGE_A2, level="village")
    with pytest.raises(PermissionDeniedError):
        actions.do_sign_off(actors["clerk_a1"], campaign, TOWN_A, level="township")
    actions.do_sign_off(actors["officer_a"], campaign, TOWN_A, level="township")
    with pytest.raises(PermissionDeniedError):
        actions.do_sign_off(actors["officer_a"], campaign, TOWN_A, level="county")
    with pytest.raises(CampaignError, match="尚未乡镇级签字"):
        actions.do_sign_off(admin, campaign, TOWN_B, level="county")
    with pytest.raises(CampaignError, match="县级签字"):  # the campaign cannot close yet
        actions.do_advance_phase(admin, campaign)
    actions.do_sign_off(admin, campaign, TOWN_A, level="county")
    # town A is locked; town B is not
    sc = SpotCheck.objects.filter(campaign=campaign, unit_id=VILLAGE_A1).first()
    with pytest.raises(CampaignLockedError, match="锁定"):
        actions.do_record_spot_check(admin, sc, agrees=True)
    with pytest.raises(CampaignLockedError):
        actions.do_sign_off(admin, campaign, TOWN_A, level="county")
    with pytest.raises(CampaignLockedError):
        actions.do_draw_spot_check(admin, campaign, VILLAGE_A2)
    campaign.phase = "rectification"  # even back in an editable phase the lock holds
    campaign.save()
    with pytest.raises(CampaignLockedError):
        actions.do_record_outcome(admin, campaign, people["mother"], outcome="died", event_date="2025-01-01")
    actions.do_record_outcome(admin, campaign, people["other"], outcome="not_found")
    campaign.phase = "summary"
    campaign.save()
    item = RectificationItem.objects.get(campaign=campaign, person=people["other"])
    actions.do_reject_item(admin, item, reason="找到本人")
    actions.do_sign_off(admin, campaign, TOWN_B, level="township")
    actions.do_sign_off(admin, campaign, TOWN_B, level="county")
    assert actions.do_advance_phase(admin, campaign).phase == "closed"


def test_progress_rolls_up_from_villages(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    admin = actors["admin"]
    actions.do_record_outcome(admin, campaign, people["mother"], outcome="confirmed")
    actions.do_record_outcome(admin, campaign, people["child"], outcome="not_found")
    actions.do_record_outcome(admin, campaign, people["other"], outcome="died", event_date="2025-02-02")
    rows = progress(campaign)
    total, a1, b1, ta = rows[0], _row(rows, VILLAGE_A1), _row(rows, VILLAGE_B1), _row(rows, TOWN_A)
    assert (a1.listed, a1.checked, a1.findings) == (2, 2, 1)
    assert (b1.listed, b1.checked, b1.findings) == (1, 1, 1)
    assert (ta.listed, ta.checked, ta.findings) == (2, 2, 1)
    assert (total.listed, total.checked, total.findings) == (3, 3, 2)
    assert total.by_type == {"not_found": 1, "died": 1}
    # a village clerk's view covers their village only
    mine = progress(campaign, actors["clerk_a1"])
    assert [r.code for r in mine] == ["", TOWN_A, VILLAGE_A1] and mine[0].listed == 2
    assert [r.level for r in rows] == ["campaign", "township", "village", "village", "township", "village"]
    assert ItemStatus.OPEN == "open"


def test_public_actions_are_listed_sorted():
    assert actions.__all__ == sorted(actions.__all__)
    assert all(hasattr(actions, name) for name in actions.__all__)
    assert {n for n in dir(actions) if n.startswith("do_")} <= set(actions.__all__)


def test_merging_settles_the_partner_item_too(people, actors):
    admin = actors["admin"]
    twin = registry_actions.do_register_birth(admin, name="李娜", sex="F", birth_date=date(1985, 1, 2),
                                              registered_unit_code=VILLAGE_B1)
    c = actions.do_create_campaign(admin, name="复查", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES)
    advance_to(c, "verification", admin)
    other = people["other"]
    actions.do_record_outcome(admin, c, other, outcome="duplicate", corrected_value=str(twin.pk))
    actions.do_record_outcome(admin, c, twin, outcome="duplicate", corrected_value=str(other.pk))
    mine, partner = (RectificationItem.objects.get(campaign=c, person=p) for p in (other, twin))
    actions.do_resolve_item(admin, mine, action="merge_persons")
    partner.refresh_from_db()
    assert partner.status == "resolved" and partner.action_taken == "merge_persons"
    assert progress(c)[0].fixed == 2
