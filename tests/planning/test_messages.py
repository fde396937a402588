"""Saving a planning scenario lands on the scenarios page with a message."""

from __future__ import annotations

import pytest

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_saved_scenario_is_announced(client, users):
    assert client.login(username="statistician", password=PASSWORD)
    form = {"code": "policy", "name_zh": "政策方案", "name_en": "policy", "tfr_offset": "0.5", "tfr_target": "",
            "path_years": "3", "e0_gain_per_year": "0.2", "migration_factor": "1"}
    r = client.post("/planning/scenarios/", form, follow=True)
    assert r.redirect_chain[-1][0] == "/planning/scenarios/"
    assert [str(m) for m in r.context["messages"]] == ["预测方案 policy 已保存。"]
