"""Counting people in the live registry: the one query module of the population concepts.

Every page, the API and the person-list exports count a unit's registered (户籍人口),
resident (常住人口) or actual (实有人口) population here, with the definitions of
:mod:`popreg.core.population` (the statistics engine writes its SQL from the same
definitions), so a unit shows one number everywhere::

    population.count("registered", unit)          # one unit
    population.counts_by_unit("registered", unit, children)   # its children, one query
    population.persons("resident", unit)          # the persons themselves (lists, exports)

A unit counts the persons whose unit (of registration or of residence, by concept) lies
under its code prefix.  Every unit a user may open lies inside the user's jurisdiction,
and so does everyone counted in it: the figures need no per-user filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce

from popreg.core.population import CONCEPTS, COUNTED_STATUS, Concept, concept
from popreg.registry.models import PREFIX_LENGTH, AdminUnit, Person

__all__ = ["CONCEPTS", "count", "counts_by_unit", "figures", "persons", "population_q", "prefix_of"]


def prefix_of(unit: AdminUnit | str) -> str:
    """The code prefix of a unit (or of a bare 12-digit code: itself)."""
    if isinstance(unit, AdminUnit):
        return unit.code[: PREFIX_LENGTH[unit.level]]
    return unit


def _under(field: str, prefix: str) -> Q:
    """``field`` starts with the digit string ``prefix``, as a range an index can use."""
    if not prefix:
        return Q()
    q = Q(**{f"{field}__gte": prefix})
    if prefix.isdigit() and set(prefix) != {"9"}:
        return q & Q(**{f"{field}__lt": str(int(prefix) + 1).zfill(len(prefix))})
    return q & Q(**{f"{field}__startswith": prefix})


def _concept(key: str | Concept) -> Concept:
    return key if isinstance(key, Concept) else concept(key)


def population_q(key: str | Concept, prefix: str = "") -> Q:
    """Filter of the persons counted in concept ``key`` in the unit with code ``prefix``
    ("" = everywhere)."""
    c = _concept(key)
    q = Q(status=COUNTED_STATUS, residence_type__in=c.residence_types, merged_into__isnull=True)
    return q & _unit_q(c, prefix) if prefix else q


def persons(key: str | Concept, unit: AdminUnit | str = "") -> QuerySet[Person]:
    """The persons counted in ``unit`` ("" = everywhere)."""
    return Person.objects.filter(population_q(key, prefix_of(unit)))


def count(key: str | Concept, unit: AdminUnit | str = "") -> int:
    """How many persons ``unit`` counts in concept ``key``."""
    return int(persons(key, unit).count())


def _unit_q(c: Concept, prefix: str) -> Q:
    """Persons whose unit of concept ``c`` lies under ``prefix`` (the unit part of
    :func:`population_q`)."""
    if c.unit_field == "registered":
        return _under("registered_unit_id", prefix)
    return _under("residence_unit_id", prefix) | (
        Q(residence_unit_id__isnull=True) & _under("registered_unit_id", prefix)
    )


def figures(unit: AdminUnit | str) -> dict[str, int]:
    """The unit's population in every concept: ``{"registered": n, "resident": n, "actual": n}``.

    One grouped scan with a filtered count per concept (each filter is exactly
    :func:`population_q`), so a county page costs one pass, not three."""
    prefix = prefix_of(unit)
    base = Person.objects.filter(status=COUNTED_STATUS, merged_into__isnull=True)
    if prefix:
        base = base.filter(_under("registered_unit_id", prefix) | _under("residence_unit_id", prefix))
    counts = base.aggregate(**{
        key: Count("id", filter=Q(residence_type__in=c.residence_types) & (_unit_q(c, prefix) if prefix else Q()))
        for key, c in CONCEPTS.items()
    })  # fmt: skip
    return {key: int(counts[key] or 0) for key in CONCEPTS}


def counts_by_unit(
    key: str | Concept, parent: AdminUnit | str, units: Iterable[AdminUnit]
) -> dict[str, int]:
    """Population of each of ``units`` (children of ``parent``), in one grouped query."""
    c = _concept(key)
    field: Any = F("registered_unit_id") if c.unit_field == "registered" else Coalesce(
        "residence_unit_id", "registered_unit_id"
    )
    rows = (
        persons(c, parent).annotate(counted_unit=field)
        .values("counted_unit").annotate(n=Count("id")).order_by()
    )  # fmt: skip
    units = list(units)
    out = {u.code: 0 for u in units}
    prefixes = sorted(((prefix_of(u), u.code) for u in units), key=lambda p: -len(p[0]))
    for row in rows:
        code = row["counted_unit"] or ""
        for prefix, unit_code in prefixes:
            if code.startswith(prefix):
                out[unit_code] += row["n"]
                break
    return out
