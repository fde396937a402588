"""Integrity under concurrency: one active record per ID number (a database constraint),
no "database is locked" on SQLite, no lost update (versions); privacy of ID lookups."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, connections, transaction

from popreg.registry import actions
from popreg.registry.access import system_actor
from popreg.registry.actions.events import StaleVersionError
from popreg.registry.errors import RegistryError
from popreg.registry.models import AuditRecord, Event, Person

from ..conftest import VILLAGE_A1, VILLAGE_B1, make_id

ROOT = Path(__file__).resolve().parents[2]


def _born(number):
    """Birth date and sex that agree with an ID number."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14])), "M" if int(number[16]) % 2 else "F"


def _birth(actor, number, name="周同号", unit=VILLAGE_A1):
    born, sex = _born(number)
    return actions.do_register_birth(actor, name=name, sex=sex, birth_date=born,
                                     registered_unit_code=unit, id_number=number)


# ------------------------------------------------------------------ one active record per ID


def test_the_database_refuses_a_second_active_record_with_an_id_number(people):
    mother = people["mother"]
    twin = Person(name="复制", registered_unit_id=VILLAGE_A1, id_number=mother.id_number, status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    # Not active, merged, or a flagged legacy duplicate: outside the rule.
    for extra in ({"status": "deceased"}, {"merged_into_id": mother.pk, "status": "deregistered"},
                  {"legacy_duplicate_id": True}):
        p = Person(name="复制", registered_unit_id=VILLAGE_A1, id_number=mother.id_number,
                   **{"status": "active", **extra})
        p.save()
    assert Person.objects.filter(id_number=mother.id_number).count() == 4


def test_a_registration_that_loses_the_race_gets_the_field_error(people, actors, monkeypatch):
    """The read check passes (as in a race: the other registration is not committed yet);
    the constraint refuses and the action says what the check would have said."""
    from popreg.registry.actions import persons

    monkeypatch.setattr(persons, "check_id_unique", lambda *a, **k: None)
    number = people["mother"].id_number
    before = Person.objects.count()
    with pytest.raises(RegistryError) as exc:
        _birth(actors["clerk_a1"], number)
    assert exc.value.field == "id_number" and not isinstance(exc.value, IntegrityError)
    assert f"编号 {people['mother'].pk}" in exc.value.message_zh  # within the clerk's village
    assert Person.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_same_id_registrations_leave_one_active_record(county, actors):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL (SQLite in memory shares one connection)")
    admin = actors["admin"]
    threads = 6
    for round_ in range(10):
        number = make_id(date(2001, 2, 3), "M", 300 + round_)
        start = threading.Barrier(threads)
        outcome: list[object] = []

        def register(i: int, number: str = number, start: threading.Barrier = start,
                     outcome: list[object] = outcome) -> None:
            try:
                start.wait()
                _birth(admin, number, name=f"周{i}")
                outcome.append("ok")
            except Exception as exc:  # noqa: BLE001 - every outcome is asserted below
                outcome.append(exc)
            finally:
                connections.close_all()

        pool = [threading.Thread(target=register, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert Person.objects.filter(id_number=number, status="active").count() == 1, round_
        assert outcome.count("ok") == 1
        refused = [o for o in outcome if o != "ok"]
        assert len(refused) == threads - 1
        assert all(isinstance(o, RegistryError) and o.field == "id_number" for o in refused), refused


def test_correction_and_discharge_cannot_create_a_second_active_holder(people, actors):
    admin = actors["admin"]
    # A recruit of enlistment age (17 to 26).
    child = _birth(admin, make_id(date(2005, 3, 1), "M", 22), name="周建军")
    actions.do_register_enlistment(admin, child, enlistment_date=date(2024, 9, 1))
    # While the child is deregistered (enlisted), the number is registered again.
    other = _birth(admin, child.id_number, name="冒用者")
    with pytest.raises(RegistryError) as exc:
        actions.do_register_discharge(admin, child, discharge_date=date(2025, 9, 1), to_unit_code=VILLAGE_A1)
    assert exc.value.field == "id_number" and f"编号 {other.pk}" in exc.value.message_zh
    with pytest.raises(RegistryError) as exc:
        actions.do_correct_person(admin, people["other"], changes={"id_number": other.id_number}, reason="核对")
    assert exc.value.field == "id_number"
    assert Person.objects.filter(id_number=other.id_number, status="active").count() == 1


@pytest.fixture(scope="module")
def legacy_snapshot(tmp_path_factory):
    from popreg.synth.generator import generate

    out = tmp_path_factory.mktemp("legacy")
    generate(out, seed=7, persons=1500, progress=None)
    return out


def test_loading_legacy_duplicates_flags_them_and_keeps_them_for_linkage(db, legacy_snapshot, tmp_path):
    import pyarrow.compute as pc

    from popreg.registry.loading import load_snapshot
    from popreg.registry.snapshot import write_registry_snapshot
    from popreg.snapshot import read_table

    persons = read_table(legacy_snapshot, "persons").to_pylist()
    seen: dict[str, int] = {}
    shared = set()
    for r in persons:
        if r["status"] == "active" and r["id_number"]:
            if r["id_number"] in seen:
                shared.add(r["id_number"])
            seen[r["id_number"]] = seen.get(r["id_number"], 0) + 1
    assert shared, "the synthetic county should hold active records sharing an ID number"
    load_snapshot(legacy_snapshot, system_actor("test"))
    for number in shared:
        holders = Person.objects.filter(id_number=number, status="active").order_by("pk")
        assert holders.count() == seen[number]
        assert [p.legacy_duplicate_id for p in holders] == [False] + [True] * (seen[number] - 1)
    assert set(Person.objects.values_list("version", flat=True)) == {1}
    # Still in the registry's snapshot, where linkage looks for duplicates.
    write_registry_snapshot(tmp_path / "out")
    out = read_table(tmp_path / "out", "persons")
    for number in shared:
        assert pc.sum(pc.equal(out.column("id_number"), number)).as_py() == seen[number]
    # A new registration of such a number is still refused (the read check covers all holders).
    number = next(iter(shared))
    first = Person.objects.filter(id_number=number, status="active").order_by("pk").first()
    born, sex = _born(number)
    with pytest.raises(RegistryError) as exc:
        actions.do_correct_person(system_actor("test"), Person.objects.exclude(id_number=number)
                                  .filter(status="active").first(),
                                  changes={"id_number": number, "birth_date": born, "sex": sex}, reason="核对")
    assert exc.value.field == "id_number" and str(first.pk) in exc.value.message_zh


def test_sqlite_70_simultaneous_writes_return_no_500(tmp_path):
    """Births and corrections through the web forms, all at once, on a file database."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.registry.sqlite_writers", str(tmp_path / "load.sqlite3"), "70"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "DATABASE_URL": ""},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == [302] * 70, (result["codes"], result["errors"])
    assert result["persons_written"] == 35 and result["events_written"] == 70


def test_sqlite_connections_start_immediate_transactions():
    from django.conf import settings

    options = settings.DATABASES["default"].get("OPTIONS", {})
    if connection.vendor == "sqlite":
        assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5
    else:
        assert "transaction_mode" not in options


# ------------------------------------------------------------------ versions: no lost update


def test_every_change_bumps_the_version(people, actors):
    clerk = actors["clerk_a1"]
    mother = people["mother"]
    assert Person.objects.get(pk=mother.pk).version == 1
    actions.do_register_marriage(clerk, mother, marriage_date=date(2012, 1, 1))
    actions.do_correct_person(clerk, mother, changes={"name": "王秀瑛"}, reason="笔误")
    assert Person.objects.get(pk=mother.pk).version == 3
    assert people["hh_a"].version == 1


def test_a_stale_edit_is_refused_showing_both_values(people, actors):
    clerk, officer = actors["clerk_a1"], actors["officer_a"]
    mother = people["mother"]
    seen = Person.objects.get(pk=mother.pk).version
    actions.do_correct_person(officer, mother, changes={"name": "王秀瑛"}, reason="户口簿", expected_version=seen)
    events = Event.objects.count()
    with pytest.raises(StaleVersionError) as exc:
        actions.do_correct_person(clerk, mother, changes={"name": "王秀兰"}, reason="身份证",
                                  expected_version=seen)
    err = exc.value
    assert err.field == "name" and err.current == seen + 1
    assert "王秀瑛" in err.message_zh and "王秀兰" in err.message_zh  # stored value and the form's
    assert "王秀瑛" in err.message_en and "王秀兰" in err.message_en
    assert Person.objects.get(pk=mother.pk).name == "王秀瑛" and Event.objects.count() == events
    # Another kind of edit on the old version is refused too; commands pass no version.
    with pytest.raises(StaleVersionError):
        actions.do_register_death(clerk, mother, death_date=date(2025, 1, 1), expected_version=seen)
    actions.do_correct_person(clerk, mother, changes={"name": "王秀兰"}, reason="身份证",
                              expected_version=err.current)
    assert Person.objects.get(pk=mother.pk).name == "王秀兰"


def test_two_stale_submissions_of_the_correction_page(client, users, people):
    from django.test import Client

    from ..conftest import PASSWORD

    mother = people["mother"]
    url = f"/persons/{mother.pk}/correct/"
    first, second = client, Client()
    assert first.login(username="clerk_a1", password=PASSWORD)
    assert second.login(username="officer_a", password=PASSWORD)
    version = Person.objects.get(pk=mother.pk).version
    for c in (first, second):  # both open the form on the same version
        assert f'name="version" value="{version}"' in c.get(url).content.decode()
    r = first.post(url, {"name": "王秀瑛", "reason": "户口簿", "version": version})
    assert r.status_code == 302
    r = second.post(url, {"name": "王秀兰", "reason": "身份证", "version": version})
    page = r.content.decode()
    assert r.status_code == 400 and "王秀瑛" in page and "王秀兰" in page and "已被他人修改" in page
    assert Person.objects.get(pk=mother.pk).name == "王秀瑛"
    # Shown again on the stored version: a deliberate second submission goes through.
    assert f'name="version" value="{version + 1}"' in page
    r = second.post(url, {"name": "王秀兰", "reason": "身份证", "version": version + 1})
    assert r.status_code == 302 and Person.objects.get(pk=mother.pk).name == "王秀兰"
    # A stale death registration on the old version is refused too.
    r = first.post(f"/persons/{mother.pk}/death/", {"death_date": "2025-01-01", "version": version})
    assert r.status_code == 400 and Person.objects.get(pk=mother.pk).status == "active"


# ------------------------------------------------------------------ privacy of ID lookups


def test_an_id_registered_outside_the_jurisdiction_reveals_nothing_and_is_audited(people, actors):
    other = people["other"]  # village B1, another township
    before = Person.objects.count()
    with pytest.raises(RegistryError) as exc:
        actions.do_move_in(actors["clerk_a1"], name="冒名", sex="F", birth_date=other.birth_date,
                           id_number=other.id_number, registered_unit_code=VILLAGE_A1,
                           from_unit_code="130102", move_date=date(2025, 3, 1))
    err = exc.value
    assert err.field == "id_number"
    assert "已在其他地方登记" in err.message_zh and "ask the county office" in err.message_en
    # exactly the number and "elsewhere" (the record number may be a digit of the ID number)
    assert err.message_zh == f"公民身份号码 {other.id_number} 已在其他地方登记，请联系县级户籍部门"
    assert err.message_en == f"ID number {other.id_number} is already registered elsewhere; ask the county office"
    assert other.name not in err.message_zh + err.message_en
    assert Person.objects.count() == before
    rec = AuditRecord.objects.get(action="check_id_elsewhere")  # kept although the action rolled back
    assert rec.actor_name == "clerk_a1" and rec.target_id == str(other.pk)
    assert rec.detail["hits"][0]["id_number"] == other.id_number and rec.detail["context"] == "move_in"
    # Within the jurisdiction (the officer of township A asks about a person of A1): helpful.
    with pytest.raises(RegistryError) as exc:
        _birth(actors["officer_a"], people["mother"].id_number)
    assert f"编号 {people['mother'].pk}" in exc.value.message_zh
    assert AuditRecord.objects.filter(action="check_id_elsewhere").count() == 1


def test_move_in_page_answers_only_registered_elsewhere(client, people):
    from ..conftest import PASSWORD

    other = people["other"]
    assert client.login(username="clerk_a1", password=PASSWORD)
    r = client.post("/register/move-in/", {
        "name": "冒名", "sex": "F", "birth_date": other.birth_date.isoformat(), "id_number": other.id_number,
        "ethnicity": "汉族", "registered_unit": VILLAGE_A1, "household_no": "", "from_unit_code": "130102",
        "move_date": "2025-03-01"})
    page = r.content.decode()
    assert r.status_code == 400 and "已在其他地方登记，请联系县级户籍部门" in page
    assert other.name not in page and f"编号 {other.pk}" not in page
    assert AuditRecord.objects.filter(action="check_id_elsewhere", actor_name="clerk_a1").count() == 1


def test_import_check_hides_records_elsewhere_audits_and_is_rate_limited(people, actors, settings):
    from popreg.registry.importing import ImportFileError, validate_file

    from ..importing.helpers import person_row, to_csv

    other, mother = people["other"], people["mother"]
    settings.POPREG_ID_CHECKS_PER_HOUR = 5
    clerk = actors["clerk_a1"]
    def holding(i, p):
        return person_row(i, **{"公民身份号码": p.id_number, "出生日期": p.birth_date.isoformat(),
                                "性别": "男" if p.sex == "M" else "女"})

    rows = [holding(1, other), holding(2, mother), person_row(3)]
    result = validate_file(clerk, to_csv(rows), "guess.csv")
    by_row = {e.row: e for e in result.errors if e.column == "公民身份号码"}
    elsewhere, inside = by_row[2], by_row[3]
    # exactly the number and "elsewhere" (the record number may be a digit of the ID number)
    assert elsewhere.message_zh == f"公民身份号码 {other.id_number} 已在其他地方登记，请联系县级户籍部门"
    assert other.name not in elsewhere.message_zh + elsewhere.message_en
    assert f"编号 {mother.pk}" in inside.message_zh
    rec = AuditRecord.objects.get(action="bulk_id_check")
    assert rec.detail["checked"] == 3 and rec.detail["elsewhere"] == 1
    assert rec.detail["hits"] == [{"id_number": other.id_number, "person_id": other.pk, "unit": VILLAGE_B1}]
    # 3 checked, 3 more would pass the limit of 5 in the hour: refused, with what to do.
    more = [person_row(i) for i in (4, 5, 6)]
    with pytest.raises(ImportFileError) as exc:
        validate_file(clerk, to_csv(more), "more.csv")
    assert "每小时 5 个" in exc.value.message_zh and "try again in about" in exc.value.message_en
    assert AuditRecord.objects.filter(action="bulk_id_check").count() == 1
    # Two still fit; another user has a count of their own; county-wide users are not limited.
    validate_file(clerk, to_csv(more[:2]), "two.csv")
    validate_file(actors["officer_a"], to_csv(more), "officer.csv")
    validate_file(actors["admin"], to_csv([person_row(i) for i in range(7, 14)]), "admin.csv")
    with pytest.raises(ImportFileError) as exc:
        validate_file(clerk, to_csv([person_row(20)]), "one.csv")
    with pytest.raises(ImportFileError) as exc:
        validate_file(actors["officer_a"], to_csv([person_row(i) for i in range(30, 36)]), "big.csv")
    assert "拆分" in exc.value.message_zh and "split the file" in exc.value.message_en
