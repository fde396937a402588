"""A person's record as a clerk typed it on a form or a file row gives it, not saved yet.

The one shape the duplicate check at data entry passes between the registry's forms and
imports (``popreg.registry.entry_check``) and the scoring (``popreg.linkage.entrycheck``),
which sit on different floors and meet here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class EntryRecord:
    """What a new person would be: the fields the linkage model compares."""

    name: str
    sex: str = ""
    birth_date: date | None = None
    id_number: str = ""
    village_code: str = ""
    household_no: str = ""
