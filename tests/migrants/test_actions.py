"""The migrants actions: in-migrants, permits, out-migrants, places; history, audit, signal."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from popreg.migrants import actions
from popreg.migrants.actions import MigrantError
from popreg.migrants.models import (
    InMigrant,
    MigrantHistory,
    OutMigrant,
    PermitStatus,
    PlaceOccupant,
)
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.models import AdminUnit, AuditRecord, Event, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1
from .conftest import ORIGIN, OTHER_COUNTY, origin_id

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the signal is sent on commit
def test_register_creates_floating_in_person_with_history_audit_and_signal(people, actors, events):
    m = actions.register_in_migrant(
        actors["clerk_a1"], residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 1, 10),
        origin_code=ORIGIN, reason="务工", name="陈建国", sex="M", birth_date=date(1988, 6, 1),
        id_number=origin_id(date(1988, 6, 1), "M"), contact="13800000000",
    )
    p = Person.objects.get(pk=m.person_id)
    assert p.residence_type == "floating_in" and p.residence_unit_id == VILLAGE_A1
    assert p.registered_unit_id == ORIGIN + "000000"
    assert AdminUnit.objects.get(code=p.registered_unit_id).level == "external"
    assert m.reason == "work" and m.origin_code == ORIGIN + "000000"
    assert Event.objects.filter(person=p, event_type="registration").count() == 1
    assert MigrantHistory.objects.filter(person=p, kind="in_registered").count() == 1
    assert AuditRecord.objects.filter(action="migrant_register", target_id=str(m.pk)).exists()
    assert [(k, pid) for k, pid, _ in events] == [("migrant_registered", p.pk)]
    detail = events[0][2]
    assert detail["residence_unit"] == VILLAGE_A1 and detail["arrival_date"] == "2024-01-10"
    assert detail["reason"] == "work" and detail["contact"] == "13800000000"


@pytest.mark.django_db(transaction=True)  # the signal is sent on commit
def test_no_signal_when_the_transaction_rolls_back(people, actors, events):
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.register_in_migrant(
            actors["clerk_a1"], residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 1, 10),
            origin_code=ORIGIN, reason="work", name="陈建国", sex="M", birth_date=date(1988, 6, 1))
        raise RuntimeError("roll back")
    assert events == [] and not InMigrant.objects.exists()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"origin_code": "999999"}, "origin_code"),
    ({"origin_code": "110105"}, "origin_code"),  # the test county itself
    ({"origin_code": "41010"}, "origin_code"),
    ({"reason": "holiday"}, "reason"),
    ({"arrival_date": None}, "arrival_date"),
    ({"residence_unit_code": "110105001000"}, "residence_unit"),
    ({"name": ""}, "name"),
])
def test_refusals_name_the_field_and_change_nothing(people, actors, kwargs, field):
    base = dict(residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 1, 10), origin_code=ORIGIN,
                reason="work", name="陈建国", sex="M", birth_date=date(1988, 6, 1))
    before = Person.objects.count(), AuditRecord.objects.count()
    with pytest.raises(RegistryError) as exc:
        actions.register_in_migrant(actors["clerk_a1"], **{**base, **kwargs})
    assert exc.value.field == field
    assert exc.value.message_zh and exc.value.message_en
    assert (Person.objects.count(), AuditRecord.objects.count()) == before


def test_permissions_and_jurisdiction(people, actors):
    base = dict(arrival_date=date(2024, 1, 10), origin_code=ORIGIN, reason="work", name="陈建国",
                sex="M", birth_date=date(1988, 6, 1))
    with pytest.raises(JurisdictionError):
        actions.register_in_migrant(actors["clerk_a1"], residence_unit_code=VILLAGE_B1, **base)
    with pytest.raises(PermissionDeniedError):
        actions.register_in_migrant(actors["statistician"], residence_unit_code=VILLAGE_A1, **base)
    assert actions.register_in_migrant(actors["officer_a"], residence_unit_code=VILLAGE_A2, **base)


@pytest.mark.django_db(transaction=True)  # the signal is sent on commit
def test_move_and_depart(events, migrant, actors):
    clerk = actors["officer_a"]
    m = actions.move_in_migrant(clerk, migrant, residence_unit_code=VILLAGE_A2, move_date=date(2024, 6, 1),
                                address="西关2号")
    p = Person.objects.get(pk=m.person_id)
    assert p.residence_unit_id == VILLAGE_A2 and m.address == "西关2号"
    with pytest.raises(MigrantError):  # nothing changes
        actions.move_in_migrant(clerk, m, residence_unit_code=VILLAGE_A2, move_date=date(2024, 6, 2))
    m = actions.depart_in_migrant(clerk, m, departure_date=date(2024, 9, 1), destination_code=OTHER_COUNTY)
    p.refresh_from_db()
    assert m.status == "departed" and p.status == "emigrated"
    assert p.residence_unit_id == OTHER_COUNTY + "000000"
    assert [k for k, _, _ in events] == ["migrant_registered", "migrant_moved", "migrant_departed"]
    assert events[-1][2]["departure_destination"] == OTHER_COUNTY + "000000"
    kinds = list(MigrantHistory.objects.filter(person=p).values_list("kind", flat=True))
    assert kinds == ["in_registered", "in_moved", "in_departed"]
    with pytest.raises(MigrantError):
        actions.depart_in_migrant(clerk, m, departure_date=date(2024, 9, 2))


@pytest.mark.django_db(transaction=True)  # the signal is sent on commit
def test_permit_conditions_issue_refuse_and_renew(events, migrant, actors):
    clerk = actors["clerk_a1"]
    early = actions.issue_permit(clerk, migrant, applied_on=date(2024, 5, 1), condition="work", evidence="")
    assert early.status == PermitStatus.REFUSED and early.number is None
    assert {r["field"] for r in early.refusal_reasons} == {"applied_on", "evidence"}
    assert all(r["zh"] and r["en"] for r in early.refusal_reasons)
    assert not [k for k, _, _ in events if k == "permit_issued"]
    permit = actions.issue_permit(clerk, migrant, applied_on=date(2024, 7, 10), condition="housing",
                                  evidence="租房合同", issue_date=date(2024, 7, 20))
    assert permit.status == PermitStatus.ISSUED
    assert permit.expiry_date == date(2025, 7, 20) and permit.number.startswith("1101052024")
    assert events[-1][0] == "permit_issued" and events[-1][2]["permit_number"] == permit.number
    with pytest.raises(MigrantError) as exc:  # a second valid one
        actions.issue_permit(clerk, migrant, applied_on=date(2024, 8, 1), condition="work", evidence="合同")
    assert exc.value.field == "in_migrant"
    with pytest.raises(MigrantError) as exc:  # too early to renew
        actions.renew_permit(clerk, permit, renewed_on=date(2025, 5, 1))
    assert exc.value.field == "renewed_on"
    permit = actions.renew_permit(clerk, permit, renewed_on=date(2025, 7, 1))
    assert permit.expiry_date == date(2026, 7, 20) and permit.renewals == 1
    assert AuditRecord.objects.filter(action="migrant_permit_renew").count() == 1


def test_record_whereabouts(people, actors):
    mother = people["mother"]
    om = actions.record_whereabouts(
        actors["clerk_a1"], mother, residence_unit_code="320582101001", residence_unit_name="张家港某村",
        employer="某厂", contact="139", confirmed_on=date(2025, 3, 1), source="own_report")
    mother.refresh_from_db()
    assert mother.residence_type == "floating_out" and mother.residence_unit_id == "320582101001"
    assert AdminUnit.objects.get(code="320582101001").level == "external"
    assert (om.destination_code, om.employer, om.last_confirmed, om.source) == (
        "320582101001", "某厂", date(2025, 3, 1), "own_report")
    # a later confirmation by notification updates; an older one is refused
    om = actions.record_whereabouts(actors["admin"], mother, residence_unit_code="320582",
                                    confirmed_on=date(2025, 6, 1), source="notification")
    assert om.destination_code == "320582000000" and OutMigrant.objects.count() == 1
    with pytest.raises(MigrantError) as exc:
        actions.record_whereabouts(actors["admin"], mother, residence_unit_code="320582",
                                   confirmed_on=date(2025, 5, 1), source="notification")
    assert exc.value.field == "confirmed_on"
    with pytest.raises(JurisdictionError):
        actions.record_whereabouts(actors["clerk_b1"], mother, residence_unit_code="320582",
                                   confirmed_on=date(2025, 7, 1), source="campaign")
    with pytest.raises(MigrantError) as exc:
        actions.record_whereabouts(actors["admin"], mother, residence_unit_code="320582",
                                   confirmed_on=date(2025, 7, 1), source="rumour")
    assert exc.value.field == "source"
    assert AuditRecord.objects.filter(action="migrant_whereabouts", target_type="OutMigrant").count() == 2


def test_places_and_occupants(migrant, actors):
    clerk = actors["clerk_a1"]
    place = actions.save_place(clerk, kind="rental", name="王家出租屋", address="东关村7号", unit_code=VILLAGE_A1,
                               contact_name="王房东", contact_phone="135", agreement_signed=date(2024, 1, 1),
                               agreement_expires=date(2026, 1, 1))
    with pytest.raises(MigrantError) as exc:
        actions.save_place(clerk, kind="rental", name="x", address="y", unit_code=VILLAGE_A1, contact_name="z",
                           agreement_signed=date(2024, 1, 1), agreement_expires=date(2023, 1, 1))
    assert exc.value.field == "agreement_expires"
    m = actions.move_in_migrant(clerk, migrant, residence_unit_code=VILLAGE_A1, move_date=date(2024, 3, 1),
                                place=place)
    occ = PlaceOccupant.objects.get(place=place, person_id=m.person_id)
    assert occ.reported_on is None and occ.since == date(2024, 3, 1) and occ.role == "tenant"
    occ = actions.report_occupant(clerk, place, m.person_id, since=date(2024, 3, 1),
                                  reported_on=date(2024, 3, 2))
    assert occ.reported_on == date(2024, 3, 2)
    rec = AuditRecord.objects.filter(action="migrant_occupant").latest("id")
    assert rec.detail["late"] is False
    occ = actions.end_occupant(clerk, occ, until=date(2024, 5, 1))
    assert occ.until == date(2024, 5, 1)
    assert actions.report_days() == 3


@pytest.mark.parametrize("name", ["register_in_migrant", "move_in_migrant", "depart_in_migrant", "issue_permit",
                                  "renew_permit", "record_whereabouts", "record_whereabouts_unknown",
                                  "save_place", "report_occupant", "end_occupant"])
def test_every_action_writes_an_audit_record_and_history(name, migrant, people, actors):
    """The registry's test covers the ``do_*`` actions; these are named for the interface."""
    admin = actors["admin"]
    place = actions.save_place(admin, kind="employer", name="砖厂", address="东关", unit_code=VILLAGE_A1,
                               contact_name="厂长")
    permit = actions.issue_permit(admin, migrant, applied_on=date(2024, 8, 1), condition="work", evidence="合同",
                                  issue_date=date(2024, 8, 2))
    occ = actions.report_occupant(admin, place, migrant.person_id, since=date(2024, 2, 1),
                                  reported_on=date(2024, 2, 20))
    actions.record_whereabouts(admin, people["mother"], residence_unit_code="320582",
                               confirmed_on=date(2025, 1, 1), source="own_report")
    calls = {
        "register_in_migrant": lambda: actions.register_in_migrant(
            admin, residence_unit_code=VILLAGE_A2, arrival_date=date(2024, 1, 1), origin_code=ORIGIN,
            reason="study", name="学生", sex="F", birth_date=date(2005, 1, 1)),
        "move_in_migrant": lambda: actions.move_in_migrant(admin, migrant, residence_unit_code=VILLAGE_A2,
                                                           move_date=date(2024, 5, 1)),
        "depart_in_migrant": lambda: actions.depart_in_migrant(admin, migrant, departure_date=date(2024, 9, 1)),
        "issue_permit": lambda: actions.issue_permit(admin, migrant, applied_on=date(2026, 1, 1),
                                                     condition="housing", evidence="房产证"),
        "renew_permit": lambda: actions.renew_permit(admin, permit, renewed_on=date(2025, 7, 20)),
        "record_whereabouts": lambda: actions.record_whereabouts(
            admin, people["mother"], residence_unit_code="330102", confirmed_on=date(2025, 2, 1),
            source="notification"),
        "record_whereabouts_unknown": lambda: actions.record_whereabouts_unknown(
            admin, people["mother"], left_on=date(2025, 3, 1), source="notification"),
        "save_place": lambda: actions.save_place(admin, place, kind="employer", name="新砖厂", address="东关",
                                                 unit_code=VILLAGE_A1, contact_name="厂长"),
        "report_occupant": lambda: actions.report_occupant(admin, place, people["mother"], since=date(2025, 1, 1),
                                                           reported_on=date(2025, 1, 2)),
        "end_occupant": lambda: actions.end_occupant(admin, occ, until=date(2024, 6, 1)),
    }
    last = AuditRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    history = MigrantHistory.objects.count()
    calls[name]()
    actions_written = list(AuditRecord.objects.filter(pk__gt=last).values_list("action", flat=True))
    assert actions_written and all(a.startswith("migrant_") for a in actions_written), actions_written
    assert MigrantHistory.objects.count() > history


def test_record_whereabouts_unknown(people, actors):
    mother = people["mother"]
    actions.record_whereabouts(actors["admin"], mother, residence_unit_code="320582101001",
                               confirmed_on=date(2025, 3, 1), source="own_report")
    om = actions.record_whereabouts_unknown(actors["admin"], mother, left_on=date(2025, 4, 1),
                                            source="notification")
    mother.refresh_from_db()
    assert mother.residence_type == "floating_out" and mother.residence_unit_id is None
    assert om.destination_code == "" and om.last_confirmed == date(2025, 3, 1)
