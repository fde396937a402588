"""Each migrant form lands on its page with a message saying what was recorded."""

from __future__ import annotations

import pytest

from ..conftest import VILLAGE_A1, VILLAGE_A2
from .conftest import ORIGIN

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_migrant_forms_say_what_was_recorded(client, users, migrant):
    client.force_login(users["admin"])
    form = {"name": "刘洋", "sex": "F", "birth_date": "1990-02-01", "origin_code": ORIGIN,
            "residence_unit": VILLAGE_A1, "arrival_date": "2024-02-10", "reason": "work"}
    r = client.post("/migrants/in/new/", form, follow=True)
    assert _messages(r)[-1:] == ["已登记流入人口 刘洋。"]
    url = f"/migrants/in/{migrant.pk}/"
    r = client.post(url + "move/", {"residence_unit": VILLAGE_A2, "move_date": "2024-05-01"}, follow=True)
    assert r.redirect_chain[-1][0] == url and _messages(r) == ["已登记居住地变更。"]
    r = client.post(url + "permit/", {"applied_on": "2024-08-01", "condition": "work", "evidence": "劳动合同"},
                    follow=True)
    assert _messages(r) == ["已登记居住证申领。"]
    r = client.post(url + "depart/", {"departure_date": "2024-09-01", "destination_code": ORIGIN}, follow=True)
    assert _messages(r) == ["已登记离开。"]
