"""The shipped benefit programmes: one JSON document per programme in this folder.

Each document follows the rule vocabulary of :mod:`popreg.core.eligibility`
(docs/benefits-rules.md); :func:`load` parses and checks it.  A programme's rules version
is the SHA-256 of its canonical JSON, so a changed file is a new rules version.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from popreg.core.eligibility import Programme, RuleError, parse_programme

__all__ = ["CODES", "document", "load", "load_all"]

#: Codes of the shipped programmes, in the order pages list them.
CODES: tuple[str, ...] = (
    "childcare_subsidy",
    "only_child_parents_reward",
    "rural_fp_reward",
    "fp_special_assistance",
)


def document(code: str) -> dict[str, Any]:
    """The programme's JSON document as stored."""
    if code not in CODES:
        raise RuleError(
            f"programme {code}", f"没有名为 {code} 的项目（可选：{'、'.join(CODES)}）",
            f"no programme {code} (one of {', '.join(CODES)})",
        )
    text = resources.files(__name__).joinpath(f"{code}.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def load(code: str) -> Programme:
    """The parsed shipped programme ``code``."""
    return parse_programme(document(code))


def load_all() -> dict[str, Programme]:
    return {code: load(code) for code in CODES}
