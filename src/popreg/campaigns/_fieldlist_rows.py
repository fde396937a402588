"""The vocabulary and row helpers that the field list (:mod:`popreg.campaigns.fieldlists`)
and its offline workbook (:mod:`popreg.campaigns._fieldworkbook`) share.

A leaf: both import it, it imports neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from popreg.campaigns.models import Outcome
from popreg.registry.localtime import local_date
from popreg.registry.models import ResidenceType, Sex
from popreg.registry.vocabulary import ChineseLabels

#: Outcome codes of a door-to-door check and their Chinese labels (the workbook's drop-down),
#: residence types and sexes as printed: the models' vocabulary, always in Chinese.
OUTCOMES: Mapping[str, str] = ChineseLabels(Outcome)
RESIDENCE_TYPES_ZH: Mapping[str, str] = ChineseLabels(ResidenceType)
SEX_ZH: Mapping[str, str] = ChineseLabels(Sex)


class FieldListError(ValueError):
    """Bad input to a field list (missing key, unknown split).  Chinese, then English."""


def as_date(value: Any) -> date | None:
    """A date, or a moment's date in the county's time zone (the reference moment
    2026-12-01 00:00 +08:00, stored as 2026-11-30 16:00 UTC, is 2026-12-01)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return local_date(value)
    text = str(value).strip()
    try:
        return local_date(datetime.fromisoformat(text)) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None


def format_date(value: Any) -> str:
    d = as_date(value)
    return f"{d:%Y-%m-%d}" if d else (str(value) if value else "")


_RELATION_ORDER = ("户主", "配偶", "妻", "夫", "子", "女", "儿子", "女儿", "父", "母")


def _relation_rank(relation: str | None) -> int:
    if not relation:
        return len(_RELATION_ORDER) + 1
    for i, prefix in enumerate(_RELATION_ORDER):
        if relation.startswith(prefix):
            return i
    return len(_RELATION_ORDER)


def sort_persons(persons: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """By household number, the head first, then by birth date and person_id."""
    return sorted(
        persons,
        key=lambda p: (
            str(p.get("household_no") or ""),
            _relation_rank(p.get("relation")),
            as_date(p.get("birth_date")) or date.max,
            int(p.get("person_id") or 0),
        ),
    )
