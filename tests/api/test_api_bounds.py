"""Query and path parameters are bounded: no value a client can send makes the API answer
500; a page past the end is an empty page."""

from __future__ import annotations

import pytest

HUGE = str(10**30)


@pytest.fixture
def county_client(client, users, people):
    client.force_login(users["admin"])
    return client


@pytest.mark.parametrize("url", ["/api/persons", "/api/households", "/api/units"])
@pytest.mark.parametrize("page", [HUGE, "-1", "0", "abc", "1e9", "2000001"])
def test_a_page_out_of_range_is_a_json_400_class_answer(county_client, url, page):
    r = county_client.get(url, {"page": page})
    assert r.status_code == 422, r.content
    assert r.json()["detail"]  # pydantic's account
    assert "参数无效：page" in r.json()["message"] and "invalid parameter: page" in r.json()["message"]


@pytest.mark.parametrize("url", ["/api/persons", "/api/households", "/api/units"])
def test_a_page_past_the_end_is_empty(county_client, url):
    r = county_client.get(url, {"page": 1_000_000, "page_size": 200})
    assert r.status_code == 200
    assert r.json()["items"] == [] and r.json()["count"] > 0


@pytest.mark.parametrize("size", [HUGE, "0", "-5", "x"])
def test_page_size_is_bounded(county_client, size):
    assert county_client.get("/api/persons", {"page_size": size}).status_code == 422
    assert len(county_client.get("/api/persons", {"page_size": 200}).json()["items"]) <= 200


@pytest.mark.parametrize("url", [f"/api/persons/{HUGE}", f"/api/households/{HUGE}", "/api/persons/-1"])
def test_huge_or_negative_ids_are_not_found(county_client, url):
    r = county_client.get(url)
    assert r.status_code in (404, 422), r.content


@pytest.mark.parametrize("param", ["q", "unit", "level", "parent", "status"])
def test_overlong_text_parameters_are_refused(county_client, param):
    url = "/api/units" if param in ("level", "parent") else "/api/persons"
    r = county_client.get(url, {param: "张" * 10_000})
    assert r.status_code == 422, r.content


def test_unknown_unit_in_a_filter_is_not_found(county_client):
    assert county_client.get("/api/persons", {"unit": HUGE}).status_code == 404
    assert county_client.get(f"/api/units/{HUGE}").status_code == 404
