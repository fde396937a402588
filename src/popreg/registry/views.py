"""Registry web pages.  Views are thin: parse input, run a scoped query or one action, render.

Every read goes through ``popreg.registry.access`` (a record outside the user's
jurisdiction is a 404, exactly like a record that does not exist), every write through
``popreg.registry.actions`` (read-only roles get 403 before a form is even shown).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from popreg.core.privacy import mask_id
from popreg.registry import actions, entry_check, listing, offers, population
from popreg.registry.access import (
    Actor,
    actor_for,
    scope_households,
    scope_persons,
    scope_units,
)
from popreg.registry.actions.entry_check import save_checked
from popreg.registry.actions.events import StaleVersionError
from popreg.registry.actions.households import head_problem
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.exports import Column, Export, export_response, request_full_id, request_reason
from popreg.registry.forms import (
    BirthForm,
    CorrectionForm,
    DeathForm,
    DischargeForm,
    DivorceForm,
    EnlistmentForm,
    MarriageForm,
    MoveInForm,
    MoveOutForm,
    SearchForm,
    TransferForm,
    add_registry_error,
)
from popreg.registry.models import (
    AdminUnit,
    Event,
    Household,
    Person,
    ResidenceType,
    Sex,
    Status,
)
from popreg.registry.navigation import landing
from popreg.registry.policy import Permission
from popreg.registry.search import search_persons

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def with_actor(view: View) -> View:
    """Login required; passes the user's Actor; a user without jurisdiction gets 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            actor = actor_for(request.user)
        except JurisdictionError as err:
            raise PermissionDenied(err.message) from None
        return view(request, actor, *args, **kwargs)

    return wrapper


def writer(view: View) -> View:
    """Forms that change the registry: read-only roles get 403 on GET and POST."""

    @with_actor
    @functools.wraps(view)
    def wrapper(request: HttpRequest, actor: Actor, *args: Any, **kwargs: Any) -> HttpResponse:
        if not actor.can_write:
            raise PermissionDenied(_("Your role is read-only."))
        return view(request, actor, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- scoped lookups


def unit_in_reach(actor: Actor, code: str) -> AdminUnit:
    return get_object_or_404(scope_units(AdminUnit.objects.select_related("parent"), actor), code=code)


def _person(actor: Actor, pk: int) -> Person:
    qs = Person.objects.select_related("registered_unit", "residence_unit", "household")
    return get_object_or_404(scope_persons(qs, actor), pk=pk)


def _household_by_no(actor: Actor, number: str) -> Household | None:
    number = (number or "").strip()
    if not number:
        return None
    hh = scope_households(Household.objects.all(), actor).filter(household_no=number).first()
    if hh is None:
        raise RegistryError(
            f"户号 {number} 不存在或不在您的辖区内，请核对户号",
            f"household {number} does not exist or is outside your jurisdiction; check the number",
            "household_no",
        )
    return hh


def _person_ref(actor: Actor, raw: str, field: str, label: str) -> Person | None:
    """A parent given by record number (编号) or ID number, inside the jurisdiction."""
    raw = (raw or "").strip().upper()
    if not raw:
        return None
    qs = scope_persons(Person.objects.all(), actor)
    found = qs.filter(id_number=raw).first() if len(raw) in (15, 18) else None
    if found is None and raw.isdigit() and len(raw) <= 12:
        found = qs.filter(pk=int(raw)).first()
    if found is None:
        raise RegistryError(
            f"{label}“{raw}”未找到（应填写编号或公民身份号码，且在您的辖区内）",
            f"{field} {raw!r} not found (give a record number or ID number within your jurisdiction)",
            field,
        )
    return found


def under(field: str, prefix: str) -> Q:
    """``field`` starts with the digit string ``prefix``, as a range the index can use.

    ``startswith`` becomes ``LIKE 'p%'``, which SQLite runs as a full scan; a range
    ``prefix <= field < prefix + 1`` reads only the unit's rows (digits sort the same in
    every collation).
    """
    if not prefix:
        return Q()
    q = Q(**{f"{field}__gte": prefix})
    if prefix.isdigit() and set(prefix) != {"9"}:
        return q & Q(**{f"{field}__lt": str(int(prefix) + 1).zfill(len(prefix))})
    return q & Q(**{f"{field}__startswith": prefix})


def _ancestors(unit: AdminUnit) -> list[AdminUnit]:
    chain = []
    u = unit.parent
    while u is not None:
        chain.append(u)
        u = u.parent
    return list(reversed(chain))


def _breadcrumbs(actor: Actor, unit: AdminUnit) -> list[AdminUnit]:
    """Ancestors the user may open (a village clerk's trail starts at the village)."""
    return [u for u in _ancestors(unit) if actor.covers(u.code)]


def base_context(actor: Actor, **extra: Any) -> dict[str, Any]:
    return {"actor": actor, "can_write": actor.can_write, **extra}


# ---------------------------------------------------------------- pages


# The home page (open work, headline figures) gathers every area: popreg.web.home.


@with_actor
def search(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results: list[Person] = []
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if query:
            results = list(search_persons(actor, query, limit=PAGE_SIZE))
    for p in results:
        p.masked_id = mask_id(p.id_number)  # type: ignore[attr-defined]
    return render(request, "registry/search.html", base_context(
        actor, form=form, query=query, results=results, limit=PAGE_SIZE,
    ))


def _child_counts(unit: AdminUnit, children: list[AdminUnit]) -> dict[str, int]:
    """Registered population (户籍人口) per child unit, in one grouped query
    (:mod:`popreg.registry.population`, the one definition)."""
    return population.counts_by_unit("registered", unit, children)


@with_actor
def unit_detail(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    unit = unit_in_reach(actor, code)
    children = list(scope_units(unit.children.all(), actor).order_by("code"))
    counts = _child_counts(unit, children)
    for c in children:
        c.active_count = counts.get(c.code, 0)  # type: ignore[attr-defined]
    in_unit = under("registered_unit_id", unit.prefix)
    summary = {
        # The unit's population in each concept (popreg.registry.population): the same
        # figures as the API, the exports and the statistics of the same moment.
        **population.figures(unit),
        "households": scope_households(Household.objects.filter(under("unit_id", unit.prefix),
                                                                dissolved_on__isnull=True), actor).count(),
        # Village level only: at township or county level this count reads every row.
        "living_here_registered_elsewhere": _persons_of(actor, unit, "residence_unit_id")
        .filter(status=Status.ACTIVE).exclude(in_unit).count() if unit.level in ("village", "group") else None,
    }
    households = None
    # The household list: searched and sorted (popreg.registry.listing), filters in the URL.
    hh_filters = listing.household_filters(request)
    hh_size = listing.household_page_size(request)
    if unit.level in ("village", "group"):
        hh = (scope_households(Household.objects.filter(unit=unit, dissolved_on__isnull=True), actor)
              .select_related("head")
              .annotate(n=Count("members", filter=Q(members__status=Status.ACTIVE))))
        households = Paginator(listing.filter_households(hh, hh_filters), hh_size).get_page(request.GET.get("page"))
        for h in households:  # households and certificates: why the head needs changing
            h.head_flag = head_problem(h)  # type: ignore[attr-defined]
    return render(request, "registry/unit_detail.html", base_context(
        actor, unit=unit, crumbs=_breadcrumbs(actor, unit), children=children, summary=summary,
        page=households, query=listing.filter_query(hh_filters, size=hh_size), hh_filters=hh_filters,
        hh_size=hh_size, hh_sizes=listing.HOUSEHOLD_PAGE_SIZES,
        hh_sorts=[("number", _("Household number")), ("-members", _("Most members first")),
                  ("members", _("Fewest members first")), ("address", _("Address"))],
    ))


def list_filters(request: HttpRequest) -> dict[str, str]:
    """The person-list filters (popreg.registry.listing), shared by the page and its exports."""
    # One population concept (popreg.registry.population): exactly the persons the unit's
    # figure counts; the status, residence and place filters then do not apply.
    concept = request.GET.get("population", "")
    return {**listing.list_filters(request), "population": concept if concept in population.CONCEPTS else ""}


def _persons_of(actor: Actor, unit: AdminUnit, field: str) -> QuerySet[Person]:
    """Persons registered (or living, by ``field``) in ``unit``, a unit the actor may open.

    A person registered or living under a unit inside the jurisdiction is inside the
    jurisdiction (``scope_persons`` is "registered or living under the actor's prefix"), so
    the scope filter is only added when the unit is not entirely inside the jurisdiction.
    Leaving it out lets the database count from the index alone: a township's active
    persons in ~40 ms instead of ~700 ms on SQLite with a county of 190,000 records.
    """
    qs = Person.objects.filter(under(field, unit.prefix))
    if actor.prefix == "" or unit.prefix.startswith(actor.prefix):
        return qs
    return scope_persons(qs, actor)


def _unit_persons(actor: Actor, unit: AdminUnit, filters: dict[str, str]) -> QuerySet[Person]:
    # The filters of the page, its CSV and a full-ID export alike (popreg.registry.listing).
    today = timezone.localdate()
    if filters.get("population"):  # everyone counted lies under the unit, in the jurisdiction
        qs = listing.filter_persons(population.persons(filters["population"], unit),
                                    {**filters, "status": "all", "residence_type": ""}, today)
        return qs.select_related("registered_unit", "residence_unit", "household")
    field = "registered_unit_id" if filters["where"] == "registered" else "residence_unit_id"
    qs = listing.filter_persons(_persons_of(actor, unit, field), filters, today)
    return qs.select_related("registered_unit", "residence_unit", "household")


@with_actor
def unit_persons(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    unit = unit_in_reach(actor, code)
    filters = list_filters(request)
    qs = _unit_persons(actor, unit, filters).order_by(*listing.ordering(filters))
    size = listing.page_size(request)
    page = Paginator(qs, size).get_page(request.GET.get("page"))
    for p in page.object_list:
        p.masked_id = mask_id(p.id_number)
    return render(request, "registry/unit_persons.html", base_context(
        actor, unit=unit, crumbs=_breadcrumbs(actor, unit), page=page, filters=filters,
        query=listing.filter_query(filters, size=size), export_query=listing.filter_query(filters),
        # The column headings sort the list: the same filters with another sort.
        sort_query=listing.filter_query({k: v for k, v in filters.items() if k != "sort"}, size=size),
        statuses=Status.choices, residence_types=ResidenceType.choices,
        populations=_population_choices(), sexes=Sex.choices, sorts=_sort_choices(),
        page_sizes=listing.PAGE_SIZES, size=size,
    ))


def _sort_choices() -> list[tuple[str, str]]:
    return [("unit", _("Unit and household")), ("name", _("Name (A to Z)")), ("-name", _("Name (Z to A)")),
            ("birth_date", _("Oldest first")), ("-birth_date", _("Youngest first")),
            ("household", _("Household number"))]


def _population_choices() -> list[tuple[str, str]]:
    labels = {"registered": _("Registered population"), "resident": _("Resident population"),
              "actual": _("Actual population")}
    return [(key, labels[key]) for key in population.CONCEPTS]


EXPORT_COLUMNS = [
    Column("编号 record"), Column("姓名 name"), Column("性别 sex"), Column("出生日期 birth_date"),
    Column("公民身份号码 id_number", id_number=True), Column("民族 ethnicity"), Column("户号 household_no"),
    Column("户籍地代码 registered_unit"), Column("户籍地 registered_unit_name"),
    Column("居住地代码 residence_unit"), Column("居住类型 residence_type"), Column("状态 status"),
    Column("死亡日期 death_date"),
]


@with_actor
def unit_export(request: HttpRequest, actor: Actor, code: str) -> HttpResponse | StreamingHttpResponse:
    """CSV (UTF-8 with BOM for Excel) of the filtered person list, through the export layer:
    ID numbers always masked here; ``?full_id=1`` leads to the form that asks for a reason
    (and, for a county-level unit, a second person's approval): views_exports."""
    unit = unit_in_reach(actor, code)
    filters = list_filters(request)
    if request_full_id(request):
        if not actor.can(Permission.EXPORT_PERSONS, unit.code):
            raise PermissionDenied(_("Your role may not download person lists."))
        return redirect(f"{reverse('registry:unit_full_id', args=[unit.code])}?{listing.filter_query(filters)}")
    export = person_list_export(actor, unit, filters)
    return export_response(actor, export, permission=Permission.EXPORT_PERSONS, unit_code=unit.code,
                           full_id=False, reason=request_reason(request))


def person_list_export(actor: Actor, unit: AdminUnit, filters: dict[str, str]) -> Export:
    """The person list of ``unit`` under ``filters`` as an :class:`Export` (rows stream)."""
    qs = _unit_persons(actor, unit, filters).order_by(*listing.ordering(filters))
    now = timezone.localtime()
    status_label = dict(Status.choices)
    rtype_label = dict(ResidenceType.choices)
    sex_label = dict(Sex.choices)
    columns = ("id", "name", "sex", "birth_date", "id_number", "ethnicity", "household__household_no",
               "registered_unit_id", "registered_unit__name", "residence_unit_id", "residence_type",
               "status", "death_date")

    def rows() -> Iterator[tuple[Any, ...]]:
        # Plain tuples in chunks of 2,000: a county list streams at tens of thousands of rows a second.
        for pk, name, sex, born, idn, eth, hh_no, reg, reg_name, res, rtype, status, died in (
            qs.values_list(*columns).iterator(chunk_size=2000)
        ):
            yield (pk, name, sex_label.get(sex, sex), born, idn, eth, hh_no, reg, reg_name, res,
                   rtype_label.get(rtype, rtype), status_label.get(status, status), died)

    export = Export(
        title=f"人员名单 persons {unit.name} ({unit.code})",
        filename=f"persons-{unit.code}-{now:%Y%m%d-%H%M}.csv", format="csv",
        action=AuditAction.EXPORT_PERSONS, reason="人员名单导出 person list",
        columns=EXPORT_COLUMNS, rows=rows(), row_count=qs.count(), detail={"filters": dict(filters)},
    )
    return export


# The household page and its upkeep forms: popreg.registry.views_households.


def _unit_names(codes: set[str]) -> dict[str, str]:
    return dict(AdminUnit.objects.filter(code__in=codes).values_list("code", "name"))


def _timeline(person: Person) -> list[dict[str, Any]]:
    """Events with readable before → after values."""
    events = list(Event.objects.filter(person=person).select_related("actor").order_by("event_date", "id"))
    codes: set[str] = set()
    for e in events:
        codes.update(c for c in (e.from_unit, e.to_unit, e.unit_code) if c)
        for f in ("registered_unit_id", "residence_unit_id"):
            if f in e.changes:
                codes.update(v for v in e.changes[f] if v)
    names = _unit_names(codes)
    household_ids = {v for e in events for v in e.changes.get("household_id", []) if v}
    households = dict(Household.objects.filter(pk__in=household_ids).values_list("pk", "household_no"))
    labels = _field_labels()
    displays = {"status": dict(Status.choices), "residence_type": dict(ResidenceType.choices),
                "sex": dict(Sex.choices), **value_labels()}

    def show(field: str, value: Any) -> str:
        if value in (None, ""):
            return "—"
        if field in displays:
            return str(displays[field].get(value, value))
        if field in ("registered_unit_id", "residence_unit_id"):
            return f"{names.get(value, '')} ({value})"
        if field == "id_number":
            return mask_id(value)
        if field == "household_id":
            return str(households.get(value, value))
        if field in ("mother_id", "father_id", "merged_into_id"):
            return _("record %(number)s") % {"number": value}
        return str(value)

    out = []
    for e in events:
        changes = [
            {"field": labels.get(f, f), "before": show(f, v[0]), "after": show(f, v[1])}
            for f, v in e.changes.items() if show(f, v[0]) != show(f, v[1])
        ]
        out.append({
            "event": e, "changes": changes,
            "from_name": names.get(e.from_unit, ""), "to_name": names.get(e.to_unit, ""),
            "who": e.actor.get_username() if e.actor else _("bulk load"),
            "late": (e.recorded_date - e.event_date).days > 30,
        })
    return out


def value_labels() -> dict[str, dict[str, str]]:
    """Readable values of the free-text coded fields (unknown codes are shown as stored)."""
    return {
        "hukou_kind": {"agricultural": _("agricultural"), "non_agricultural": _("non-agricultural"),
                       "resident": _("resident (unified)")},
        "marital_status": {"single": _("never married"), "married": _("married"),
                           "divorced": _("divorced"), "widowed": _("widowed")},
    }


def _field_labels() -> dict[str, str]:
    return {
        "name": _("Name"), "former_names": _("Former names"), "sex": _("Sex"),
        "birth_date": _("Birth date"), "ethnicity": _("Ethnicity"), "id_number": _("ID number"),
        "household_id": _("Household"), "registered_unit_id": _("Registered unit"),
        "residence_unit_id": _("Residence unit"), "residence_type": _("Residence type"),
        "status": _("Status"), "hukou_kind": _("Hukou kind"), "marital_status": _("Marital status"),
        "mother_id": _("Mother"), "father_id": _("Father"), "death_date": _("Date of death"),
        "merged_into_id": _("Merged into"),
    }


@with_actor
def person_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    person = _person(actor, pk)
    if person.id_number:
        # Privacy: every read of a full ID number is audited.
        audit(actor, AuditAction.VIEW_ID_NUMBER, person, unit_code=person.registered_unit_id,
                      detail={"page": "person_detail"})
    scoped = scope_persons(Person.objects.all(), actor)
    relatives = {
        "mother": scoped.filter(pk=person.mother_id).first() if person.mother_id else None,
        "father": scoped.filter(pk=person.father_id).first() if person.father_id else None,
        "children": list(scoped.filter(Q(mother=person) | Q(father=person)).order_by("birth_date")),
    }
    labels = value_labels()
    return render(request, "registry/person_detail.html", base_context(
        actor, person=person,
        hukou_kind=labels["hukou_kind"].get(person.hukou_kind, person.hukou_kind),
        marital_status=labels["marital_status"].get(person.marital_status, person.marital_status), relatives=relatives, timeline=_timeline(person),
        crumbs=_breadcrumbs(actor, person.registered_unit) + [person.registered_unit],
        active=person.status == Status.ACTIVE,
        deregistered=person.status == Status.DEREGISTERED,
        # The registrations this record admits today (popreg.registry.offers): the page
        # offers only those, and each form and action runs the same predicate.
        offers=offers.offered(person, timezone.localdate()),
        not_offered=_not_offered(person),
    ))


def _not_offered(person: Person) -> list[dict[str, str]]:
    """Why a registration is missing from the person page: its name and the reason."""
    names = {"death": _("Death"), "transfer": _("Transfer within the county"),
             "move_out": _("Move out of the county"), "marriage": _("Marriage"), "divorce": _("Divorce"),
             "enlistment": _("Enlistment"), "discharge": _("Discharge (restore registration)"),
             "child_birth": _("Register a child's birth"), "correct": _("Correction")}
    return [{"action": str(names[name]), "reason": err.message}
            for name, err in offers.refusals(person, timezone.localdate()).items()]


# ---------------------------------------------------------------- forms


def _form_page(request: HttpRequest, actor: Actor, form: Any, title: str,
               person: Person | None = None, **extra: Any) -> HttpResponse:
    if person is not None:
        person.masked_id = mask_id(person.id_number)  # type: ignore[attr-defined]
    return render(request, "registry/form.html", base_context(
        actor, form=form, title=title, person=person, **extra,
    ), status=400 if form.is_bound and form.errors else 200)


@writer
def register_birth(request: HttpRequest, actor: Actor) -> HttpResponse:
    initial = {k: request.GET[k] for k in ("registered_unit", "household_no", "mother") if k in request.GET}
    form = BirthForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        # Likely existing records are shown before saving (popreg.registry.entry_check).
        check = entry_check.check_entry(actor, entry_check.record_from_form(d))
        if entry_check.must_show(request, check):
            return _form_page(request, actor, form, _("Register a birth"), entry_check=check)
        try:
            person = save_checked(actor, check, "register_birth", lambda: actions.do_register_birth(
                actor, name=d["name"], sex=d["sex"], birth_date=d["birth_date"],
                registered_unit_code=d["registered_unit"],
                household=_household_by_no(actor, d["household_no"]),
                mother=_person_ref(actor, d["mother"], "mother", "母亲"),
                father=_person_ref(actor, d["father"], "father", "父亲"),
                id_number=d["id_number"].strip() or None, ethnicity=d["ethnicity"].strip() or "汉族",
            ))
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            return landing(request, actor, person, "birth")
    return _form_page(request, actor, form, _("Register a birth"))


@writer
def register_move_in(request: HttpRequest, actor: Actor) -> HttpResponse:
    initial = {k: request.GET[k] for k in ("registered_unit", "household_no") if k in request.GET}
    form = MoveInForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        check = entry_check.check_entry(actor, entry_check.record_from_form(d))
        if entry_check.must_show(request, check):
            return _form_page(request, actor, form, _("Register a move into the county"), entry_check=check)
        try:
            person = save_checked(actor, check, "move_in", lambda: actions.do_move_in(
                actor, name=d["name"], sex=d["sex"], birth_date=d["birth_date"],
                id_number=d["id_number"].strip() or None, registered_unit_code=d["registered_unit"],
                from_unit_code=d["from_unit_code"], move_date=d["move_date"],
                household=_household_by_no(actor, d["household_no"]),
                ethnicity=d["ethnicity"].strip() or "汉族",
            ))
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            return landing(request, actor, person, "move_in")
    return _form_page(request, actor, form, _("Register a move into the county"))


def _person_action(
    request: HttpRequest, actor: Actor, pk: int, form_class: type, title: str,
    call: Callable[[Person, dict[str, Any]], Any], form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    person = _person(actor, pk)
    # The action is named by its URL (registry:death, registry:transfer …), the same name as
    # its predicate in popreg.registry.offers: a form for an impossible action does not open
    # (a submission is refused by the action, which runs the same predicate at its date).
    offer = request.resolver_match.url_name if request.resolver_match else None
    if request.method != "POST" and offer in offers.PREDICATES:
        refused = offers.refusal(offer, person, timezone.localdate())
        if refused is not None:
            messages.error(request, refused.message)
            return redirect("registry:person", pk=person.pk)
    form = form_class(request.POST or None, initial={"version": person.version}, person=person,
                      **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            call(person, form.cleaned_data)
        except RegistryError as err:
            add_registry_error(form, err)
            if isinstance(err, StaleVersionError):
                # Shown again on the stored version: submitting now is a deliberate choice
                # made after seeing both values.
                form.data = form.data.copy()
                form.data["version"] = str(err.current)
                person.refresh_from_db()
        else:
            return landing(request, actor, person, offer or "")
    return _form_page(request, actor, form, title, person=person)


@writer
def register_death(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _person_action(request, actor, pk, DeathForm, _("Register a death"), lambda p, d:
                          actions.do_register_death(actor, p, death_date=d["death_date"], cause=d["cause"],
                                                    expected_version=d["version"]))


@writer
def move_out(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _person_action(request, actor, pk, MoveOutForm, _("Register a move out of the county"), lambda p, d:
                          actions.do_move_out(actor, p, move_date=d["move_date"],
                                              destination_code=d["destination_code"],
                                              destination_name=d["destination_name"],
                                              expected_version=d["version"]))


@writer
def transfer(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    def call(p: Person, d: dict[str, Any]) -> Any:
        hh = None
        if d["household_no"].strip():
            # The destination household may be outside the clerk's own village.
            hh = Household.objects.filter(household_no=d["household_no"].strip()).first()
            if hh is None:
                raise RegistryError(f"户号 {d['household_no']} 不存在", f"household {d['household_no']} does not exist",
                                    "household_no")
        return actions.do_transfer(actor, p, to_unit_code=d["to_unit"], move_date=d["move_date"], household=hh,
                                   expected_version=d["version"])

    return _person_action(request, actor, pk, TransferForm, _("Transfer within the county"), call)


@writer
def register_marriage(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _person_action(request, actor, pk, MarriageForm, _("Register a marriage"), lambda p, d:
                          actions.do_register_marriage(actor, p, marriage_date=d["marriage_date"],
                                                       expected_version=d["version"]))


@writer
def register_divorce(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _person_action(request, actor, pk, DivorceForm, _("Register a divorce"), lambda p, d:
                          actions.do_register_divorce(actor, p, divorce_date=d["divorce_date"],
                                                      expected_version=d["version"]))


@writer
def register_enlistment(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _person_action(request, actor, pk, EnlistmentForm, _("Register an enlistment"), lambda p, d:
                          actions.do_register_enlistment(actor, p, enlistment_date=d["enlistment_date"],
                                                         expected_version=d["version"]))


@writer
def register_discharge(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    def call(p: Person, d: dict[str, Any]) -> Any:
        return actions.do_register_discharge(actor, p, discharge_date=d["discharge_date"], to_unit_code=d["to_unit"],
                                             household=_household_by_no(actor, d["household_no"]),
                                             expected_version=d["version"])

    return _person_action(request, actor, pk, DischargeForm, _("Register a discharge"), call,
                          form_kwargs={"actor": actor})


@writer
def correct_person(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    def call(p: Person, d: dict[str, Any]) -> Any:
        changes = {k: v for k, v in d.items() if k not in ("reason", "version") and v not in (None, "")}
        if "id_number" in changes:
            changes["id_number"] = str(changes["id_number"]).strip()
        return actions.do_correct_person(actor, p, changes=changes, reason=d["reason"],
                                         expected_version=d["version"])

    return _person_action(request, actor, pk, CorrectionForm, _("Correct a record"), call)
