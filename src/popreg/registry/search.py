"""Person search: by name (simplified or traditional), pinyin, full or partial ID, 户号."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Q, QuerySet

from popreg.core import idnumber, names
from popreg.registry.access import Actor, scope_persons
from popreg.registry.models import Person

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
        cond |= Q(household__household_no=q)
        return base.filter(cond).order_by("id")[:limit]
    if _ASCII.match(q):
        key = q.replace(" ", "").lower()
        return base.filter(name_pinyin__startswith=key).order_by("name_pinyin", "id")[:limit]
    key = names.normalize_name(q)
    return base.filter(name_key__startswith=key).order_by("name_key", "id")[:limit]
