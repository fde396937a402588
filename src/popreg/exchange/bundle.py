"""Offline exchange: a signed bundle of the pending messages for one peer, and its import.

A bundle is one JWS (the same signing as a message) over canonical JSON::

    {"v": 1, "kind": "bundle", "id": ULID, "sender": "330100", "recipient": "330200",
     "created": "...Z", "messages": [token, token, ...]}

Each message inside keeps its own signature, so the receiver checks them one by one as
if they had come over HTTP.  The bundle's own signature is checked first: a bundle with
one altered byte (or from an unknown sender, or for another deployment) is refused whole
with its reason and nothing in it is taken in.

Exporting leaves the messages pending: they are acknowledged when the peer's acks come
back (in the peer's next bundle, or over HTTP).  The acks we owe are messages of our
outbox too; a bundle carries them once (they are ``sent``: nobody acknowledges an ack).
The file is written by this module rather than through ``popreg.registry.exports``: it is
a signed machine file between deployments, which must not be stamped, masked or altered.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.exchange import crypto, inbox, messages, outbox, peers, transport
from popreg.exchange.models import (
    Channel,
    InboxMessage,
    InboxStatus,
    MessageType,
    OutboxMessage,
    OutboxStatus,
    Peer,
)
from popreg.exchange.peers import ExchangeError, local_code, signing_key
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.policy import Permission

BUNDLE_KIND = "bundle"
MAX_BUNDLE_BYTES = 512 * 1024 * 1024


@dataclass
class ImportSummary:
    applied: int = 0
    duplicate: int = 0
    refused: int = 0
    unmatched: int = 0
    stale: int = 0
    acks: int = 0
    rejected: int = 0
    bundle_refused: str = ""
    acks_queued: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """The one-line JSON summary (``rejected`` — a handler's error — counts as refused)."""
        return json.dumps({
            "applied": self.applied, "duplicate": self.duplicate,
            "refused": self.refused + self.rejected, "unmatched": self.unmatched, "stale": self.stale,
        })  # fmt: skip


# --------------------------------------------------------------------------- export


def do_export_bundle(actor: Actor, to_code: str, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write a signed bundle of every message for ``to_code`` not yet acknowledged to ``out``:
    the pending ones and those that failed over HTTP (an unreachable URL must not keep a
    message out of the bundle).  Their status does not change (acks excepted)."""
    actor.require(Permission.MANAGE_EXCHANGE)
    peer = Peer.objects.filter(code=to_code).first()
    if peer is None:
        raise ExchangeError(
            f"{to_code} 不是受信任的交换对端", f"{to_code} is not a trusted peer", "to"
        )
    key, kid = signing_key()
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update()
            .filter(recipient=to_code, status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED])
            .order_by("id")
        )
        tokens = [transport.ensure_token(r) for r in rows]
        bundle = {
            "v": 1, "kind": BUNDLE_KIND, "id": messages.new_id(), "sender": local_code(),
            "recipient": to_code, "created": messages.iso(timezone.now()), "messages": tokens,
        }  # fmt: skip
        text = crypto.sign_json(key, bundle, kid=kid)
        _write_atomically(Path(out), text + "\n")
        now = timezone.now()
        ids = [r.pk for r in rows]
        OutboxMessage.objects.filter(pk__in=ids).update(exported_at=now)
        for r in rows:  # export_count + 1 (one UPDATE per distinct count is overkill here)
            OutboxMessage.objects.filter(pk=r.pk).update(export_count=r.export_count + 1)
        acks = OutboxMessage.objects.filter(pk__in=ids, type=MessageType.ACK).update(
            status=OutboxStatus.SENT, sent_at=now
        )
        summary = {"bundle": bundle["id"], "to": to_code, "messages": len(rows) - acks, "acks": acks,
                   "bytes": len(text) + 1}  # fmt: skip
        audit(actor, AuditAction.EXCHANGE_EXPORT_BUNDLE, peer, unit_code=to_code, detail=summary)
    return summary


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- import


def verify_bundle(text: str) -> tuple[dict[str, Any], Peer]:
    """The bundle's content if its signature, sender and recipient are right; else
    :class:`inbox.Refusal` with the reason."""
    try:
        _header, obj = crypto.unverified_json(text)
    except crypto.SignatureError as exc:
        raise inbox.Refusal(exc.message_zh, exc.message_en) from None
    if not isinstance(obj, dict) or obj.get("kind") != BUNDLE_KIND or obj.get("v") != 1:
        raise inbox.Refusal("文件不是 popreg 交换包", "the file is not a popreg exchange bundle")
    sender = obj.get("sender")
    peer = peers.peer(sender) if isinstance(sender, str) else None
    if peer is None:
        raise inbox.Refusal(
            f"交换包的发送方 {str(sender)[:12]} 不是受信任的交换对端",
            f"the bundle's sender {str(sender)[:12]} is not a trusted peer",
        )
    try:
        crypto.verify_compact(text, crypto.public_from_jwk(peer.public_jwk))
    except crypto.SignatureError as exc:
        raise inbox.Refusal(
            f"交换包整体被拒收：{exc.message_zh}", f"the whole bundle is refused: {exc.message_en}"
        ) from None
    me = local_code()
    if obj.get("recipient") != me:
        raise inbox.Refusal(
            f"交换包的收件方 {str(obj.get('recipient'))[:12]} 不是本部署（{me}）",
            f"the bundle's recipient {str(obj.get('recipient'))[:12]} is not this deployment ({me})",
        )
    tokens = obj.get("messages")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise inbox.Refusal("交换包的消息列表格式不正确", "the bundle's message list is malformed")
    return obj, peer


def _claimed_count(text: str) -> int:
    try:
        obj = crypto.unverified_json(text)[1]
        return max(1, len(obj["messages"]))
    except (crypto.SignatureError, KeyError, TypeError):
        return 1


def read_bundle_file(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    if not p.is_file():
        raise ExchangeError(f"找不到文件 {p.name}", f"file {p.name} not found", "file")
    if p.stat().st_size > MAX_BUNDLE_BYTES:
        raise ExchangeError("交换包过大", "the bundle is too large", "file")
    try:
        return p.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError:
        return p.read_bytes().decode("ascii", "replace").strip()


def do_import_bundle(actor: Actor, text: str, *, name: str = "") -> ImportSummary:
    """Verify a bundle, then take in each of its messages (as over HTTP); queue our acks
    of the sender's messages for the next export."""
    actor.require(Permission.MANAGE_EXCHANGE)
    with peers.cached():
        return _import_bundle(actor, text, name)


def _import_bundle(actor: Actor, text: str, name: str) -> ImportSummary:
    summary = ImportSummary()
    try:
        obj, peer = verify_bundle(text)
    except inbox.Refusal as exc:
        summary.bundle_refused = exc.reason
        summary.refused = _claimed_count(text)
        with transaction.atomic():
            try:
                claimed = crypto.unverified_json(text)[1]
            except crypto.SignatureError:
                claimed = {}
            sender = claimed.get("sender") if isinstance(claimed, dict) else None
            row = InboxMessage.objects.create(
                sender=sender[:12] if isinstance(sender, str) else "", type=BUNDLE_KIND,
                channel=Channel.BUNDLE, status=InboxStatus.REFUSED, reason=exc.reason,
                token=text[: inbox.MAX_REFUSED_STORED],
            )  # fmt: skip
            audit(actor, AuditAction.EXCHANGE_REFUSE, row, detail={"file": name, "reason": exc.reason,
                                                                    "messages": summary.refused})  # fmt: skip
        return summary
    for token in obj["messages"]:
        _import_one(token, peer, summary)
    with transaction.atomic():
        audit(actor, AuditAction.EXCHANGE_IMPORT_BUNDLE, peer, unit_code=peer.code,
              detail={"file": name, "bundle": obj.get("id"), **json.loads(summary.line()),
                      "acks": summary.acks, "acks_queued": summary.acks_queued})  # fmt: skip
    return summary


def _import_one(token: str, peer: Peer, summary: ImportSummary) -> None:
    try:
        inner = crypto.unverified_json(token)[1]
        inner_sender = inner.get("sender") if isinstance(inner, dict) else None
    except crypto.SignatureError:
        inner_sender = peer.code  # receive() records the malformed token with its reason
    if inner_sender != peer.code:
        with transaction.atomic():
            InboxMessage.objects.create(
                sender=str(inner_sender)[:12], channel=Channel.BUNDLE, status=InboxStatus.REFUSED,
                token=token[: inbox.MAX_REFUSED_STORED],
                reason=f"交换包中夹带了其他发送方（{str(inner_sender)[:12]}）的消息 / "
                       f"the bundle carries a message of another sender ({str(inner_sender)[:12]})",
            )  # fmt: skip
        summary.refused += 1
        return
    with transaction.atomic():  # taking it in and queueing our ack: both or neither
        receipt = inbox.receive(token, Channel.BUNDLE)
        if receipt.message is not None and not receipt.refused and receipt.status != inbox.ACK:
            outbox.queue(peer.code, MessageType.ACK, {}, receipt.ack_payload(), in_reply_to=receipt.message.id)
            summary.acks_queued += 1
    status = receipt.status
    summary.statuses[status] = summary.statuses.get(status, 0) + 1
    if status == inbox.ACK:
        summary.acks += 1
        return
    if receipt.refused:
        summary.refused += 1
        return
    if status == InboxStatus.APPLIED:
        summary.applied += 1
    elif status == InboxStatus.DUPLICATE:
        summary.duplicate += 1
    elif status == InboxStatus.STALE:
        summary.stale += 1
    elif status in (InboxStatus.REVIEW, InboxStatus.UNMATCHED):
        summary.unmatched += 1
    else:
        summary.rejected += 1
