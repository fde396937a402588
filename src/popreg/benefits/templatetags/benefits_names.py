"""``{% load benefits_names %}{{ run.programme|programme_label }}``: a programme's name in the
active language instead of its code (``childcare_subsidy`` → 育儿补贴 / Childcare subsidy)."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language

from popreg.benefits.disclosure import programme_name

register = template.Library()


@register.filter
def programme_label(code: str) -> str:
    zh, en = programme_name(str(code or ""))
    return en if (get_language() or "").startswith("en") else zh


#: The units of a programme's parameters (programmes/*.json) in each language.
UNITS = {"years": ("周岁", "years"), "yuan": ("元", "yuan")}


@register.filter
def unit_label(unit: str) -> str:
    zh, en = UNITS.get(str(unit or ""), (str(unit or ""), str(unit or "")))
    return en if (get_language() or "").startswith("en") else zh
