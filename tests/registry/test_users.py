"""Roles are assigned only through do_assign_role (audited, county administrators only)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from popreg.registry import actions
from popreg.registry.access import actor_for
from popreg.registry.errors import PermissionDeniedError, RegistryError
from popreg.registry.models import Assignment, AuditRecord

from ..conftest import COUNTY, TOWN_A, VILLAGE_A1


def test_assign_and_change_a_role_is_audited(users, actors):
    new = get_user_model().objects.create_user(username="xinren", password="x")
    a = actions.do_assign_role(actors["admin"], new, "village_clerk", VILLAGE_A1)
    assert (a.role, a.unit_id) == ("village_clerk", VILLAGE_A1)
    assert actor_for(new).prefix == VILLAGE_A1
    actions.do_assign_role(actors["admin"], new, "township_officer", TOWN_A)
    assert Assignment.objects.filter(user=new).count() == 1
    assert actor_for(new).role == "township_officer"
    first, second = AuditRecord.objects.filter(action="assign_role").order_by("id")
    assert first.before is None and first.after == {"role": "village_clerk", "unit": VILLAGE_A1}
    assert second.before == {"role": "village_clerk", "unit": VILLAGE_A1}
    assert second.after == {"role": "township_officer", "unit": TOWN_A}
    assert second.detail["user"] == "xinren" and second.actor_name == "admin"


@pytest.mark.parametrize("role", ["officer_a", "clerk_a1", "auditor", "statistician"])
def test_only_county_administrators_assign_roles(users, actors, role):
    target = users["clerk_b1"]
    with pytest.raises(PermissionDeniedError):
        actions.do_assign_role(actors[role], target, "county_admin", COUNTY)
    assert Assignment.objects.get(user=target).role == "village_clerk"
    assert not AuditRecord.objects.filter(action="assign_role").exists()


def test_unknown_role_or_unit_names_the_field(users, actors):
    with pytest.raises(RegistryError) as err:
        actions.do_assign_role(actors["admin"], users["clerk_b1"], "mayor", VILLAGE_A1)
    assert err.value.field == "role" and "village_clerk" in err.value.message_en
    with pytest.raises(RegistryError) as err:
        actions.do_assign_role(actors["admin"], users["clerk_b1"], "village_clerk", "999999999999")
    assert err.value.field == "unit_code"


def test_demo_accounts_assign_through_the_action(county, capsys):
    call_command("demo_accounts", "--password", "demo-pass-2026-x")
    records = AuditRecord.objects.filter(action="assign_role")
    assert sorted(r.detail["user"] for r in records) == ["admin", "cunyuan", "fuli", "fuli2", "shenji", "tongji",
                                                                "xiangzhen"]
    assert {r.actor_name for r in records} == {"demo_accounts"}
    assert Assignment.objects.get(user__username="cunyuan").unit.level == "village"
    call_command("demo_accounts", "--password", "demo-pass-2026-x")  # run again: same roles, audited again
    assert Assignment.objects.count() == 7
    assert AuditRecord.objects.filter(action="assign_role").count() == 14


def test_the_admin_saves_assignments_through_the_action(client, users):
    from ..conftest import PASSWORD

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.login(username="root", password=PASSWORD)
    new = get_user_model().objects.create_user(username="xinren", password="x")
    resp = client.post("/admin/registry/assignment/add/", {"user": new.pk, "role": "auditor", "unit": COUNTY})
    assert resp.status_code == 302, resp.content.decode()[:500]
    assert Assignment.objects.get(user=new).role == "auditor"
    rec = AuditRecord.objects.get(action="assign_role")
    assert rec.actor_name == "root" and rec.after == {"role": "auditor", "unit": COUNTY}
    a = Assignment.objects.get(user=new)
    client.post(f"/admin/registry/assignment/{a.pk}/change/", {"role": "village_clerk", "unit": VILLAGE_A1})
    assert Assignment.objects.get(user=new).role == "village_clerk"
    assert AuditRecord.objects.filter(action="assign_role").count() == 2
    assert client.post(f"/admin/registry/assignment/{a.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Assignment.objects.filter(user=new).exists()
