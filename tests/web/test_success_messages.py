"""A success message after every action outside the person forms (those are in
test_navigation.py): duplicate decisions and merges, user and token management; the user
form chooses its unit with the type-ahead picker."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model

from popreg.registry import actions
from popreg.registry.models import ApiToken

from ..conftest import VILLAGE_A1

pytestmark = pytest.mark.django_db
GOOD = "晴天-river-4471-lantern"


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _pair(people, actors):
    from popreg.linkage.models import DuplicateCandidate

    twin = actions.do_register_birth(actors["admin"], name="王秀英", sex="F", birth_date=date(1990, 3, 4),
                                     registered_unit_code=VILLAGE_A1)
    return DuplicateCandidate.objects.create(person_a=people["mother"], person_b=twin, match_weight=12.0,
                                             match_probability=0.97), twin


def test_duplicate_decision_and_merge_say_what_was_done(login, people, actors):
    c = login("admin")
    cand, twin = _pair(people, actors)
    r = c.post(f"/linkage/candidates/{cand.pk}/decide/", {"decision": "different_people", "reason": "不同出生地"},
               follow=True)
    assert _messages(r) == ["已决定：两条记录是不同的人。"]
    cand2, twin2 = _pair(people, actors)
    r = c.post(f"/linkage/candidates/{cand2.pk}/merge/", {"survivor": str(people["mother"].pk),
                                                         "merge_reason": "同一人"}, follow=True)
    assert r.redirect_chain[-1][0] == f"/linkage/candidates/{cand2.pk}/"
    assert _messages(r) == [f"编号 {twin2.pk} 已合并到编号 {people['mother'].pk}，两条记录的历史都保留。"]


def test_user_and_token_management_say_what_was_done(login, users):
    c = login("admin")
    page = c.get("/users/new/").content.decode()
    assert 'list="id_unit_code_units"' in page and f'<option value="{VILLAGE_A1}">' in page
    r = c.post("/users/new/", {"username": "xinren", "full_name": "王芳", "role": "village_clerk",
                               "unit_code": "东关村民委员会", "password": GOOD}, follow=True)
    assert _messages(r) == ["已创建用户 xinren。"]
    new = get_user_model().objects.get(username="xinren")
    assert new.assignment.unit_id == VILLAGE_A1  # the unit typed by its name
    r = c.post(f"/users/{new.pk}/password/", {"password": GOOD + "x"}, follow=True)
    assert _messages(r) == ["已重置 xinren 的密码。"]
    r = c.post(f"/users/{new.pk}/deactivate/", follow=True)
    assert _messages(r) == ["已停用用户 xinren。"]
    c.post("/tokens/", {"name": "报表脚本", "days": 30})
    token = ApiToken.objects.get(name="报表脚本")
    r = c.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert _messages(r) == ["已吊销 API 令牌 报表脚本。"]
