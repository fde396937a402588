"""Campaign messages and pages name dates and items in words, never by field name: the
phase dates of the creation form (preparation_end → 准备阶段结束日期), the wrong item of a
field outcome on the capture page (birth_date → 出生日期), in Chinese and English."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from popreg.campaigns import actions
from popreg.campaigns.actions import CampaignError

from ..conftest import COUNTY, VILLAGE_A1
from .conftest import DATES, advance_to

IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def test_phase_dates_out_of_order_are_named_in_words(actors, people):
    bad = {**DATES, "preparation_end": DATES["preparation_start"].replace(day=1).replace(month=8)}
    with pytest.raises(CampaignError) as refused:
        actions.do_create_campaign(actors["admin"], name="x", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=bad)
    err = refused.value
    assert "准备阶段结束日期早于准备阶段开始日期" in err.message_zh
    assert "the end of the preparation phase is before the start of the preparation phase" in err.message_en
    assert not IDENTIFIER.search(err.message_zh) and not IDENTIFIER.search(err.message_en)
    missing = {k: v for k, v in DATES.items() if k != "summary_end"}
    with pytest.raises(CampaignError) as refused:
        actions.do_create_campaign(actors["admin"], name="x", scope_codes=[COUNTY],
                                   reference_moment=datetime(2025, 11, 1), dates=missing)
    assert "缺少总结验收阶段结束日期" in refused.value.message_zh
    assert not IDENTIFIER.search(refused.value.message_en)


def test_capture_page_names_the_wrong_item(client, users, campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    actions.do_record_outcome(actors["clerk_a1"], campaign, people["mother"], outcome="field_wrong",
                              field_name="birth_date", corrected_value="1990-03-05")
    client.force_login(users["clerk_a1"])
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/capture/"
    page = client.get(url).content.decode()
    recorded = re.search(r'<div class="recorded">(.*?)</div>', page).group(1)
    assert "出生日期" in recorded and "1990-03-05" in recorded and "birth_date" not in recorded
    client.cookies["django_language"] = "en"
    page = client.get(url).content.decode()
    recorded = re.search(r'<div class="recorded">(.*?)</div>', page).group(1)
    assert "Birth date" in recorded and "birth_date" not in recorded


def test_an_unknown_item_lists_the_items_in_words(actors, campaign, people):
    advance_to(campaign, "verification", actors["admin"])
    with pytest.raises(CampaignError) as refused:
        actions.do_record_outcome(actors["clerk_a1"], campaign, people["mother"], outcome="field_wrong",
                                  field_name="shoe_size", corrected_value="42")
    assert "birth date" in refused.value.message_en and not IDENTIFIER.search(
        refused.value.message_en.replace("shoe_size", ""))
