"""Benefits fixtures: two benefits officers of the county (four eyes), mothers and babies
in villages A1 and B1, and helpers that take a run through the three-level disclosure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ..conftest import COUNTY, TOWN_A, VILLAGE_A1, VILLAGE_B1, make_id

MONTH = date(2025, 10, 1)


@pytest.fixture(autouse=True)
def _benefits_home(settings, tmp_path):
    """Runs keep their inputs under $POPREG_HOME/benefits: a folder of the test's own."""
    settings.POPREG_HOME = tmp_path


@pytest.fixture
def officers(county):
    """Benefits officers: two of the county (one prepares, the other approves), one of town A."""
    from django.contrib.auth import get_user_model

    from popreg.registry.access import actor_for
    from popreg.registry.models import Assignment

    out = {}
    for name, unit in (("fuli1", COUNTY), ("fuli2", COUNTY), ("fuli_a", TOWN_A)):
        u = get_user_model().objects.create_user(username=name, password="test-pass-123")
        Assignment.objects.create(user=u, role="benefits_officer", unit_id=unit)
        out[name] = actor_for(u)
        out[name + "_user"] = u
    return out


@pytest.fixture
def families(county, actors):
    """Three mothers with babies (A1: two, B1: one) and an older child (not eligible)."""
    from popreg.registry import actions

    admin = actors["admin"]
    out = {}
    spec = [("a1", VILLAGE_A1, "王秀英", "张小伟", date(2024, 6, 1)),
            ("a2", VILLAGE_A1, "欧阳娜娜", "欧阳明", date(2025, 2, 10)),
            ("b1", VILLAGE_B1, "李娜", "李·阿依", date(2023, 12, 5))]
    for i, (key, unit, mother_name, child_name, born) in enumerate(spec):
        hh = actions.do_create_household(admin, unit_code=unit, address=f"{key}号")
        mb = date(1992, 1, 1) + timedelta(days=40 * i)
        mother = actions.do_register_birth(admin, name=mother_name, sex="F", birth_date=mb, registered_unit_code=unit,
                                           household=hh, id_number=make_id(mb, "F", 20 + i))
        child = actions.do_register_birth(admin, name=child_name, sex="M", birth_date=born, registered_unit_code=unit,
                                          household=hh, mother=mother, id_number=make_id(born, "M", 30 + i))
        out[key] = {"mother": mother, "child": child, "household": hh}
    old = actions.do_register_birth(admin, name="赵大", sex="M", birth_date=date(2022, 6, 1),
                                    registered_unit_code=VILLAGE_A1, household=out["a1"]["household"],
                                    mother=out["a1"]["mother"], id_number=make_id(date(2022, 6, 1), "M", 40))
    out["old"] = old
    return out


def disclose(run, actor, *, start: date | None = None):
    """Publish and close the three levels, each window 7 days, one after the other."""
    from popreg.benefits import actions

    day = start or MONTH
    for level in ("village", "township", "county"):
        d = actions.do_publish(actor, run, level=level, starts_on=day)
        actions.do_close_disclosure(actor, d, today=d.ends_on)
        day = d.ends_on
    run.refresh_from_db()
    return run


def approve_and_pay(programme, month, preparer, approver, run):
    from popreg.benefits import actions

    disclose(run, preparer)
    actions.do_approve_run(approver, run)
    return actions.do_make_payment_batch(approver, programme=programme, month=month)


def pay_all(batch, actor, failed: dict[str, str] | None = None):
    """Import a return file for ``batch``: every line paid, except ``failed`` (id -> reason)."""
    from popreg.benefits import actions

    failed = failed or {}
    rows = [actions.ReturnRow(row=i + 2, payment_id=ln.payment_id, status="failed" if ln.payment_id in failed else "paid",
                              reason=failed.get(ln.payment_id, ""), paid_on=batch.month + timedelta(days=20))
            for i, ln in enumerate(batch.lines.order_by("id"))]
    return actions.do_import_return(actor, batch, rows)
