"""Audit records for signing in and out (登录审计).

Django sends ``user_logged_in``, ``user_logged_out`` and ``user_login_failed`` on every
path that authenticates (the login page, the admin's login, an API token check); each
becomes an audit record through :func:`~popreg.registry.audit.audit`.  A failed attempt has
no user: the record names the attempted user name and the client address, with a system
actor.  The password itself never goes into a record.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from popreg.registry.access import Actor, actor_for, system_actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError


def _client_ip(request: Any) -> str:
    """The client's address as the lockout counts it (behind trusted proxies, too)."""
    if request is None or not hasattr(request, "META"):
        return ""
    from popreg.registry.login_security import client_ip

    return client_ip(request)


def _actor_of(user: Any) -> Actor:
    """The user's actor; a user without a jurisdiction still signs in (and sees nothing)."""
    try:
        return actor_for(user)
    except RegistryError:
        return Actor(name=user.get_username(), role="", prefix="\x00", user=user)


@receiver(user_logged_in, dispatch_uid="popreg-audit-login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    actor = _actor_of(user)
    audit(actor, AuditAction.LOGIN, user, unit_code=actor.unit_code or "",
          detail={"user": user.get_username(), "ip": _client_ip(request)})


@receiver(user_logged_out, dispatch_uid="popreg-audit-logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        return  # a logout without a session: nobody signed out
    actor = _actor_of(user)
    audit(actor, AuditAction.LOGOUT, user, unit_code=actor.unit_code or "",
          detail={"user": user.get_username(), "ip": _client_ip(request)})


@receiver(user_login_failed, dispatch_uid="popreg-audit-login-failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None,
                  **kwargs: Any) -> None:
    # Django already replaces the password in ``credentials`` by stars; keep only the name.
    attempted = str(credentials.get("username", "") or "")[:150]
    audit(system_actor("anonymous"), AuditAction.LOGIN_FAILED, None,
          detail={"username": attempted, "ip": _client_ip(request)})
