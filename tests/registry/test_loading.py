"""Load a synthetic snapshot, check it, and write it back out."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow.compute as pc
import pytest
from django.core.management import CommandError, call_command

from popreg.registry import actions
from popreg.registry.access import system_actor
from popreg.registry.errors import RegistryError
from popreg.registry.history import rebuild_person
from popreg.registry.loading import load_snapshot
from popreg.registry.models import AdminUnit, AuditRecord, Event, Person, SourceRecord
from popreg.registry.snapshot import write_registry_snapshot
from popreg.snapshot import read_manifest, read_table, verify_snapshot
from popreg.synth.generator import generate

COLUMNS = ["person_id", "household_id", "name", "sex", "birth_date", "id_number", "registered_unit",
           "residence_unit", "residence_type", "status", "mother_id"]


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    out = tmp_path_factory.mktemp("snap")
    generate(out, seed=7, persons=1500, progress=None)
    return out


def test_load_then_snapshot_round_trip(db, snap, tmp_path):
    counts = load_snapshot(snap, system_actor("test"))
    manifest = read_manifest(snap)
    assert counts["persons"] == manifest["row_counts"]["persons"] == Person.objects.count()
    assert counts["events"] == Event.objects.count()
    assert SourceRecord.objects.filter(source="death_notices").count() == manifest["row_counts"]["sources/death_notices"]
    # In-migrants are registered outside the county: their unit exists as an external unit.
    assert AdminUnit.objects.filter(level="external").exists()
    assert AuditRecord.objects.filter(action="load_snapshot").count() == 1
    for p in Person.objects.order_by("?")[:200]:
        assert rebuild_person(p) == []

    m1 = write_registry_snapshot(tmp_path / "a")
    assert verify_snapshot(tmp_path / "a") == []
    original = read_table(snap, "persons").select(COLUMNS).sort_by("person_id")
    exported = read_table(tmp_path / "a", "persons").select(COLUMNS).sort_by("person_id")
    assert exported.cast(original.schema).equals(original)
    units = read_table(tmp_path / "a", "units")
    assert pc.sum(pc.equal(units.column("level"), "external")).as_py() in (None, 0)
    assert m1["row_counts"]["events"] == manifest["row_counts"]["events"]
    # Same history, same files.
    m2 = write_registry_snapshot(tmp_path / "b", datetime(2025, 11, 1))
    m3 = write_registry_snapshot(tmp_path / "c", datetime(2025, 11, 1))
    assert m2["checksums"] == m3["checksums"]


def test_snapshot_at_undoes_later_events(db, snap, tmp_path):
    load_snapshot(snap, system_actor("test"))
    admin = system_actor("test")
    person = Person.objects.filter(status="active", residence_type="registered", birth_date__lt=date(2000, 1, 1)).first()
    village = person.registered_unit_id
    actions.do_register_death(admin, person, death_date=date.today())
    baby = actions.do_register_birth(admin, name="新生儿", sex="F", birth_date=date.today(),
                                     registered_unit_code=village)
    before = write_registry_snapshot(tmp_path / "before", datetime.combine(date.today(), datetime.min.time()))
    persons = read_table(tmp_path / "before", "persons").to_pandas().set_index("person_id")
    assert persons.loc[person.pk, "status"] == "active"
    assert baby.pk not in persons.index
    assert before["row_counts"]["events"] == Event.objects.filter(recorded_date__lt=date.today()).exclude(
        event_type__in=["registration", "merge", "unmerge"]).count()
    write_registry_snapshot(tmp_path / "now")
    now = read_table(tmp_path / "now", "persons").to_pandas().set_index("person_id")
    assert now.loc[person.pk, "status"] == "deceased" and baby.pk in now.index


def test_load_refuses_non_empty_registry_and_bad_snapshots(db, snap, tmp_path):
    with pytest.raises(RegistryError, match="manifest"):
        load_snapshot(tmp_path, system_actor("test"))
    load_snapshot(snap, system_actor("test"))
    n = Person.objects.count()
    with pytest.raises(RegistryError, match="不是空的"):
        load_snapshot(snap, system_actor("test"))
    call_command("load", str(snap), "--if-empty")  # succeeds, does nothing
    assert Person.objects.count() == n


def test_corrupt_snapshot_changes_nothing(db, snap, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(snap, bad)
    (bad / "events.parquet").write_bytes(b"not parquet")
    with pytest.raises(CommandError, match="校验"):
        call_command("load", str(bad))
    assert Person.objects.count() == 0 and AdminUnit.objects.count() == 0
