"""Parsing an import file (:mod:`popreg.registry.importing`, stage 1): each cell checked
and cleaned, then the checks across rows of the same file (households agree, an ID
number appears once, one head per household).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from popreg.core.validation import Entry
from popreg.registry._import_format import (
    COLUMN_BY_KEY,
    HEADER_INDEX,
    REQUIRED_KEYS,
    ImportFileError,
    ImportLimits,
    ImportRow,
    ParseResult,
    Progress,
    RowError,
    header_key,
    no_progress,
)
from popreg.registry._import_read import (
    cell_text,
    empty_file,
    find_header,
    open_rows,
    sha256_of,
    too_many_rows,
)
from popreg.registry.actions.checks import check_date, check_id, check_name, check_sex
from popreg.registry.errors import RegistryError
from popreg.registry.models import ResidenceType
from popreg.registry.validation import check_entry, normalize_ethnicity, today

# --------------------------------------------------------------------------- values

_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DIGITS8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_HOUSEHOLD_NO = re.compile(r"^[0-9A-Za-z\-]{1,20}$")
_UNIT_CODE = re.compile(r"^\d{12}(\d{3})?$")

SEX_VALUES = {"男": "M", "女": "F", "m": "M", "f": "F", "1": "M", "2": "F", "male": "M", "female": "F"}
KIND_VALUES = {"家庭户": "family", "家庭": "family", "family": "family",
               "集体户": "collective", "集体": "collective", "collective": "collective"}
RESIDENCE_VALUES = {
    "常住户籍": "registered", "常住": "registered", "户籍": "registered", "registered": "registered",
    "暂住": "floating_in", "流入": "floating_in", "暂住(流入)": "floating_in", "floating_in": "floating_in",
    "外出": "floating_out", "流出": "floating_out", "外出(流出)": "floating_out",
    "floating_out": "floating_out",
    "境外": "foreign", "境外人员": "foreign", "foreign": "foreign",
    "户口待定": "pending", "待定": "pending", "pending": "pending",
}
HUKOU_VALUES = {"农业": "agricultural", "农业户口": "agricultural", "agricultural": "agricultural",
                "非农业": "non_agricultural", "非农业户口": "non_agricultural",
                "non_agricultural": "non_agricultural"}
MARITAL_VALUES = {"未婚": "single", "single": "single", "已婚": "married", "有配偶": "married",
                  "married": "married", "离婚": "divorced", "divorced": "divorced",
                  "丧偶": "widowed", "widowed": "widowed"}


class _CellError(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.zh, self.en = zh, en


def _choice(text: str, table: dict[str, str], label: str, allowed_zh: str, default: str) -> str:
    if not text:
        return default
    key = unicodedata.normalize("NFKC", text).replace(" ", "").lower()
    key = key.replace("（", "(").replace("）", ")")
    if key in table:
        return table[key]
    raise _CellError(f"{label}“{text}”无法识别，应为 {allowed_zh}",
                     f"{label} value '{text}' is not recognised; use one of {allowed_zh}")


def parse_date(value: Any, label: str) -> date:
    """A date from an Excel cell or text; impossible dates (2023-02-30) are refused."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(int(value)) if float(value).is_integer() else str(value)
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
    text = text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} ", text) else text
    m = _DATE_RE.match(text) or _DIGITS8.match(text)
    if not m:
        raise _CellError(f"{label}“{text}”格式不正确，应为 年-月-日（如 1990-03-04）",
                         f"{label} '{text}' is not a date; write year-month-day such as 1990-03-04")
    y, mo, d = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        raise _CellError(
            f"{label}“{text}”不是有效日期（{y}年没有{mo}月{d}日）；请核对年月日",
            f"{label} '{text}' is not a real date ({y}-{mo:02d}-{d:02d} does not exist); "
            "check the year, month and day",
        ) from None


def _unit_code(text: str, label: str) -> str:
    code = unicodedata.normalize("NFKC", text).strip()
    if not _UNIT_CODE.match(code):
        raise _CellError(f"{label}“{text}”应为 12 位（村民小组 15 位）数字区划代码",
                         f"{label} '{text}' must be a 12-digit (group: 15-digit) division code")
    return code


def _registry_error(exc: RegistryError) -> _CellError:
    return _CellError(exc.message_zh, exc.message_en)


def _parse_row(
    number: int, raw: dict[str, Any], res: ParseResult, checked_dates: dict[date, date]
) -> ImportRow | None:
    """Clean one row; record every problem found (not only the first)."""
    errors: list[RowError] = []
    values: dict[str, Any] = {}

    def cell(key: str, convert: Callable[[Any], Any]) -> None:
        value = raw.get(key)
        try:
            values[key] = convert(value)
        except _CellError as exc:
            errors.append(RowError(number, res.label(key), cell_text(value), exc.zh, exc.en))
        except RegistryError as exc:
            # several problems of one cell (an ID number can have several) are one entry of
            # the report whose message names each of them
            errors.append(RowError(number, res.label(key), cell_text(value),
                                   exc.message_zh, exc.message_en))

    def text(key: str) -> str:
        return cell_text(raw.get(key))

    def household_no(v: Any) -> str:
        t = cell_text(v)
        if t and not _HOUSEHOLD_NO.match(t):
            raise _CellError(f"户号“{t}”只能由数字、字母或连字符组成，最长 20 位",
                             f"household number '{t}' may hold digits, letters or '-' only, 20 at most")
        return t

    def sex(v: Any) -> str:
        t = cell_text(v)
        if not t:
            raise RegistryError("请填写性别（男/女）", "sex is required (男/女)", "sex")
        return check_sex(SEX_VALUES.get(t.lower(), t))

    def birth(v: Any) -> date:
        if v is None or cell_text(v) == "":
            raise RegistryError("请填写出生日期", "birth date is required", "birth_date")
        d = parse_date(v, "出生日期")
        if d not in checked_dates:  # many people share a birth date; the check depends on it only
            checked_dates[d] = check_date(d, "birth_date", "出生日期")
        return checked_dates[d]

    def ethnicity(t: str) -> str:
        """The GB/T 3304 name (``蒙古`` → ``蒙古族``; blank: 汉族), or the rule's refusal."""
        problems = check_entry(Entry(kind="person", today=today(), ethnicity=t)) if t else []
        if problems:
            raise problems[0]
        return normalize_ethnicity(t)

    def registered(v: Any) -> str:
        t = cell_text(v)
        if not t:
            raise RegistryError("请填写户籍地代码", "the registered unit code is required", "registered_unit")
        return _unit_code(t, "户籍地代码")

    cell("household_no", household_no)
    cell("household_kind", lambda v: _choice(text("household_kind"), KIND_VALUES, "户别", "家庭户/集体户", "family"))
    cell("address", lambda v: _limit(text("address"), 200, "住址"))
    cell("name", lambda v: check_name(cell_text(v)))
    cell("sex", sex)
    cell("birth_date", birth)
    cell("ethnicity", lambda v: ethnicity(_limit(text("ethnicity"), 20, "民族")))
    cell("registered_unit", registered)
    cell("residence_unit", lambda v: _unit_code(text("residence_unit"), "居住地代码") if text("residence_unit") else None)
    cell("residence_type", lambda v: _choice(text("residence_type"), RESIDENCE_VALUES, "居住类型",
                                             "常住户籍/暂住/外出/境外/户口待定", ResidenceType.REGISTERED))
    cell("relation", lambda v: _limit(text("relation"), 20, "与户主关系"))
    cell("hukou_kind", lambda v: _choice(text("hukou_kind"), HUKOU_VALUES, "户口性质", "农业/非农业", ""))
    cell("marital_status", lambda v: _choice(text("marital_status"), MARITAL_VALUES, "婚姻状况",
                                             "未婚/已婚/离婚/丧偶", ""))
    cell("former_names", lambda v: _limit(text("former_names"), 120, "曾用名"))

    def id_number(v: Any) -> str | None:
        if isinstance(v, float):
            raise _CellError(
                "公民身份号码被 Excel 存成了数字，后几位可能已丢失；请将该列设为“文本”格式后重新录入",
                "the ID number was stored by Excel as a number and its last digits may be lost; "
                "format the column as text and type the numbers again",
            )
        return check_id(cell_text(v) or None, values.get("birth_date"), values.get("sex"))

    cell("id_number", id_number)
    born = values.get("birth_date")
    if born is not None:
        # the oldest plausible age (docs/validation.md, age_over_max) of a living person
        for one in check_entry(Entry(kind="person", today=today(), birth_date=born,
                                     entered=frozenset({"birth_date"}))):
            errors.append(RowError(number, res.label("birth_date"), cell_text(raw.get("birth_date")),
                                   one.message_zh, one.message_en))
    if errors:
        res.errors.extend(errors)
        return None
    return ImportRow(row=number, **values)


def _limit(text: str, n: int, label: str) -> str:
    if len(text) > n:
        raise _CellError(f"{label}过长（最多 {n} 个字）", f"{label} is too long ({n} characters at most)")
    return text


def parse_file(data: bytes, file_name: str = "", progress: Progress | None = None) -> ParseResult:
    """Read and check every row of ``data``; raises :class:`ImportFileError` when the file
    as a whole is unusable, otherwise returns the valid rows and every row error."""
    report = progress or no_progress
    limits = ImportLimits.from_settings()
    rows, fmt = open_rows(data, file_name, limits)
    header_row, header, _titles = find_header(rows)
    _check_width(header_row, header, limits)
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, h in enumerate(header):
        key = HEADER_INDEX.get(header_key(h))
        if key is None:
            if h:
                ignored.append(h)
            continue
        if key in positions:
            raise ImportFileError(
                f"列“{h}”与列“{headers[key]}”重复（都表示{COLUMN_BY_KEY[key].header}）；请删除其中一列",
                f"columns '{h}' and '{headers[key]}' both mean {key}; delete one of them",
            )
        positions[key], headers[key] = i, h
    missing = [COLUMN_BY_KEY[k].header for k in REQUIRED_KEYS if k not in positions]
    if missing:
        raise ImportFileError(
            f"缺少必需的列：{'、'.join(missing)}。请在表头（第 {header_row} 行）补上这些列，或使用本页的模板",
            f"missing required columns: {', '.join(missing)}; add them to the header (row "
            f"{header_row}) or start from the template on this page",
        )
    result = ParseResult(file_name=file_name, sha256=sha256_of(data), file_format=fmt,
                         headers=headers, ignored_headers=ignored, total_rows=0)
    checked_dates: dict[date, date] = {}
    for number, cells in enumerate(rows, start=header_row + 1):
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        result.total_rows += 1
        if result.total_rows > limits.max_rows:
            raise too_many_rows(limits.max_rows)
        _check_width(number, cells, limits)
        raw = {k: (cells[i] if i < len(cells) else None) for k, i in positions.items()}
        long = _long_cells(number, raw, result, limits)
        if long:
            result.errors.extend(long)
            continue
        row = _parse_row(number, raw, result, checked_dates)
        if row is not None:
            result.rows.append(row)
        if result.total_rows % 1000 == 0:
            report("parse", result.total_rows, 0)
    if result.total_rows == 0:
        raise empty_file()
    _check_within_file(result)
    report("parse", result.total_rows, result.total_rows)
    return result


def _check_width(number: int, cells: list[Any], limits: ImportLimits) -> None:
    """Refuse a row with something written past the last allowed column."""
    if any(c is not None and str(c).strip() for c in cells[limits.max_columns:]):
        n = limits.max_columns
        raise ImportFileError(
            f"第 {number} 行在第 {n} 列之后还有内容（每行最多 {n} 列）；请删除多余的列，或使用本页的模板",
            f"row {number} has content past column {n} (a row may have {n} columns at most); "
            "delete the extra columns or start from the template on this page",
        )


#: Characters of an over-long cell kept in the error report.
SHOWN_CHARS = 50


def _long_cells(number: int, raw: dict[str, Any], res: ParseResult, limits: ImportLimits) -> list[RowError]:
    """One error per cell longer than the limit (its value cut short in the report); such
    a row is not parsed further."""
    n = limits.max_cell_chars
    errors = []
    for key, value in raw.items():
        text = cell_text(value)
        if len(text) > n:
            errors.append(RowError(
                number, res.label(key), text[:SHOWN_CHARS] + f"…（共 {len(text):,} 字 {len(text):,} chars）",
                f"{res.label(key)}有 {len(text):,} 个字，超过每格 {n:,} 个字的上限；请检查是否粘贴错误并缩短",
                f"{res.label(key)} holds {len(text):,} characters, more than the limit of {n:,} "
                "for one cell; check for a wrong paste and shorten it"))
    return errors


def _check_within_file(res: ParseResult) -> None:
    """Rows of one household agree; an ID number appears once; one head per household."""
    first_id: dict[str, int] = {}
    households: dict[str, ImportRow] = {}
    heads: dict[str, int] = {}
    for r in res.rows:
        if r.id_number:
            if r.id_number in first_id:
                res.errors.append(RowError(
                    r.row, res.label("id_number"), r.id_number,
                    f"公民身份号码与第 {first_id[r.id_number]} 行重复；同一人只能登记一次",
                    f"the ID number repeats row {first_id[r.id_number]}; a person is registered once"))
            else:
                first_id[r.id_number] = r.row
        if not r.household_no:
            continue
        first = households.setdefault(r.household_no, r)
        if first is not r:
            for key, label in (("registered_unit", "户籍地代码"), ("household_kind", "户别")):
                if getattr(r, key) != getattr(first, key):
                    res.errors.append(RowError(
                        r.row, res.label(key), str(getattr(r, key)),
                        f"同一户号 {r.household_no} 的{label}与第 {first.row} 行不一致",
                        f"{key} differs from row {first.row} of the same household {r.household_no}"))
            if r.address and first.address and r.address != first.address:
                res.errors.append(RowError(
                    r.row, res.label("address"), r.address,
                    f"同一户号 {r.household_no} 的住址与第 {first.row} 行不一致",
                    f"the address differs from row {first.row} of the same household {r.household_no}"))
            if r.address and not first.address:
                first.address = r.address
        if r.is_head:
            if r.household_no in heads:
                res.errors.append(RowError(
                    r.row, res.label("relation"), r.relation,
                    f"户号 {r.household_no} 已在第 {heads[r.household_no]} 行指定户主；每户只能有一位户主",
                    f"household {r.household_no} already has its head on row {heads[r.household_no]}"))
            else:
                heads[r.household_no] = r.row
    res.errors.sort(key=lambda e: e.row)
