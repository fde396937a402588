"""The shape of a bulk import (:mod:`popreg.registry.importing`): limits, the columns and
their headers, and the result types (rows, row errors, the file's parse result).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError

#: The action name of the batch's audit record (also used to find earlier imports).
AUDIT_ACTION = AuditAction.IMPORT_PERSONS
#: Rows a single file may hold by default (setting ``POPREG_IMPORT_MAX_ROWS``); larger
#: registries are imported township by township.
MAX_ROWS = 200_000
#: Rows checked against the database per query.
CHUNK = 500

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What one import file may hold, checked while it is read (never after reading it
    all): a file past a limit is refused with a message naming the limit."""

    max_rows: int = MAX_ROWS
    #: characters in one cell (names and addresses are short; 200 is the longest column)
    max_cell_chars: int = 1_000
    #: columns in a row (cells past it that are empty are ignored)
    max_columns: int = 100
    #: bytes an .xlsx file may unpack to, all parts together
    max_unpacked_bytes: int = 300 * 1024 * 1024
    #: how many times larger than its compressed size a part of an .xlsx may unpack to
    max_ratio: int = 100

    @classmethod
    def from_settings(cls) -> ImportLimits:
        from django.conf import settings

        return cls(
            max_rows=int(getattr(settings, "POPREG_IMPORT_MAX_ROWS", MAX_ROWS)),
            max_cell_chars=int(getattr(settings, "POPREG_IMPORT_MAX_CELL_CHARS", 1_000)),
            max_columns=int(getattr(settings, "POPREG_IMPORT_MAX_COLUMNS", 100)),
            max_unpacked_bytes=int(getattr(settings, "POPREG_IMPORT_MAX_UNPACKED_MB", 300)) * 1024 * 1024,
        )


def no_progress(stage: str, done: int, total: int) -> None:
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


def header_key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    t = re.sub(r"[\s*＊:：]+", "", t)
    t = re.sub(r"[(（][^)）]*[)）]$", "", t)  # "姓名(必填)", "户号（Household No.）"
    return t.lower()


HEADER_INDEX: dict[str, str] = {}
for _c in COLUMNS:
    for _h in (_c.header, _c.key, *_c.aliases):
        HEADER_INDEX[header_key(_h)] = _c.key


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
