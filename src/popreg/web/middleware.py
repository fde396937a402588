"""Chinese first: the interface language is Simplified Chinese unless the user picks another.

Django's ``LocaleMiddleware`` follows the browser's Accept-Language, so an English-language
browser would open popreg in English.  This subclass ignores Accept-Language: the language
is the one chosen with the language switch (Django's ``set_language`` cookie), else
``LANGUAGE_CODE`` (zh-hans).  Use it in ``MIDDLEWARE`` in place of
``django.middleware.locale.LocaleMiddleware``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> Any:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return super().process_request(request)
