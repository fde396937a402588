"""Merge and unmerge keep every event of both persons; state always rebuilds from history."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.linkage import actions
from popreg.linkage.models import DuplicateCandidate, MergeRecord
from popreg.registry import actions as reg
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.history import rebuild_person
from popreg.registry.models import AuditRecord, Event, EventType, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, make_id


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def pair(people, actors):
    """One person registered twice in village A1: once without ID number, once with it
    (and with a later correction, so both have more than one event)."""
    admin = actors["admin"]
    survivor = reg.do_register_birth(
        admin,
        name="赵建国",
        sex="M",
        birth_date=date(1970, 8, 9),
        registered_unit_code=VILLAGE_A1,
        household=people["hh_a"],
    )
    reg.do_correct_person(admin, survivor, changes={"ethnicity": "回族"}, reason="户口簿为回族")
    duplicate = reg.do_register_birth(
        admin,
        name="赵建囯",
        sex="M",
        birth_date=date(1970, 8, 9),
        registered_unit_code=VILLAGE_A1,
        id_number=make_id(date(1970, 8, 9), "M", 7),
    )
    reg.do_register_marriage(admin, duplicate, marriage_date=date(1995, 1, 1))
    return Person.objects.get(pk=survivor.pk), Person.objects.get(pk=duplicate.pk)


def _events(*persons):
    return {
        p.pk: list(
            Event.objects.filter(person=p).order_by("id").values_list("id", "event_type", "changes")
        )
        for p in persons
    }


def _check_history(*persons):
    for p in persons:
        fresh = Person.objects.get(pk=p.pk)
        assert rebuild_person(fresh) == [], f"person {p.pk} does not rebuild from history"


def test_merge_then_unmerge_keeps_every_event_and_rebuilds(pair, actors):
    survivor, duplicate = pair
    clerk = actors["clerk_a1"]
    before_state = {p.pk: Person.objects.get(pk=p.pk).state() for p in pair}
    events_before = _events(survivor, duplicate)
    _check_history(survivor, duplicate)

    merge = actions.do_merge_persons(clerk, survivor, duplicate, "同一人，身份号码见户口簿")
    s, d = Person.objects.get(pk=survivor.pk), Person.objects.get(pk=duplicate.pk)
    _check_history(s, d)
    assert d.merged_into_id == s.pk and d.status == "deregistered"
    # Fields the survivor lacked came from the duplicate, as recorded changes.
    assert s.id_number == duplicate.id_number and s.marital_status == "married"
    assert s.ethnicity == "回族"  # its own value is kept
    assert set(merge.filled) == {"id_number", "marital_status"}
    events_merged = _events(s, d)
    for pk, evs in events_before.items():
        assert events_merged[pk][: len(evs)] == evs  # nothing removed or changed
        assert [e[1] for e in events_merged[pk][len(evs) :]] == [EventType.MERGE]
    merge_event = Event.objects.get(pk=merge.duplicate_event_id)
    assert merge_event.changes["merged_into_id"] == [None, s.pk]
    assert merge_event.changes["status"] == ["active", "deregistered"]

    actions.do_unmerge(clerk, merge, "误合并：经核实为两人")
    s, d = Person.objects.get(pk=survivor.pk), Person.objects.get(pk=duplicate.pk)
    _check_history(s, d)
    assert s.state() == before_state[s.pk]
    assert d.state() == before_state[d.pk]
    events_after = _events(s, d)
    for pk, evs in events_merged.items():
        assert events_after[pk][: len(evs)] == evs
        assert [e[1] for e in events_after[pk][len(evs) :]] == [EventType.UNMERGE]
    merge.refresh_from_db()
    assert merge.undone and merge.undone_by_name == "clerk_a1" and merge.undo_reason
    actions_logged = list(AuditRecord.objects.values_list("action", flat=True))
    assert (
        actions_logged.count("merge_persons") == 2 and actions_logged.count("unmerge_persons") == 2
    )

    # A second merge (the other way round) and its undo work the same.
    again = actions.do_merge_persons(clerk, duplicate, survivor, "再次核实为同一人")
    _check_history(s, d)
    actions.do_unmerge(clerk, again, "撤销")
    _check_history(s, d)
    assert Person.objects.get(pk=s.pk).state() == before_state[s.pk]
    assert Person.objects.get(pk=d.pk).state() == before_state[d.pk]


def test_unmerge_keeps_a_filled_field_corrected_since(pair, actors):
    survivor, duplicate = pair
    admin = actors["admin"]
    merge = actions.do_merge_persons(admin, survivor, duplicate, "同一人")
    reg.do_correct_person(
        admin,
        Person.objects.get(pk=survivor.pk),
        changes={"former_names": "赵建囯"},
        reason="补曾用名",
    )
    actions.do_unmerge(admin, merge, "误合并")
    s = Person.objects.get(pk=survivor.pk)
    assert s.id_number is None and s.former_names == "赵建囯"
    _check_history(s, duplicate)


def test_refusals_change_nothing(pair, people, actors):
    survivor, duplicate = pair
    counts = (Event.objects.count(), AuditRecord.objects.count(), MergeRecord.objects.count())
    with pytest.raises(RegistryError):
        actions.do_merge_persons(actors["admin"], survivor, duplicate, "  ")  # no reason
    with pytest.raises(RegistryError):
        actions.do_merge_persons(actors["admin"], survivor, survivor, "同一人")
    with pytest.raises(JurisdictionError):  # the other person is in village B1
        actions.do_merge_persons(actors["clerk_a1"], survivor, people["other"], "同一人")
    with pytest.raises(JurisdictionError):
        actions.do_merge_persons(actors["clerk_b1"], survivor, duplicate, "同一人")
    with pytest.raises(RegistryError):  # read-only role
        actions.do_merge_persons(actors["statistician"], survivor, duplicate, "同一人")
    assert (
        Event.objects.count(),
        AuditRecord.objects.count(),
        MergeRecord.objects.count(),
    ) == counts
    assert Person.objects.get(pk=duplicate.pk).merged_into_id is None

    merge = actions.do_merge_persons(actors["admin"], survivor, duplicate, "同一人")
    with pytest.raises(RegistryError):  # already merged
        actions.do_merge_persons(actors["admin"], survivor, duplicate, "同一人")
    with pytest.raises(JurisdictionError):
        actions.do_unmerge(actors["clerk_b1"], merge, "撤销")
    actions.do_unmerge(actors["admin"], merge, "撤销")
    with pytest.raises(RegistryError):
        actions.do_unmerge(actors["admin"], merge, "再撤销")


def _candidate(a, b, probability=0.97):
    lo, hi = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.create(
        person_a_id=lo, person_b_id=hi, match_weight=8.0, match_probability=probability, evidence=[]
    )


def test_decisions_merge_and_labels(pair, people, actors):
    from popreg.linkage.review import decision_labels, labels_csv

    survivor, duplicate = pair
    clerk = actors["clerk_a1"]
    c = _candidate(survivor, duplicate)
    other = _candidate(people["mother"], people["other"], 0.6)  # A1 and B1
    with pytest.raises(RegistryError):
        actions.do_decide_candidate(clerk, c, True, "")
    with pytest.raises(JurisdictionError):
        actions.do_decide_candidate(clerk, other, False, "不同村")
    actions.do_decide_candidate(actors["admin"], other, False, "年龄不同，不同的人")
    with pytest.raises(RegistryError):  # decided different people: no merge
        actions.do_merge_persons(actors["admin"], people["mother"], people["other"], "同一人")

    merge = actions.do_merge_persons(clerk, survivor, duplicate, "同一人", candidate=c)
    c.refresh_from_db()
    assert c.status == "same_person" and c.decided_by_name == "clerk_a1" and c.reason == "同一人"
    with pytest.raises(RegistryError):  # merged: undo first
        actions.do_decide_candidate(clerk, c, False, "改判")

    rows = decision_labels(actors["admin"])
    assert sorted(rows) == sorted(
        [
            (str(c.person_a_id), str(c.person_b_id), 1),
            (str(other.person_a_id), str(other.person_b_id), 0),
        ]
    )
    assert decision_labels(clerk) == [(str(c.person_a_id), str(c.person_b_id), 1)]
    text = labels_csv(rows)
    assert text.splitlines()[0] == "record_id_l,record_id_r,is_match"

    actions.do_unmerge(clerk, merge, "误合并")
    c.refresh_from_db()
    assert c.status == "pending"  # back in the queue
    assert set(AuditRecord.objects.values_list("action", flat=True)) >= {
        "decide_duplicate",
        "reopen_duplicate",
    }


def test_candidate_across_villages_needs_both_in_jurisdiction(people, actors):
    admin = actors["admin"]
    a2 = reg.do_register_birth(
        admin, name="王秀英", sex="F", birth_date=date(1990, 3, 4), registered_unit_code=VILLAGE_A2
    )
    c = _candidate(people["mother"], a2)
    with pytest.raises(JurisdictionError):
        actions.do_decide_candidate(actors["clerk_a1"], c, True, "同一人")
    actions.do_decide_candidate(actors["officer_a"], c, True, "同一人，在两村重复登记")
    with pytest.raises(JurisdictionError):
        actions.do_merge_persons(actors["clerk_a1"], people["mother"], a2, "同一人")
    assert Person.objects.get(pk=a2.pk).merged_into_id is None


def test_merge_moves_children_and_headship_to_the_survivor_and_undo_returns_them(pair, people, actors):
    """A child of the duplicate (even in another village) gets the survivor as parent, and
    a household the duplicate headed, when the survivor lives in it, gets the survivor as
    head; the undo gives both back; every change is an event or an audit record."""
    admin, clerk = actors["admin"], actors["clerk_a1"]
    survivor, duplicate = pair  # the survivor lives in hh_a
    hh = people["hh_a"]
    hh.head = duplicate
    hh.save()
    kid_here = reg.do_register_birth(
        admin, name="赵小明", sex="M", birth_date=date(2000, 1, 2), registered_unit_code=VILLAGE_A1,
        father=Person.objects.get(pk=duplicate.pk),
    )
    kid_away = reg.do_register_birth(
        admin, name="赵小红", sex="F", birth_date=date(2002, 3, 4), registered_unit_code=VILLAGE_A2,
        father=Person.objects.get(pk=duplicate.pk),
    )
    kid_of_survivor = reg.do_register_birth(
        admin, name="赵小刚", sex="M", birth_date=date(2004, 5, 6), registered_unit_code=VILLAGE_A1,
        father=Person.objects.get(pk=survivor.pk),
    )
    _check_history(kid_here, kid_away)

    merge = actions.do_merge_persons(clerk, survivor, duplicate, "同一人")
    for kid in (kid_here, kid_away):
        fresh = Person.objects.get(pk=kid.pk)
        assert fresh.father_id == survivor.pk
        last = Event.objects.filter(person=kid).latest("id")
        assert last.event_type == EventType.MERGE and last.changes["father_id"] == [duplicate.pk, survivor.pk]
        assert last.detail["merge_id"] == merge.pk and last.detail["role"] == "child"
    hh.refresh_from_db()
    assert hh.head_id == survivor.pk
    assert AuditRecord.objects.filter(action="set_household_head", target_id=str(hh.pk)).count() == 1
    assert Event.objects.get(pk=merge.survivor_event_id).detail["repointed"] == {
        "children": {str(kid_here.pk): ["father_id"], str(kid_away.pk): ["father_id"]},
        "heads": [hh.pk],
    }
    _check_history(kid_here, kid_away, kid_of_survivor)

    actions.do_unmerge(clerk, merge, "误合并")
    for kid in (kid_here, kid_away):
        assert Person.objects.get(pk=kid.pk).father_id == duplicate.pk
    assert Person.objects.get(pk=kid_of_survivor.pk).father_id == survivor.pk  # never the duplicate's
    hh.refresh_from_db()
    assert hh.head_id == duplicate.pk
    _check_history(kid_here, kid_away, kid_of_survivor)


def test_headship_stays_when_the_survivor_lives_in_another_household(pair, people, actors):
    admin = actors["admin"]
    survivor, duplicate = pair  # the survivor lives in hh_a
    hh = reg.do_create_household(admin, unit_code=VILLAGE_A1, address="东关村6号")
    hh.head = duplicate
    hh.save()
    actions.do_merge_persons(admin, survivor, duplicate, "同一人")
    hh.refresh_from_db()
    assert hh.head_id == duplicate.pk  # a person must choose the head
