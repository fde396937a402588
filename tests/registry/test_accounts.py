"""Users and API tokens: create, deactivate, reset password, tokens created, used, expired
and revoked; every change audited, refused for a user without MANAGE_USERS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone

from popreg.registry import actions
from popreg.registry.errors import RegistryError
from popreg.registry.models import ApiToken, Assignment, AuditRecord

from ..conftest import VILLAGE_A1

GOOD = "晴天-river-4471-lantern"


def _bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_admin_creates_a_user_with_unit_and_role(actors):
    user = actions.do_create_user(actors["admin"], "xinren", GOOD, "village_clerk", VILLAGE_A1, full_name="王芳")
    assert user.check_password(GOOD) and user.is_active and user.first_name == "王芳"
    a = Assignment.objects.get(user=user)
    assert (a.role, a.unit_id) == ("village_clerk", VILLAGE_A1)
    assert set(AuditRecord.objects.values_list("action", flat=True)) == {"create_user", "assign_role"}
    with pytest.raises(RegistryError) as err:
        actions.do_create_user(actors["admin"], "xinren", GOOD, "village_clerk", VILLAGE_A1)
    assert err.value.field == "username"


@pytest.mark.parametrize("password", ["12345678", "password", "woaini1314", "zhang123456", "Popreg123456"])
def test_weak_passwords_are_refused_by_the_actions(actors, users, password):
    with pytest.raises(RegistryError) as err:
        actions.do_create_user(actors["admin"], "xinren", password, "village_clerk", VILLAGE_A1)
    assert err.value.field == "password" and "密码不符合要求" in err.value.message_zh
    with pytest.raises(RegistryError):
        actions.do_reset_password(actors["admin"], users["clerk_a1"], password)
    assert not get_user_model().objects.filter(username="xinren").exists()
    assert not AuditRecord.objects.exists()


def test_deactivate_and_reset_password(actors, users):
    clerk = users["clerk_a1"]
    _, secret = actions.do_create_api_token(actors["clerk_a1"], "script")
    actions.do_reset_password(actors["admin"], clerk, GOOD)
    clerk.refresh_from_db()
    assert clerk.check_password(GOOD)
    rec = AuditRecord.objects.get(action="reset_password")
    assert GOOD not in str(rec.detail) and rec.detail["user"] == "clerk_a1"
    actions.do_deactivate_user(actors["admin"], clerk)
    clerk.refresh_from_db()
    assert not clerk.is_active
    assert ApiToken.objects.get(owner=clerk).revoked_at is not None
    assert AuditRecord.objects.get(action="deactivate_user").detail["tokens_revoked"] == 1
    with pytest.raises(RegistryError):
        actions.do_deactivate_user(actors["admin"], users["admin"])  # not oneself


@pytest.mark.parametrize("name", ["clerk_a1", "officer_a", "statistician", "auditor"])
def test_user_management_refused_for_non_admins(actors, users, name):
    with pytest.raises(RegistryError):
        actions.do_create_user(actors[name], "xinren", GOOD, "village_clerk", VILLAGE_A1)
    with pytest.raises(RegistryError):
        actions.do_deactivate_user(actors[name], users["clerk_b1"])
    with pytest.raises(RegistryError):
        actions.do_reset_password(actors[name], users["clerk_b1"], GOOD)
    assert users["clerk_b1"].check_password("test-pass-123")
    assert not AuditRecord.objects.exists()


def test_token_create_use_expire_revoke(client, actors, people):
    token, secret = actions.do_create_api_token(actors["clerk_a1"], "nightly export", days=7)
    assert secret.startswith("prg_") and secret not in (token.digest, token.prefix)
    assert not ApiToken.objects.filter(digest__contains=secret).exists()  # only the hash is stored
    assert client.get("/api/persons", **_bearer(secret)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.scope == "read"
    # expired
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/persons", **_bearer(secret)).status_code == 401
    # revoked
    token2, secret2 = actions.do_create_api_token(actors["clerk_a1"], "second")
    assert client.get("/api/persons", **_bearer(secret2)).status_code == 200
    actions.do_revoke_api_token(actors["clerk_a1"], token2)
    assert client.get("/api/persons", **_bearer(secret2)).status_code == 401
    assert list(AuditRecord.objects.filter(action__contains="api_token").values_list("action", flat=True)
                .order_by("pk")) == ["create_api_token", "create_api_token", "revoke_api_token"]


def test_token_rules(actors, settings):
    settings.POPREG_API_TOKEN_MAX_DAYS = 30
    with pytest.raises(RegistryError) as err:
        actions.do_create_api_token(actors["clerk_a1"], "script", days=31)
    assert err.value.field == "days"
    with pytest.raises(RegistryError) as err:
        actions.do_create_api_token(actors["clerk_a1"], " ")
    assert err.value.field == "name"
    token, _ = actions.do_create_api_token(actors["clerk_a1"], "script")
    with pytest.raises(RegistryError):
        actions.do_revoke_api_token(actors["clerk_b1"], token)  # not the owner
    actions.do_revoke_api_token(actors["admin"], token)  # the administrator may
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_deactivated_user_can_no_longer_log_in(rf, actors, users):
    actions.do_deactivate_user(actors["admin"], users["clerk_a1"])
    assert authenticate(rf.post("/login/"), username="clerk_a1", password="test-pass-123") is None


def test_demo_accounts_refuse_a_weak_password(county):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("demo_accounts", "--password", "12345678")
    assert not get_user_model().objects.exists()


def test_demo_accounts_print_what_a_tester_needs(county, capsys, settings):
    from django.core.management import call_command

    settings.POPREG_DEPLOYMENT = "production"
    call_command("demo_accounts")
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.startswith("  ")]
    # one account per role, and two benefits officers: one prepares a run, the other approves it
    assert [w[0] for w in lines] == ["admin", "tongji", "shenji", "xiangzhen", "cunyuan", "fuli", "fuli2"]
    for name, password, *_ in lines:
        assert len(password) >= 12
        assert get_user_model().objects.get(username=name).check_password(password)
    assert len({w[1] for w in lines}) == len(lines)  # each account its own password
    officers = Assignment.objects.filter(user__username__in=["fuli", "fuli2"])
    assert sorted((a.user.username, a.role, a.unit.level) for a in officers) == [
        ("fuli", "benefits_officer", "county"), ("fuli2", "benefits_officer", "county")]
    assert "TOTP" in out and "lock the account" in out
