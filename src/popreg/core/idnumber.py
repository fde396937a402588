"""Resident ID numbers (居民身份证号码, GB 11643-1999).

Minimal first version: composing a valid number.  Validation with explained errors follows.
"""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def compose(region: str, birth_date: date, sequence: int) -> str:
    """Build a valid 18-character number; ``sequence`` 0-999, odd for men, even for women."""
    body = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return body + check_character(body)
