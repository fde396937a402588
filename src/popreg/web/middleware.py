"""Chinese first: the interface language is Simplified Chinese unless the user picks another.

Django's ``LocaleMiddleware`` follows the browser's Accept-Language, so an English-language
browser would open popreg in English.  This subclass ignores Accept-Language: the language
is the one chosen with the language switch (Django's ``set_language`` cookie), else
``LANGUAGE_CODE`` (zh-hans).  Use it in ``MIDDLEWARE`` in place of
``django.middleware.locale.LocaleMiddleware``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from whitenoise.middleware import WhiteNoiseMiddleware


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
    logged in: then it is replaced by no-store.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        logged_in = bool(user is not None and user.is_authenticated)
        current = response.get("Cache-Control", "")
        if "no-store" not in current and (logged_in or not current):
            response["Cache-Control"] = "no-store"
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, quiet about a missing ``STATIC_ROOT`` where the finders serve the files.

    Development and the tests read static files from the source folders
    (``WHITENOISE_USE_FINDERS``) and have not run ``popreg collectstatic``; WhiteNoise would
    warn about the absent ``$POPREG_HOME/static`` on every start.  Production still warns.
    """

    def add_files(self, root: Any, prefix: Any = None) -> None:
        if self.use_finders and Path(root) == Path(settings.STATIC_ROOT) and not Path(root).is_dir():
            return
        super().add_files(root, prefix)
