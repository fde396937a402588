"""``{% load benefits_figures %}{% benefits_figures %}``: the benefits card of the home page
(programme, disclosure and payment figures of the user's jurisdiction), shown to users who
may see benefits."""

from __future__ import annotations

from typing import Any

from django import template

from popreg.registry.access import actor_for
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission

register = template.Library()


@register.inclusion_tag("benefits/_figures.html", takes_context=True)
def benefits_figures(context: Any) -> dict[str, Any]:
    from popreg.benefits.views import figures

    request = context.get("request")
    try:
        actor = actor_for(getattr(request, "user", None))
    except RegistryError:
        return {"figures": None}
    if not actor.can(Permission.VIEW_BENEFITS):
        return {"figures": None}
    return {"figures": figures(actor), "request": request}
