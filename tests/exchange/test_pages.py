"""Transport pages in both languages, permissions, and the inbox endpoint (through the
test client; the real HTTP path is tests/exchange/test_loopback.py)."""

from __future__ import annotations

import json

import pytest

from popreg.core.privacy import mask_id
from popreg.exchange import crypto, outbox
from popreg.exchange.models import InboxMessage, InboxStatus, OutboxMessage

from ..bilingual import check_bilingual
from .conftest import HERE, PEER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_handlers")]

ID = "330102199001011234"


def _post(client, token):
    return client.post("/exchange/inbox/", data=token, content_type="application/jose")


def test_endpoint_answers_signed_ack_and_refusals(client, peer, remote, stranger, recording_handler):
    msg = remote.message()
    r = _post(client, remote.sign(msg))
    assert r.status_code == 200 and r["Content-Type"] == "application/jose"
    _h, payload = crypto.verify_compact(r.content.decode(), crypto.public_from_jwk(peer_identity_jwk()))
    ack = json.loads(payload)
    assert ack["type"] == "ack" and ack["in_reply_to"] == msg.id and ack["payload"]["status"] == "applied"
    assert ack["sender"] == HERE and ack["recipient"] == PEER
    # a duplicate is acknowledged again, not applied again
    r2 = _post(client, remote.sign(msg))
    assert r2.status_code == 200
    assert json.loads(crypto.split_compact(r2.content.decode())[1])["payload"]["status"] == "duplicate"
    assert recording_handler == [msg.id]
    # unknown sender: 403 with the reason in both languages, recorded
    r3 = _post(client, stranger.sign(stranger.message()))
    assert r3.status_code == 403
    body = r3.json()
    assert "not a trusted peer" in body["reason_en"] and "不是受信任" in body["reason_zh"]
    assert InboxMessage.objects.filter(status=InboxStatus.REFUSED).count() == 1
    assert client.get("/exchange/inbox/").status_code == 405


def peer_identity_jwk():
    from popreg.exchange.peers import local_identity

    return local_identity().public_jwk


def test_pages_bilingual_and_id_masked(client, users, peer, remote, recording_handler):
    from popreg.exchange import inbox

    inbox.receive(remote.sign(remote.message(subject={"id_number": ID, "name": "王芳"})))
    inbox.receive("garbage")
    out = outbox.queue(PEER, "whereabouts_confirmed", {"id_number": ID, "name": "李四"}, {"unit": "x"})
    client.force_login(users["admin"])
    check_bilingual(client, "/exchange/", ["Exchange with other counties", "Status per peer", "Applied 1"],
                    ["与外县交换", "各对端状态", "已处理 1"])
    check_bilingual(client, "/exchange/outbox/?status=pending", ["Outbox: messages to other counties", "Whereabouts confirmed"],
                    ["发件箱：发往外县的消息", "确认去向", "待发送"])
    check_bilingual(client, "/exchange/received/?status=refused", ["Inbox: messages from other counties", "Refused"],
                    ["收件箱：外县发来的消息", "拒收", "发送方"])
    row = InboxMessage.objects.get(status=InboxStatus.APPLIED)
    page = client.get(f"/exchange/received/{row.pk}/").content.decode()
    assert mask_id(ID) in page and ID not in page
    assert "居住地单位代码" in page and "residence_unit" not in page and "id_number" not in page
    page = client.get(f"/exchange/outbox/{out.pk}/").content.decode()
    assert mask_id(ID) in page and ID not in page
    # filters narrow the lists
    assert "王芳" not in client.get("/exchange/received/", {"status": "refused"}).content.decode()


def test_permissions(client, users, peer):
    client.force_login(users["clerk_a1"])
    assert client.get("/exchange/").status_code == 403
    client.force_login(users["auditor"])
    assert client.get("/exchange/").status_code == 200
    assert client.post("/exchange/requeue/").status_code == 403
    client.force_login(users["admin"])
    OutboxMessage.objects.create(message_id="01JDQ0000000000000000000AA", recipient=PEER, type="ack",
                                 created="2026-01-01T00:00Z", next_attempt_at="2026-01-01T00:00Z", status="failed")
    r = client.post("/exchange/requeue/")
    assert r.status_code == 302
    assert OutboxMessage.objects.get().status == "pending"


def test_deliver_button_runs_the_delivery_job(client, users, peer, settings):
    """The job runs at once in tests; the peer's address refuses connections, so the message
    stays pending with one attempt, the error and a later next attempt."""
    from popreg.registry.job_models import Job

    msg = outbox.queue(PEER, "whereabouts_confirmed", {"id_number": ID, "name": "李四"}, {})
    client.force_login(users["admin"])
    r = client.post("/exchange/deliver/")
    assert r.status_code == 302
    job = Job.objects.get(kind="exchange_deliver")
    assert job.state == "succeeded" and job.result == {"acked": 0, "retry": 1, "failed": 0}
    msg.refresh_from_db()
    assert msg.status == "pending" and msg.attempts == 1 and "cannot reach" in msg.last_error
    assert msg.next_attempt_at > msg.last_attempt_at and msg.token
    page = client.get("/exchange/").content.decode()
    assert "cannot reach" in page or "无法连接对端" in page
