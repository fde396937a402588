"""The duplicate check at data entry in headless Chromium: registering the birth of a child
who is already registered shows the existing record before anything is saved; the clerk
can open it, or confirm "new person", which saves the record and audits the decision."""

from __future__ import annotations

import pytest

from popreg.registry.audit import AuditAction
from popreg.registry.models import AuditRecord, Person

from ..conftest import PASSWORD, VILLAGE_A1

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill_birth(b) -> None:
    from selenium.webdriver.support.ui import Select

    b.open("/register/birth/")
    b.css("#id_name").send_keys("张伟")  # registered as 張偉 (traditional form), same birth date
    b.click("input[name=sex][value=M]")
    b.set_value("#id_birth_date", "2020-05-06")
    unit = b.css("#id_registered_unit")
    if unit.tag_name == "select":
        Select(unit).select_by_value(VILLAGE_A1)
    else:  # a clerk of one village: the unit is given
        assert unit.get_attribute("value") == VILLAGE_A1


def test_birth_of_a_registered_child_shows_the_existing_record_before_saving(browser, people):
    child = people["child"]
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    n = Person.objects.count()
    _fill_birth(b)
    b.submit("form.entry button[type=submit].primary")
    box = b.css("#entry-check")
    assert "疑似已有记录" in box.text and "張偉" in box.text and "2020-05-06" in box.text
    rows = b.all(".entry-check-row")
    assert [r.get_attribute("data-person") for r in rows] == [str(child.pk)]
    assert Person.objects.count() == n  # nothing saved yet
    b.shot("likely-existing")

    # "Open the existing record" goes to the child's page.
    b.submit(".entry-check-row a.open-existing")
    assert b.driver.current_url.endswith(f"/persons/{child.pk}/")
    assert "張偉" in b.text()
    assert Person.objects.count() == n

    # Typed again, the clerk decides it is another child: saved, and the decision audited.
    _fill_birth(b)
    b.submit("form.entry button[type=submit].primary")
    assert b.all("#entry-check")
    b.submit("#entry-check button.confirm-new")
    assert Person.objects.count() == n + 1
    new = Person.objects.latest("pk")
    assert new.name == "张伟" and "/register/birth/" not in b.driver.current_url
    rec = AuditRecord.objects.get(action=AuditAction.CONFIRM_NEW_PERSON)
    assert rec.target_id == str(new.pk) and rec.actor_name
    assert [c["person_id"] for c in rec.detail["candidates"]] == [child.pk]
    b.shot("confirmed")
