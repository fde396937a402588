"""Errors a user can see: Chinese first, English second, naming the field at fault."""

from __future__ import annotations

from django.utils.translation import get_language


class RegistryError(Exception):
    """A refused write.  ``field`` names the form field or column at fault, if any."""

    def __init__(self, message_zh: str, message_en: str, field: str | None = None) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field

    @property
    def message(self) -> str:
        """The message in the active language (Chinese unless English is chosen)."""
        lang = get_language() or "zh-hans"
        return self.message_en if lang.startswith("en") else self.message_zh


class JurisdictionError(RegistryError):
    """The acting user may not see or change records of this unit."""


class PermissionDeniedError(RegistryError):
    """The acting user's role does not hold the permission an operation needs."""

    def __init__(self, message_zh: str, message_en: str, *, permission: str = "") -> None:
        super().__init__(message_zh, message_en)
        self.permission = permission
