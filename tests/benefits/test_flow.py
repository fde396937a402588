"""The benefits flow through its actions: run, disclose, object, approve, pay, return, stop."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from popreg.benefits import actions
from popreg.benefits.models import Change, LineStatus, Recovery
from popreg.benefits.payments import check_payment_file, write_payment_file
from popreg.benefits.runs import export_family_facts, run_live
from popreg.registry.errors import RegistryError
from popreg.registry.models import AuditRecord

from ..conftest import VILLAGE_A1
from .conftest import MONTH, approve_and_pay, pay_all

P = "childcare_subsidy"
pytestmark = pytest.mark.django_db


def test_run_records_decisions_with_reasons(families, officers):
    run, result = run_live(P, MONTH, actor=officers["fuli1"])
    eligible = {d.person_id for d in run.decisions.filter(eligible=True)}
    assert eligible == {families[k]["child"].pk for k in ("a1", "a2", "b1")}
    assert run.total_yuan == Decimal("900.00") and run.new_count == 3
    assert run.rules_version == result.rules_version and len(run.snapshot_sha256) == 64
    d = run.decisions.get(person=families["a1"]["child"])
    assert d.payee_id == families["a1"]["mother"].pk
    assert set(d.conditions) == set(result.condition_ids) and set(d.conditions.values()) == {"passed"}
    old = run.decisions.get(person=families["old"])
    assert not old.eligible and old.conditions["under_age"] == "failed" and "3" in old.reasons
    assert AuditRecord.objects.filter(action="benefits_run", target_id=str(run.pk)).exists()


def test_next_run_marks_continuing_and_ended(families, officers, actors):
    from popreg.registry import actions as registry

    run_live(P, MONTH, actor=officers["fuli1"])
    registry.do_register_death(actors["admin"], families["a2"]["child"], death_date=date(2025, 10, 20))
    run2, _ = run_live(P, date(2025, 11, 1), actor=officers["fuli1"])
    changes = {d.person_id: d.change for d in run2.decisions.all()}
    assert changes[families["a2"]["child"].pk] == Change.ENDED  # died in October: stops from November
    assert changes[families["a1"]["child"].pk] == Change.CONTINUING
    assert run2.ended_count == 1 and run2.continuing_count == 2


def test_disclosure_order_objections_and_four_eyes(families, officers):
    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    a, b = officers["fuli1"], officers["fuli2"]
    with pytest.raises(RegistryError, match="village"):
        actions.do_publish(a, run, level="township", starts_on=MONTH)
    village = actions.do_publish(a, run, level="village", starts_on=MONTH)
    assert (village.ends_on - village.starts_on).days == 7
    decision = run.decisions.get(person=families["b1"]["child"])
    objection = actions.do_raise_objection(a, village, decision, objector="村民甲", what="孩子已随母亲迁往外省",
                                           evidence="邻居证言")
    with pytest.raises(RegistryError, match="objection"):
        actions.do_close_disclosure(a, village, today=village.ends_on)
    with pytest.raises(RegistryError, match="window"):
        actions.do_close_disclosure(a, village, today=village.starts_on)
    actions.do_resolve_objection(a, objection, uphold=True, reason="经核实已迁出")
    decision.refresh_from_db()
    assert not decision.eligible and "upheld" in decision.withdrawn_reason
    actions.do_close_disclosure(a, village, today=village.ends_on)
    with pytest.raises(RegistryError, match="county-level"):
        actions.do_approve_run(b, run)
    for level in ("township", "county"):
        d = actions.do_publish(a, run, level=level, starts_on=village.ends_on)
        actions.do_close_disclosure(a, d, today=d.ends_on)
        village = d
    with pytest.raises(RegistryError, match="four eyes"):
        actions.do_approve_run(a, run)
    actions.do_approve_run(b, run)
    run.refresh_from_db()
    assert run.status == "approved" and run.eligible_count == 2


def test_payment_cannot_start_before_the_county_level_closed(families, officers):
    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    actions.do_publish(officers["fuli1"], run, level="village", starts_on=MONTH)
    with pytest.raises(RegistryError, match="approve"):
        actions.do_make_payment_batch(officers["fuli2"], programme=P, month=MONTH)


def test_payment_file_return_and_resubmission(families, officers, tmp_path):
    from popreg.benefits import actions as a

    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    mother = families["a1"]["mother"]
    a.do_record_account(officers["fuli1"], mother, account="6222 0200 1234 5678", bank="农村信用社")
    batch = approve_and_pay(P, MONTH, officers["fuli1"], officers["fuli2"], run)
    out = tmp_path / "pay.csv"
    info = write_payment_file(P, MONTH, out)
    assert info["lines"] == 3
    checked = check_payment_file(out.read_bytes(), "pay.csv")
    assert checked["consistent"] and checked["count"] == 3 and checked["total_yuan"] == Decimal("900.00")
    line = next(ln for ln in checked["lines"] if ln["payee_name"] == mother.name)
    assert line["payee_id_number"] == mother.id_number and line["account"] == "6222020012345678"
    xlsx = tmp_path / "pay.xlsx"
    write_payment_file(P, MONTH, xlsx)
    assert check_payment_file(xlsx.read_bytes(), "pay.xlsx")["consistent"]
    first = batch.lines.order_by("id").first()
    summary = pay_all(batch, officers["fuli2"], failed={first.payment_id: "账户已销户 account closed"})
    assert summary["paid_count"] == 2 and summary["failed_count"] == 1 and summary["due_yuan"] == "900.00"
    again = a.do_resubmit_failures(officers["fuli2"], batch)
    assert again.line_count == 1 and again.resubmission_of_id == batch.pk
    first.refresh_from_db()
    assert first.status == LineStatus.RESUBMITTED
    with pytest.raises(RegistryError, match="lacks"):
        a.do_import_return(officers["fuli2"], again, [])


def test_late_registered_death_produces_the_right_overpayment(families, officers, actors):
    """A baby dies on 15 October; October, November and December are paid; the death is
    registered in January.  The January run stops the entitlement and lists November and
    December (300 yuan each) for recovery: October is still due."""
    from popreg.registry import actions as registry

    for m in (date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)):
        run, _ = run_live(P, m, actor=officers["fuli1"])
        batch = approve_and_pay(P, m, officers["fuli1"], officers["fuli2"], run)
        pay_all(batch, officers["fuli2"])
    child = families["a2"]["child"]
    registry.do_register_death(actors["admin"], child, death_date=date(2025, 10, 15), recorded_date=date(2026, 1, 5))
    run, _ = run_live(P, date(2026, 1, 1), actor=officers["fuli1"])
    assert run.decisions.get(person=child).change == Change.ENDED
    over = Recovery.objects.filter(kind="overpayment", person=child).order_by("month")
    assert [(r.month, r.amount_yuan) for r in over] == [(date(2025, 11, 1), Decimal("300.00")),
                                                        (date(2025, 12, 1), Decimal("300.00"))]
    assert over[0].payee_id == families["a2"]["mother"].pk and over[0].line_id is not None
    assert not Recovery.objects.filter(kind="arrears").exists()
    # The next run finds the same months: nothing is listed twice.
    run_live(P, date(2026, 1, 1), actor=officers["fuli1"])
    assert Recovery.objects.filter(kind="overpayment").count() == 2
    rec = over[0]
    actions.do_settle_recovery(officers["fuli2"], rec, note="已退回")
    assert AuditRecord.objects.filter(action="benefits_settle_recovery").count() == 1


def test_late_registered_birth_produces_arrears(families, officers, actors):
    from popreg.registry import actions as registry

    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    pay_all(approve_and_pay(P, MONTH, officers["fuli1"], officers["fuli2"], run), officers["fuli2"])
    mother = families["a1"]["mother"]
    late = registry.do_register_birth(actors["admin"], name="张晚报", sex="F", birth_date=date(2025, 9, 3),
                                      registered_unit_code=VILLAGE_A1, mother=mother, recorded_date=date(2025, 11, 2))
    run_live(P, date(2025, 11, 1), actor=officers["fuli1"])
    arrears = Recovery.objects.get(kind="arrears", person=late)
    assert arrears.month == MONTH and arrears.amount_yuan == Decimal("300.00") and arrears.payee_id == mother.pk


def test_family_facts_keep_history(families, officers):
    a = officers["fuli1"]
    mother, child = families["a1"]["mother"], families["a1"]["child"]
    cert = actions.do_record_certificate(a, mother, number="DS-001", issued_date=date(2024, 7, 1), child=child)
    fixed = actions.do_record_certificate(a, mother, number="DS-001A", issued_date=date(2024, 7, 1), child=child,
                                          replaces=cert)
    cert.refresh_from_db()
    assert cert.ended_at is not None and fixed.replaces_id == cert.pk
    with pytest.raises(RegistryError, match="grade"):
        actions.do_record_disability(a, child, grade=5, recorded_date=date(2025, 1, 1))
    actions.do_record_disability(a, child, grade=2, recorded_date=date(2025, 1, 1))
    facts = export_family_facts()
    assert list(facts.certificates["number"]) == ["DS-001A"]
    assert list(facts.certificates["child_person_id"]) == [child.pk]
    assert list(facts.disabilities["grade"]) == [2]
    assert AuditRecord.objects.filter(action="benefits_record_certificate").count() == 2


def test_township_officer_stays_in_the_township(families, officers):
    from ..conftest import TOWN_A, VILLAGE_B1

    run, _ = run_live(P, MONTH, TOWN_A, actor=officers["fuli_a"])
    assert {d.unit_code for d in run.decisions.all()} == {VILLAGE_A1}
    with pytest.raises(RegistryError):
        run_live(P, MONTH, VILLAGE_B1, actor=officers["fuli_a"])
    with pytest.raises(RegistryError):
        actions.do_record_certificate(officers["fuli_a"], families["b1"]["mother"], number="X1",
                                      issued_date=date(2024, 1, 1))


def test_application_granted_joins_the_run(families, officers, actors):
    a, b = officers["fuli1"], officers["fuli2"]
    older = families["old"]
    app = actions.do_submit_application(a, programme=P, month=MONTH, person=older, evidence="医院证明：出生日期登记错误",
                                        amount_yuan="300", payee=families["a1"]["mother"])
    with pytest.raises(RegistryError, match="recorded"):
        actions.do_decide_application(a, app, grant=True, reason="自审")
    run, _ = run_live(P, MONTH, actor=a)
    actions.do_decide_application(b, app, grant=True, reason="材料属实")
    d = run.decisions.get(person=older)
    assert d.eligible and d.source == "application"
    run.refresh_from_db()
    assert run.eligible_count == 4


def test_a_run_is_reproduced_from_its_kept_inputs(families, officers, actors, tmp_path):
    """The run keeps its snapshot, family facts and rules; evaluating them again gives the
    recorded decisions, whatever happened to the registry and the family facts since."""
    from popreg.benefits.runs import differences, reproduce
    from popreg.registry import actions as registry

    a = officers["fuli1"]
    actions.do_record_disability(a, families["a1"]["mother"], grade=2, recorded_date=date(2025, 1, 1))
    run, result = run_live(P, MONTH, actor=a)
    assert (tmp_path / "benefits" / "snapshots" / run.snapshot_sha256 / "manifest.json").is_file()
    registry.do_register_death(actors["admin"], families["a1"]["child"], death_date=date(2025, 9, 1))
    actions.do_record_certificate(a, families["a2"]["mother"], number="DS-9", issued_date=date(2025, 3, 1),
                                  child=families["a2"]["child"])
    again = reproduce(run)
    assert again.equals(result.decisions)
    assert differences(run, again) == []
    later, _ = run_live(P, MONTH, actor=a)  # the registry as it is now: the death counts
    assert differences(later, again) != [] and later.snapshot_sha256 != run.snapshot_sha256


def test_a_certificate_recorded_in_the_app_opens_the_only_child_reward(families, officers):
    """Family facts recorded by the office reach the rules: the certified mother is paid 50
    yuan a month; withdrawing the certificate ends it at the next run."""
    a = officers["fuli1"]
    mother, child = families["a1"]["mother"], families["a1"]["child"]
    cert = actions.do_record_certificate(a, mother, number="DS-2024-7", issued_date=date(2024, 7, 1), child=child)
    run, _ = run_live("only_child_parents_reward", MONTH, actor=a)
    d = run.decisions.get(person=mother)
    assert d.eligible and d.amount_yuan == Decimal("50.00") and d.conditions["certified"] == "passed"
    actions.do_end_certificate(a, cert, reason="证书注销")
    run2, _ = run_live("only_child_parents_reward", date(2025, 11, 1), actor=a)
    assert run2.decisions.get(person=mother).change == Change.ENDED


def test_a_payee_gone_before_the_month_is_replaced_by_the_other_parent(county, actors, officers):
    from popreg.registry import actions as registry

    admin = actors["admin"]
    mother = registry.do_register_birth(admin, name="母甲", sex="F", birth_date=date(1990, 1, 1),
                                        registered_unit_code=VILLAGE_A1)
    father = registry.do_register_birth(admin, name="父乙", sex="M", birth_date=date(1989, 1, 1),
                                        registered_unit_code=VILLAGE_A1)
    child = registry.do_register_birth(admin, name="子丙", sex="M", birth_date=date(2025, 1, 1),
                                       registered_unit_code=VILLAGE_A1, mother=mother, father=father)
    registry.do_register_death(admin, mother, death_date=date(2025, 9, 10))
    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    batch = approve_and_pay(P, MONTH, officers["fuli1"], officers["fuli2"], run)
    line = batch.lines.get(person=child)
    assert line.payee_id == father.pk and line.payee_name == "父乙"
