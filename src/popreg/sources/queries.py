"""Reads of the outside-source app that other pages use (the home page's open work)."""

from __future__ import annotations

from django.db.models import QuerySet

from popreg.registry.access import Actor
from popreg.sources.models import LinkStatus, SourceLink

#: The statuses of the review queue.
QUEUE = (LinkStatus.PROPOSED, LinkStatus.UNMATCHED)


def review_queue(actor: Actor) -> QuerySet[SourceLink]:
    """Links waiting for a decision, of records in the actor's jurisdiction."""
    qs = SourceLink.objects.filter(status__in=QUEUE).select_related("entry", "proposed_person")
    if actor.prefix:
        qs = qs.filter(entry__unit_code__startswith=actor.prefix)
    return qs
