"""Pages in both languages: Chinese by default, English with Django's language cookie."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


def get_page(client: Any, url: str, *, english: bool, status: int = 200, **params: Any) -> str:
    """The page as text (HTML entities decoded), in English or in the default Chinese."""
    if english:
        client.cookies["django_language"] = "en"
    else:
        client.cookies.pop("django_language", None)
    r = client.get(url, params)
    assert r.status_code == status, r.content[:300]
    return html.unescape(r.content.decode())


def check_bilingual(
    client: Any, url: str, english_texts: Iterable[str], chinese_texts: Iterable[str], **params: Any
) -> None:
    """English page: its English texts and none of its Chinese ones; Chinese page: the reverse."""
    english_texts, chinese_texts = list(english_texts), list(chinese_texts)
    for english, present, absent, lang in (
        (True, english_texts, chinese_texts, "en"),
        (False, chinese_texts, english_texts, "zh-hans"),
    ):
        page = get_page(client, url, english=english, **params)
        assert f'<html lang="{lang}">' in page
        for text in present:
            assert text in page, text
        for text in absent:
            assert text not in page, text
