"""The review queue of incoming notifications, and the exchange's own record changes.

A notification whose subject matched no local person, or more than one, or which the
registry refused, waits in the inbox with status ``review`` or ``unmatched`` and its
candidates (:mod:`popreg.exchange.apply`).  A reviewer with ``manage_exchange`` (county)
or ``review_exchange`` (a township officer, within the jurisdiction) then

* accepts one of the candidates (:func:`do_accept_candidate`),
* links it to another person found by ID number or name (:func:`do_link_person`), or
* rejects it with a reason (:func:`do_reject_message`).

Accepting or linking applies the message exactly as an automatic link would (the same
effect functions) and queues the reply to the sender; each decision is audited.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.exchange.models import InboxMessage, InboxStatus
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person, ResidenceType
from popreg.registry.policy import Permission

#: Inbox statuses that wait for a person's decision.
OPEN = (InboxStatus.REVIEW, InboxStatus.UNMATCHED)


class ReviewError(RegistryError):
    """A refused review decision (Chinese + English, naming the field)."""


# --- who may decide what ------------------------------------------------------------------


def may_review(actor: Actor) -> bool:
    """Whether the actor may open the review queue at all."""
    return actor.can(Permission.MANAGE_EXCHANGE) or actor.can(Permission.REVIEW_EXCHANGE)


def _candidate_units(message: InboxMessage) -> list[str]:
    units = [str(c.get("registered_unit") or "") for c in message.candidates or []]
    units += [str(c.get("residence_unit") or "") for c in message.candidates or []]
    return [u for u in units if u]


def message_in_scope(actor: Actor, message: InboxMessage) -> bool:
    """County reviewers see every message; a township officer those whose candidates (or
    linked person) are registered or living within the township."""
    if actor.can(Permission.MANAGE_EXCHANGE) or (actor.can(Permission.REVIEW_EXCHANGE) and actor.county_wide):
        return True
    if not actor.can(Permission.REVIEW_EXCHANGE):
        return False
    if message.person_id is not None and message.person is not None and person_in_scope(actor, message.person):
        return True
    return any(actor.covers(u) for u in _candidate_units(message))


def require_review(actor: Actor, message: InboxMessage) -> None:
    if actor.can(Permission.MANAGE_EXCHANGE):
        return
    actor.require(Permission.REVIEW_EXCHANGE)
    if not message_in_scope(actor, message):
        raise ReviewError(
            "该来件通知的候选人员不在您的辖区内，请由县级管理员处理",
            "none of this notification's candidates is within your jurisdiction; a county "
            "administrator decides it",
            "message",
        )


def review_queue(actor: Actor) -> list[InboxMessage]:
    """Open messages the actor may decide, oldest first."""
    qs = InboxMessage.objects.filter(status__in=OPEN).select_related("person").order_by("received_at", "id")
    if actor.can(Permission.MANAGE_EXCHANGE) or (actor.can(Permission.REVIEW_EXCHANGE) and actor.county_wide):
        return list(qs)
    if not actor.can(Permission.REVIEW_EXCHANGE):
        return []
    return [m for m in qs if message_in_scope(actor, m)]


def decided(actor: Actor, limit: int = 50) -> list[InboxMessage]:
    """The latest decisions the actor may see."""
    qs = (InboxMessage.objects.filter(reviewed_at__isnull=False).select_related("person", "reviewed_by")
          .order_by("-reviewed_at", "-id"))
    return [m for m in qs[: limit * 4] if message_in_scope(actor, m)][:limit]


def open_message(actor: Actor, pk: int, *, for_update: bool = False) -> InboxMessage:
    # FOR UPDATE cannot lock the nullable side of the join to the person (PostgreSQL)
    qs = InboxMessage.objects.select_for_update() if for_update else InboxMessage.objects.select_related("person")
    message = qs.filter(pk=pk).first()
    if message is None:
        raise ReviewError("找不到该来件通知", "no such incoming notification", "message")
    require_review(actor, message)
    if message.status not in OPEN:
        raise ReviewError(
            "该来件通知已处理，无需再次决定", "this notification has already been decided", "message"
        )
    return message


# --- decisions ------------------------------------------------------------------------------


def _person(pk: Any) -> Person:
    try:
        person = Person.objects.select_related("registered_unit").get(pk=int(pk))
    except (Person.DoesNotExist, TypeError, ValueError):
        raise ReviewError("请选择要关联的人员", "choose the person to link", "person") from None
    return person


def _apply_to(actor: Actor, message: InboxMessage, person: Person, action: AuditAction,
              reason: str) -> InboxMessage:
    """Apply ``message`` to ``person`` as an automatic link would, mark it decided, audit."""
    from popreg.exchange import apply

    effect = apply.EFFECTS.get(message.type)
    if effect is None:
        raise ReviewError("该类型的通知无法关联人员", "a notification of this type links no person", "message")
    wants_in_migrant = message.type in apply.REPLY_TYPES
    if wants_in_migrant != (person.residence_type == ResidenceType.FLOATING_IN):
        raise ReviewError(
            "所选人员类型不符：户籍地的回复只能关联本地流入人员，居住地的通知只能关联本地户籍人员",
            "wrong kind of person: a reply of the place of registration concerns one of our "
            "in-migrants, a notification of the place of residence one of our registered persons",
            "person",
        )
    if wants_in_migrant and not str(person.registered_unit_id).startswith(str(message.sender)):
        raise ReviewError(
            f"所选流入人员的户籍地不在发件县 {message.sender}：对方只能答复其本县户籍人员",
            f"the chosen in-migrant's origin is not in the sending county {message.sender}: "
            "a county answers for its own people only",
            "person",
        )
    if person.merged_into_id is not None or person.status != "active":
        raise ReviewError("所选人员记录已合并或已注销，请选择现行记录",
                          "the chosen record is merged or closed: choose an active record", "person")
    if not actor.can(Permission.MANAGE_EXCHANGE) and not person_in_scope(actor, person):
        raise ReviewError("所选人员不在您的辖区内", "the chosen person is outside your jurisdiction", "person")
    before = {"status": message.status, "person": message.person_id}
    from popreg.registry.access import system_actor

    # The record changes themselves are the exchange's (the system actor applies messages);
    # the decision is the reviewer's and is audited in the reviewer's name below.
    detail = effect(system_actor("exchange"), message, person)
    message.status = InboxStatus.APPLIED
    message.person = person
    message.reviewed_by = actor.user if getattr(actor.user, "pk", None) else None
    message.reviewed_at = timezone.now()
    message.detail = {**(message.detail or {}), "review": {"decision": action.value, "reason": reason, **detail}}
    message.save(update_fields=["status", "person", "reviewed_by", "reviewed_at", "detail"])
    audit(actor, action, message, unit_code=person.registered_unit_id, before=before,
          after={"status": message.status, "person": person.pk},
          detail={"message_id": message.message_id, "sender": message.sender, "type": message.type,
                  "reason": reason, "reply": detail.get("reply", "")})
    return message


@transaction.atomic
def do_accept_candidate(actor: Actor, message: InboxMessage | int, person_id: Any) -> InboxMessage:
    """Accept one of the message's listed candidates."""
    msg = open_message(actor, message if isinstance(message, int) else message.pk, for_update=True)
    listed = {str(c.get("person_id")) for c in msg.candidates or []}
    if str(person_id) not in listed:
        raise ReviewError("所选人员不在候选名单中；如需关联其他人员，请使用“关联其他人员”",
                          "that person is not a candidate; use “link to another person” instead", "person")
    return _apply_to(actor, msg, _person(person_id), AuditAction.EXCHANGE_REVIEW_ACCEPT, "")


@transaction.atomic
def do_link_person(actor: Actor, message: InboxMessage | int, person_id: Any, reason: str) -> InboxMessage:
    """Link the message to a person the reviewer found (not necessarily a candidate)."""
    msg = open_message(actor, message if isinstance(message, int) else message.pk, for_update=True)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("请填写关联理由（如何确认是同一人）",
                          "give a reason for the link (how you know it is the same person)", "reason")
    return _apply_to(actor, msg, _person(person_id), AuditAction.EXCHANGE_REVIEW_LINK, reason)


@transaction.atomic
def do_reject_message(actor: Actor, message: InboxMessage | int, reason: str) -> InboxMessage:
    """Reject the message: nothing is applied, no reply is sent (the sender has its ack)."""
    msg = open_message(actor, message if isinstance(message, int) else message.pk, for_update=True)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("请填写驳回理由", "give a reason for the rejection", "reason")
    before = {"status": msg.status}
    msg.status = InboxStatus.REJECTED
    msg.reason = reason
    msg.reviewed_by = actor.user if getattr(actor.user, "pk", None) else None
    msg.reviewed_at = timezone.now()
    msg.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
    units = _candidate_units(msg)
    audit(actor, AuditAction.EXCHANGE_REVIEW_REJECT, msg, unit_code=units[0] if units else "",
          before=before, after={"status": msg.status},
          detail={"message_id": msg.message_id, "sender": msg.sender, "type": msg.type, "reason": reason})
    return msg


def search_people(actor: Actor, query: str, message: InboxMessage) -> list[Person]:
    """Persons to link by hand: registry search in the actor's jurisdiction, only the kind
    of record the message can concern."""
    from popreg.exchange import apply
    from popreg.registry.search import search_persons

    found = list(search_persons(actor, query, limit=30))
    wants_in_migrant = message.type in apply.REPLY_TYPES
    return [p for p in found if (p.residence_type == ResidenceType.FLOATING_IN) == wants_in_migrant
            and p.status == "active" and p.merged_into_id is None]


def open_count(actor: Actor) -> int:
    return len(review_queue(actor))

