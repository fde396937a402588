"""Campaign friction (issue 14, point 5), through the view layer: a phase change is
confirmed on its own page that names the units not done; refusals are errors that name
units, not codes; a campaign may cover one village; the spot check is the township's or
the county's, never the work of the clerk it checks, and the page says why a button is
missing."""

import html
import re
from datetime import datetime
from pathlib import Path

import pytest

from popreg.campaigns import actions
from popreg.campaigns.models import Campaign, ListedPerson, SignOff, SpotCheck
from popreg.campaigns.queries import scope_villages
from popreg.registry.errors import JurisdictionError, PermissionDeniedError

from ..bilingual import check_bilingual
from ..conftest import TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_A2, VILLAGE_B1
from .conftest import DATES, advance_to


@pytest.fixture
def client_for(client, users):
    def login(name, lang=None):
        client.force_login(users[name])
        if lang:
            client.cookies["django_language"] = lang
        else:
            client.cookies.pop("django_language", None)
        return client
    return login


def _text(resp):
    return html.unescape(resp.content.decode())


def _errors(page):
    """The texts of the error-styled messages of a page."""
    return re.findall(r'<li class="error">(.*?)</li>', page, flags=re.S)


def _no_inline_code(page):
    assert "<script>" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page and " onclick=" not in page


def test_advancing_asks_first_and_names_the_villages_not_done(client_for, campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    actions.do_record_outcome(actors["clerk_a1"], campaign, people["mother"], outcome="confirmed")
    c = client_for("admin")
    detail = _text(c.get(f"/campaigns/{campaign.pk}/"))
    assert 'id="advance"' in detail and 'name="confirm"' not in detail  # the button only asks
    url = f"/campaigns/{campaign.pk}/advance/"
    page = _text(c.post(url))
    campaign.refresh_from_db()
    assert campaign.phase == "verification"  # nothing changed yet
    assert "进入下一阶段：整改？" in page and "以下单位尚未完成本阶段工作" in page
    assert re.search(f'data-unit="{VILLAGE_A1}">东关村民委员会：1 人未核对<', page)
    assert re.search(f'data-unit="{VILLAGE_B1}">柳树村民委员会：1 人未核对<', page)
    assert 'id="confirm-advance"' in page and "仍然进入下一阶段" in page and 'value="yes"' in page
    _no_inline_code(page)
    english = _text(client_for("admin", "en").post(url))
    assert "These units have not finished the current phase:" in english
    assert "柳树村民委员会: 1 person not verified" in english and "未核对" not in english
    # confirmed: the campaign moves on, with a success message
    resp = client_for("admin").post(url, {"confirm": "yes"}, follow=True)
    campaign.refresh_from_db()
    assert campaign.phase == "rectification" and "已进入“整改”阶段" in _text(resp)
    # in rectification the open items are named too
    actions.do_record_outcome(actors["clerk_b1"], campaign, people["other"], outcome="died",
                              event_date="2025-10-03")
    page = _text(c.post(url))
    assert re.search("柳树村民委员会：1 个整改事项未办结<", page)
    assert re.search("东关村民委员会：1 人未核对<", page)


def test_nothing_left_to_do_says_so(client_for, campaign, people, actors):
    page = _text(client_for("admin").post(f"/campaigns/{campaign.pk}/advance/"))
    assert "各单位均已完成本阶段工作" in page and 'id="confirm-advance"' in page and "确认进入下一阶段" in page


def test_closing_without_county_sign_off_is_an_error_naming_townships(client_for, campaign, people, actors):
    advance_to(campaign, "summary", actors["admin"])
    c = client_for("admin")
    url = f"/campaigns/{campaign.pk}/advance/"
    page = _text(c.post(url))
    assert "以下乡镇尚未经县级签字验收，活动不能结束" in page and 'id="confirm-advance"' not in page
    assert re.search(r'<div class="errorlist-box" id="unfinished">', page)
    assert "城关镇：尚无县级签字" in page and "北山乡：尚无县级签字" in page
    # a forced confirmation is refused, as an error with names, never codes
    page = _text(c.post(url, {"confirm": "yes"}))
    campaign.refresh_from_db()
    assert campaign.phase == "summary"
    error = re.search(r'<div class="errorlist-box" id="advance-error" role="alert">(.*?)</div>', page).group(1)
    assert error == "以下乡镇尚未经县级签字验收：城关镇、北山乡" and TOWN_A not in error and TOWN_B not in error
    english = _text(client_for("admin", "en").post(url, {"confirm": "yes"}))
    assert "townships without county sign-off: 城关镇, 北山乡" in english


def test_refused_sign_off_is_an_error_message_with_unit_names(client_for, campaign, people, actors):
    advance_to(campaign, "summary", actors["admin"])
    resp = client_for("officer_a").post(f"/campaigns/{campaign.pk}/sign-off/",
                                        {"unit": TOWN_A, "level": "township"}, follow=True)
    errors = _errors(_text(resp))
    assert errors == ["以下村尚未村级签字：东关村民委员会、西关社区居民委员会"]
    assert VILLAGE_A1 not in errors[0] and VILLAGE_A2 not in errors[0]
    assert not SignOff.objects.exists()
    # the error style: the campaign pages' stylesheet colours an error message red, not green
    from django.contrib.staticfiles import finders

    css = Path(finders.find("popreg/campaigns.css")).read_text(encoding="utf-8")
    assert ".messages:has(> li.error) { background: #fff6f5; border-color: var(--accent); }" in css
    assert ".messages li.error { color: var(--accent)" in css


def test_a_campaign_can_cover_one_village(client_for, people, actors):
    c = client_for("admin")
    form = _text(c.get("/campaigns/new/"))
    assert f'value="{VILLAGE_A1}"' in form and "东关村民委员会" in form
    data = {"name": "东关村户口整顿", "scope_codes": [VILLAGE_A1], "reference_moment": "2025-11-01T00:00",
            **{k: v.isoformat() for k, v in DATES.items()},
            "spot_check_households": 1, "error_threshold": 0.05, "seed": 3}
    resp = c.post("/campaigns/new/", data)
    campaign = Campaign.objects.get()
    assert resp.status_code == 302, _text(resp)
    assert list(campaign.scope_units.values_list("code", flat=True)) == [VILLAGE_A1]
    assert set(ListedPerson.objects.filter(campaign=campaign).values_list("person_id", flat=True)) == {
        people["mother"].pk, people["child"].pk}
    page = _text(c.get(f"/campaigns/{campaign.pk}/"))
    assert "东关村民委员会" in page and "柳树村民委员会" not in page and "西关社区" not in page
    # the whole way to the end: verify, spot-check, sign off up the hierarchy, close
    advance_to(campaign, "verification", actors["admin"])
    for p in ("mother", "child"):
        actions.do_record_outcome(actors["clerk_a1"], campaign, people[p], outcome="confirmed")
    advance_to(campaign, "summary", actors["admin"])
    for sc in actions.do_draw_spot_check(actors["officer_a"], campaign, VILLAGE_A1):
        actions.do_record_spot_check(actors["officer_a"], sc, agrees=True)
    actions.do_sign_off(actors["clerk_a1"], campaign, VILLAGE_A1, level="village")
    actions.do_sign_off(actors["officer_a"], campaign, TOWN_A, level="township")
    actions.do_sign_off(actors["admin"], campaign, TOWN_A, level="county")
    assert _text(c.post(f"/campaigns/{campaign.pk}/advance/")).count('id="confirm-advance"') == 1
    c.post(f"/campaigns/{campaign.pk}/advance/", {"confirm": "yes"})
    campaign.refresh_from_db()
    assert campaign.phase == "closed"


def test_a_township_officer_can_start_a_campaign_of_a_village_of_theirs(client_for, people, actors):
    campaign = actions.do_create_campaign(actors["officer_a"], name="西关整顿", scope_codes=[VILLAGE_A2],
                                          reference_moment=datetime(2025, 11, 1), dates=DATES)
    assert [v.code for v in scope_villages(campaign)] == [VILLAGE_A2]
    assert actions.unfinished_units(campaign) == []  # nothing is due in preparation
    with pytest.raises(JurisdictionError):  # a village of another township
        actions.do_create_campaign(actors["officer_a"], name="柳树整顿", scope_codes=[VILLAGE_B1],
                                   reference_moment=datetime(2025, 11, 1), dates=DATES)


def test_the_clerk_does_not_spot_check_their_own_work(client_for, campaign, people, actors):
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/"
    advance_to(campaign, "verification", actors["admin"])
    for p in ("mother", "child"):
        actions.do_record_outcome(actors["officer_a"], campaign, people[p], outcome="confirmed")
    # before the acceptance phase the page says when the draw comes
    page = _text(client_for("officer_a").get(url))
    assert 'id="draw"' not in page and "抽查户在“总结验收”阶段抽取" in page
    advance_to(campaign, "summary", actors["admin"])
    # the clerk: no button, and the page says why; a forced draw is an error, nothing drawn
    clerk = client_for("clerk_a1")
    page = _text(clerk.get(url))
    assert 'id="draw"' not in page and 'id="why-no-buttons"' in page
    assert "抽查由乡镇或县级人员抽取并复核，不由被检查工作的村级人员自己进行" in page
    errors = _errors(_text(clerk.post(url, {"op": "draw"}, follow=True)))
    assert errors and "不由被检查工作的村级人员" in errors[0]
    assert not SpotCheck.objects.exists()
    with pytest.raises(PermissionDeniedError):
        actions.do_draw_spot_check(actors["clerk_a1"], campaign, VILLAGE_A1)
    check_bilingual(clerk, url,
                    ["The spot check is drawn and recorded by the township or the county"],
                    ["抽查由乡镇或县级人员抽取并复核"])
    # the township officer draws; here they verified the household themselves, so the
    # re-check is someone else's: the page says so and the action refuses
    officer = client_for("officer_a")
    officer.post(url, {"op": "draw"})
    sc = SpotCheck.objects.get()
    page = _text(officer.get(url))
    assert "该户的入户核对结果是您本人录入的，须由其他人员复核" in page and 'name="agrees"' not in page
    errors = _errors(_text(officer.post(url, {"spot_check": sc.pk, "agrees": "1"}, follow=True)))
    assert errors == ["该户的入户核对结果是您本人录入的，抽查须由其他人员复核"]
    with pytest.raises(PermissionDeniedError):
        actions.do_record_spot_check(actors["clerk_a1"], sc, agrees=True)
    # the county re-checks it
    county = client_for("admin")
    assert 'name="agrees"' in _text(county.get(url))
    county.post(url, {"spot_check": sc.pk, "agrees": "1"})
    sc.refresh_from_db()
    assert sc.result == "agrees" and sc.checked_by_id == actors["admin"].user.pk
    # once signed, the page says the result is final
    actions.do_sign_off(actors["clerk_a1"], campaign, VILLAGE_A1, level="village")
    page = _text(county.get(url))
    assert 'name="agrees"' not in page and "东关村民委员会 已签字验收，抽查结果不能再改" in page
