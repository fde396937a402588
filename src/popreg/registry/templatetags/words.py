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
