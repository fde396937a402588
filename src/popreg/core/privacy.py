"""Masking of personal data for display (脱敏): lists shown in public, exports, logs.

* :func:`mask_name` keeps the first and last character of a Han name and masks the middle
  (张*伟, 欧**娜); a two-character name keeps its surname (张*).  Names with a middle dot
  (minority and foreign names, 买买提·艾力·阿不都) keep their first and last parts and
  mask the parts between; with two parts the second is masked (买买提·**).
* :func:`mask_id` keeps the first 4 and last 4 characters of an ID number
  (1101**********002X).

Masking is for display only; it keeps the original script (traditional stays traditional).

>>> mask_name("张三丰"), mask_name("张伟"), mask_id("11010519491231002X")
('张*丰', '张*', '1101**********002X')
"""

from __future__ import annotations

import re
import unicodedata

from popreg.core.idnumber import normalize as _normalize_id
from popreg.core.names import MIDDLE_DOT

__all__ = ["MASK", "mask_id", "mask_name"]

MASK = "*"

# The middle-dot variants that popreg.core.names.normalize_name unifies, and whitespace.
_DOTS = re.compile(r"\s*[\u00b7\u2022\u2027\u30fb\uff65\u2219\u22c5\u318d\u0387.\u3002]+\s*")
_SPACES = re.compile(r"\s+")


def _mask_word(word: str) -> str:
    n = len(word)
    if n <= 1:
        return MASK * n
    if n == 2:
        return word[0] + MASK
    return word[0] + MASK * (n - 2) + word[-1]


def _mask_parts(parts: list[str], sep: str) -> str:
    if len(parts) == 1:
        return _mask_word(parts[0])
    if len(parts) == 2:
        return parts[0] + sep + MASK * len(parts[1])
    middle = [MASK * len(p) for p in parts[1:-1]]
    return sep.join([parts[0], *middle, parts[-1]])


def mask_name(name: str | None) -> str:
    """A name with its middle masked, for display to people who may not see it whole.

    >>> mask_name("阿沛·阿旺·晋美")
    '阿沛·**·晋美'
    """
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        return ""
    dotted = [p for p in _DOTS.split(text) if p]
    if len(dotted) > 1:
        return _mask_parts([_SPACES.sub("", p) for p in dotted], MIDDLE_DOT)
    words = _SPACES.split(text)
    if len(words) > 1 and all(w.isascii() for w in words):
        return _mask_parts(words, " ")  # Latin names: JOHN SMITH → JOHN *****
    return _mask_word(_SPACES.sub("", text))


def mask_id(number: str | None) -> str:
    """The first 4 and last 4 characters of an ID number, the rest masked.

    The number is normalised first (spaces, hyphens, full-width); a value of 8 characters or
    fewer is masked whole.  ``None`` gives ``""``.

    >>> mask_id("110105491231002")
    '1101*******1002'
    """
    if number is None:
        return ""
    compact = _normalize_id(number)
    n = len(compact)
    if n <= 8:
        return MASK * n
    return compact[:4] + MASK * (n - 8) + compact[-4:]
