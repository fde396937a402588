"""The duplicate check at data entry, in plain Python (no Django, no Splink, no DuckDB).

A clerk registering a birth, a move-in, an in-migrant or a found person, or importing a
file, is shown the registry records the new record most likely duplicates, before saving.
The check must answer in well under a second on a county, so it does not run the engine:

1. the new record's **blocking keys** (:func:`blocking_keys`) are the values of the
   engine's blocking rules (docs/linkage.md, *Blocking rules*), one string per rule; the
   registry's keys are stored in a table (``popreg.linkage.index``), so the candidates are
   the persons sharing at least one key: an indexed lookup, not a pass over the county;
2. each candidate pair is scored with the **Fellegi–Sunter weights of the linkage model**
   (:class:`EntryModel`, m and u per comparison level read from the model file): the level
   of each comparison is decided in Python exactly as the model's SQL condition decides it,
   the weights log2(m/u) are added to the prior, and the sum is the match weight; the match
   probability is 2^w / (1 + 2^w), as Splink computes it.  Names are term-frequency
   adjusted as in the engine: when the registry's share of the name is known, the u of
   "same characters" is that share (张伟 weighs less than a rare name).

Levels are recognised by their label (the levels of the shipped model and of the robust
comparisons of docs/linkage.md); a level this module does not know (a newer model file)
is never reached, so the comparison falls to the next level it knows; the last level of
each comparison is the model's ELSE level.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from popreg.core import idnumber, names
from popreg.core.entry_record import EntryRecord

DEFAULT_MODEL = "registry-v1.json"
_EPOCH = date(1970, 1, 1)
_SEX = {"M": "M", "男": "M", "1": "M", "F": "F", "女": "F", "2": "F"}

#: Blocking keys: prefix → the engine's blocking rule it stands for (docs/linkage.md).
KEY_RULES: dict[str, str] = {
    "id": "id18",
    "ib": "id_body",
    "ip": "id_prefix14",
    "py": "name_py, birth_year",
    "pm": "name_py, birth_md",
    "ds": "dob, surname",
    "nv": "name_norm, village_code",
    "sv": "surname, village_code, birth_year",
}
#: Not a blocking key: the normalised name, stored so that its share of the registry can
#: be counted (term-frequency adjustment).
NAME_KEY = "nn"


@dataclass(frozen=True)
class Features:
    """The pre-computed comparison columns of one record (docs/linkage.md)."""

    name_norm: str
    surname: str
    name_len: int
    name_py: str
    id_norm: str
    id18: str
    id_valid: bool
    id_prefix14: str
    dob: str
    birth_day: int | None
    birth_md: str
    birth_year: str
    birth_swapped: str
    sex: str
    village: str
    township: str
    household: str
    name_sorted: str = ""
    id_dob: str = ""
    id_sex: str = ""


def _swapped(d: date | None) -> str:
    if d is None or d.day > 12 or d.day == d.month:
        return ""
    try:
        return date(d.year, d.day, d.month).isoformat()
    except ValueError:
        return ""


def _id_parts(raw: str) -> tuple[str, str, bool]:
    """(normalised, 18-character form, checksum valid); empty strings when absent."""
    norm = idnumber.normalize(raw or "")
    if not norm:
        return "", "", False
    if len(norm) == 15 and norm.isdigit():
        try:
            return norm, idnumber.upgrade_15_to_18(norm), False
        except ValueError:
            return norm, "", False
    if len(norm) == 18 and norm[:17].isdigit():
        return norm, norm, idnumber.check_character(norm[:17]) == norm[17]
    return norm, "", False


def _decoded(id18: str, usable: bool) -> tuple[str, str]:
    """(birth date ISO, sex) decoded from a checksum-valid or upgraded legacy number."""
    if not usable or not id18 or not id18[:17].isdigit():
        return "", ""
    try:
        born = date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    except ValueError:
        return "", ""
    return born.isoformat(), ("M" if int(id18[16]) % 2 else "F")


def features(record: EntryRecord, *, name_py: str | None = None) -> Features:
    """The comparison columns of ``record``; ``name_py`` when already known (stored key).

    As the engine prepares them: a missing sex or birth date is taken from a usable ID
    number (checksum-valid, or a legacy 15-digit number)."""
    norm = names.normalize_name(record.name)
    surname = names.split_surname(norm)[0] if norm else ""
    py = name_py if name_py is not None else (names.pinyin_key(norm) if norm else "")
    id_norm, id18, valid = _id_parts(record.id_number)
    id_dob, id_sex = _decoded(id18, valid or (len(id_norm) == 15 and bool(id18)))
    d = record.birth_date
    if d is None and id_dob:
        d = date.fromisoformat(id_dob)
    sex = _SEX.get(unicodedata.normalize("NFKC", record.sex or "").upper(), "") or id_sex
    village = (record.village_code or "")[:12]
    return Features(
        name_norm=norm, surname=surname, name_len=len(norm), name_py=py,
        id_norm=id_norm, id18=id18, id_valid=valid, id_prefix14=id18[:14] if id18 else "",
        dob=d.isoformat() if d else "", birth_day=(d - _EPOCH).days if d else None,
        birth_md=f"{d:%m-%d}" if d else "", birth_year=str(d.year) if d else "",
        birth_swapped=_swapped(d), sex=sex,
        village=village, township=village[:9], household=(record.household_no or "").strip(),
        name_sorted="".join(sorted(norm)), id_dob=id_dob, id_sex=id_sex,
    )  # fmt: skip


def blocking_keys(f: Features) -> list[str]:
    """One string per blocking rule the record can take part in (plus the name key)."""
    keys: list[str] = []
    if f.id18:
        keys.append(f"id:{f.id18}")
        keys.append(f"ib:{f.id18[:17]}")
        keys.append(f"ip:{f.id_prefix14}")
    if f.name_py and f.birth_year:
        keys.append(f"py:{f.name_py}|{f.birth_year}")
        keys.append(f"pm:{f.name_py}|{f.birth_md}")
    if f.dob and f.surname:
        keys.append(f"ds:{f.dob}|{f.surname}")
    if f.name_norm and f.village:
        keys.append(f"nv:{f.name_norm}|{f.village}")
    if f.surname and f.village and f.birth_year:
        keys.append(f"sv:{f.surname}|{f.village}|{f.birth_year}")
    if f.name_norm:
        keys.append(f"{NAME_KEY}:{f.name_norm}")
    return [k[:100] for k in keys]


def candidate_keys(f: Features) -> list[str]:
    """The blocking keys alone (what a candidate must share)."""
    return [k for k in blocking_keys(f) if not k.startswith(NAME_KEY + ":")]


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Level:
    label: str
    m: float
    u: float
    tf: bool = False


@dataclass
class EntryModel:
    """m and u per comparison level, the prior λ and the threshold of a linkage model file."""

    comparisons: dict[str, list[Level]]
    prior: float
    threshold: float
    name: str = "registry-v1"

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str = "") -> EntryModel:
        meta = data.get("popreg_model", {})
        splink = data["splink"]
        comps: dict[str, list[Level]] = {}
        for comp in splink["comparisons"]:
            levels = []
            for lv in comp["comparison_levels"]:
                if lv.get("is_null_level"):
                    continue
                levels.append(Level(str(lv.get("label_for_charts", "")), float(lv["m_probability"]),
                                    float(lv["u_probability"]), bool(lv.get("tf_adjustment_column"))))
            comps[str(comp["output_column_name"])] = levels
        return cls(comps, float(splink["probability_two_random_records_match"]),
                   float(meta.get("threshold", 0.4)), name or f"{meta.get('name', 'registry')}-v{meta.get('version', '1')}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> EntryModel:
        if path is None:
            text = resources.files("popreg.linkage").joinpath("models", DEFAULT_MODEL).read_text(encoding="utf-8")
            return cls.from_json(json.loads(text))
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


_MODEL: EntryModel | None = None


def default_model() -> EntryModel:
    global _MODEL
    if _MODEL is None:
        _MODEL = EntryModel.load()
    return _MODEL


# ---------------------------------------------------------------- levels, decided as the SQL does


def _one_edit(a: str, b: str) -> bool:
    """Damerau–Levenshtein distance ≤ 1 (one substitution, insertion, deletion or adjacent swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if la < lb else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@lru_cache(maxsize=65536)
def readings(name_norm: str) -> frozenset[str]:
    """The pinyin readings of a normalised name (heteronyms included), computed when a pair
    reaches the "same reading" level only."""
    return frozenset(names.pinyin_readings(name_norm)) if name_norm else frozenset()


@lru_cache(maxsize=65536)
def syllable_forms(name_norm: str) -> tuple[str, str, frozenset[str]]:
    """As ``prepare`` derives them: the surname's reading plus one reading per given-name
    character; the surname's reading and the given name's syllables sorted (two or more);
    the first form with one given-name syllable left out (two or more)."""
    surname, given = names.split_surname(name_norm)
    head = (names.pinyin_key(surname) or surname) if surname else ""
    syllables = [names.pinyin_key(ch) or ch for ch in given]
    full = head + "".join(syllables)
    if len(syllables) < 2:
        return full, "", frozenset()
    drops = frozenset(head + "".join(syllables[:i] + syllables[i + 1 :]) for i in range(len(syllables)))
    return full, head + "|" + "".join(sorted(syllables)), drops


def _name_level(label: str, a: Features, b: Features) -> bool:
    if label == "same characters":
        return a.name_norm == b.name_norm
    if label.startswith("same reading"):
        return bool(readings(a.name_norm) & readings(b.name_norm))
    if label == "same characters in another order":
        if a.name_sorted == b.name_sorted:
            return True
        sorted_a, sorted_b = syllable_forms(a.name_norm)[1], syllable_forms(b.name_norm)[1]
        return bool(sorted_a) and sorted_a == sorted_b
    if label == "one given-name character dropped or added":
        if (bool(a.surname) and a.surname == b.surname and abs(a.name_len - b.name_len) == 1
                and _one_edit(a.name_norm, b.name_norm)):
            return True
        (full_a, _s, drops_a), (full_b, _t, drops_b) = syllable_forms(a.name_norm), syllable_forms(b.name_norm)
        return full_b in drops_a or full_a in drops_b
    if label == "one given-name character differs":
        return (bool(a.surname) and a.surname == b.surname and a.name_len == b.name_len and a.name_len >= 3
                and sum(x != y for x, y in zip(a.name_norm, b.name_norm, strict=True)) == 1)
    if label == "given name different, same household and birth date (twins)":
        return (bool(a.surname) and a.surname == b.surname and bool(a.household) and a.household == b.household
                and a.birth_day is not None and a.birth_day == b.birth_day)
    if label == "same surname, given name different":
        return bool(a.surname) and a.surname == b.surname
    return False


def _id_level(label: str, a: Features, b: Features) -> bool:
    if label == "same number":
        return a.id_norm == b.id_norm
    if label.startswith("same after 15 to 18"):
        return bool(a.id18) and a.id18 == b.id18
    if label.startswith("both valid, only sequence differs"):
        return a.id_valid and b.id_valid and a.id_prefix14 == b.id_prefix14
    if label == "both valid, different":
        return a.id_valid and b.id_valid
    if label == "only the check character differs":
        return bool(a.id18) and a.id18[:17] == b.id18[:17]
    if label.startswith("one typo or adjacent transposition"):
        return bool(a.id18) and bool(b.id18) and _one_edit(a.id18, b.id18)
    return False


def _date_level(label: str, a: Features, b: Features) -> bool:
    assert a.birth_day is not None and b.birth_day is not None
    if label == "same date":
        return a.birth_day == b.birth_day
    if label == "recorded dates differ, the ID numbers' dates agree":
        return ((bool(a.id_dob) and a.id_dob in (b.id_dob, b.dob)) or (bool(b.id_dob) and b.id_dob == a.dob))
    if label == "day and month exchanged":
        return (bool(a.birth_swapped) and a.birth_swapped == b.dob) or (bool(b.birth_swapped) and b.birth_swapped == a.dob)
    if label == "one day apart":
        return abs(a.birth_day - b.birth_day) <= 1
    if label == "one year apart, same day":
        return a.birth_md == b.birth_md and abs(int(a.birth_year) - int(b.birth_year)) == 1
    if label.startswith("a generation apart"):  # parent and child, 15 years or more
        return abs(a.birth_day - b.birth_day) >= 5479
    return False


def _address_level(label: str, a: Features, b: Features) -> bool:
    if label == "same household":
        return bool(a.household) and a.household == b.household
    if label == "same village":
        return a.village == b.village
    if label == "same township":
        return a.township == b.township
    if label == "different township":  # a level of its own when "different county" follows
        return a.village[:6] == b.village[:6]
    return False


def _sex_level(label: str, a: Features, b: Features) -> bool:
    if label == "same":
        return a.sex == b.sex
    if label == "recorded sex differs, the ID numbers' sex agrees":
        return (bool(a.id_sex) and a.id_sex in (b.id_sex, b.sex)) or (bool(b.id_sex) and b.id_sex == a.sex)
    return False


#: The level labels each comparison's decider recognises (the ELSE level needs none); a
#: test holds them to ``popreg.linkage.comparisons.LEVEL_LABELS``.
KNOWN_LEVELS: dict[str, frozenset[str]] = {
    "name": frozenset({
        "same characters", "same reading (homophone / variant)", "same characters in another order",
        "one given-name character dropped or added", "one given-name character differs",
        "given name different, same household and birth date (twins)", "same surname, given name different",
    }),
    "id_number": frozenset({
        "same number", "same after 15 to 18 upgrade", "both valid, only sequence differs (twins / namesakes)",
        "both valid, different", "only the check character differs",
        "one typo or adjacent transposition (not both valid)",
    }),
    "birth_date": frozenset({
        "same date", "recorded dates differ, the ID numbers' dates agree", "day and month exchanged",
        "one day apart", "one year apart, same day", "a generation apart (15 years or more)",
    }),
    "sex": frozenset({"same", "recorded sex differs, the ID numbers' sex agrees"}),
    "address": frozenset({"same household", "same village", "same township", "different township"}),
}  # fmt: skip

Decide = Callable[[str, Features, Features], bool]
Present = Callable[[Features], bool]

_COMPARE: dict[str, tuple[Decide, Present]] = {
    "name": (_name_level, lambda f: bool(f.name_norm)),
    "id_number": (_id_level, lambda f: bool(f.id_norm)),
    "birth_date": (_date_level, lambda f: f.birth_day is not None),
    "sex": (_sex_level, lambda f: bool(f.sex)),
    "address": (_address_level, lambda f: bool(f.village)),
}


@dataclass(frozen=True)
class Score:
    match_weight: float
    match_probability: float
    #: (comparison, label of the level reached or "null", its weight)
    evidence: tuple[tuple[str, str, float], ...]


def score(a: Features, b: Features, model: EntryModel | None = None,
          name_share: float | None = None) -> Score:
    """The Fellegi–Sunter match weight and probability of the pair (a, b).

    ``name_share``: the share of the registry's records with ``b``'s normalised name (the
    term frequency); when given it replaces u of the name level "same characters".
    """
    model = model or default_model()
    total = math.log2(model.prior / (1.0 - model.prior))
    evidence: list[tuple[str, str, float]] = []
    for comp, levels in model.comparisons.items():
        known = _COMPARE.get(comp)
        if known is None:
            continue
        decide, present = known
        if not (present(a) and present(b)):
            evidence.append((comp, "null", 0.0))
            continue
        for i, level in enumerate(levels):
            # The last level is the model's ELSE level: reached when no other is.
            if i == len(levels) - 1 or decide(level.label, a, b):
                u = level.u
                if level.tf and name_share:
                    u = max(name_share, 1e-12)
                w = math.log2(max(level.m, 1e-300) / max(u, 1e-300))
                total += w
                evidence.append((comp, level.label, round(w, 2)))
                break
    # 2^w / (1 + 2^w) without overflow
    prob = 1.0 / (1.0 + 2.0 ** (-total)) if total > -1000 else 0.0
    return Score(round(total, 4), prob, tuple(evidence))


@dataclass(frozen=True)
class Candidate:
    """An existing record, keyed by its id, with what the registry stores of it."""

    record_id: int
    record: EntryRecord
    name_py: str | None = None


def rank(new: EntryRecord, candidates: Sequence[Candidate], *, model: EntryModel | None = None,
         name_counts: Mapping[str, int] | None = None, population: int = 0,
         min_probability: float | None = None, limit: int = 5) -> list[tuple[int, Score]]:
    """Score ``new`` against each candidate; those at or above ``min_probability`` (default:
    the model's threshold), most likely first, at most ``limit``."""
    model = model or default_model()
    floor = model.threshold if min_probability is None else min_probability
    f_new = features(new)
    out: list[tuple[int, Score]] = []
    for cand in candidates:
        f = features(cand.record, name_py=cand.name_py)
        share = None
        if name_counts is not None and population > 0 and f.name_norm:
            count = max(name_counts.get(f.name_norm, 0), name_counts.get(f_new.name_norm, 0))
            share = count / population if count else None
        s = score(f_new, f, model, name_share=share)
        if s.match_probability >= floor:
            out.append((cand.record_id, s))
    out.sort(key=lambda t: (-t[1].match_weight, t[0]))
    return out[:limit]
