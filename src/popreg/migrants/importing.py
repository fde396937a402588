"""Bulk registration of in-migrants from an Excel workbook or a CSV file (批量登记流入人口).

The same machinery as the person import (:mod:`popreg.registry.importing`): the file is read
by the registry's reader (``.xlsx``, CSV in UTF-8/UTF-16/GBK, the same size, row and cell
limits, title rows above the header), dates are parsed the same way and the error report is
the same download.  Two stages:

1. every row's cells are checked on their own (required values, dates, sex, ID number,
   division codes against the national list, reason); every problem of every row is kept;
2. the rows without such problems are registered one by one with
   :func:`popreg.migrants.actions.register_in_migrant` inside one transaction, each in a
   savepoint, so what the action refuses (unit outside the jurisdiction, an ID number
   already active, a place in another village) becomes the error of that row too.

Nothing is written unless every row passes (all or nothing): with any error the whole
transaction is rolled back and the report lists every error at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.migrants import actions
from popreg.migrants.models import Place
from popreg.registry import entry_check
from popreg.registry._import_format import ImportFileError, ImportLimits, RowError
from popreg.registry._import_read import cell_text, open_rows, sha256_of
from popreg.registry.access import Actor
from popreg.registry.actions.checks import IdNumberElsewhere, check_id
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.importing import error_report, parse_date
from popreg.registry.policy import Permission

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MColumn:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool
    help_zh: str
    help_en: str


COLUMNS: tuple[MColumn, ...] = (
    MColumn("name", "姓名", ("name",), True, "必填", "required"),
    MColumn("sex", "性别", ("sex", "gender"), True, "男/女（或 M/F、1/2）", "男/女 (or M/F, 1/2)"),
    MColumn("birth_date", "出生日期", ("birth_date", "birthdate"), True, "年-月-日，如 1990-03-04",
            "year-month-day such as 1990-03-04"),
    MColumn("id_number", "公民身份号码", ("id_number", "身份证号", "身份证号码"), False,
            "18 位，须与出生日期、性别一致；无号码可留空", "18 characters matching birth date and sex; blank if none"),
    MColumn("ethnicity", "民族", ("ethnicity",), False, "留空为汉族", "blank = 汉族"),
    MColumn("origin_code", "户籍地代码", ("origin_code", "origin", "户籍地", "来源地代码"), True,
            "户口所在地（本县以外）的 6 位或 12 位区划代码", "6- or 12-digit division code of registration (outside the county)"),
    MColumn("residence_unit", "居住地代码", ("residence_unit", "居住地"), True,
            "现居住的本县村(居)委会 12 位代码，须在您的辖区内", "12-digit code of the village lived in, in your jurisdiction"),
    MColumn("arrival_date", "来本地日期", ("arrival_date", "到达日期", "来本地时间"), True,
            "年-月-日", "year-month-day"),
    MColumn("reason", "流入原因", ("reason", "migration_reason"), True,
            "务工 / 经商 / 就学 / 投亲 / 其他", "work / business / study / family / other"),
    MColumn("place", "场所编号", ("place", "place_id"), False,
            "已登记的出租房屋或用工单位编号，可留空", "number of a registered rental place or employer; may be blank"),
    MColumn("address", "详细住址", ("address", "住址"), False, "可留空", "may be blank"),
    MColumn("employer", "工作单位", ("employer",), False, "可留空", "may be blank"),
    MColumn("contact", "联系方式", ("contact", "phone", "联系电话"), False, "可留空", "may be blank"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
REQUIRED = tuple(c.key for c in COLUMNS if c.required)
#: Which column an action's error field belongs to.
FIELD_COLUMN = {
    "residence_unit": "residence_unit", "arrival_date": "arrival_date", "origin_code": "origin_code",
    "reason": "reason", "name": "name", "sex": "sex", "birth_date": "birth_date",
    "id_number": "id_number", "place": "place", "address": "address", "employer": "employer",
    "contact": "contact", "person": "id_number",
}  # fmt: skip
SEX = {"男": "M", "女": "F", "m": "M", "f": "F", "1": "M", "2": "F", "male": "M", "female": "F"}


def _key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    t = re.sub(r"[\s*＊:：]+", "", t)
    t = re.sub(r"[(（][^)）]*[)）]$", "", t)
    return t.lower()


HEADERS = {_key(h): c.key for c in COLUMNS for h in (c.header, c.key, *c.aliases)}


@dataclass
class MigrantRow:
    row: int
    values: dict[str, Any]


@dataclass
class ImportResult:
    file_name: str
    sha256: str
    file_format: str
    total_rows: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    rows: list[MigrantRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    imported: int = 0
    #: Rows that look like persons already registered (popreg.registry.entry_check.file_preview);
    #: with ``held`` the file was only checked: the uploader confirms before it is imported.
    likely: dict[str, Any] = field(default_factory=dict)
    held: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def label(self, key: str) -> str:
        return self.headers.get(key) or COLUMN_BY_KEY[key].header


def _find_header(rows: Any) -> tuple[int, list[str]]:
    seen = 0
    for number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not any(texts):
            continue
        if sum(1 for t in texts if _key(t) in HEADERS) >= 3:
            return number, texts
        seen += 1
        if seen >= 10:
            break
    needed = "、".join(COLUMN_BY_KEY[k].header for k in REQUIRED)
    raise ImportFileError(
        f"找不到表头：文件前几行没有“{needed}”等列名；请使用流入人口导入模板",
        f"no header row found: the first rows do not name the columns {needed}; start from the "
        "in-migrant import template",
    )


def _cell_error(row: int, res: ImportResult, key: str, value: Any, zh: str, en: str) -> RowError:
    return RowError(row, res.label(key), str(value or "")[:50], zh, en)


UnitCheck = Callable[[str], "tuple[str, str] | None"]


def _parse_row(number: int, raw: dict[str, Any], res: ImportResult, unit_check: UnitCheck | None = None) -> None:
    errors: list[RowError] = []
    v: dict[str, Any] = {}

    def err(key: str, zh: str, en: str) -> None:
        errors.append(_cell_error(number, res, key, raw.get(key), zh, en))

    for key in REQUIRED:
        if not cell_text(raw.get(key)):
            err(key, f"{COLUMN_BY_KEY[key].header}为必填项，请填写", f"the column {COLUMN_BY_KEY[key].header} is required")
    name = cell_text(raw.get("name"))
    if name and len(name) > 60:
        err("name", "姓名过长（最多60个字）", "name is too long (60 characters at most)")
    v["name"] = name
    sex_text = cell_text(raw.get("sex")).lower()
    v["sex"] = SEX.get(sex_text, "")
    if sex_text and not v["sex"]:
        err("sex", "性别应为 男 或 女", "sex must be 男 (M) or 女 (F)")
    for key in ("birth_date", "arrival_date"):
        v[key] = None
        if cell_text(raw.get(key)):
            try:
                v[key] = parse_date(raw.get(key), COLUMN_BY_KEY[key].header)
            except Exception as exc:  # the reader's cell error, worded in both languages
                if not hasattr(exc, "zh"):
                    raise
                err(key, str(exc.zh), str(getattr(exc, "en", "")))
    if v["birth_date"] and v["arrival_date"] and v["arrival_date"] < v["birth_date"]:
        err("arrival_date", "来本地日期不能早于出生日期", "arrival_date cannot be before the birth date")
    if v["arrival_date"] and v["arrival_date"] > timezone.localdate():
        err("arrival_date", "来本地日期不能晚于今天", "arrival_date cannot be in the future")
    number_text = cell_text(raw.get("id_number"))
    v["id_number"] = None
    if number_text:
        try:
            v["id_number"] = check_id(number_text, v["birth_date"], v["sex"] or None)
        except RegistryError as exc:
            err("id_number", exc.message_zh, exc.message_en)
    origin = cell_text(raw.get("origin_code"))
    if origin:
        try:
            v["origin_code"] = actions.check_origin(origin)
        except RegistryError as exc:
            err("origin_code", exc.message_zh, exc.message_en)
    unit = cell_text(raw.get("residence_unit"))
    if unit and not (unit.isdigit() and len(unit) in (12, 15)):
        err("residence_unit", "居住地代码应为12位（村民小组15位）数字", "residence_unit must be a 12-digit code (15 for a group)")
    elif unit and unit_check is not None:
        problem = unit_check(unit)
        if problem is not None:
            err("residence_unit", *problem)
    v["residence_unit_code"] = unit
    reason = cell_text(raw.get("reason"))
    if reason:
        try:
            v["reason"] = actions.parse_choice(reason, list(actions.REASON_ZH), "reason", "流入原因", actions.REASON_ZH)
        except RegistryError as exc:
            err("reason", exc.message_zh, exc.message_en)
    place = cell_text(raw.get("place"))
    v["place_id"] = None
    if place:
        if not place.isdigit():
            err("place", "场所编号应为数字（见场所列表）", "place must be the number shown in the list of places")
        else:
            v["place_id"] = int(place)
    for key, limit in (("address", 200), ("employer", 120), ("contact", 60), ("ethnicity", 20)):
        text = cell_text(raw.get(key))
        if len(text) > limit:
            err(key, f"{COLUMN_BY_KEY[key].header}过长（最多{limit}个字）", f"the column {COLUMN_BY_KEY[key].header} is too long ({limit} characters at most)")
        v[key] = text
    res.errors.extend(errors)
    if not errors:
        res.rows.append(MigrantRow(number, v))


def parse(data: bytes, file_name: str = "", progress: Progress | None = None,
          unit_check: UnitCheck | None = None) -> ImportResult:
    """Stage 1: read the file, check each row's cells (no database reads but the code lists)."""
    limits = ImportLimits.from_settings()
    rows, fmt = open_rows(data, file_name, limits)
    res = ImportResult(file_name=file_name, sha256=sha256_of(data), file_format=fmt)
    header_row, header = _find_header(rows)
    index: dict[int, str] = {}
    for i, text in enumerate(header):
        key = HEADERS.get(_key(text))
        if key is None:
            continue
        if key in res.headers:
            raise ImportFileError(f"列“{text}”与“{res.headers[key]}”重复，请删去一列",
                                  f"columns {text!r} and {res.headers[key]!r} are the same; remove one")
        res.headers[key] = text
        index[i] = key
    missing = [COLUMN_BY_KEY[k].header for k in REQUIRED if k not in res.headers]
    if missing:
        raise ImportFileError(f"缺少必需的列：{'、'.join(missing)}；请使用流入人口导入模板",
                              f"required columns missing: {', '.join(missing)}; start from the template")
    seen_ids: dict[str, int] = {}
    for number, cells in enumerate(rows, start=header_row + 1):
        if not any(cell_text(c) for c in cells):
            continue
        res.total_rows += 1
        if res.total_rows > limits.max_rows:
            raise ImportFileError(f"文件超过 {limits.max_rows:,} 行，请按乡镇或村拆分",
                                  f"the file has more than {limits.max_rows:,} rows; split it by township or village")
        raw = {key: cells[i] if i < len(cells) else None for i, key in index.items()}
        before = len(res.rows)
        _parse_row(number, raw, res, unit_check)
        if len(res.rows) > before and res.rows[-1].values["id_number"]:
            n = res.rows[-1].values["id_number"]
            if n in seen_ids:
                res.errors.append(_cell_error(number, res, "id_number", n,
                                              f"公民身份号码与第 {seen_ids[n]} 行重复",
                                              f"the ID number repeats row {seen_ids[n]}"))
                res.rows.pop()
            else:
                seen_ids[n] = number
        if progress and res.total_rows % 500 == 0:
            progress("parse", res.total_rows, 0)
    if res.total_rows == 0:
        raise ImportFileError("文件中没有数据行；请在表头下方逐行填写", "the file has no data rows; fill in one person per row")
    return res


def _unit_checker(actor: Actor) -> UnitCheck:
    """The residence unit of a row: a village or group of the county in the actor's
    jurisdiction (checked in stage 1, so a row with other problems is told this too)."""
    from popreg.registry.models import AdminUnit

    levels = dict(AdminUnit.objects.filter(level__in=("village", "group")).values_list("code", "name"))

    def check(code: str) -> tuple[str, str] | None:
        if code not in levels:
            return (f"居住地代码 {code} 不是本县的村（居）委会或村民小组，请核对",
                    f"residence_unit {code} is not a village or group of this county; check the code")
        if not actor.covers(code):
            return (f"{levels[code]}（{code}）不在您的辖区内，请核对代码",
                    f"unit {code} is outside your jurisdiction; check the code")
        return None

    return check


class _RollBack(Exception):
    pass


def import_in_migrants(actor: Actor, data: bytes, file_name: str = "", *, commit: bool = True,
                       progress: Progress | None = None, hold_likely_duplicates: bool = False) -> ImportResult:
    """Check (stage 1 and 2) and, with ``commit`` and no error, register every row.

    With ``hold_likely_duplicates``, a file with rows that look like persons already
    registered is only checked (``held``): the uploader sees them and confirms first.

    Returns the result with every error; ``imported`` is the number of rows written (0
    unless every row passed)."""
    actor.require(Permission.MANAGE_MIGRANTS)
    res = parse(data, file_name, progress, _unit_checker(actor))
    res.likely = entry_check.file_preview(actor, [
        (r.row, entry_check.NewRecord(name=r.values["name"], sex=r.values["sex"] or "", birth_date=r.values["birth_date"],
                                      id_number=r.values["id_number"] or "",
                                      village_code=r.values["residence_unit_code"] or ""))
        for r in res.rows])
    if hold_likely_duplicates and res.likely["count"]:
        commit, res.held = False, True
    refusals: list[IdNumberElsewhere] = []
    places = {p.pk: p for p in Place.objects.filter(pk__in={r.values["place_id"] for r in res.rows
                                                           if r.values["place_id"]})}
    done = 0
    try:
        with transaction.atomic():
            for r in res.rows:
                v = r.values
                place = None
                if v["place_id"]:
                    place = places.get(v["place_id"])
                    if place is None:
                        res.errors.append(_cell_error(r.row, res, "place", v["place_id"],
                                                      f"场所编号 {v['place_id']} 不存在",
                                                      f"place {v['place_id']} does not exist"))
                        continue
                try:
                    with transaction.atomic():
                        actions.register_in_migrant(
                            actor, residence_unit_code=v["residence_unit_code"], arrival_date=v["arrival_date"],
                            origin_code=v["origin_code"], reason=v["reason"], name=v["name"], sex=v["sex"],
                            birth_date=v["birth_date"], id_number=v["id_number"], place=place,
                            address=v["address"], employer=v["employer"], contact=v["contact"],
                            ethnicity=v["ethnicity"] or "汉族",
                        )  # fmt: skip
                except IdNumberElsewhere as exc:
                    refusals.append(exc)
                    res.errors.append(_cell_error(r.row, res, "id_number", v["id_number"], exc.message_zh,
                                                  exc.message_en))
                except RegistryError as exc:
                    key = FIELD_COLUMN.get(exc.field or "", "name")
                    shown = v.get(key if key != "residence_unit" else "residence_unit_code")
                    res.errors.append(_cell_error(r.row, res, key, shown, exc.message_zh, exc.message_en))
                done += 1
                if progress and done % 200 == 0:
                    progress("writing", done, len(res.rows))
            if res.errors or not commit:
                raise _RollBack
            audit(actor, AuditAction.MIGRANT_IMPORT, None, unit_code=actor.unit_code or "",
                  after={"rows": len(res.rows)}, detail={"file": file_name, "sha256": res.sha256,
                                                         "likely_duplicates_confirmed": res.likely.get("count", 0)})
            res.imported = len(res.rows)
    except _RollBack:
        pass
    for exc in refusals:  # the refusal's audit record went with the rollback: write it again
        exc.ensure_audited()
    res.held = res.held and not res.errors  # errors first: the file is corrected and uploaded again
    res.errors.sort(key=lambda e: e.row)
    return res


def error_report_csv(actor: Actor, res: ImportResult) -> bytes:
    """The row-level error report as CSV (the person import's report: checked, stamped, audited)."""
    from popreg.registry import exports

    return exports.export_bytes(actor, error_report(res.errors, "csv", "migrant-errors.csv"),
                                permission=Permission.MANAGE_MIGRANTS, unit_code=None)


def template_csv(village_code: str) -> bytes:
    """A header line and one example row living in ``village_code`` (UTF-8 with BOM, opens
    in Excel)."""
    header = ",".join(c.header for c in COLUMNS)
    example = f"陈建国,男,1988-06-01,,汉族,410102,{village_code},2024-01-10,务工,,5号,某砖厂,13800000000"
    return ("\ufeff" + header + "\n" + example + "\n").encode("utf-8")
