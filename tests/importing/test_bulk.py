"""The import action: all or nothing, jurisdiction, no duplicates, history replays."""

from __future__ import annotations

import pytest

from popreg.registry.bulk import ImportRefused, do_import_persons
from popreg.registry.errors import PermissionDeniedError
from popreg.registry.history import rebuild_person
from popreg.registry.importing import ImportFileError, parse_file, validate_file
from popreg.registry.models import AuditRecord, Event, Household, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1
from .helpers import HEADER, counts, person_row, sample_rows, to_csv, to_xlsx


def run(actor, data, name="f.csv"):
    result = parse_file(data, name)
    assert result.ok, result.errors
    return do_import_persons(actor, result.rows, name, result.sha256, labels=result.headers)


def test_import_creates_households_persons_events_and_one_audit(county, actors):
    data = to_xlsx(sample_rows(6))
    summary = run(actors["officer_a"], data, "p.xlsx")
    assert (summary.persons, summary.households_created, summary.events) == (6, 2, 6)
    assert Person.objects.count() == 6 and Household.objects.count() == 2
    hh = Household.objects.get(household_no="900000001")
    assert hh.unit_id == VILLAGE_A1 and hh.head.name == "测试零"
    assert hh.members.count() == 3
    p = Person.objects.get(name="测试一")
    assert p.name_pinyin == "ceshiyi" and p.name_key == "测试一"
    assert p.residence_unit_id == VILLAGE_A1 and p.status == "active"
    assert Event.objects.filter(event_type="registration").count() == 6
    for person in Person.objects.all():
        assert rebuild_person(person) == []  # state = baseline + events
    rec = AuditRecord.objects.get(action="import_persons")
    assert rec.after["persons"] == 6 and rec.after["households_created"] == 2
    assert rec.detail["file_sha256"] == parse_file(data).sha256
    assert rec.actor_name == "officer_a"
    # Ordinary actions still work after the bulk insert (ids/sequences are in order).
    from datetime import date

    from popreg.registry import actions

    later = actions.do_register_birth(actors["officer_a"], name="新生", sex="M", birth_date=date(2024, 1, 1),
                                      registered_unit_code=VILLAGE_A1, household=hh)
    assert later.pk > max(p.pk for p in Person.objects.exclude(pk=later.pk))
    hh2 = actions.do_create_household(actors["officer_a"], unit_code=VILLAGE_A1)
    assert hh2.pk > hh.pk


def test_same_file_twice_is_refused_and_changes_nothing(county, actors):
    data = to_csv(sample_rows(4))
    run(actors["admin"], data)
    before = counts()
    result = parse_file(data, "again.csv")
    with pytest.raises(ImportRefused) as exc:
        do_import_persons(actors["admin"], result.rows, "again.csv", result.sha256)
    assert "已" in exc.value.message_zh and "twice" in exc.value.message_en
    assert counts() == before


def test_same_people_in_another_file_are_refused_by_id(county, actors):
    run(actors["admin"], to_csv(sample_rows(4)))
    before = counts()
    rows = sample_rows(4)
    for r in rows:
        r[HEADER.index("户号")] = "8" + r[HEADER.index("户号")][1:]
    result = validate_file(actors["admin"], to_csv(rows), "other.csv")
    assert len(result.errors) == 4
    assert all("已登记" in e.message_zh and e.column == "公民身份号码" for e in result.errors)
    with pytest.raises(ImportRefused) as exc:
        do_import_persons(actors["admin"], result.rows, "other.csv", result.sha256)
    assert len(exc.value.errors) == 4
    assert counts() == before


def test_clerk_cannot_import_into_another_village_and_nothing_is_written(county, actors):
    rows = [person_row(1, household="900000001", unit=VILLAGE_A1),
            person_row(2, household="900000002", unit=VILLAGE_B1)]
    before = counts()
    result = validate_file(actors["clerk_a1"], to_csv(rows), "x.csv")
    (err,) = result.errors
    assert err.row == 3 and err.column == "户籍地代码" and "辖区" in err.message_zh
    with pytest.raises(ImportRefused):
        do_import_persons(actors["clerk_a1"], result.rows, "x.csv", result.sha256)
    assert counts() == before


def test_unknown_and_wrong_level_units(county, actors):
    rows = [person_row(1, household="", unit="110105009999"),
            person_row(2, household="", unit="110105001000")]  # a township, not a village
    result = validate_file(actors["admin"], to_csv(rows), "x.csv")
    msgs = {e.row: e.message_zh for e in result.errors}
    assert "不存在" in msgs[2]
    assert "村(居)委会" in msgs[3]


@pytest.mark.parametrize("role", ["statistician", "auditor"])
def test_read_only_roles_cannot_import(county, actors, role):
    result = parse_file(to_csv(sample_rows(2)), "x.csv")
    with pytest.raises(PermissionDeniedError):
        do_import_persons(actors[role], result.rows, "x.csv", result.sha256)
    with pytest.raises(PermissionDeniedError):
        validate_file(actors[role], to_csv(sample_rows(2)), "x.csv")
    assert Person.objects.count() == 0


def test_joining_an_existing_household(people, actors):
    hh = people["hh_a"]
    row = person_row(7, household=hh.household_no, unit=VILLAGE_A1, relation="子", 住址=hh.address)
    summary = run(actors["clerk_a1"], to_csv([row]))
    assert summary.households_joined == 1 and summary.households_created == 0
    assert hh.members.count() == 3
    # A head for a household that has one is refused.
    hh.head = people["mother"]
    hh.save()
    row = person_row(8, household=hh.household_no, unit=VILLAGE_A1, relation="户主")
    result = validate_file(actors["clerk_a1"], to_csv([row]), "h.csv")
    assert result.errors and "已有户主" in result.errors[0].message_zh


def test_joining_a_household_with_another_address_is_refused(people, actors):
    hh = people["hh_a"]  # 东关村1号
    row = person_row(7, household=hh.household_no, unit=VILLAGE_A1, relation="子", 住址="东关村9号")
    result = validate_file(actors["clerk_a1"], to_csv([row]), "h.csv")
    (err,) = result.errors
    assert err.column == "住址" and "东关村1号" in err.message_zh and "address" in err.message_en
    # the same address written with other spacing or full-width digits is the same
    row = person_row(7, household=hh.household_no, unit=VILLAGE_A1, relation="子", 住址="东关村 １号")
    assert validate_file(actors["clerk_a1"], to_csv([row]), "h.csv").errors == []


def test_person_without_id_already_registered_is_refused(county, actors):
    """A file of persons without ID numbers, edited and uploaded again, adds nobody twice."""
    rows = [person_row(i, household="900000001", 公民身份号码="") for i in range(1, 4)]
    run(actors["admin"], to_csv(rows))
    before = counts()
    again = [*rows, person_row(4, household="900000001", 公民身份号码="")]  # one new person
    result = validate_file(actors["admin"], to_csv(again), "edited.csv")
    assert sorted(e.row for e in result.errors) == [2, 3, 4]
    assert all(e.column == "姓名" and "重复登记" in e.message_zh for e in result.errors)
    assert counts() == before
    # the same name in another village, or with another birth date, is another person
    other = person_row(1, household="900000003", unit=VILLAGE_A2, 公民身份号码="")
    born = person_row(2, household="900000001", 公民身份号码="", 出生日期="1999-09-09")
    assert validate_file(actors["admin"], to_csv([other, born]), "x.csv").errors == []


def test_household_number_of_another_village_is_refused(people, actors):
    other = people["hh_b"]  # in village B1
    row = person_row(9, household=other.household_no, unit=VILLAGE_A1)
    result = validate_file(actors["clerk_a1"], to_csv([row]), "h.csv")
    (err,) = result.errors
    assert err.column == "户号" and "辖区外" in err.message_zh


def test_registry_changed_between_preview_and_commit(county, actors):
    """The commit re-checks: rows valid at preview time are refused if the IDs appeared since."""
    data = to_csv(sample_rows(2))
    preview = validate_file(actors["admin"], data, "a.csv")
    assert preview.ok
    rows = sample_rows(2)
    for r in rows:
        r[HEADER.index("户号")] = "8" + r[HEADER.index("户号")][1:]
    run(actors["admin"], to_csv(rows), "b.csv")
    before = counts()
    with pytest.raises(ImportRefused):
        do_import_persons(actors["admin"], preview.rows, "a.csv", preview.sha256)
    assert counts() == before


def test_empty_rows_are_refused(county, actors):
    with pytest.raises(ImportRefused):
        do_import_persons(actors["admin"], [], "x.csv", "0" * 64)


def test_file_errors_do_not_touch_the_database(county, actors):
    before = counts()
    with pytest.raises(ImportFileError):
        validate_file(actors["admin"], b"%PDF-1.4\x00", "x.pdf")
    assert counts() == before
