"""What incoming messages do: linking subjects to local persons, the effect of each type,
the replies, backfill and the notifications of migrant events (popreg.exchange.apply,
backfill, notify).  Messages go through the real transport (signed by a test peer,
``inbox.receive``); delivery of the replies is not started."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from popreg.core.idnumber import compose
from popreg.exchange import inbox
from popreg.exchange.models import Channel, InboxMessage, OutboxMessage
from popreg.registry.models import AuditRecord, Person
from tests.conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1, make_id
from tests.exchange.conftest import PEER

PEER_UNIT = "330102001001"  # a village of the peer county, where our out-migrants live


@pytest.fixture(autouse=True)
def _no_delivery(monkeypatch):
    """Replies are only queued here; delivery is the transport's (and its tests')."""
    monkeypatch.setattr("popreg.exchange.outbox._start_delivery", lambda: None)


def _register(admin, name, sex, birth, unit=VILLAGE_A1, seq=10, id_number=True):
    from popreg.registry import actions

    hh = actions.do_create_household(admin, unit_code=unit, address="测试地址")
    return actions.do_register_birth(
        admin, name=name, sex=sex, birth_date=birth, registered_unit_code=unit, household=hh,
        id_number=make_id(birth, sex, seq) if id_number else None,
    )


def _send(remote, type="migrant_registered", *, subject, payload=None, in_reply_to=None):
    msg = remote.message(type, subject=subject,
                         payload=payload if payload is not None else
                         {"residence_unit": PEER_UNIT, "residence_unit_name": "湖滨街道某社区",
                          "employer": "某某公司", "contact": "13800000000", "ref": "77"},
                         in_reply_to=in_reply_to)
    receipt = inbox.receive(remote.sign(msg), Channel.BUNDLE)
    return receipt, InboxMessage.objects.get(sender=remote.code, message_id=msg.id)


def _mistype(number: str) -> str:
    """One digit of the sequence changed: the check character no longer fits."""
    digit = str((int(number[15]) + 3) % 10)
    return number[:15] + digit + number[16:]


@pytest.fixture
def registered(actors, peer):
    admin = actors["admin"]
    return {
        "wang": _register(admin, "王建国", "M", date(1980, 5, 6), seq=11),
        "zhang": _register(admin, "张伟", "M", date(1992, 7, 8), seq=12),
        "li": _register(admin, "李秀兰", "F", date(1975, 1, 20), unit=VILLAGE_B1, seq=13),
    }


@pytest.mark.django_db
def test_exact_id_links_records_whereabouts_and_confirms(registered, remote):
    wang = registered["wang"]
    receipt, row = _send(remote, subject={"id_number": wang.id_number, "name": "王建国", "sex": "M",
                                          "birth_date": "1980-05-06"})
    assert receipt.status == "applied", row.reason
    assert row.person_id == wang.pk
    wang.refresh_from_db()
    assert wang.residence_type == "floating_out"
    assert wang.residence_unit_id == PEER_UNIT and wang.residence_unit.level == "external"
    out = wang.out_migration
    assert out.source == "notification" and out.employer == "某某公司"
    assert out.last_confirmed == timezone.localtime(row.created).date()
    reply = OutboxMessage.objects.get(in_reply_to=row.message_id)
    assert reply.type == "whereabouts_confirmed" and reply.recipient == PEER
    assert reply.payload["registered_unit"] == VILLAGE_A1
    assert reply.payload["id_number"] == wang.id_number and reply.payload["your_ref"] == "77"


@pytest.mark.django_db
def test_mistyped_id_digit_with_matching_name_sex_birth_links_and_corrects(registered, remote):
    zhang = registered["zhang"]
    wrong = _mistype(zhang.id_number)
    receipt, row = _send(remote, subject={"id_number": wrong, "name": "张伟", "sex": "M",
                                          "birth_date": "1992-07-08"})
    assert receipt.status == "applied"
    assert row.person_id == zhang.pk
    assert row.candidates[0]["levels"]["id_number"].startswith("one typo")
    reply = OutboxMessage.objects.get(in_reply_to=row.message_id)
    assert reply.type == "record_corrected"
    assert reply.payload["corrected"] == {"id_number": zhang.id_number}
    assert reply.payload["previous"] == {"id_number": wrong}


@pytest.mark.django_db
def test_mistyped_id_alone_is_only_a_candidate(registered, remote):
    zhang = registered["zhang"]
    receipt, row = _send(remote, subject={"id_number": _mistype(zhang.id_number), "name": "赵强",
                                          "sex": "M", "birth_date": "1960-02-03"})
    assert receipt.status in ("review", "unmatched")
    zhang.refresh_from_db()
    assert zhang.residence_type == "registered"
    assert not OutboxMessage.objects.filter(in_reply_to=row.message_id).exists()


@pytest.mark.django_db
def test_traditional_name_without_id_links_on_name_sex_birth(registered, remote):
    li = registered["li"]
    receipt, row = _send(remote, subject={"id_number": "", "name": "李秀蘭", "sex": "F",
                                          "birth_date": "1975-01-20"})
    assert receipt.status == "applied", row.candidates
    assert row.person_id == li.pk
    reply = OutboxMessage.objects.get(in_reply_to=row.message_id)
    # our record holds the ID number the sender lacks, and the simplified name
    assert reply.type == "record_corrected"
    assert reply.payload["corrected"] == {"id_number": li.id_number, "name": "李秀兰"}


@pytest.mark.django_db
def test_two_namesakes_go_to_review_with_both_candidates(actors, peer, remote):
    admin = actors["admin"]
    a = _register(admin, "刘洋", "M", date(1990, 3, 3), seq=21)
    b = _register(admin, "刘洋", "M", date(1990, 3, 3), unit=VILLAGE_B1, seq=22)
    receipt, row = _send(remote, subject={"name": "刘洋", "sex": "M", "birth_date": "1990-03-03"})
    assert receipt.status == "review"
    assert {c["person_id"] for c in row.candidates} == {a.pk, b.pk}
    assert row.person_id is None
    assert Person.objects.filter(pk__in=[a.pk, b.pk], residence_type="floating_out").count() == 0
    assert not OutboxMessage.objects.filter(in_reply_to=row.message_id).exists()
    assert "候选" in row.reason and "candidates" in row.reason


@pytest.mark.django_db
def test_namesake_with_the_other_id_number_is_not_linked(actors, peer, remote):
    """Two valid ID numbers that differ are two people, whatever the name and birth say."""
    admin = actors["admin"]
    a = _register(admin, "刘洋", "M", date(1990, 3, 3), seq=21)
    other = make_id(date(1990, 3, 3), "M", 40)
    receipt, row = _send(remote, subject={"id_number": other, "name": "刘洋", "sex": "M",
                                          "birth_date": "1990-03-03"})
    assert receipt.status in ("review", "unmatched")
    assert all(c["probability"] < 0.4 for c in row.candidates)
    a.refresh_from_db()
    assert a.residence_type == "registered"


@pytest.mark.django_db
def test_unknown_subject_is_unmatched_and_changes_nothing(registered, remote):
    before = AuditRecord.objects.count()
    receipt, row = _send(remote, subject={"id_number": make_id(date(1970, 1, 1), "F", 99),
                                          "name": "欧阳娜娜", "sex": "F", "birth_date": "1970-01-01"})
    assert receipt.status == "unmatched"
    assert row.candidates == []
    assert AuditRecord.objects.count() == before
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_in_migrants_of_ours_are_not_linked_as_registered_persons(registered, remote):
    """A floating_in record here is someone registered elsewhere: never the subject of a
    notification about one of our registered persons."""
    wang = registered["wang"]
    Person.objects.filter(pk=wang.pk).update(residence_type="floating_in")
    receipt, _row = _send(remote, subject={"id_number": wang.id_number, "name": "王建国"})
    assert receipt.status == "unmatched"


@pytest.mark.django_db
def test_duplicate_message_is_applied_once(registered, remote):
    wang = registered["wang"]
    msg = remote.message("migrant_registered",
                         subject={"id_number": wang.id_number, "name": "王建国"},
                         payload={"residence_unit": PEER_UNIT})
    token = remote.sign(msg)
    assert inbox.receive(token, Channel.BUNDLE).status == "applied"
    assert inbox.receive(token, Channel.BUNDLE).status == "duplicate"
    assert OutboxMessage.objects.filter(in_reply_to=msg.id).count() == 1
    assert wang.out_migration.__class__.objects.filter(person=wang).count() == 1


@pytest.mark.django_db
def test_moved_then_departed(registered, remote):
    wang = registered["wang"]
    subject = {"id_number": wang.id_number, "name": "王建国"}
    _send(remote, subject=subject)
    receipt, row = _send(remote, "migrant_moved", subject=subject,
                         payload={"residence_unit": "330102002003", "ref": "77"})
    assert receipt.status == "applied"
    wang.refresh_from_db()
    assert wang.residence_unit_id == "330102002003"
    confirmed = wang.out_migration.last_confirmed
    receipt, row = _send(remote, "migrant_departed", subject=subject,
                         payload={"residence_unit": "330102002003", "departure_date": "2026-01-01"})
    assert receipt.status == "applied", row.reason
    wang.refresh_from_db()
    out = wang.out_migration
    out.refresh_from_db()
    assert wang.residence_type == "floating_out"
    assert out.destination_code == "" and out.last_confirmed == confirmed
    assert wang.residence_unit_id is None  # destination unknown
    assert AuditRecord.objects.filter(action="migrant_whereabouts", detail__unknown=True).exists()
    assert not OutboxMessage.objects.filter(in_reply_to=row.message_id).exists()


@pytest.mark.django_db
def test_sender_unit_outside_sender_county_falls_back_to_the_county(registered, remote):
    wang = registered["wang"]
    receipt, _row = _send(remote, subject={"id_number": wang.id_number, "name": "王建国"},
                          payload={"residence_unit": "440103001001"})
    assert receipt.status == "applied"
    wang.refresh_from_db()
    assert wang.residence_unit_id == PEER + "000000"


# --- at the place of residence ---------------------------------------------------------------


@pytest.fixture
def in_migrant(actors, peer, django_capture_on_commit_callbacks):
    """Someone registered in the peer county who lives in our village A2 (the signal of the
    registration is sent on commit: run it)."""
    from popreg.migrants import actions as migrants

    with django_capture_on_commit_callbacks(execute=True):
        m = migrants.register_in_migrant(
            actors["admin"], residence_unit_code=VILLAGE_A2, arrival_date=date(2024, 3, 1),
            origin_code=PEER_UNIT, reason="work", name="陈静", sex="F", birth_date=date(1995, 6, 15),
            id_number=compose("330102", date(1995, 6, 15), 2),
            employer="本县某厂", contact="13900000000",
        )
    return m.person


@pytest.mark.django_db
def test_registering_an_in_migrant_notifies_the_peer(in_migrant):
    msg = OutboxMessage.objects.get(type="migrant_registered")
    assert msg.recipient == PEER
    assert msg.subject["name"] == "陈静" and msg.subject["birth_date"] == "1995-06-15"
    assert msg.payload["residence_unit"] == VILLAGE_A2
    assert msg.payload["origin_code"] == PEER_UNIT
    assert msg.payload["employer"] == "本县某厂" and msg.payload["ref"] == str(in_migrant.pk)


@pytest.mark.django_db
def test_no_notification_without_a_trusted_peer_for_the_origin(actors, here, django_capture_on_commit_callbacks):
    from popreg.migrants import actions as migrants

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        migrants.register_in_migrant(
            actors["admin"], residence_unit_code=VILLAGE_A2, arrival_date=date(2024, 3, 1),
            origin_code="440103001001", reason="work", name="周明", sex="M", birth_date=date(1990, 1, 1),
        )
    assert callbacks  # the signal was sent
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_whereabouts_confirmed_marks_origin_confirmed(in_migrant, remote):
    from popreg.exchange.apply import origin_confirmed

    sent = OutboxMessage.objects.get(type="migrant_registered")
    receipt, row = _send(remote, "whereabouts_confirmed", subject=sent.subject, in_reply_to=sent.message_id,
                         payload={"registered_unit": PEER_UNIT, "registered_unit_name": "某村",
                                  "name": "陈静", "id_number": sent.subject["id_number"],
                                  "your_ref": sent.payload["ref"]})
    assert receipt.status == "applied", row.reason
    assert row.person_id == in_migrant.pk
    assert origin_confirmed(in_migrant).pk == row.pk
    assert AuditRecord.objects.filter(action="exchange_origin_confirmed", target_id=str(in_migrant.pk)).exists()


@pytest.mark.django_db
def test_record_corrected_corrects_the_in_migrant(in_migrant, remote):
    sent = OutboxMessage.objects.get(type="migrant_registered")
    fixed = compose("330102", date(1995, 6, 16), 2)
    receipt, row = _send(remote, "record_corrected", subject=sent.subject, in_reply_to=sent.message_id,
                         payload={"registered_unit": PEER_UNIT, "name": "陈晶",
                                  "corrected": {"name": "陈晶", "birth_date": "1995-06-16",
                                                "id_number": fixed},
                                  "previous": {"name": "陈静", "birth_date": "1995-06-15",
                                               "id_number": sent.subject["id_number"]},
                                  "your_ref": sent.payload["ref"]})
    assert receipt.status == "applied", row.reason
    in_migrant.refresh_from_db()
    assert in_migrant.name == "陈晶" and in_migrant.birth_date == date(1995, 6, 16)
    assert in_migrant.id_number == fixed
    assert list(in_migrant.events.values_list("event_type", flat=True)) == ["registration", "correction"]


@pytest.mark.django_db
def test_record_corrected_the_registry_refuses_goes_to_review(in_migrant, remote):
    sent = OutboxMessage.objects.get(type="migrant_registered")
    receipt, row = _send(remote, "record_corrected", subject=sent.subject, in_reply_to=sent.message_id,
                         payload={"corrected": {"birth_date": "1995-06-16"},
                                  "your_ref": sent.payload["ref"]})
    assert receipt.status == "review"
    assert "出生日期" in row.reason and "birth date" in row.reason
    in_migrant.refresh_from_db()
    assert in_migrant.birth_date == date(1995, 6, 15)
    assert list(in_migrant.events.values_list("event_type", flat=True)) == ["registration"]


@pytest.mark.django_db
def test_reply_about_nobody_here_goes_to_review(in_migrant, remote):
    receipt, row = _send(remote, "whereabouts_confirmed",
                         subject={"id_number": "", "name": "不存在", "birth_date": "1950-01-01"},
                         payload={"registered_unit": PEER_UNIT, "your_ref": "999999"})
    assert receipt.status == "unmatched"


# --- backfill ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_backfill_queues_each_in_migrant_once(in_migrant, actors, django_capture_on_commit_callbacks):
    import io

    from popreg.exchange.backfill import backfill
    from popreg.migrants import actions as migrants

    with django_capture_on_commit_callbacks(execute=True):
        migrants.register_in_migrant(
            actors["admin"], residence_unit_code=VILLAGE_B1, arrival_date=date(2023, 5, 1),
            origin_code="330102003004", reason="family", name="徐丽", sex="F",
            birth_date=date(1988, 8, 8),
        )
    # the live notifications of the registrations are there: backfill adds nothing
    assert OutboxMessage.objects.filter(type="migrant_registered").count() == 2
    out = io.StringIO()
    assert backfill(PEER, out) == 0
    assert "queued 0" in out.getvalue()
    OutboxMessage.objects.all().delete()
    assert backfill(PEER, out) == 2
    assert backfill(PEER, out) == 0
    msgs = OutboxMessage.objects.filter(type="migrant_registered").order_by("id")
    assert [m.subject["name"] for m in msgs] == ["陈静", "徐丽"]
    assert msgs[1].payload["residence_unit"] == VILLAGE_B1 and msgs[1].payload["reason"] == "family"
    assert AuditRecord.objects.filter(action="exchange_backfill").count() == 3


@pytest.mark.django_db
def test_backfill_refuses_an_untrusted_code(here):
    from popreg.exchange.backfill import backfill
    from popreg.exchange.peers import ExchangeError

    with pytest.raises(ExchangeError, match="trusted peer"):
        backfill("440103", None)


@pytest.mark.django_db
def test_notification_older_than_the_recorded_confirmation_changes_nothing_but_replies(registered, remote, actors):
    from popreg.migrants import actions as migrants

    wang = registered["wang"]
    later = timezone.localdate()
    migrants.record_whereabouts(actors["admin"], wang, residence_unit_code="440103001001", confirmed_on=later,
                                source="own_report")
    old = remote.message("migrant_registered", subject={"id_number": wang.id_number, "name": "王建国", "sex": "M",
                                                        "birth_date": "1980-05-06"},
                         payload={"residence_unit": PEER_UNIT},
                         created=timezone.now() - timezone.timedelta(days=40))
    assert inbox.receive(remote.sign(old), Channel.BUNDLE).status == "applied"
    wang.refresh_from_db()
    assert wang.residence_unit_id == "440103001001" and wang.out_migration.source == "own_report"
    assert OutboxMessage.objects.get(in_reply_to=old.id).type == "whereabouts_confirmed"


@pytest.mark.django_db
def test_a_peer_answers_only_for_its_own_people(actors, peer, remote, django_capture_on_commit_callbacks):
    """A reply about an in-migrant from a third county (a guessed reference) finds nobody."""
    from popreg.migrants import actions as migrants

    m = migrants.register_in_migrant(
        actors["admin"], residence_unit_code=VILLAGE_A2, arrival_date=date(2024, 3, 1),
        origin_code="440103001001", reason="work", name="周明", sex="M", birth_date=date(1990, 1, 1),
    )
    receipt, _row = _send(remote, "record_corrected", subject={"name": "周明", "birth_date": "1990-01-01"},
                          payload={"corrected": {"name": "周鸣"}, "your_ref": str(m.person_id)})
    assert receipt.status == "unmatched"
    m.person.refresh_from_db()
    assert m.person.name == "周明"


@pytest.mark.django_db
def test_a_given_name_character_left_out_still_links_on_the_id_number(registered, remote):
    """Seen between two synthetic counties: 徐倩艳 registered, 徐艳 where she lives."""
    li = registered["li"]  # 李秀兰
    receipt, row = _send(remote, subject={"id_number": li.id_number, "name": "李兰", "sex": "F",
                                          "birth_date": "1975-01-20"})
    assert receipt.status == "applied"
    assert row.candidates[0]["levels"]["name"] == "one given-name character differs"
    assert OutboxMessage.objects.get(in_reply_to=row.message_id).payload["corrected"] == {"name": "李秀兰"}
    # without the ID number a shortened name is not enough
    receipt, row = _send(remote, subject={"name": "李兰", "sex": "F", "birth_date": "1975-01-20"})
    assert receipt.status != "applied"


@pytest.mark.django_db
def test_change_of_address_and_departure_notify_the_peer(in_migrant, actors, django_capture_on_commit_callbacks):
    from popreg.migrants import actions as migrants
    from popreg.migrants.models import InMigrant

    m = InMigrant.objects.get(person=in_migrant)
    with django_capture_on_commit_callbacks(execute=True):
        migrants.move_in_migrant(actors["admin"], m.pk, residence_unit_code=VILLAGE_B1, move_date=date(2025, 1, 2))
    with django_capture_on_commit_callbacks(execute=True):
        migrants.depart_in_migrant(actors["admin"], m.pk, departure_date=date(2025, 6, 1))
    moved = OutboxMessage.objects.get(type="migrant_moved")
    assert moved.recipient == PEER and moved.payload["residence_unit"] == VILLAGE_B1
    departed = OutboxMessage.objects.get(type="migrant_departed")
    assert departed.payload["departure_date"] == "2025-06-01"
    assert departed.subject == moved.subject and departed.payload["ref"] == str(in_migrant.pk)


@pytest.mark.django_db
def test_permit_issued_locates_the_person_like_a_registration(registered, remote):
    zhang = registered["zhang"]
    receipt, row = _send(remote, "permit_issued",
                         subject={"id_number": zhang.id_number, "name": "张伟", "sex": "M", "birth_date": "1992-07-08"},
                         payload={"residence_unit": PEER_UNIT, "permit_number": "330102-2026-000001",
                                  "issue_date": "2026-01-05", "expiry_date": "2027-01-04"})
    assert receipt.status == "applied"
    zhang.refresh_from_db()
    assert zhang.residence_type == "floating_out" and zhang.residence_unit_id == PEER_UNIT
    assert OutboxMessage.objects.get(in_reply_to=row.message_id).type == "whereabouts_confirmed"


@pytest.mark.django_db
def test_departure_does_not_undo_newer_or_other_whereabouts(registered, remote, actors):
    from popreg.migrants import actions as migrants

    wang, zhang = registered["wang"], registered["zhang"]
    # wang lives in a third county (own report): a departure from the peer's place changes nothing
    migrants.record_whereabouts(actors["admin"], wang, residence_unit_code="440103001001",
                                confirmed_on=timezone.localdate(), source="own_report")
    receipt, row = _send(remote, "migrant_departed", subject={"id_number": wang.id_number, "name": "王建国"},
                         payload={"residence_unit": PEER_UNIT})
    assert receipt.status == "applied" and row.detail["whereabouts"] == "unchanged"
    wang.refresh_from_db()
    assert wang.residence_unit_id == "440103001001"
    # zhang lives at home (registered): not made an out-migrant by a departure
    receipt, row = _send(remote, "migrant_departed", subject={"id_number": zhang.id_number, "name": "张伟"},
                         payload={"residence_unit": PEER_UNIT})
    zhang.refresh_from_db()
    assert zhang.residence_type == "registered"
