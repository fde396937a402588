"""Read API for units, households and persons (django-ninja), mounted under ``/api/``.

Every query goes through ``popreg.registry.access``: a record outside the caller's
jurisdiction answers 404 exactly like a record that does not exist, and never appears in
a list or a search.  Lists are paginated (``?page=``, ``?page_size=`` up to 200) and show
ID numbers masked (``1101**********002X``); the full number is only in a person's detail,
and each such read is audited (``read_id_number``).

Authentication: the Django session of a logged-in user (browser, ``/api/docs``), or for
scripts an API token of the user (``Authorization: Bearer prg_...``, created on the
``/tokens/`` page; read-only, expiring, revocable).  Passwords are not accepted by the API.
Anonymous calls and unknown, expired or revoked tokens answer 401; failed tokens count
towards the login lockout of the client address (429 while locked out); an account
without a jurisdiction answers 403.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate
from ninja.security import HttpBearer, SessionAuth

from popreg.core.population import COUNTED_STATUS
from popreg.core.privacy import mask_id
from popreg.registry import population
from popreg.registry.access import (
    Actor,
    actor_for,
    person_in_scope,
    scope_households,
    scope_persons,
    scope_units,
)
from popreg.registry.api_tokens import user_for_token
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import (
    PREFIX_LENGTH,
    AdminUnit,
    Household,
    Person,
)
from popreg.registry.search import search_persons

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_LIMIT = 500
NOT_FOUND = "未找到，或不在您的辖区内 / not found, or outside your jurisdiction"


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` with a user's API token (popreg.registry.api_tokens)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return user_for_token(request, token)


router = Router(tags=["registry 登记库"], auth=[SessionAuth(), TokenAuth()])


def _actor(request: HttpRequest) -> Actor:
    user = getattr(request, "auth", None) or request.user
    try:
        return actor_for(user)
    except RegistryError as exc:
        raise HttpError(403, f"{exc.message_zh} / {exc.message_en}") from exc


#: The last page a client may ask for (200 a page: 200 million rows); past it, and for a page
#: below 1 or a size outside 1..200, the API answers 422 naming the parameter, never 500.
MAX_PAGE = 1_000_000
#: Longest text a query parameter may hold (names, ID numbers and codes are much shorter).
MAX_QUERY_TEXT = 100


class BoundedPages(PageNumberPagination):
    """Page-number pagination whose parameters are bounded (a page past the last one that
    holds rows is an empty page)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE)


def _pagination() -> Any:
    return paginate(BoundedPages, page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)


def _text(description: str) -> Any:
    return Query(None, max_length=MAX_QUERY_TEXT, description=description)


# --------------------------------------------------------------------------- schemas


class UnitOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None
    valid_from: date
    valid_to: date | None

    @staticmethod
    def resolve_parent_code(obj: AdminUnit) -> str | None:
        return obj.parent_id


class UnitDetail(UnitOut):
    parent_name: str | None
    children: int
    households: int
    registered_population: int
    resident_population: int
    actual_population: int

    @staticmethod
    def resolve_children(obj: Any) -> int:
        return int(obj.n_children)

    @staticmethod
    def resolve_households(obj: Any) -> int:
        return int(obj.n_households)


class PersonBrief(Schema):
    id: int
    name: str
    sex: str
    birth_date: date | None
    id_number_masked: str
    household_no: str | None
    registered_unit: str
    residence_unit: str | None
    residence_type: str
    status: str

    @staticmethod
    def resolve_id_number_masked(obj: Person) -> str:
        return mask_id(obj.id_number)

    @staticmethod
    def resolve_household_no(obj: Person) -> str | None:
        return obj.household.household_no if obj.household_id else None

    @staticmethod
    def resolve_registered_unit(obj: Person) -> str:
        return obj.registered_unit_id

    @staticmethod
    def resolve_residence_unit(obj: Person) -> str | None:
        return obj.residence_unit_id


class EventOut(Schema):
    id: int
    event_type: str
    event_date: date
    recorded_date: date
    unit_code: str
    from_unit: str
    to_unit: str
    changes: dict[str, Any]


class PersonDetail(PersonBrief):
    id_number: str | None
    former_names: str
    ethnicity: str
    hukou_kind: str
    marital_status: str
    death_date: date | None
    registered_date: date | None
    household_id: int | None
    mother_id: int | None
    father_id: int | None
    merged_into_id: int | None
    events: list[EventOut]

    @staticmethod
    def resolve_events(obj: Person) -> list[Any]:
        return list(obj.events.order_by("id"))


class HouseholdOut(Schema):
    id: int
    household_no: str
    unit_code: str
    kind: str
    address: str
    head_id: int | None
    members: int

    @staticmethod
    def resolve_unit_code(obj: Household) -> str:
        return obj.unit_id

    @staticmethod
    def resolve_members(obj: Household) -> int:
        return int(getattr(obj, "n_members", 0) or 0)


class HouseholdDetail(HouseholdOut):
    unit_name: str
    member_list: list[PersonBrief]


# --------------------------------------------------------------------------- units


def _unit_in_scope(actor: Actor, code: str) -> AdminUnit:
    unit = scope_units(AdminUnit.objects.all(), actor).filter(code=code).first()
    if unit is None:
        raise HttpError(404, NOT_FOUND)
    return unit


@router.get("/units", response=list[UnitOut], summary="行政区划列表 / list units")
@_pagination()
def list_units(request: HttpRequest, level: str | None = _text("unit level"),
               parent: str | None = _text("parent unit code")) -> QuerySet[Any]:
    """Units in the caller's jurisdiction, optionally of one level or under one parent."""
    actor = _actor(request)
    qs = scope_units(AdminUnit.objects.all(), actor).order_by("code")
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent_id=parent)
    return qs


@router.get("/units/{code}", response=UnitDetail, summary="行政区划详情 / unit detail")
def get_unit(request: HttpRequest, code: str) -> Any:
    actor = _actor(request)
    unit = _unit_in_scope(actor, code)
    prefix = unit.code[: PREFIX_LENGTH[unit.level]]
    unit.parent_name = unit.parent.name if unit.parent_id else None
    unit.n_children = scope_units(unit.children.all(), actor).count()
    # Households in use (not dissolved), as on the unit page.
    unit.n_households = scope_households(
        Household.objects.filter(unit_id__startswith=prefix, dissolved_on__isnull=True), actor).count()
    # The one definition of each population concept (popreg.registry.population): the
    # unit page, the person-list exports and the statistics count the same persons.
    for key, n in population.figures(unit).items():
        setattr(unit, f"{key}_population", n)
    return unit


@router.get("/units/{code}/children", response=list[UnitOut], summary="下级单位 / child units")
@_pagination()
def unit_children(request: HttpRequest, code: str) -> QuerySet[Any]:
    actor = _actor(request)
    unit = _unit_in_scope(actor, code)
    return scope_units(unit.children.all(), actor).order_by("code")


# --------------------------------------------------------------------------- households


def _households(actor: Actor) -> QuerySet[Any]:
    # Present members (active records, not merged), as the unit and household pages count them.
    present = Q(members__status=COUNTED_STATUS, members__merged_into__isnull=True)
    return scope_households(Household.objects.all(), actor).annotate(n_members=Count("members", filter=present))


@router.get("/households", response=list[HouseholdOut], summary="户列表 / list households")
@_pagination()
def list_households(request: HttpRequest, unit: str | None = _text("unit code")) -> QuerySet[Any]:
    """Households in the caller's jurisdiction; ``unit`` limits to one unit and those below it."""
    actor = _actor(request)
    qs = _households(actor)
    if unit:
        u = _unit_in_scope(actor, unit)
        qs = qs.filter(unit_id__startswith=u.code[: PREFIX_LENGTH[u.level]])
    return qs.order_by("household_no")


@router.get("/households/{household_id}", response=HouseholdDetail, summary="户详情 / household detail")
def get_household(request: HttpRequest, household_id: int) -> Any:
    actor = _actor(request)
    hh = _households(actor).select_related("unit").filter(pk=household_id).first()
    if hh is None:
        raise HttpError(404, NOT_FOUND)
    members = scope_persons(hh.members.select_related("household"), actor).order_by("id")
    hh.unit_name = hh.unit.name
    hh.member_list = list(members)
    return hh


# --------------------------------------------------------------------------- persons


@router.get("/persons", response=list[PersonBrief], summary="人员查询 / search or list persons")
@_pagination()
def list_persons(
    request: HttpRequest, q: str | None = _text("name, pinyin, ID number or 户号"),
    unit: str | None = _text("unit code"), status: str | None = _text("status"),
) -> Any:
    """``q``: name (simplified or traditional), pinyin, full or partial ID number, or 户号
    (see ``popreg.registry.search``), at most 500 matches.  Without ``q``: the persons
    registered in or living in ``unit`` (or the whole jurisdiction)."""
    actor = _actor(request)
    if q:
        return search_persons(actor, q, limit=SEARCH_LIMIT)
    qs = scope_persons(Person.objects.select_related("household"), actor)
    if unit:
        u = _unit_in_scope(actor, unit)
        prefix = u.code[: PREFIX_LENGTH[u.level]]
        qs = qs.filter(Q(registered_unit_id__startswith=prefix) | Q(residence_unit_id__startswith=prefix))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("id")


@router.get("/persons/{person_id}", response=PersonDetail, summary="人员详情 / person detail")
def get_person(request: HttpRequest, person_id: int) -> Any:
    """One person with the full ID number (the read is audited) and the event history."""
    actor = _actor(request)
    person = Person.objects.select_related("household").filter(pk=person_id).first()
    if person is None or not person_in_scope(actor, person):
        raise HttpError(404, NOT_FOUND)
    if person.id_number:
        audit(actor, AuditAction.READ_ID_NUMBER, person, unit_code=person.registered_unit_id,
              detail={"via": "api"})
    return person
