"""A village clerk never sees a person of another village: search, list, direct URL, forms,
export.  A township officer sees every village of the township and nothing beyond.

Refusals are 404 (a record outside the jurisdiction looks like one that does not exist) or
403, never the data; nothing is written, and no ID read is audited.
"""

from __future__ import annotations

import csv
import io

import pytest

from popreg.core.privacy import mask_id

from ..conftest import COUNTY, TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_A2, VILLAGE_B1


@pytest.fixture
def outsider(people):
    """李娜, registered in village B1 (township B)."""
    return people["other"]


def refused(response) -> bool:
    return response.status_code in (403, 404)


def no_trace(response, person, *, name: bool = True) -> bool:
    """Neither the record's link, its ID number (full or masked) nor (unless it was typed
    into the search box) its name is on the page."""
    body = response.content.decode() if not response.streaming else b"".join(response.streaming_content).decode()
    marks = [f'href="/persons/{person.pk}/"', person.id_number, mask_id(person.id_number)]
    if name:
        marks.append(person.name)
    return not any(m in body for m in marks)


@pytest.mark.parametrize("query", ["李娜", "lina", "LI NA", "partial ID"])
def test_search_does_not_find_another_village(login, outsider, query):
    if query == "partial ID":
        query = outsider.id_number[-6:]
    r = login("clerk_a1").get("/search/", {"q": query})
    assert r.status_code == 200 and no_trace(r, outsider, name=False)
    # ...while the clerk of that village finds her.
    assert outsider.name in login("clerk_b1").get("/search/", {"q": query}).content.decode()


def test_search_by_full_id_and_household_number(login, outsider, people):
    c = login("clerk_a1")
    for q in (outsider.id_number, people["hh_b"].household_no):
        page = c.get("/search/", {"q": q}).content.decode()
        assert f"/persons/{outsider.pk}/" not in page and outsider.name not in page, q


@pytest.mark.parametrize("path", [
    f"/units/{VILLAGE_B1}/", f"/units/{VILLAGE_B1}/persons/", f"/units/{VILLAGE_B1}/persons.csv",
    f"/units/{TOWN_B}/", f"/units/{TOWN_B}/persons/", f"/units/{TOWN_B}/persons.csv",
    f"/units/{TOWN_A}/", f"/units/{COUNTY}/persons/", f"/units/{COUNTY}/persons.csv",
])
def test_unit_pages_lists_and_exports_outside_are_refused(login, outsider, path, counts):
    before = counts()
    r = login("clerk_a1").get(path)
    assert refused(r) and no_trace(r, outsider)
    assert counts() == before  # no export audited, nothing written


def test_person_and_household_pages_outside_are_refused(login, outsider, people, counts):
    c = login("clerk_a1")
    before = counts()
    for path in (f"/persons/{outsider.pk}/", f"/households/{people['hh_b'].household_no}/"):
        r = c.get(path)
        assert refused(r) and no_trace(r, outsider), path
    assert counts() == before  # in particular no "view_id_number" audit


@pytest.mark.parametrize("action, data", [
    ("death", {"death_date": "2025-01-01"}),
    ("move-out", {"move_date": "2025-01-01", "destination_code": "440106"}),
    ("transfer", {"to_unit": VILLAGE_A1, "move_date": "2025-01-01", "household_no": ""}),
    ("marriage", {"marriage_date": "2025-01-01"}),
    ("correct", {"name": "改名", "reason": "x"}),
    ("divorce", {"divorce_date": "2025-01-01"}),
    ("enlistment", {"enlistment_date": "2025-01-01"}),
    ("discharge", {"discharge_date": "2025-01-01", "to_unit": VILLAGE_A1}),
])
def test_forms_on_a_person_outside_are_refused(login, outsider, counts, action, data):
    c = login("clerk_a1")
    before = counts()
    url = f"/persons/{outsider.pk}/{action}/"
    for r in (c.get(url), c.post(url, data)):
        assert refused(r) and no_trace(r, outsider)
    assert counts() == before
    outsider.refresh_from_db()
    assert outsider.status == "active" and outsider.name == "李娜"


def test_birth_into_another_village_is_refused(login, people, counts):
    before = counts()
    c = login("clerk_a1")
    form = c.get("/register/birth/").content.decode()
    assert VILLAGE_B1 not in form and VILLAGE_A2 not in form  # only the clerk's own village
    r = c.post("/register/birth/", {"name": "赵六", "sex": "M", "birth_date": "2024-01-01",
                                    "registered_unit": VILLAGE_B1, "ethnicity": "汉族"})
    assert r.status_code == 400 and "registered_unit" in r.content.decode()
    r = c.post("/register/birth/", {"name": "赵六", "sex": "M", "birth_date": "2024-01-01",
                                    "registered_unit": VILLAGE_A1, "ethnicity": "汉族",
                                    "household_no": people["hh_b"].household_no,
                                    "mother": str(people["other"].pk)})
    assert r.status_code == 400
    assert counts() == before


def test_own_export_leaves_out_other_villages(login, people, outsider):
    r = login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons.csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert {row[1] for row in rows[2:]} == {"王秀英", "張偉"}


def test_township_officer_sees_both_villages_not_the_other_township(login, people, actors, outsider):
    from datetime import date

    from popreg.registry import actions

    in_a2 = actions.do_register_birth(actors["admin"], name="周敏", sex="F", birth_date=date(2000, 2, 2),
                                      registered_unit_code=VILLAGE_A2)
    c = login("officer_a")
    for p in (people["mother"], in_a2):
        assert c.get(f"/persons/{p.pk}/").status_code == 200
    page = c.get(f"/units/{TOWN_A}/persons/").content.decode()
    assert "王秀英" in page and "周敏" in page and "李娜" not in page
    assert c.get(f"/units/{VILLAGE_A2}/").status_code == 200
    for path in (f"/persons/{outsider.pk}/", f"/units/{VILLAGE_B1}/", f"/units/{TOWN_B}/",
                 f"/households/{people['hh_b'].household_no}/", f"/units/{COUNTY}/"):
        assert refused(c.get(path)), path
    assert no_trace(c.get("/search/", {"q": "李娜"}), outsider, name=False)
    # The clerk of A1 does not see A2 either.
    assert c.get(f"/persons/{in_a2.pk}/").status_code == 200
    assert login("clerk_a1").get(f"/persons/{in_a2.pk}/").status_code == 404


def test_a_migrant_living_in_the_village_is_visible_to_its_clerk(login, outsider, actors):
    from popreg.registry import actions

    actions.do_correct_person(actors["admin"], outsider, changes={"residence_unit_id": VILLAGE_A1,
                                                                 "residence_type": "floating_out"},
                              reason="人户分离")
    assert login("clerk_a1").get(f"/persons/{outsider.pk}/").status_code == 200


def test_user_without_jurisdiction_sees_nothing(client, county, people):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("nobody", password="pw-123456")
    client.login(username="nobody", password="pw-123456")
    assert client.get("/").status_code == 403
    assert client.get("/search/", {"q": "李娜"}).status_code == 403
    assert client.get(f"/persons/{people['other'].pk}/").status_code == 403


def test_refusals_are_explained_in_chinese(login, outsider, settings):
    settings.DEBUG = False
    c = login("clerk_a1")
    page = c.get(f"/persons/{outsider.pk}/").content.decode()
    assert "该记录不存在，或不在您的辖区内" in page
    ro = login("statistician").get("/register/birth/")
    assert ro.status_code == 403 and "只读" in ro.content.decode()
