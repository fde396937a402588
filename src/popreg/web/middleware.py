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
from django.utils.cache import patch_cache_control


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> Any:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return super().process_request(request)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response a view produced.

    Nearly every page and every download names people (a person's record, a household, a
    field list, a CSV of the reconciliation), and a shared office computer or a proxy must not
    keep a copy.  Static files never reach this middleware: WhiteNoise answers them earlier,
    with long caching.  A view that set its own Cache-Control keeps it, unless the user is
    logged in: then no-store is added to it.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        logged_in = bool(user is not None and user.is_authenticated)
        current = response.get("Cache-Control", "")
        if "no-store" not in current and (logged_in or not current):
            patch_cache_control(response, no_store=True)
        return response
