"""Read API: jurisdiction on every path, authentication, pagination, masking, audit."""

from __future__ import annotations

import base64

import pytest

from popreg.registry.models import AuditRecord

from ..conftest import PASSWORD, VILLAGE_A1, VILLAGE_B1


@pytest.fixture
def client_as(client, users):
    def login(name):
        client.force_login(users[name])
        return client

    return login


def basic(name, password=PASSWORD):
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def token_of(actors):
    from popreg.registry.actions import do_create_api_token

    def make(name, **kw):
        return do_create_api_token(actors[name], "script", **kw)[1]

    return make


def test_passwords_are_not_accepted_by_the_api(client, people):
    assert client.get("/api/persons", **basic("clerk_a1", "nope")).status_code == 401
    assert client.get("/api/persons", **basic("clerk_a1")).status_code == 401


def test_token_auth_for_scripts(client, people, token_of):
    from popreg.registry.models import ApiToken

    r = client.get("/api/persons", **bearer(token_of("clerk_a1")))
    assert r.status_code == 200
    names = {p["name"] for p in r.json()["items"]}
    assert names == {"王秀英", "張偉"}
    assert ApiToken.objects.get().last_used_at is not None
    assert client.get("/api/persons", **bearer("prg_not-a-token")).status_code == 401


def test_clerk_never_sees_another_village(client_as, people):
    c = client_as("clerk_a1")
    other, hh_b = people["other"], people["hh_b"]
    # direct URLs answer 404, exactly as for records that do not exist
    assert c.get(f"/api/persons/{other.pk}").status_code == 404
    assert c.get(f"/api/households/{hh_b.pk}").status_code == 404
    assert c.get(f"/api/units/{VILLAGE_B1}").status_code == 404
    assert c.get(f"/api/units/{VILLAGE_B1}/children").status_code == 404
    assert c.get(f"/api/households?unit={VILLAGE_B1}").status_code == 404
    # lists and search
    ids = {p["id"] for p in c.get("/api/persons?page_size=200").json()["items"]}
    assert other.pk not in ids and people["mother"].pk in ids
    for q in ("李娜", "lina", other.id_number, other.id_number[-6:], hh_b.household_no):
        found = {p["id"] for p in c.get("/api/persons", {"q": q}).json()["items"]}
        assert other.pk not in found, q
    assert [h["household_no"] for h in c.get("/api/households").json()["items"]] == [
        people["hh_a"].household_no]
    codes = {u["code"] for u in c.get("/api/units").json()["items"]}
    assert codes == {VILLAGE_A1}


def test_county_roles_see_everything_and_search_works(client_as, people):
    c = client_as("statistician")  # read-only role can read
    other = people["other"]
    assert c.get(f"/api/persons/{other.pk}").status_code == 200
    found = {p["id"] for p in c.get("/api/persons", {"q": "lina"}).json()["items"]}
    assert found == {other.pk}
    found = {p["id"] for p in c.get("/api/persons", {"q": other.id_number[-6:]}).json()["items"]}
    assert other.pk in found
    found = {p["id"] for p in c.get("/api/persons", {"q": "张伟"}).json()["items"]}
    assert found == {people["child"].pk}


def test_lists_mask_ids_and_detail_shows_full_id_with_audit(client_as, people):
    c = client_as("auditor")
    mother = people["mother"]
    item = next(p for p in c.get("/api/persons").json()["items"] if p["id"] == mother.pk)
    assert "id_number" not in item
    assert item["id_number_masked"] == mother.id_number[:4] + "*" * 10 + mother.id_number[-4:]
    before = AuditRecord.objects.filter(action="read_id_number").count()
    d = c.get(f"/api/persons/{mother.pk}").json()
    assert d["id_number"] == mother.id_number
    assert [e["event_type"] for e in d["events"]] == ["birth"]
    rec = AuditRecord.objects.filter(action="read_id_number").first()
    assert AuditRecord.objects.filter(action="read_id_number").count() == before + 1
    assert rec.target_id == str(mother.pk) and rec.actor_name == "auditor"
    hh = c.get(f"/api/households/{people['hh_a'].pk}").json()
    assert hh["members"] == 2
    assert all("*" in m["id_number_masked"] for m in hh["member_list"])


def test_units_tree_and_pagination(client_as, people):
    c = client_as("admin")
    r = c.get("/api/units", {"page_size": 2}).json()
    assert r["count"] == 6 and len(r["items"]) == 2
    r2 = c.get("/api/units", {"page_size": 2, "page": 2}).json()
    assert {u["code"] for u in r["items"]}.isdisjoint({u["code"] for u in r2["items"]})
    kids = c.get("/api/units/110105001000/children").json()["items"]
    assert [u["code"] for u in kids] == ["110105001001", "110105001002"]
    d = c.get(f"/api/units/{VILLAGE_A1}").json()
    assert d["registered_population"] == 2 and d["households"] == 1 and d["parent_name"] == "城关镇"
    listed = c.get("/api/persons", {"unit": VILLAGE_B1}).json()["items"]
    assert [p["name"] for p in listed] == ["李娜"]


def test_account_without_jurisdiction_gets_403(client, county):
    from django.contrib.auth import get_user_model

    u = get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    client.force_login(u)
    assert client.get("/api/persons").status_code == 403


def test_openapi_and_docs_are_served_to_logged_in_users(client, users):
    assert client.get("/api/openapi.json").status_code == 302
    docs = client.get("/api/docs")
    assert docs.status_code == 302 and docs["Location"].startswith("/login/")
    client.force_login(users["clerk_a1"])
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for p in ("/api/units", "/api/units/{code}", "/api/units/{code}/children", "/api/households",
              "/api/households/{household_id}", "/api/persons", "/api/persons/{person_id}"):
        assert p in paths
    assert client.get("/api/docs").status_code == 200
