"""``{% load words %}{{ text|in_language }}``: of a text stored in both languages as
``中文 / English`` (a default planning norm's source, written by a migration), the part in
the page's language; any other text as it is."""

from __future__ import annotations

import re

from django import template
from django.utils.translation import get_language

register = template.Library()

_CJK = re.compile(r"[\u4e00-\u9fff]")


@register.filter
def in_language(text: object) -> str:
    value = str(text or "")
    zh, sep, en = value.partition(" / ")
    if not sep or not _CJK.search(zh) or _CJK.search(en):
        return value
    return en.strip() if (get_language() or "").startswith("en") else zh.strip()


@register.filter
def moment(text: object) -> str:
    """An ISO date-time stored as text (a snapshot's reference moment) as people read it:
    ``2026-12-05T05:30:45`` → ``2026-12-05 05:30`` (in the county's time zone when the text
    carries an offset)."""
    from datetime import datetime

    from django.utils import timezone

    value = str(text or "")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = timezone.localtime(parsed)
    return parsed.strftime("%Y-%m-%d %H:%M")


_IDENTIFIER = re.compile(r"(?<![\w@.])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w@])")


@register.filter
def code_words(text: object) -> str:
    """A help text that names values a user types into a file (``floating_in``): escaped,
    with each such identifier marked as code."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    return mark_safe(_IDENTIFIER.sub(r"<code>\1</code>", escape(str(text or ""))))  # noqa: S308 (escaped first)


@register.filter
def residence_label(value: object) -> str:
    """A stored residence type (``floating_in``) by its label in the page's language."""
    from popreg.registry.models import ResidenceType

    try:
        return str(ResidenceType(str(value)).label)
    except ValueError:
        return str(value or "")


@register.filter
def sex_label(value: object) -> str:
    """A stored sex (``M``/``F``) by its label in the page's language."""
    from popreg.registry.models import Sex

    try:
        return str(Sex(str(value)).label)
    except ValueError:
        return str(value or "")
