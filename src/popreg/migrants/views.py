"""Pages of the migrants app: overview with indicators and charts, in-migrants, residence
permits, out-migrants and their whereabouts, places, and the bulk import.  Thin: every
write is an action of :mod:`popreg.migrants.actions`; every list is scoped by
:mod:`popreg.migrants.queries`; every download goes through ``popreg.registry.exports``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from popreg.migrants import actions, indicators, queries
from popreg.migrants.forms import (
    DepartForm,
    EndForm,
    MoveForm,
    PermitForm,
    PlaceForm,
    RegisterForm,
    RenewForm,
    ReportForm,
    UploadForm,
    WhereaboutsForm,
)
from popreg.migrants.importing import COLUMNS as IMPORT_COLUMNS
from popreg.migrants.models import (
    InMigrant,
    MigrantHistory,
    OutMigrant,
    PlaceOccupant,
    ResidencePermit,
)
from popreg.registry import entry_check, exports
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.actions.entry_check import save_checked
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.forms import add_registry_error
from popreg.registry.models import AdminUnit, Person, Status
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor

LIST_LIMIT = 500


def _today() -> date:
    return timezone.localdate()  # the county's date (POPREG_TIME_ZONE), not the server's


def _require(actor: Actor, permission: Permission, unit_code: str | None = None) -> None:
    if not actor.can(permission, unit_code):
        raise PermissionDenied(_("Your role may not do this here."))


def _villages(actor: Actor) -> list[tuple[str, str]]:
    qs = AdminUnit.objects.filter(level__in=("village", "group"), valid_to__isnull=True)
    if actor.prefix:
        qs = qs.filter(code__startswith=actor.prefix)
    return [(u.code, f"{u.name} {u.code}") for u in qs.order_by("code")]


def _place_choices(actor: Actor) -> list[tuple[str, str]]:
    return [(str(p.pk), f"{p.name}（{p.address}）") for p in queries.places(actor).filter(active=True)[:LIST_LIMIT]]


def _unit_of_page(request: HttpRequest, actor: Actor) -> AdminUnit | None:
    code = request.GET.get("unit") or actor.unit_code or ""
    unit = AdminUnit.objects.filter(code=code).exclude(level="external").first() if code else None
    if unit is None and actor.prefix == "":
        unit = AdminUnit.objects.filter(level="county").order_by("code").first()
    if unit is not None and not actor.covers(unit.code):
        raise Http404("unit outside the jurisdiction")
    return unit


def _ctx(actor: Actor, **extra: Any) -> dict[str, Any]:
    return {"actor": actor, "can_manage": actor.can(Permission.MANAGE_MIGRANTS),
            "can_export": actor.can(Permission.EXPORT_PERSONS), **extra}


# ---------------------------------------------------------------- overview


def _labels() -> dict[str, Any]:
    return {
        "in": _("In-migrants"), "out": _("Out-migrants"), "male": _("Male"), "female": _("Female"),
        "duration": {"lt6m": _("under 6 months"), "6m_1y": _("6 to 12 months"), "1y_3y": _("1 to 3 years"),
                     "3y_plus": _("3 years and more"), "unknown": _("unknown")},
        "age": {"0_14": _("0–14"), "15_59": _("15–59"), "60_plus": _("60 and over")},
    }


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    unit = _unit_of_page(request, actor)
    today = _today()
    ind = indicators.compute(actor, unit, today)
    labels = _labels()
    return render(request, "migrants/index.html", _ctx(
        actor, unit=unit, ind=ind, today=today, chart_data=indicators.chart_data(ind, labels),
        duration_rows=[(labels["duration"][k], ind.inflow.by_duration.get(k, 0), ind.outflow.by_duration.get(k, 0))
                       for k in [*[b[0] for b in indicators.DURATION_BANDS], "unknown"]],
        age_rows=[(labels["age"][k], ind.inflow.by_age_sex.get(k, {}), ind.outflow.by_age_sex.get(k, {}))
                  for k in [b[0] for b in indicators.AGE_BANDS]],
        child_rows=[(c, ind.inflow.by_child.get(c.code, 0), ind.outflow.by_child.get(c.code, 0))
                    for c in ind.children],
        unreported=queries.unreported_occupants(today, unit.prefix if unit else actor.prefix).count(),
    ))  # fmt: skip


# ---------------------------------------------------------------- in-migrants


@with_actor
def in_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    status = request.GET.get("status", "active")
    qs = queries.in_migrants(actor, request.GET.get("unit"), status=None if status == "all" else "active")
    return render(request, "migrants/in_list.html", _ctx(
        actor, rows=list(qs[:LIST_LIMIT]), total=qs.count(), limit=LIST_LIMIT, status=status))


@with_actor
def in_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.MANAGE_MIGRANTS)
    form = RegisterForm(request.POST or None, units=_villages(actor), places=_place_choices(actor))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        # Likely existing records (registry persons, earlier in-migrants) before saving.
        check = entry_check.check_entry(actor, entry_check.record_from_form(d, "residence_unit"))
        if entry_check.must_show(request, check):
            return render(request, "migrants/form.html", _ctx(
                actor, form=form, title=_("Register an in-migrant"), entry_check=check))
        try:
            m = save_checked(actor, check, "in_migrant", lambda: actions.register_in_migrant(
                actor, residence_unit_code=d["residence_unit"], arrival_date=d["arrival_date"],
                origin_code=d["origin_code"], reason=d["reason"], name=d["name"], sex=d["sex"],
                birth_date=d["birth_date"], id_number=d["id_number"].strip() or None,
                place=queries.place_for(actor, int(d["place"])) if d["place"] else None,
                address=d["address"], employer=d["employer"], contact=d["contact"],
            ), person_of=lambda m: m.person, permission=Permission.MANAGE_MIGRANTS)  # fmt: skip
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("%(name)s was registered as an in-migrant.") % {"name": d["name"]})
            return redirect("migrants:in_detail", pk=m.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "migrants/form.html", _ctx(actor, form=form, title=_("Register an in-migrant")),
                  status=status)


def _in_migrant(actor: Actor, pk: int) -> InMigrant:
    m = queries.in_migrant_for(actor, pk)
    if m is None:
        raise Http404("no such in-migrant")
    return m


def _detail(request: HttpRequest, actor: Actor, m: InMigrant, status: int = 200, **forms: Any) -> HttpResponse:
    units, places = _villages(actor), _place_choices(actor)
    return render(request, "migrants/in_detail.html", _ctx(
        actor, m=m, person=m.person,
        permits=list(ResidencePermit.objects.filter(in_migrant=m).order_by("-id")),
        history=list(MigrantHistory.objects.filter(person=m.person).order_by("-id")[:50]),
        move_form=forms.get("move_form") or MoveForm(units=units, places=places,
                                                     initial={"residence_unit": m.residence_unit_id}),
        depart_form=forms.get("depart_form") or DepartForm(),
        permit_form=forms.get("permit_form") or PermitForm(initial={"applied_on": _today()}),
        renew_form=RenewForm(initial={"renewed_on": _today()}), renew_error=forms.get("renew_error", ""),
    ), status=status)  # fmt: skip


@with_actor
def in_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    return _detail(request, actor, _in_migrant(actor, pk))


@require_POST
@with_actor
def in_move(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    m = _in_migrant(actor, pk)
    _require(actor, Permission.MANAGE_MIGRANTS, m.residence_unit_id)
    form = MoveForm(request.POST, units=_villages(actor), places=_place_choices(actor))
    if form.is_valid():
        d = form.cleaned_data
        try:
            actions.move_in_migrant(actor, m, residence_unit_code=d["residence_unit"], move_date=d["move_date"],
                                    place=queries.place_for(actor, int(d["place"])) if d["place"] else None,
                                    address=d["address"] or None)
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The move was recorded."))
            return redirect("migrants:in_detail", pk=m.pk)
    return _detail(request, actor, m, 400, move_form=form)


@require_POST
@with_actor
def in_depart(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    m = _in_migrant(actor, pk)
    _require(actor, Permission.MANAGE_MIGRANTS, m.residence_unit_id)
    form = DepartForm(request.POST)
    if form.is_valid():
        try:
            actions.depart_in_migrant(actor, m, departure_date=form.cleaned_data["departure_date"],
                                      destination_code=form.cleaned_data["destination_code"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The departure was recorded."))
            return redirect("migrants:in_detail", pk=m.pk)
    return _detail(request, actor, m, 400, depart_form=form)


@require_POST
@with_actor
def in_permit(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    m = _in_migrant(actor, pk)
    _require(actor, Permission.MANAGE_MIGRANTS, m.residence_unit_id)
    form = PermitForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            actions.issue_permit(actor, m, applied_on=d["applied_on"], condition=d["condition"],
                                 evidence=d["evidence"], issue_date=d["issue_date"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The residence permit application was recorded."))
            return redirect("migrants:in_detail", pk=m.pk)
    return _detail(request, actor, m, 400, permit_form=form)


@require_POST
@with_actor
def permit_renew(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    permit = queries.permits(actor).filter(pk=pk).first()
    if permit is None:
        raise Http404("no such permit")
    m = permit.in_migrant
    _require(actor, Permission.MANAGE_MIGRANTS, m.residence_unit_id)
    form = RenewForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            actions.renew_permit(actor, permit, renewed_on=form.cleaned_data["renewed_on"])
        except RegistryError as err:
            error = err.message
        else:
            messages.success(request, _("The residence permit was renewed."))
            return redirect("migrants:in_detail", pk=m.pk)
    if not error:
        error = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    return _detail(request, actor, m, 400, renew_error=error)


# ---------------------------------------------------------------- permits expiring


def _expiring_rows(actor: Actor, request: HttpRequest) -> list[ResidencePermit]:
    return list(queries.permits_expiring(actor, _today(), request.GET.get("unit"))[:5000])


@with_actor
def permits_expiring(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    return render(request, "migrants/permits_expiring.html", _ctx(
        actor, rows=_expiring_rows(actor, request), days=actions.RENEWAL_WINDOW_DAYS, today=_today()))


@with_actor
def permits_expiring_xlsx(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.EXPORT_PERSONS)
    rows = [
        (p.number, p.in_migrant.person.name, p.in_migrant.person.id_number or "", p.in_migrant.residence_unit.name,
         p.in_migrant.residence_unit_id, p.issue_date, p.expiry_date, p.renewals, p.in_migrant.contact)
        for p in _expiring_rows(actor, request)
    ]  # fmt: skip
    export = exports.Export(
        title="30日内到期居住证 Residence permits expiring within 30 days", filename="permits-expiring.xlsx",
        format="xlsx", action=AuditAction.EXPORT_PERSONS, reason="居住证到期提醒 permits expiring",
        columns=(exports.Column("居住证号 Permit"), exports.Column("姓名 Name"),
                 exports.Column("公民身份号码 ID number", id_number=True), exports.Column("居住地 Village"),
                 exports.Column("居住地代码 Code"), exports.Column("发证日期 Issued"),
                 exports.Column("有效期至 Expires"), exports.Column("签注次数 Renewals"),
                 exports.Column("联系方式 Contact")),
        rows=rows, sheet_title="到期 Expiring", detail={"list": "permits_expiring"},
    )  # fmt: skip
    return exports.export_response(actor, export, permission=Permission.EXPORT_PERSONS,
                                   unit_code=request.GET.get("unit") or actor.unit_code)


# ---------------------------------------------------------------- out-migrants


@with_actor
def out_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    number = (request.GET.get("id_number") or "").strip().upper()
    not_found = False
    if number:  # record the whereabouts of a person registered here (found by ID number)
        person = (Person.objects.filter(id_number=number, status=Status.ACTIVE, merged_into__isnull=True)
                  .order_by("id").first())  # fmt: skip
        if person is not None and actor.covers(person.registered_unit_id):
            return redirect("migrants:out_whereabouts", pk=person.pk)
        not_found = True
    qs = queries.out_migrants(actor, request.GET.get("unit"))
    return render(request, "migrants/out_list.html", _ctx(
        actor, rows=list(qs[:LIST_LIMIT]), total=qs.count(), limit=LIST_LIMIT, number=number,
        not_found=not_found, stale_before=queries.stale_before(_today())))


def _unknown_rows(actor: Actor, request: HttpRequest) -> list[Person]:
    return list(queries.whereabouts_unknown(actor, _today(), request.GET.get("unit"))[:20000])


@with_actor
def out_unknown(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    rows = _unknown_rows(actor, request)
    return render(request, "migrants/out_unknown.html", _ctx(
        actor, rows=rows[:LIST_LIMIT], total=len(rows), limit=LIST_LIMIT,
        counts=queries.unknown_counts_by_village(actor, _today(), request.GET.get("unit"))))


def _last(person: Person, field: str) -> Any:
    om = getattr(person, "out_migration", None) if hasattr(person, "out_migration") else None
    return getattr(om, field, None) if om is not None else None


@with_actor
def out_unknown_xlsx(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.EXPORT_PERSONS)
    today = _today()
    counts = queries.unknown_counts_by_village(actor, today, request.GET.get("unit"))
    people = _unknown_rows(actor, request)

    def build(wb: Any, ctx: exports.ExportContext) -> None:
        ws = wb.active
        ws.title = "去向不明 Unknown"
        ws.append(["姓名 Name", "公民身份号码 ID number", "户籍地 Village", "户籍地代码 Code",
                   "最后已知去向 Last known place", "最后核实 Last confirmed", "来源 Source"])
        for p in people:
            number = p.id_number or ""
            ws.append([p.name, number if ctx.full_id else exports_mask(number), p.registered_unit.name,
                       p.registered_unit_id, _last(p, "destination_name") or "", _last(p, "last_confirmed"),
                       actions.SOURCE_ZH.get(_last(p, "source") or "", "")])
        ws2 = wb.create_sheet("按村统计 By village")
        ws2.append(["村(居) Village", "代码 Code", "流出人口 Out-migrants", "去向不明 Unknown", "去向掌握率 % known"])
        for r in counts:
            ws2.append([r["name"], r["code"], r["out_migrants"], r["unknown"], r["known_rate"]])

    export = exports.Export(
        title=f"去向不明流出人口（{today:%Y-%m-%d}） Out-migrants whose whereabouts are unknown",
        filename="whereabouts-unknown.xlsx", format="xlsx", action=AuditAction.EXPORT_PERSONS,
        reason="流出人口去向核查 whereabouts unknown", xlsx=build, row_count=len(people),
        detail={"list": "whereabouts_unknown"},
    )
    return exports.export_response(actor, export, permission=Permission.EXPORT_PERSONS,
                                   unit_code=request.GET.get("unit") or actor.unit_code)


def exports_mask(number: str) -> str:
    from popreg.core.privacy import mask_id

    return mask_id(number) if number else ""


@with_actor
def out_whereabouts(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    person = Person.objects.select_related("registered_unit", "residence_unit").filter(pk=pk).first()
    if person is None or not person_in_scope(actor, person) or not actor.covers(person.registered_unit_id):
        raise Http404("no such person")
    _require(actor, Permission.VIEW_REGISTRY)
    om = OutMigrant.objects.filter(person=person).first()
    form = WhereaboutsForm(request.POST or None, initial={"confirmed_on": _today()})
    if request.method == "POST":
        _require(actor, Permission.MANAGE_MIGRANTS, person.registered_unit_id)
        if form.is_valid():
            d = form.cleaned_data
            try:
                actions.record_whereabouts(actor, person, **d)
            except RegistryError as err:
                add_registry_error(form, err)
            else:
                messages.success(request, _("The whereabouts were recorded."))
                return redirect("migrants:out_whereabouts", pk=person.pk)
    return render(request, "migrants/whereabouts.html", _ctx(
        actor, person=person, om=om, form=form, active=person.status == Status.ACTIVE,
        history=list(MigrantHistory.objects.filter(person=person, kind="whereabouts").order_by("-id")[:50]),
    ), status=400 if request.method == "POST" else 200)


# ---------------------------------------------------------------- places


@with_actor
def place_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    qs = queries.places(actor, request.GET.get("unit")).order_by("unit_id", "name")
    today = _today()
    return render(request, "migrants/place_list.html", _ctx(
        actor, rows=list(qs[:LIST_LIMIT]), total=qs.count(), limit=LIST_LIMIT, today=today,
        unreported=list(queries.unreported_occupants(today, actor.prefix)[:LIST_LIMIT]),
        report_days=actions.report_days()))


def _place_form_values(d: dict[str, Any]) -> dict[str, Any]:
    return {"kind": d["kind"], "name": d["name"], "address": d["address"], "unit_code": d["unit"],
            "contact_name": d["contact_name"], "contact_phone": d["contact_phone"],
            "agreement_signed": d["agreement_signed"], "agreement_expires": d["agreement_expires"],
            "active": bool(d["active"])}


@with_actor
def place_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.MANAGE_MIGRANTS)
    form = PlaceForm(request.POST or None, units=_villages(actor), initial={"active": True})
    if request.method == "POST" and form.is_valid():
        try:
            place = actions.save_place(actor, None, **_place_form_values(form.cleaned_data))
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The place was saved."))
            return redirect("migrants:place", pk=place.pk)
    return render(request, "migrants/form.html", _ctx(actor, form=form, title=_("Register a rental place or employer")),
                  status=400 if request.method == "POST" else 200)


@with_actor
def place_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require(actor, Permission.VIEW_REGISTRY)
    place = queries.place_for(actor, pk)
    if place is None:
        raise Http404("no such place")
    initial = {"kind": place.kind, "name": place.name, "address": place.address, "unit": place.unit_id,
               "contact_name": place.contact_name, "contact_phone": place.contact_phone,
               "agreement_signed": place.agreement_signed, "agreement_expires": place.agreement_expires,
               "active": place.active}
    form = PlaceForm(request.POST or None, units=_villages(actor), initial=initial)
    report_form = ReportForm(initial={"reported_on": _today()})
    if request.method == "POST":
        _require(actor, Permission.MANAGE_MIGRANTS, place.unit_id)
        if request.POST.get("form") == "report":
            report_form = ReportForm(request.POST)
            if report_form.is_valid():
                d = report_form.cleaned_data
                person = Person.objects.filter(id_number=d["id_number"].strip().upper(), status=Status.ACTIVE,
                                               merged_into__isnull=True).first()
                if person is None or not person_in_scope(actor, person):
                    msg = _("No active person with this ID number lives or is registered in your jurisdiction; register the in-migrant first.")  # noqa: E501
                    report_form.add_error("id_number", msg)
                else:
                    try:
                        actions.report_occupant(actor, place, person, since=d["since"], reported_on=d["reported_on"])
                    except RegistryError as err:
                        add_registry_error(report_form, err)
                    else:
                        messages.success(request, _("The occupant was recorded."))
                        return redirect("migrants:place", pk=place.pk)
        elif form.is_valid():
            try:
                actions.save_place(actor, place, **_place_form_values(form.cleaned_data))
            except RegistryError as err:
                add_registry_error(form, err)
            else:
                messages.success(request, _("The place was saved."))
                return redirect("migrants:place", pk=place.pk)
    today = _today()
    occupants = list(PlaceOccupant.objects.filter(place=place).select_related("person").order_by("-since", "-id"))
    days = actions.report_days()
    for o in occupants:
        o.deadline = o.since.toordinal() + days  # type: ignore[attr-defined]
        o.overdue = o.reported_on is None and o.until is None and today.toordinal() > o.deadline  # type: ignore[attr-defined]
        o.late = o.reported_on is not None and o.reported_on.toordinal() > o.deadline  # type: ignore[attr-defined]
    return render(request, "migrants/place_detail.html", _ctx(
        actor, place=place, form=form, report_form=report_form, end_form=EndForm(initial={"until": today}),
        occupants=occupants, report_days=days,
        agreement_expired=bool(place.agreement_expires and place.agreement_expires < today),
        history=list(MigrantHistory.objects.filter(place=place).order_by("-id")[:30]),
    ), status=400 if request.method == "POST" else 200)


@require_POST
@with_actor
def occupant_end(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    occ = PlaceOccupant.objects.select_related("place").filter(pk=pk).first()
    if occ is None or queries.place_for(actor, occ.place_id) is None:
        raise Http404("no such occupant")
    _require(actor, Permission.MANAGE_MIGRANTS, occ.place.unit_id)
    form = EndForm(request.POST)
    if form.is_valid():
        try:
            actions.end_occupant(actor, occ, until=form.cleaned_data["until"])
        except RegistryError as err:
            return render(request, "migrants/message.html", _ctx(actor, message=err.message,
                                                                 back=occ.place_id), status=400)
        messages.success(request, _("The occupant's departure was recorded."))
        return redirect("migrants:place", pk=occ.place_id)
    return render(request, "migrants/message.html", _ctx(
        actor, message=_("Give the date the person left (year-month-day)."), back=occ.place_id), status=400)


# ---------------------------------------------------------------- import


@with_actor
def import_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    from popreg.migrants import jobs as migrant_jobs
    from popreg.registry.jobs import start_job

    _require(actor, Permission.MANAGE_MIGRANTS)
    if request.method == "POST" and request.POST.get(entry_check.DECISION_FIELD) == entry_check.NEW_PERSON:
        return _import_confirmed(request, actor, start_job)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        import_id = migrant_jobs.new_folder(upload.read(), upload.name)
        try:
            job = start_job(actor, "migrant_import", {"import_id": import_id}, unit_code=actor.unit_code or "")
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            return redirect("jobs:detail", pk=job.pk)
    import_id = request.GET.get("import", "")
    result = None
    if import_id:
        from popreg.registry.job_models import Job

        job = Job.objects.filter(kind="migrant_import", params__import_id=import_id,
                                 owner_id=actor.user_id).order_by("-pk").first() if actor.user_id else None
        if job is not None:
            result = {**job.result, "errors_list": migrant_jobs.read_errors(import_id)[:LIST_LIMIT]}
    return render(request, "migrants/import.html", _ctx(
        actor, form=form, result=result, import_id=import_id,
        columns=IMPORT_COLUMNS,
    ), status=400 if request.method == "POST" else 200)


def _import_confirmed(request: HttpRequest, actor: Actor, start_job: Any) -> HttpResponse:
    """The uploader saw the rows that look like persons already registered and imports the
    file anyway: the import runs again, confirmed (its audit record counts those rows)."""
    from popreg.registry.job_models import Job

    import_id = request.POST.get("import", "")
    held = Job.objects.filter(kind="migrant_import", params__import_id=import_id, owner_id=actor.user_id,
                              result__held=True).exists() if import_id and actor.user_id else False
    if not held:
        return redirect("migrants:import")
    try:
        job = start_job(actor, "migrant_import", {"import_id": import_id, "confirmed": True},
                        unit_code=actor.unit_code or "")
    except RegistryError:
        return redirect(reverse("migrants:import") + f"?import={import_id}")
    return redirect("jobs:detail", pk=job.pk)


@with_actor
def import_errors(request: HttpRequest, actor: Actor) -> HttpResponse:
    from popreg.migrants import jobs as migrant_jobs
    from popreg.registry.importing import error_report
    from popreg.registry.job_models import Job

    _require(actor, Permission.MANAGE_MIGRANTS)
    import_id = request.GET.get("import", "")
    job = Job.objects.filter(kind="migrant_import", params__import_id=import_id,
                             owner_id=actor.user_id).first() if import_id and actor.user_id else None
    if job is None:
        return redirect("migrants:import")
    return exports.export_response(actor, error_report(migrant_jobs.read_errors(import_id), "csv",
                                                       "migrant-import-errors.csv"),
                                   permission=Permission.MANAGE_MIGRANTS, unit_code=actor.unit_code)
