"""Taking in one signed message (over HTTP or from a bundle).

In order: the token's shape, the sender is a trusted peer, the signature verifies with
that peer's key, the message's fields, the recipient is us.  Any failure is a *refusal*,
recorded with its reason (an ``InboxMessage`` with status ``refused``) and not answered
with an ack.  Then:

* an ``ack`` marks our outbox message acknowledged (nothing else);
* a message already taken in (same sender and id) is a duplicate: counted on the first
  row and acknowledged again with the first outcome, never applied twice;
* an update older than the newest one taken in for the same sender and subject
  (``created``, then the id) is recorded as ``stale`` and ignored;
* otherwise the handler of its type runs inside a transaction and its outcome is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from popreg.exchange import crypto, handlers, messages, peers
from popreg.exchange.messages import Message, MessageError
from popreg.exchange.models import (
    Channel,
    InboxMessage,
    InboxStatus,
    MessageType,
    OutboxMessage,
    OutboxStatus,
    Peer,
    SubjectWatermark,
)
from popreg.exchange.peers import local_code
from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError

log = logging.getLogger(__name__)

#: The outcome reported for each kind of receipt ("ack" for an ack taken in).
ACK = "ack"
MAX_TOKEN_STORED = 20_000
#: Of a refused token only the start is kept (anyone may POST to the inbox: refusals must
#: not fill the database).
MAX_REFUSED_STORED = 2_000


@dataclass
class Receipt:
    """What happened to one incoming token."""

    status: str  # an InboxStatus value, or "ack"
    reason: str = ""
    sender: str = ""
    message: Message | None = None
    inbox: InboxMessage | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.status == InboxStatus.REFUSED

    def ack_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if "first_status" in self.detail:
            out["first_status"] = self.detail["first_status"]
        if self.reason:
            out["reason"] = self.reason[:500]
        return out


class Refusal(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.reason = f"{zh} / {en}"


def _claimed(obj: Any, key: str, limit: int) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value[:limit] if isinstance(value, str) else ""


def _refuse(token: str, channel: str, reason: str, obj: Any) -> Receipt:
    row = InboxMessage.objects.create(
        message_id=_claimed(obj, "id", 26),
        sender=_claimed(obj, "sender", 12),
        recipient=_claimed(obj, "recipient", 12),
        type=_claimed(obj, "type", 32),
        channel=channel,
        token=token[:MAX_REFUSED_STORED] if isinstance(token, str) else "",
        status=InboxStatus.REFUSED,
        reason=reason,
    )
    return Receipt(InboxStatus.REFUSED, reason, sender=row.sender, inbox=row)


def verify(token: str) -> tuple[Message, Peer]:
    """Check ``token`` fully (shape, trusted sender, signature, fields, recipient)."""
    try:
        _header, obj = crypto.unverified_json(token)
    except crypto.SignatureError as exc:
        raise Refusal(exc.message_zh, exc.message_en) from None
    sender = obj.get("sender") if isinstance(obj, dict) else None
    peer = peers.peer(sender) if isinstance(sender, str) else None
    if peer is None:
        raise Refusal(
            f"发送方 {str(sender)[:12]} 不是受信任的交换对端",
            f"sender {str(sender)[:12]} is not a trusted peer",
        )
    try:
        crypto.verify_compact(token, crypto.public_from_jwk(peer.public_jwk))
    except crypto.SignatureError as exc:
        raise Refusal(exc.message_zh, exc.message_en) from None
    try:
        msg = messages.parse_message(obj)
    except MessageError as exc:
        raise Refusal(exc.message_zh, exc.message_en) from None
    me = local_code()
    if msg.recipient != me:
        raise Refusal(
            f"收件方 {msg.recipient} 不是本部署（{me}）",
            f"the recipient {msg.recipient} is not this deployment ({me})",
        )
    return msg, peer


def receive(token: str, channel: str = Channel.HTTP) -> Receipt:
    """Take in one token; see the module docstring.  Never raises for a bad message."""
    try:
        msg, _peer = verify(token)
    except Refusal as exc:
        try:
            obj = crypto.unverified_json(token)[1]
        except crypto.SignatureError:
            obj = None
        with transaction.atomic():
            return _refuse(token, channel, exc.reason, obj)
    if msg.type == MessageType.ACK:
        return _take_ack(msg)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _take_in(msg, token, channel)
        except IntegrityError:
            # the message was taken in before (the received-id log's unique key), or a
            # concurrent request created this subject's watermark a moment ago: try again
            with transaction.atomic():
                if _seen(msg):
                    return _duplicate(msg)
    raise RuntimeError(f"could not take in {msg.id}")  # pragma: no cover


def _seen(msg: Message) -> bool:
    return (
        InboxMessage.objects.filter(sender=msg.sender, message_id=msg.id)
        .exclude(status=InboxStatus.REFUSED)
        .exists()
    )


def _take_ack(msg: Message) -> Receipt:
    now = timezone.now()
    status = str(msg.payload.get("status", ""))[:12]
    with transaction.atomic():
        n = (
            OutboxMessage.objects.filter(message_id=msg.in_reply_to, recipient=msg.sender)
            .exclude(status=OutboxStatus.ACKED)
            .update(status=OutboxStatus.ACKED, acked_at=now, ack_status=status,
                    ack_detail=msg.payload, last_error="")
        )  # fmt: skip
    return Receipt(ACK, sender=msg.sender, message=msg, detail={"marked": n})


def _duplicate(msg: Message) -> Receipt:
    first = (
        InboxMessage.objects.select_for_update()
        .filter(sender=msg.sender, message_id=msg.id)
        .exclude(status=InboxStatus.REFUSED)
        .first()
    )
    if first is None:  # pragma: no cover - the unique key said it exists
        raise RuntimeError("duplicate without a first row")
    InboxMessage.objects.filter(pk=first.pk).update(
        duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()
    )
    return Receipt(
        InboxStatus.DUPLICATE, sender=msg.sender, message=msg, inbox=first,
        detail={"first_status": first.status},
    )  # fmt: skip


def _is_older(created: datetime, mid: str, mark: SubjectWatermark) -> bool:
    return (created, mid) < (mark.created, mark.message_id)


def _take_in(msg: Message, token: str, channel: str) -> Receipt:
    """Take in a verified message; a duplicate is found by the received-id log's unique key
    (the insert fails and :func:`receive` answers duplicate)."""
    key = messages.subject_key(msg.subject)
    mark = SubjectWatermark.objects.select_for_update().filter(sender=msg.sender, subject_key=key).first()
    row = InboxMessage(
        message_id=msg.id, sender=msg.sender, recipient=msg.recipient, type=msg.type,
        created=msg.created, subject=msg.subject, payload=msg.payload,
        in_reply_to=msg.in_reply_to or "", channel=channel, token=token[:MAX_TOKEN_STORED],
        status=InboxStatus.RECEIVED,
    )  # fmt: skip
    if mark is not None and _is_older(msg.created, msg.id, mark):
        row.status = InboxStatus.STALE
        row.reason = (
            f"比同一对象已收到的更新（{mark.message_id}）旧，已忽略 / "
            f"older than the update already taken in for this subject ({mark.message_id}); ignored"
        )
        row.save()
        return Receipt(InboxStatus.STALE, row.reason, sender=msg.sender, message=msg, inbox=row)
    row.save()
    if mark is None:
        SubjectWatermark.objects.create(sender=msg.sender, subject_key=key, created=msg.created, message_id=msg.id)
    else:
        SubjectWatermark.objects.filter(pk=mark.pk).update(created=msg.created, message_id=msg.id)
    _apply(row)
    return Receipt(row.status, row.reason, sender=msg.sender, message=msg, inbox=row, detail=row.detail)


def _apply(row: InboxMessage) -> None:
    fn = handlers.handler_for(row.type)
    if fn is None:
        row.status = InboxStatus.REJECTED
        row.reason = f"本部署不处理此类消息（{row.type}） / this deployment has no handler for {row.type} messages"
        row.save()
        return
    actor = system_actor(f"exchange:{row.sender}")
    try:
        with transaction.atomic():
            outcome = fn(actor, row)
            row.status = outcome.status
            row.detail = dict(outcome.detail)
            row.save()
    except RegistryError as exc:
        row.status = InboxStatus.REJECTED
        row.reason = f"{exc.message_zh} / {exc.message_en}"
        row.person = None
        row.candidates = []
        row.save()
    except Exception:
        log.exception("exchange handler for %s failed on %s", row.type, row.message_id)
        row.status = InboxStatus.REJECTED
        row.reason = "处理时发生内部错误，未作任何更改 / internal error while applying; nothing was changed"
        row.person = None
        row.candidates = []
        row.save()
