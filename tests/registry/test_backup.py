"""Backup and restore: every table comes back with the same rows, on SQLite and PostgreSQL.

Each test restores into a scratch database of the vendor under test (SQLite: a new file;
PostgreSQL: a database created for the test and dropped afterwards), registered as a second
connection alias next to the test database.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.utils import load_backend

from popreg.registry.backup import (
    BackupError,
    database_is_empty,
    read_backup,
    restore_backup,
    table_digests,
    write_backup,
    write_container,
)

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = "restore_target"


def _pg_admin(settings_dict):
    import psycopg

    return psycopg.connect(
        host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None,
        user=settings_dict["USER"] or None, password=settings_dict["PASSWORD"] or None,
        dbname="postgres", autocommit=True,
    )


@pytest.fixture
def target(tmp_path):
    """An empty database of the vendor under test, as connection alias ``restore_target``;
    yields the DATABASE_URL that names it."""
    cfg = copy.deepcopy(connection.settings_dict)
    if connection.vendor == "sqlite":
        cfg["NAME"] = str(tmp_path / "restored.sqlite3")
        url = f"sqlite:///{cfg['NAME']}"
    else:
        cfg["NAME"] = f"popreg_restore_{uuid.uuid4().hex[:12]}"
        with _pg_admin(cfg) as admin:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
        auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
        url = f"postgres://{auth}@{cfg['HOST']}:{cfg['PORT']}/{cfg['NAME']}"
    # a connection made here, not in settings.DATABASES: Django's test case lets it through
    connections[TARGET] = load_backend(cfg["ENGINE"]).DatabaseWrapper(cfg, TARGET)
    try:
        yield url
    finally:
        connections[TARGET].close()
        del connections[TARGET]
        if connection.vendor == "postgresql":
            with _pg_admin(cfg) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}" WITH (FORCE)')


@pytest.fixture
def registry(people, users):
    """The tiny county with persons, events, audit records, users and a duplicate candidate."""
    from popreg.linkage.models import DuplicateCandidate

    DuplicateCandidate.objects.create(
        person_a=people["mother"], person_b=people["other"], match_weight=3.25,
        match_probability=0.4172, evidence=[{"comparison": "name", "level": "拼音相同", "weight": 1.5}],
    )
    return people


def _backup(tmp_path, settings, key=None) -> Path:
    settings.POPREG_BACKUP_KEY = key or ""
    out = tmp_path / "registry.popreg-backup"
    call_command("backup", out=str(out))
    return out


@pytest.mark.parametrize("key", [None, "correct horse battery staple"])
def test_restore_gives_back_every_table(registry, tmp_path, settings, target, key):
    from popreg.registry.audit_chain import verify_chain
    from popreg.registry.models import AuditRecord, Person

    out = _backup(tmp_path, settings, key)
    before = table_digests()
    assert before["registry_person"]["rows"] == 3
    assert before["linkage_duplicatecandidate"]["rows"] == 1
    assert all(before[t]["rows"] > 0 for t in ("registry_event", "django_migrations", "auth_user"))

    report = restore_backup(out, key, using=TARGET)

    after = table_digests(TARGET)
    assert after == before  # every table: same row count, same checksum
    assert report.ok and {t.table for t in report.tables} == set(before)
    assert report.manifest["tables"] == before
    # read back through the ORM, independently of the checksums
    assert sorted(Person.objects.using(TARGET).values_list("name", flat=True)) == sorted(
        Person.objects.values_list("name", flat=True))
    assert AuditRecord.objects.using(TARGET).count() == AuditRecord.objects.count() > 0
    chain = verify_chain(using=TARGET)  # the audit hash chain survives the round trip
    assert chain.ok and chain.checked == AuditRecord.objects.count()


def test_checksum_changes_with_one_value(registry, tmp_path, settings, target):
    out = _backup(tmp_path, settings)
    restore_backup(out, None, using=TARGET)
    pk = registry["child"].pk
    with connections[TARGET].cursor() as cursor:
        cursor.execute("UPDATE registry_person SET name = %s WHERE id = %s", ["张伟", pk])
    changed = table_digests(TARGET)
    original = table_digests()
    assert changed["registry_person"]["rows"] == original["registry_person"]["rows"]
    assert changed["registry_person"]["checksum"] != original["registry_person"]["checksum"]
    assert {t for t in original if changed[t] != original[t]} == {"registry_person"}


def test_wrong_key_is_refused_and_nothing_written(registry, tmp_path, settings, target):
    out = _backup(tmp_path, settings, "the right key")
    with pytest.raises(BackupError) as err:
        restore_backup(out, "a wrong key", using=TARGET)
    assert "wrong backup key" in err.value.message_en and "密钥不正确" in err.value.message_zh
    with pytest.raises(BackupError, match="encrypted"):
        restore_backup(out, None, using=TARGET)
    assert database_is_empty(TARGET)


@pytest.mark.parametrize("key", [None, "k"])
@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_damaged_file_is_refused_and_nothing_written(registry, tmp_path, settings, target, key, damage):
    out = _backup(tmp_path, settings, key)
    data = bytearray(out.read_bytes())
    if damage == "truncated":
        data = data[: len(data) - 4096]
    else:
        data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(BackupError) as err:
        restore_backup(out, key, using=TARGET)
    assert "damaged or incomplete" in err.value.message_en and "已损坏" in err.value.message_zh
    assert database_is_empty(TARGET)


def test_non_empty_target_is_refused(registry, tmp_path, settings):
    out = _backup(tmp_path, settings)
    with pytest.raises(BackupError, match="is not empty"):
        restore_backup(out, None)  # the test database itself has tables


def _rewritten(path: Path, tmp_path: Path, change) -> Path:
    payload = tmp_path / "payload"
    manifest = read_backup(path, None, payload)
    change(manifest)
    new = tmp_path / "changed.popreg-backup"
    write_container(new, manifest, payload, None)
    return new


def test_unknown_migration_is_refused(registry, tmp_path, settings, target):
    out = _backup(tmp_path, settings)
    newer = _rewritten(out, tmp_path, lambda m: m["migrations"]["registry"].append("9999_from_the_future"))
    with pytest.raises(BackupError) as err:
        restore_backup(newer, None, using=TARGET)
    assert "registry.9999_from_the_future" in err.value.message_en and "迁移" in err.value.message_zh
    assert database_is_empty(TARGET)


def test_other_vendor_is_refused(registry, tmp_path, settings, target):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    out = _backup(tmp_path, settings)
    moved = _rewritten(out, tmp_path, lambda m: m.update(vendor=other))
    with pytest.raises(BackupError, match=f"backup of a {other} database"):
        restore_backup(moved, None, using=TARGET)
    assert database_is_empty(TARGET)


def test_restore_command_prints_the_check_of_every_table(registry, tmp_path, settings, target):
    out = _backup(tmp_path, settings, "cli key")
    env = {**os.environ, "DATABASE_URL": target, "POPREG_BACKUP_KEY": "cli key"}
    popreg = Path(sys.executable).with_name("popreg")
    done = subprocess.run([str(popreg), "restore", str(out)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "counts and checksums identical" in done.stdout
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.endswith(" ok")}
    assert set(lines) == set(table_digests())
    assert table_digests(TARGET) == table_digests()
    again = subprocess.run([str(popreg), "restore", str(out)], env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode != 0 and "is not empty" in again.stderr


def test_check_reads_the_whole_file_without_a_database(registry, tmp_path, settings, capsys):
    out = _backup(tmp_path, settings, "check key")
    call_command("restore", str(out), "--check")
    assert "backup file intact" in capsys.readouterr().out
    data = bytearray(out.read_bytes())
    data[-10] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="damaged or incomplete"):
        call_command("restore", str(out), "--check")


def test_a_restored_database_backs_up_to_the_same_checksums(registry, tmp_path, settings, target):
    """Backs up a database in a file too (the SQLite test database lives in memory, where
    the backup API never meets a lock)."""
    first = _backup(tmp_path, settings)
    restore_backup(first, None, using=TARGET)
    again = write_backup(tmp_path / "again.popreg-backup", None, using=TARGET)
    assert again["tables"] == read_backup(first, None)["tables"] == table_digests()
