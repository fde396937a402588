"""Offline bundles: export (signed, messages stay pending), import (acks both ways,
duplicates, summary line), and a bundle with one altered byte refused whole."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from popreg.exchange import bundle, crypto, outbox
from popreg.exchange.models import InboxMessage, InboxStatus, OutboxMessage, OutboxStatus
from popreg.exchange.peers import local_identity
from popreg.registry.access import system_actor
from popreg.registry.models import AuditRecord

from .conftest import HERE, PEER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_handlers")]


def _subject(i):
    return {"id_number": f"3301021990010{i:05d}", "name": f"人{i}"}


def test_export_is_signed_and_leaves_messages_pending(peer, tmp_path):
    msgs = [outbox.queue(PEER, "whereabouts_confirmed", _subject(i), {"i": i}) for i in range(3)]
    OutboxMessage.objects.filter(pk=msgs[2].pk).update(status=OutboxStatus.FAILED, last_error="cannot reach")
    ack = outbox.queue(PEER, "ack", {}, {"status": "applied"}, in_reply_to=msgs[0].message_id)
    out = tmp_path / "to-peer.jws"
    summary = bundle.do_export_bundle(system_actor(), PEER, out)
    assert summary["messages"] == 3 and summary["acks"] == 1
    text = out.read_text().strip()
    _h, payload = crypto.verify_compact(text, crypto.public_from_jwk(local_identity().public_jwk))
    content = json.loads(payload)
    assert content["sender"] == HERE and content["recipient"] == PEER and len(content["messages"]) == 4
    inner = [json.loads(crypto.verify_compact(t, crypto.public_from_jwk(local_identity().public_jwk))[1])
             for t in content["messages"]]
    assert [m["id"] for m in inner] == [m.message_id for m in [*msgs, ack]]
    assert {m.status for m in OutboxMessage.objects.exclude(type="ack")} == {OutboxStatus.PENDING, OutboxStatus.FAILED}
    ack.refresh_from_db()
    assert ack.status == OutboxStatus.SENT
    # a second export carries the three again (still pending), not the ack
    assert bundle.do_export_bundle(system_actor(), PEER, out)["messages"] == 3
    assert AuditRecord.objects.filter(action="exchange_export_bundle").count() == 2


def test_import_applies_acks_and_is_idempotent(peer, remote, recording_handler, tmp_path):
    ours = outbox.queue(PEER, "whereabouts_confirmed", _subject(99), {})
    tokens = [remote.sign(remote.message(subject=_subject(i))) for i in range(5)]
    tokens.append(remote.sign(remote.message("ack", subject={}, payload={"status": "applied"},
                                             in_reply_to=ours.message_id)))
    path = tmp_path / "from-peer.jws"
    path.write_text(remote.bundle(tokens))
    call_command("exchange", "import", str(path), stdout=(buf := _Buf()))
    assert json.loads(buf.lines[-1]) == {"applied": 5, "duplicate": 0, "refused": 0, "unmatched": 0, "stale": 0}
    ours.refresh_from_db()
    assert ours.status == OutboxStatus.ACKED and ours.ack_status == "applied"
    acks = OutboxMessage.objects.filter(type="ack", recipient=PEER, status=OutboxStatus.PENDING)
    assert acks.count() == 5  # our replies wait for the next export
    assert len(recording_handler) == 5
    # the same bundle again: nothing applied, each acknowledged again
    call_command("exchange", "import", str(path), stdout=(buf := _Buf()))
    assert json.loads(buf.lines[-1]) == {"applied": 0, "duplicate": 5, "refused": 0, "unmatched": 0, "stale": 0}
    assert len(recording_handler) == 5
    assert acks.count() == 10


@pytest.mark.parametrize("where", ["header", "payload", "signature", "last"])
def test_one_altered_byte_refuses_the_whole_bundle(where, peer, remote, recording_handler, tmp_path):
    text = remote.bundle([remote.sign(remote.message(subject=_subject(i))) for i in range(4)])
    head, body, sig = text.split(".")
    pos = {"header": 5, "payload": len(head) + 1 + len(body) // 2, "signature": len(head) + len(body) + 10,
           "last": len(text) - 2}[where]
    raw = bytearray(text.encode())
    raw[pos] = ord("A") if raw[pos] != ord("A") else ord("B")
    path = tmp_path / "bad.jws"
    path.write_bytes(bytes(raw))
    before = AuditRecord.objects.count()
    buf = _Buf()
    with pytest.raises(CommandError):
        call_command("exchange", "import", str(path), stdout=buf)
    last = json.loads(buf.lines[-1])
    assert last["applied"] == 0 and last["refused"] >= 1
    assert "refused" in buf.lines[-2]
    assert recording_handler == []
    assert not InboxMessage.objects.exclude(status=InboxStatus.REFUSED).exists()
    row = InboxMessage.objects.get()
    assert row.type == "bundle" and row.reason
    assert not OutboxMessage.objects.exists()  # no ack queued
    assert AuditRecord.objects.count() == before + 1
    assert AuditRecord.objects.latest("pk").action == "exchange_refuse"


def test_bundle_for_another_deployment_or_from_stranger_refused(peer, remote, stranger, recording_handler):
    for text, why in ((remote.bundle([remote.sign(remote.message())], recipient="440103"), "not this deployment"),
                      (stranger.bundle([stranger.sign(stranger.message())]), "not a trusted peer")):
        s = bundle.do_import_bundle(system_actor(), text)
        assert why in s.bundle_refused and s.applied == 0
    assert recording_handler == []


def test_message_of_another_sender_inside_a_bundle_refused(peer, remote, stranger, recording_handler):
    text = remote.bundle([stranger.sign(stranger.message()), remote.sign(remote.message())])
    s = bundle.do_import_bundle(system_actor(), text)
    assert (s.applied, s.refused) == (1, 1)
    assert "another sender" in InboxMessage.objects.get(status=InboxStatus.REFUSED).reason


def test_identity_and_trust_commands(key_dir, db, tmp_path, remote):
    me = tmp_path / "me.json"
    call_command("exchange", "identity", "--code", HERE, "--url", "http://127.0.0.1:8000", "--out", str(me),
                 stdout=_Buf())
    doc = json.loads(me.read_text())
    assert doc["code"] == HERE and doc["url"] == "http://127.0.0.1:8000/" and "d" not in doc["public_jwk"]
    assert doc["thumbprint"] == crypto.thumbprint(doc["public_jwk"])
    assert (key_dir / crypto.KEY_FILE).stat().st_mode & 0o777 == 0o600
    # again: the same key is kept
    call_command("exchange", "identity", "--code", HERE, "--url", "http://127.0.0.1:8000/", "--out", str(me),
                 stdout=_Buf())
    assert json.loads(me.read_text())["thumbprint"] == doc["thumbprint"]
    peer_file = tmp_path / "peer.json"
    peer_file.write_text(json.dumps(remote.identity()))
    call_command("exchange", "trust", str(peer_file), stdout=_Buf())
    # a changed key needs --replace
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    remote.key = Ed25519PrivateKey.generate()
    peer_file.write_text(json.dumps(remote.identity()))
    with pytest.raises(CommandError, match="--replace"):
        call_command("exchange", "trust", str(peer_file), stdout=_Buf())
    call_command("exchange", "trust", str(peer_file), "--replace", stdout=(buf := _Buf()))
    assert "key_replaced" in buf.lines[-1]
    # an altered identity file (thumbprint of another key) is refused
    bad = remote.identity()
    bad["thumbprint"] = doc["thumbprint"]
    peer_file.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match="thumbprint"):
        call_command("exchange", "trust", str(peer_file), stdout=_Buf())
    assert AuditRecord.objects.filter(action="exchange_trust_peer").count() == 2


class _Buf:
    def __init__(self):
        self.lines: list[str] = []

    def write(self, text):
        self.lines.extend(x for x in text.splitlines() if x.strip())

    def flush(self):
        pass


def test_status_deliver_and_requeue_commands(peer):
    msg = outbox.queue(PEER, "whereabouts_confirmed", _subject(1), {})
    call_command("exchange", "deliver", stdout=(buf := _Buf()))  # the peer's port refuses
    assert json.loads(buf.lines[-1]) == {"acked": 0, "retry": 1, "failed": 0}
    OutboxMessage.objects.filter(pk=msg.pk).update(status=OutboxStatus.FAILED)
    call_command("exchange", "status", stdout=(buf := _Buf()))
    row = json.loads(buf.lines[-1])
    assert row["code"] == PEER and row["outbox"]["failed"] == 1 and "cannot reach" in row["last_error"]
    call_command("exchange", "requeue", "--to", PEER, stdout=(buf := _Buf()))
    assert json.loads(buf.lines[-1]) == {"requeued": 1}
    msg.refresh_from_db()
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 0
