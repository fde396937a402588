"""Reading an outside-source file: hospital births, death notices, marriage registrations.

A file is a CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM or GBK/GB18030, detected) or an
``.xlsx`` workbook, read by the person import's reader (``popreg.registry`` — the same
size limits and encodings).  One record per row below a header row; the columns of each
kind are :data:`KIND_COLUMNS` (Chinese headers or the English names; docs/sources.md).
Every problem of every row is reported as a :class:`~popreg.registry.importing.RowError`
naming the row, the column and how to fix it; nothing of a file with errors is imported.

The natural key of a record is its number in the file (``record_id``) or, when the file
has none, a digest of what identifies it (kind, names, ID numbers, dates), so a record
read again — in the same file or another — is recognised.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from popreg.core import idnumber
from popreg.core.names import normalize_name
from popreg.registry._import_format import ImportLimits
from popreg.registry._import_read import cell_text, open_rows
from popreg.registry.errors import RegistryError
from popreg.registry.importing import ImportFileError, RowError, parse_date, sha256_of

KINDS = ("hospital_births", "death_notices", "marriages")
#: The oldest date a source record may carry.
EARLIEST = date(1900, 1, 1)


@dataclass(frozen=True)
class SourceColumn:
    key: str
    header: str
    required: bool = False  # a value is required in every row
    column_required: bool = False  # the column must be present (values may be blank)
    kind: str = "text"  # text, date, sex, id, unit, notifier
    aliases: tuple[str, ...] = ()
    max_length: int = 60


def _c(key: str, header: str, kind: str = "text", *, required: bool = False,
       column: bool = False, aliases: tuple[str, ...] = (), max_length: int = 60) -> SourceColumn:
    return SourceColumn(key, header, required, column or required, kind, aliases, max_length)


RECORD_ID = _c("record_id", "编号", aliases=("记录编号", "通报编号", "出生医学证明编号", "结婚证字号", "证号"))
ADDRESS = _c("address_unit", "住址代码", "unit", aliases=("住址区划代码", "地址代码", "村代码"))

KIND_COLUMNS: dict[str, tuple[SourceColumn, ...]] = {
    "death_notices": (
        RECORD_ID,
        _c("name", "姓名", required=True, aliases=("死者姓名",)),
        _c("sex", "性别", "sex", column=True),  # notices do come without it; linkage copes
        _c("id_number", "公民身份号码", "id", column=True, aliases=("身份证号", "身份证号码")),
        _c("birth_date", "出生日期", "date", column=True),
        _c("death_date", "死亡日期", "date", required=True),
        ADDRESS,
        _c("notifier", "通报单位", "notifier", aliases=("通报来源",)),
    ),
    "hospital_births": (
        RECORD_ID,
        _c("hospital", "医院", aliases=("助产机构", "接生机构"), max_length=100),
        _c("birth_date", "出生日期", "date", required=True, aliases=("婴儿出生日期",)),
        _c("child_sex", "婴儿性别", "sex", required=True, aliases=("新生儿性别", "性别")),
        _c("child_name", "婴儿姓名", aliases=("新生儿姓名",)),
        _c("mother_name", "母亲姓名", required=True),
        _c("mother_id_number", "母亲身份证号", "id", column=True,
           aliases=("母亲公民身份号码", "母亲身份证号码")),
        _c("mother_birth_date", "母亲出生日期", "date"),
        _c("father_name", "父亲姓名"),
        ADDRESS,
    ),
    "marriages": (
        RECORD_ID,
        _c("marriage_date", "登记日期", "date", required=True, aliases=("结婚登记日期", "结婚日期")),
        _c("husband_name", "男方姓名", required=True),
        _c("husband_id_number", "男方身份证号", "id", column=True,
           aliases=("男方公民身份号码", "男方身份证号码")),
        _c("husband_birth_date", "男方出生日期", "date"),
        _c("wife_name", "女方姓名", required=True),
        _c("wife_id_number", "女方身份证号", "id", column=True,
           aliases=("女方公民身份号码", "女方身份证号码")),
        _c("wife_birth_date", "女方出生日期", "date"),
        _c("registry_office", "登记机关", max_length=100),
        ADDRESS,
    ),
}

#: The date of each kind's event (the record's month).
EVENT_DATE = {"death_notices": "death_date", "hospital_births": "birth_date", "marriages": "marriage_date"}
#: What identifies a record when the file gives no number (for its natural key).
KEY_FIELDS = {
    "death_notices": ("name", "id_number", "birth_date", "death_date"),
    "hospital_births": ("mother_name", "mother_id_number", "birth_date", "child_sex", "child_name"),
    "marriages": ("husband_name", "husband_id_number", "wife_name", "wife_id_number", "marriage_date"),
}
KEY_PREFIX = {"death_notices": "DN", "hospital_births": "HB", "marriages": "MR"}

SEX_VALUES = {"男": "M", "女": "F", "m": "M", "f": "F", "1": "M", "2": "F", "male": "M", "female": "F"}
NOTIFIER_VALUES = {
    "医院": "hospital", "hospital": "hospital", "卫生健康": "hospital", "卫健": "hospital",
    "民政": "civil_affairs", "civil_affairs": "civil_affairs",
    "殡葬": "crematorium", "火化": "crematorium", "殡仪馆": "crematorium", "crematorium": "crematorium",
}
_UNIT = re.compile(r"^\d{12}(\d{3})?$")
_SPACES = re.compile(r"[\s*＊:：]+")


def header_key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    t = _SPACES.sub("", t)
    t = re.sub(r"[(（][^)）]*[)）]$", "", t)
    return t.lower()


def header_index(kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in KIND_COLUMNS[kind]:
        for h in (c.header, c.key, *c.aliases):
            out.setdefault(header_key(h), c.key)
    return out


@dataclass
class SourceRow:
    """One valid record: its spreadsheet row, natural key and cleaned values."""

    row: int
    record_id: str
    from_file: bool  # the key is the file's own number
    data: dict[str, str]
    event_date: date
    address_unit: str

    @property
    def month(self) -> str:
        return f"{self.event_date.year:04d}-{self.event_date.month:02d}"


@dataclass
class ParsedSource:
    kind: str
    file_name: str
    sha256: str
    file_format: str
    headers: dict[str, str]  # column key -> header as written
    ignored_headers: list[str]
    total_rows: int = 0
    rows: list[SourceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Bad(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.zh, self.en = zh, en


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ImportFileError(
            f"来源类型“{kind}”未知：应为 hospital_births（医院出生）、death_notices（死亡通报）或 marriages（婚姻登记）",
            f"unknown source kind {kind!r}: use hospital_births, death_notices or marriages",
        )
    return kind


def _find_header(rows: Any, kind: str) -> tuple[int, list[str]]:
    index = header_index(kind)
    seen: list[list[str]] = []
    for number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not any(texts):
            continue
        if sum(1 for t in texts if header_key(t) in index) >= 2:
            return number, texts
        seen.append(texts)
        if len(seen) >= 10:
            break
    needed = "、".join(c.header for c in KIND_COLUMNS[kind] if c.column_required)
    if not seen:
        raise ImportFileError("文件中没有数据行；请在表头下方逐行填写记录",
                              "the file has no data rows; fill in one record per row below the header")
    first = "、".join(t for t in seen[0] if t)[:200]
    raise ImportFileError(
        f"找不到表头：文件前几行没有“{needed}”等列名（第一行为：{first}）。"
        "如表头显示为乱码，请将文件另存为 UTF-8 编码的 CSV 或 .xlsx；列名见 docs/sources.md 或本页说明",
        f"no header row found: the first rows do not name the columns {needed} (first row: {first}); "
        "if the header looks garbled, save the file as CSV UTF-8 or .xlsx; the columns are listed on this page",
    )


def _map_headers(header: list[str], kind: str) -> tuple[dict[int, str], dict[str, str], list[str]]:
    index = header_index(kind)
    positions: dict[int, str] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for i, text in enumerate(header):
        key = index.get(header_key(text))
        if key is None:
            if text:
                ignored.append(text)
            continue
        if key in labels:
            raise ImportFileError(
                f"“{labels[key]}”和“{text}”是同一列，请删去其中一列",
                f"columns {labels[key]!r} and {text!r} are the same column; delete one of them",
            )
        positions[i] = key
        labels[key] = text
    missing = [c.header for c in KIND_COLUMNS[kind] if c.column_required and c.key not in labels]
    if missing:
        raise ImportFileError(
            f"缺少必需的列：{'、'.join(missing)}（身份证号码一列可留空，但列必须存在）",
            f"required columns missing: {', '.join(missing)} (ID number cells may be blank, the column must exist)",
        )
    return positions, labels, ignored


def _clean(col: SourceColumn, raw: Any, today: date) -> str:
    """The cleaned text of one cell ('' when blank); raises _Bad with how to fix it."""
    text = unicodedata.normalize("NFKC", cell_text(raw)).strip()
    if not text:
        if col.required:
            raise _Bad(f"请填写{col.header}", f"{col.header} ({col.key}) is required")
        return ""
    if len(text) > col.max_length:
        raise _Bad(f"{col.header}过长（最多 {col.max_length} 个字符）",
                   f"{col.key} is longer than {col.max_length} characters")
    if col.kind == "date":
        try:
            d = parse_date(raw if not isinstance(raw, str) else text, col.header)
        except Exception as exc:  # the person import's date parser: its own bilingual message
            zh = getattr(exc, "zh", str(exc))
            en = getattr(exc, "en", str(exc))
            raise _Bad(zh, en) from None
        if d > today:
            raise _Bad(f"{col.header} {d.isoformat()} 晚于今天，请核对",
                       f"{col.key} {d.isoformat()} is in the future; check the date")
        if d < EARLIEST:
            raise _Bad(f"{col.header} {d.isoformat()} 早于 1900 年，请核对",
                       f"{col.key} {d.isoformat()} is before 1900; check the date")
        return d.isoformat()
    if col.kind == "sex":
        sex = SEX_VALUES.get(text.lower())
        if sex is None:
            raise _Bad(f"{col.header}“{text}”无法识别，应填 男 或 女", f"{col.key} '{text}' must be 男/女 (M/F)")
        return sex
    if col.kind == "id":
        number = idnumber.normalize(text)
        if not re.fullmatch(r"\d{17}[\dX]|\d{15}", number):
            raise _Bad(
                f"{col.header}“{text}”应为 18 位（旧号 15 位）数字，最后一位可为 X；不知道请留空",
                f"{col.key} '{text}' must have 18 characters (15 for an old number), digits with X "
                "only last; leave it blank if unknown",
            )
        return number  # a wrong check character is kept: the linkage engine allows a typo
    if col.kind == "unit":
        if not _UNIT.match(text):
            raise _Bad(f"{col.header}“{text}”应为 12 位村级区划代码（村民小组 15 位）",
                       f"{col.key} '{text}' must be a 12-digit village code (15 for a group)")
        return text[:12]
    if col.kind == "notifier":
        value = NOTIFIER_VALUES.get(text.lower())
        if value is None:
            raise _Bad(f"{col.header}“{text}”无法识别，应填 医院、民政 或 殡葬",
                       f"{col.key} '{text}' must be 医院 (hospital), 民政 (civil affairs) or 殡葬 (crematorium)")
        return value
    return normalize_name(text) if col.key.endswith("name") else text


def natural_key(kind: str, data: dict[str, str]) -> str:
    """A record's key when the file gives no number: digest of what identifies it."""
    parts = [kind, *(data.get(k, "") for k in KEY_FIELDS[kind])]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16].upper()
    return f"{KEY_PREFIX[kind]}-{digest}"


def _row_checks(kind: str, data: dict[str, str], label: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """Checks across the columns of one row: (column, zh, en)."""
    out = []
    if kind == "death_notices" and data.get("birth_date") and data["birth_date"] > data["death_date"]:
        out.append((label("death_date"), "死亡日期早于出生日期，请核对两个日期",
                    "the death date is before the birth date; check both dates"))
    if kind == "hospital_births" and data.get("mother_birth_date"):
        age = int(data["birth_date"][:4]) - int(data["mother_birth_date"][:4])
        if not 10 <= age <= 65:
            out.append((label("mother_birth_date"), f"母亲生育时约 {age} 岁，不合常理；请核对母亲出生日期",
                        f"the mother would be about {age} at the birth; check her birth date"))
    if kind == "marriages":
        h, w = data.get("husband_id_number"), data.get("wife_id_number")
        if h and h == w:
            out.append((label("wife_id_number"), "男方和女方身份证号相同，请核对",
                        "the husband's and the wife's ID numbers are the same; check them"))
    return out


def parse_source(data: bytes, file_name: str, kind: str, *, today: date | None = None,
                 limits: ImportLimits | None = None) -> ParsedSource:
    """Read and check a file of ``kind``; raises ImportFileError when it cannot be used."""
    check_kind(kind)
    today = today or date.today()
    rows, file_format = open_rows(data, file_name, limits)
    header_row, header = _find_header(rows, kind)
    positions, labels, ignored = _map_headers(header, kind)
    result = ParsedSource(kind, file_name, sha256_of(data), file_format, labels, ignored)
    cols = {c.key: c for c in KIND_COLUMNS[kind]}

    def label(key: str) -> str:
        return labels.get(key) or cols[key].header

    seen: dict[str, int] = {}
    for number, cells in enumerate(rows, start=header_row + 1):
        if not any(cell_text(c) for c in cells):
            continue
        result.total_rows += 1
        values: dict[str, str] = {}
        row_errors: list[RowError] = []
        for key, col in cols.items():
            pos = next((i for i, k in positions.items() if k == key), None)
            raw = cells[pos] if pos is not None and pos < len(cells) else None
            if pos is None and not col.column_required:
                values[key] = ""
                continue
            try:
                values[key] = _clean(col, raw, today)
            except (_Bad, RegistryError) as exc:
                zh = exc.zh if isinstance(exc, _Bad) else exc.message_zh
                en = exc.en if isinstance(exc, _Bad) else exc.message_en
                row_errors.append(RowError(number, label(key), cell_text(raw)[:50], zh, en))
        if not row_errors:
            for column, zh, en in _row_checks(kind, values, label):
                row_errors.append(RowError(number, column, "", zh, en))
        if row_errors:
            result.errors.extend(row_errors)
            continue
        rid = values.pop("record_id", "")
        key = rid or natural_key(kind, values)
        if key in seen:
            result.errors.append(RowError(
                number, label("record_id") if rid else "", rid,
                f"与第 {seen[key]} 行是同一条记录，请删去重复的一行",
                f"the same record as row {seen[key]}; delete the repeated row",
            ))
            continue
        seen[key] = number
        result.rows.append(SourceRow(
            row=number, record_id=key, from_file=bool(rid), data=values,
            event_date=date.fromisoformat(values[EVENT_DATE[kind]]), address_unit=values.get("address_unit", ""),
        ))
    if result.total_rows == 0:
        raise ImportFileError("文件中没有数据行；请在表头下方逐行填写记录",
                              "the file has no data rows; fill in one record per row below the header")
    return result
