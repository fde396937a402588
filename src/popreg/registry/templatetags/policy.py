"""``{% load policy %}``: ``{% if user|holds:"read_audit" %}`` shows a link or a control
only to users whose role holds the permission (see :mod:`popreg.registry.policy`)."""

from __future__ import annotations

from typing import Any

from django import template

from popreg.registry.access import actor_for
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission

register = template.Library()


@register.filter
def holds(user: Any, permission: str) -> bool:
    """Whether ``user`` holds ``permission`` (a :class:`Permission` value) at all."""
    try:
        return actor_for(user).can(Permission(permission))
    except RegistryError:
        return False
