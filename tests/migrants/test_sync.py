"""A loaded snapshot's floating_in / floating_out persons get their migrant records."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from popreg.migrants.models import InMigrant, MigrantHistory, OutMigrant
from popreg.registry.access import system_actor
from popreg.registry.loading import load_snapshot
from popreg.registry.models import AuditRecord, Person


@pytest.fixture(scope="module")
def two_counties(tmp_path_factory):
    from popreg.synth.counties import generate_counties

    out = tmp_path_factory.mktemp("two")
    generate_counties(out, seed=7, counties=2, persons=1000)
    return out


@pytest.mark.django_db
def test_load_creates_migrant_records_from_snapshot_columns(two_counties):
    root = next(p for p in sorted(two_counties.iterdir()) if p.name.isdigit())
    counts = load_snapshot(root, system_actor("load"))
    persons = pq.read_table(root / "persons.parquet").to_pandas()
    active = persons[persons.status == "active"]
    floating_in = active[(active.residence_type == "floating_in")]
    floating_out = active[(active.residence_type == "floating_out")]
    assert counts["migrants/in_migrants"] == InMigrant.objects.count() > 0
    assert counts["migrants/out_migrants"] == OutMigrant.objects.count() > 0
    # every active floating_in person registered outside the county got one record
    expected = {int(pid) for pid, reg in zip(floating_in.person_id, floating_in.registered_unit, strict=True)
                if not str(reg).startswith(root.name)}
    assert set(InMigrant.objects.values_list("person_id", flat=True)) == expected
    assert len(expected) == len(floating_in)  # the generator's in-migrants all come from outside
    # arrival and reason are the snapshot's
    row = floating_in.iloc[0]
    m = InMigrant.objects.get(person_id=int(row.person_id))
    assert m.arrival_date == row.arrival_date and m.reason == row.migration_reason
    assert m.residence_unit_id == row.residence_unit and m.origin_code == row.registered_unit[:12]
    out = floating_out.iloc[0]
    o = OutMigrant.objects.get(person_id=int(out.person_id))
    assert o.destination_code == (out.destination_code or "") and o.last_confirmed is None
    assert MigrantHistory.objects.count() == InMigrant.objects.count() + OutMigrant.objects.count()
    assert AuditRecord.objects.filter(action="migrant_sync").count() == 1
    # a second sync adds nothing
    call_command("migrants_sync")
    assert InMigrant.objects.count() == counts["migrants/in_migrants"]
    assert Person.objects.filter(residence_type="floating_in").count() >= InMigrant.objects.count()
