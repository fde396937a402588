"""Notifying the place of registration when an in-migrant's record changes here.

:data:`popreg.migrants.signals.migrant_event` is sent after an in-migrant action commits
(registration, change of address, departure, residence permit).  When the person's origin
lies in the county of a trusted peer (:func:`popreg.exchange.peers.peer_for_unit`), the
receiver below queues the message of the same type to that peer, with the subject and
payload of :mod:`popreg.exchange.backfill`.  An origin without a trusted peer queues
nothing.  A failure to queue never undoes the migrants action (it is committed already);
it is logged, and ``popreg exchange backfill`` repairs a missed registration.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from popreg.exchange import peers
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person

log = logging.getLogger(__name__)

KINDS = ("migrant_registered", "migrant_moved", "migrant_departed", "permit_issued")


def on_migrant_event(sender: Any, *, kind: str, person: Person, detail: dict[str, Any] | None = None,
                     **_kwargs: Any) -> Any:
    """Queue ``kind`` to the peer of the person's origin; returns the outbox row or None."""
    from popreg.exchange import outbox
    from popreg.exchange.backfill import payload_of, subject_of

    if kind not in KINDS:
        return None
    detail = dict(detail or {})
    origin = str(detail.get("origin_code") or person.registered_unit_id or "")
    peer = peers.peer_for_unit(origin)
    if peer is None:
        return None
    person.refresh_from_db()
    payload = payload_of(person, detail)
    try:
        with transaction.atomic():
            return outbox.queue(peer.code, kind, subject_of(person), payload)
    except RegistryError:
        log.exception("could not queue %s for person %s to %s", kind, person.pk, peer.code)
        return None


def connect() -> None:
    from popreg.migrants.signals import migrant_event

    migrant_event.connect(on_migrant_event, dispatch_uid="popreg.exchange.notify")


connect()
