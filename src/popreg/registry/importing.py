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

This module is the public face; the parts live next to it: ``_import_format`` (limits,
columns, result types), ``_import_read`` (decoding the file, finding the header),
``_import_parse`` (stage 1: cell parsing and the within-file checks) and ``_import_check``
(stage 2).  :func:`validate_file` (both stages) and the reports (error report, templates)
are here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from popreg.registry import exports
from popreg.registry._import_check import RegistryCheck, check_against_registry, previous_import
from popreg.registry._import_format import (
    AUDIT_ACTION,
    COLUMN_BY_KEY,
    COLUMNS,
    HEAD_RELATIONS,
    MAX_ROWS,
    REQUIRED_KEYS,
    Column,
    ImportFileError,
    ImportLimits,
    ImportRow,
    ParseResult,
    Progress,
    RowError,
)
from popreg.registry._import_parse import (
    HUKOU_VALUES,
    KIND_VALUES,
    MARITAL_VALUES,
    RESIDENCE_VALUES,
    SEX_VALUES,
    parse_date,
    parse_file,
)
from popreg.registry._import_read import check_xlsx_package, sha256_of
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.policy import Permission


def validate_file(actor: Actor, data: bytes, file_name: str = "",
                  progress: Progress | None = None) -> ParseResult:
    """Both stages: parse, then (when the rows parsed) check against the registry."""
    result = parse_file(data, file_name, progress)
    check = check_against_registry(actor, result.rows, result.sha256, labels=result.headers)
    result.errors.extend(check.errors)
    result.errors.sort(key=lambda e: e.row)
    return result


def check_workbook(data: bytes) -> None:
    """Refuse (:class:`ImportFileError`) an uploaded ``.xlsx`` that unpacks to too much or
    holds a gigantic cell, before openpyxl reads it: the import limits
    (``POPREG_IMPORT_MAX_UNPACKED_MB``, ``POPREG_IMPORT_MAX_CELL_CHARS``) for every workbook
    a user uploads (field workbooks, targets)."""
    check_xlsx_package(data, ImportLimits.from_settings())


# --------------------------------------------------------------------------- reports


ERROR_COLUMNS = (
    exports.Column("行号 Row"), exports.Column("列 Column"), exports.Column("内容 Value"),
    exports.Column("原因"), exports.Column("Reason"),
)


def error_rows(errors: Iterable[RowError | dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per error: spreadsheet row, column, the value found, the reason (zh, en)."""
    rows = []
    for e in errors:
        d = e.as_dict() if isinstance(e, RowError) else e
        rows.append((d["row"] or None, d["column"], d["value"], d["message_zh"], d["message_en"]))
    return rows


def error_report(errors: Iterable[RowError | dict[str, Any]], fmt: str, filename: str) -> exports.Export:
    """The error report as a download (CSV in UTF-8 with a BOM, or xlsx): the values come
    from the uploaded file, so the export layer neutralises them."""
    return exports.Export(
        title="导入错误报告 import errors", filename=filename,
        format="xlsx" if fmt == "xlsx" else "csv", action=AuditAction.EXPORT_FILE,
        reason="导入错误报告 import error report", columns=ERROR_COLUMNS, rows=error_rows(errors),
        sheet_title="错误 Errors", detail={"report": "import_errors"},
    )


def error_report_csv(actor: Actor, errors: Iterable[RowError | dict[str, Any]]) -> bytes:
    """The error report as CSV bytes for the command line (checked, stamped, audited)."""
    return exports.export_bytes(actor, error_report(errors, "csv", "errors.csv"),
                                permission=Permission.IMPORT_PERSONS, unit_code=None)


def template_csv() -> bytes:
    """An empty CSV template: the header row only, UTF-8 with BOM."""
    buf = io.StringIO()
    csv.writer(buf).writerow([c.header for c in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def fill_template(wb: Any, ctx: exports.ExportContext | None = None) -> None:
    """Fill ``wb`` as the .xlsx template: the data sheet (header, ID and code columns as
    text) and a sheet explaining each column."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

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


def template_xlsx() -> bytes:
    """The .xlsx template as bytes (see :func:`fill_template`); downloads go through
    :func:`template_export`."""
    from openpyxl import Workbook

    wb = Workbook()
    fill_template(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def template_export(fmt: str) -> exports.Export:
    """The import template as a download: the header row only (CSV) or the workbook with
    its help sheet (xlsx); stamped only in metadata, so that it imports unchanged."""
    fill = fill_template if fmt == "xlsx" else None
    return exports.Export(
        title="导入模板 import template", filename=f"popreg-import-template.{fmt}",
        format="xlsx" if fmt == "xlsx" else "csv", action=AuditAction.EXPORT_FILE,
        reason="导入模板 import template", columns=[exports.Column(c.header) for c in COLUMNS],
        xlsx=fill, stamp_in_body=False, detail={"report": "import_template"},
    )




__all__ = [
    "AUDIT_ACTION", "COLUMNS", "COLUMN_BY_KEY", "Column", "HEAD_RELATIONS", "HUKOU_VALUES",
    "ImportFileError", "ImportRow", "KIND_VALUES", "MARITAL_VALUES", "MAX_ROWS", "ParseResult",
    "Progress", "REQUIRED_KEYS", "RESIDENCE_VALUES", "RegistryCheck", "RowError", "SEX_VALUES",
    "check_against_registry", "check_workbook", "error_report", "error_report_csv", "error_rows", "fill_template", "parse_date", "parse_file", "previous_import",
    "sha256_of", "template_csv", "template_export", "template_xlsx", "validate_file",
]
