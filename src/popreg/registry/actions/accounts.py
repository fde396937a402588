"""Accounts: users (created, deactivated, password reset by the county administrator) and
their API tokens (created and revoked by their owner).

A token's secret is shown once, at creation; only its SHA-256 is stored, so a copy of the
database does not give access to the API.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from popreg.registry.access import Actor
from popreg.registry.actions.maintenance import do_assign_role
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission
from popreg.registry.token_models import ApiToken, TokenScope, token_digest

#: Every token's secret starts with this, so that a leaked one is easy to recognise.
TOKEN_MARK = "prg_"


def _check_password(password: str, user: Any) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        from django.utils import translation

        with translation.override("zh-hans"):
            zh = "；".join(str(m) for m in ValidationError(exc.error_list).messages)
        with translation.override("en"):
            en = "; ".join(str(m) for m in ValidationError(exc.error_list).messages)
        raise RegistryError(f"密码不符合要求：{zh}", f"the password is refused: {en}",
                            "password") from exc


@transaction.atomic
def do_create_user(actor: Actor, username: str, password: str, role: str, unit_code: str,
                   full_name: str = "") -> Any:
    """Create an active user with a role over a unit (county administrators only)."""
    actor.require(Permission.MANAGE_USERS)
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise RegistryError("请填写用户名", "enter a user name", "username")
    if User.objects.filter(username=username).exists():
        raise RegistryError(f"用户名“{username}”已被使用，请换一个", f"the user name {username!r} is taken; choose another", "username")
    user = User(username=username, first_name=(full_name or "").strip()[:150])
    _check_password(password, user)
    user.set_password(password)
    user.save()
    audit(actor, AuditAction.CREATE_USER, user, unit_code=unit_code,
          after={"username": username, "role": role, "unit": unit_code})
    do_assign_role(actor, user, role, unit_code)
    return user


def _managed_user(actor: Actor, user: Any) -> Any:
    actor.require(Permission.MANAGE_USERS)
    User = get_user_model()
    pk = user if isinstance(user, int) else getattr(user, "pk", None)
    fresh = User.objects.select_for_update().filter(pk=pk).first() if pk is not None else None
    if fresh is None:
        raise RegistryError(f"用户 {pk} 不存在", f"user {pk} does not exist", "user")
    return fresh


@transaction.atomic
def do_deactivate_user(actor: Actor, user: Any) -> Any:
    """Deactivate a user (no login, no API) and revoke the user's tokens; the records the
    user made keep their name."""
    fresh = _managed_user(actor, user)
    if fresh.pk == actor.user_id:
        raise RegistryError("不能停用自己的账号", "you cannot deactivate your own account", "user")
    fresh.is_active = False
    fresh.save(update_fields=["is_active"])
    revoked = ApiToken.objects.filter(owner=fresh, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit(actor, AuditAction.DEACTIVATE_USER, fresh, before={"is_active": True},
          after={"is_active": False}, detail={"user": fresh.get_username(), "tokens_revoked": revoked})
    return fresh


@transaction.atomic
def do_reset_password(actor: Actor, user: Any, password: str) -> Any:
    """Set a new password for a user (who should change it at once); the audit record does
    not contain the password."""
    fresh = _managed_user(actor, user)
    _check_password(password, fresh)
    fresh.set_password(password)
    fresh.save(update_fields=["password"])
    audit(actor, AuditAction.RESET_PASSWORD, fresh, detail={"user": fresh.get_username()})
    return fresh


@transaction.atomic
def do_create_api_token(actor: Actor, name: str, days: int | None = None,
                        scope: str = TokenScope.READ) -> tuple[ApiToken, str]:
    """Create a token for the actor's own user; returns the row and the secret, which is
    not stored and cannot be shown again."""
    actor.require(Permission.VIEW_REGISTRY)
    if actor.user is None or getattr(actor.user, "pk", None) is None:
        raise RegistryError("只有登录用户可以创建令牌", "only a logged-in user can create a token", "user")
    name = (name or "").strip()
    if not name:
        raise RegistryError("请为令牌起个名字（例如所用脚本）", "give the token a name (e.g. the script that uses it)", "name")
    if scope not in TokenScope.values:
        raise RegistryError(f"令牌范围“{scope}”不存在", f"unknown token scope {scope!r}; use read", "scope")
    max_days = int(getattr(settings, "POPREG_API_TOKEN_MAX_DAYS", 90))
    days = max_days if days is None else int(days)
    if not 1 <= days <= max_days:
        raise RegistryError(f"有效期应为 1 至 {max_days} 天", f"the token must live 1 to {max_days} days", "days")
    secret = TOKEN_MARK + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=actor.user, name=name[:100], prefix=secret[:12], digest=token_digest(secret),
        scope=scope, expires_at=timezone.now() + timedelta(days=days),
    )
    audit(actor, AuditAction.CREATE_API_TOKEN, token,
          after={"name": token.name, "scope": scope, "expires_at": token.expires_at.isoformat()})
    return token, secret


@transaction.atomic
def do_revoke_api_token(actor: Actor, token: ApiToken | int) -> ApiToken:
    """Revoke a token: its owner may, and so may a county administrator."""
    pk = token if isinstance(token, int) else token.pk
    fresh = ApiToken.objects.select_for_update().filter(pk=pk).first()
    if fresh is None:
        raise RegistryError(f"令牌 {pk} 不存在", f"token {pk} does not exist", "token")
    if fresh.owner_id != actor.user_id:
        actor.require(Permission.MANAGE_USERS)
    if fresh.revoked_at is None:
        fresh.revoked_at = timezone.now()
        fresh.save(update_fields=["revoked_at"])
        audit(actor, AuditAction.REVOKE_API_TOKEN, fresh,
              detail={"name": fresh.name, "owner": fresh.owner.get_username()})
    return fresh
