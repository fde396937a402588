"""The message format: what is signed, and the checks every received message passes.

A message is canonical JSON (RFC 8785) signed as a JWS::

    {"v": 1, "id": ULID, "sender": "330100", "recipient": "330200",
     "type": "migrant_registered", "created": "2026-12-04T10:00:00.123456Z",
     "subject": {"id_number": "...", "name": "...", ...}, "payload": {...},
     "in_reply_to": ULID | null}

A bundle (offline exchange) is the same kind of token over::

    {"v": 1, "kind": "bundle", "id": ULID, "sender": ..., "recipient": ...,
     "created": ..., "messages": [token, token, ...]}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from popreg.exchange.models import MessageType

VERSION = 1
TYPES = frozenset(MessageType.values)
MAX_SUBJECT_CHARS = 200


class MessageError(Exception):
    """A malformed message (zh + en), refused with this reason."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en

    @property
    def reason(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


def new_id() -> str:
    return str(ULID())


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("no time zone")
    return dt.astimezone(UTC)


def subject_key(subject: dict[str, Any]) -> str:
    """What identifies a subject for ordering updates: the ID number, else the name."""
    idn = str(subject.get("id_number") or "").strip().upper()
    if idn:
        return f"id:{idn}"[:120]
    return f"name:{str(subject.get('name') or '').strip()}"[:120]


@dataclass(frozen=True)
class Message:
    id: str
    sender: str
    recipient: str
    type: str
    created: datetime
    subject: dict[str, Any]
    payload: dict[str, Any]
    in_reply_to: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "id": self.id,
            "sender": self.sender,
            "recipient": self.recipient,
            "type": self.type,
            "created": iso(self.created),
            "subject": self.subject,
            "payload": self.payload,
            "in_reply_to": self.in_reply_to,
        }


def _bad(zh: str, en: str) -> MessageError:
    return MessageError(f"消息格式不正确：{zh}", f"malformed message: {en}")


def _ulid(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{field} 缺失", f"{field} is missing")
    try:
        ULID.from_str(value)
    except ValueError:
        raise _bad(f"{field} 不是 ULID", f"{field} is not a ULID") from None
    return value


def parse_message(obj: Any) -> Message:
    """Check the shape of a decoded message; raise :class:`MessageError` naming the field."""
    if not isinstance(obj, dict):
        raise _bad("不是 JSON 对象", "not a JSON object")
    if obj.get("v") != VERSION:
        raise _bad(f"版本 {obj.get('v')!s:.10} 不受支持（应为 1）", f"version {obj.get('v')!s:.10} is not supported (expected 1)")
    mid = _ulid(obj.get("id"), "id")
    for field in ("sender", "recipient"):
        value = obj.get(field)
        if not isinstance(value, str) or not value.isdigit() or not 2 <= len(value) <= 12:
            raise _bad(f"{field} 应为区划代码（数字）", f"{field} must be a division code (digits)")
    mtype = obj.get("type")
    if mtype not in TYPES:
        raise _bad(f"未知的消息类型 {str(mtype)[:40]}", f"unknown message type {str(mtype)[:40]}")
    try:
        created = parse_iso(str(obj.get("created")))
    except ValueError:
        raise _bad("created 不是带时区的 ISO 时间", "created is not an ISO time with a time zone") from None
    subject = obj.get("subject")
    payload = obj.get("payload")
    if not isinstance(subject, dict) or not isinstance(payload, dict):
        raise _bad("subject 和 payload 应为 JSON 对象", "subject and payload must be JSON objects")
    if mtype != MessageType.ACK and not (subject.get("id_number") or subject.get("name")):
        raise _bad("subject 缺少身份证号和姓名", "subject has neither id_number nor name")
    for key in ("id_number", "name"):
        if len(str(subject.get(key) or "")) > MAX_SUBJECT_CHARS:
            raise _bad(f"subject.{key} 过长", f"subject.{key} is too long")
    reply = obj.get("in_reply_to")
    if reply is not None:
        reply = _ulid(reply, "in_reply_to")
    if mtype == MessageType.ACK and reply is None:
        raise _bad("确认消息缺少 in_reply_to", "an ack has no in_reply_to")
    return Message(mid, obj["sender"], obj["recipient"], mtype, created, subject, payload, reply)
