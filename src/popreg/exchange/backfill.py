"""``popreg exchange backfill --to CODE``: tell a newly trusted peer about the in-migrants
already living here whose place of registration is in the peer's county.

One ``migrant_registered`` per in-migrant (active person, ``floating_in``, registered unit
under the peer's code), with the same subject and payload as the live notification that
:mod:`popreg.exchange.notify` sends when an in-migrant is registered.  A second backfill
queues nothing for a person who already has a ``migrant_registered`` to that peer that is
pending, sent or acknowledged (only a failed one is queued again).
"""

from __future__ import annotations

from typing import Any, TextIO

from django.db import transaction

from popreg.exchange import outbox, peers
from popreg.exchange.models import OutboxMessage, OutboxStatus
from popreg.registry.access import system_actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import Person, ResidenceType, Status
from popreg.registry.policy import Permission


def subject_of(person: Person) -> dict[str, Any]:
    """The subject of a notification about ``person``, as this deployment holds them."""
    return {
        "id_number": person.id_number or "",
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat() if person.birth_date else "",
    }


def payload_of(person: Person, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payload of a notification about an in-migrant: where they live here (our unit
    code and name), arrival, reason, employer, contact, their origin code, and ``ref``,
    our reference that the reply carries back as ``your_ref``."""
    from popreg.migrants.models import InMigrant, InMigrantStatus

    detail = dict(detail or {})
    if not detail:
        m = (InMigrant.objects.filter(person=person, status=InMigrantStatus.ACTIVE)
             .select_related("residence_unit").order_by("-id").first())
        if m is not None:
            detail = in_migrant_detail(m)
        else:  # a loaded floating_in person without a migrants record
            unit = person.residence_unit
            detail = {
                "residence_unit": person.residence_unit_id or "",
                "residence_unit_name": unit.name if unit is not None else "",
                "origin_code": person.registered_unit_id,
            }
    payload = {k: v for k, v in detail.items() if v not in (None, "")}
    payload.setdefault("origin_code", person.registered_unit_id)
    payload["origin_unit"] = payload["origin_code"]
    payload["ref"] = str(person.pk)
    return payload


def in_migrant_detail(m: Any) -> dict[str, Any]:
    """What a notification says about an in-migrant record (``popreg.migrants.models.InMigrant``)."""
    return {
        "residence_unit": m.residence_unit_id, "residence_unit_name": m.residence_unit.name,
        "origin_code": m.origin_code, "arrival_date": m.arrival_date.isoformat(),
        "reason": m.reason, "employer": m.employer, "contact": m.contact,
    }  # fmt: skip


def in_migrants_from(code: str) -> Any:
    return (Person.objects.filter(status=Status.ACTIVE, merged_into__isnull=True,
                                  residence_type=ResidenceType.FLOATING_IN,
                                  registered_unit_id__startswith=code)
            .select_related("residence_unit").order_by("id"))


def already_queued(code: str) -> set[str]:
    """References (and ID numbers) of persons with a live ``migrant_registered`` to ``code``."""
    out: set[str] = set()
    rows = OutboxMessage.objects.filter(recipient=code, type="migrant_registered").exclude(
        status=OutboxStatus.FAILED).values_list("payload", "subject")
    for payload, subject in rows:
        ref = (payload or {}).get("ref")
        if ref:
            out.add(f"ref:{ref}")
        number = (subject or {}).get("id_number")
        if number:
            out.add(f"id:{number}")
    return out


def backfill(to_code: str, stdout: TextIO | None = None) -> int:
    """Queue ``migrant_registered`` for every in-migrant whose origin is ``to_code``'s
    county; returns how many were queued (0 when all are queued already)."""
    actor = system_actor("exchange backfill")
    actor.require(Permission.MANAGE_EXCHANGE)
    peer = peers.peer(to_code)
    if peer is None:
        raise peers.ExchangeError(
            f"{to_code} 不是受信任的交换对端：请先用 popreg exchange trust 添加",
            f"{to_code} is not a trusted peer: add it with popreg exchange trust first",
            "to",
        )
    from popreg.migrants.models import InMigrant, InMigrantStatus

    done = already_queued(peer.code)
    records = {m.person_id: in_migrant_detail(m) for m in InMigrant.objects.filter(
        status=InMigrantStatus.ACTIVE, person__registered_unit_id__startswith=peer.code,
    ).select_related("residence_unit").order_by("id")}  # the latest per person wins
    queued = skipped = 0
    with transaction.atomic():
        for person in in_migrants_from(peer.code).iterator(chunk_size=500):
            if f"ref:{person.pk}" in done or (person.id_number and f"id:{person.id_number}" in done):
                skipped += 1
                continue
            payload = payload_of(person, records.get(person.pk))
            outbox.queue(peer.code, "migrant_registered", subject_of(person), payload)
            queued += 1
        audit(actor, AuditAction.EXCHANGE_BACKFILL, None, unit_code="",
              detail={"to": peer.code, "queued": queued, "already_queued": skipped})
    if stdout is not None:
        stdout.write(f"已为 {peer.code} 排队 {queued} 条流入人员通知（{skipped} 条此前已排队） / "
                     f"queued {queued} in-migrant notifications for {peer.code} "
                     f"({skipped} already queued)\n")
    return queued
