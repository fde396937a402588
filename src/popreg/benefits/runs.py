"""Eligibility runs over the live registry, and the family facts the rules read.

:func:`run_live` writes the registry as it stands now to a throw-away snapshot (as the
reconciliation job does), evaluates the programme for the month with the rule engine
(:func:`popreg.benefits.evaluate.evaluate_programme`), and records the run: its rules
version, the snapshot's checksum, every decision with the outcome of each condition, and
new / continuing / ended against the last run (:func:`popreg.benefits.actions.do_record_run`).

The same snapshot is then used to look back over the months already paid: a month paid
to a person the rules now find not eligible (a death or a move out registered late, a
condition lost) is an **overpayment** to recover; a month the rules now find eligible but
nobody was paid (a birth registered late) is **arrears**.  Both are listed with
:func:`~popreg.benefits.actions.do_list_recoveries`; the arithmetic is
:mod:`popreg.core.entitlements`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from popreg.benefits import actions
from popreg.benefits.facts import CERTIFICATE_COLUMNS, DISABILITY_COLUMNS, FamilyFacts
from popreg.benefits.models import (
    Decision,
    DisabilityRecord,
    EligibilityRun,
    FamilyCertificate,
    LineStatus,
    PaymentLine,
)
from popreg.core.eligibility import RuleError
from popreg.registry import jobs as runner
from popreg.registry.access import Actor, system_actor
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission

#: Columns of the engine's decision frame that are not conditions.
BASE_COLUMNS = ("person_id", "payee_person_id", "eligible", "amount_yuan", "reasons")


def export_family_facts() -> FamilyFacts:
    """The family facts in force (records not withdrawn or corrected), for the engine."""
    certs = pd.DataFrame(
        list(FamilyCertificate.objects.filter(ended_at__isnull=True).order_by("id")
             .values_list("holder_id", "kind", "number", "issued_date", "child_id")),
        columns=list(CERTIFICATE_COLUMNS),
    )
    certs["person_id"] = certs["person_id"].astype("int64")
    certs["child_person_id"] = certs["child_person_id"].astype("Int64")
    dis = pd.DataFrame(
        list(DisabilityRecord.objects.filter(ended_at__isnull=True).order_by("id")
             .values_list("person_id", "grade", "recorded_date")),
        columns=list(DISABILITY_COLUMNS),
    )
    dis["person_id"] = dis["person_id"].astype("int64")
    dis["grade"] = dis["grade"].astype("int64")
    return FamilyFacts(certificates=certs, disabilities=dis)


def _evaluate(programme: str, month: date, snapshot: Path, family: FamilyFacts) -> Any:
    from popreg.benefits.evaluate import evaluate_programme

    return evaluate_programme(programme, month, snapshot, family)


def condition_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in BASE_COLUMNS]


def _rows(frame: pd.DataFrame) -> list[actions.DecisionRow]:
    conds = condition_columns(frame)
    out = []
    payee = frame["payee_person_id"].astype("Int64")
    cond_values = {c: frame[c].astype(str).to_numpy() for c in conds}
    for i, (pid, elig, amount, reasons) in enumerate(zip(
            frame["person_id"].to_numpy(), frame["eligible"].to_numpy(), frame["amount_yuan"].to_numpy(),
            frame["reasons"].astype(str).to_numpy(), strict=True)):
        p = payee.iloc[i]
        out.append(actions.DecisionRow(
            person_id=int(pid), payee_person_id=None if pd.isna(p) else int(p), eligible=bool(elig),
            amount_yuan=Decimal(str(round(float(amount), 2))) if pd.notna(amount) else Decimal("0"),
            reasons=str(reasons), conditions={c: str(cond_values[c][i]) for c in conds},
        ))
    return out


def _units(snapshot: Path, prefix: str = "") -> dict[int, str]:
    """Each person's unit for the run's lists: the registered unit, or the unit lived in
    when only that lies within ``prefix`` (someone registered elsewhere living here is
    decided too, and listed where they live)."""
    persons = pd.read_parquet(snapshot / "persons.parquet", columns=["person_id", "registered_unit", "residence_unit"])
    reg = persons["registered_unit"].fillna("").astype(str)
    res = persons["residence_unit"].fillna("").astype(str)
    code = reg.where(reg.str.startswith(prefix) | ~res.str.startswith(prefix), res)
    return dict(zip(persons["person_id"].astype(int), code, strict=True))


def run_live(programme: str, month: date, unit_code: str | None = None, actor: Actor | None = None,
             progress: Any = None, applying: Any = None,
             on_recorded: Any = None) -> tuple[EligibilityRun, Any]:
    """Evaluate ``programme`` for ``month`` over the registry as it stands now and record the
    run (over ``unit_code``, default the county), its arrears and overpayments.

    ``progress(done, total, stage, **values)`` reports; ``applying()`` (a job's) wraps the
    writes, which happen in one transaction either way; ``on_recorded(run)`` is called
    inside it."""
    return run_programmes([programme], month, unit_code, actor, progress=progress, applying=applying,
                          on_recorded=on_recorded)[0]


def run_programmes(programmes: list[str], month: date, unit_code: str | None = None, actor: Actor | None = None,
                   progress: Any = None, applying: Any = None,
                   on_recorded: Any = None) -> list[tuple[EligibilityRun, Any]]:
    """:func:`run_live` for several programmes over one snapshot of the registry (written
    once: the longest step), each recorded as its own run."""
    from popreg.registry.snapshot import write_registry_snapshot

    actor = actor or system_actor("benefits")
    month = actions.first_of_month(month)
    if unit_code is None:
        county = AdminUnit.objects.filter(level="county").order_by("code").first()
        if county is None:
            raise actions.BenefitsError("登记库中没有县级单位", "the registry has no county unit", "unit")
        unit_code = county.code
    actor.require(Permission.PREPARE_BENEFITS, unit_code)
    step = progress or (lambda *a, **k: None)
    total = 2 + 2 * len(programmes)
    family = export_family_facts()
    root = store_root()
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".run-", dir=root / "snapshots"))
    results = []
    try:
        step(0, total, "snapshot")
        write_registry_snapshot(tmp)
        snap = tmp
        for i, programme in enumerate(programmes):
            step(1 + i, total, "evaluating", month=actions.month_label(month))
            try:
                results.append(_evaluate(programme, month, snap, family))
            except RuleError as exc:  # e.g. a month before the programme's parameters start
                raise actions.BenefitsError(f"{programme} {actions.month_label(month)}：{exc.zh}",
                                            f"{programme} {actions.month_label(month)}: {exc.en}", "month") from None
        snap = keep_inputs(tmp, family, results[0])
        for result in results[1:]:
            keep_inputs(snap, family, result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    unit = AdminUnit.objects.filter(code=unit_code).first()
    units = _units(snap, unit.prefix if unit is not None else "")
    out = []
    done = 1 + len(programmes)
    with (applying or transaction.atomic)():
        for programme, result in zip(programmes, results, strict=True):
            step(done, total, "recording")
            done += 1
            run = actions.do_record_run(
                actor, programme=programme, month=month, unit_code=unit_code,
                rules_version=str(result.rules_version), snapshot_sha256=str(result.snapshot_sha256),
                family_sha256=str(result.family_sha256), conditions=list(result.condition_ids),
                rows=_rows(result.decisions), units=units,
            )
            back = look_back(programme, run, snap, family)
            actions.do_list_recoveries(actor, programme=programme, run=run, rows=back)
            out.append((run, result))
        step(total, total, "done", eligible=sum(r.eligible_count for r, _ in out),
             considered=sum(r.considered for r, _ in out))
        if on_recorded is not None:
            on_recorded(out[0][0] if len(out) == 1 else None)
    return out


# ------------------------------------------------------------------ reproducing a run


def store_root() -> Path:
    """``$POPREG_HOME/benefits``: the inputs of every run, by checksum."""
    return Path(settings.POPREG_HOME) / "benefits"


def keep_inputs(snapshot: Path, family: FamilyFacts, result: Any) -> Path:
    """Keep what a run read: the snapshot (``snapshots/<sha256 of its manifest>``), the family
    facts (``family/<sha256>/``) and the programme document (``rules/<rules version>.json``);
    identical inputs are stored once.  Returns the kept snapshot's folder."""
    root = store_root()
    target = root / "snapshots" / str(result.snapshot_sha256)
    if not (target / "manifest.json").is_file():
        shutil.rmtree(target, ignore_errors=True)
        snapshot.rename(target)
    fam = root / "family" / str(result.family_sha256)
    if not fam.is_dir():
        tmp = root / "family" / f".{result.family_sha256}-{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        family.certificates.to_parquet(tmp / "certificates.parquet", index=False)
        family.disabilities.to_parquet(tmp / "disabilities.parquet", index=False)
        tmp.rename(fam)
    rules = root / "rules" / f"{result.rules_version}.json"
    if not rules.is_file():
        rules.parent.mkdir(parents=True, exist_ok=True)
        rules.write_text(json.dumps(result.programme.document, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    return target


def reproduce(run: EligibilityRun) -> pd.DataFrame:
    """Evaluate a recorded run again from its kept inputs (same rules version, snapshot and
    family facts): the engine's decisions for the run's month."""
    from popreg.benefits.evaluate import evaluate_facts, family_digest, snapshot_digest
    from popreg.benefits.facts import build_facts
    from popreg.core.eligibility import parse_programme

    root = store_root()
    snap = root / "snapshots" / run.snapshot_sha256
    rules = root / "rules" / f"{run.rules_version}.json"
    fam = root / "family" / run.family_sha256
    if not ((snap / "manifest.json").is_file() and rules.is_file() and fam.is_dir()):
        raise actions.BenefitsError(f"批次 {run.pk} 的输入（快照、家庭信息或规则）已不在存储中",
                                    f"the inputs of run {run.pk} (snapshot, family facts or rules) are no longer stored",
                                    "run")
    family = FamilyFacts(certificates=pd.read_parquet(fam / "certificates.parquet"),
                         disabilities=pd.read_parquet(fam / "disabilities.parquet"))
    if snapshot_digest(snap) != run.snapshot_sha256 or family_digest(family) != run.family_sha256:
        raise actions.BenefitsError(f"批次 {run.pk} 存储的输入已被改动", f"the stored inputs of run {run.pk} were changed", "run")
    programme = parse_programme(json.loads(rules.read_text(encoding="utf-8")))
    if programme.rules_version != run.rules_version:
        raise actions.BenefitsError(f"批次 {run.pk} 存储的规则已被改动", f"the stored rules of run {run.pk} were changed", "run")
    frame, _params = evaluate_facts(programme, run.month, build_facts(snap, family))
    return frame


def differences(run: EligibilityRun, frame: pd.DataFrame) -> list[str]:
    """Where the recorded automatic decisions of ``run`` differ from ``frame`` (empty when
    the run is reproduced exactly).  Decisions changed later by an upheld objection count
    with the engine's original outcome (eligible)."""
    engine = {int(r.person_id): r for r in frame.itertuples(index=False)}
    out = []
    for d in run.decisions.filter(source="auto").exclude(reasons__startswith="no longer in the registry"):
        e = engine.get(d.person_id)
        if e is None:
            out.append(f"person {d.person_id}: not evaluated")
            continue
        eligible = d.eligible or bool(d.withdrawn_reason)
        if bool(e.eligible) != eligible or (eligible and Decimal(str(round(float(e.amount_yuan), 2))) != d.amount_yuan):
            out.append(f"person {d.person_id}: eligible/amount {e.eligible}/{e.amount_yuan} != {eligible}/{d.amount_yuan}")
        for cid, state in d.conditions.items():
            if str(getattr(e, cid)) != state:
                out.append(f"person {d.person_id}: {cid} {getattr(e, cid)} != {state}")
    return out


def look_back(programme: str, run: EligibilityRun, snapshot: Path, family: FamilyFacts) -> list[actions.RecoveryRow]:
    """Arrears and overpayments of the months before ``run.month`` that have payments,
    judged by the rules over today's snapshot."""
    from popreg.core import entitlements

    prefix = run.unit.prefix
    paid = pd.DataFrame(list(
        PaymentLine.objects.filter(batch__programme=programme, batch__month__lt=run.month,
                                   unit_code__startswith=prefix, status__in=[LineStatus.PAID, LineStatus.SENT])
        .values_list("id", "person_id", "payee_id", "batch__month", "amount_yuan", "unit_code")),
        columns=["line_id", "person_id", "payee_person_id", "month", "amount_yuan", "unit_code"])
    if paid.empty:
        return []
    months = sorted(set(paid["month"]))
    units = _units(snapshot, prefix)
    out: list[actions.RecoveryRow] = []
    for m in months:
        frame = _evaluate(programme, m, snapshot, family).decisions
        frame = frame[[units.get(int(p), "").startswith(prefix) for p in frame["person_id"]]]
        due = frame[frame["eligible"].astype(bool)][["person_id", "payee_person_id", "amount_yuan"]]
        got = paid[paid["month"] == m]
        # Arrears only for persons nobody listed that month: a person taken off the list by
        # an upheld objection, or with a line of any state (a failure is resubmitted), is
        # not owed by this look-back.
        handled = set(PaymentLine.objects.filter(batch__programme=programme, batch__month=m)
                      .values_list("person_id", flat=True))
        handled |= set(Decision.objects.filter(run__programme=programme, run__month=m)
                       .exclude(withdrawn_reason="").values_list("person_id", flat=True))
        due = due[~due["person_id"].isin(handled - set(got["person_id"]))]
        diff = entitlements.compare_due_paid(
            due.rename(columns={"amount_yuan": "due_yuan"}),
            got[["person_id", "amount_yuan"]].rename(columns={"amount_yuan": "paid_yuan"}),
        )
        line_of = dict(zip(got["person_id"], got["line_id"], strict=True))
        payee_of = dict(zip(got["person_id"], got["payee_person_id"], strict=True))
        payee_of.update({int(k): v for k, v in zip(due["person_id"], due["payee_person_id"], strict=True)})
        for r in diff.itertuples(index=False):
            pid = int(r.person_id)
            payee = payee_of.get(pid)
            out.append(actions.RecoveryRow(
                kind=str(r.kind), person_id=pid, payee_person_id=None if pd.isna(payee) else int(payee),
                month=m, amount_yuan=Decimal(str(round(float(r.amount_yuan), 2))),
                reason=_reason(str(r.kind), m), unit_code=units.get(pid, ""),
                line_id=int(line_of[pid]) if pid in line_of else None,
            ))
    return out


def _reason(kind: str, month: date) -> str:
    label = actions.month_label(month)
    if kind == "overpayment":
        return f"{label} 已发放，但按现有登记不符合条件（如迟报的死亡、迁出） / paid for {label} but not eligible by the registry as it is now"
    return f"{label} 符合条件但未发放（如迟报的出生） / eligible for {label} by the registry as it is now but not paid"


# ------------------------------------------------------------------ the job


RUN_STAGES: dict[str, str] = {
    "snapshot": gettext_noop("Writing the registry as it is now to a temporary snapshot"),
    "evaluating": gettext_noop("Evaluating the rules for %(month)s"),
    "recording": gettext_noop("Recording every decision and looking back over the months already paid"),
    "done": gettext_noop("%(eligible)s eligible of %(considered)s considered"),
}


def run_eligibility_job(ctx: runner.JobContext) -> None:
    """The ``benefits_eligibility`` job: :func:`run_live` for the page (``programme`` may be
    ``all``: every shipped programme over one snapshot)."""
    from django.urls import reverse

    from popreg.benefits.programmes import CODES

    p = ctx.params
    month = actions.parse_month(p["month"])
    programmes = list(CODES) if p["programme"] == "all" else [p["programme"]]

    def recorded(run: EligibilityRun | None) -> None:
        if run is None:
            ctx.set_result(url=reverse("benefits:index"), data={"programmes": programmes})
        else:
            ctx.set_result(url=reverse("benefits:run", args=[run.pk]),
                           data={"run": run.pk, "eligible": run.eligible_count, "total_yuan": str(run.total_yuan)})

    run_programmes(programmes, month, p.get("unit") or None, ctx.actor, progress=ctx.progress,
                   applying=ctx.applying, on_recorded=recorded)


ELIGIBILITY_JOB = runner.register(runner.JobKind(
    name="benefits_eligibility", label=gettext_noop("Benefit eligibility run"),
    permission=Permission.PREPARE_BENEFITS, handler=run_eligibility_job, stages=RUN_STAGES,
))  # fmt: skip
