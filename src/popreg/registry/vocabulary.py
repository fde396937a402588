"""One vocabulary of labels: the choices of the models, read the same way everywhere.

Every choice of ``popreg.registry.models`` and ``popreg.campaigns.models`` (sex, residence
type, status, outcome, phase ...) has one label, an English message id; its Chinese is in
the app's catalog.  Pages show ``get_FOO_display()`` or ``Choice(value).label`` in the
active language.  What must be Chinese whoever works in English (printed field lists and
workbooks for village staff, details stored on items, the Chinese half of an error) takes
the label through :func:`chinese_label`; a workbook cell is read back with
:func:`value_of`.  No module keeps its own dictionary of labels::

    >>> chinese_label(Sex.MALE)
    '男'
    >>> value_of(Sex, "女"), value_of(Sex, "Female"), value_of(Sex, "F")
    ('F', 'F', 'F')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.db import models
from django.utils import translation

#: The language of printed material and of stored details.
CHINESE = "zh-hans"


def chinese_label(choice: models.Choices) -> str:
    """The label of one choice in Chinese, whatever the active language."""
    with translation.override(CHINESE):
        return str(choice.label)


def chinese_labels(choices: type[models.Choices]) -> dict[str, str]:
    """Every value of a choices class with its Chinese label, in declaration order."""
    with translation.override(CHINESE):
        return {str(c.value): str(c.label) for c in choices}


def chinese_display(choices: type[models.Choices], value: str | None) -> str:
    """The Chinese label of a stored value; a value outside the vocabulary is shown as it is."""
    if value in (None, ""):
        return ""
    if value in choices.values:
        return chinese_label(choices(value))
    return str(value)


def label_lookup(
    choices: type[models.Choices], *, aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What a person may write for a choice -> its value: the value itself, its Chinese and
    English labels, and ``aliases`` (older spellings still found on paper).  Build it once
    to read many cells."""
    out: dict[str, str] = dict(aliases or {})
    for lang in ("en", CHINESE):
        with translation.override(lang):
            out.update({str(c.label): str(c.value) for c in choices})
    out.update({str(v): str(v) for v in choices.values})
    return out


class ChineseLabels(Mapping[str, str]):
    """A choices class as a read-only mapping value -> Chinese label, for printed material.
    The labels are read on first use (after the catalogs are loaded), then kept."""

    def __init__(self, choices: type[models.Choices]) -> None:
        self.choices = choices
        self._labels: dict[str, str] | None = None

    def _read(self) -> dict[str, str]:
        if self._labels is None:
            self._labels = chinese_labels(self.choices)
        return self._labels

    def __getitem__(self, value: str) -> str:
        return self._read()[value]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def value_of(
    choices: type[models.Choices], text: str | None, *, aliases: Mapping[str, str] | None = None
) -> str | None:
    """The value a person wrote for a choice (see :func:`label_lookup`), None when it is none."""
    return label_lookup(choices, aliases=aliases).get((text or "").strip())
