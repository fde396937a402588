from datetime import date

import pytest

from popreg.registry import actions
from popreg.registry.errors import JurisdictionError, PermissionDeniedError, RegistryError
from popreg.registry.history import rebuild_person
from popreg.registry.models import AdminUnit, Event, Household, Person, UnitSuccession

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1


def test_merge_keeps_history_and_recodes_people(people, actors):
    new = actions.do_succeed_units(
        actors["officer_a"], kind="merge", predecessor_codes=[VILLAGE_A1, VILLAGE_A2],
        successors=[{"code": "110105001003", "name": "东西关村民委员会"}], effective_date=date(2025, 1, 1),
    )
    assert [u.code for u in new] == ["110105001003"]
    old = AdminUnit.objects.get(code=VILLAGE_A1)
    assert old.valid_to == date(2024, 12, 31) and old.name == "东关村民委员会"  # history kept
    assert UnitSuccession.objects.filter(successor_id="110105001003").count() == 2
    mother = Person.objects.get(pk=people["mother"].pk)
    assert mother.registered_unit_id == "110105001003"
    assert Household.objects.get(pk=people["hh_a"].pk).unit_id == "110105001003"
    ev = Event.objects.filter(person=mother).last()
    assert ev.changes["registered_unit_id"] == [VILLAGE_A1, "110105001003"]
    assert rebuild_person(mother) == []
    assert Person.objects.get(pk=people["other"].pk).registered_unit_id == VILLAGE_B1


def test_split_needs_every_household_mapped(people, actors):
    args = dict(kind="split", predecessor_codes=[VILLAGE_A1], effective_date=date(2025, 1, 1),
                successors=[{"code": "110105001004", "name": "东关一村"}, {"code": "110105001005", "name": "东关二村"}])
    with pytest.raises(RegistryError) as exc:
        actions.do_succeed_units(actors["admin"], **args)
    assert exc.value.field == "household_map"
    assert not AdminUnit.objects.filter(code="110105001004").exists()  # nothing half-done
    actions.do_succeed_units(actors["admin"], household_map={people["hh_a"].pk: "110105001005"}, **args)
    assert Person.objects.get(pk=people["child"].pk).registered_unit_id == "110105001005"


def test_succession_respects_jurisdiction(people, actors):
    rename_b1 = {"kind": "rename", "predecessor_codes": [VILLAGE_B1],
                 "successors": [{"code": "110105002009", "name": "新柳村"}], "effective_date": date(2025, 1, 1)}
    with pytest.raises(JurisdictionError):
        actions.do_succeed_units(actors["officer_a"], **rename_b1)
    with pytest.raises(PermissionDeniedError):  # a village clerk records no successions at all
        actions.do_succeed_units(actors["clerk_a1"], **rename_b1)
