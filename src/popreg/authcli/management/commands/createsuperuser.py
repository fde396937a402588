"""``popreg createsuperuser``: Django's command, with an audit record of each user it made."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser

from popreg.registry.access import system_actor
from popreg.registry.audit import AuditAction, audit


class Command(createsuperuser.Command):
    help = "Create a superuser (Django's command); the creation is audited (create_user)."

    def handle(self, *args: Any, **options: Any) -> Any:
        users = get_user_model()._default_manager.db_manager(options["database"])
        last = users.order_by("-pk").values_list("pk", flat=True).first() or 0
        result = super().handle(*args, **options)
        for user in users.filter(pk__gt=last):
            audit(system_actor("createsuperuser"), AuditAction.CREATE_USER, user,
                  detail={"user": user.get_username(), "superuser": True, "via": "createsuperuser"})
        return result
