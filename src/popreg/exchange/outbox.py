"""Queueing outgoing messages.  Delivery is :mod:`popreg.exchange.transport` (HTTP) or
:mod:`popreg.exchange.bundle` (files); the state is in the database, so a restart loses
nothing."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from popreg.exchange import messages, peers
from popreg.exchange.models import MessageType, OutboxMessage, OutboxStatus
from popreg.exchange.peers import ExchangeError


def queue(
    recipient: str,
    type: str,  # noqa: A002 - the interface's name
    subject: dict[str, Any],
    payload: dict[str, Any],
    *,
    in_reply_to: str | None = None,
) -> OutboxMessage:
    """Queue a message to the trusted peer ``recipient``: a new ULID, created now, pending.

    Delivery over HTTP is started after the transaction commits (a ``exchange_deliver``
    job; ``popreg exchange deliver`` and the next export do it too)."""
    if type not in messages.TYPES:
        raise ExchangeError(f"未知的消息类型 {type}", f"unknown message type {type}", "type")
    if peers.peer(recipient) is None:
        raise ExchangeError(
            f"{recipient} 不是受信任的交换对端：请先用 popreg exchange trust 添加",
            f"{recipient} is not a trusted peer: add it with popreg exchange trust first",
            "recipient",
        )
    if type != MessageType.ACK and not (subject.get("id_number") or subject.get("name")):
        raise ExchangeError("消息对象缺少身份证号和姓名", "the subject has neither id_number nor name", "subject")
    now = timezone.now()
    msg = OutboxMessage.objects.create(
        message_id=messages.new_id(),
        recipient=recipient,
        type=type,
        created=now,
        subject=dict(subject),
        payload=dict(payload),
        in_reply_to=in_reply_to or "",
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
    )
    if type != MessageType.ACK and not _delivery_scheduled():
        transaction.on_commit(_start_delivery)
    return msg


def _delivery_scheduled() -> bool:
    """Whether this transaction already starts a delivery when it commits (one per commit,
    not one per message)."""
    return any(item[1] is _start_delivery for item in connection.run_on_commit)


def _start_delivery() -> None:
    from popreg.exchange import transport

    transport.start_delivery_job()
