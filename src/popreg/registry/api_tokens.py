"""Checking an API token of a request: usable (not expired, not revoked, active owner),
not locked out, and its use recorded (``last_used_at``).

A wrong token counts as a failed login of the client address (django-axes), so guessing
tokens is throttled like guessing passwords; while the address is locked out even a good
token is refused (HTTP 429).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError

from popreg.registry.token_models import ApiToken, token_digest

LOCKED_OUT = "登录失败次数过多，请稍后再试 / too many failed logins; try again later"


def user_for_token(request: HttpRequest, secret: str) -> Any:
    """The owner of a usable token, or None (the API answers 401)."""
    # The lockout counts per client address; the "user name" is the token's visible prefix
    # (an empty one would be shared by every client and lock the API for everybody).
    credentials = {"username": f"api-token:{(secret or '').strip()[:12]}"}
    if not AxesProxyHandler.is_allowed(request, credentials):
        raise HttpError(429, LOCKED_OUT)
    token = (
        ApiToken.objects.select_related("owner").filter(digest=token_digest(secret.strip())).first()
        if secret
        else None
    )
    if token is None or not token.is_usable or not token.owner.is_active:
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    request.api_token = token  # type: ignore[attr-defined]
    return token.owner
