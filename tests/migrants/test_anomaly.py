"""The campaign anomaly ``unreported_migrant`` and the field list's in-migrants."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from popreg.campaigns.anomalies import ANOMALY_TYPES, detect_anomalies
from popreg.migrants import actions
from popreg.registry.snapshot import write_registry_snapshot

from ..conftest import VILLAGE_A1
from .conftest import ORIGIN

pytestmark = pytest.mark.django_db


def _in_migrant(actors, name, arrival, place, day):
    return actions.register_in_migrant(
        actors["admin"], residence_unit_code=VILLAGE_A1, arrival_date=arrival, origin_code=ORIGIN,
        reason="work", name=name, sex="F", birth_date=date(1990, 1, day), place=place)


def test_unreported_tenant_becomes_an_anomaly(people, actors, tmp_path, settings):
    settings.POPREG_MIGRANT_REPORT_DAYS = 3
    today = date.today()
    place = actions.save_place(actors["admin"], kind="rental", name="王家出租屋", address="东关村7号",
                               unit_code=VILLAGE_A1, contact_name="王房东")
    late = _in_migrant(actors, "迟报人", today - timedelta(days=10), place, 1)  # never reported
    reported = _in_migrant(actors, "已报人", today - timedelta(days=10), place, 2)
    actions.report_occupant(actors["admin"], place, reported.person_id, since=today - timedelta(days=10),
                            reported_on=today - timedelta(days=9))
    _in_migrant(actors, "新来人", today - timedelta(days=1), place, 3)  # still within the 3 days
    write_registry_snapshot(tmp_path)
    findings = [f for f in detect_anomalies(tmp_path) if f.anomaly_type == "unreported_migrant"]
    assert [f.person_id for f in findings] == [late.person_id]
    f = findings[0]
    assert f.unit_code == VILLAGE_A1 and "王家出租屋" in f.detail and "王房东未在3日内申报" in f.detail
    assert ANOMALY_TYPES["unreported_migrant"] == "流动人口未按期申报"
    settings.POPREG_MIGRANT_REPORT_DAYS = 30
    assert not [f for f in detect_anomalies(tmp_path) if f.anomaly_type == "unreported_migrant"]


def test_campaign_items_and_field_list_include_in_migrants(people, actors, tmp_path):
    from datetime import datetime

    from popreg.campaigns import actions as campaign_actions
    from popreg.campaigns.fieldlists import (
        RESIDENTS_LABEL,
        field_list_from_snapshot,
        field_list_html,
    )
    from popreg.campaigns.models import RectificationItem

    today = date.today()
    place = actions.save_place(actors["admin"], kind="employer", name="东关砖厂", address="东关村9号",
                               unit_code=VILLAGE_A1, contact_name="厂长")
    late = _in_migrant(actors, "迟报人", today - timedelta(days=30), place, 1)
    dates = {"preparation_start": today - timedelta(days=5), "preparation_end": today + timedelta(days=5),
             "verification_start": today + timedelta(days=6), "verification_end": today + timedelta(days=10),
             "rectification_start": today + timedelta(days=11), "rectification_end": today + timedelta(days=20),
             "summary_start": today + timedelta(days=21), "summary_end": today + timedelta(days=30)}
    c = campaign_actions.do_create_campaign(actors["admin"], name="整顿", scope_codes=[VILLAGE_A1],
                                            reference_moment=datetime.now(), dates=dates,
                                            spot_check_households=1, error_threshold=0.05, seed=1)
    campaign_actions.do_generate_items(actors["admin"], c)
    item = RectificationItem.objects.get(campaign=c, item_type="unreported_migrant")
    assert item.person_id == late.person_id and item.unit_id == VILLAGE_A1
    # the printed list gains the in-migrants living in the village, in a part of their own
    html = field_list_html({"code": VILLAGE_A1, "name": "东关村"}, [], {"id": c.pk, "name": "整顿"})
    assert "迟报人" in html and RESIDENTS_LABEL in html
    write_registry_snapshot(tmp_path)
    _, persons = field_list_from_snapshot(tmp_path, VILLAGE_A1)
    assert {p["name"] for p in persons if p["residence_type"] == "floating_in"} == {"迟报人"}
    assert people["mother"].name in {p["name"] for p in persons}
