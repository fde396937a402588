"""Benefits objects inside (township A) and outside (township B) for the authorization
matrix (tests/web/test_authz_matrix.py): kind -> (path values inside, path values outside)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..conftest import TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_B1


def benefit_objects(people, admin) -> dict:
    from popreg.benefits import actions
    from popreg.benefits.models import PaymentBatch, PaymentLine, Recovery

    month = date(2025, 10, 1)

    def run(unit, persons):
        rows = [actions.DecisionRow(person_id=p.pk, payee_person_id=None, eligible=True, amount_yuan=Decimal("300"),
                                    reasons="", conditions={"born": "passed"}) for p in persons]
        r = actions.do_record_run(admin, programme="childcare_subsidy", month=month, unit_code=unit,
                                  rules_version="test", snapshot_sha256="0" * 64, conditions=["born"], rows=rows,
                                  units={p.pk: p.registered_unit_id for p in persons})
        d = actions.do_publish(admin, r, level="village", starts_on=month)
        decision = r.decisions.first()
        o = actions.do_raise_objection(admin, d, decision, objector="村民", what="核实")
        batch = PaymentBatch.objects.create(programme="childcare_subsidy", month=month, run=r,
                                            batch_no=f"MATRIX-{unit}", created_by_name="admin")
        PaymentLine.objects.create(batch=batch, payment_id=f"MATRIX-{unit}-1", decision=decision, person=decision.person,
                                   payee=decision.person, payee_name=decision.person.name, amount_yuan=Decimal("300"),
                                   unit_code=decision.unit_code)
        rec = Recovery.objects.create(programme="childcare_subsidy", kind="overpayment", person=decision.person,
                                      month=month, amount_yuan=Decimal("300"), reason="test", unit_code=decision.unit_code)
        app = actions.do_submit_application(admin, programme="childcare_subsidy", month=month, person=persons[0],
                                            evidence="证明", amount_yuan="300")
        return r, d, o, batch, rec, app

    a = run(TOWN_A, [people["mother"]])
    b = run(TOWN_B, [people["other"]])
    return {
        "benefit_run": ((a[0].pk,), (b[0].pk,)),
        "benefit_run_village": ((a[0].pk, VILLAGE_A1), (b[0].pk, VILLAGE_B1)),
        "benefit_disclosure": ((a[1].pk,), (b[1].pk,)),
        "benefit_objection": ((a[2].pk,), (b[2].pk,)),
        "benefit_batch": ((a[3].pk,), (b[3].pk,)),
        "benefit_recovery": ((a[4].pk,), (b[4].pk,)),
        "benefit_application": ((a[5].pk,), (b[5].pk,)),
    }
