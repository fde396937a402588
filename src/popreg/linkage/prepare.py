"""Reading linkage input and pre-computing the columns the comparisons use.

Splink compares columns with SQL; everything that needs Chinese-language or ID-number
knowledge is computed here once per record (per distinct value, in fact), so that the
pairwise SQL stays cheap and portable between DuckDB and Spark:

==================  ==============================================================
column              meaning
==================  ==============================================================
``name_norm``       :func:`popreg.core.names.normalize_name` (traditional → simplified,
                    full-width, spaces, middle dots)
``surname``         surname from :func:`popreg.core.names.split_surname`
``name_py``         :func:`popreg.core.names.pinyin_key`, most likely toneless reading
``name_readings``   :func:`popreg.core.names.pinyin_readings`, all readings incl.
                    heteronyms (list)
``name_len``        number of characters of ``name_norm``
``name_sorted``     the characters of ``name_norm`` in code-point order (same
                    characters in another order compare equal)
``name_py_full``    surname reading + one reading per given-name character
``name_py_sorted``  surname reading | the given name's syllables sorted (homophones in
                    another order compare equal); two given-name characters or more
``name_py_drops``   the ``name_py_full`` of the name with one given-name character left
                    out, one per character (list; two given-name characters or more)
``id_norm``         ID number as written, normalised (NFKC, no spaces, upper-case X)
``id18``            18-character form (15-digit numbers upgraded)
``id_valid``        ``id18`` has a correct MOD 11-2 check character
``id_body``         first 17 characters of ``id18``
``id_prefix14``     region code + birth date of ``id18`` (all but sequence and check)
``id_dob``          birth date decoded from a checksum-valid (or legacy 15-digit) number
``id_sex``          sex decoded from it (sequence digit odd: M, even: F)
``id_region``       its 6-digit region of first registration
``sex``             the recorded sex; when it is missing, ``id_sex``
``dob``             the recorded birth date (ISO); when it is missing, ``id_dob``
``birth_day``       ``dob`` as days since 1970-01-01 (integer)
``birth_year``      birth year (string)
``birth_md``        month and day, ``MM-DD``
``birth_swapped``   the date with day and month exchanged, ``YYYY-MM-DD`` (or null)
``township``        ``village_code[:9]`` (the 9-digit township prefix)
==================  ==============================================================
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from io import StringIO
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from popreg.core import idnumber, names

_T = TypeVar("_T")

REQUIRED_COLUMNS = (
    "record_id",
    "name",
    "sex",
    "birth_date",
    "id_number",
    "village_code",
    "household_no",
)

_EPOCH = date(1970, 1, 1)
_SEX = {
    "M": "M", "MALE": "M", "男": "M", "1": "M",
    "F": "F", "FEMALE": "F", "女": "F", "2": "F",
}  # fmt: skip
_DATE_RE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


class LinkageInputError(ValueError):
    """Input a linkage run cannot use; the message is Chinese first, then English."""


def _decode(raw: bytes, source: str) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GBK/GB18030 when it reads as Chinese."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            text = ""
        if text and any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return text, "gb18030"
        raise LinkageInputError(
            f"文件 {source} 的编码无法识别（第 {utf8_error.start} 字节处不是 UTF-8）："
            "请另存为 UTF-8 编码的 CSV 后重试。\n"
            f"File {source} is not UTF-8 (invalid byte at offset {utf8_error.start}) and not "
            "recognisable GBK: save it as UTF-8 CSV and try again."
        ) from utf8_error


def read_input_csv(path: str | Path, required: Iterable[str] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read a linkage input CSV as strings, checking encoding, columns and emptiness.

    Raises :class:`LinkageInputError` with a bilingual message; reads nothing else.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LinkageInputError(
            f"无法读取输入文件 {path}：{exc.strerror}。请检查路径。\n"
            f"Cannot read input file {path}: {exc.strerror}. Check the path."
        ) from exc
    text, _encoding = _decode(raw, str(path))
    if not text.strip():
        raise LinkageInputError(
            f"输入文件 {path} 是空的：至少需要表头和一行数据。\n"
            f"Input file {path} is empty: it needs a header row and at least one record."
        )
    try:
        df = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LinkageInputError(
            f"输入文件 {path} 不是有效的 CSV：{exc}\nInput file {path} is not valid CSV: {exc}"
        ) from exc
    df.columns = [str(c).strip() for c in df.columns]
    check_columns(df, required, str(path))
    if df.empty:
        raise LinkageInputError(
            f"输入文件 {path} 只有表头，没有数据行。\n"
            f"Input file {path} has a header but no records."
        )
    return df


def read_table_bytes(raw: bytes, name: str) -> pd.DataFrame:
    """Read CSV bytes (same rules as :func:`read_input_csv`, no column check)."""
    text, _ = _decode(raw, name)
    return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)


def check_columns(df: pd.DataFrame, required: Iterable[str], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        cols = ", ".join(missing)
        raise LinkageInputError(
            f"{source} 缺少必需的列：{cols}。需要的列为 {', '.join(required)}（表头须为英文列名）。\n"
            f"{source} is missing required column(s): {cols}. Required: {', '.join(required)}."
        )


def check_record_ids(df: pd.DataFrame, source: str) -> None:
    ids = df["record_id"].astype(str).str.strip()
    blank = ids == ""
    if blank.any():
        row = int(blank.to_numpy().nonzero()[0][0]) + 2
        raise LinkageInputError(
            f"{source} 第 {row} 行的 record_id 为空：每行都需要唯一的 record_id。\n"
            f"{source} row {row}: record_id is empty; every row needs a unique record_id."
        )
    dup = ids.duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0]) + 2
        raise LinkageInputError(
            f"{source} 第 {row} 行的 record_id «{ids.iloc[row - 2]}» 重复：record_id 必须唯一。\n"
            f"{source} row {row}: record_id {ids.iloc[row - 2]!r} is duplicated; record_id "
            "must be unique."
        )


# --- per-value derivations ------------------------------------------------------------


def parse_birth_date(value: object) -> date | None:
    """``YYYY-MM-DD`` (also ``YYYY/MM/DD``, ``YYYYMMDD``, ``YYYY年M月D日``); else ``None``."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if " " in text or "T" in text:
        text = text.split("T")[0].split(" ")[0]
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def decoded_facts(id18: str | None, usable: bool) -> tuple[str | None, str | None, str | None]:
    """(birth date ISO, sex, region) decoded from an 18-character number, when ``usable``
    (checksum-valid, or upgraded from a legacy 15-digit number) and its date exists."""
    if not usable or not id18 or not id18[:17].isdigit():
        return None, None, None
    try:
        born = date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    except ValueError:
        return None, None, None
    return born.isoformat(), ("M" if int(id18[16]) % 2 else "F"), id18[:6]


def _id_fields(raw: str) -> tuple[str | None, str | None, bool, bool]:
    """(normalised form, 18-character form, checksum valid, was 15-digit) of an ID number."""
    norm = idnumber.normalize(raw)
    if not norm:
        return None, None, False, False
    if len(norm) == 15 and norm.isdigit():
        try:
            # A legacy number has no check character: it cannot be verified.
            return norm, idnumber.upgrade_15_to_18(norm), False, True
        except ValueError:
            return norm, None, False, True
    if len(norm) == 18 and norm[:17].isdigit():
        return norm, norm, idnumber.check_character(norm[:17]) == norm[17], False
    return norm, None, False, False


_NameFields = tuple[
    str | None, str | None, str | None, list[str] | None, str | None, str | None, list[str] | None
]


@functools.lru_cache(maxsize=65536)
def _syllable(text: str) -> str:
    return names.pinyin_key(text) or text


def _name_fields(raw: str) -> _NameFields:
    """(normalised, surname, pinyin key, readings, syllable forms: full, given name's
    syllables sorted, one given-name syllable dropped)."""
    norm = names.normalize_name(raw)
    if not norm:
        return None, None, None, None, None, None, None
    surname, given = names.split_surname(norm)
    readings = names.pinyin_readings(norm)
    head = _syllable(surname) if surname else ""
    syllables = [_syllable(ch) for ch in given]
    full = head + "".join(syllables)
    drops = (
        sorted({head + "".join(syllables[:i] + syllables[i + 1 :]) for i in range(len(syllables))})
        if len(syllables) >= 2
        else []
    )
    return (
        norm,
        surname or None,
        (readings[0] if readings else norm),
        readings or [norm],
        full or None,
        (head + "|" + "".join(sorted(syllables))) if len(syllables) >= 2 else None,
        drops or None,
    )


PARALLEL_MIN_VALUES = 20_000


def _single_threaded() -> bool:
    """True when no other Python thread runs (no web-server or Spark threads), so forking
    is safe.  The engine prepares records before it opens its DuckDB connection."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _map_distinct(func: Callable[[str], _T], values: set[str], parallel: bool) -> dict[str, _T]:
    """``{v: func(v)}``; large sets are spread over the CPU cores (pinyin is slow in Python).

    Only with ``parallel`` and no other Python thread: workers are forked (fast: the
    dictionaries are already loaded).
    """
    ordered = sorted(values)
    workers = min(os.cpu_count() or 1, 8)
    if not parallel or not _single_threaded() or len(ordered) < PARALLEL_MIN_VALUES or workers < 2:
        return {v: func(v) for v in ordered}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        results = pool.map(func, ordered, chunksize=max(500, len(ordered) // (workers * 8)))
    return dict(zip(ordered, results, strict=True))


def column_values(df: pd.DataFrame, name: str) -> list[str]:
    """Column ``name`` as stripped strings ("" for a missing column or value)."""
    if name not in df.columns:
        return [""] * len(df)
    return ["" if v is None or v != v else str(v).strip() for v in df[name].tolist()]


def _distinct(df: pd.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    """Column ``name`` as (row → code, distinct values): ``values[codes]`` is :func:`column_values`.

    Only the distinct values become Python strings: a column of ten million rows costs
    an integer array, not ten million string objects.
    """
    if name not in df.columns:
        return np.zeros(len(df), dtype=np.int64), [""]
    column = df[name]
    if column.dtype == object:  # mixed Python objects: 1 and 1.0 hash alike, so str() first
        column = pd.Series(column_values(df, name), dtype=object)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = ["" if v is None or v != v else str(v).strip() for v in uniques.tolist()]
    values.append("")  # missing values
    codes = np.where(codes < 0, len(values) - 1, codes).astype(np.int64)
    return codes, values


def _take(values: Sequence[object], codes: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, type=kind).take(pa.array(codes))


_STRING = pa.string()
_STRINGS = pa.list_(pa.string())

# The table's columns and types; prepare_records turns them into the frame's dtypes.
PREPARED_COLUMNS = (
    "record_id", "name", "sex", "birth_date", "id_number", "village_code", "township",
    "household_no", "name_norm", "surname", "name_py", "name_readings", "name_len",
    "name_sorted", "name_py_full", "name_py_sorted", "name_py_drops", "id_norm", "id18", "id_valid", "id_body", "id_prefix14", "id_dob", "id_sex",
    "id_region", "dob", "birth_day", "birth_year", "birth_md", "birth_swapped",
)  # fmt: skip


def prepare_table(df: pd.DataFrame, *, parallel: bool = False) -> pa.Table:
    """The input columns plus the derived columns, as an Arrow table (see prepare_records).

    Every derivation runs once per distinct value and is spread to the rows with an
    Arrow ``take``, so the table holds no per-row Python objects.
    """
    columns: dict[str, pa.Array] = {}
    name_codes, name_values = _distinct(df, "name")
    date_codes, date_values = _distinct(df, "birth_date")
    id_codes, id_values = _distinct(df, "id_number")
    _plain_columns(df, columns, (name_codes, name_values), (date_codes, date_values),
                   (id_codes, id_values))  # fmt: skip
    _name_columns(columns, name_codes, name_values, parallel)
    del name_codes, name_values
    _id_columns(columns, id_codes, id_values, parallel)
    del id_codes, id_values
    # The ID number's facts stand in for a missing recorded sex or birth date.
    columns["sex"] = pc.coalesce(columns["sex"], columns["id_sex"])
    recorded = _take([_iso(v) for v in date_values], date_codes, _STRING)
    _birth_columns(columns, pc.coalesce(recorded, columns["id_dob"]))
    return pa.table({c: columns[c] for c in PREPARED_COLUMNS})


_Distinct = tuple[np.ndarray, list[str]]


def _plain_columns(
    df: pd.DataFrame,
    columns: dict[str, pa.Array],
    names: _Distinct,
    dates: _Distinct,
    ids: _Distinct,
) -> None:
    """The input columns, cleaned (sex codes, village and household codes in half-width)."""
    codes, values = _distinct(df, "record_id")
    columns["record_id"] = _take(values, codes, _STRING)
    columns["name"] = _take(names[1], names[0], _STRING)

    codes, values = _distinct(df, "sex")
    columns["sex"] = _take([_SEX.get(v.upper()) for v in values], codes, _STRING)

    columns["birth_date"] = _take(dates[1], dates[0], _STRING)
    columns["id_number"] = _take(ids[1], ids[0], _STRING)

    codes, values = _distinct(df, "village_code")
    village = [unicodedata.normalize("NFKC", v).replace(" ", "") or None for v in values]
    columns["village_code"] = _take([v[:12] if v else None for v in village], codes, _STRING)
    columns["township"] = _take(
        [v[:9] if v and len(v) >= 9 else None for v in village], codes, _STRING
    )
    codes, values = _distinct(df, "household_no")
    household = [unicodedata.normalize("NFKC", v).replace(" ", "") or None for v in values]
    columns["household_no"] = _take(household, codes, _STRING)


def _name_columns(
    columns: dict[str, pa.Array], name_codes: np.ndarray, name_values: list[str], parallel: bool
) -> None:
    """Normalised name, surname, pinyin, readings and length (once per distinct name)."""
    name_map = _map_distinct(_name_fields, set(name_values), parallel)
    nf = [name_map[v] for v in name_values]
    del name_map
    columns["name_norm"] = _take([t[0] for t in nf], name_codes, _STRING)
    columns["surname"] = _take([t[1] for t in nf], name_codes, _STRING)
    columns["name_py"] = _take([t[2] for t in nf], name_codes, _STRING)
    columns["name_readings"] = _take([t[3] for t in nf], name_codes, _STRINGS)
    columns["name_len"] = _take([len(t[0]) if t[0] else None for t in nf], name_codes, pa.int64())
    columns["name_sorted"] = _take(
        ["".join(sorted(t[0])) if t[0] else None for t in nf], name_codes, _STRING
    )
    columns["name_py_full"] = _take([t[4] for t in nf], name_codes, _STRING)
    columns["name_py_sorted"] = _take([t[5] for t in nf], name_codes, _STRING)
    columns["name_py_drops"] = _take([t[6] for t in nf], name_codes, _STRINGS)


def _id_columns(
    columns: dict[str, pa.Array], id_codes: np.ndarray, id_values: list[str], parallel: bool
) -> None:
    """Normalised and 18-digit ID number, validity, body and prefix (once per distinct number)."""
    id_map = _map_distinct(_id_fields, set(id_values), parallel)
    idf = [id_map[v] for v in id_values]
    del id_map
    id18 = [t[1] for t in idf]
    columns["id_norm"] = _take([t[0] for t in idf], id_codes, _STRING)
    columns["id18"] = _take(id18, id_codes, _STRING)
    columns["id_valid"] = _take([t[2] for t in idf], id_codes, pa.bool_())
    columns["id_body"] = _take([v[:17] if v else None for v in id18], id_codes, _STRING)
    columns["id_prefix14"] = _take([v[:14] if v else None for v in id18], id_codes, _STRING)
    # t[2]: checksum-valid; t[3]: a legacy 15-digit number (its upgrade has a computed check)
    facts = [decoded_facts(t[1], t[2] or t[3]) for t in idf]
    columns["id_dob"] = _take([f[0] for f in facts], id_codes, _STRING)
    columns["id_sex"] = _take([f[1] for f in facts], id_codes, _STRING)
    columns["id_region"] = _take([f[2] for f in facts], id_codes, _STRING)


def _iso(value: str) -> str | None:
    d = parse_birth_date(value)
    return d.isoformat() if d else None


def _birth_columns(columns: dict[str, pa.Array], dob_iso: pa.Array) -> None:
    """The birth date (ISO per row) and its parts, derived once per distinct date."""
    encoded = dob_iso.dictionary_encode()
    dob = [date.fromisoformat(v) if v else None for v in encoded.dictionary.to_pylist()]
    codes = encoded.indices
    derived: dict[str, tuple[list[object], pa.DataType]] = {
        "dob": ([d.isoformat() if d else None for d in dob], _STRING),
        "birth_day": ([(d - _EPOCH).days if d else None for d in dob], pa.int64()),
        "birth_year": ([f"{d.year:04d}" if d else None for d in dob], _STRING),
        "birth_md": ([f"{d.month:02d}-{d.day:02d}" if d else None for d in dob], _STRING),
        "birth_swapped": ([_swapped(d) for d in dob], _STRING),
    }
    for col, (per_value, kind) in derived.items():
        columns[col] = pa.array(per_value, type=kind).take(codes)


def prepare_records(df: pd.DataFrame, *, parallel: bool = False) -> pd.DataFrame:
    """The input columns plus the derived columns listed in the module docstring.

    Works on distinct values (names and ID numbers repeat a lot), so a million records
    take seconds, not minutes.  ``parallel`` spreads large inputs over the CPU cores by
    forking; only for callers that know no native thread pool (Arrow, DuckDB, Spark) is
    running in this process — forking such a process can deadlock the children.

    Strings (and the ``name_readings`` lists) are Python objects, missing values
    ``None``; ``name_len`` and ``birth_day`` are ``Int64``, ``id_valid`` is ``bool``.
    The engine uses :func:`prepare_table` instead, which holds the same values in Arrow.
    """
    return table_as_frame(prepare_table(df, parallel=parallel))


def table_as_frame(table: pa.Table) -> pd.DataFrame:
    """A prepared table as the frame :func:`prepare_records` returns."""
    out = {}
    for col in table.column_names:
        values = table.column(col).to_pylist()
        if col in ("name_len", "birth_day"):
            out[col] = pd.Series(values, dtype="Int64")
        elif col == "id_valid":
            out[col] = pd.Series(values, dtype=bool)
        else:
            out[col] = pd.Series(values, dtype=object)
    return pd.DataFrame(out)


def _swapped(d: date | None) -> str | None:
    if d is None or d.day > 12 or d.day == d.month:
        return None
    try:
        return date(d.year, d.day, d.month).isoformat()
    except ValueError:
        return None
