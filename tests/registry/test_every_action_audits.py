"""Every ``do_*`` action writes at least one audit record with an AuditAction value.

The actions are found, not listed: every module of the ``popreg`` package is imported
(``pkgutil.walk_packages``) and each function named ``do_*`` defined there is one action,
keyed by its qualified name (``popreg.registry.actions.persons.do_register_birth``).  Each
needs a recipe below that prepares valid input on the tiny county of tests/conftest.py and
returns the call to make; an action without a recipe fails the test, so a new action cannot
escape the audit trail.  Only the records written by that call count (not the preparation's).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

import popreg
from popreg.registry.audit import AuditAction
from popreg.registry.models import AuditRecord

from ..campaigns.conftest import DATES, advance_to
from ..conftest import COUNTY, TOWN_A, VILLAGE_A1, VILLAGE_A2, VILLAGE_B1, make_id

#: Modules not imported: ones that need what the test environment does not install (none at
#: the moment); ``__main__`` modules (they run the program) are skipped too.
OPTIONAL: frozenset[str] = frozenset()


def discover_actions() -> dict[str, Callable[..., Any]]:
    """Every ``do_*`` function defined in a module of the popreg package."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.walk_packages(popreg.__path__, prefix="popreg."):
        if info.name in OPTIONAL or ".migrations." in info.name or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if name.startswith("do_") and inspect.isfunction(fn) and fn.__module__ == module.__name__:
                found[f"{module.__name__}.{fn.__qualname__}"] = fn
    return found


ACTIONS = discover_actions()
Recipe = Callable[[SimpleNamespace], Callable[[], Any]]
RECIPES: dict[str, Recipe] = {}


def recipe(*names: str) -> Callable[[Recipe], Recipe]:
    def register(fn: Recipe) -> Recipe:
        for name in names:
            assert name not in RECIPES, name
            RECIPES[name] = fn
        return fn

    return register


# ---------------------------------------------------------------- registry

REG = "popreg.registry.actions."


@recipe(REG + "persons.do_register_birth")
def _birth(w):
    from popreg.registry import actions

    return lambda: actions.do_register_birth(
        w.clerk, name="赵小宝", sex="M", birth_date=date(2025, 1, 2), registered_unit_code=VILLAGE_A1,
        household=w.people["hh_a"], mother=w.people["mother"])


@recipe(REG + "persons.do_register_death")
def _death(w):
    from popreg.registry import actions

    return lambda: actions.do_register_death(w.admin, w.people["other"], death_date=date(2025, 1, 1))


@recipe(REG + "persons.do_move_out")
def _move_out(w):
    from popreg.registry import actions

    return lambda: actions.do_move_out(w.clerk, w.people["mother"], move_date=date(2025, 3, 1),
                                       destination_code="440305000000")


@recipe(REG + "entry_check.do_confirm_new_person")
def _confirm_new_person(w):
    from popreg.registry.actions.entry_check import do_confirm_new_person
    from popreg.registry.entry_check import NewRecord, check_entry

    shown = check_entry(w.clerk, NewRecord(name="张伟", sex="M", birth_date=date(2020, 5, 6),
                                           village_code=VILLAGE_A1)).audit_detail()
    return lambda: do_confirm_new_person(w.clerk, w.people["child"], form="register_birth", shown=shown)


@recipe(REG + "persons.do_move_in")
def _move_in(w):
    from popreg.registry import actions

    return lambda: actions.do_move_in(
        w.admin, name="陈静", sex="F", birth_date=date(1995, 6, 7), id_number=make_id(date(1995, 6, 7), "F", 7),
        registered_unit_code=VILLAGE_B1, from_unit_code="440305000000", move_date=date(2025, 4, 1))


@recipe(REG + "persons.do_transfer")
def _transfer(w):
    from popreg.registry import actions

    return lambda: actions.do_transfer(w.clerk, w.people["mother"], to_unit_code=VILLAGE_A2,
                                       move_date=date(2024, 2, 2))


@recipe(REG + "persons.do_register_marriage")
def _marriage(w):
    from popreg.registry import actions

    return lambda: actions.do_register_marriage(w.admin, w.people["other"], marriage_date=date(2010, 5, 1))


@recipe(REG + "persons.do_register_divorce")
def _divorce(w):
    from popreg.registry import actions

    actions.do_register_marriage(w.admin, w.people["other"], marriage_date=date(2010, 5, 1))
    return lambda: actions.do_register_divorce(w.admin, w.people["other"], divorce_date=date(2020, 5, 1))


@recipe(REG + "persons.do_register_enlistment")
def _enlistment(w):
    from popreg.registry import actions

    # "other" was born in 1985: enlisted at 19 (the Military Service Law's ages, docs/validation.md)
    return lambda: actions.do_register_enlistment(w.admin, w.people["other"], enlistment_date=date(2004, 9, 1))


@recipe(REG + "persons.do_register_discharge")
def _discharge(w):
    from popreg.registry import actions

    actions.do_register_enlistment(w.admin, w.people["other"], enlistment_date=date(2004, 9, 1))
    return lambda: actions.do_register_discharge(w.admin, w.people["other"], discharge_date=date(2006, 9, 1),
                                                 to_unit_code=VILLAGE_B1)


@recipe(REG + "persons.do_correct_person")
def _correct(w):
    from popreg.registry import actions

    return lambda: actions.do_correct_person(w.clerk, w.people["mother"], changes={"name": "王秀瑛"},
                                             reason="户口本笔误")


@recipe(REG + "households.do_create_household")
def _household(w):
    from popreg.registry import actions

    return lambda: actions.do_create_household(w.clerk, unit_code=VILLAGE_A1, address="东关村9号")


# households and certificates (registry)
@recipe(REG + "households.do_change_household_head")
def _household_head(w):
    from popreg.registry import actions

    return lambda: actions.do_change_household_head(w.clerk, w.people["hh_a"], head=w.people["mother"],
                                                    reason="立户")


@recipe(REG + "households.do_split_household")
def _household_split(w):
    from popreg.registry import actions

    return lambda: actions.do_split_household(w.clerk, w.people["hh_a"], members=[w.people["child"]],
                                              head=w.people["child"], remaining_head=w.people["mother"])


@recipe(REG + "households.do_merge_households")
def _household_merge(w):
    from popreg.registry import actions

    actions.do_change_household_head(w.admin, w.people["hh_a"], head=w.people["mother"], reason="立户")
    other = actions.do_create_household(w.admin, unit_code=VILLAGE_A1)
    return lambda: actions.do_merge_households(w.clerk, w.people["hh_a"], other=other)


@recipe(REG + "households.do_change_household_address")
def _household_address(w):
    from popreg.registry import actions

    return lambda: actions.do_change_household_address(w.clerk, w.people["hh_a"], address="东关村10号",
                                                       reason="门牌整顿")


@recipe(REG + "exports.do_request_full_id_export")
def _full_id_request(w):
    from popreg.registry.actions import exports
    from popreg.registry.models import AdminUnit

    county = AdminUnit.objects.get(level="county")
    return lambda: exports.do_request_full_id_export(w.admin, county, reason="公安协查")


@recipe(REG + "exports.do_approve_full_id_export")
def _full_id_approve(w):
    from django.contrib.auth import get_user_model

    from popreg.registry.access import actor_for
    from popreg.registry.actions import exports
    from popreg.registry.models import AdminUnit, Assignment

    county = AdminUnit.objects.get(level="county")
    req = exports.do_request_full_id_export(w.admin, county, reason="公安协查")
    second = get_user_model().objects.create_user(username="admin_second", password="x-unused-1")
    Assignment.objects.create(user=second, role="county_admin", unit=county)
    return lambda: exports.do_approve_full_id_export(actor_for(second), req.pk)


@recipe(REG + "households.do_dissolve_household")
def _household_dissolve(w):
    from popreg.registry import actions

    empty = actions.do_create_household(w.admin, unit_code=VILLAGE_A1)
    return lambda: actions.do_dissolve_household(w.clerk, empty)


@recipe(REG + "units.do_succeed_units")
def _succession(w):
    from popreg.registry import actions

    return lambda: actions.do_succeed_units(
        w.admin, kind="rename", predecessor_codes=[VILLAGE_B1],
        successors=[{"code": "110105002009", "name": "新柳村"}], effective_date=date(2025, 1, 1))


@recipe(REG + "maintenance.do_assign_role")
def _assign_role(w):
    from django.contrib.auth import get_user_model

    from popreg.registry import actions

    user = get_user_model().objects.create_user(username="xinren", password="x")
    return lambda: actions.do_assign_role(w.admin, user, "village_clerk", VILLAGE_A1)


@recipe(REG + "accounts.do_create_user")
def _create_user(w):
    from popreg.registry import actions

    return lambda: actions.do_create_user(w.admin, "xinren", "晴天-river-4471", "village_clerk", VILLAGE_A1)


@recipe(REG + "accounts.do_deactivate_user")
def _deactivate_user(w):
    from django.contrib.auth import get_user_model

    from popreg.registry import actions

    user = get_user_model().objects.create_user(username="xinren", password="x")
    return lambda: actions.do_deactivate_user(w.admin, user)


@recipe(REG + "accounts.do_reset_password")
def _reset_password(w):
    from django.contrib.auth import get_user_model

    from popreg.registry import actions

    user = get_user_model().objects.create_user(username="xinren", password="x")
    return lambda: actions.do_reset_password(w.admin, user, "晴天-river-4471")


@recipe(REG + "accounts.do_create_api_token")
def _create_api_token(w):
    from popreg.registry import actions

    return lambda: actions.do_create_api_token(w.admin, "script")


@recipe(REG + "accounts.do_revoke_api_token")
def _revoke_api_token(w):
    from popreg.registry import actions

    token, _ = actions.do_create_api_token(w.admin, "script")
    return lambda: actions.do_revoke_api_token(w.admin, token)


@recipe(REG + "maintenance.do_repair_history")
def _repair(w):
    from popreg.registry import actions
    from popreg.registry.models import Person

    Person.objects.filter(pk=w.people["mother"].pk).update(name="乱改")  # behind the actions' back
    return lambda: actions.do_repair_history(w.admin, w.people["mother"])


@recipe("popreg.registry.bulk.do_import_persons")
def _import(w):
    from popreg.registry.bulk import do_import_persons
    from popreg.registry.importing import parse_file

    from ..importing.helpers import sample_rows, to_csv

    result = parse_file(to_csv(sample_rows(2)), "p.csv")
    assert result.ok, result.errors
    return lambda: do_import_persons(w.actors["officer_a"], result.rows, "p.csv", result.sha256,
                                     labels=result.headers)


def _queued_job(w):
    from popreg.registry import jobs

    w.settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return jobs.start_job(w.clerk, "t_audit_probe", unit_code=VILLAGE_A1)


@recipe("popreg.registry.jobs.do_cancel_job")
def _cancel_job(w):
    from popreg.registry import jobs

    job = _queued_job(w)
    return lambda: jobs.do_cancel_job(w.clerk, job)


@recipe("popreg.registry.jobs.do_retry_job")
def _retry_job(w):
    from popreg.registry import jobs

    job = jobs.do_cancel_job(w.clerk, _queued_job(w))
    return lambda: jobs.do_retry_job(w.clerk, job)


# ---------------------------------------------------------------- linkage

LINK = "popreg.linkage.actions."


def _twin(w):
    """A second record of the mother (no ID number) and the candidate pair."""
    from popreg.linkage.models import DuplicateCandidate
    from popreg.registry import actions

    twin = actions.do_register_birth(w.admin, name="王秀英", sex="F", birth_date=date(1990, 3, 4),
                                     registered_unit_code=VILLAGE_A1)
    lo, hi = sorted((w.people["mother"].pk, twin.pk))
    candidate = DuplicateCandidate.objects.create(person_a_id=lo, person_b_id=hi, match_weight=9.5,
                                                  match_probability=0.93)
    return twin, candidate


@recipe(LINK + "do_decide_candidate")
def _decide(w):
    from popreg.linkage import actions

    _, candidate = _twin(w)
    return lambda: actions.do_decide_candidate(w.clerk, candidate, False, "经核实为两人")


@recipe(LINK + "do_merge_persons")
def _merge(w):
    from popreg.linkage import actions

    twin, _ = _twin(w)
    return lambda: actions.do_merge_persons(w.clerk, w.people["mother"], twin, "同一人，身份号码见户口簿")


@recipe(LINK + "do_unmerge")
def _unmerge(w):
    from popreg.linkage import actions

    twin, _ = _twin(w)
    merge = actions.do_merge_persons(w.clerk, w.people["mother"], twin, "同一人")
    return lambda: actions.do_unmerge(w.clerk, merge, "误合并")


# ---------------------------------------------------------------- campaigns

CAMP = "popreg.campaigns."


def _campaign(w, phase=None):
    from popreg.campaigns import actions

    c = actions.do_create_campaign(w.admin, name="2025年户口整顿", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES,
                                   spot_check_households=2, error_threshold=0.05, seed=7)
    return advance_to(c, phase, w.admin) if phase else c


def _item(w, c):
    """A rectification item: the mother reported dead at the door, then the rectification phase."""
    from popreg.campaigns import actions
    from popreg.campaigns.models import RectificationItem

    advance_to(c, "verification", w.admin)
    actions.do_record_outcome(w.clerk, c, w.people["mother"], outcome="died", event_date="2025-10-03")
    advance_to(c, "rectification", w.admin)
    return RectificationItem.objects.get(campaign=c, person=w.people["mother"])


@recipe(CAMP + "_lifecycle.do_create_campaign")
def _create_campaign(w):
    from popreg.campaigns import actions

    return lambda: actions.do_create_campaign(w.actors["officer_a"], name="城关镇整顿", scope_codes=[TOWN_A],
                                              reference_moment=datetime(2025, 11, 1), dates=DATES)


@recipe(CAMP + "_lifecycle.do_advance_phase")
def _advance(w):
    from popreg.campaigns import actions

    c = _campaign(w)
    return lambda: actions.do_advance_phase(w.admin, c)


@recipe(CAMP + "_lifecycle.do_generate_items")
def _generate(w):
    from popreg.campaigns import actions

    c = _campaign(w, "verification")
    return lambda: actions.do_generate_items(w.admin, c)


@recipe(CAMP + "_field.do_record_outcome")
def _outcome(w):
    from popreg.campaigns import actions

    c = _campaign(w, "verification")
    return lambda: actions.do_record_outcome(w.clerk, c, w.people["mother"], outcome="confirmed")


@recipe(CAMP + "_field.do_record_found_person")
def _found(w):
    from popreg.campaigns import actions

    c = _campaign(w, "verification")
    return lambda: actions.do_record_found_person(w.clerk, c, VILLAGE_A1, name="张小花", sex="女",
                                                  birth_date="2024-02-02")


@recipe(CAMP + "_rectify.do_resolve_item")
def _resolve(w):
    from popreg.campaigns import actions

    item = _item(w, _campaign(w))
    return lambda: actions.do_resolve_item(w.clerk, item, action="register_death")


@recipe(CAMP + "_rectify.do_reject_item")
def _reject(w):
    from popreg.campaigns import actions

    item = _item(w, _campaign(w))
    return lambda: actions.do_reject_item(w.clerk, item, reason="本人在家，登记有误")


@recipe(CAMP + "_rectify.do_update_item")
def _update_item(w):
    from popreg.campaigns import actions

    item = _item(w, _campaign(w))
    return lambda: actions.do_update_item(w.clerk, item, deadline=date(2025, 11, 20), start=True)


def _summary(w):
    """A campaign in its summary phase with every listed person of village A1 checked."""
    from popreg.campaigns import actions

    c = _campaign(w, "verification")
    for p in (w.people["mother"], w.people["child"]):
        actions.do_record_outcome(w.clerk, c, p, outcome="confirmed")
    return advance_to(c, "summary", w.admin)


@recipe(CAMP + "_acceptance.do_draw_spot_check")
def _draw(w):
    from popreg.campaigns import actions

    c = _summary(w)
    return lambda: actions.do_draw_spot_check(w.actors["officer_a"], c, VILLAGE_A1)  # not the clerk


@recipe(CAMP + "_acceptance.do_record_spot_check")
def _spot(w):
    from popreg.campaigns import actions

    c = _summary(w)
    check = actions.do_draw_spot_check(w.actors["officer_a"], c, VILLAGE_A1)[0]
    return lambda: actions.do_record_spot_check(w.actors["officer_a"], check, agrees=True)


@recipe(CAMP + "_acceptance.do_sign_off")
def _sign_off(w):
    from popreg.campaigns import actions

    c = _summary(w)
    for check in actions.do_draw_spot_check(w.actors["officer_a"], c, VILLAGE_A1):
        actions.do_record_spot_check(w.actors["officer_a"], check, agrees=True)
    return lambda: actions.do_sign_off(w.clerk, c, VILLAGE_A1, level="village")


@recipe(CAMP + "actions.do_upload_workbook")
def _upload(w):
    from popreg.campaigns import actions

    from ..campaigns.test_upload import fill, workbook

    c = _campaign(w, "verification")
    data = fill(workbook(c), {w.people["mother"].pk: ("已死亡", None, None, "2025-10-02")})
    return lambda: actions.do_upload_workbook(w.clerk, c, data, village_code=VILLAGE_A1)


# ---------------------------------------------------------------- statistics

STATS = "popreg.stats."
RULES = {"name": "测试考核", "version": 1, "rules": [
    {"id": "rni", "indicator": "rni", "comparison": "band", "low": 0, "high": 400, "weight": 100}]}


@recipe(STATS + "actions.do_save_rule_set")
def _rules(w):
    from popreg.stats import actions

    return lambda: actions.do_save_rule_set(w.admin, RULES)


@recipe(STATS + "actions.do_save_targets")
def _targets(w):
    from popreg.stats import actions
    from popreg.stats.assessment import TargetRow

    return lambda: actions.do_save_targets(w.clerk, [TargetRow(2025, VILLAGE_A1, "rni", 0.0, 8.0)])


def _recon_records(w) -> pd.DataFrame:
    """One registry birth with no hospital record (as ``reconcile`` reports it)."""
    from popreg.registry.models import Event

    ev = Event.objects.filter(person=w.people["child"]).get()
    return pd.DataFrame([{
        "month": "2020-05", "kind": "birth", "category": "registry_only", "unit_code": VILLAGE_A1,
        "person_id": w.people["child"].pk, "event_id": ev.pk, "source": "", "record_id": "",
        "event_date": "2020-05-06", "source_date": None,
    }])


@recipe(STATS + "actions.do_create_reconciliation_items")
def _recon_items(w):
    from popreg.stats import actions

    records = _recon_records(w)
    return lambda: actions.do_create_reconciliation_items(w.clerk, records)


@recipe(STATS + "actions.do_settle_reconciliation_item")
def _settle(w):
    from popreg.stats import actions
    from popreg.stats.models import ReconciliationItem

    actions.do_create_reconciliation_items(w.clerk, _recon_records(w))
    item = ReconciliationItem.objects.get()
    return lambda: actions.do_settle_reconciliation_item(w.clerk, item, status="rejected", note="在家分娩，已核实")


@recipe(STATS + "refresh.do_refresh_statistics")
def _refresh(w):
    from popreg.stats.refresh import do_refresh_statistics

    return lambda: do_refresh_statistics(w.admin)


@recipe(STATS + "period_actions.do_close_period")
def _close_period(w):
    from popreg.stats.period_actions import do_close_period
    from popreg.stats.refresh import do_refresh_statistics

    do_refresh_statistics(w.admin)
    return lambda: do_close_period(w.clerk, VILLAGE_A1, "2024")


@recipe(STATS + "period_actions.do_approve_period")
def _approve_period(w):
    from popreg.stats.period_actions import do_approve_period, do_close_period
    from popreg.stats.refresh import do_refresh_statistics

    do_refresh_statistics(w.admin)
    closing = do_close_period(w.clerk, VILLAGE_A1, "2024")
    return lambda: do_approve_period(w.admin, closing)


@recipe(STATS + "refresh.do_build_dse")
def _dse(w):
    from popreg.stats.refresh import do_build_dse, do_refresh_statistics

    do_refresh_statistics(w.admin)
    return lambda: do_build_dse(w.admin)


# ---------------------------------------------------------------- benefits

BEN = "popreg.benefits.actions."
BEN_MONTH = date(2025, 10, 1)


def _ben_approver(w):
    """A second benefits officer of the county: the four-eyes checks refuse the preparer."""
    from django.contrib.auth import get_user_model

    from popreg.registry.access import actor_for
    from popreg.registry.models import Assignment

    user = get_user_model().objects.create_user(username="fuli2", password="x")
    Assignment.objects.create(user=user, role="benefits_officer", unit_id=COUNTY)
    return actor_for(user)


def _ben_run(w):
    """A childcare-subsidy run of town A prepared by the admin: the child eligible."""
    from decimal import Decimal

    from popreg.benefits import actions

    child = w.people["child"]
    rows = [actions.DecisionRow(person_id=child.pk, payee_person_id=w.people["mother"].pk, eligible=True,
                                amount_yuan=Decimal("300"), reasons="", conditions={"born": "passed"})]
    return actions.do_record_run(w.admin, programme="childcare_subsidy", month=BEN_MONTH, unit_code=TOWN_A,
                                 rules_version="test", snapshot_sha256="0" * 64, conditions=["born"], rows=rows,
                                 units={child.pk: child.registered_unit_id})


def _ben_village_level(w):
    """The run's village-level disclosure (open) and the child's decision."""
    from popreg.benefits import actions

    run = _ben_run(w)
    return actions.do_publish(w.admin, run, level="village", starts_on=BEN_MONTH), run.decisions.get(eligible=True)


def _ben_batch(w):
    """The month's payment batch, made from the run approved after its three levels."""
    from ..benefits.conftest import approve_and_pay

    return approve_and_pay("childcare_subsidy", BEN_MONTH, w.admin, _ben_approver(w), _ben_run(w))


@recipe(BEN + "do_record_certificate")
def _ben_certificate(w):
    from popreg.benefits import actions

    return lambda: actions.do_record_certificate(w.admin, w.people["mother"], number="独生2020-0001",
                                                 issued_date=date(2020, 8, 1), child=w.people["child"])


@recipe(BEN + "do_end_certificate")
def _ben_end_certificate(w):
    from popreg.benefits import actions

    cert = actions.do_record_certificate(w.admin, w.people["mother"], number="独生2020-0001",
                                         issued_date=date(2020, 8, 1), child=w.people["child"])
    return lambda: actions.do_end_certificate(w.admin, cert, reason="再生育，证书收回")


@recipe(BEN + "do_record_disability")
def _ben_disability(w):
    from popreg.benefits import actions

    return lambda: actions.do_record_disability(w.admin, w.people["other"], grade=2, recorded_date=date(2024, 3, 1))


@recipe(BEN + "do_end_disability")
def _ben_end_disability(w):
    from popreg.benefits import actions

    rec = actions.do_record_disability(w.admin, w.people["other"], grade=2, recorded_date=date(2024, 3, 1))
    return lambda: actions.do_end_disability(w.admin, rec, reason="复评不再符合")


@recipe(BEN + "do_record_account")
def _ben_account(w):
    from popreg.benefits import actions

    return lambda: actions.do_record_account(w.admin, w.people["mother"], account="6222 0202 0011 2233 445",
                                             bank="农村信用社")


@recipe(BEN + "do_record_run")
def _ben_record_run(w):
    return lambda: _ben_run(w)


@recipe(BEN + "do_submit_application")
def _ben_apply(w):
    from popreg.benefits import actions

    return lambda: actions.do_submit_application(w.admin, programme="childcare_subsidy", month=BEN_MONTH,
                                                 person=w.people["child"], evidence="出生医学证明复印件",
                                                 amount_yuan="300", payee=w.people["mother"])


@recipe(BEN + "do_decide_application")
def _ben_decide(w):
    from popreg.benefits import actions

    app = actions.do_submit_application(w.admin, programme="childcare_subsidy", month=BEN_MONTH,
                                        person=w.people["child"], evidence="出生医学证明复印件", amount_yuan="300")
    approver = _ben_approver(w)
    return lambda: actions.do_decide_application(approver, app, grant=True, reason="材料齐全")


@recipe(BEN + "do_publish")
def _ben_publish(w):
    from popreg.benefits import actions

    run = _ben_run(w)
    return lambda: actions.do_publish(w.admin, run, level="village", starts_on=BEN_MONTH)


@recipe(BEN + "do_close_disclosure")
def _ben_close(w):
    from popreg.benefits import actions

    disclosure, _ = _ben_village_level(w)
    return lambda: actions.do_close_disclosure(w.admin, disclosure, today=disclosure.ends_on)


@recipe(BEN + "do_raise_objection")
def _ben_objection(w):
    from popreg.benefits import actions

    disclosure, decision = _ben_village_level(w)
    return lambda: actions.do_raise_objection(w.admin, disclosure, decision, objector="村民甲", what="孩子已随母外出")


@recipe(BEN + "do_resolve_objection")
def _ben_resolve(w):
    from popreg.benefits import actions

    disclosure, decision = _ben_village_level(w)
    objection = actions.do_raise_objection(w.admin, disclosure, decision, objector="村民甲", what="孩子已随母外出")
    return lambda: actions.do_resolve_objection(w.admin, objection, uphold=False, reason="经核实仍在本村居住")


@recipe(BEN + "do_approve_run")
def _ben_approve(w):
    from popreg.benefits import actions

    from ..benefits.conftest import disclose

    run = disclose(_ben_run(w), w.admin)
    approver = _ben_approver(w)
    return lambda: actions.do_approve_run(approver, run)


@recipe(BEN + "do_make_payment_batch")
def _ben_payment_batch(w):
    from popreg.benefits import actions

    from ..benefits.conftest import disclose

    approver = _ben_approver(w)
    actions.do_approve_run(approver, disclose(_ben_run(w), w.admin))
    return lambda: actions.do_make_payment_batch(approver, programme="childcare_subsidy", month=BEN_MONTH)


@recipe(BEN + "do_import_return")
def _ben_return(w):
    from popreg.benefits import actions

    batch = _ben_batch(w)
    rows = [actions.ReturnRow(row=i + 2, payment_id=ln.payment_id, status="paid", paid_on=date(2025, 10, 20))
            for i, ln in enumerate(batch.lines.order_by("id"))]
    assert rows
    return lambda: actions.do_import_return(w.admin, batch, rows)


@recipe(BEN + "do_resubmit_failures")
def _ben_resubmit(w):
    from popreg.benefits import actions

    from ..benefits.conftest import pay_all

    batch = _ben_batch(w)
    pay_all(batch, w.admin, failed={ln.payment_id: "账户已销户" for ln in batch.lines.all()})
    return lambda: actions.do_resubmit_failures(w.admin, batch)


def _ben_recovery_rows(w):
    from decimal import Decimal

    from popreg.benefits import actions

    child = w.people["child"]
    return [actions.RecoveryRow(kind="overpayment", person_id=child.pk, payee_person_id=w.people["mother"].pk,
                                month=date(2025, 9, 1), amount_yuan=Decimal("300"), reason="九月已迁出仍发放",
                                unit_code=child.registered_unit_id)]


@recipe(BEN + "do_list_recoveries")
def _ben_list_recoveries(w):
    from popreg.benefits import actions

    run = _ben_run(w)
    rows = _ben_recovery_rows(w)
    return lambda: actions.do_list_recoveries(w.admin, programme="childcare_subsidy", run=run, rows=rows)


@recipe(BEN + "do_settle_recovery")
def _ben_settle_recovery(w):
    from popreg.benefits import actions

    run = _ben_run(w)
    (recovery,) = actions.do_list_recoveries(w.admin, programme="childcare_subsidy", run=run,
                                             rows=_ben_recovery_rows(w))
    return lambda: actions.do_settle_recovery(w.admin, recovery, note="已从十月发放中扣回")


# ---------------------------------------------------------------- exchange transport

EXT = "popreg.exchange."


def _exchange_identity(w):
    """This deployment's identity (its key in the test's folder) and a trusted peer."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from popreg.exchange import actions, crypto

    w.settings.POPREG_EXCHANGE_KEY_DIR = w.tmp / "keys"
    actions.do_create_identity(w.admin, code="110105", url="http://127.0.0.1:9/")
    jwk = crypto.public_jwk(Ed25519PrivateKey.generate().public_key())
    return {"kind": "popreg-exchange-identity", "v": 1, "code": "330102", "url": "http://127.0.0.1:9/",
            "public_jwk": jwk, "thumbprint": crypto.thumbprint(jwk)}


@recipe(EXT + "actions.do_create_identity")
def _ex_identity(w):
    from popreg.exchange import actions

    w.settings.POPREG_EXCHANGE_KEY_DIR = w.tmp / "keys"
    return lambda: actions.do_create_identity(w.admin, code="110105", url="http://127.0.0.1:9/")


@recipe(EXT + "actions.do_trust_peer")
def _ex_trust(w):
    from popreg.exchange import actions

    doc = _exchange_identity(w)
    return lambda: actions.do_trust_peer(w.admin, doc)


@recipe(EXT + "actions.do_deliver")
def _ex_deliver(w):
    from popreg.exchange import actions

    actions.do_trust_peer(w.admin, _exchange_identity(w))
    return lambda: actions.do_deliver(w.admin)


@recipe(EXT + "actions.do_requeue_failed")
def _ex_requeue(w):
    from popreg.exchange import actions, outbox
    from popreg.exchange.models import OutboxMessage

    actions.do_trust_peer(w.admin, _exchange_identity(w))
    msg = outbox.queue("330102", "whereabouts_confirmed", {"name": "王芳"}, {})
    OutboxMessage.objects.filter(pk=msg.pk).update(status="failed")
    return lambda: actions.do_requeue_failed(w.admin)


@recipe(EXT + "bundle.do_export_bundle")
def _ex_export(w):
    from popreg.exchange import actions, bundle, outbox

    actions.do_trust_peer(w.admin, _exchange_identity(w))
    outbox.queue("330102", "whereabouts_confirmed", {"name": "王芳"}, {})
    return lambda: bundle.do_export_bundle(w.admin, "330102", w.tmp / "bundle.jws")


@recipe(EXT + "bundle.do_import_bundle")
def _ex_import(w):
    from popreg.exchange import actions, bundle

    actions.do_trust_peer(w.admin, _exchange_identity(w))
    return lambda: bundle.do_import_bundle(w.admin, "not a bundle")  # refused whole: audited too


# exchange review and planning


def _in_review(w):
    """A notification from a trusted peer naming a 刘洋 of whom the county has two (villages
    A1 and B1, same birth day, no ID number in the message): it waits for review."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from popreg.exchange import actions, inbox
    from popreg.exchange.models import Channel, InboxMessage
    from popreg.registry import actions as reg

    from ..exchange.conftest import PEER, Remote

    w.settings.POPREG_EXCHANGE_KEY_DIR = w.tmp / "keys"
    actions.do_create_identity(w.admin, code="110105", url="http://127.0.0.1:9/")
    remote = Remote(PEER, Ed25519PrivateKey.generate())
    actions.do_trust_peer(w.admin, remote.identity())
    found = []
    for unit, seq in ((VILLAGE_A1, 21), (VILLAGE_B1, 22)):
        hh = reg.do_create_household(w.admin, unit_code=unit, address="测试地址")
        found.append(reg.do_register_birth(w.admin, name="刘洋", sex="M", birth_date=date(1990, 3, 3),
                                           registered_unit_code=unit, household=hh,
                                           id_number=make_id(date(1990, 3, 3), "M", seq)))
    msg = remote.message("migrant_registered", subject={"name": "刘洋", "sex": "M", "birth_date": "1990-03-03"},
                         payload={"residence_unit": "330102001001", "residence_unit_name": "湖滨某社区"})
    assert inbox.receive(remote.sign(msg), Channel.HTTP).status == "review"
    return InboxMessage.objects.get(message_id=msg.id), found[0]


@recipe(EXT + "review.do_accept_candidate")
def _ex_accept(w):
    from popreg.exchange import review

    message, person = _in_review(w)
    return lambda: review.do_accept_candidate(w.admin, message.pk, person.pk)


@recipe(EXT + "review.do_link_person")
def _ex_link(w):
    from popreg.exchange import review

    message, person = _in_review(w)
    return lambda: review.do_link_person(w.admin, message.pk, person.pk, "电话核实为同一人")


@recipe(EXT + "review.do_reject_message")
def _ex_reject(w):
    from popreg.exchange import review

    message, _ = _in_review(w)
    return lambda: review.do_reject_message(w.actors["officer_a"], message.pk, "对方信息不足")


PLAN = "popreg.planning.actions."


@recipe(PLAN + "do_save_scenario")
def _plan_scenario(w):
    from popreg.planning import actions

    return lambda: actions.do_save_scenario(
        w.admin, code="low_tfr", name_zh="低生育", name_en="Low fertility", tfr_offset="-0.2",
        tfr_target="", path_years="5", e0_gain_per_year="0.1", migration_factor="1")


@recipe(PLAN + "do_save_norm")
def _plan_norm(w):
    from popreg.planning import actions

    return lambda: actions.do_save_norm(w.admin, key="grain_per_person", value="800",
                                        valid_from="2024-01-01", source="县粮食安全规划")


@recipe(PLAN + "do_save_figure")
def _plan_figure(w):
    from popreg.planning import actions

    return lambda: actions.do_save_figure(w.admin, kind="school_primary", unit_code=TOWN_A, year="2024",
                                          value="1200", source="县教育局")


# ---------------------------------------------------------------- outside sources (popreg.sources)

SRC = "popreg.sources.actions."
SOURCE_CSV = "编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\nDN9,王秀英,女,,1990-03-04,2025-09-01,{unit}\n"


def _source_file():
    from popreg.sources.reading import parse_source

    return parse_source(SOURCE_CSV.format(unit=VILLAGE_A1).encode(), "dn.csv", "death_notices")


@recipe(SRC + "do_import_source")
def _sources_import(w):
    from popreg.sources.actions import do_import_source

    return lambda: do_import_source(w.admin, _source_file(), [], feed=False)


@recipe(SRC + "do_review_link")
def _sources_review(w):
    from popreg.sources.actions import do_import_source, do_review_link
    from popreg.sources.linking import Proposal

    mother = w.people["mother"]
    batch = do_import_source(w.admin, _source_file(), [Proposal("DN9", "deceased", mother.pk, 0.5, "model")],
                             feed=False).batch
    link = batch.entries.get().links.get()
    return lambda: do_review_link(w.clerk, link, "accept", feed=False)


# ---------------------------------------------------------------- the test


@pytest.fixture(scope="module", autouse=True)
def _probe_job_kind():
    from popreg.registry import jobs

    def handler(ctx: jobs.JobContext) -> None:
        ctx.progress(1, 1, "done")

    jobs.register(jobs.JobKind(name="t_audit_probe", label="Probe", permission=jobs.Permission.RUN_DEDUP,
                               handler=handler))


@pytest.fixture
def world(people, actors, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    return SimpleNamespace(people=people, actors=actors, admin=actors["admin"], clerk=actors["clerk_a1"],
                           settings=settings, tmp=tmp_path)


def test_actions_are_found():
    assert REG + "persons.do_register_birth" in ACTIONS and "popreg.linkage.actions.do_merge_persons" in ACTIONS
    assert len(ACTIONS) >= 30


def test_every_recipe_is_for_an_action_that_exists():
    assert not sorted(set(RECIPES) - set(ACTIONS)), "a recipe for an action that no longer exists"


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_writes_an_audit_record(name, world):
    assert name in RECIPES, (
        f"{name} has no recipe in tests/registry/test_every_action_audits.py: add one that calls it "
        "with valid input, so that the test can check the action is audited"
    )
    call = RECIPES[name](world)
    last = AuditRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    call()
    written = list(AuditRecord.objects.filter(pk__gt=last).values_list("action", flat=True))
    assert written, f"{name} wrote no audit record"
    assert set(written) <= set(AuditAction.values), f"{name} wrote unknown actions {set(written)}"
