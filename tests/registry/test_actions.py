from datetime import date, timedelta

import pytest

from popreg.registry import actions
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.history import rebuild_person, rebuild_state
from popreg.registry.models import AuditRecord, Event, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1, make_id


def test_birth_creates_event_and_audit(people):
    child = people["child"]
    assert child.name_key == "张伟"
    assert child.name_pinyin == "zhangwei"
    ev = Event.objects.get(person=child)
    assert ev.event_type == "birth"
    assert ev.changes["registered_unit_id"] == [None, VILLAGE_A1]
    rec = AuditRecord.objects.filter(action="register_birth", target_id=str(child.pk)).get()
    assert rec.actor_name == "admin" and rec.after["name"] == "張偉"


def test_every_action_replays_to_the_same_state(people, actors):
    clerk = actors["clerk_a1"]
    mother = people["mother"]
    actions.do_register_marriage(clerk, mother, marriage_date=date(2012, 1, 1))
    actions.do_correct_person(clerk, mother, changes={"name": "王秀瑛"}, reason="户口本笔误")
    actions.do_transfer(clerk, mother, to_unit_code=VILLAGE_A2, move_date=date(2024, 2, 2))
    mother.refresh_from_db()
    actions.do_register_divorce(actors["officer_a"], mother, divorce_date=date(2024, 3, 1))
    recruit = actions.do_register_birth(actors["officer_a"], name="周建军", sex="M", birth_date=date(2005, 3, 1),
                                        registered_unit_code=VILLAGE_A1)
    actions.do_register_enlistment(actors["officer_a"], recruit, enlistment_date=date(2024, 9, 1))
    actions.do_register_discharge(actors["officer_a"], recruit, discharge_date=date(2025, 9, 1),
                                  to_unit_code=VILLAGE_A1)
    actions.do_register_death(actors["admin"], people["other"], death_date=date(2025, 1, 1))
    for p in Person.objects.all():
        assert rebuild_person(p) == []
    # Corrupt the stored state behind the action layer's back: replay notices and repairs.
    Person.objects.filter(pk=mother.pk).update(name="乱改", status="deceased")
    mother.refresh_from_db()
    assert rebuild_person(mother) == ["name", "status"]
    assert actions.do_repair_history(actors["admin"], mother) == ["name", "status"]
    repair = AuditRecord.objects.get(action="repair_history", target_id=str(mother.pk))
    assert repair.before == {"name": "乱改", "status": "deceased"}
    assert repair.after == {"name": "王秀瑛", "status": "active"}
    assert actions.do_repair_history(actors["admin"], mother) == []  # nothing left: nothing audited
    assert AuditRecord.objects.filter(action="repair_history").count() == 1
    mother.refresh_from_db()
    assert mother.name == "王秀瑛" and mother.status == "active"
    assert mother.registered_unit_id == VILLAGE_A2 and mother.marital_status == "divorced"
    assert rebuild_state(mother)["name"] == "王秀瑛"


def test_clerk_cannot_touch_another_village(people, actors):
    with pytest.raises(JurisdictionError):
        actions.do_register_death(actors["clerk_a1"], people["other"], death_date=date(2025, 1, 1))
    with pytest.raises(JurisdictionError):
        actions.do_register_birth(actors["clerk_a1"], name="赵六", sex="M", birth_date=date(2024, 1, 1),
                                  registered_unit_code=VILLAGE_B1)
    assert Person.objects.get(pk=people["other"].pk).status == "active"


@pytest.mark.parametrize("role", ["statistician", "auditor"])
def test_read_only_roles_cannot_write(people, actors, role):
    with pytest.raises(PermissionDeniedError):
        actions.do_register_death(actors[role], people["mother"], death_date=date(2025, 1, 1))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"birth_date": date.today() + timedelta(days=3)}, "birth_date"),
        ({"birth_date": "2020-01-01"}, "birth_date"),
        ({"sex": "X"}, "sex"),
        ({"name": "  "}, "name"),
        ({"id_number": "110105202001010011"}, "id_number"),
        ({"registered_unit_code": "999999999999"}, "registered_unit"),
        ({"registered_unit_code": "110105001000"}, "registered_unit"),
    ],
)
def test_bad_birth_input_names_the_field_and_changes_nothing(people, actors, kwargs, field):
    before = (Person.objects.count(), Event.objects.count(), AuditRecord.objects.count())
    args = {"name": "赵六", "sex": "M", "birth_date": date(2024, 1, 1), "registered_unit_code": VILLAGE_A1}
    args.update(kwargs)
    with pytest.raises(RegistryError) as exc:
        actions.do_register_birth(actors["admin"], **args)
    assert exc.value.field == field
    assert exc.value.message_zh and exc.value.message_en
    assert (Person.objects.count(), Event.objects.count(), AuditRecord.objects.count()) == before


def test_death_before_birth_and_double_death_refused(people, actors):
    with pytest.raises(RegistryError) as exc:
        actions.do_register_death(actors["admin"], people["child"], death_date=date(2019, 1, 1))
    assert exc.value.field == "death_date"
    actions.do_register_death(actors["admin"], people["child"], death_date=date(2021, 1, 1))
    with pytest.raises(RegistryError):
        actions.do_register_death(actors["admin"], people["child"], death_date=date(2021, 1, 2))


def test_duplicate_id_refused(people, actors):
    with pytest.raises(RegistryError) as exc:
        actions.do_register_birth(actors["admin"], name="王秀英", sex="F", birth_date=date(1990, 3, 4),
                                  registered_unit_code=VILLAGE_A1, id_number=people["mother"].id_number)
    assert exc.value.field == "id_number"


def test_move_out_and_move_in(people, actors):
    actions.do_move_out(actors["clerk_a1"], people["mother"], move_date=date(2025, 3, 1),
                        destination_code="440305000000")
    people["mother"].refresh_from_db()
    assert people["mother"].status == "emigrated"
    newcomer = actions.do_move_in(actors["clerk_b1"], name="陈静", sex="F", birth_date=date(1995, 6, 7),
                                  id_number=make_id(date(1995, 6, 7), "F", 7), registered_unit_code=VILLAGE_B1,
                                  from_unit_code="440305000000", move_date=date(2025, 4, 1))
    assert newcomer.events.get().event_type == "move_in"
    assert rebuild_person(newcomer) == []


def test_events_are_append_only(people):
    from popreg.registry.models import AppendOnlyError

    ev = Event.objects.first()
    with pytest.raises(AppendOnlyError):
        ev.save()
    with pytest.raises(AppendOnlyError):
        ev.delete()


def test_append_only_tables_refuse_queryset_update_and_delete(people, actors):
    from popreg.registry.models import AppendOnlyError, UnitSuccession

    actions.do_succeed_units(actors["admin"], kind="rename", predecessor_codes=[VILLAGE_B1],
                             successors=[{"code": "110105002009", "name": "新柳村"}], effective_date=date(2025, 1, 1))
    tables = {Event: Event.objects.count(), AuditRecord: AuditRecord.objects.count(),
              UnitSuccession: UnitSuccession.objects.count()}
    assert all(tables.values())
    for model in tables:
        with pytest.raises(AppendOnlyError):
            model.objects.all().delete()
        with pytest.raises(AppendOnlyError):
            model.objects.filter(pk__gt=0).update(pk=0)
        with pytest.raises(AppendOnlyError):
            model.objects.first().delete()
    with pytest.raises(AppendOnlyError):  # related managers use the same query set
        people["mother"].events.all().delete()
    with pytest.raises(AppendOnlyError):
        UnitSuccession.objects.first().save()
    assert {m: m.objects.count() for m in tables} == tables
    # adding rows stays allowed, one by one and in bulk
    AuditRecord.objects.bulk_create([AuditRecord(actor_name="t", action="export_file", target_type="")])
    assert AuditRecord.objects.count() == tables[AuditRecord] + 1


def test_repair_needs_a_county_wide_role(people, actors):
    from popreg.registry.errors import PermissionDeniedError

    Person.objects.filter(pk=people["mother"].pk).update(name="乱改")
    for role in ("clerk_a1", "officer_a", "statistician"):
        with pytest.raises(PermissionDeniedError):
            actions.do_repair_history(actors[role], people["mother"])
    assert Person.objects.get(pk=people["mother"].pk).name == "乱改"


def test_verify_history_command(people, actors):
    from django.core.management import CommandError, call_command

    actions.do_register_death(actors["admin"], people["other"], death_date=date(2025, 1, 1))
    call_command("verify_history")
    Person.objects.filter(pk=people["other"].pk).update(status="active")
    with pytest.raises(CommandError):
        call_command("verify_history")
    version = Person.objects.get(pk=people["other"].pk).version
    call_command("verify_history", "--repair")
    repaired = Person.objects.get(pk=people["other"].pk)
    assert repaired.status == "deceased"
    assert repaired.version == version + 1  # a form opened before the repair is stale
    rec = AuditRecord.objects.get(action="repair_history")
    assert rec.target_id == str(people["other"].pk) and rec.actor_name == "verify_history"
    assert rec.before == {"status": "active"} and rec.after == {"status": "deceased"}
    call_command("verify_history")  # repaired


def test_merged_record_takes_no_more_changes(people, actors):
    Person.objects.filter(pk=people["other"].pk).update(merged_into=people["mother"])
    with pytest.raises(RegistryError, match="并入"):
        actions.do_register_death(actors["admin"], people["other"], death_date=date(2025, 1, 1))
