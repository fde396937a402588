"""Read-only lists of the migrants app, always scoped to an actor's jurisdiction.

In-migrants, permits and places belong to the unit where the migrant lives (or the place
is); out-migrants to the unit where they are registered.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet

from popreg.migrants.actions import RENEWAL_WINDOW_DAYS, WHEREABOUTS_STALE_DAYS, report_days
from popreg.migrants.models import (
    InMigrant,
    InMigrantStatus,
    PermitStatus,
    Place,
    PlaceOccupant,
    ResidencePermit,
)
from popreg.registry.access import Actor
from popreg.registry.models import AdminUnit, Person, ResidenceType, Status


def _prefix(actor: Actor, unit_code: str | None) -> str:
    """The narrower of the actor's jurisdiction and the unit asked for."""
    if unit_code and actor.covers(unit_code):
        unit = AdminUnit.objects.filter(code=unit_code).first()
        if unit is not None and unit.level != "external":
            return unit.prefix
    return actor.prefix


def in_migrants(actor: Actor, unit_code: str | None = None, *, status: str | None = InMigrantStatus.ACTIVE,
                ) -> QuerySet[InMigrant]:
    qs = InMigrant.objects.select_related("person", "residence_unit", "place")
    prefix = _prefix(actor, unit_code)
    if prefix:
        qs = qs.filter(residence_unit_id__startswith=prefix)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("residence_unit_id", "-arrival_date", "id")


def in_migrant_for(actor: Actor, pk: int) -> InMigrant | None:
    return in_migrants(actor, status=None).filter(pk=pk).first()


def out_migrants(actor: Actor, unit_code: str | None = None) -> QuerySet[Person]:
    """Active persons registered in the jurisdiction and living away (``floating_out``),
    with their out-migrant record when there is one (``out_migration``)."""
    qs = Person.objects.filter(status=Status.ACTIVE, merged_into__isnull=True,
                               residence_type=ResidenceType.FLOATING_OUT)
    prefix = _prefix(actor, unit_code)
    if prefix:
        qs = qs.filter(registered_unit_id__startswith=prefix)
    return qs.select_related("registered_unit", "residence_unit", "out_migration").order_by("registered_unit_id", "id")


def stale_before(as_of: date) -> date:
    return as_of - timedelta(days=WHEREABOUTS_STALE_DAYS)


def whereabouts_unknown(actor: Actor, as_of: date, unit_code: str | None = None) -> QuerySet[Person]:
    """Out-migrants not confirmed for more than 12 months (or never)."""
    cutoff = stale_before(as_of)
    return out_migrants(actor, unit_code).filter(
        Q(out_migration__isnull=True) | Q(out_migration__last_confirmed__isnull=True)
        | Q(out_migration__last_confirmed__lt=cutoff))


def unknown_counts_by_village(actor: Actor, as_of: date, unit_code: str | None = None) -> list[dict[str, Any]]:
    """Per village of registration: out-migrants, of which whereabouts unknown, and the rate known."""
    total = dict(out_migrants(actor, unit_code).values_list("registered_unit_id").annotate(n=Count("id")))
    unknown = dict(whereabouts_unknown(actor, as_of, unit_code).values_list("registered_unit_id")
                   .annotate(n=Count("id")))  # fmt: skip
    names = dict(AdminUnit.objects.filter(code__in=total).values_list("code", "name"))
    rows = []
    for code in sorted(total):
        n, u = total[code], unknown.get(code, 0)
        rows.append({"code": code, "name": names.get(code, code), "out_migrants": n, "unknown": u,
                     "known_rate": round(100 * (n - u) / n, 1) if n else None})
    return rows


def permits(actor: Actor, unit_code: str | None = None) -> QuerySet[ResidencePermit]:
    qs = ResidencePermit.objects.select_related("in_migrant__person", "in_migrant__residence_unit")
    prefix = _prefix(actor, unit_code)
    if prefix:
        qs = qs.filter(in_migrant__residence_unit_id__startswith=prefix)
    return qs


def permits_expiring(actor: Actor, as_of: date, unit_code: str | None = None,
                     days: int = RENEWAL_WINDOW_DAYS) -> QuerySet[ResidencePermit]:
    """Issued permits of in-migrants living here that expire within ``days`` of ``as_of``."""
    return permits(actor, unit_code).filter(
        status=PermitStatus.ISSUED, in_migrant__status=InMigrantStatus.ACTIVE,
        expiry_date__gte=as_of, expiry_date__lte=as_of + timedelta(days=days),
    ).order_by("expiry_date", "id")


def places(actor: Actor, unit_code: str | None = None) -> QuerySet[Place]:
    qs = Place.objects.select_related("unit")
    prefix = _prefix(actor, unit_code)
    if prefix:
        qs = qs.filter(unit_id__startswith=prefix)
    return qs


def place_for(actor: Actor, pk: int) -> Place | None:
    return places(actor).filter(pk=pk).first()


def unreported_occupants(as_of: date, prefix: str = "") -> QuerySet[PlaceOccupant]:
    """Tenants and workers still at a place whose landlord or employer has not reported
    them, although the set number of days since they came has passed."""
    qs = PlaceOccupant.objects.select_related("place", "person").filter(
        reported_on__isnull=True, until__isnull=True, since__lt=as_of - timedelta(days=report_days()),
        place__active=True,
    )
    if prefix:
        qs = qs.filter(place__unit_id__startswith=prefix)
    return qs.order_by("place__unit_id", "since", "id")
