"""The offline Excel workbook of a village field list (入户核对表), both directions.

Sheets:

``核对名单``
    one row per registered person: printed data (household, name, sex, birth date, ID,
    relation, residence type), the outcome drop-down (核实无误 已迁出 已死亡 重复登记 查无此人
    信息有误), the wrong field, its correct value, a date (of death or move) and a note.
    Hidden columns at the right carry stable keys: campaign id, village code, person id
    and a row checksum over the keys and the printed data.  The sheet is protected: only
    the outcome columns can be edited, the header row cannot.
``新发现人员``
    people found at the door who are not on the list.
``_meta`` (very hidden)
    campaign, village, generation time and a file checksum over every row key, so an
    upload of another village's, an edited or an older campaign's file can be refused.

:func:`read_workbook` never raises on bad input: every problem (not an xlsx file, edited
headers, unknown outcome, impossible date ...) is a :class:`WorkbookProblem` naming the
sheet, row and column, in Chinese and English.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from popreg.campaigns._fieldlist_rows import (
    OUTCOMES,
    RESIDENCE_TYPES_ZH,
    SEX_ZH,
    FieldListError,
    as_date,
    sort_persons,
)
from popreg.campaigns.models import FoundPerson, Outcome
from popreg.core.privacy import mask_id
from popreg.registry.exports import neutralise_workbook, unneutralise
from popreg.registry.importing import ImportFileError, check_workbook
from popreg.registry.localtime import local
from popreg.registry.models import Sex
from popreg.registry.vocabulary import ChineseLabels, label_lookup

FORMAT_NAME = "popreg-field-workbook"
FORMAT_VERSION = "1"
PERSONS_SHEET = "核对名单"
FOUND_SHEET = "新发现人员"
META_SHEET = "_meta"

#: Correctable fields offered in the "有误项目" drop-down: label -> registry field code.
CORRECTABLE_FIELDS: dict[str, str] = {
    "姓名": "name",
    "曾用名": "former_names",
    "性别": "sex",
    "出生日期": "birth_date",
    "民族": "ethnicity",
    "公民身份号码": "id_number",
    "户口性质": "hukou_kind",
    "居住类型": "residence_type",
}
#: Kinds of a newly found person as printed (the drop-down): the model's vocabulary in Chinese.
FOUND_KINDS: Mapping[str, str] = ChineseLabels(FoundPerson.Kind)
#: Spellings of outcomes printed on earlier field lists, still read back.
OLDER_OUTCOME_SPELLINGS: dict[str, str] = {"已迁走": "moved_away", "重复": "duplicate"}

# (header, key, width); the order is the sheet's column order
PERSON_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("序号", "n", 6),
    ("户号", "household_no", 12),
    ("姓名", "name", 12),
    ("性别", "sex", 6),
    ("出生日期", "birth_date", 12),
    ("公民身份号码", "id_number", 21),
    ("与户主关系", "relation", 10),
    ("居住类型", "residence_type", 10),
    ("核对结果", "outcome", 12),
    ("有误项目", "field_name", 12),
    ("正确值（迁往地代码、重复记录编号）", "corrected_value", 22),
    ("日期（死亡、迁出日期）", "event_date", 14),
    ("备注", "note", 20),
    ("campaign_id", "campaign_id", 8),
    ("village_code", "village_code", 8),
    ("person_id", "person_id", 8),
    ("row_checksum", "row_checksum", 8),
)
EDITABLE = ("outcome", "field_name", "corrected_value", "event_date", "note")
HIDDEN = ("campaign_id", "village_code", "person_id", "row_checksum")
FOUND_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("姓名", "name", 12),
    ("性别", "sex", 6),
    ("出生日期", "birth_date", 12),
    ("公民身份号码", "id_number", 21),
    ("户号", "household_no", 12),
    ("住址（门牌）", "address", 24),
    ("类别", "kind", 12),
    ("备注", "note", 24),
)
FOUND_ROWS = 1000  # rows of the second sheet with drop-downs (all rows are editable)


# ---------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class WorkbookProblem:
    """One thing wrong with an uploaded workbook; ``row`` 0 means the whole file or sheet."""

    sheet: str
    row: int
    column: str
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        where_zh = f"{self.sheet}第{self.row}行" if self.row else (self.sheet or "文件")
        where_en = f"{self.sheet or 'file'} row {self.row}" if self.row else (self.sheet or "file")
        col = f"{self.column}列" if self.column else ""
        col_en = f" column {self.column}" if self.column else ""
        return f"{where_zh}{col}：{self.message_zh} / {where_en}{col_en}: {self.message_en}"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class OutcomeRow:
    """A filled row of the list.  ``outcome`` and ``field_name`` are codes."""

    row: int
    person_id: int
    outcome: str
    field_name: str = ""
    corrected_value: str = ""
    event_date: date | None = None
    note: str = ""


@dataclass(frozen=True)
class NewPersonRow:
    """A person found at the door.  ``sex`` is ``M``/``F``; ``kind`` ``birth``/``move_in``."""

    row: int
    name: str
    sex: str
    birth_date: date
    id_number: str = ""
    household_no: str = ""
    address: str = ""
    kind: str = "birth"
    note: str = ""


@dataclass
class ParsedWorkbook:
    """What an uploaded workbook says.  ``ok`` when there are no problems.

    ``rows`` holds only rows with an outcome (rows not visited yet are skipped);
    ``file_checksum`` is the one written at generation, ``checksum_ok`` whether the rows
    still match it.
    """

    campaign_id: str = ""
    campaign_name: str = ""
    village_code: str = ""
    village_name: str = ""
    generated_at: str = ""
    file_checksum: str = ""
    checksum_ok: bool = False
    listed: int = 0
    rows: list[OutcomeRow] = field(default_factory=list)
    new_persons: list[NewPersonRow] = field(default_factory=list)
    problems: list[WorkbookProblem] = field(default_factory=list)
    persons_sheet: str = PERSONS_SHEET
    found_sheet: str = FOUND_SHEET

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------
# writing


def _printed(p: Mapping[str, Any], show_full_id: bool) -> dict[str, str]:
    birth = as_date(p.get("birth_date"))
    return {
        "household_no": str(p.get("household_no") or ""),
        "name": str(p.get("name") or ""),
        "sex": SEX_ZH.get(str(p.get("sex") or ""), str(p.get("sex") or "")),
        "birth_date": f"{birth:%Y-%m-%d}" if birth else "",
        "id_number": str(p.get("id_number") or "") if show_full_id else mask_id(p.get("id_number")),
        "relation": str(p.get("relation") or ""),
        "residence_type": RESIDENCE_TYPES_ZH.get(str(p.get("residence_type") or ""),
                                                 str(p.get("residence_type") or "")),
    }


def row_checksum(campaign_id: str, village_code: str, person_id: str, printed: Mapping[str, str]) -> str:
    """16 hex characters over the keys and the printed data of one row."""
    text = "|".join([campaign_id, village_code, person_id, *(printed.get(k, "") for k in (
        "household_no", "name", "sex", "birth_date", "id_number", "relation", "residence_type"))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_checksum(campaign_id: str, village_code: str, generated_at: str,
                  rows: Sequence[tuple[str, str]]) -> str:
    """SHA-256 over campaign, village, generation time and every (person_id, row checksum)."""
    h = hashlib.sha256(f"{FORMAT_NAME}|{campaign_id}|{village_code}|{generated_at}".encode())
    for pid, checksum in sorted(rows):
        h.update(f"|{pid}:{checksum}".encode())
    return h.hexdigest()


def build_workbook(
    village: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]],
    campaign: Mapping[str, Any],
    *,
    generated_at: datetime | None = None,
) -> bytes:
    """The workbook as bytes, its text cells neutralised; downloads go through
    :mod:`popreg.registry.exports` with :func:`fill_workbook`."""
    from openpyxl import Workbook

    wb = Workbook()
    fill_workbook(wb, village, persons, campaign, generated_at=generated_at)
    neutralise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def fill_workbook(
    wb: Any,
    village: Mapping[str, Any],
    persons: Sequence[Mapping[str, Any]],
    campaign: Mapping[str, Any],
    *,
    generated_at: datetime | None = None,
) -> None:
    """Fill ``wb`` (a new openpyxl workbook) with the protected field workbook.  The row
    checksums cover the values as printed; the export layer then neutralises formula-like
    text (``=...`` → ``'=...``) and :func:`read_workbook` takes the quote off again."""
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    for key in ("code", "name"):
        if not village.get(key):
            raise FieldListError(f"村(居)信息缺少{key} / village lacks {key}")
    for key in ("id", "name"):
        if campaign.get(key) in (None, ""):
            raise FieldListError(f"清查活动缺少{key} / campaign lacks {key}")
    cid, vcode = str(campaign["id"]), str(village["code"])
    stamp = local(generated_at or timezone.now()).replace(microsecond=0, tzinfo=None).isoformat()
    show_full = bool(campaign.get("show_full_id", False))

    ws = wb.active
    ws.title = PERSONS_SHEET
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDDDDD")
    editable_fill = PatternFill("solid", fgColor="FFF8DC")
    unlocked = Protection(locked=False)
    col = {key: i + 1 for i, (_, key, _) in enumerate(PERSON_COLUMNS)}
    for i, (header, key, width) in enumerate(PERSON_COLUMNS, start=1):
        cell = ws.cell(row=1, column=i, value=header)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = width
        if key in HIDDEN:
            ws.column_dimensions[letter].hidden = True
    ws.freeze_panes = "D2"

    keys: list[tuple[str, str]] = []
    ordered = sort_persons(persons)
    for n, p in enumerate(ordered, start=1):
        r = n + 1
        pid = str(p.get("person_id") or "")
        if not pid:
            raise FieldListError(f"第{n}人缺少person_id / person {n} lacks person_id")
        printed = _printed(p, show_full)
        checksum = row_checksum(cid, vcode, pid, printed)
        keys.append((pid, checksum))
        values = {"n": n, **printed, "campaign_id": cid, "village_code": vcode,
                  "person_id": pid, "row_checksum": checksum}
        for key, value in values.items():
            cell = ws.cell(row=r, column=col[key], value=value)
            cell.number_format = "@"
        for key in EDITABLE:
            cell = ws.cell(row=r, column=col[key])
            cell.protection, cell.fill = unlocked, editable_fill
            cell.number_format = "yyyy-mm-dd" if key == "event_date" else "@"
    last = len(ordered) + 1
    if ordered:
        _list_validation(ws, DataValidation, list(OUTCOMES.values()), col["outcome"], 2, last,
                         "核对结果", "请从下拉列表中选择核对结果")
        _list_validation(ws, DataValidation, list(CORRECTABLE_FIELDS), col["field_name"], 2, last,
                         "有误项目", "请从下拉列表中选择有误的项目")
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # allowed: widen columns
    ws.protection.formatRows = False
    ws.protection.autoFilter = False

    fs = wb.create_sheet(FOUND_SHEET)
    fcol = {key: i + 1 for i, (_, key, _) in enumerate(FOUND_COLUMNS)}
    for i, (header, key, width) in enumerate(FOUND_COLUMNS, start=1):
        cell = fs.cell(row=1, column=i, value=header)
        cell.font, cell.fill = bold, fill
        # whole columns editable and formatted; the header cells keep their own (locked) style
        dim = fs.column_dimensions[get_column_letter(i)]
        dim.width = width
        dim.protection = unlocked
        dim.number_format = "yyyy-mm-dd" if key == "birth_date" else "@"
    _list_validation(fs, DataValidation, list(SEX_ZH.values()), fcol["sex"], 2, FOUND_ROWS + 1,
                     "性别", "请选择 男 或 女")
    _list_validation(fs, DataValidation, list(FOUND_KINDS.values()), fcol["kind"], 2, FOUND_ROWS + 1,
                     "类别", "请选择 出生未登记 或 迁入未登记")
    fs.protection.sheet = True
    fs.protection.formatColumns = False
    fs.freeze_panes = "A2"

    meta = wb.create_sheet(META_SHEET)
    for row in (
        ("format", FORMAT_NAME), ("version", FORMAT_VERSION), ("campaign_id", cid),
        ("campaign_name", str(campaign.get("name") or "")), ("village_code", vcode),
        ("village_name", str(village.get("name") or "")), ("generated_at", stamp),
        ("persons", str(len(keys))), ("file_checksum", file_checksum(cid, vcode, stamp, keys)),
    ):
        meta.append(row)
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True
    wb.properties.title = f"{campaign.get('name')} {village.get('name')} 入户核对表"
    wb.properties.creator = "popreg"


def _list_validation(ws: Any, dv_class: Any, options: list[str], column: int, first: int,
                     last: int, title: str, prompt: str) -> None:
    from openpyxl.utils import get_column_letter

    dv = dv_class(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True,
                  showErrorMessage=True, showInputMessage=True,
                  errorTitle=title, error=f"{prompt}：{'、'.join(options)}",
                  promptTitle=title, prompt=prompt)
    letter = get_column_letter(column)
    dv.add(f"{letter}{first}:{letter}{last}")
    ws.add_data_validation(dv)


# ---------------------------------------------------------------------------------------
# reading

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_DATE_DIGITS = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")


def parse_date_cell(value: Any) -> tuple[date | None, str | None]:
    """(date, None) or (None, reason) for a cell typed as a date or as text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    text = str(value)
    m = _DATE_TEXT.match(text) or _DATE_DIGITS.match(text)
    if not m:
        return None, "format"
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None
    except ValueError:
        return None, "impossible"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class _Collector:
    def __init__(self, parsed: ParsedWorkbook) -> None:
        self.parsed = parsed

    def add(self, sheet: str, row: int, column: str, zh: str, en: str) -> None:
        self.parsed.problems.append(WorkbookProblem(sheet, row, column, zh, en))


def read_workbook(data: bytes, *, today: date | None = None) -> ParsedWorkbook:
    """Parse and validate a filled workbook; never raises on bad content."""
    parsed = ParsedWorkbook()
    out = _Collector(parsed)
    today = today or date.today()
    if not isinstance(data, bytes | bytearray) or not zipfile.is_zipfile(io.BytesIO(data)):
        out.add("", 0, "", "文件不是 Excel 工作簿(.xlsx)，请上传从本系统下载并填写的核对表",
                "the file is not an Excel workbook (.xlsx); upload the field workbook downloaded "
                "from popreg")
        return parsed
    try:
        from openpyxl import load_workbook

        check_workbook(bytes(data))  # too big unpacked, or a gigantic cell: refused unread
        wb = load_workbook(io.BytesIO(data), data_only=True)
    except ImportFileError as exc:
        out.add("", 0, "", exc.message_zh, exc.message_en)
        return parsed
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        out.add("", 0, "", f"无法读取该 Excel 文件（{type(exc).__name__}），文件可能已损坏",
                f"the Excel file cannot be read ({type(exc).__name__}: {exc}); it may be damaged")
        return parsed
    missing = [s for s in (PERSONS_SHEET, FOUND_SHEET, META_SHEET) if s not in wb.sheetnames]
    if missing:
        out.add("", 0, "", f"缺少工作表：{'、'.join(missing)}；请使用本系统生成的核对表，不要改名或删除工作表",
                f"missing sheets: {', '.join(missing)}; use the workbook generated by popreg "
                "without renaming or deleting sheets")
        return parsed
    meta = {_text(r[0]): _text(r[1]) for r in wb[META_SHEET].iter_rows(min_row=1, max_col=2, values_only=True)
            if r and r[0] is not None}
    if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        out.add(META_SHEET, 0, "", "文件标识缺失或版本不符，不是本系统生成的核对表",
                "the workbook identification is missing or of another version; it was not "
                "generated by this popreg")
        return parsed
    parsed.campaign_id = meta.get("campaign_id", "")
    parsed.campaign_name = meta.get("campaign_name", "")
    parsed.village_code = meta.get("village_code", "")
    parsed.village_name = meta.get("village_name", "")
    parsed.generated_at = meta.get("generated_at", "")
    parsed.file_checksum = meta.get("file_checksum", "")
    headers_ok = _check_headers(wb[PERSONS_SHEET], PERSONS_SHEET, PERSON_COLUMNS, out)
    headers_ok = _check_headers(wb[FOUND_SHEET], FOUND_SHEET, FOUND_COLUMNS, out) and headers_ok
    if not headers_ok:
        return parsed
    keys = _read_persons(wb[PERSONS_SHEET], parsed, out, today)
    computed = file_checksum(parsed.campaign_id, parsed.village_code, parsed.generated_at, keys)
    parsed.checksum_ok = computed == parsed.file_checksum
    parsed.listed = len(keys)
    if not parsed.checksum_ok:
        out.add(PERSONS_SHEET, 0, "",
                f"名单行与生成时不一致（生成时 {meta.get('persons', '?')} 人，现有 {len(keys)} 人），"
                "可能删除、增加或改动了名单行；请重新下载核对表",
                f"the list rows differ from the generated file ({meta.get('persons', '?')} "
                f"persons then, {len(keys)} now): rows were deleted, added or altered; "
                "download the workbook again")
    _read_found(wb[FOUND_SHEET], parsed, out, today)
    return parsed


def _check_headers(ws: Any, sheet: str, columns: Sequence[tuple[str, str, int]], out: _Collector) -> bool:
    from openpyxl.utils import get_column_letter

    found = [_text(c) for c in next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())]
    ok = True
    for i, (header, _key, _w) in enumerate(columns):
        got = found[i] if i < len(found) else ""
        if got != header:
            ok = False
            letter = get_column_letter(i + 1)
            out.add(sheet, 1, letter, f"表头应为“{header}”，实为“{got}”；请不要修改或移动表头",
                    f"the header should be {header!r}, found {got!r}; do not edit or move headers")
    return ok


def _read_persons(ws: Any, parsed: ParsedWorkbook, out: _Collector, today: date) -> list[tuple[str, str]]:
    from openpyxl.utils import get_column_letter

    idx = {key: i for i, (_, key, _) in enumerate(PERSON_COLUMNS)}
    letter = {key: get_column_letter(i + 1) for key, i in idx.items()}
    labels = label_lookup(Outcome, aliases=OLDER_OUTCOME_SPELLINGS)
    fields = CORRECTABLE_FIELDS | {v: v for v in CORRECTABLE_FIELDS.values()}
    keys: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    sheet = PERSONS_SHEET
    for r, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        cells = {key: (row[i] if i < len(row) else None) for key, i in idx.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue
        pid, cid, vcode = (_text(cells["person_id"]), _text(cells["campaign_id"]),
                           _text(cells["village_code"]))
        printed = {k: unneutralise(_text(cells[k])) for k in (
            "household_no", "name", "sex", "birth_date", "id_number", "relation", "residence_type")}
        checksum = _text(cells["row_checksum"])
        keys.append((pid, checksum))
        if cid != parsed.campaign_id or vcode != parsed.village_code:
            out.add(sheet, r, letter["campaign_id"],
                    f"本行属于另一活动或村（活动 {cid}，村 {vcode}），不能混入本表",
                    f"this row belongs to another campaign or village ({cid}, {vcode})")
            continue
        if not pid.isdigit():
            out.add(sheet, r, letter["person_id"], "人员编号缺失或被修改", "the person id is missing or altered")
            continue
        if checksum != row_checksum(cid, vcode, pid, printed):
            out.add(sheet, r, letter["row_checksum"],
                    "本行预填的户号、姓名等内容被修改；预填内容不能改，发现错误请选“信息有误”并填写正确值",
                    "the pre-filled data of this row was changed; leave it as printed and report "
                    "errors with the outcome 信息有误 and the correct value")
            continue
        if pid in seen:
            out.add(sheet, r, letter["person_id"], f"与第{seen[pid]}行是同一人员，请删除重复的行",
                    f"the same person as row {seen[pid]}; remove the repeated row")
            continue
        seen[pid] = r
        _read_outcome(r, int(pid), cells, labels, fields, letter, parsed, out, today)
    return keys


def _read_outcome(r: int, pid: int, cells: Mapping[str, Any], labels: Mapping[str, str],
                  fields: Mapping[str, str], letter: Mapping[str, str], parsed: ParsedWorkbook,
                  out: _Collector, today: date) -> None:
    sheet = PERSONS_SHEET
    raw_outcome = _text(cells["outcome"])
    field_raw, value = _text(cells["field_name"]), _text(cells["corrected_value"])
    note = _text(cells["note"])
    when, why = parse_date_cell(cells["event_date"])
    if not raw_outcome:
        if field_raw or value or cells["event_date"] not in (None, ""):
            out.add(sheet, r, letter["outcome"], "填写了更正内容或日期，但没有选择核对结果",
                    "a correction or date is filled in but no outcome is chosen")
        return
    outcome = labels.get(raw_outcome)
    if outcome is None:
        out.add(sheet, r, letter["outcome"],
                f"核对结果“{raw_outcome}”无法识别，可选：{'、'.join(OUTCOMES.values())}",
                f"unknown outcome {raw_outcome!r}; choose one of {', '.join(OUTCOMES.values())}")
        return
    bad = False
    if why is not None:
        bad = True
        text = _text(cells["event_date"])
        if why == "impossible":
            out.add(sheet, r, letter["event_date"], f"日期“{text}”不存在（如2月30日），请更正",
                    f"the date {text!r} does not exist (e.g. 30 February)")
        else:
            out.add(sheet, r, letter["event_date"], f"日期“{text}”格式无法识别，请写作 2025-11-01",
                    f"the date {text!r} is not readable; write it as 2025-11-01")
    elif when is not None and (when > today or when.year < 1900):
        bad = True
        out.add(sheet, r, letter["event_date"], f"日期 {when:%Y-%m-%d} 不可能（晚于今天或早于1900年）",
                f"the date {when:%Y-%m-%d} is impossible (after today or before 1900)")
    if outcome in ("died", "moved_away") and when is None and why is None:
        bad = True
        out.add(sheet, r, letter["event_date"], f"选择“{OUTCOMES[outcome]}”时必须填写日期",
                f"the outcome {outcome} needs the date of the death or move")
    field_code = ""
    if outcome == "field_wrong":
        field_code = fields.get(field_raw, "")
        if not field_code:
            bad = True
            out.add(sheet, r, letter["field_name"],
                    f"请选择有误的项目（{'、'.join(CORRECTABLE_FIELDS)}），实为“{field_raw}”",
                    f"choose the wrong field ({', '.join(CORRECTABLE_FIELDS.values())}), found {field_raw!r}")
        elif not value:
            bad = True
            out.add(sheet, r, letter["corrected_value"], "选择“信息有误”时必须填写正确值",
                    "the outcome field_wrong needs the correct value")
        else:
            problem = _check_value(field_code, value, today)
            if problem:
                bad = True
                out.add(sheet, r, letter["corrected_value"], *problem)
    elif outcome == "duplicate" and value and not value.isdigit():
        bad = True
        out.add(sheet, r, letter["corrected_value"], "重复登记的另一记录编号应为数字",
                "the other record of a duplicate is a number")
    if not bad:
        parsed.rows.append(OutcomeRow(r, pid, outcome, field_code, value, when, note))


def _check_value(field_code: str, value: str, today: date) -> tuple[str, str] | None:
    if field_code == "birth_date":
        d, why = parse_date_cell(value)
        if d is None:
            return (f"出生日期“{value}”{'不存在' if why == 'impossible' else '格式无法识别'}，请写作 1980-05-01",
                    f"the birth date {value!r} is {'impossible' if why == 'impossible' else 'not readable'}; "
                    "write it as 1980-05-01")
        if d > today or d.year < 1900:
            return f"出生日期 {d:%Y-%m-%d} 不可能", f"the birth date {d:%Y-%m-%d} is impossible"
    elif field_code == "sex" and value not in ("男", "女", "M", "F"):
        return "性别应为 男 或 女", "sex must be 男 or 女"
    elif field_code == "id_number":
        from popreg.core.idnumber import validate

        check = validate(value, today=today)
        if not check.ok:
            return check.problems[0].message_zh, check.problems[0].message_en
    return None


def _read_found(ws: Any, parsed: ParsedWorkbook, out: _Collector, today: date) -> None:
    from openpyxl.utils import get_column_letter

    from popreg.core.idnumber import validate

    idx = {key: i for i, (_, key, _) in enumerate(FOUND_COLUMNS)}
    letter = {key: get_column_letter(i + 1) for key, i in idx.items()}
    sexes = label_lookup(Sex)
    kinds = label_lookup(FoundPerson.Kind)
    sheet = FOUND_SHEET
    for r, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        cells = {key: (row[i] if i < len(row) else None) for key, i in idx.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue
        n_before = len(parsed.problems)
        name = _text(cells["name"])
        if not name:
            out.add(sheet, r, letter["name"], "请填写姓名", "the name is required")
        sex = sexes.get(_text(cells["sex"]))
        if sex is None:
            out.add(sheet, r, letter["sex"], f"性别应为 男 或 女，实为“{_text(cells['sex'])}”",
                    f"sex must be 男 or 女, found {_text(cells['sex'])!r}")
        birth, why = parse_date_cell(cells["birth_date"])
        text = _text(cells["birth_date"])
        if birth is None:
            zh = {"impossible": f"出生日期“{text}”不存在", "format": f"出生日期“{text}”格式无法识别"}.get(
                why or "", "请填写出生日期")
            out.add(sheet, r, letter["birth_date"], f"{zh}，请写作 2025-11-01",
                    f"the birth date {text!r} is missing, unreadable or impossible; write it as 2025-11-01")
        elif birth > today or birth.year < 1900:
            out.add(sheet, r, letter["birth_date"], f"出生日期 {birth:%Y-%m-%d} 不可能（晚于今天或早于1900年）",
                    f"the birth date {birth:%Y-%m-%d} is impossible")
            birth = None
        number = _text(cells["id_number"]).upper()
        if number:
            check = validate(number, birth_date=birth, sex=sex, today=today)
            for p in check.problems:  # every problem of the number, not the first
                out.add(sheet, r, letter["id_number"], p.message_zh, p.message_en)
        kind_raw = _text(cells["kind"])
        kind = kinds.get(kind_raw) if kind_raw else "birth"
        if kind is None:
            out.add(sheet, r, letter["kind"], f"类别应为 {'或'.join(FOUND_KINDS.values())}，实为“{kind_raw}”",
                    f"kind must be one of {', '.join(FOUND_KINDS.values())}, found {kind_raw!r}")
        if len(parsed.problems) == n_before and birth is not None and sex is not None and kind:
            parsed.new_persons.append(NewPersonRow(
                r, name, sex, birth, number, _text(cells["household_no"]), _text(cells["address"]),
                kind, _text(cells["note"])))
