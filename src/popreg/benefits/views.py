"""Pages of the benefits app: programmes, runs and decisions, disclosure and objections,
approval, payments and bank returns, arrears and overpayments, applications, family facts.

Views are thin: each checks the permission and jurisdiction, calls an action of
:mod:`popreg.benefits.actions` and shows its refusal (Chinese / English, naming the field)
as a message.  An object outside the user's jurisdiction is a 404; a missing permission a 403.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from popreg.benefits import actions
from popreg.benefits.disclosure import list_export, notice_export, programme_name
from popreg.benefits.models import (
    LEVEL_ORDER,
    Application,
    ApplicationStatus,
    Decision,
    DisabilityRecord,
    Disclosure,
    EligibilityRun,
    FamilyCertificate,
    Objection,
    ObjectionStatus,
    PayeeAccount,
    PaymentBatch,
    Recovery,
    RecoveryStatus,
)
from popreg.benefits.payments import payment_export, read_return_file
from popreg.benefits.programmes import CODES, load
from popreg.core.privacy import mask_id
from popreg.registry import jobs
from popreg.registry.access import Actor, person_in_scope
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Column, Export, export_response, request_full_id, request_reason
from popreg.registry.models import AdminUnit, Person
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.registry.views_full_id import full_id_reason

PAGE = 100


def _require(actor: Actor, permission: Permission, unit_code: str | None = None) -> None:
    try:
        actor.require(permission, unit_code)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None


def _visible(actor: Actor, unit_code: str) -> None:
    """A 404 for an object outside the jurisdiction (its existence is not disclosed)."""
    if not actor.covers(unit_code):
        raise Http404


def _run(actor: Actor, pk: int) -> EligibilityRun:
    run = get_object_or_404(EligibilityRun.objects.select_related("unit"), pk=pk)
    _visible(actor, run.unit_id)
    _require(actor, Permission.VIEW_BENEFITS, run.unit_id)
    return run


def _fail(request: HttpRequest, err: RegistryError) -> None:
    messages.error(request, err.message)


def _programmes() -> list[dict[str, Any]]:
    out = []
    today = timezone.localdate()
    for code in CODES:
        p = load(code)
        params = []
        for name, param in p.parameters.items():
            try:
                value = param.at(today)
            except Exception:  # noqa: BLE001 - a parameter not yet in force shows as a dash
                value = None
            params.append({"label": param.label, "value": value, "unit": param.unit,
                           "reference": param.reference_at(today), "name": name})
        out.append({"code": code, "name": p.name, "period": p.period, "payee": p.payee, "params": params,
                    "conditions": p.conditions, "sources": p.document.get("sources", [])})
    return out


def figures(actor: Actor) -> dict[str, Any]:
    """Programme, disclosure and payment figures of the jurisdiction (home page, index)."""
    runs = EligibilityRun.objects.filter(unit_id__startswith=actor.prefix) if actor.prefix else EligibilityRun.objects
    latest: dict[str, EligibilityRun] = {}
    for r in runs.order_by("-month", "-id")[:200]:
        latest.setdefault(r.programme, r)
    lines = PaymentBatch.objects.all()
    month = timezone.localdate().replace(day=1)
    paid = lines.filter(month__gte=month.replace(month=1)).aggregate(
        total=Sum("lines__amount_yuan", filter=Q(lines__status="paid")), n=Count("lines", filter=Q(lines__status="paid")))
    return {
        "latest": [{"code": c, "name": programme_name(c), "run": r} for c, r in latest.items()],
        "open_objections": Objection.objects.filter(status=ObjectionStatus.OPEN,
                                                    decision__unit_code__startswith=actor.prefix).count(),
        "open_disclosures": Disclosure.objects.filter(closed_at__isnull=True,
                                                      run__unit_id__startswith=actor.prefix).count(),
        "pending_applications": Application.objects.filter(status=ApplicationStatus.PENDING,
                                                           unit_code__startswith=actor.prefix).count(),
        "open_recoveries": Recovery.objects.filter(status=RecoveryStatus.OPEN, unit_code__startswith=actor.prefix).count(),
        "paid_this_year": paid["total"] or Decimal("0"), "paid_lines_this_year": paid["n"] or 0,
        "year": month.year,
    }


# ------------------------------------------------------------------ programmes and runs


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Programmes with their parameters in force, recent runs, and the form to start a run."""
    _require(actor, Permission.VIEW_BENEFITS)
    if request.method == "POST":
        _require(actor, Permission.PREPARE_BENEFITS)
        programme = request.POST.get("programme", "")
        try:
            if programme not in CODES and programme != "all":
                raise actions.BenefitsError("请选择补助项目", "choose a programme", "programme")
            month = actions.parse_month(request.POST.get("month", ""))
            unit = request.POST.get("unit") or actor.unit_code or ""
            if not unit:
                unit = AdminUnit.objects.filter(level="county").order_by("code").values_list("code", flat=True).first() or ""
            job = jobs.start_job(actor, "benefits_eligibility",
                                 {"programme": programme, "month": actions.month_label(month), "unit": unit},
                                 unit_code=unit)
        except RegistryError as err:
            _fail(request, err)
            return redirect("benefits:index")
        return redirect("jobs:detail", pk=job.pk)
    runs = EligibilityRun.objects.select_related("unit")
    if actor.prefix:
        runs = runs.filter(unit_id__startswith=actor.prefix)
    last = timezone.localdate().replace(day=1)
    return render(request, "benefits/index.html", {
        "programmes": _programmes(), "runs": runs.order_by("-id")[:50], "figures": figures(actor),
        "can_prepare": actor.can(Permission.PREPARE_BENEFITS), "month": actions.month_label(last),
        "names": {c: programme_name(c) for c in CODES},
    })


@with_actor
def run_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    run = _run(actor, pk)
    show = request.GET.get("show", "eligible")
    decisions = run.decisions.select_related("person", "payee").order_by("unit_code", "id")
    if actor.prefix:
        decisions = decisions.filter(unit_code__startswith=actor.prefix)
    if show == "eligible":
        decisions = decisions.filter(eligible=True)
    elif show == "changed":
        decisions = decisions.filter(change__in=["new", "ended"])
    page = Paginator(decisions, PAGE).get_page(request.GET.get("page"))
    labels = {c.id: c.label for c in load(run.programme).conditions} if run.programme in CODES else {}
    rows = []
    for d in page:
        rows.append({"d": d, "masked_id": mask_id(d.person.id_number),
                     "conditions": [(labels.get(cid, cid), d.conditions.get(cid, "")) for cid in run.conditions]})
    disclosures = list(run.disclosures.order_by("id"))
    current = disclosures[-1] if disclosures else None
    next_level = LEVEL_ORDER[len(disclosures)] if len(disclosures) < len(LEVEL_ORDER) else None
    can_publish = next_level is not None and (current is None or current.closed_at is not None) \
        and run.status in ("prepared", "disclosing")
    start = current.ends_on if current is not None else timezone.localdate()
    villages = (AdminUnit.objects.filter(code__in=run.decisions.filter(eligible=True).values("unit_code"))
                .order_by("code"))
    if actor.prefix:
        villages = villages.filter(code__startswith=actor.prefix)
    objections = Objection.objects.filter(disclosure__run=run).select_related("decision__person", "disclosure")
    return render(request, "benefits/run.html", {
        "run": run, "name": programme_name(run.programme), "rows": rows, "page": page, "show": show,
        "disclosures": disclosures, "current": current, "next_level": next_level, "can_publish": can_publish,
        "start": start.isoformat(), "villages": villages, "objections": objections,
        "can_prepare": actor.can(Permission.PREPARE_BENEFITS, run.unit_id),
        "can_approve": actor.can(Permission.APPROVE_BENEFITS, run.unit_id) and run.status == "disclosed",
        "preparer_is_me": run.prepared_by_name == actor.name,
        "eligible_options": run.decisions.filter(eligible=True).select_related("person").order_by("person__name")[:500]
        if current is not None and current.closed_at is None else [],
        "month": actions.month_label(run.month), "today": timezone.localdate(),
    })


@with_actor
def reproduce(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """Evaluate the run again from its kept inputs and show whether every decision is the same."""
    from popreg.benefits.runs import differences
    from popreg.benefits.runs import reproduce as evaluate_again

    run = _run(actor, pk)
    try:
        diffs = differences(run, evaluate_again(run))
    except RegistryError as err:
        return render(request, "benefits/reproduce.html", {"run": run, "error": err.message})
    return render(request, "benefits/reproduce.html", {"run": run, "differences": diffs[:200], "count": len(diffs),
                                                       "month": actions.month_label(run.month)})


def _post_only(request: HttpRequest) -> None:
    if request.method != "POST":
        raise Http404


def _date(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise actions.BenefitsError(f"日期 {text!r} 应写作 YYYY-MM-DD", f"the date {text!r} should be YYYY-MM-DD", field) from None


@with_actor
def publish(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    run = _run(actor, pk)
    _post_only(request)
    _require(actor, Permission.PREPARE_BENEFITS, run.unit_id)
    try:
        actions.do_publish(actor, run, level=request.POST.get("level", ""),
                           starts_on=_date(request.POST.get("starts_on", ""), "starts_on"),
                           ends_on=_date(request.POST.get("ends_on", ""), "ends_on"))
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("Published."))
    return redirect("benefits:run", pk=run.pk)


def _disclosure(actor: Actor, pk: int) -> Disclosure:
    d = get_object_or_404(Disclosure.objects.select_related("run"), pk=pk)
    _visible(actor, d.run.unit_id)
    _require(actor, Permission.PREPARE_BENEFITS, d.run.unit_id)
    return d


@with_actor
def close_disclosure(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    d = _disclosure(actor, pk)
    _post_only(request)
    try:
        actions.do_close_disclosure(actor, d)
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("The level is closed."))
    return redirect("benefits:run", pk=d.run_id)


@with_actor
def raise_objection(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    d = _disclosure(actor, pk)
    _post_only(request)
    raw = request.POST.get("decision", "")
    decision = Decision.objects.filter(pk=int(raw), run_id=d.run_id).first() if raw.isdigit() else None
    try:
        if decision is None:
            raise actions.BenefitsError("请选择异议所涉及的人员", "choose the person the objection is about", "decision")
        actions.do_raise_objection(actor, d, decision, objector=request.POST.get("objector", ""),
                                   what=request.POST.get("what", ""), evidence=request.POST.get("evidence", ""),
                                   contact=request.POST.get("contact", ""))
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("The objection is recorded."))
    return redirect("benefits:run", pk=d.run_id)


@with_actor
def resolve_objection(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    obj = get_object_or_404(Objection.objects.select_related("decision", "disclosure"), pk=pk)
    _visible(actor, obj.decision.unit_code)
    _require(actor, Permission.PREPARE_BENEFITS, obj.decision.unit_code)
    _post_only(request)
    outcome = request.POST.get("outcome", "")
    try:
        if outcome not in ("uphold", "dismiss"):
            raise actions.BenefitsError("请选择处理结果：成立或不成立", "choose the outcome: uphold or dismiss", "outcome")
        actions.do_resolve_objection(actor, obj, uphold=outcome == "uphold", reason=request.POST.get("reason", ""))
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("The objection is resolved."))
    return redirect("benefits:run", pk=obj.disclosure.run_id)


@with_actor
def approve(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    run = _run(actor, pk)
    _post_only(request)
    _require(actor, Permission.APPROVE_BENEFITS, run.unit_id)
    try:
        actions.do_approve_run(actor, run)
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("The run is approved."))
    return redirect("benefits:run", pk=run.pk)


def _village(actor: Actor, run: EligibilityRun, code: str) -> None:
    if not (run.unit.contains(code) and actor.covers(code)) or not AdminUnit.objects.filter(code=code).exists():
        raise Http404


@with_actor
def notice_pdf(request: HttpRequest, actor: Actor, pk: int, code: str) -> HttpResponse:
    run = _run(actor, pk)
    _village(actor, run, code)
    return export_response(actor, notice_export(run, code), permission=Permission.VIEW_BENEFITS, unit_code=code,
                           reason=request_reason(request))


@with_actor
def decisions_csv(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """Every decision of the run in the user's jurisdiction, with each condition's outcome
    (ID numbers masked unless the full number is asked for and allowed)."""
    run = _run(actor, pk)
    full_id, reason = request_full_id(request), request_reason(request)
    if full_id:
        asked = full_id_reason(request, actor, unit_code=run.unit_id, title=_("Decisions with full ID numbers"),
                               back=reverse("benefits:run", args=[run.pk]))
        if not isinstance(asked, str):
            return asked
        reason = asked
    qs = run.decisions.select_related("person", "payee").order_by("unit_code", "id")
    if actor.prefix:
        qs = qs.filter(unit_code__startswith=actor.prefix)
    conds = list(run.conditions)
    rows = ([d.person_id, d.person.name, d.person.id_number, d.unit_code, d.payee.name if d.payee else "",
             "true" if d.eligible else "false", f"{d.amount_yuan:.2f}", d.change, d.source, d.reasons,
             d.withdrawn_reason, *[d.conditions.get(c, "") for c in conds]] for d in qs.iterator(chunk_size=2000))
    export = Export(
        title=f"资格核定结果 decisions {run.programme} {actions.month_label(run.month)}",
        filename=f"decisions-{run.programme}-{run.month:%Y%m}-run{run.pk}.csv", format="csv",
        action=AuditAction.BENEFITS_EXPORT_LIST, reason="资格核定 eligibility", target=run,
        columns=[Column("person_id"), Column("name"), Column("id_number", id_number=True), Column("unit_code"),
                 Column("payee"), Column("eligible"), Column("amount_yuan"), Column("change"), Column("source"),
                 Column("reasons"), Column("withdrawn"), *[Column(c) for c in conds]],
        rows=rows, row_count=qs.count(), detail={"run": run.pk, "decisions": True},
    )
    return export_response(actor, export, permission=Permission.VIEW_BENEFITS, unit_code=run.unit_id,
                           full_id=full_id, reason=reason)


@with_actor
def public_list(request: HttpRequest, actor: Actor, pk: int, code: str, fmt: str) -> HttpResponse:
    run = _run(actor, pk)
    _village(actor, run, code)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    return export_response(actor, list_export(run, code, fmt), permission=Permission.VIEW_BENEFITS, unit_code=code,
                           reason=request_reason(request))


# ------------------------------------------------------------------ payments


@with_actor
def payments(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_BENEFITS)
    if request.method == "POST":
        _require(actor, Permission.MANAGE_PAYMENTS)
        try:
            programme = request.POST.get("programme", "")
            if programme not in CODES:
                raise actions.BenefitsError("请选择补助项目", "choose a programme", "programme")
            batch = actions.do_make_payment_batch(actor, programme=programme,
                                                  month=actions.parse_month(request.POST.get("month", "")))
        except RegistryError as err:
            _fail(request, err)
            return redirect("benefits:payments")
        return redirect("benefits:batch", pk=batch.pk)
    batches = PaymentBatch.objects.order_by("-id")[:100]
    ready = EligibilityRun.objects.filter(status="approved").select_related("unit").order_by("-id")[:20]
    return render(request, "benefits/payments.html", {
        "batches": batches, "ready": ready, "can_pay": actor.can(Permission.MANAGE_PAYMENTS),
        "names": {c: programme_name(c) for c in CODES},
    })


def _batch(actor: Actor, pk: int) -> PaymentBatch:
    batch = get_object_or_404(PaymentBatch, pk=pk)
    _require(actor, Permission.VIEW_BENEFITS)
    if not actor.county_wide:
        raise Http404  # a payment file is the whole county's
    return batch


@with_actor
def batch_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    batch = _batch(actor, pk)
    lines = Paginator(batch.lines.order_by("id"), PAGE).get_page(request.GET.get("page"))
    return render(request, "benefits/batch.html", {
        "batch": batch, "lines": lines, "summary": actions.reconcile_batch(batch),
        "can_pay": actor.can(Permission.MANAGE_PAYMENTS), "name": programme_name(batch.programme),
        "month": actions.month_label(batch.month),
        "masked": {ln.pk: mask_id(ln.payee_id_number) for ln in lines},
        "has_failed": batch.lines.filter(status="failed").exists(),
    })


@with_actor
def batch_file(request: HttpRequest, actor: Actor, pk: int, fmt: str) -> HttpResponse:
    batch = _batch(actor, pk)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    # The bank pays by the full ID number: the file always carries it, so it asks why; its
    # content passed the four-eyes approval of its eligibility runs (no further approval).
    county = AdminUnit.objects.filter(level="county").order_by("code").values_list("code", flat=True).first()
    asked = full_id_reason(request, actor, unit_code=county or "",
                           title=_("Payment file with full ID numbers"),
                           back=reverse("benefits:batch", args=[batch.pk]), approved=True)
    if not isinstance(asked, str):
        return asked
    return export_response(actor, payment_export(batch, fmt), permission=Permission.MANAGE_PAYMENTS,
                           unit_code=None, full_id=True, reason=asked)


@with_actor
def batch_return(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    batch = _batch(actor, pk)
    _post_only(request)
    _require(actor, Permission.MANAGE_PAYMENTS)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise actions.BenefitsError("请选择银行回盘文件", "choose the bank's return file", "file")
        rows = read_return_file(upload.read(), upload.name or "")
        summary = actions.do_import_return(actor, batch, rows)
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("Return file imported: %(paid)s paid, %(failed)s failed.")
                         % {"paid": summary["paid_count"], "failed": summary["failed_count"]})
    return redirect("benefits:batch", pk=batch.pk)


@with_actor
def batch_resubmit(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    batch = _batch(actor, pk)
    _post_only(request)
    _require(actor, Permission.MANAGE_PAYMENTS)
    try:
        new = actions.do_resubmit_failures(actor, batch)
    except RegistryError as err:
        _fail(request, err)
        return redirect("benefits:batch", pk=batch.pk)
    return redirect("benefits:batch", pk=new.pk)


@with_actor
def recoveries(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_BENEFITS)
    qs = Recovery.objects.select_related("person", "payee")
    if actor.prefix:
        qs = qs.filter(unit_code__startswith=actor.prefix)
    status = request.GET.get("status", "open")
    if status in ("open", "settled"):
        qs = qs.filter(status=status)
    totals = {k: qs.filter(kind=k).aggregate(t=Sum("amount_yuan"))["t"] or Decimal("0") for k in ("arrears", "overpayment")}
    return render(request, "benefits/recoveries.html", {
        "page": Paginator(qs.order_by("-id"), PAGE).get_page(request.GET.get("page")), "status": status,
        "totals": totals, "can_pay": actor.can(Permission.MANAGE_PAYMENTS),
        "names": {c: programme_name(c) for c in CODES},
    })


@with_actor
def settle_recovery(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    rec = get_object_or_404(Recovery, pk=pk)
    _visible(actor, rec.unit_code)
    _require(actor, Permission.MANAGE_PAYMENTS)
    _post_only(request)
    try:
        actions.do_settle_recovery(actor, rec, note=request.POST.get("note", ""))
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("Settled."))
    return redirect("benefits:recoveries")


# ------------------------------------------------------------------ applications and family facts


def _int(text: Any) -> int:
    return int(text) if str(text or "").isdigit() else 0


def _person(actor: Actor, pk: Any) -> Person:
    person = Person.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if person is None or not person_in_scope(actor, person):
        raise actions.BenefitsError(f"找不到编号为 {pk} 的人员（或不在您的辖区）",
                                    f"no person number {pk} in your jurisdiction", "person")
    return person


@with_actor
def applications(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_BENEFITS)
    if request.method == "POST":
        _require(actor, Permission.PREPARE_BENEFITS)
        try:
            payee = request.POST.get("payee", "").strip()
            if request.POST.get("programme", "") not in CODES:
                raise actions.BenefitsError("请选择补助项目", "choose a programme", "programme")
            actions.do_submit_application(
                actor, programme=request.POST.get("programme", ""),
                month=actions.parse_month(request.POST.get("month", "")),
                person=_person(actor, request.POST.get("person", "").strip()), evidence=request.POST.get("evidence", ""),
                amount_yuan=request.POST.get("amount_yuan", "") or "0",
                payee=_person(actor, payee) if payee else None,
            )
        except RegistryError as err:
            _fail(request, err)
        else:
            messages.success(request, _("The application is recorded."))
        return redirect("benefits:applications")
    qs = Application.objects.select_related("person")
    if actor.prefix:
        qs = qs.filter(unit_code__startswith=actor.prefix)
    return render(request, "benefits/applications.html", {
        "page": Paginator(qs, PAGE).get_page(request.GET.get("page")),
        "can_prepare": actor.can(Permission.PREPARE_BENEFITS), "can_approve": actor.can(Permission.APPROVE_BENEFITS),
        "programmes": [(c, programme_name(c)) for c in CODES], "names": {c: programme_name(c) for c in CODES},
        "month": actions.month_label(timezone.localdate()),
    })


@with_actor
def decide_application(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    app = get_object_or_404(Application, pk=pk)
    _visible(actor, app.unit_code)
    _require(actor, Permission.APPROVE_BENEFITS, app.unit_code)
    _post_only(request)
    outcome = request.POST.get("outcome", "")
    try:
        if outcome not in ("grant", "refuse"):
            raise actions.BenefitsError("请选择审核结果：同意或不同意", "choose the decision: grant or refuse", "outcome")
        actions.do_decide_application(actor, app, grant=outcome == "grant", reason=request.POST.get("reason", ""))
    except RegistryError as err:
        _fail(request, err)
    else:
        messages.success(request, _("The application is decided."))
    return redirect("benefits:applications")


@with_actor
def family(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """A person's family facts with their history: certificates, disability, bank account."""
    person = get_object_or_404(Person, pk=pk)
    if not person_in_scope(actor, person):
        raise Http404
    _require(actor, Permission.VIEW_BENEFITS, person.registered_unit_id)
    if request.method == "POST":
        _require(actor, Permission.RECORD_FAMILY_FACTS, person.registered_unit_id)
        what = request.POST.get("what", "")
        try:
            if what == "certificate":
                child = request.POST.get("child", "").strip()
                actions.do_record_certificate(
                    actor, person, number=request.POST.get("number", ""),
                    issued_date=_date(request.POST.get("issued_date", ""), "issued_date") or timezone.localdate(),
                    child=_person(actor, child) if child else None)
            elif what == "disability":
                actions.do_record_disability(
                    actor, person, grade=request.POST.get("grade", ""),
                    recorded_date=_date(request.POST.get("recorded_date", ""), "recorded_date") or timezone.localdate())
            elif what == "account":
                actions.do_record_account(actor, person, account=request.POST.get("account", ""),
                                          bank=request.POST.get("bank", ""))
            elif what == "end_certificate":
                cert = get_object_or_404(FamilyCertificate, pk=_int(request.POST.get("id")), holder=person)
                actions.do_end_certificate(actor, cert, reason=request.POST.get("reason", ""))
            elif what == "end_disability":
                rec = get_object_or_404(DisabilityRecord, pk=_int(request.POST.get("id")), person=person)
                actions.do_end_disability(actor, rec, reason=request.POST.get("reason", ""))
            else:
                raise actions.BenefitsError("请选择要登记的内容", "choose what to record", "what")
        except RegistryError as err:
            _fail(request, err)
        else:
            messages.success(request, _("Recorded."))
        return redirect("benefits:family", pk=person.pk)
    return render(request, "benefits/family.html", {
        "person": person, "masked_id": mask_id(person.id_number),
        "certificates": FamilyCertificate.objects.filter(holder=person).select_related("child").order_by("-id"),
        "disabilities": DisabilityRecord.objects.filter(person=person).order_by("-id"),
        "accounts": PayeeAccount.objects.filter(person=person).order_by("-id"),
        "can_record": actor.can(Permission.RECORD_FAMILY_FACTS, person.registered_unit_id),
        "today": timezone.localdate().isoformat(), "entitlements": _entitlements(person),
        "names": {c: programme_name(c) for c in CODES},
    })


def _entitlements(person: Person) -> list[dict[str, Any]]:
    """A person's months, latest first: per programme and month the latest run's decision
    (as beneficiary or payee), what was paid and what is listed for recovery."""
    from popreg.benefits.models import PaymentLine

    latest: dict[tuple[str, date, int], Decision] = {}
    for d in (Decision.objects.filter(Q(person=person) | Q(payee=person)).select_related("run", "person")
              .order_by("-run_id")[:500]):
        latest.setdefault((d.run.programme, d.run.month, d.person_id), d)
    lines: dict[tuple[str, date, int], list[Any]] = {}
    for ln in PaymentLine.objects.filter(Q(person=person) | Q(payee=person)).select_related("batch"):
        lines.setdefault((ln.batch.programme, ln.batch.month, ln.person_id), []).append(ln)
    recs: dict[tuple[str, date, int], list[Recovery]] = {}
    for r in Recovery.objects.filter(Q(person=person) | Q(payee=person)):
        recs.setdefault((r.programme, r.month, r.person_id), []).append(r)
    keys = sorted(set(latest) | set(lines) | set(recs), key=lambda k: (k[1], k[0]), reverse=True)
    return [{"programme": k[0], "month": k[1], "decision": latest.get(k), "lines": lines.get(k, []),
             "recoveries": recs.get(k, []), "for_child": k[2] != person.pk} for k in keys]


def job_result_url(run: EligibilityRun) -> str:
    return reverse("benefits:run", args=[run.pk])
