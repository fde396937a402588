"""The two inputs every form shares: a date, and an administrative unit.

``DateWidget`` is the one date input of the site: ``type=date`` (the browser's own date
picker, which always submits ``YYYY-MM-DD``), with the format written beside it for a
browser that shows a plain text box, and ``YYYY-MM-DD`` as its placeholder.  Templates
that write a date input by hand include ``registry/_date_input.html``, which renders the
same markup.

``UnitPicker`` replaces a drop-down of hundreds of villages: a text input with a
``<datalist>`` of the units (the browser filters it as one types a name or a code — no
script, nothing from a CDN).  Without datalist support it is a plain code field.  What
is typed is read back as a unit code: the code itself, a suggestion's label
("城关镇 / 东关村民委员会 (110105001001)"), or a unit's name when only one unit has it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.datastructures import MultiValueDict
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

DATE_PLACEHOLDER = "YYYY-MM-DD"
_CODE_IN_LABEL = re.compile(r"\((\d{6,15})\)\s*$")


def date_hint() -> str:
    return str(_("Date as year-month-day, for example 2024-03-15"))


class DateWidget(forms.DateInput):
    """``<input type=date>`` with a visible format hint (see the module docstring)."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"placeholder": DATE_PLACEHOLDER, "autocomplete": "off", "class": "date-input"}
        super().__init__(attrs={**base, **(attrs or {})}, format="%Y-%m-%d")

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        attrs = dict(attrs or {})
        hint_id = f"{attrs.get('id') or 'id_' + name}_format"
        described = " ".join(x for x in (attrs.get("aria-describedby", ""), hint_id) if x)
        attrs["aria-describedby"] = described
        field = super().render(name, value, attrs, renderer)
        hint = format_html('<small class="format-hint" id="{}">{}</small>', hint_id, date_hint())
        return mark_safe(f"{field} {hint}")  # both parts are escaped above


class UnitPicker(forms.Select):
    """A type-ahead unit input over a field's ``choices`` (see the module docstring)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs)

    def _pairs(self) -> list[tuple[str, str]]:
        return [(str(code), str(label)) for code, label in self.choices if code not in ("", None)]

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        attrs = {**self.attrs, **(attrs or {})}
        list_id = f"{attrs.get('id') or 'id_' + name}_units"
        pairs = self._pairs()
        shown = ""
        if value not in (None, ""):
            shown = str(value[0] if isinstance(value, list | tuple) and value else value)
        input_attrs = {
            **{k: v for k, v in attrs.items() if k not in ("multiple",)},
            "type": "text", "name": name, "value": shown, "list": list_id, "autocomplete": "off",
            "class": " ".join(x for x in (attrs.get("class", ""), "unit-picker") if x),
            "placeholder": str(_("type a name or a code")), "spellcheck": "false",
        }
        rendered = format_html_join(" ", '{}="{}"', ((k, v) for k, v in input_attrs.items()
                                                    if v is not None and v is not False))
        options = format_html_join("", '<option value="{}">{}</option>', pairs)
        return format_html('<input {}><datalist id="{}">{}</datalist>', rendered, list_id, options)

    def value_from_datadict(self, data: Mapping[str, Any], files: MultiValueDict[str, Any],
                            name: str) -> Any:
        raw = str(data.get(name) or "").strip()
        return resolve_unit(raw, self._pairs())

    def value_omitted_from_data(self, data: Mapping[str, Any], files: Mapping[str, Any], name: str) -> bool:
        return name not in data


def resolve_unit(raw: str, pairs: list[tuple[str, str]]) -> str:
    """A typed unit as its code: a code, a suggestion's label, or a name unique among the
    labels; anything else is returned as typed (the field then says it is not a choice)."""
    raw = raw.strip()
    if not raw:
        return ""
    codes = {code for code, _label in pairs}
    if raw in codes:
        return raw
    found = _CODE_IN_LABEL.search(raw)
    if found and found.group(1) in codes:
        return found.group(1)
    for code, label in pairs:
        if raw == label:
            return code
    # A bare name ("东关村民委员会") or the end of a label ("城关镇 / 东关村民委员会").
    named = [code for code, label in pairs
             if _CODE_IN_LABEL.sub("", label).strip() == raw
             or _CODE_IN_LABEL.sub("", label).strip().split(" / ")[-1] == raw]
    return named[0] if len(named) == 1 else raw


def pick_unit(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    """Make a unit ``ChoiceField`` a :class:`UnitPicker` over ``choices``."""
    assert isinstance(field, forms.ChoiceField)
    field.widget = UnitPicker(attrs=field.widget.attrs)
    field.choices = choices
    field.error_messages["invalid_choice"] = _(
        "No unit “%(value)s” in the list: type part of its name or its code and choose a suggestion.")
