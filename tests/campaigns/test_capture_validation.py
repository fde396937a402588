"""Campaign capture of found persons meets the plausibility rules (docs/validation.md) and
reports every problem at once, in the action and on the capture page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from popreg.campaigns import actions
from popreg.campaigns.models import FoundPerson
from popreg.registry.validation import RegistryErrors, errors_of

from ..conftest import VILLAGE_A1
from .conftest import advance_to

FUTURE = (date.today() + timedelta(days=3)).isoformat()
BAD_ID = "110105194912310023"  # wrong check character


def test_every_problem_of_a_found_person_at_once(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    with pytest.raises(RegistryErrors) as exc:
        actions.do_record_found_person(
            actors["clerk_a1"], campaign, VILLAGE_A1, name="", sex="火", birth_date="1890-01-01",
            kind="move_in", id_number=BAD_ID, from_unit_code="999999999999", event_date=FUTURE)
    by_field: dict[str, str] = {}
    for e in errors_of(exc.value):
        by_field[e.field] = by_field.get(e.field, "") + e.message_zh
    assert set(by_field) == {"name", "sex", "birth_date", "id_number", "from_unit_code", "event_date"}
    assert "1900" in by_field["birth_date"]
    assert "校验码" in by_field["id_number"] and "1949-12-31" in by_field["id_number"]
    assert "999999" in by_field["from_unit_code"]
    assert "晚于今天" in by_field["event_date"]
    assert not FoundPerson.objects.exists()


def test_a_plausible_found_move_in_is_recorded(campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    fp, created = actions.do_record_found_person(
        actors["clerk_a1"], campaign, VILLAGE_A1, name="周小川", sex="男", birth_date="1980-05-06",
        kind="move_in", from_unit_code="440106", event_date="2020-01-01")
    assert created and fp.from_unit_code == "440106"


def test_capture_page_shows_every_problem(client, users, campaign, people, actors):
    advance_to(campaign, "verification", actors["admin"])
    client.force_login(users["clerk_a1"])
    r = client.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/found/", {
        "name": "周小川", "sex": "M", "birth_date": "1890-01-01", "kind": "move_in", "id_number": BAD_ID,
        "household_no": "", "address": "", "from_unit_code": "999999999999", "date": "2020-01-01", "note": "",
    })
    page = r.content.decode()
    assert not FoundPerson.objects.exists()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "早于 1900 年" in text
    assert "校验码" in text
    assert "999999" in text and "GB/T 2260" in text


def test_a_moved_away_outcome_checks_the_destination_like_a_move_out(campaign, people, actors):
    """The issue's destination 999999999999 is refused when the outcome is recorded, not only
    when the move out is registered later; a code out of use on the date of the move too (a
    village of this county is accepted: the item is settled as a transfer)."""
    advance_to(campaign, "verification", actors["admin"])
    clerk, mother = actors["clerk_a1"], people["mother"]
    for code, words in (("999999999999", "GB/T 2260"), ("110103", "2011"), ("1101", "6位或12位")):
        with pytest.raises(RegistryErrors) as exc:
            actions.do_record_outcome(clerk, campaign, mother, outcome="moved_away", corrected_value=code,
                                      event_date="2011-06-01")
        (err,) = errors_of(exc.value)
        assert err.field == "corrected_value" and words in err.message_zh, err.message_zh
    outcome, _ = actions.do_record_outcome(clerk, campaign, mother, outcome="moved_away",
                                           corrected_value="440106", event_date="2011-06-01")
    assert outcome.corrected_value == "440106"
