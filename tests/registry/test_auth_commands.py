"""Django's user commands are replaced by audited ones (popreg.authcli)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands

from popreg.registry.models import AuditRecord

pytestmark = pytest.mark.django_db

STRONG = "river-lantern-orchard-42"


def test_the_audited_commands_take_django_s_place():
    commands = get_commands()
    assert commands["createsuperuser"] == "popreg.authcli"
    assert commands["changepassword"] == "popreg.authcli"


def test_createsuperuser_is_audited(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    call_command("createsuperuser", "--noinput", "--username", "itstaff", "--email", "it@example.org")
    user = get_user_model().objects.get(username="itstaff")
    rec = AuditRecord.objects.get(action="create_user", target_id=str(user.pk))
    assert rec.actor_name == "createsuperuser" and rec.detail["user"] == "itstaff"
    assert STRONG not in str(rec.detail) and STRONG not in str(rec.after)


def test_changepassword_is_audited(monkeypatch):
    user = get_user_model().objects.create_user("clerkx", password=STRONG)
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": "another-" + STRONG)
    call_command("changepassword", "clerkx")
    user.refresh_from_db()
    assert user.check_password("another-" + STRONG)
    rec = AuditRecord.objects.get(action="reset_password", target_id=str(user.pk))
    assert rec.actor_name == "changepassword" and "another-" not in str(rec.detail)


def test_a_refused_password_change_is_not_audited(monkeypatch):
    from django.contrib.auth.management.commands import changepassword
    from django.core.management import CommandError

    user = get_user_model().objects.create_user("clerky", password=STRONG)
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": "12345678")
    with pytest.raises(CommandError):
        call_command("changepassword", "clerky")
    assert not AuditRecord.objects.filter(action="reset_password", target_id=str(user.pk)).exists()
