"""Every write of the benefits app.

Each ``do_*`` function is atomic, first checks the actor's permission over the unit
concerned, then changes the records, then writes one audit record (before / after).
A refused action changes nothing and raises :class:`BenefitsError` (Chinese + English,
naming the field or row at fault).  Pages, jobs and commands call these only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from popreg.benefits.models import (
    LEVEL_ORDER,
    Application,
    ApplicationStatus,
    Change,
    Decision,
    DecisionSource,
    DisabilityRecord,
    Disclosure,
    DisclosureLevel,
    EligibilityRun,
    FamilyCertificate,
    LineStatus,
    Objection,
    ObjectionStatus,
    PayeeAccount,
    PaymentBatch,
    PaymentLine,
    Recovery,
    RecoveryKind,
    RecoveryStatus,
    RunStatus,
)
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Person, Status
from popreg.registry.policy import Permission
from popreg.registry.vocabulary import chinese_label

#: Days an objection window lasts unless the officer sets its end.
DEFAULT_WINDOW_DAYS = 7


class BenefitsError(RegistryError):
    """A refused benefits write."""


def first_of_month(d: date) -> date:
    return d.replace(day=1)


def month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of the month."""
    try:
        year, month = (int(x) for x in str(text).strip().split("-")[:2])
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise BenefitsError(f"月份 {text!r} 应写作 YYYY-MM，例如 2025-10",
                            f"month {text!r} should be written YYYY-MM, e.g. 2025-10", "month") from None


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


def _unit_of(person: Person) -> str:
    return str(person.registered_unit_id)


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise BenefitsError(f"金额 {value!r} 不是数字", f"amount {value!r} is not a number", field) from None
    if amount < 0:
        raise BenefitsError("金额不能为负数", "the amount cannot be negative", field)
    return amount


def _text(value: str, field: str, zh: str, en: str, limit: int = 300) -> str:
    text = (value or "").strip()
    if not text:
        raise BenefitsError(f"请填写{zh}", f"please fill in the {en}", field)
    if len(text) > limit:
        raise BenefitsError(f"{zh}不能超过 {limit} 个字", f"the {en} may have at most {limit} characters", field)
    return text


# ------------------------------------------------------------------ family facts


def _certificate_state(c: FamilyCertificate) -> dict[str, Any]:
    return {"holder": c.holder_id, "kind": c.kind, "number": c.number,
            "issued_date": c.issued_date.isoformat(), "child": c.child_id}


@transaction.atomic
def do_record_certificate(
    actor: Actor, holder: Person, *, number: str, issued_date: date, child: Person | None = None,
    replaces: FamilyCertificate | None = None,
) -> FamilyCertificate:
    """Record an only-child parents' certificate (or a correction of one: the old record is
    closed, not changed)."""
    actor.require(Permission.RECORD_FAMILY_FACTS, _unit_of(holder))
    number = _text(number, "number", "证书编号", "certificate number", 40)
    if issued_date > timezone.localdate():
        raise BenefitsError("发证日期不能晚于今天", "the issue date cannot be in the future", "issued_date")
    if child is not None and child.pk == holder.pk:
        raise BenefitsError("子女不能是持证人本人", "the child cannot be the holder", "child")
    if child is not None and holder.pk not in (child.mother_id, child.father_id):
        raise BenefitsError(f"{child.name} 的父母登记中没有持证人", f"{child.name}'s recorded parents do not include the holder",
                            "child")
    dup = FamilyCertificate.objects.filter(number=number, ended_at__isnull=True)
    if replaces is not None:
        dup = dup.exclude(pk=replaces.pk)
    if dup.exists():
        raise BenefitsError(f"证书编号 {number} 已登记", f"certificate number {number} is already recorded", "number")
    before = None
    if replaces is not None:
        if replaces.ended_at is not None:
            raise BenefitsError("该证书记录已被更正或撤销", "this certificate record was already corrected or withdrawn", "replaces")
        before = _certificate_state(replaces)
        replaces.ended_at = timezone.now()
        replaces.end_reason = "corrected"
        replaces.save(update_fields=["ended_at", "end_reason"])
    cert = FamilyCertificate.objects.create(
        holder=holder, number=number, issued_date=issued_date, child=child, unit_code=_unit_of(holder),
        recorded_by_name=actor.name, replaces=replaces,
    )
    audit(actor, AuditAction.BENEFITS_RECORD_CERTIFICATE, cert, unit_code=cert.unit_code, before=before,
          after=_certificate_state(cert))
    return cert


@transaction.atomic
def do_end_certificate(actor: Actor, cert: FamilyCertificate, *, reason: str) -> FamilyCertificate:
    actor.require(Permission.RECORD_FAMILY_FACTS, cert.unit_code)
    reason = _text(reason, "reason", "撤销原因", "reason")
    cert = FamilyCertificate.objects.select_for_update().get(pk=cert.pk)
    if cert.ended_at is not None:
        raise BenefitsError("该证书记录已撤销", "this certificate record is already withdrawn", "reason")
    cert.ended_at = timezone.now()
    cert.end_reason = reason
    cert.save(update_fields=["ended_at", "end_reason"])
    audit(actor, AuditAction.BENEFITS_END_CERTIFICATE, cert, unit_code=cert.unit_code,
          before=_certificate_state(cert), after=None, detail={"reason": reason})
    return cert


@transaction.atomic
def do_record_disability(
    actor: Actor, person: Person, *, grade: int | str, recorded_date: date, replaces: DisabilityRecord | None = None,
) -> DisabilityRecord:
    """Record a disability grade (1 = most severe .. 4); a correction closes the old record."""
    actor.require(Permission.RECORD_FAMILY_FACTS, _unit_of(person))
    try:
        level = int(grade)
    except (TypeError, ValueError):
        level = 0
    if level not in (1, 2, 3, 4):
        raise BenefitsError("残疾等级应为 1 到 4 级", "the disability grade must be 1, 2, 3 or 4", "grade")
    if recorded_date > timezone.localdate():
        raise BenefitsError("评定日期不能晚于今天", "the date cannot be in the future", "recorded_date")
    before = None
    if replaces is not None:
        if replaces.ended_at is not None:
            raise BenefitsError("该残疾记录已被更正或撤销", "this disability record was already corrected or withdrawn", "replaces")
        before = {"person": replaces.person_id, "grade": replaces.grade, "recorded_date": replaces.recorded_date.isoformat()}
        replaces.ended_at = timezone.now()
        replaces.end_reason = "corrected"
        replaces.save(update_fields=["ended_at", "end_reason"])
    rec = DisabilityRecord.objects.create(person=person, grade=level, recorded_date=recorded_date,
                                          unit_code=_unit_of(person), recorded_by_name=actor.name, replaces=replaces)
    audit(actor, AuditAction.BENEFITS_RECORD_DISABILITY, rec, unit_code=rec.unit_code, before=before,
          after={"person": person.pk, "grade": level, "recorded_date": recorded_date.isoformat()})
    return rec


@transaction.atomic
def do_end_disability(actor: Actor, rec: DisabilityRecord, *, reason: str) -> DisabilityRecord:
    actor.require(Permission.RECORD_FAMILY_FACTS, rec.unit_code)
    reason = _text(reason, "reason", "撤销原因", "reason")
    rec = DisabilityRecord.objects.select_for_update().get(pk=rec.pk)
    if rec.ended_at is not None:
        raise BenefitsError("该残疾记录已撤销", "this disability record is already withdrawn", "reason")
    rec.ended_at = timezone.now()
    rec.end_reason = reason
    rec.save(update_fields=["ended_at", "end_reason"])
    audit(actor, AuditAction.BENEFITS_END_DISABILITY, rec, unit_code=rec.unit_code,
          before={"person": rec.person_id, "grade": rec.grade}, after=None, detail={"reason": reason})
    return rec


@transaction.atomic
def do_record_account(actor: Actor, person: Person, *, account: str, bank: str = "") -> PayeeAccount:
    """The bank account a payee is paid into; the previous one is closed."""
    actor.require(Permission.RECORD_FAMILY_FACTS, _unit_of(person))
    number = "".join((account or "").split())
    if not (number.isdigit() and 8 <= len(number) <= 30):
        raise BenefitsError("银行账号应为 8 到 30 位数字", "the bank account must be 8 to 30 digits", "account")
    old = PayeeAccount.objects.filter(person=person, ended_at__isnull=True).first()
    if old is not None:
        old.ended_at = timezone.now()
        old.save(update_fields=["ended_at"])
    acc = PayeeAccount.objects.create(person=person, account=number, bank=(bank or "").strip()[:60],
                                      unit_code=_unit_of(person), recorded_by_name=actor.name)
    audit(actor, AuditAction.BENEFITS_RECORD_ACCOUNT, acc, unit_code=acc.unit_code,
          before={"account": old.account[-4:]} if old else None, after={"account_last4": number[-4:], "bank": acc.bank})
    return acc


# ------------------------------------------------------------------ eligibility runs


@dataclass(frozen=True)
class DecisionRow:
    """One person's outcome as the engine gave it (see :mod:`popreg.benefits.runs`)."""

    person_id: int
    payee_person_id: int | None
    eligible: bool
    amount_yuan: Decimal
    reasons: str
    conditions: Mapping[str, str]


def _previous_run(programme: str, month: date, unit_code: str) -> EligibilityRun | None:
    """The latest run of the programme over the same unit for an earlier month (or, failing
    that, an earlier run of the same month)."""
    qs = EligibilityRun.objects.filter(programme=programme, unit_id=unit_code)
    return (qs.filter(month__lt=month).order_by("-month", "-id").first()
            or qs.filter(month=month).order_by("-id").first())


@transaction.atomic
def do_record_run(
    actor: Actor, *, programme: str, month: date, unit_code: str, rules_version: str, snapshot_sha256: str,
    conditions: Sequence[str], rows: Iterable[DecisionRow], units: Mapping[int, str], family_sha256: str = "",
) -> EligibilityRun:
    """Store a run and its decisions, with new / continuing / ended against the last run.

    ``units`` gives each person's registered unit (for the disclosure lists by village);
    persons outside ``unit_code`` are left out."""
    actor.require(Permission.PREPARE_BENEFITS, unit_code)
    unit = AdminUnit.objects.filter(code=unit_code).first()
    if unit is None:
        raise BenefitsError(f"单位 {unit_code} 不存在", f"unit {unit_code} does not exist", "unit")
    month = first_of_month(month)
    previous = _previous_run(programme, month, unit_code)
    before: set[int] = set()
    if previous is not None:
        before = set(previous.decisions.filter(eligible=True).values_list("person_id", flat=True))
    run = EligibilityRun.objects.create(
        programme=programme, month=month, unit=unit, rules_version=rules_version,
        snapshot_sha256=snapshot_sha256, family_sha256=family_sha256, prepared_by=_user(actor),
        prepared_by_name=actor.name, previous=previous, conditions=list(conditions),
    )
    prefix = unit.prefix
    decisions: list[Decision] = []
    seen: set[int] = set()
    for r in rows:
        code = units.get(r.person_id, "")
        if not code.startswith(prefix):
            continue
        seen.add(r.person_id)
        if r.eligible:
            change = Change.CONTINUING if r.person_id in before else Change.NEW
        else:
            change = Change.ENDED if r.person_id in before else Change.NONE
        decisions.append(Decision(
            run=run, person_id=r.person_id, payee_id=r.payee_person_id, unit_code=code, eligible=r.eligible,
            amount_yuan=r.amount_yuan if r.eligible else Decimal("0"), reasons=r.reasons,
            conditions=dict(r.conditions), change=change,
        ))
    # Persons on the last list whom the engine no longer considers at all (merged, gone).
    gone = before - seen
    if gone:
        for pid, code in Person.objects.filter(pk__in=gone).values_list("pk", "registered_unit_id"):
            decisions.append(Decision(run=run, person_id=pid, unit_code=code or "", eligible=False,
                                      reasons="no longer in the registry's population / 已不在登记人口中",
                                      change=Change.ENDED))
    # Applications granted for this programme and an earlier or the same month keep their
    # person on the list while the engine does not find them.
    granted = Application.objects.filter(programme=programme, month__lte=month, status=ApplicationStatus.GRANTED,
                                         unit_code__startswith=prefix)
    auto = {d.person_id: d for d in decisions}
    for app in granted.select_related("person"):
        if app.person.status != Status.ACTIVE:
            continue
        d = auto.get(app.person_id)
        if d is not None and d.eligible:
            continue
        change = Change.CONTINUING if app.person_id in before else Change.NEW
        if d is None:
            d = Decision(run=run, person_id=app.person_id, unit_code=app.unit_code, conditions={})
            decisions.append(d)
        d.eligible, d.payee_id, d.amount_yuan = True, app.payee_id, app.amount_yuan
        d.source, d.change = DecisionSource.APPLICATION, change
        d.reasons = f"application {app.pk} granted: {app.decision_reason}"
    Decision.objects.bulk_create(decisions, batch_size=2000)
    eligible = [d for d in decisions if d.eligible]
    run.considered = len(decisions)
    run.eligible_count = len(eligible)
    run.total_yuan = sum((d.amount_yuan for d in eligible), Decimal("0"))
    run.new_count = sum(d.change == Change.NEW for d in decisions)
    run.continuing_count = sum(d.change == Change.CONTINUING for d in decisions)
    run.ended_count = sum(d.change == Change.ENDED for d in decisions)
    run.save()
    audit(actor, AuditAction.BENEFITS_RUN, run, unit_code=unit_code, after={
        "programme": programme, "month": month_label(month), "rules_version": rules_version,
        "snapshot_sha256": snapshot_sha256, "family_sha256": family_sha256, "considered": run.considered, "eligible": run.eligible_count,
        "total_yuan": str(run.total_yuan), "new": run.new_count, "continuing": run.continuing_count,
        "ended": run.ended_count, "previous_run": previous.pk if previous else None,
    })
    return run


# ------------------------------------------------------------------ applications


@transaction.atomic
def do_submit_application(
    actor: Actor, *, programme: str, month: date, person: Person, evidence: str, amount_yuan: Any,
    payee: Person | None = None,
) -> Application:
    """An application by a person the rules did not find, with its evidence."""
    actor.require(Permission.PREPARE_BENEFITS, _unit_of(person))
    evidence = _text(evidence, "evidence", "证明材料说明", "evidence", 2000)
    amount = _money(amount_yuan, "amount_yuan")
    if person.status != Status.ACTIVE:
        raise BenefitsError(f"{person.name} 的户口状态不是正常，不能申请", f"{person.name} is not an active registry record",
                            "person")
    app = Application.objects.create(programme=programme, month=first_of_month(month), person=person, payee=payee,
                                     unit_code=_unit_of(person), amount_yuan=amount, evidence=evidence,
                                     submitted_by_name=actor.name)
    audit(actor, AuditAction.BENEFITS_APPLY, app, unit_code=app.unit_code,
          after={"programme": programme, "month": month_label(app.month), "person": person.pk,
                 "amount_yuan": str(amount), "evidence": evidence})
    return app


@transaction.atomic
def do_decide_application(actor: Actor, app: Application, *, grant: bool, reason: str) -> Application:
    """Grant or refuse; a granted application joins the next run of its programme (and the
    latest run of its month while that run is not yet approved)."""
    actor.require(Permission.APPROVE_BENEFITS, app.unit_code)
    reason = _text(reason, "reason", "审核意见", "reason for the decision")
    app = Application.objects.select_for_update().get(pk=app.pk)
    if app.status != ApplicationStatus.PENDING:
        raise BenefitsError("该申请已审核", "this application was already decided", "grant")
    if app.submitted_by_name == actor.name:
        raise BenefitsError("登记申请的人不能审核同一申请", "the one who recorded an application cannot decide it", "grant")
    app.status = ApplicationStatus.GRANTED if grant else ApplicationStatus.REFUSED
    app.decided_by_name, app.decided_at, app.decision_reason = actor.name, timezone.now(), reason
    app.save()
    added_to = None
    if grant:
        run = (EligibilityRun.objects.filter(programme=app.programme, month=app.month,
                                             status__in=[RunStatus.PREPARED, RunStatus.DISCLOSING])
               .order_by("-id").first())
        if run is not None and run.unit.contains(app.unit_code):
            d = run.decisions.filter(person=app.person).first()
            if d is None or not d.eligible:
                d = d or Decision(run=run, person=app.person, unit_code=app.unit_code, conditions={})
                d.eligible, d.payee_id, d.amount_yuan = True, app.payee_id, app.amount_yuan
                d.source, d.change = DecisionSource.APPLICATION, Change.NEW
                d.reasons = f"application {app.pk} granted: {reason}"
                d.save()
                _refresh_totals(run)
                added_to = run.pk
    audit(actor, AuditAction.BENEFITS_DECIDE_APPLICATION, app, unit_code=app.unit_code,
          before={"status": ApplicationStatus.PENDING}, after={"status": app.status, "reason": reason},
          detail={"added_to_run": added_to})
    return app


def _refresh_totals(run: EligibilityRun) -> None:
    qs = run.decisions.filter(eligible=True)
    run.eligible_count = qs.count()
    run.total_yuan = qs.aggregate(t=Sum("amount_yuan"))["t"] or Decimal("0")
    run.new_count = run.decisions.filter(change=Change.NEW, eligible=True).count()
    run.save(update_fields=["eligible_count", "total_yuan", "new_count"])


# ------------------------------------------------------------------ disclosure


def current_disclosure(run: EligibilityRun) -> Disclosure | None:
    return run.disclosures.order_by("-id").first()


@transaction.atomic
def do_publish(
    actor: Actor, run: EligibilityRun, *, level: str, starts_on: date | None = None, ends_on: date | None = None,
) -> Disclosure:
    """Publish the run's list at the next level (village, then township, then county)."""
    actor.require(Permission.PREPARE_BENEFITS, run.unit_id)
    run = EligibilityRun.objects.select_for_update().get(pk=run.pk)
    done = list(run.disclosures.order_by("id"))
    if level not in LEVEL_ORDER:
        raise BenefitsError("公示层级应为村、乡镇或县", "the level must be village, township or county", "level")
    expected = LEVEL_ORDER[len(done)] if len(done) < len(LEVEL_ORDER) else None
    if expected is None:
        raise BenefitsError("三级公示均已发布", "all three levels were already published", "level")
    if done and done[-1].closed_at is None:
        raise BenefitsError("上一级公示尚未结束，不能发布下一级", "the previous level is still open: close it first", "level")
    if level != expected:
        raise BenefitsError(f"应先在{chinese_label(DisclosureLevel(expected))}公示", f"publish at {expected} level first",
                            "level")
    if run.status not in (RunStatus.PREPARED, RunStatus.DISCLOSING):
        raise BenefitsError("该批次已审批，不能再公示", "this run is already approved", "level")
    starts_on = starts_on or timezone.localdate()
    ends_on = ends_on or starts_on + timedelta(days=DEFAULT_WINDOW_DAYS)
    if ends_on <= starts_on:
        raise BenefitsError("公示结束日期应晚于开始日期", "the end of the window must be after its start", "ends_on")
    if done and starts_on < done[-1].ends_on:
        raise BenefitsError(f"本级公示不能早于上一级公示期结束（{done[-1].ends_on:%Y-%m-%d}）",
                            f"this level cannot start before the previous level's window ended ({done[-1].ends_on:%Y-%m-%d})",
                            "starts_on")
    disc = Disclosure.objects.create(run=run, level=level, starts_on=starts_on, ends_on=ends_on,
                                     published_by_name=actor.name)
    run.status = RunStatus.DISCLOSING
    run.save(update_fields=["status"])
    audit(actor, AuditAction.BENEFITS_PUBLISH, disc, unit_code=run.unit_id,
          after={"run": run.pk, "level": level, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                 "listed": run.eligible_count})
    return disc


@transaction.atomic
def do_close_disclosure(actor: Actor, disclosure: Disclosure, *, today: date | None = None) -> Disclosure:
    """Close a level once its window has ended and every objection is resolved."""
    actor.require(Permission.PREPARE_BENEFITS, disclosure.run.unit_id)
    disclosure = Disclosure.objects.select_for_update().select_related("run").get(pk=disclosure.pk)
    today = today or timezone.localdate()
    if disclosure.closed_at is not None:
        raise BenefitsError("本级公示已结束", "this level is already closed", "level")
    if today < disclosure.ends_on:
        raise BenefitsError(f"异议期至 {disclosure.ends_on:%Y-%m-%d} 结束，之前不能结束公示",
                            f"the objection window runs until {disclosure.ends_on:%Y-%m-%d}; close it after that",
                            "ends_on")
    open_n = disclosure.objections.filter(status=ObjectionStatus.OPEN).count()
    if open_n:
        raise BenefitsError(f"还有 {open_n} 条异议未处理，处理后才能结束公示",
                            f"{open_n} objection(s) are still open: resolve them before closing", "objections")
    disclosure.closed_at, disclosure.closed_by_name = timezone.now(), actor.name
    disclosure.save(update_fields=["closed_at", "closed_by_name"])
    run = disclosure.run
    if disclosure.level == "county":
        run.status = RunStatus.DISCLOSED
        run.save(update_fields=["status"])
    audit(actor, AuditAction.BENEFITS_CLOSE_DISCLOSURE, disclosure, unit_code=run.unit_id,
          before={"closed": False}, after={"closed": True, "level": disclosure.level, "run": run.pk})
    return disclosure


@transaction.atomic
def do_raise_objection(
    actor: Actor, disclosure: Disclosure, decision: Decision, *, objector: str, what: str, evidence: str = "",
    contact: str = "",
) -> Objection:
    """Record an objection to a listed person while the level is open."""
    actor.require(Permission.PREPARE_BENEFITS, decision.unit_code)
    if disclosure.closed_at is not None:
        raise BenefitsError("本级公示已结束，不能再登记异议", "this level is closed; objections can no longer be recorded",
                            "disclosure")
    if decision.run_id != disclosure.run_id or not decision.eligible:
        raise BenefitsError("异议对象不在本次公示名单上", "the person objected to is not on this list", "decision")
    obj = Objection.objects.create(
        disclosure=disclosure, decision=decision, objector=_text(objector, "objector", "异议人", "objector's name", 100),
        contact=(contact or "").strip()[:100], what=_text(what, "what", "异议内容", "objection", 2000),
        evidence=(evidence or "").strip()[:2000], recorded_by_name=actor.name,
    )
    audit(actor, AuditAction.BENEFITS_RAISE_OBJECTION, obj, unit_code=decision.unit_code,
          after={"disclosure": disclosure.pk, "level": disclosure.level, "decision": decision.pk,
                 "person": decision.person_id, "objector": obj.objector, "what": obj.what, "evidence": obj.evidence})
    return obj


@transaction.atomic
def do_resolve_objection(actor: Actor, objection: Objection, *, uphold: bool, reason: str) -> Objection:
    """Uphold (the person leaves the list) or dismiss an objection, with the reason."""
    objection = Objection.objects.select_for_update().select_related("decision", "disclosure").get(pk=objection.pk)
    decision = objection.decision
    actor.require(Permission.PREPARE_BENEFITS, decision.unit_code)
    reason = _text(reason, "reason", "处理意见", "reason for the decision")
    if objection.status != ObjectionStatus.OPEN:
        raise BenefitsError("该异议已处理", "this objection was already resolved", "status")
    objection.status = ObjectionStatus.UPHELD if uphold else ObjectionStatus.DISMISSED
    objection.resolution, objection.resolved_by_name, objection.resolved_at = reason, actor.name, timezone.now()
    objection.save()
    if uphold:
        decision.eligible = False
        decision.withdrawn_reason = f"objection {objection.pk} upheld: {reason}"[:300]
        decision.save(update_fields=["eligible", "withdrawn_reason"])
        _refresh_totals(decision.run)
    audit(actor, AuditAction.BENEFITS_RESOLVE_OBJECTION, objection, unit_code=decision.unit_code,
          before={"status": ObjectionStatus.OPEN, "eligible": True},
          after={"status": objection.status, "eligible": decision.eligible, "reason": reason})
    return objection


# ------------------------------------------------------------------ approval


def county_level_closed(run: EligibilityRun) -> bool:
    return run.disclosures.filter(level="county", closed_at__isnull=False).exists()


@transaction.atomic
def do_approve_run(actor: Actor, run: EligibilityRun) -> EligibilityRun:
    """Approve a run after its county-level disclosure closed; not by the one who prepared it."""
    actor.require(Permission.APPROVE_BENEFITS, run.unit_id)
    run = EligibilityRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.APPROVED or run.approved_at is not None:
        raise BenefitsError("该批次已审批", "this run is already approved", "run")
    same = (run.prepared_by_id is not None and run.prepared_by_id == actor.user_id) or run.prepared_by_name == actor.name
    if same:
        raise BenefitsError("核定人不能审批自己核定的批次（双人审核）",
                            "the one who prepared a run cannot approve it (four eyes)", "run")
    if not county_level_closed(run):
        raise BenefitsError("县级公示结束后才能审批", "the county-level disclosure must be closed before approval", "run")
    run.status, run.approved_by, run.approved_by_name, run.approved_at = (
        RunStatus.APPROVED, _user(actor), actor.name, timezone.now())
    run.save()
    audit(actor, AuditAction.BENEFITS_APPROVE_RUN, run, unit_code=run.unit_id, before={"status": "disclosed"},
          after={"status": RunStatus.APPROVED, "eligible": run.eligible_count, "total_yuan": str(run.total_yuan)})
    return run


# ------------------------------------------------------------------ payments


def stop_date(person: Person) -> date | None:
    """The date a person left the population (death, move out, deregistration), if any."""
    if person.status == Status.ACTIVE:
        return None
    if person.death_date is not None:
        return person.death_date
    from popreg.registry.models import Event, EventType

    kinds = [EventType.DEATH, EventType.MOVE_OUT, EventType.ENLISTMENT, EventType.CORRECTION, EventType.MERGE]
    ev = Event.objects.filter(person=person, event_type__in=kinds).order_by("-id").first()
    return ev.event_date if ev is not None else timezone.localtime(person.updated_at).date()


def _batch_no(programme: str, month: date, n: int) -> str:
    """``CS-202510-0001``: the programme's initials, the month, the programme's batch count."""
    initials = "".join(w[:1] for w in programme.split("_")).upper() or "B"
    return f"{initials}-{month:%Y%m}-{n:04d}"


def _other_parent(person: Person, gone: Person, month: date) -> Person | None:
    """The other parent of ``person`` when the payee ``gone`` left the population before
    ``month`` (a guardian's benefit paid to the mother goes to the father)."""
    for pid in (person.mother_id, person.father_id):
        if pid is None or pid == gone.pk:
            continue
        parent = Person.objects.filter(pk=pid).first()
        if parent is None:
            continue
        left = stop_date(parent)
        if left is None or left >= month:
            return parent
    return None


def payable_runs(programme: str, month: date) -> list[EligibilityRun]:
    """The approved runs a month's payment file is made from: the latest approved run of
    each unit, units inside another listed unit left out."""
    runs: dict[str, EligibilityRun] = {}
    for r in EligibilityRun.objects.filter(programme=programme, month=month, status__in=[RunStatus.APPROVED, RunStatus.PAID]) \
            .select_related("unit").order_by("-id"):
        runs.setdefault(r.unit_id, r)
    chosen = list(runs.values())
    return [r for r in chosen if not any(o is not r and o.unit.contains(r.unit_id) and len(o.unit.prefix) < len(r.unit.prefix)
                                         for o in chosen)]


@transaction.atomic
def do_make_payment_batch(actor: Actor, *, programme: str, month: date) -> PaymentBatch:
    """The payment batch of a month: every eligible decision of the approved runs, except a
    person who (by the registry as it is now) left the population before the month began,
    or who is already paid or due for that month."""
    actor.require(Permission.MANAGE_PAYMENTS)
    month = first_of_month(month)
    runs = payable_runs(programme, month)
    if not runs:
        raise BenefitsError(f"{month_label(month)} 没有已审批的批次：县级公示结束并审批后才能发放",
                            f"no approved run for {month_label(month)}: close the county-level disclosure and approve first",
                            "month")
    if PaymentBatch.objects.filter(programme=programme, month=month, resubmission_of__isnull=True).exists():
        raise BenefitsError(f"{month_label(month)} 的发放文件已生成；失败款项请重新发放",
                            f"the payment file of {month_label(month)} exists; resubmit failures instead", "month")
    n = PaymentBatch.objects.filter(programme=programme).count() + 1
    batch = PaymentBatch.objects.create(programme=programme, month=month, run=runs[0],
                                        batch_no=_batch_no(programme, month, n),
                                        created_by_name=actor.name)
    already = set(PaymentLine.objects.filter(batch__programme=programme, batch__month=month)
                  .exclude(status=LineStatus.FAILED).values_list("person_id", flat=True))
    lines: list[PaymentLine] = []
    skipped: list[dict[str, Any]] = []
    accounts = dict(PayeeAccount.objects.filter(ended_at__isnull=True).values_list("person_id", "account"))
    for run in runs:
        for d in run.decisions.filter(eligible=True).select_related("person", "payee").order_by("id"):
            if d.person_id in already:
                continue
            stop = stop_date(d.person)
            payee = d.payee or d.person
            payee_stop = stop_date(payee) if payee.pk != d.person_id else stop
            if stop is not None and stop < month:
                skipped.append({"person": d.person_id, "reason": "left the population", "date": stop.isoformat()})
                continue
            if payee_stop is not None and payee_stop < month:
                other = _other_parent(d.person, payee, month)
                if other is None:
                    skipped.append({"person": d.person_id, "reason": "payee left the population",
                                    "date": payee_stop.isoformat()})
                    continue
                payee = other  # the child's other parent, still in the registry, is paid instead
            already.add(d.person_id)
            lines.append(PaymentLine(
                batch=batch, payment_id=f"{batch.batch_no}-{len(lines) + 1:06d}", decision=d, person=d.person,
                payee=payee, payee_name=payee.name, payee_id_number=payee.id_number or "",
                account=accounts.get(payee.pk, ""), amount_yuan=d.amount_yuan, unit_code=d.unit_code,
            ))
    PaymentLine.objects.bulk_create(lines, batch_size=2000)
    batch.line_count = len(lines)
    batch.total_yuan = sum((ln.amount_yuan for ln in lines), Decimal("0"))
    batch.save(update_fields=["line_count", "total_yuan"])
    for run in runs:
        if run.status != RunStatus.PAID:
            run.status = RunStatus.PAID
            run.save(update_fields=["status"])
    audit(actor, AuditAction.BENEFITS_PAYMENT_FILE, batch, after={
        "programme": programme, "month": month_label(month), "batch": batch.batch_no, "lines": batch.line_count,
        "total_yuan": str(batch.total_yuan), "runs": [r.pk for r in runs],
        "without_account": sum(1 for ln in lines if not ln.account),
    }, detail={"skipped": skipped[:200], "skipped_count": len(skipped)})
    return batch


@dataclass(frozen=True)
class ReturnRow:
    """One line of the bank's return file."""

    row: int  # line number in the file, for messages
    payment_id: str
    status: str  # paid | failed
    reason: str = ""
    paid_on: date | None = None


@transaction.atomic
def do_import_return(actor: Actor, batch: PaymentBatch, rows: Sequence[ReturnRow]) -> dict[str, Any]:
    """Mark each line paid or failed (with the bank's reason); every line of the batch must
    appear once, and no line of another batch."""
    actor.require(Permission.MANAGE_PAYMENTS)
    lines = {ln.payment_id: ln for ln in batch.lines.select_for_update()}
    seen: set[str] = set()
    for r in rows:
        if r.payment_id not in lines:
            raise BenefitsError(f"第 {r.row} 行：支付编号 {r.payment_id} 不属于批次 {batch.batch_no}",
                                f"row {r.row}: payment id {r.payment_id} is not in batch {batch.batch_no}", "payment_id")
        if r.payment_id in seen:
            raise BenefitsError(f"第 {r.row} 行：支付编号 {r.payment_id} 重复", f"row {r.row}: payment id {r.payment_id} appears twice",
                                "payment_id")
        if r.status not in ("paid", "failed"):
            raise BenefitsError(f"第 {r.row} 行：状态应为 paid（成功）或 failed（失败）",
                                f"row {r.row}: the status must be paid or failed", "status")
        if r.status == "failed" and not r.reason.strip():
            raise BenefitsError(f"第 {r.row} 行：失败的款项须写明原因", f"row {r.row}: a failed payment needs its reason", "reason")
        seen.add(r.payment_id)
    missing = sorted(set(lines) - seen)
    if missing:
        raise BenefitsError(f"回盘文件缺少 {len(missing)} 笔，例如 {missing[0]}",
                            f"the return file lacks {len(missing)} payment(s), e.g. {missing[0]}", "payment_id")
    changed = []
    for r in rows:
        ln = lines[r.payment_id]
        if ln.status != LineStatus.SENT:
            raise BenefitsError(f"第 {r.row} 行：支付编号 {r.payment_id} 已有回盘结果",
                                f"row {r.row}: payment {r.payment_id} already has a result", "payment_id")
        ln.status = LineStatus.PAID if r.status == "paid" else LineStatus.FAILED
        ln.failure_reason = r.reason.strip()[:200] if r.status == "failed" else ""
        ln.paid_on = r.paid_on if r.status == "paid" else None
        changed.append(ln)
    PaymentLine.objects.bulk_update(changed, ["status", "failure_reason", "paid_on"])
    batch.return_imported_at = timezone.now()
    batch.save(update_fields=["return_imported_at"])
    summary = reconcile_batch(batch)
    audit(actor, AuditAction.BENEFITS_IMPORT_RETURN, batch, after=summary,
          detail={"failed": [{"payment_id": ln.payment_id, "reason": ln.failure_reason}
                             for ln in changed if ln.status == LineStatus.FAILED][:200]})
    return summary


def reconcile_batch(batch: PaymentBatch) -> dict[str, Any]:
    """Due against paid for one batch."""
    qs = batch.lines.all()

    def total(q: Q) -> str:
        return f"{Decimal(qs.filter(q).aggregate(t=Sum('amount_yuan'))['t'] or 0):.2f}"

    return {
        "batch": batch.batch_no, "due_count": qs.count(), "due_yuan": total(Q()),
        "paid_count": qs.filter(status=LineStatus.PAID).count(), "paid_yuan": total(Q(status=LineStatus.PAID)),
        "failed_count": qs.filter(status__in=[LineStatus.FAILED, LineStatus.RESUBMITTED]).count(),
        "failed_yuan": total(Q(status__in=[LineStatus.FAILED, LineStatus.RESUBMITTED])),
        "pending_count": qs.filter(status=LineStatus.SENT).count(),
    }


@transaction.atomic
def do_resubmit_failures(actor: Actor, batch: PaymentBatch) -> PaymentBatch:
    """A new batch with the failed lines of ``batch`` (with the payee's current account)."""
    actor.require(Permission.MANAGE_PAYMENTS)
    failed = list(batch.lines.select_for_update().filter(status=LineStatus.FAILED))
    if not failed:
        raise BenefitsError("该批次没有失败的款项", "this batch has no failed payments", "batch")
    accounts = dict(PayeeAccount.objects.filter(ended_at__isnull=True).values_list("person_id", "account"))
    n = PaymentBatch.objects.filter(programme=batch.programme).count() + 1
    new = PaymentBatch.objects.create(programme=batch.programme, month=batch.month, run=batch.run,
                                      batch_no=_batch_no(batch.programme, batch.month, n),
                                      resubmission_of=batch, created_by_name=actor.name)
    lines = []
    for i, ln in enumerate(failed, start=1):
        lines.append(PaymentLine(
            batch=new, payment_id=f"{new.batch_no}-{i:06d}", decision_id=ln.decision_id, person_id=ln.person_id,
            payee_id=ln.payee_id, payee_name=ln.payee_name, payee_id_number=ln.payee_id_number,
            account=accounts.get(ln.payee_id, ln.account), amount_yuan=ln.amount_yuan, unit_code=ln.unit_code,
        ))
        ln.status = LineStatus.RESUBMITTED
    PaymentLine.objects.bulk_create(lines)
    PaymentLine.objects.bulk_update(failed, ["status"])
    new.line_count = len(lines)
    new.total_yuan = sum((ln.amount_yuan for ln in lines), Decimal("0"))
    new.save(update_fields=["line_count", "total_yuan"])
    audit(actor, AuditAction.BENEFITS_RESUBMIT, new, after={"batch": new.batch_no, "of": batch.batch_no,
                                                            "lines": new.line_count, "total_yuan": str(new.total_yuan)})
    return new


# ------------------------------------------------------------------ arrears and overpayments


@dataclass(frozen=True)
class RecoveryRow:
    kind: str  # arrears | overpayment
    person_id: int
    payee_person_id: int | None
    month: date
    amount_yuan: Decimal
    reason: str
    unit_code: str
    line_id: int | None = None


@transaction.atomic
def do_list_recoveries(actor: Actor, *, programme: str, run: EligibilityRun | None,
                       rows: Sequence[RecoveryRow]) -> list[Recovery]:
    """List arrears and overpayments found by a run (one per person and month; a row
    already listed is left as it is)."""
    actor.require(Permission.PREPARE_BENEFITS, run.unit_id if run is not None else None)
    made: list[Recovery] = []
    for r in rows:
        if r.kind not in (RecoveryKind.ARREARS, RecoveryKind.OVERPAYMENT):
            raise ValueError(f"unknown recovery kind {r.kind!r}")
        rec, created = Recovery.objects.get_or_create(
            programme=programme, kind=r.kind, person_id=r.person_id, month=first_of_month(r.month),
            defaults={"payee_id": r.payee_person_id, "amount_yuan": r.amount_yuan, "reason": r.reason[:300],
                      "unit_code": r.unit_code, "found_in_run": run, "line_id": r.line_id},
        )
        if created:
            made.append(rec)
    if made:
        audit(actor, AuditAction.BENEFITS_RECORD_RECOVERY, run, unit_code=run.unit_id if run else "", after={
            "programme": programme, "listed": len(made),
            "arrears_yuan": str(sum((m.amount_yuan for m in made if m.kind == RecoveryKind.ARREARS), Decimal("0"))),
            "overpayment_yuan": str(sum((m.amount_yuan for m in made if m.kind == RecoveryKind.OVERPAYMENT), Decimal("0"))),
        }, detail={"items": [{"kind": m.kind, "person": m.person_id, "month": month_label(m.month),
                              "amount_yuan": str(m.amount_yuan)} for m in made[:200]]})
    return made


@transaction.atomic
def do_settle_recovery(actor: Actor, recovery: Recovery, *, note: str) -> Recovery:
    actor.require(Permission.MANAGE_PAYMENTS)
    note = _text(note, "note", "办结说明", "note on how it was settled")
    recovery = Recovery.objects.select_for_update().get(pk=recovery.pk)
    if recovery.status != RecoveryStatus.OPEN:
        raise BenefitsError("该款项已办结", "this item is already settled", "note")
    recovery.status, recovery.settled_note = RecoveryStatus.SETTLED, note
    recovery.save(update_fields=["status", "settled_note"])
    audit(actor, AuditAction.BENEFITS_SETTLE_RECOVERY, recovery, unit_code=recovery.unit_code,
          before={"status": RecoveryStatus.OPEN}, after={"status": RecoveryStatus.SETTLED, "note": note})
    return recovery
