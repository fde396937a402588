"""Bulk import of persons and households (批量导入): read a spreadsheet, validate every row.

Two stages, both free of writes:

1. :func:`parse_file` reads an ``.xlsx`` workbook or a CSV file (UTF-8, UTF-8 with BOM,
   UTF-16 with BOM, or GBK/GB18030, detected) and checks each row's fields with the same
   validators the action layer uses (``popreg.registry.actions``).  A file that cannot be
   read at all raises :class:`ImportFileError`; a row that is wrong becomes a
   :class:`RowError` naming its spreadsheet row, column and the reason in Chinese and
   English.
2. :func:`check_against_registry` checks the rows against the registry for one actor:
   units exist and lie in the actor's jurisdiction, ID numbers are not already active,
   household numbers that already exist belong to the same unit, and the same file
   (by SHA-256) was not imported before.

``popreg.registry.bulk.do_import_persons`` runs stage 2 again inside its transaction and
then writes everything at once.

Column headers are the Chinese ones of :data:`COLUMNS` (or their English aliases); see
``docs/import.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from popreg.core import names as names_core
from popreg.registry.access import Actor
from popreg.registry.actions import _check_date, _check_id, _check_name, _check_sex, _unit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, AuditRecord, Household, Person, ResidenceType, Status

#: The action name of the batch's audit record (also used to find earlier imports).
AUDIT_ACTION = "import_persons"
#: Rows a single file may hold; larger registries are imported township by township.
MAX_ROWS = 500_000
#: Rows checked against the database per query.
_CHUNK = 500

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool
    help_zh: str
    help_en: str


COLUMNS: tuple[Column, ...] = (
    Column("household_no", "户号", ("household_no", "household_number", "hh_no"), True,
           "同一户号的行为一户；库中已有的户号表示加入该户；留空表示不入户（如暂住人口）",
           "rows sharing a number form one household; an existing number joins that household; "
           "blank = no household (e.g. temporary residents)"),
    Column("household_kind", "户别", ("household_kind", "kind"), False,
           "家庭户 或 集体户，留空为家庭户", "family (家庭户) or collective (集体户); blank = family"),
    Column("address", "住址", ("address", "地址"), False,
           "户的登记住址（门牌）", "registered address of the household (door plate)"),
    Column("name", "姓名", ("name",), True, "必填", "required"),
    Column("sex", "性别", ("sex", "gender"), True, "男/女（或 M/F、1/2）", "男/女 (or M/F, 1/2)"),
    Column("birth_date", "出生日期", ("birth_date", "birthdate", "date_of_birth"), True,
           "年-月-日，如 1990-03-04（也可 1990/3/4、19900304、Excel 日期）",
           "year-month-day such as 1990-03-04 (1990/3/4, 19900304 or an Excel date also work)"),
    Column("id_number", "公民身份号码", ("id_number", "身份证号", "身份证号码", "id_no"), True,
           "18 位（旧 15 位自动升位）；须与出生日期、性别一致；无号码可留空；Excel 中请设为文本格式",
           "18 characters (15-digit numbers are upgraded); must agree with birth date and sex; "
           "blank if none; format the Excel column as text"),
    Column("ethnicity", "民族", ("ethnicity", "nation"), False, "如 汉族，留空为汉族",
           "e.g. 汉族; blank = 汉族"),
    Column("registered_unit", "户籍地代码", ("registered_unit", "unit_code", "village_code", "户籍地"),
           True, "户口所在村(居)委会或村民小组的 12/15 位区划代码，须在您的辖区内",
           "12/15-digit code of the village or group of registration, inside your jurisdiction"),
    Column("residence_unit", "居住地代码", ("residence_unit", "居住地"), False,
           "实际居住的村(居)委会代码，留空同户籍地", "village actually lived in; blank = same as registration"),
    Column("residence_type", "居住类型", ("residence_type",), False,
           "常住户籍 / 暂住 / 外出 / 境外 / 户口待定，留空为常住户籍",
           "registered / floating_in / floating_out / foreign / pending; blank = registered"),
    Column("relation", "与户主关系", ("relation", "relationship", "relation_to_head"), False,
           "户主 或 本人 标记户主；其他如 配偶、子、女 照录", "户主 or 本人 marks the head; others recorded as given"),
    Column("hukou_kind", "户口性质", ("hukou_kind",), False, "农业 / 非农业，可留空",
           "农业 (agricultural) / 非农业 (non-agricultural), may be blank"),
    Column("marital_status", "婚姻状况", ("marital_status",), False, "未婚 / 已婚 / 离婚 / 丧偶，可留空",
           "未婚 single / 已婚 married / 离婚 divorced / 丧偶 widowed, may be blank"),
    Column("former_names", "曾用名", ("former_names", "former_name"), False, "可留空", "may be blank"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
REQUIRED_KEYS = tuple(c.key for c in COLUMNS if c.required)


def _header_key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    t = re.sub(r"[\s*＊:：]+", "", t)
    t = re.sub(r"[(（][^)）]*[)）]$", "", t)  # "姓名(必填)", "户号（Household No.）"
    return t.lower()


_HEADER_INDEX: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.header, _c.key, *_c.aliases):
        _HEADER_INDEX[_header_key(_h)] = _c.key


# --------------------------------------------------------------------------- results


class ImportFileError(RegistryError):
    """The file as a whole cannot be imported (not a spreadsheet, missing columns, ...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell: ``row`` is the spreadsheet row number (the header is row 1
    unless title rows precede it), ``column`` the header as written in the file."""

    row: int
    column: str
    value: str
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value,
                "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass(slots=True)
class ImportRow:
    """One valid row, cleaned: codes and dates in the registry's own form."""

    row: int
    household_no: str
    household_kind: str
    address: str
    name: str
    sex: str
    birth_date: date
    id_number: str | None
    ethnicity: str
    registered_unit: str
    residence_unit: str | None
    residence_type: str
    relation: str
    hukou_kind: str
    marital_status: str
    former_names: str

    @property
    def is_head(self) -> bool:
        return self.relation in HEAD_RELATIONS

    def display(self) -> dict[str, Any]:
        return {
            "row": self.row, "household_no": self.household_no, "name": self.name,
            "sex": self.sex, "birth_date": self.birth_date.isoformat(),
            "id_number": self.id_number or "", "registered_unit": self.registered_unit,
            "residence_unit": self.residence_unit or "", "residence_type": self.residence_type,
            "relation": self.relation,
        }


@dataclass(slots=True)
class ParseResult:
    file_name: str
    sha256: str
    file_format: str  # "xlsx" or the CSV encoding
    headers: dict[str, str]  # column key -> header as written in the file
    ignored_headers: list[str]
    total_rows: int
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def label(self, key: str) -> str:
        return self.headers.get(key) or COLUMN_BY_KEY[key].header


HEAD_RELATIONS = {"户主", "本人", "head", "self"}


# --------------------------------------------------------------------------- reading

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(data: bytes) -> tuple[str, str]:
    """Text of a CSV file and the encoding found: BOMs first, then UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "gb18030"]
    for enc in encodings:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030。请在 Excel 或 WPS 中“另存为”"
        " CSV UTF-8 或 .xlsx 后重新上传",
        "cannot read the file's text encoding: it is neither UTF-8 nor GBK/GB18030; save it "
        "again as CSV UTF-8 or .xlsx and upload it again",
    )


def _sniff_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        return csv.excel


def _csv_rows(data: bytes) -> tuple[Iterator[list[Any]], str]:
    text, encoding = _decode(data)
    if "\x00" in text:
        raise _not_spreadsheet()
    text = text.lstrip("\ufeff")
    dialect = _sniff_dialect(text[:4096])
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    return (list(r) for r in reader), encoding


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportFileError(
            "文件不是有效的 Excel(.xlsx) 工作簿，可能已损坏；请用 Excel 或 WPS 打开后另存为 .xlsx",
            f"the file is not a valid Excel (.xlsx) workbook ({type(exc).__name__}); open it in "
            "Excel or WPS and save it again as .xlsx",
        ) from exc
    except Exception as exc:  # openpyxl raises its own exception types for broken parts
        raise ImportFileError(
            "无法读取该 Excel 文件；请另存为 .xlsx 后重新上传",
            f"cannot read this Excel file ({type(exc).__name__}); save it again as .xlsx",
        ) from exc
    if not wb.worksheets:
        raise _empty_file()
    ws = wb.worksheets[0]

    def rows() -> Iterator[list[Any]]:
        try:
            for values in ws.iter_rows(values_only=True):
                yield list(values)
        finally:
            wb.close()

    return rows()


def _not_spreadsheet() -> ImportFileError:
    return ImportFileError(
        "上传的文件不是电子表格；请上传 .xlsx 工作簿或 CSV 文件（可从本页下载模板）",
        "the uploaded file is not a spreadsheet; upload an .xlsx workbook or a CSV file "
        "(a template can be downloaded from this page)",
    )


def _empty_file() -> ImportFileError:
    return ImportFileError(
        "文件中没有数据行；请在表头下方逐行填写人员信息",
        "the file has no data rows; fill in one person per row below the header",
    )


def _open_rows(data: bytes, file_name: str) -> tuple[Iterator[list[Any]], str]:
    if not data.strip():
        raise _empty_file()
    if data.startswith(_OLE):
        raise ImportFileError(
            "这是旧版 Excel(.xls) 文件；请在 Excel 或 WPS 中另存为 .xlsx 或 CSV 后上传",
            "this is a legacy Excel (.xls) file; save it as .xlsx or CSV and upload that",
        )
    if data.startswith(_ZIP):
        return _xlsx_rows(data), "xlsx"
    head = data[:2048]
    binary_magic = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
    if head.startswith(binary_magic) or (b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        raise _not_spreadsheet()
    return _csv_rows(data)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _find_header(rows: Iterator[list[Any]]) -> tuple[int, list[str], list[list[Any]]]:
    """(row number of the header, its cells, the non-empty rows seen before it).

    Title rows above the header are allowed: the header is the first of the first ten
    non-empty rows in which at least three known column names appear.
    """
    seen: list[list[Any]] = []
    for number, cells in enumerate(rows, start=1):
        texts = [_cell_text(c) for c in cells]
        if not any(texts):
            continue
        known = sum(1 for t in texts if _header_key(t) in _HEADER_INDEX)
        if known >= 3:
            return number, texts, seen
        seen.append(texts)
        if len(seen) >= 10:
            break
    if not seen:
        raise _empty_file()
    first = "、".join(t for t in seen[0] if t)[:200]
    needed = "、".join(COLUMN_BY_KEY[k].header for k in REQUIRED_KEYS)
    raise ImportFileError(
        f"找不到表头：文件前几行没有“{needed}”等列名（第一行为：{first}）。"
        "如表头显示为乱码，请将文件另存为 UTF-8 编码的 CSV 或 .xlsx；否则请使用本页的模板",
        f"no header row found: the first rows do not name the columns {needed} (first row: "
        f"{first}); if the header looks garbled, save the file as CSV UTF-8 or .xlsx, "
        "otherwise start from the template on this page",
    )


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
            errors.append(RowError(number, res.label(key), _cell_text(value), exc.zh, exc.en))
        except RegistryError as exc:
            errors.append(RowError(number, res.label(key), _cell_text(value),
                                   exc.message_zh, exc.message_en))

    def text(key: str) -> str:
        return _cell_text(raw.get(key))

    def household_no(v: Any) -> str:
        t = _cell_text(v)
        if t and not _HOUSEHOLD_NO.match(t):
            raise _CellError(f"户号“{t}”只能由数字、字母或连字符组成，最长 20 位",
                             f"household number '{t}' may hold digits, letters or '-' only, 20 at most")
        return t

    def sex(v: Any) -> str:
        t = _cell_text(v)
        if not t:
            raise RegistryError("请填写性别（男/女）", "sex is required (男/女)", "sex")
        return _check_sex(SEX_VALUES.get(t.lower(), t))

    def birth(v: Any) -> date:
        if v is None or _cell_text(v) == "":
            raise RegistryError("请填写出生日期", "birth date is required", "birth_date")
        d = parse_date(v, "出生日期")
        if d not in checked_dates:  # many people share a birth date; the check depends on it only
            checked_dates[d] = _check_date(d, "birth_date", "出生日期")
        return checked_dates[d]

    def registered(v: Any) -> str:
        t = _cell_text(v)
        if not t:
            raise RegistryError("请填写户籍地代码", "the registered unit code is required", "registered_unit")
        return _unit_code(t, "户籍地代码")

    cell("household_no", household_no)
    cell("household_kind", lambda v: _choice(text("household_kind"), KIND_VALUES, "户别", "家庭户/集体户", "family"))
    cell("address", lambda v: _limit(text("address"), 200, "住址"))
    cell("name", lambda v: _check_name(_cell_text(v)))
    cell("sex", sex)
    cell("birth_date", birth)
    cell("ethnicity", lambda v: _limit(text("ethnicity"), 20, "民族") or "汉族")
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
        return _check_id(_cell_text(v) or None, values.get("birth_date"), values.get("sex"))

    cell("id_number", id_number)
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
    report = progress or _no_progress
    rows, fmt = _open_rows(data, file_name)
    header_row, header, _titles = _find_header(rows)
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, h in enumerate(header):
        key = _HEADER_INDEX.get(_header_key(h))
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
        if result.total_rows > MAX_ROWS:
            raise ImportFileError(
                f"文件超过 {MAX_ROWS:,} 行；请按乡镇拆分后分批导入",
                f"the file has more than {MAX_ROWS:,} rows; split it by township and import in parts",
            )
        raw = {k: (cells[i] if i < len(cells) else None) for k, i in positions.items()}
        row = _parse_row(number, raw, result, checked_dates)
        if row is not None:
            result.rows.append(row)
        if result.total_rows % 1000 == 0:
            report("parse", result.total_rows, 0)
    if result.total_rows == 0:
        raise _empty_file()
    _check_within_file(result)
    report("parse", result.total_rows, result.total_rows)
    return result


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


# --------------------------------------------------------------------------- registry checks


def previous_import(sha256: str) -> AuditRecord | None:
    """The audit record of an earlier import of the same bytes, if any."""
    return (AuditRecord.objects.filter(action=AUDIT_ACTION, detail__file_sha256=sha256)
            .order_by("id").first())


def _chunks(items: Sequence[str], n: int = _CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


@dataclass(slots=True)
class RegistryCheck:
    errors: list[RowError]
    units: dict[str, AdminUnit]
    existing_households: dict[str, Household]


def check_against_registry(
    actor: Actor, rows: Iterable[ImportRow], sha256: str, *, labels: dict[str, str] | None = None,
    lock: bool = False,
) -> RegistryCheck:
    """Check rows against the registry as ``actor`` would write them.

    Raises :class:`ImportFileError` for the file as a whole (read-only role, same file
    imported before); returns row errors for the rest.  ``lock`` takes row locks on
    existing households (inside the import transaction).
    """
    actor.check_write()
    earlier = previous_import(sha256)
    if earlier is not None:
        at = timezone.localtime(earlier.at)
        raise ImportFileError(
            f"该文件已于 {at:%Y-%m-%d %H:%M} 由 {earlier.actor_name} 导入（审计记录 {earlier.pk}），"
            "不能重复导入",
            f"this file was already imported on {at:%Y-%m-%d %H:%M} by "
            f"{earlier.actor_name} (audit record {earlier.pk}); it cannot be imported twice",
        )
    rows = list(rows)
    names = labels or {}

    def label(key: str) -> str:
        return names.get(key) or COLUMN_BY_KEY[key].header

    errors: list[RowError] = []
    units: dict[str, AdminUnit] = {}
    unit_problem: dict[str, RegistryError] = {}

    def unit(code: str, field: str, zh: str) -> AdminUnit | None:
        if code in units:
            return units[code]
        if code in unit_problem:
            raise unit_problem[code]
        try:
            u = _unit(code, field, zh)
        except RegistryError as exc:
            unit_problem[code] = exc
            raise
        units[code] = u
        return u

    for r in rows:
        for key, code, zh, needs_scope in (
            ("registered_unit", r.registered_unit, "户籍地", True),
            ("residence_unit", r.residence_unit, "居住地", r.residence_type != ResidenceType.FLOATING_OUT),
        ):
            if not code:
                continue
            try:
                u = unit(code, key, zh)
            except RegistryError as exc:
                errors.append(RowError(r.row, label(key), code, exc.message_zh, exc.message_en))
                continue
            if needs_scope and u is not None and not actor.covers(u.code):
                errors.append(RowError(
                    r.row, label(key), code,
                    f"{zh} {u.name}（{code}）不在您的辖区内，不能导入",
                    f"unit {code} ({u.name}) is outside your jurisdiction"))

    # ID numbers already held by an active person.
    by_id = {r.id_number: r for r in rows if r.id_number}
    ids = list(by_id)
    for chunk in _chunks(ids):
        for number, pk in (Person.objects.filter(id_number__in=chunk, status=Status.ACTIVE)
                           .values_list("id_number", "pk")):
            r = by_id[number]
            errors.append(RowError(
                r.row, label("id_number"), number,
                f"公民身份号码 {number} 已登记给在册人员（编号 {pk}），请核实是否重复登记",
                f"ID number {number} already belongs to active person {pk}; check for a duplicate"))

    # Persons without an ID number: an active person of the same village with the same
    # name, sex and birth date is most likely the same person, already registered (e.g. a
    # file edited and uploaded again).
    no_id = [r for r in rows if not r.id_number and r.registered_unit]
    wanted: dict[tuple[str, str, str, date], ImportRow] = {}
    for r in no_id:
        wanted.setdefault((r.registered_unit, names_core.normalize_name(r.name), r.sex, r.birth_date), r)
    for chunk in _chunks(sorted({r.registered_unit for r in no_id})):
        found = (Person.objects.filter(registered_unit_id__in=chunk, status=Status.ACTIVE)
                 .values_list("registered_unit_id", "name_key", "sex", "birth_date", "pk")
                 .iterator(chunk_size=5000))
        for unit_code, key, sex, born, pk in found:
            r = wanted.get((unit_code, key, sex, born))
            if r is not None:
                errors.append(RowError(
                    r.row, label("name"), r.name,
                    f"{unit_code} 已有同名、同性别、同出生日期的在册人员（编号 {pk}），"
                    "请核实是否重复登记；确为另一人时请填写公民身份号码",
                    f"active person {pk} in {unit_code} has the same name, sex and birth date; "
                    "check for a duplicate, or give the ID number if this is another person"))

    # Household numbers that already exist: joining them is allowed within one's unit.
    first_of: dict[str, ImportRow] = {}
    for r in rows:
        if r.household_no:
            first_of.setdefault(r.household_no, r)
    existing: dict[str, Household] = {}
    numbers = list(first_of)
    for chunk in _chunks(numbers):
        qs = Household.objects.filter(household_no__in=chunk)
        if lock:
            qs = qs.select_for_update()
        for hh in qs:
            existing[hh.household_no] = hh
    for r in rows:
        hh = existing.get(r.household_no) if r.household_no else None
        if hh is None:
            continue
        if not actor.covers(hh.unit_id):
            errors.append(RowError(
                r.row, label("household_no"), r.household_no,
                f"户号 {r.household_no} 已被辖区外的户使用；请更换户号",
                f"household number {r.household_no} is used by a household outside your "
                "jurisdiction; choose another number"))
        elif hh.unit_id != r.registered_unit:
            errors.append(RowError(
                r.row, label("registered_unit"), r.registered_unit,
                f"户号 {r.household_no} 是已有的户，户籍地为 {hh.unit_id}，与本行不一致",
                f"household {r.household_no} already exists in unit {hh.unit_id}, not "
                f"{r.registered_unit}"))
        elif r.is_head and hh.head_id is not None:
            errors.append(RowError(
                r.row, label("relation"), r.relation,
                f"户号 {r.household_no} 已有户主（编号 {hh.head_id}），不能再导入户主；变更户主请另行办理",
                f"household {r.household_no} already has a head (person {hh.head_id})"))
        if (r.address and hh.address and actor.covers(hh.unit_id)
                and hh.unit_id == r.registered_unit and _norm_address(r.address) != _norm_address(hh.address)):
            errors.append(RowError(
                r.row, label("address"), r.address,
                f"户号 {r.household_no} 是已有的户，住址为“{hh.address}”，与本行不一致；"
                "变更住址请另行办理",
                f"household {r.household_no} already exists with address {hh.address!r}; "
                "change an address through its own form"))
    errors.sort(key=lambda e: e.row)
    return RegistryCheck(errors=errors, units=units, existing_households=existing)


def _norm_address(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def validate_file(actor: Actor, data: bytes, file_name: str = "",
                  progress: Progress | None = None) -> ParseResult:
    """Both stages: parse, then (when the rows parsed) check against the registry."""
    result = parse_file(data, file_name, progress)
    check = check_against_registry(actor, result.rows, result.sha256, labels=result.headers)
    result.errors.extend(check.errors)
    result.errors.sort(key=lambda e: e.row)
    return result


# --------------------------------------------------------------------------- reports


def error_report_csv(errors: Iterable[RowError | dict[str, Any]]) -> bytes:
    """The error report as CSV in UTF-8 with a BOM (Excel opens it with Chinese intact)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["行号 Row", "列 Column", "内容 Value", "原因", "Reason"])
    for e in errors:
        d = e.as_dict() if isinstance(e, RowError) else e
        w.writerow([d["row"] or "", d["column"], d["value"], d["message_zh"], d["message_en"]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def template_csv() -> bytes:
    """An empty CSV template: the header row only, UTF-8 with BOM."""
    buf = io.StringIO()
    csv.writer(buf).writerow([c.header for c in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """An .xlsx template: the data sheet (header, ID and code columns as text) and a sheet
    explaining each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "人员"
    ws.append([c.header for c in COLUMNS])
    for i, c in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = 22 if c.key in ("id_number", "address") else 14
        ws.cell(row=1, column=i).font = Font(bold=True, color="C00000" if c.required else "000000")
        if c.key in ("household_no", "id_number", "registered_unit", "residence_unit"):
            for row in range(2, 1002):
                ws.cell(row=row, column=i).number_format = "@"
    help_ws = wb.create_sheet("说明 Help")
    help_ws.append(["列名 Column", "英文别名 English", "必填 Required", "说明", "Notes"])
    for c in COLUMNS:
        help_ws.append([c.header, c.key, "是 yes" if c.required else "", c.help_zh, c.help_en])
    help_ws.append([])
    help_ws.append(["示例 Example"])
    help_ws.append([c.header for c in COLUMNS])
    help_ws.append(["000000101", "家庭户", "东关村1号", "王秀英", "女", "1990-03-04",
                    "110105199003040029", "汉族", "110105001001", "", "常住户籍", "户主", "农业", "已婚", ""])
    for col, width in zip("ABCDE", (14, 18, 10, 50, 60), strict=True):
        help_ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
