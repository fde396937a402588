"""Taking in messages: refusals with their reason, duplicates, stale updates, acks, and
the outbox queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from popreg.exchange import handlers, inbox, outbox
from popreg.exchange.handlers import Outcome
from popreg.exchange.models import InboxMessage, InboxStatus, OutboxMessage, OutboxStatus
from popreg.exchange.peers import ExchangeError, local_code, peer_for_unit, trusted_peers
from popreg.registry.errors import RegistryError

from .conftest import HERE, PEER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_handlers")]


def test_valid_message_is_applied_once_and_duplicate_only_counted(peer, remote, recording_handler):
    token = remote.sign(remote.message())
    first = inbox.receive(token)
    assert first.status == "applied"
    again = inbox.receive(token)
    assert again.status == "duplicate" and again.detail == {"first_status": "applied"}
    assert recording_handler == [first.message.id]  # applied once
    row = InboxMessage.objects.get()
    assert row.status == InboxStatus.APPLIED and row.duplicate_count == 1
    assert row.sender == PEER and row.subject["name"] == "王芳"


def test_older_update_for_same_subject_is_stale(peer, remote, recording_handler):
    now = timezone.now()
    newer = remote.message(created=now)
    older = remote.message(created=now - timedelta(minutes=5))
    assert inbox.receive(remote.sign(newer)).status == "applied"
    r = inbox.receive(remote.sign(older))
    assert r.status == "stale" and "older than the update" in r.reason
    assert recording_handler == [newer.id]
    # another subject is independent
    other = remote.message(created=now - timedelta(hours=1), subject={"id_number": "330102198001011111", "name": "李"})
    assert inbox.receive(remote.sign(other)).status == "applied"


@pytest.mark.parametrize("case", ["unknown_sender", "bad_signature", "wrong_recipient", "malformed", "garbage"])
def test_refusals_are_recorded_with_reason(case, peer, remote, stranger, recording_handler):
    if case == "unknown_sender":
        token, why = stranger.sign(stranger.message()), "is not a trusted peer"
    elif case == "bad_signature":
        token = remote.sign(remote.message())
        head, body, sig = token.split(".")
        token, why = f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}", "does not verify"
    elif case == "wrong_recipient":
        token, why = remote.sign(remote.message(recipient="440103")), "is not this deployment"
    elif case == "malformed":
        obj = remote.message().as_json()
        obj["type"] = "hello"
        token, why = remote.sign(obj), "unknown message type"
    else:
        token, why = "not a token", "compact JWS"
    r = inbox.receive(token)
    assert r.refused and why in r.reason
    row = InboxMessage.objects.get()
    assert row.status == InboxStatus.REFUSED and why in row.reason
    assert recording_handler == []


def test_handler_error_rolls_back_and_rejects(peer, remote):
    from popreg.registry.models import AdminUnit

    def broken(actor, message):
        AdminUnit.objects.filter(code__startswith="110105").update(name="changed")
        raise RegistryError("不行", "no good", "x")

    handlers.register("migrant_moved", broken)
    r = inbox.receive(remote.sign(remote.message("migrant_moved")))
    assert r.status == "rejected" and "no good" in r.reason
    assert not AdminUnit.objects.filter(name="changed").exists()


def test_no_handler_rejects(peer, remote):
    r = inbox.receive(remote.sign(remote.message("permit_issued")))
    assert r.status == "rejected" and "no handler" in r.reason


def test_handler_outcomes_review_and_unmatched(peer, remote):
    handlers.register("migrant_departed", lambda actor, m: Outcome("review", {"n": 2}))
    r = inbox.receive(remote.sign(remote.message("migrant_departed")))
    assert r.status == "review" and InboxMessage.objects.get().detail == {"n": 2}


def test_queue_and_ack(peer, remote):
    msg = outbox.queue(PEER, "whereabouts_confirmed", {"id_number": "1", "name": "王"}, {"x": 1})
    assert msg.status == OutboxStatus.PENDING and len(msg.message_id) == 26
    ack = remote.message("ack", subject={}, payload={"status": "applied"}, in_reply_to=msg.message_id)
    assert inbox.receive(remote.sign(ack)).status == "ack"
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.ACKED and msg.ack_status == "applied"


def test_queue_refuses_unknown_recipient_and_type(peer):
    with pytest.raises(ExchangeError, match="not a trusted peer"):
        outbox.queue("440103", "migrant_registered", {"name": "王"}, {})
    with pytest.raises(ExchangeError, match="unknown message type"):
        outbox.queue(PEER, "hello", {"name": "王"}, {})
    assert not OutboxMessage.objects.exists()


def test_peers_reads(peer):
    assert local_code() == HERE
    assert [p.code for p in trusted_peers()] == [PEER]
    assert peer_for_unit("330102001001").code == PEER
    assert peer_for_unit("330103001001") is None
