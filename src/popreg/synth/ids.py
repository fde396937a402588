"""Resident ID numbers for synthetic people, their typing errors, and the rules of the truth.

Numbers are built with :func:`popreg.core.idnumber.compose`.  Region codes come from
python-stdnum's ``cn/loc.dat`` (the GB/T 2260 history): the county uses a code that never
changed; in-migrants get codes of other places that existed in their birth year.
Sequences are unique per region and birth date: each township owns a block of sequence
numbers (as police stations do), and ranks inside the block follow sex parity.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import stdnum

from popreg.core.idnumber import check_character, compose

EPOCH = date(1970, 1, 1)
_EPOCH_ORD = EPOCH.toordinal()
_PERIOD = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


def to_date(days: int) -> date:
    return date.fromordinal(_EPOCH_ORD + int(days))


def to_days(d: date) -> int:
    return d.toordinal() - _EPOCH_ORD


@cache
def county_codes() -> tuple[tuple[str, str, int, int], ...]:
    """(code, name, first_year, last_year) of every county-level code in stdnum's loc.dat.

    Codes without a validity range get years 0 and 9999.  Placeholder rows (市辖区, 县)
    are skipped.
    """
    path = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    out: list[tuple[str, str, int, int]] = []
    province = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        code, _, rest = line.strip().partition(" ")
        if code.endswith("00") or not rest.startswith('county="'):
            continue
        for part in rest[len('county="') : -1].split(","):
            m = _PERIOD.match(part)
            first, last, name = (m.group(1), m.group(2), m.group(3)) if m else ("", "", part)
            if name in ("市辖区", "县", "") or name.endswith("市辖区"):
                continue
            out.append((province + code, name, int(first or 0), int(last or 9999)))
    return tuple(out)


@cache
def stable_county_codes() -> tuple[tuple[str, str], ...]:
    """Codes of 县 that were never created, renamed or retired (valid at any birth date)."""
    seen: dict[str, list[tuple[str, int, int]]] = {}
    for code, name, first, last in county_codes():
        seen.setdefault(code, []).append((name, first, last))
    return tuple(
        (code, rows[0][0])
        for code, rows in sorted(seen.items())
        if len(rows) == 1 and rows[0][1:] == (0, 9999) and rows[0][0].endswith("县")
    )


@cache
def _codes_by_year() -> dict[int, np.ndarray]:
    rows = county_codes()
    out: dict[int, np.ndarray] = {}
    for year in range(1900, 2031):
        out[year] = np.array(sorted({c for c, _, a, b in rows if a <= year <= b}), dtype=object)
    return out


def outside_regions(rng: np.random.Generator, birth_years: np.ndarray, exclude: frozenset[str]) -> np.ndarray:
    """A real region code valid in each birth year, none of ``exclude`` (the county's own)."""
    out = np.empty(len(birth_years), dtype=object)
    table = _codes_by_year()
    for year in np.unique(birth_years):
        mask = birth_years == year
        pool = table[int(np.clip(year, 1900, 2030))]
        if exclude:
            pool = pool[~np.isin(pool, list(exclude))]
        out[mask] = pool[rng.integers(0, len(pool), int(mask.sum()))]
    return out


def assign_sequences(
    region: np.ndarray, birth_days: np.ndarray, sex: np.ndarray, block: int, used: dict[tuple[str, int], int]
) -> np.ndarray:
    """Sequence numbers unique per (region, birth date) inside the township's block.

    ``block`` is the township's block index (0-14, each 64 numbers wide, 32 per sex);
    ``used`` counts the numbers already given per (region, date, sex) in this township and
    is updated, so persons added later (births, in-migrants) never reuse one.
    """
    base = 64 * (block % 15) + 10
    seq = np.empty(len(region), dtype=np.int32)
    for i in range(len(region)):
        key = (str(region[i]), int(birth_days[i]) * 2 + int(sex[i]))
        k = used.get(key, 0)
        if k >= 32:
            raise RuntimeError(f"more than 32 persons of one sex born on one day in block {block}")
        used[key] = k + 1
        seq[i] = base + 2 * k + (1 - int(sex[i]))
    return seq


def compose_many(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> np.ndarray:
    out = np.empty(len(region), dtype=object)
    for i in range(len(region)):
        out[i] = compose(str(region[i]), to_date(int(birth_days[i])), int(seq[i]))
    return out


# -- typing errors ----------------------------------------------------------------------------


def typo(number: str, rng: np.random.Generator) -> str:
    """One wrong digit or two adjacent digits swapped among the first 17 (never a no-op).

    MOD 11-2 catches every such error, so the result always fails the checksum.
    """
    chars = list(number)
    if rng.random() < 0.5:
        for _ in range(20):
            i = int(rng.integers(0, 16))
            if chars[i] != chars[i + 1]:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
                return "".join(chars)
    i = int(rng.integers(0, 17))
    chars[i] = str((int(chars[i]) + int(rng.integers(1, 10))) % 10)
    return "".join(chars)


def to_legacy15(number: str) -> str:
    """The old 15-digit form (1984–1999 cards): region, YYMMDD, sequence; no check digit."""
    return number[:6] + number[8:17]


def swap_day_month(d: date) -> date | None:
    """The date with day and month exchanged, or None when that is no different date."""
    if d.day > 12 or d.day == d.month:
        return None
    return d.replace(month=d.day, day=d.month)


# -- the documented defect rules (truth) --------------------------------------------------------


def id_problems(number: str | None, birth: date | None, sex: str | None) -> list[str]:
    """Defect types of ``docs/snapshot-format.md`` that this recorded ID number shows.

    ``id_checksum_error``: present but not a well-formed number (15 digits, or 17 digits and
    a MOD 11-2 check character that is right).  Otherwise ``id_birthdate_mismatch`` when the
    encoded date differs from (or cannot be) the recorded birth date, ``id_sex_mismatch``
    when the sequence parity differs from the recorded sex; each checked only when the
    recorded field is present.
    """
    if not number:
        return []
    if len(number) == 18:
        if not number[:17].isdigit() or number[17] not in "0123456789X":
            return ["id_checksum_error"]
        if check_character(number[:17]) != number[17]:
            return ["id_checksum_error"]
        ymd, seq = number[6:14], number[14:17]
    elif len(number) == 15 and number.isdigit():
        ymd, seq = "19" + number[6:12], number[12:15]
    else:
        return ["id_checksum_error"]
    out = []
    if birth is not None:
        try:
            encoded = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
        except ValueError:
            encoded = None
        if encoded != birth:
            out.append("id_birthdate_mismatch")
    if sex is not None and ("M" if int(seq) % 2 else "F") != sex:
        out.append("id_sex_mismatch")
    return out


def age_at(birth: date, moment: date) -> int:
    return moment.year - birth.year - ((moment.month, moment.day) < (birth.month, birth.day))
