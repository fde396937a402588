"""The filters, sort orders and page sizes of the person lists, in one place.

A person list page, its CSV download and a full-ID export request read the same
:func:`list_filters` from the query string and run the same :func:`filter_persons` and
:func:`ordering`, so the file holds exactly the rows the page showed.  The filters stay
in the URL (:func:`filter_query`): a list can be bookmarked, shared, and paged through.

Filters (query parameters, every one optional):

``where``           ``registered`` (registered in the unit, default) or ``living``
``status``          a person status, or ``all`` (default: active)
``residence_type``  a residence type
``name``            part of the name (characters, simplified or traditional) or the
                    start of its pinyin (``zhangw``)
``sex``             ``M`` or ``F``
``age_min``         completed years of age today, at least …
``age_max``         … at most (both inclusive)
``household``       household number
``sort``            ``unit`` (default: unit, household, record), ``name``, ``-name``,
                    ``birth_date``, ``-birth_date``, ``household``
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from popreg.core.names import normalize_name
from popreg.registry.models import ResidenceType, Sex, Status

#: Sort key → the ``order_by`` fields (the record number last: a stable order for paging).
SORTS: dict[str, tuple[str, ...]] = {
    "unit": ("registered_unit_id", "household_id", "id"),
    "name": ("name_pinyin", "name", "id"),
    "-name": ("-name_pinyin", "-name", "-id"),
    "birth_date": ("birth_date", "id"),
    "-birth_date": ("-birth_date", "-id"),
    "household": ("household__household_no", "id"),
}
PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_AGE = 130

FILTER_KEYS = ("where", "status", "residence_type", "name", "sex", "age_min", "age_max", "household", "sort")


def _age(raw: Any) -> str:
    raw = str(raw or "").strip()
    return raw if raw.isdigit() and int(raw) <= MAX_AGE else ""


def list_filters(request: HttpRequest) -> dict[str, str]:
    """The person-list filters of a request, each checked (an unknown value is ignored)."""
    get = request.GET
    status = get.get("status", Status.ACTIVE)
    rtype = get.get("residence_type", "")
    where = get.get("where", "registered")
    sex = get.get("sex", "")
    sort = get.get("sort", "")
    return {
        "status": status if status in Status.values or status == "all" else Status.ACTIVE,
        "residence_type": rtype if rtype in ResidenceType.values else "",
        "where": where if where in ("registered", "living") else "registered",
        "name": get.get("name", "").strip()[:60],
        "sex": sex if sex in Sex.values else "",
        "age_min": _age(get.get("age_min")),
        "age_max": _age(get.get("age_max")),
        "household": get.get("household", "").strip()[:20],
        "sort": sort if sort in SORTS else "unit",
    }


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def filter_persons(qs: QuerySet[Any], filters: dict[str, str], today: date) -> QuerySet[Any]:
    """``qs`` narrowed by ``filters`` (ages on ``today``); the unit filter is the caller's."""
    if filters.get("status", "all") != "all":
        qs = qs.filter(status=filters["status"])
    if filters.get("residence_type"):
        qs = qs.filter(residence_type=filters["residence_type"])
    if filters.get("sex"):
        qs = qs.filter(sex=filters["sex"])
    name = filters.get("name", "")
    if name:
        cond = Q(name__contains=name) | Q(name_key__contains=normalize_name(name) or name)
        letters = name.replace(" ", "").lower()
        if letters.isascii() and letters.isalpha():
            cond |= Q(name_pinyin__startswith=letters)
        qs = qs.filter(cond)
    if filters.get("age_min"):
        # At least n years old today: born on or before today n years ago.
        qs = qs.filter(birth_date__lte=_years_before(today, int(filters["age_min"])))
    if filters.get("age_max"):
        # At most n years old: not yet n + 1, born after today n + 1 years ago.
        qs = qs.filter(birth_date__gt=_years_before(today, int(filters["age_max"]) + 1))
    if filters.get("household"):
        qs = qs.filter(household__household_no=filters["household"])
    return qs


def ordering(filters: dict[str, str]) -> tuple[str, ...]:
    return SORTS.get(filters.get("sort", ""), SORTS["unit"])


def page_size(request: HttpRequest) -> int:
    raw = request.GET.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


def filter_query(filters: dict[str, str], **extra: Any) -> str:
    """The filters (and ``extra`` parameters such as the page size) as a query string."""
    return urlencode({**{k: v for k, v in filters.items() if v != ""}, **extra})


# ---------------------------------------------------------------- household lists

#: Sort key → ``order_by`` of a village's household list (``n``: its active members).
HOUSEHOLD_SORTS: dict[str, tuple[str, ...]] = {
    "number": ("household_no",),
    "-members": ("-n", "household_no"),
    "members": ("n", "household_no"),
    "address": ("address", "household_no"),
}
HOUSEHOLD_PAGE_SIZES = (50, 100, 200)
DEFAULT_HOUSEHOLD_PAGE_SIZE = 100


def household_filters(request: HttpRequest) -> dict[str, str]:
    """``q``: part of the household number, the address or the head's name; ``sort``."""
    sort = request.GET.get("sort", "")
    return {"q": request.GET.get("q", "").strip()[:60], "sort": sort if sort in HOUSEHOLD_SORTS else "number"}


def filter_households(qs: QuerySet[Any], filters: dict[str, str]) -> QuerySet[Any]:
    """``qs`` (annotated with ``n``) narrowed and ordered by ``filters``."""
    q = filters.get("q", "")
    if q:
        qs = qs.filter(Q(household_no__contains=q) | Q(address__contains=q) | Q(head__name__contains=q))
    return qs.order_by(*HOUSEHOLD_SORTS.get(filters.get("sort", ""), HOUSEHOLD_SORTS["number"]))


def household_page_size(request: HttpRequest) -> int:
    raw = request.GET.get("size", "")
    return int(raw) if raw.isdigit() and int(raw) in HOUSEHOLD_PAGE_SIZES else DEFAULT_HOUSEHOLD_PAGE_SIZE
