"""Person search: by name (simplified or traditional), pinyin, full or partial ID, 户号."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Q, QuerySet

from popreg.core import idnumber, names
from popreg.registry.access import Actor, scope_persons
from popreg.registry.models import Household, Person

_ASCII = re.compile(r"^[A-Za-z ]+$")
_IDLIKE = re.compile(r"^[0-9Xx]+$")


def name_keys(name: str) -> tuple[str, str]:
    """(normalised name, primary pinyin key) stored on Person for indexed search."""
    return names.normalize_name(name), names.pinyin_key(name)


def search_persons(actor: Actor, query: str, limit: int = 50) -> QuerySet[Any]:
    """Persons in the actor's jurisdiction matching ``query``.

    - digits (and X): 15/18 characters → exact ID (15-digit forms upgraded); 4 or more
      → partial ID (substring); a 9-digit number also matches a household number;
    - Latin letters → pinyin of the name (prefix, spaces ignored, tones not needed);
    - anything else → normalised name (traditional input finds simplified records), exact
      or prefix.
    """
    q = unicodedata.normalize("NFKC", query).strip()
    base = scope_persons(Person.objects.select_related("registered_unit", "household"), actor)
    if not q:
        return base.none()
    compact = idnumber.normalize(q)
    if _IDLIKE.match(compact):
        if len(compact) == 15 and compact.isdigit():
            compact = idnumber.upgrade_15_to_18(compact)
        if len(compact) == 18:
            cond = Q(id_number=compact)
        elif len(compact) >= 4:
            cond = Q(id_number__contains=compact)
        else:
            return base.none()
        # Household ids first: an OR across the join to households defeats both indexes.
        households = list(Household.objects.filter(household_no=q).values_list("id", flat=True)[:20])
        if households:
            cond |= Q(household_id__in=households)
        return base.filter(cond).order_by("id")[:limit]
    if _ASCII.match(q):
        return _prefix(base, "name_pinyin", q.replace(" ", "").lower(), limit)
    return _prefix(base, "name_key", names.normalize_name(q), limit)


def _prefix(base: QuerySet[Any], field: str, key: str, limit: int) -> QuerySet[Any]:
    """Rows whose ``field`` starts with ``key``, ordered by it, through its btree index.

    The explicit range lets PostgreSQL use the plain index whatever the database collation
    (``LIKE 'x%'`` is only turned into a range under the C collation); ``startswith`` keeps
    the result exact where the collation orders differently.
    """
    flt = {f"{field}__startswith": key, f"{field}__gte": key, f"{field}__lt": key + "\U0010ffff"}
    return base.filter(**flt).order_by(field, "id")[:limit]
