"""Campaign web pages.  Thin: find the campaign and unit inside the user's jurisdiction
(anything outside is a 404), parse a form, call one action from
``popreg.campaigns.actions``, render or redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_POST

from popreg.campaigns import actions, fieldlists, forms
from popreg.campaigns.jobs import field_list_file
from popreg.campaigns.models import (
    Campaign,
    FieldOutcome,
    ItemStatus,
    ListedPerson,
    Phase,
    RectificationItem,
    SignOff,
    SpotCheck,
)
from popreg.campaigns.queries import (
    UnitProgress,
    campaign_info,
    campaigns_for,
    field_list_persons,
    is_locked,
    item_type_labels,
    items_for,
    listed_persons,
    progress,
    scope_villages,
    village_info,
)
from popreg.campaigns.summary import (
    SummaryTable,
    fill_summary_workbook,
    summary_html,
    summary_table,
)
from popreg.core.privacy import mask_id
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.actions.entry_check import save_checked
from popreg.registry.audit import AuditAction
from popreg.registry.entry_check import EntryCheck, NewRecord, check_entry, must_show
from popreg.registry.errors import RegistryError
from popreg.registry.exports import (
    Export,
    export_response,
    request_full_id,
    request_reason,
    stored_file_response,
)
from popreg.registry.job_models import JobState
from popreg.registry.models import AdminUnit, Household
from popreg.registry.policy import Permission, role_has
from popreg.registry.views import with_actor, writer
from popreg.registry.views_full_id import full_id_reason

# ---------------------------------------------------------------- labels in the active language


def _item_type_names() -> dict[str, str]:
    """Item types by name (their Chinese is ``queries.item_type_labels()``, which also heads
    the printed and exported summary table)."""
    return {
        "died": _("Door-to-door check: died"),
        "moved_away": _("Door-to-door check: moved away"),
        "not_found": _("Door-to-door check: no such person"),
        "field_wrong": _("Door-to-door check: wrong information"),
        "found_person": _("Door-to-door check: newly found person"),
        "duplicate": _("Duplicate registration (same household or person registered twice)"),
        "living_away": _("Living away from the place of registration"),
        "death_not_deregistered": _("Death not deregistered"),
        "enlisted_not_deregistered": _("Enlistment not deregistered"),
        "pending_registration": _("Registration pending too long"),
        "id_checksum_error": _("ID number check digit wrong"),
        "id_birthdate_mismatch": _("ID number does not match the birth date"),
        "id_sex_mismatch": _("ID number does not match the sex"),
        "missing_field": _("Required item missing"),
        "unregistered_birth": _("Unregistered birth"),
        "id_region_invalid": _("ID number region code not valid at birth"),
        "implausible_age": _("Age over 110"),
        "implausible_mother_age": _("Implausible age of the mother at the birth"),
        "future_event": _("Date after the reference time"),
        "death_notice_unmatched": _("Death notice matches no registered person"),
        # migrants (popreg.migrants)
        "unreported_migrant": _("In-migrant not reported in time by the landlord or employer"),
    }


def _type_labels() -> dict[str, str]:
    """Every item type with its label in the active language."""
    names = _item_type_names()
    return {t: names.get(t, label) for t, label in item_type_labels().items()}


def _summary_columns() -> dict[str, str]:
    """The summary table's Chinese column heads (``SummaryTable.header()``) by name."""
    return {
        "单位代码": _("Unit code"), "单位名称": _("Unit name"), "层级": _("Level"), "名单人数": _("Listed"),
        "已核对": _("Verified"), "核对率%": _("Verified (%)"), "问题合计": _("Problems in all"),
        "已整改": _("Resolved"), "已驳回": _("Rejected"), "未办结": _("Outstanding"),
        "抽查户数": _("Households spot-checked"), "抽查差错": _("Spot-check errors"),
        "抽查差错率%": _("Spot-check error rate (%)"), "签字": _("Sign-offs"),
    }


def _summary_screen(table: SummaryTable) -> tuple[list[str], list[tuple[UnitProgress, list[Any]]]]:
    """The summary table's header and rows for the screen, in the active language (the
    printed and exported table stays Chinese)."""
    header = table.header()
    names = {**_summary_columns(), **{label: _item_type_names().get(t, label) for t, label in table.types}}
    levels = {"campaign": _("Total"), "township": _("Township (subdistrict)"),
              "village": _("Village (neighbourhood committee)")}
    level_col, sign_col = header.index("层级"), header.index("签字")
    rows = []
    for r in table.rows:
        values = table.values(r)
        values[level_col] = levels.get(r.level, values[level_col])
        values[sign_col] = pgettext("list separator", ", ").join(str(dict(SignOff.Level.choices).get(s, s)) for s in r.signoffs)
        rows.append((r, values))
    return [names.get(h, h) for h in header], rows


# ---------------------------------------------------------------- lookups


def _campaign(actor: Actor, pk: int) -> Campaign:
    c = get_object_or_404(Campaign.objects.prefetch_related("scope_units"), pk=pk)
    if c not in campaigns_for(actor):
        raise Http404("campaign outside the jurisdiction")
    return c


def _village(actor: Actor, campaign: Campaign, code: str) -> AdminUnit:
    unit = scope_villages(campaign).select_related("parent__parent").filter(code=code).first()
    if unit is None or not actor.covers(unit.code):
        raise Http404("village outside the campaign or the jurisdiction")
    return unit


def _percent(part: float, whole: float = 1) -> str:
    """A ratio as a whole percentage, rounded as the ``widthratio`` template tag does."""
    return f"{round(part / whole * 100)}%"


def _ctx(actor: Actor, campaign: Campaign, **extra: Any) -> dict[str, Any]:
    return {"actor": actor, "campaign": campaign, "can_write": actor.can(Permission.CAMPAIGN_FIELDWORK),
            "threshold": _percent(campaign.error_threshold),
            "phase_label": str(campaign.get_phase_display()),
            "can_manage": actor.can(Permission.MANAGE_CAMPAIGNS),
            "is_county": actor.can(Permission.CAMPAIGN_COUNTY_SIGN_OFF),
            "is_township": actor.can(Permission.CAMPAIGN_ACCEPTANCE), **extra}


# ---------------------------------------------------------------- campaigns


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    campaigns = campaigns_for(actor)
    for c in campaigns:
        c.phase_label = str(c.get_phase_display())  # type: ignore[attr-defined]
    return render(request, "campaigns/index.html", {
        "actor": actor, "campaigns": campaigns,
        "can_create": actor.can(Permission.MANAGE_CAMPAIGNS),
    })


@writer
def create(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = forms.CampaignForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            c = actions.do_create_campaign(
                actor, name=d["name"], scope_codes=d["scope_codes"], reference_moment=d["reference_moment"],
                dates={k: d[k] for k in actions.PHASE_FIELDS}, spot_check_households=d["spot_check_households"],
                error_threshold=d["error_threshold"], seed=d["seed"],
            )
        except RegistryError as err:
            forms.add_error(form, err)
        else:
            messages.success(request, _("Campaign “%(name)s” created; its verification lists are ready.") % {"name": c.name})
            return redirect("campaigns:detail", c.pk)
    return render(request, "campaigns/form.html", {"actor": actor, "form": form,
                                                   "title": _("Start a verification campaign"),
                                                   "cancel": reverse("campaigns:index")})


@with_actor
def detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    rows = progress(c, actor)
    phases = c.phase_dates()
    return render(request, "campaigns/detail.html", _ctx(
        actor, c, rows=rows, phases=phases, phase_index=[p.value for p in Phase].index(c.phase),
        next_phase=_next_phase(c), n_open=items_for(c, actor).filter(
            status__in=(ItemStatus.OPEN, ItemStatus.IN_PROGRESS)).count(),
    ))


def _next_phase(c: Campaign) -> str:
    order = [p.value for p in Phase]
    i = order.index(c.phase)
    if i + 1 == len(order):
        return ""
    return str(Phase(order[i + 1]).label)


def _require_manager(actor: Actor) -> None:
    """A role without the permission gets 403 (not a redirect with a message)."""
    try:
        actor.require(Permission.MANAGE_CAMPAIGNS)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None


@require_POST
@writer
def advance(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """Two steps: the button on the campaign page asks first (a page naming the units not
    done with the current phase); only the confirmation moves the campaign on."""
    c = _campaign(actor, pk)
    _require_manager(actor)
    error = ""
    if request.POST.get("confirm") == "yes":
        try:
            c = actions.do_advance_phase(actor, c)
        except RegistryError as err:
            error = err.message
        else:
            messages.success(request, _("The campaign is now in the “%(phase)s” phase.") % {
                "phase": str(c.get_phase_display())})
            return redirect("campaigns:detail", c.pk)
    if not _next_phase(c):
        error = error or _("The campaign is closed; there is no next phase.")
    unfinished = actions.unfinished_units(c)
    return render(request, "campaigns/advance.html", _ctx(
        actor, c, next_phase=_next_phase(c), unfinished=unfinished, error=error,
        blocked=bool(error) or any(u.unsigned for u in unfinished),
    ), status=200)


@require_POST
@writer
def generate(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    _require_manager(actor)
    try:
        r = actions.do_generate_items(actor, c)
        messages.success(request, _("Automatic checks: new rectification items: %(created)s; already listed: %(existing)s.")
                         % {"created": r.created, "existing": r.existing})
    except RegistryError as err:
        messages.error(request, err.message)
    return redirect("campaigns:items", c.pk)


# ---------------------------------------------------------------- field lists and capture


@with_actor
def village_workbook(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    full_id, reason = request_full_id(request), request_reason(request)
    if full_id:
        asked = full_id_reason(request, actor, unit_code=v.code, title=_("Field workbook with full ID numbers"),
                               back=reverse("campaigns:detail", args=[c.pk]))
        if not isinstance(asked, str):
            return asked
        reason = asked
    persons = field_list_persons(c, v.code)
    export = Export(
        title=f"{c.name} {v.name} 入户核对表", filename=f"{c.name}-{v.name}-入户核对表.xlsx", format="xlsx",
        action=AuditAction.CAMPAIGN_EXPORT_WORKBOOK, reason="入户核对 field check", target=c,
        row_count=len(persons), detail={"village": v.code},
        xlsx=lambda wb, ctx: fieldlists.fill_field_workbook(
            wb, village_info(v), persons, campaign_info(c) | {"show_full_id": ctx.full_id}),
    )
    return export_response(actor, export, permission=Permission.CAMPAIGN_FIELDWORK, unit_code=v.code,
                           full_id=full_id, reason=reason)


@require_POST
@with_actor
def village_pdf(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    """Start the ``field_list_pdf`` job of a village (a PDF of a large village takes about a
    minute) and show its progress; its result is the download below."""
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    full_id, reason = request_full_id(request) or request.POST.get("full_id") == "1", ""
    if full_id:
        asked = full_id_reason(request, actor, unit_code=v.code, title=_("Field list with full ID numbers"),
                               back=reverse("campaigns:detail", args=[c.pk]))
        if not isinstance(asked, str):
            return asked
        reason = asked
    params = {"campaign": c.pk, "village": v.code, "split": request.POST.get("split") or "",
              "full_id": full_id, "reason": reason}  # fmt: skip
    try:
        job = jobs.start_job(actor, "field_list_pdf", params, unit_code=v.code)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    return redirect("jobs:detail", pk=job.pk)


@with_actor
def field_list_download(request: HttpRequest, actor: Actor, job: int) -> HttpResponse:
    """The PDF a ``field_list_pdf`` job stored (checked again, audited as a download)."""
    found = jobs.job_for(actor, job)
    if found.kind != "field_list_pdf" or found.state != JobState.SUCCEEDED:
        raise Http404
    name = str(found.result.get("file", ""))
    path = field_list_file(found.pk, name)
    if path is None:
        raise Http404
    return stored_file_response(actor, path, filename=name, format="pdf", action=AuditAction.EXPORT_FILE,
                                permission=Permission.CAMPAIGN_FIELDWORK, unit_code=found.unit_code,
                                full_id=bool(found.params.get("full_id")), target=found,
                                detail={"job": found.pk})  # fmt: skip


@writer
def upload(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    form = forms.UploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        report = actions.do_upload_workbook(actor, c, f.read(), filename=f.name, village_code=v.code)
        if report.accepted and not report.duplicate:
            messages.success(request, _("Upload accepted: rows recorded: %(changed)s; rows the same as already recorded: %(unchanged)s.")
                             % {"changed": report.changed, "unchanged": report.unchanged})
            return redirect(f"{reverse('campaigns:items', args=[c.pk])}?unit={v.code}")
    return render(request, "campaigns/upload.html", _ctx(actor, c, village=v, form=form, report=report))


@with_actor
def capture(request: HttpRequest, actor: Actor, pk: int, code: str, *, errors: dict[int, str] | None = None,
            found_form: forms.FoundPersonForm | None = None, entry_check: EntryCheck | None = None) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    outcomes = {o.person_id: o for o in FieldOutcome.objects.filter(campaign=c, unit=v)}
    q, todo = request.GET.get("q", "").strip(), request.GET.get("todo") == "1"
    listed = listed_persons(c, v.code)
    total = listed.count()
    if q:
        listed = listed.filter(Q(name__contains=q) | Q(household__household_no=q) | Q(household__address__contains=q))
    persons = []
    # The wrong item of an outcome by its label (出生日期), never its field name (birth_date).
    field_labels = {str(v): str(label) for v, label in forms.OutcomeForm.base_fields["field_name"].choices if v}  # type: ignore[attr-defined]
    for p in listed:
        if todo and p.pk in outcomes:
            continue
        p.masked_id = mask_id(p.id_number)  # type: ignore[attr-defined]
        o = outcomes.get(p.pk)
        p.outcome = o  # type: ignore[attr-defined]
        p.outcome_label = (  # type: ignore[attr-defined]
            o.get_outcome_display() if o else "")
        p.field_label = field_labels.get(o.field_name, "") if o else ""  # type: ignore[attr-defined]
        p.error = (errors or {}).get(p.pk)  # type: ignore[attr-defined]
        persons.append(p)
    return render(request, "campaigns/capture.html", _ctx(
        actor, c, village=v, persons=persons, outcome_choices=forms.OutcomeForm.base_fields["outcome"].choices,  # type: ignore[attr-defined]
        field_choices=forms.OutcomeForm.base_fields["field_name"].choices,  # type: ignore[attr-defined]
        found_form=found_form or forms.FoundPersonForm(), checked=len(outcomes), locked=is_locked(c, v.code),
        total=total, q=q, todo=todo, entry_check=entry_check,
        editable=c.phase in (Phase.VERIFICATION, Phase.RECTIFICATION) and actor.can(Permission.CAMPAIGN_FIELDWORK),
    ))


@require_POST
@writer
def capture_person(request: HttpRequest, actor: Actor, pk: int, code: str, person_pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    get_object_or_404(ListedPerson, campaign=c, unit=v, person_id=person_pk)
    form = forms.OutcomeForm(request.POST)
    if not form.is_valid():
        msg = _("; ").join(str(e) for errs in form.errors.values() for e in errs)
        return capture(request, pk=pk, code=code, errors={person_pk: msg})
    d = form.cleaned_data
    try:
        actions.do_record_outcome(actor, c, person_pk, outcome=d["outcome"], field_name=d["field_name"] or "",
                                  corrected_value=d["value"], event_date=d["date"], note=d["note"])
    except RegistryError as err:
        return capture(request, pk=pk, code=code, errors={person_pk: err.message})
    query = f"?{request.GET.urlencode()}" if request.GET else ""
    return redirect(f"{reverse('campaigns:capture', args=[c.pk, v.code])}{query}#p{person_pk}")


@require_POST
@writer
def capture_found(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    form = forms.FoundPersonForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        # Likely registry records of the found person, before saving (popreg.registry.entry_check).
        check = check_entry(actor, NewRecord(name=d["name"], sex=d["sex"], birth_date=d["birth_date"],
                                             id_number=d["id_number"] or "", village_code=v.code,
                                             household_no=d["household_no"] or ""))
        if must_show(request, check):
            return capture(request, pk=pk, code=code, found_form=form, entry_check=check)
        try:
            fp, created = save_checked(actor, check, "found_person", lambda: actions.do_record_found_person(
                actor, c, v.code, name=d["name"], sex=d["sex"], birth_date=d["birth_date"], kind=d["kind"],
                id_number=d["id_number"], household_no=d["household_no"], address=d["address"],
                from_unit_code=d["from_unit_code"], event_date=d["date"], note=d["note"]),
                person_of=lambda made: made[0], permission=Permission.CAMPAIGN_FIELDWORK)
        except RegistryError as err:
            forms.add_error(form, err)
        else:
            text = _("Newly found person %(name)s registered") if created else _("%(name)s was already registered")
            messages.success(request, text % {"name": fp.name})
            return redirect(f"{reverse('campaigns:capture', args=[c.pk, v.code])}#found")
    return capture(request, pk=pk, code=code, found_form=form)


# ---------------------------------------------------------------- rectification


@with_actor
def items(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    qs = items_for(c, actor)
    unit, status, item_type = (request.GET.get(k, "") for k in ("unit", "status", "type"))
    if unit:
        qs = qs.filter(unit__code__startswith=unit)
    if status:
        qs = qs.filter(status=status)
    if item_type:
        qs = qs.filter(item_type=item_type)
    labels = _type_labels()
    page = Paginator(qs.order_by("unit_id", "status", "id"), 200).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for it in rows:
        it.type_label = labels.get(it.item_type, it.item_type)  # type: ignore[attr-defined]
        it.status_label = it.get_status_display()  # type: ignore[attr-defined]
        it.origin_label = it.get_origin_display()  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "campaigns/items.html", _ctx(
        actor, c, items=rows, total=page.paginator.count, page=page, query=query.urlencode(),
        unit=unit, status=status, item_type=item_type,
        statuses=ItemStatus.choices, types=sorted(labels.items()),
        villages=[v for v in scope_villages(c) if actor.covers(v.code)],
    ))


def _owner_choices(item: RectificationItem) -> list[tuple[str, str]]:
    out = []
    for u in get_user_model().objects.filter(assignment__isnull=False).select_related("assignment__unit"):
        a = u.assignment
        if role_has(a.role, Permission.CAMPAIGN_FIELDWORK) and item.unit_id.startswith(
                a.unit.prefix):
            out.append((str(u.pk), _("%(user)s (%(role)s, %(unit)s)") % {
                "user": u.get_username(), "role": a.get_role_display(), "unit": a.unit.name}))
    return out


@with_actor
def item_detail(request: HttpRequest, actor: Actor, pk: int, item_pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    it = get_object_or_404(items_for(c, actor), pk=item_pk)
    allowed = actions.ALLOWED_ACTIONS.get(it.item_type, ())
    defaults = actions.default_params(it)
    resolve_form = forms.ResolveForm(initial=defaults, actions=allowed)
    reject_form = forms.RejectForm()
    assign_form = forms.AssignForm(initial={"owner": it.owner_id, "deadline": it.deadline},
                                   owners=_owner_choices(it))
    op = request.POST.get("op")
    if request.method == "POST" and actor.can(Permission.CAMPAIGN_FIELDWORK):
        try:
            if op == "resolve":
                resolve_form = forms.ResolveForm(request.POST, actions=allowed)
                if resolve_form.is_valid():
                    d = resolve_form.cleaned_data
                    actions.do_resolve_item(actor, it, action=d.pop("action"), params=d)
                    messages.success(request, _("Resolved: the register was updated through the proper procedure."))
                    return redirect("campaigns:item", c.pk, it.pk)
            elif op == "reject":
                reject_form = forms.RejectForm(request.POST)
                if reject_form.is_valid():
                    actions.do_reject_item(actor, it, reason=reject_form.cleaned_data["reason"])
                    messages.success(request, _("Item rejected."))
                    return redirect("campaigns:item", c.pk, it.pk)
            elif op == "assign":
                assign_form = forms.AssignForm(request.POST, owners=_owner_choices(it))
                if assign_form.is_valid():
                    d = assign_form.cleaned_data
                    actions.do_update_item(actor, it, owner=d["owner"] or None, deadline=d["deadline"],
                                           start=d["start"])
                    messages.success(request, _("Item updated."))
                    return redirect("campaigns:item", c.pk, it.pk)
        except RegistryError as err:
            target = {"resolve": resolve_form, "reject": reject_form, "assign": assign_form}.get(op or "")
            if target is not None:
                forms.add_error(target, err)
    person = it.person
    if person is not None:
        person.masked_id = mask_id(person.id_number)  # type: ignore[attr-defined]
    return render(request, "campaigns/item.html", _ctx(
        actor, c, item=it, person=person, type_label=_type_labels().get(it.item_type, it.item_type),
        resolve_form=resolve_form, reject_form=reject_form, assign_form=assign_form, allowed=allowed,
        action_label=forms.action_label(it.action_taken) if it.action_taken else "", locked=is_locked(c, it.unit_id),
        merge_missing=it.item_type == "duplicate" and actions.merge_action() is None,
        status_label=it.get_status_display(),
        origin_label=it.get_origin_display(),
        kind_label=it.found_person.get_kind_display()
        if it.found_person else "",
    ))


# ---------------------------------------------------------------- summary and acceptance


@with_actor
def summary(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    table = summary_table(c, actor)
    header, rows = _summary_screen(table)
    return render(request, "campaigns/summary.html", _ctx(
        actor, c, table=table, header=header, rows=rows,
        sign_form=forms.SignOffForm(),
    ))


@with_actor
def summary_export(request: HttpRequest, actor: Actor, pk: int, fmt: str) -> HttpResponse:
    c = _campaign(actor, pk)
    table = summary_table(c, actor)
    if fmt not in ("xlsx", "pdf"):
        raise Http404("unknown format")
    export = Export(
        title=f"{c.name} 整顿情况汇总表", filename=f"{c.name}-汇总表.{fmt}", format="xlsx" if fmt == "xlsx" else "pdf",
        action=AuditAction.CAMPAIGN_EXPORT_SUMMARY, reason="整顿情况汇总 campaign summary", target=c,
        row_count=len(table.rows),
        xlsx=lambda wb, ctx: fill_summary_workbook(wb, table), pdf_html=lambda ctx: summary_html(table),
    )
    return export_response(actor, export, permission=Permission.VIEW_REGISTRY, unit_code=actor.unit_code,
                           reason=request_reason(request))


@with_actor
def spot_check(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    c = _campaign(actor, pk)
    v = _village(actor, c, code)
    form = forms.SpotCheckForm()
    error_for = None
    if request.method == "POST" and not actor.can(Permission.CAMPAIGN_ACCEPTANCE):
        messages.error(request, _why_no_spot_check(actor, c, v, may_check=False, signed=False))
    elif request.method == "POST":
        try:
            if request.POST.get("op") == "draw":
                checks = actions.do_draw_spot_check(actor, c, v.code)
                messages.success(request, ngettext("%(n)s household drawn.", "%(n)s households drawn.", len(checks))
                                 % {"n": len(checks)})
                return redirect("campaigns:spot_check", c.pk, v.code)
            raw = request.POST.get("spot_check", "")
            if not raw.isdigit():
                raise Http404("no such spot check")
            sc = get_object_or_404(SpotCheck, campaign=c, unit=v, pk=int(raw))
            form = forms.SpotCheckForm(request.POST)
            if form.is_valid():
                actions.do_record_spot_check(actor, sc, agrees=form.cleaned_data["agrees"] == "1",
                                             note=form.cleaned_data["note"])
                return redirect("campaigns:spot_check", c.pk, v.code)
            error_for = sc.pk
        except RegistryError as err:
            messages.error(request, err.message)
    checks = list(SpotCheck.objects.filter(campaign=c, unit=v).select_related("household"))
    members: dict[int, list[Any]] = {}
    outcomes = {o.person_id: o for o in FieldOutcome.objects.filter(campaign=c, unit=v)}
    for lp in ListedPerson.objects.filter(campaign=c, unit=v, household_id__in=[s.household_id for s in checks]
                                          ).select_related("person"):
        o = outcomes.get(lp.person_id)
        lp.person.outcome_label = (  # type: ignore[attr-defined]
            o.get_outcome_display() if o else "")
        members.setdefault(lp.household_id or 0, []).append(lp.person)
    may_check = actor.can(Permission.CAMPAIGN_ACCEPTANCE) and actor.covers(v.code)
    for s in checks:
        s.members = members.get(s.household_id, [])  # type: ignore[attr-defined]
        s.result_label = s.get_result_display()  # type: ignore[attr-defined]
        s.own_work = may_check and actions.own_work(actor, s)  # type: ignore[attr-defined]
    result = actions.spot_check_result(c, v.code)
    signed = SignOff.objects.filter(campaign=c, unit=v).exists()
    return render(request, "campaigns/spot_check.html", _ctx(
        actor, c, village=v, checks=checks, result=result, form=form,
        error_rate=_percent(result.errors, result.checked) if result.checked else "",
        error_for=error_for, signed=signed,
        households=Household.objects.filter(unit_id__startswith=v.code).count(),
        may_check=may_check and c.phase == Phase.SUMMARY and not signed and not is_locked(c, v.code),
        why_not=_why_no_spot_check(actor, c, v, may_check=may_check, signed=signed),
    ))


def _why_no_spot_check(actor: Actor, c: Campaign, v: AdminUnit, *, may_check: bool, signed: bool) -> str:
    """Why the page offers no button to draw or record the spot check ("" when it does)."""
    if not may_check:
        return _("The spot check is drawn and recorded by the township or the county, not by the village clerk whose work it checks; your role can only see it.")
    if c.phase != Phase.SUMMARY:
        return _("Households are drawn in the “%(phase)s” phase; the campaign is now in the “%(now)s” phase.") % {
            "phase": str(Phase.SUMMARY.label), "now": str(c.get_phase_display())}
    if signed or is_locked(c, v.code):
        return _("%(village)s is signed off; its spot check is final.") % {"village": v.name}
    return ""


@require_POST
@writer
def sign_off(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = _campaign(actor, pk)
    form = forms.SignOffForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            s = actions.do_sign_off(actor, c, d["unit"], level=d["level"], note=d["note"])
            messages.success(request, _("%(unit)s: %(level)s sign-off done") % {
                "unit": s.unit.name, "level": s.get_level_display()})
        except RegistryError as err:
            messages.error(request, err.message)
    else:
        messages.error(request, "签字请求不完整 / incomplete sign-off request")
    return redirect("campaigns:summary", c.pk)
