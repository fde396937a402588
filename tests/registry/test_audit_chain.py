"""Tamper-evident audit: the database refuses changes to history, the audit records form a
hash chain that ``popreg audit_verify`` checks, and signing in and out is audited."""

from __future__ import annotations

import os
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from popreg.registry import append_only
from popreg.registry.audit import AuditAction, audit
from popreg.registry.audit_chain import verify_chain
from popreg.registry.models import AuditRecord, Event, UnitSuccession

from ..conftest import PASSWORD, VILLAGE_B1

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(people, actors):
    from datetime import date

    from popreg.registry import actions

    actions.do_succeed_units(actors["admin"], kind="rename", predecessor_codes=[VILLAGE_B1],
                             successors=[{"code": "110105002009", "name": "新柳村"}],
                             effective_date=date(2025, 1, 1))
    return people


def _raw(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("model", [Event, AuditRecord, UnitSuccession])
def test_raw_sql_update_and_delete_are_refused_by_the_database(history, model):
    table = model._meta.db_table
    row = model.objects.order_by("id").first()
    count = model.objects.count()
    column = {Event: "unit_code", AuditRecord: "actor_name", UnitSuccession: "kind"}[model]
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {table} SET {column} = %s WHERE id = %s", ["x", row.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {table} WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {table}")
    assert model.objects.count() == count
    assert getattr(model.objects.get(pk=row.pk), column) == getattr(row, column)
    _raw(f"SELECT COUNT(*) FROM {table}")  # reading stays allowed


def test_a_clean_chain_verifies(history, capsys):
    records = list(AuditRecord.objects.order_by("id"))
    assert len(records) >= 5
    assert records[0].prev_hash == ""
    for before, after in zip(records, records[1:], strict=False):
        assert after.prev_hash == before.hash and len(after.hash) == 64
    call_command("audit_verify")
    assert f"OK: {len(records):,} audit records" in capsys.readouterr().out


def test_audit_many_chains_its_rows_in_order(history, actors):
    from popreg.registry.audit import audit_many

    before = AuditRecord.objects.order_by("-id").first()
    audit_many(actors["admin"], AuditAction.EXPORT_FILE,
               [(None, {"detail": {"n": i, "ratio": 2.0, "keys": {1: (1, 2)}}}) for i in range(3)])
    new = list(AuditRecord.objects.filter(id__gt=before.pk).order_by("id"))
    assert [r.detail["n"] for r in new] == [0, 1, 2]
    assert new[0].prev_hash == before.hash
    assert verify_chain().ok


def _without_triggers() -> None:
    """Stand in for someone with the database file or an owner's shell: lift the triggers
    (inside the test's transaction, so the test database gets them back)."""
    with connection.cursor() as cursor:
        for sql in append_only.drop_sql(connection.vendor):
            cursor.execute(sql)


def test_audit_verify_names_an_altered_record(history):
    victim = AuditRecord.objects.order_by("id")[2]
    _without_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_auditrecord SET actor_name = %s WHERE id = %s",
                       ["someone_else", victim.pk])
    result = verify_chain()
    assert (result.broken_id, result.checked) == (victim.pk, 2)
    assert "altered" in result.problem
    with pytest.raises(CommandError, match=f"audit record {victim.pk} breaks the chain"):
        call_command("audit_verify")


def test_audit_verify_names_the_record_after_a_removed_one(history):
    records = list(AuditRecord.objects.order_by("id"))
    _without_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM registry_auditrecord WHERE id = %s", [records[1].pk])
    result = verify_chain()
    assert result.broken_id == records[2].pk and "prev_hash" in result.problem


def test_rewriting_a_record_and_its_hash_still_breaks_the_next_link(history):
    """Someone who recomputes the altered row's own hash breaks the next row's link."""
    from popreg.registry.audit_chain import record_hash

    records = list(AuditRecord.objects.order_by("id"))
    victim = records[1]
    victim.detail = {"forged": True}
    forged = record_hash({f: getattr(victim, f) for f in (
        "at", "actor_id", "actor_name", "action", "target_type", "target_id", "unit_code",
        "before", "after", "detail")}, victim.prev_hash)
    _without_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_auditrecord SET detail = %s, hash = %s WHERE id = %s",
                       ['{"forged": true}', forged, victim.pk])
    assert verify_chain().broken_id == records[2].pk


def test_login_success_failure_and_logout_are_audited(users, client):
    client.post("/login/", {"username": "clerk_a1", "password": "wrong-password"},
                REMOTE_ADDR="10.1.2.3")
    failed = AuditRecord.objects.filter(action=AuditAction.LOGIN_FAILED).get()
    assert failed.actor is None and failed.actor_name == "anonymous"
    assert failed.detail == {"username": "clerk_a1", "ip": "10.1.2.3"}
    assert "wrong-password" not in str(failed.detail)

    client.post("/login/", {"username": "clerk_a1", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    login = AuditRecord.objects.filter(action=AuditAction.LOGIN).get()
    assert login.actor == users["clerk_a1"] and login.unit_code.startswith("110105001")
    assert login.detail["ip"] == "10.1.2.3"

    client.logout()
    logout = AuditRecord.objects.filter(action=AuditAction.LOGOUT).get()
    assert logout.actor == users["clerk_a1"]
    assert verify_chain().ok


def test_admin_person_page_is_audited(people, client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    person = people["mother"]
    response = client.get(f"/admin/registry/person/{person.pk}/change/")
    assert response.status_code == 200 and person.id_number in response.content.decode()
    view = AuditRecord.objects.filter(action=AuditAction.VIEW_ID_NUMBER).get()
    assert (view.actor, view.target_id, view.detail) == (root, str(person.pk), {"page": "admin"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="concurrent writers need PostgreSQL (SQLite has a single writer)")
def test_concurrent_writers_never_fork_the_chain(actors):
    from popreg.registry.access import system_actor

    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                audit(system_actor(f"w{n}"), AuditAction.EXPORT_FILE, None, detail={"i": i})
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hashes = list(AuditRecord.objects.values_list("prev_hash", flat=True))
    assert len(hashes) == len(set(hashes)) >= 40  # no two records share a predecessor
    assert verify_chain().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")
def test_an_application_role_cannot_change_history(history):
    from popreg.registry.access import system_actor
    from popreg.registry.db_roles import grant_sql

    # Created inside the test's transaction: the rollback at its end drops the role again.
    role = f"popreg_test_app_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        for sql in grant_sql(role):
            cursor.execute(sql)
        cursor.execute(f"SET ROLE {role}")
    try:
        for model in (Event, AuditRecord, UnitSuccession):
            table = model._meta.db_table
            with pytest.raises(DatabaseError, match="permission denied"):
                _raw(f"UPDATE {table} SET id = id")
            with pytest.raises(DatabaseError, match="permission denied"):
                _raw(f"DELETE FROM {table}")
            with pytest.raises(DatabaseError, match="permission denied"):
                _raw(f"TRUNCATE {table}")
            with pytest.raises(DatabaseError, match="must be owner"):
                _raw(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        # what the application needs still works as that role
        audit(system_actor(), AuditAction.EXPORT_FILE, None)
        _raw("UPDATE registry_person SET name = name WHERE id = %s", [history["mother"].pk])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert verify_chain().ok


def test_admin_user_pages_are_audited(users, client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    r = client.post("/admin/auth/user/add/", {
        "username": "newclerk", "password1": "a-Long-unusual-pass-93", "password2": "a-Long-unusual-pass-93",
        "usable_password": "true"})
    assert r.status_code == 302, r.content.decode()[:2000]
    new = django_user_model.objects.get(username="newclerk")
    created = AuditRecord.objects.get(action=AuditAction.CREATE_USER)
    assert (created.actor, created.target_id) == (root, str(new.pk))

    clerk = users["clerk_a1"]
    r = client.post(f"/admin/auth/user/{clerk.pk}/password/", {
        "password1": "another-Long-pass-71", "password2": "another-Long-pass-71",
        "usable_password": "true"})
    assert r.status_code == 302
    reset = AuditRecord.objects.get(action=AuditAction.RESET_PASSWORD)
    assert reset.target_id == str(clerk.pk) and "another" not in str(reset.detail)

    r = client.get(f"/admin/auth/user/{clerk.pk}/change/")
    form = r.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "groups", "user_permissions", "last_login", "date_joined")}
    data.update({"is_superuser": "on", "is_active": "on", "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00"})
    r = client.post(f"/admin/auth/user/{clerk.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    changed = AuditRecord.objects.get(action=AuditAction.CHANGE_USER)
    assert changed.before["is_superuser"] is False and changed.after["is_superuser"] is True
    assert verify_chain().ok


def test_admin_pages_of_events_and_audit_records_showing_an_id_number_are_audited(
        people, client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    birth = Event.objects.filter(person=people["mother"]).order_by("id").first()
    assert "id_number" in birth.changes
    assert client.get(f"/admin/registry/event/{birth.pk}/change/").status_code == 200
    seen = AuditRecord.objects.filter(action=AuditAction.VIEW_ID_NUMBER).get()
    assert (seen.target_type, seen.target_id) == ("Event", str(birth.pk))
    # an audit record without an ID number in it is not a read of one
    plain = AuditRecord.objects.exclude(action=AuditAction.VIEW_ID_NUMBER).filter(
        action=AuditAction.CREATE_HOUSEHOLD).first()
    assert client.get(f"/admin/registry/auditrecord/{plain.pk}/change/").status_code == 200
    assert AuditRecord.objects.filter(action=AuditAction.VIEW_ID_NUMBER).count() == 1
