"""Login and session security: lockout, client address behind a proxy, password lists,
the second factor of county administrators and auditors (docs/security.md).

- :class:`LockoutBackend` (django-axes) refuses a locked-out user name or client address
  before any password is checked; the failures of the login form and of the API's tokens
  count alike.  Authentication without a request (a management command, the test client's
  ``login``) is not throttled: there is no client to lock out.
- :func:`client_ip` reads the client address from ``X-Forwarded-For`` only as far as
  ``POPREG_TRUSTED_PROXY_COUNT`` proxies vouch for it, so a client cannot choose its address
  (and escape the lockout) by sending the header itself.
- :class:`LocalPasswordListValidator` refuses the passwords of ``data/local_passwords.txt``.
- :class:`IdleSessionMiddleware` ends a session after ``POPREG_SESSION_IDLE_MINUTES``
  without a request (renewing it at most once a minute).
- :class:`SecondFactorMiddleware` sends a county administrator or auditor who has not
  verified a TOTP device to the enrol / verify page when ``POPREG_DEPLOYMENT=production``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

LOCAL_LIST = Path(__file__).resolve().parent / "data" / "local_passwords.txt"

#: Roles that must use a second factor in production.
SECOND_FACTOR_ROLES = frozenset({"county_admin", "auditor"})


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check; a call without a request is not throttled."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with N trusted proxies in front, the N-th
    address from the right of X-Forwarded-For (the one the outermost trusted proxy saw)."""
    remote = str(request.META.get("REMOTE_ADDR", "") or "")
    hops = int(getattr(settings, "POPREG_TRUSTED_PROXY_COUNT", 0))
    if hops <= 0:
        return remote
    forwarded = [a.strip() for a in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
                 if a.strip()]
    if len(forwarded) < hops:
        return forwarded[0] if forwarded else remote
    return forwarded[-hops]


@cache
def local_passwords() -> frozenset[str]:
    lines = LOCAL_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


class LocalPasswordListValidator:
    """Refuses a password on popreg's local list (county names, common pinyin passwords)."""

    def validate(self, password: str, user: Any = None) -> None:
        if password.strip().lower() in local_passwords():
            raise ValidationError(
                _("This password is on the list of passwords too easy to guess; choose another."),
                code="password_local_list",
            )

    def get_help_text(self) -> str:
        return _("Your password cannot be a name of the county or a common pinyin password.")


def second_factor_required(user: Any) -> bool:
    if getattr(settings, "POPREG_DEPLOYMENT", "demo") != "production":
        return False
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    assignment = getattr(user, "assignment", None) if hasattr(user, "assignment") else None
    return assignment is not None and assignment.role in SECOND_FACTOR_ROLES


#: A session's idle deadline is pushed forward at most this often: renewing it on every
#: request would write the session table on every page, and on SQLite each such write
#: waits behind a long import's write lock.
RENEW_SECONDS = 60


class IdleSessionMiddleware:
    """Ends a session after ``POPREG_SESSION_IDLE_MINUTES`` without a request: the session
    lives ``SESSION_COOKIE_AGE`` seconds from its last save (in the session store, not only
    in the cookie), and a request renews it when the last renewal is over a minute old."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and "_auth_user_id" in session:
            now = int(time.time())
            if now - int(session.get("_renewed", 0)) >= RENEW_SECONDS:
                session["_renewed"] = now  # marks the session modified: saved with a new expiry
        return self.get_response(request)


#: Paths a user who still owes a second factor may reach.
_OPEN_PREFIXES = ("/otp/", "/logout/", "/login/", "/static/", "/i18n/")


class SecondFactorMiddleware:
    """In production, a county administrator or auditor must verify a TOTP device (and
    enrol one first) before any other page; the API answers 403 instead of redirecting."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and second_factor_required(user)
            and not user.is_verified()
            and not request.path.startswith(_OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                return HttpResponse(
                    "需要先完成两步验证 / verify your second factor in the browser first",
                    status=403, content_type="text/plain; charset=utf-8",
                )
            return redirect(f"/otp/?next={request.path}")
        return self.get_response(request)
