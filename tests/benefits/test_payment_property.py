"""Property: nobody who died, moved out of the county or was deregistered before a month
begins is in that month's payment file (neither the person entitled nor the payee)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import VILLAGE_A1, make_id
from .conftest import MONTH, approve_and_pay

P = "childcare_subsidy"
EVENTS = st.one_of(st.none(), st.tuples(st.sampled_from(["death", "move_out", "enlistment"]),
                                        st.integers(min_value=-45, max_value=45)))
# A baby is not enlisted (the enlistment ages of docs/validation.md): the children die or move out.
CHILD_EVENTS = st.one_of(st.none(), st.tuples(st.sampled_from(["death", "move_out"]),
                                              st.integers(min_value=-45, max_value=45)))


def _leave(admin, person, kind: str, day: date) -> None:
    from popreg.registry import actions

    if kind == "death":
        actions.do_register_death(admin, person, death_date=day)
    elif kind == "move_out":
        actions.do_move_out(admin, person, move_date=day, destination_code="130102000000")
    else:
        actions.do_register_enlistment(admin, person, enlistment_date=day)


@pytest.mark.django_db
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(families=st.lists(st.tuples(EVENTS, CHILD_EVENTS), min_size=1, max_size=4))
def test_no_one_gone_before_the_month_is_paid_for_it(families, county, actors, officers, tmp_path_factory):
    from django.db import transaction

    from popreg.benefits.models import PaymentLine
    from popreg.benefits.payments import check_payment_file, write_payment_file
    from popreg.benefits.runs import run_live
    from popreg.registry import actions
    from popreg.registry.models import Person

    admin = actors["admin"]
    with transaction.atomic():  # rolled back: every example starts from the same registry
        gone: dict[int, date] = {}
        for i, (mother_event, child_event) in enumerate(families):
            # mothers born 2003: 22 in the payment month, of an age to be enlisted
            mb, cb = date(2003, 1, 1) + timedelta(days=i), date(2024, 3, 1) + timedelta(days=i)
            mother = actions.do_register_birth(admin, name=f"母{i}", sex="F", birth_date=mb,
                                               registered_unit_code=VILLAGE_A1, id_number=make_id(mb, "F", 200 + i))
            child = actions.do_register_birth(admin, name=f"儿{i}", sex="M", birth_date=cb, registered_unit_code=VILLAGE_A1,
                                              mother=mother, id_number=make_id(cb, "M", 300 + i))
            for person, event in ((mother, mother_event), (child, child_event)):
                if event is not None:
                    day = MONTH + timedelta(days=event[1])
                    _leave(admin, person, event[0], day)
                    gone[person.pk] = day
        run, _ = run_live(P, MONTH, actor=officers["fuli1"])
        approve_and_pay(P, MONTH, officers["fuli1"], officers["fuli2"], run)
        out = tmp_path_factory.mktemp("pay") / "pay.csv"
        write_payment_file(P, MONTH, out)
        checked = check_payment_file(out.read_bytes(), "pay.csv")
        ids = [ln["payment_id"] for ln in checked["lines"]]
        lines = {ln.payment_id: ln for ln in PaymentLine.objects.filter(payment_id__in=ids)}
        id_numbers = {p.id_number: p.pk for p in Person.objects.all()}
        transaction.set_rollback(True)
    assert checked["consistent"] and len(lines) == len(ids)
    for ln in checked["lines"]:
        line = lines[ln["payment_id"]]
        for pk in (line.person_id, line.payee_id, id_numbers[ln["payee_id_number"]]):
            assert pk not in gone or gone[pk] >= MONTH, (pk, gone.get(pk))
    # and everyone still there on the first day is paid
    paid = {lines[ln["payment_id"]].person_id for ln in checked["lines"]}
    expected = 0
    for mother_event, child_event in families:
        ok = all(e is None or MONTH + timedelta(days=e[1]) >= MONTH for e in (mother_event, child_event))
        expected += ok
    assert len(paid) == expected
