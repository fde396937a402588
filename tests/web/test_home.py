"""The home page: the user's open work (a count and a link per kind, only what the role
may see, inside the jurisdiction) and the jurisdiction's headline figures."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils import timezone

from popreg.registry import actions, population
from popreg.registry.policy import Permission

from ..conftest import COUNTY, VILLAGE_A1, VILLAGE_B1

pytestmark = pytest.mark.django_db


def _work(page: str) -> dict[str, tuple[int, str]]:
    """{key: (count, link)} of the open-work list."""
    out = {}
    for key, link, count in re.findall(
            r'<li class="[^"]*" id="work-([\w-]+)"><a href="([^"]+)"><span class="count">(\d+)</span>', page):
        out[key] = (int(count), link.replace("&amp;", "&"))
    return out


def _figure(page: str, label: str) -> str:
    block = page[page.index('id="headline"'):]
    m = re.search(rf"<dt>{re.escape(label)}</dt><dd>(?:<a [^>]*>)?(\d+)", block)
    assert m, label
    return m.group(1)


def _candidate(a, b):
    from popreg.linkage.models import DuplicateCandidate

    return DuplicateCandidate.objects.create(person_a=a, person_b=b, match_weight=12.0, match_probability=0.97)


def test_headline_figures_of_the_clerks_village(login, people, actors):
    today = timezone.localdate()
    actions.do_register_birth(actors["admin"], name="赵新生", sex="F", birth_date=today.replace(day=1),
                              registered_unit_code=VILLAGE_A1, household=people["hh_a"], mother=people["mother"])
    c = login("clerk_a1")
    page = c.get("/").content.decode()
    assert "东关村民委员会 主要数字" in page
    expected = population.figures(VILLAGE_A1)
    assert _figure(page, "户籍人口") == str(expected["registered"]) == "3"
    assert _figure(page, "常住人口") == str(expected["resident"])
    assert _figure(page, "户数") == "1"
    assert _figure(page, f"{today.year} 年出生（本年累计）") == "1"
    assert _figure(page, f"{today.year} 年死亡（本年累计）") == "0"
    assert f"/units/{VILLAGE_A1}/persons/?population=registered" in page
    # The county admin sees the county: both villages.
    page = login("admin").get("/").content.decode()
    assert _figure(page, "户籍人口") == str(population.count("registered", "")) == "4"
    assert _figure(page, "户数") == "2"


def test_open_duplicate_pairs_counted_in_the_jurisdiction_only(login, people, actors):
    admin = actors["admin"]
    twin_a = actions.do_register_birth(admin, name="王秀英", sex="F", birth_date=date(1990, 3, 4),
                                       registered_unit_code=VILLAGE_A1)
    twin_b = actions.do_register_birth(admin, name="李娜", sex="F", birth_date=date(1985, 1, 2),
                                       registered_unit_code=VILLAGE_B1)
    _candidate(people["mother"], twin_a)
    _candidate(people["other"], twin_b)
    county = _work(login("admin").get("/").content.decode())
    assert county["duplicates"] == (2, "/linkage/")
    town = _work(login("officer_a").get("/").content.decode())
    assert actors["officer_a"].can(Permission.REVIEW_DUPLICATES)
    assert town["duplicates"][0] == 1  # the pair in township B is not the township A officer's
    # Roles without the permission see no such item at all.
    for role in ("auditor", "statistician"):
        assert "duplicates" not in _work(login(role).get("/").content.decode()), role


def test_rectification_items_of_running_campaigns(login, people, actors):
    from popreg.campaigns.models import Campaign, ItemStatus, Phase, RectificationItem

    d = timezone.localdate()
    dates = {f"{p}_{e}": d for p in ("preparation", "verification", "rectification", "summary")
             for e in ("start", "end")}
    c = Campaign.objects.create(name="2026年人口核查", reference_moment=timezone.now(), phase=Phase.RECTIFICATION,
                                **dates)
    c.scope_units.add(COUNTY)
    for person, status in ((people["mother"], ItemStatus.OPEN), (people["child"], ItemStatus.IN_PROGRESS),
                           (people["other"], ItemStatus.OPEN), (people["other"], ItemStatus.RESOLVED)):
        RectificationItem.objects.create(campaign=c, person=person, unit_id=person.registered_unit_id,
                                         key=f"{person.pk}-{status}", origin="anomaly", item_type="not_found",
                                         status=status)
    key = f"rectification-{c.pk}"
    county = _work(login("admin").get("/").content.decode())
    assert county[key] == (3, f"/campaigns/{c.pk}/items/?status=open")
    clerk = _work(login("clerk_a1").get("/").content.decode())
    assert clerk[key][0] == 2  # village A1 only
    assert key not in _work(login("auditor").get("/").content.decode())
    Campaign.objects.filter(pk=c.pk).update(phase=Phase.CLOSED)
    assert key not in _work(login("admin").get("/").content.decode())


def test_every_role_gets_a_home_page_with_only_its_work(login, people):
    seen = {}
    for role in ("clerk_a1", "clerk_b1", "officer_a", "admin", "statistician", "auditor"):
        r = login(role).get("/")
        assert r.status_code == 200, role
        seen[role] = set(_work(r.content.decode()))
    assert "exchange" not in seen["clerk_a1"] and "objections" not in seen["auditor"]
    assert not seen["auditor"] and not seen["statistician"]  # read-only roles: no work items
