"""The review queue of incoming notifications: decisions (accept a candidate, link another
person, reject), their audit and reply, who may decide, and the pages in both languages."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.exchange import inbox, review
from popreg.exchange.models import Channel, InboxMessage, OutboxMessage
from popreg.registry.models import AuditRecord, Person
from tests.bilingual import check_bilingual
from tests.conftest import PASSWORD, VILLAGE_A1, VILLAGE_B1, make_id
from tests.exchange.conftest import PEER

PEER_UNIT = "330102001001"


@pytest.fixture(autouse=True)
def _no_delivery(monkeypatch):
    monkeypatch.setattr("popreg.exchange.outbox._start_delivery", lambda: None)


def _register(admin, name, sex, birth, unit, seq):
    from popreg.registry import actions

    hh = actions.do_create_household(admin, unit_code=unit, address="测试地址")
    return actions.do_register_birth(admin, name=name, sex=sex, birth_date=birth, registered_unit_code=unit,
                                     household=hh, id_number=make_id(birth, sex, seq))


@pytest.fixture
def namesakes(actors, peer, remote):
    """Two 刘洋 born the same day (villages A1 and B1) and a notification naming one of
    them without an ID number: it waits for review with both as candidates."""
    admin = actors["admin"]
    a = _register(admin, "刘洋", "M", date(1990, 3, 3), VILLAGE_A1, 21)
    b = _register(admin, "刘洋", "M", date(1990, 3, 3), VILLAGE_B1, 22)
    msg = remote.message("migrant_registered", subject={"name": "刘洋", "sex": "M", "birth_date": "1990-03-03"},
                         payload={"residence_unit": PEER_UNIT, "residence_unit_name": "湖滨某社区", "ref": "5"})
    assert inbox.receive(remote.sign(msg), Channel.HTTP).status == "review"
    return {"a": a, "b": b, "message": InboxMessage.objects.get(message_id=msg.id)}


@pytest.mark.django_db
def test_accepting_a_candidate_applies_the_message_and_replies(namesakes, actors):
    m, a = namesakes["message"], namesakes["a"]
    review.do_accept_candidate(actors["admin"], m.pk, a.pk)
    m.refresh_from_db()
    a.refresh_from_db()
    assert m.status == "applied" and m.person_id == a.pk and m.reviewed_by.username == "admin"
    assert a.residence_type == "floating_out" and a.residence_unit_id == PEER_UNIT
    assert a.out_migration.source == "notification"
    reply = OutboxMessage.objects.get(in_reply_to=m.message_id)
    assert reply.recipient == PEER and reply.type == "record_corrected"  # we hold the ID number
    assert reply.payload["corrected"] == {"id_number": a.id_number} and reply.payload["your_ref"] == "5"
    rec = AuditRecord.objects.get(action="exchange_review_accept")
    assert rec.actor_name == "admin" and rec.detail["reply"] == "record_corrected"
    # decided once: a second decision is refused
    with pytest.raises(review.ReviewError, match="already been decided"):
        review.do_reject_message(actors["admin"], m.pk, "重复")


@pytest.mark.django_db
def test_accept_refuses_a_person_who_is_not_a_candidate(namesakes, actors, people):
    m = namesakes["message"]
    with pytest.raises(review.ReviewError, match="not a candidate"):
        review.do_accept_candidate(actors["admin"], m.pk, people["other"].pk)
    m.refresh_from_db()
    assert m.status == "review"


@pytest.mark.django_db
def test_linking_another_person_needs_a_reason_and_the_right_kind_of_record(namesakes, actors):
    m = namesakes["message"]
    c = _register(actors["admin"], "刘阳", "M", date(1990, 3, 3), VILLAGE_A1, 30)
    with pytest.raises(review.ReviewError, match="reason"):
        review.do_link_person(actors["admin"], m.pk, c.pk, " ")
    Person.objects.filter(pk=c.pk).update(residence_type="floating_in")
    with pytest.raises(review.ReviewError, match="wrong kind of person"):
        review.do_link_person(actors["admin"], m.pk, c.pk, "电话核实")
    Person.objects.filter(pk=c.pk).update(residence_type="registered")
    review.do_link_person(actors["admin"], m.pk, c.pk, "电话核实为同一人")
    m.refresh_from_db()
    assert m.status == "applied" and m.person_id == c.pk
    assert AuditRecord.objects.get(action="exchange_review_link").detail["reason"] == "电话核实为同一人"
    assert OutboxMessage.objects.filter(in_reply_to=m.message_id).count() == 1


@pytest.mark.django_db
def test_rejecting_changes_nothing_and_sends_no_reply(namesakes, actors):
    m = namesakes["message"]
    with pytest.raises(review.ReviewError, match="reason"):
        review.do_reject_message(actors["officer_a"], m.pk, "")
    review.do_reject_message(actors["officer_a"], m.pk, "对方信息不足")
    m.refresh_from_db()
    assert m.status == "rejected" and m.reason == "对方信息不足"
    assert not OutboxMessage.objects.filter(in_reply_to=m.message_id).exists()
    assert Person.objects.filter(residence_type="floating_out").count() == 0
    assert AuditRecord.objects.filter(action="exchange_review_reject", actor_name="officer_a").exists()


@pytest.mark.django_db
def test_township_officer_decides_within_the_jurisdiction_only(namesakes, actors):
    m, a, b = namesakes["message"], namesakes["a"], namesakes["b"]
    officer = actors["officer_a"]  # township A: candidate a is inside, b outside
    assert review.message_in_scope(officer, m)
    with pytest.raises(review.ReviewError, match="outside your jurisdiction"):
        review.do_accept_candidate(officer, m.pk, b.pk)
    review.do_accept_candidate(officer, m.pk, a.pk)
    # a clerk (no review permission) and a message whose candidates are all in township B
    from popreg.registry.errors import PermissionDeniedError

    other = InboxMessage.objects.create(message_id="01OTHER", sender=PEER, type="migrant_registered",
                                        status="review", candidates=[{"person_id": b.pk, "registered_unit": VILLAGE_B1}])
    assert review.review_queue(officer) == []
    with pytest.raises(review.ReviewError, match="jurisdiction"):
        review.do_reject_message(officer, other.pk, "x")
    with pytest.raises(PermissionDeniedError):
        review.do_reject_message(actors["clerk_a1"], other.pk, "x")


@pytest.mark.django_db
def test_review_pages_in_both_languages(client, users, namesakes):
    m = namesakes["message"]
    client.login(username="admin", password=PASSWORD)
    check_bilingual(client, "/exchange/review/", ["Notifications to review"], ["待处理的来件通知"])
    assert "刘洋" in client.get("/exchange/review/").content.decode()
    check_bilingual(client, f"/exchange/review/{m.pk}/",
                    ["The notification and the candidates side by side", "Candidate 2", "Accept this person",
                     "same characters", "Reject the notification"],
                    ["来件通知与候选人员对照", "候选人员 2", "确认为此人", "字形相同", "驳回该通知"])
    check_bilingual(client, f"/exchange/review/{m.pk}/", ["Link this person"], ["关联此人"], q="刘洋")


@pytest.mark.django_db
def test_review_page_decisions_and_errors(client, users, namesakes):
    m, a = namesakes["message"], namesakes["a"]
    client.login(username="officer_a", password=PASSWORD)
    page = client.get(f"/exchange/review/{m.pk}/").content.decode()
    # the candidate in township B is not shown to township A's officer
    from popreg.core.privacy import mask_id

    assert a.id_number in page
    assert namesakes["b"].id_number not in page and mask_id(namesakes["b"].id_number) not in page
    assert "Candidate 2" not in page and "候选人员 2" not in page
    r = client.post(f"/exchange/review/{m.pk}/reject/", {"reason": ""})
    assert r.status_code == 400 and "驳回理由" in r.content.decode()
    r = client.post(f"/exchange/review/{m.pk}/accept/", {"person": a.pk})
    assert r.status_code == 302
    m.refresh_from_db()
    assert m.status == "applied"
    client.login(username="clerk_a1", password=PASSWORD)
    assert client.get("/exchange/review/").status_code == 403


@pytest.mark.django_db
def test_unmatched_reply_is_linked_by_hand_to_one_of_our_in_migrants(client, users, actors, peer, remote,
                                                                   django_capture_on_commit_callbacks):
    """A reply about nobody we can find: the county reviewer searches our in-migrants and
    links one; the correction is applied to that record."""
    from popreg.migrants import actions as migrants

    with django_capture_on_commit_callbacks(execute=True):
        m = migrants.register_in_migrant(
            actors["admin"], residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 3, 1),
            origin_code=PEER_UNIT, reason="work", name="孙丽", sex="F", birth_date=date(1991, 4, 5),
        )
    msg = remote.message("record_corrected", subject={"name": "孙莉莉", "birth_date": "1981-01-01"},
                         payload={"corrected": {"name": "孙俪"}, "registered_unit": PEER_UNIT})
    assert inbox.receive(remote.sign(msg), Channel.HTTP).status == "unmatched"
    row = InboxMessage.objects.get(message_id=msg.id)
    client.login(username="admin", password=PASSWORD)
    page = client.get(f"/exchange/review/{row.pk}/", {"q": "孙丽"}).content.decode()
    assert "本地没有与该通知相近的人员" in page and "按身份证号或姓名查找本地流入人员" in page
    assert f'name="person" value="{m.person_id}"' in page
    r = client.post(f"/exchange/review/{row.pk}/link/", {"person": m.person_id, "reason": "电话核实"})
    assert r.status_code == 302
    m.person.refresh_from_db()
    assert m.person.name == "孙俪"
    assert AuditRecord.objects.filter(action="exchange_review_link").exists()


@pytest.mark.django_db
def test_a_reply_cannot_be_linked_to_someone_from_a_third_county(actors, peer, remote):
    from popreg.migrants import actions as migrants

    m = migrants.register_in_migrant(
        actors["admin"], residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 3, 1),
        origin_code="440103001001", reason="work", name="孙丽", sex="F", birth_date=date(1991, 4, 5),
    )
    msg = remote.message("whereabouts_confirmed", subject={"name": "孙丽"}, payload={})
    inbox.receive(remote.sign(msg), Channel.HTTP)
    row = InboxMessage.objects.get(message_id=msg.id)
    with pytest.raises(review.ReviewError, match="own people"):
        review.do_link_person(actors["admin"], row.pk, m.person_id, "猜测")
