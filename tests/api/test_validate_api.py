"""POST /api/validate: every problem of a record in one 422 answer; nothing is saved."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from popreg.registry.models import AuditRecord, Event, Person

from ..conftest import make_id


@pytest.fixture
def post(client, users):
    def send(name, body, **headers):
        if name:
            client.force_login(users[name])
        return client.post("/api/validate", json.dumps(body), content_type="application/json", **headers)

    return send


def _rows():
    from popreg.registry.audit import AuditAction

    signing = [AuditAction.LOGIN, AuditAction.LOGOUT, AuditAction.LOGIN_FAILED]
    return (Person.objects.count(), Event.objects.count(),
            AuditRecord.objects.exclude(action__in=signing).count())


def test_every_problem_of_a_birth_at_once(post, people):
    before = _rows()
    future = (date.today() + timedelta(days=3)).isoformat()
    r = post("clerk_a1", {"kind": "birth", "sex": "M", "birth_date": future, "id_number": "110105194912310023",
                          "ethnicity": "火星族", "mother": "424242"})
    assert r.status_code == 422
    body = r.json()
    assert body["ok"] is False
    by_field: dict[str, list[str]] = {}
    for p in body["problems"]:
        by_field.setdefault(p["field"], []).append(p["code"])
        assert p["message_zh"] and p["message_en"]
    assert by_field["birth_date"] == ["date_future"]
    assert "id_checksum" in by_field["id_number"]
    assert by_field["ethnicity"] == ["ethnicity_unknown"]
    assert by_field["mother"] == ["parent_not_found"]
    assert _rows() == before  # nothing saved, nothing audited


def test_a_plausible_birth_is_ok(post, people):
    r = post("clerk_a1", {"kind": "birth", "sex": "F", "birth_date": "2024-06-01",
                          "id_number": make_id(date(2024, 6, 1), "F", 30), "ethnicity": "蒙古",
                          "mother": str(people["mother"].pk)})
    assert r.status_code == 200, r.json()
    assert r.json() == {"ok": True, "message": "没有发现问题 / no problem found", "problems": []}


def test_move_out_of_a_stored_person(post, people):
    r = post("clerk_a1", {"kind": "move_out", "person": people["mother"].pk, "event_date": "1980-01-01",
                          "destination_code": "999999999999"})
    assert r.status_code == 422
    codes = {(p["field"], p["code"]) for p in r.json()["problems"]}
    assert codes == {("event_date", "date_before_birth"), ("destination_code", "division_unknown")}


def test_bad_dates_and_kind_are_listed_too(post, people):
    r = post("clerk_a1", {"kind": "move_in", "birth_date": "1990-02-30", "event_date": "2020-01-01",
                          "sex": "X", "origin_code": "110112"})
    assert r.status_code == 422
    codes = {(p["field"], p["code"]) for p in r.json()["problems"]}
    assert codes == {("birth_date", "date_invalid"), ("sex", "sex_unknown")}
    r = post("clerk_a1", {"kind": "wedding"})
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "kind_unknown"


def test_a_person_outside_the_jurisdiction_is_not_found(post, people):
    r = post("clerk_a1", {"kind": "death", "person": people["other"].pk, "event_date": "2025-01-01"})
    assert r.status_code == 404
    assert post("admin", {"kind": "death", "person": people["other"].pk,
                          "event_date": "2025-01-01"}).status_code == 200


def test_a_read_only_token_may_check(client, people, actors):
    from popreg.registry.actions import do_create_api_token

    secret = do_create_api_token(actors["clerk_a1"], "hospital system")[1]
    r = client.post("/api/validate", json.dumps({"kind": "person", "ethnicity": "火星族"}),
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "ethnicity_unknown"
    anonymous = client.post("/api/validate", "{}", content_type="application/json")
    assert anonymous.status_code == 401
