"""Delivery over HTTP: the outbox's due messages are POSTed, one by one, to the peer's
``<url>exchange/inbox/``; the peer answers with a signed ack (200), a refusal with its
reason (4xx: the message fails for good, with that reason) or nothing usable (5xx,
timeout, connection refused: retried with exponential back-off).

State is only in the database (``status``, ``attempts``, ``next_attempt_at``), so a killed
sender picks up where it stopped; a message sent but not acknowledged before the kill is
sent again and the peer acknowledges the duplicate without applying it twice.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from popreg.exchange import crypto, messages
from popreg.exchange import peers as peers_mod
from popreg.exchange.messages import Message
from popreg.exchange.models import MessageType, OutboxMessage, OutboxStatus, Peer
from popreg.exchange.peers import ExchangeError, local_code, signing_key
from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/jose"
JOB_KIND = "exchange_deliver"


# --------------------------------------------------------------------------- signing


def message_of(row: OutboxMessage, sender: str) -> Message:
    return Message(
        id=row.message_id,
        sender=sender,
        recipient=row.recipient,
        type=row.type,
        created=row.created,
        subject=row.subject,
        payload=row.payload,
        in_reply_to=row.in_reply_to or None,
    )


def ensure_token(row: OutboxMessage, *, store: bool = True) -> str:
    """The message's signed token, made on first use and stored (``store=False``: the
    caller stores it with the outcome of the attempt, in the same UPDATE)."""
    if not row.token:
        key, kid = signing_key()
        row.token = crypto.sign_json(key, message_of(row, local_code()).as_json(), kid=kid)
        if store:
            OutboxMessage.objects.filter(pk=row.pk).update(token=row.token)
    return row.token


def sign_ack(recipient: str, in_reply_to: str, payload: dict[str, Any], subject: dict[str, Any] | None = None) -> str:
    """A signed ack (not stored: the answer of the inbox endpoint)."""
    key, kid = signing_key()
    msg = Message(
        id=messages.new_id(), sender=local_code(), recipient=recipient, type=MessageType.ACK,
        created=timezone.now(), subject=dict(subject or {}), payload=payload, in_reply_to=in_reply_to,
    )  # fmt: skip
    return crypto.sign_json(key, msg.as_json(), kid=kid)


# --------------------------------------------------------------------------- back-off


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: BACKOFF_S · 2^(attempts−1), capped."""
    base = float(settings.POPREG_EXCHANGE_BACKOFF_S)
    cap = float(settings.POPREG_EXCHANGE_BACKOFF_MAX_S)
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


# --------------------------------------------------------------------------- HTTP


class _Connections:
    """One keep-alive connection per peer for a delivery run."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._conns: dict[str, http.client.HTTPConnection] = {}

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        path = parts.path or "/"
        for attempt in (1, 2):
            conn = self._conns.get(key)
            if conn is None:
                cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                conn = cls(parts.netloc, timeout=self.timeout)
                self._conns[key] = conn
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": CONTENT_TYPE})
                resp = conn.getresponse()
                data = resp.read(1_000_000)
                if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
                    self.drop(key)
                return resp.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.drop(key)
                if attempt == 2:
                    raise
            except Exception:
                self.drop(key)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def drop(self, key: str) -> None:
        conn = self._conns.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for key in list(self._conns):
            self.drop(key)


@dataclass
class DeliveryReport:
    acked: int = 0
    retry: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"acked": self.acked, "retry": self.retry, "failed": self.failed}


def due(now: Any = None) -> Any:
    now = now or timezone.now()
    return OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now).order_by("id")


def _refusal_text(body: bytes, status: int) -> str:
    try:
        data = json.loads(body)
        return f"{data['reason_zh']} / {data['reason_en']}"[:1000]
    except (ValueError, KeyError, TypeError):
        return f"对端拒收（HTTP {status}） / the peer refused it (HTTP {status})"


def _retry(row: OutboxMessage, error: str, now: Any, report: DeliveryReport) -> None:
    attempts = row.attempts + 1
    if attempts >= settings.POPREG_EXCHANGE_MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=row.pk, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.FAILED, attempts=attempts, last_attempt_at=now, token=row.token,
            last_error=f"{error}（已重试 {attempts} 次，放弃） / {error} (gave up after {attempts} attempts)",
        )  # fmt: skip
        report.failed += 1
        return
    OutboxMessage.objects.filter(pk=row.pk, status=OutboxStatus.PENDING).update(
        attempts=attempts, last_attempt_at=now, next_attempt_at=now + backoff(attempts), last_error=error, token=row.token,
    )  # fmt: skip
    report.retry += 1


def _take_ack(row: OutboxMessage, peer: Peer, body: bytes) -> dict[str, Any]:
    """Verify the peer's ack of ``row``; return its payload or raise SignatureError."""
    token = body.decode("ascii", "replace").strip()
    _header, payload = crypto.verify_compact(token, crypto.public_from_jwk(peer.public_jwk))
    try:
        ack = messages.parse_message(json.loads(payload))
    except (ValueError, messages.MessageError):
        raise crypto.SignatureError("对端的确认格式不正确", "the peer's ack is malformed") from None
    if ack.type != MessageType.ACK or ack.in_reply_to != row.message_id or ack.sender != peer.code:
        raise crypto.SignatureError("对端的确认与所发消息不符", "the peer's ack does not answer this message")
    return ack.payload


def deliver_one(row: OutboxMessage, peer: Peer | None, conns: _Connections, report: DeliveryReport) -> bool:
    """Send one message; record the outcome.  Returns False when the peer could not be
    reached (the caller skips its other messages for this run)."""
    now = timezone.now()
    if peer is None:
        OutboxMessage.objects.filter(pk=row.pk, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.FAILED, last_attempt_at=now,
            last_error=f"收件方 {row.recipient} 不再是受信任的对端 / the recipient {row.recipient} is no longer a trusted peer",
        )  # fmt: skip
        report.failed += 1
        return True
    token = ensure_token(row, store=False)  # stored below with the attempt's outcome
    try:
        status, body = conns.post(peer.inbox_url, token.encode("ascii"))
    except (OSError, http.client.HTTPException) as exc:
        _retry(row, f"无法连接对端 / cannot reach the peer ({type(exc).__name__})", now, report)
        return False
    if status == 200:
        try:
            ack = _take_ack(row, peer, body)
        except crypto.SignatureError as exc:
            _retry(row, f"{exc.message_zh} / {exc.message_en}", now, report)
            return True
        OutboxMessage.objects.filter(pk=row.pk).exclude(status=OutboxStatus.ACKED).update(
            status=OutboxStatus.ACKED, attempts=row.attempts + 1, last_attempt_at=now, token=row.token,
            sent_at=row.sent_at or now, acked_at=now, ack_status=str(ack.get("status", ""))[:12],
            ack_detail=ack, last_error="",
        )  # fmt: skip
        report.acked += 1
    elif 300 <= status < 400:
        OutboxMessage.objects.filter(pk=row.pk, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.FAILED, attempts=row.attempts + 1, last_attempt_at=now, token=row.token,
            last_error=f"对端地址被重定向（HTTP {status}）：请用对端的 https:// 地址重新信任其身份文件 / "
                       f"the peer's address redirects (HTTP {status}): trust its identity again with its https:// address",
        )  # fmt: skip
        report.failed += 1
    elif status in (400, 403, 409, 422):
        OutboxMessage.objects.filter(pk=row.pk, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.FAILED, attempts=row.attempts + 1, last_attempt_at=now, token=row.token,
            sent_at=row.sent_at or now, last_error=_refusal_text(body, status),
        )  # fmt: skip
        report.failed += 1
    else:
        _retry(row, f"对端暂时无法接收（HTTP {status}） / the peer could not take it now (HTTP {status})", now, report)
        return status not in (502, 503, 504)
    return True


def deliver(
    *,
    recipient: str | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DeliveryReport:
    """Send every due pending message (of ``recipient`` if given) once; return the counts.

    A peer that cannot be reached is skipped for the rest of this run after its first
    failure (its other messages keep their schedule).  The rows are read once; every
    update is conditional on the state read, so two senders at once only send twice
    (the peer acknowledges the duplicate)."""
    with peers_mod.cached():
        return _deliver(recipient, limit, progress)


def _deliver(
    recipient: str | None, limit: int | None, progress: Callable[[int, int], None] | None
) -> DeliveryReport:
    report = DeliveryReport()
    qs = due()
    if recipient:
        qs = qs.filter(recipient=recipient)
    rows = list(qs[: limit or None])
    peers = {p.code: p for p in Peer.objects.all()}
    down: set[str] = set()
    conns = _Connections(float(settings.POPREG_EXCHANGE_HTTP_TIMEOUT_S))
    try:
        for i, row in enumerate(rows):
            if row.recipient in down:
                continue
            if not deliver_one(row, peers.get(row.recipient), conns, report):
                down.add(row.recipient)
            if progress is not None:
                progress(i + 1, len(rows))
    finally:
        conns.close()
    return report


def next_due_in(now: datetime | None = None) -> float | None:
    """Seconds until the next pending message is due (0 if one is due), None if none."""
    now = now or timezone.now()
    first = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if first is None:
        return None
    return max(0.0, float((first - now).total_seconds()))


def deliver_loop(*, stop_when_idle: bool = False, max_sleep: float = 5.0, log_fn: Callable[[str], None] | None = None) -> DeliveryReport:
    """Deliver until stopped (``popreg exchange deliver --loop``): each round sends what is
    due, then sleeps until the next message is due (at most ``max_sleep`` s)."""
    total = DeliveryReport()
    while True:
        r = deliver()
        total.acked += r.acked
        total.retry += r.retry
        total.failed += r.failed
        if log_fn is not None and (r.acked or r.retry or r.failed):
            log_fn(json.dumps(r.as_dict()))
        wait = next_due_in()
        if wait is None and stop_when_idle:
            return total
        time.sleep(min(max_sleep, wait if wait is not None else max_sleep) or 0.05)


def start_delivery_job() -> None:
    """Start an ``exchange_deliver`` job unless one is already queued or running."""
    from popreg.registry.jobs import start_job

    if not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).filter(
        Q(next_attempt_at__lte=timezone.now())
    ).exists():
        return
    try:
        start_job(system_actor("exchange"), JOB_KIND, {})
    except (RegistryError, ExchangeError) as exc:
        log.info("exchange delivery job not started: %s", exc)
