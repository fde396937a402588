"""``popreg changepassword``: Django's command, with an audit record of the change."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword

from popreg.registry.access import system_actor
from popreg.registry.audit import AuditAction, audit


class Command(changepassword.Command):
    help = "Change a user's password (Django's command); the change is audited (reset_password)."

    def handle(self, *args: Any, **options: Any) -> Any:
        result = super().handle(*args, **options)  # raises CommandError when nothing changed
        name = options["username"] or getpass.getuser()
        user = get_user_model()._default_manager.db_manager(options["database"]).get_by_natural_key(name)
        audit(system_actor("changepassword"), AuditAction.RESET_PASSWORD, user,
              detail={"user": user.get_username(), "via": "changepassword"})
        return result
