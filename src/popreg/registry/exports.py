"""Every download: one function that checks, masks, stamps, neutralises and audits.

A CSV, Excel or PDF file that leaves the platform is described by an :class:`Export` and
handed to :func:`export_response` (a view) or :func:`export_bytes` (a job or a command).
Both

1. call ``actor.require(permission, unit_code)``; a full ID number also needs
   :attr:`Permission.VIEW_FULL_ID` *and* an explicit request (``full_id=True``), otherwise
   every ID-number column is masked with :func:`popreg.core.privacy.mask_id`;
2. neutralise every text cell that a spreadsheet would run as a formula: a value starting
   with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (the
   OWASP CSV-injection rule), in CSV and in xlsx, where string cells are also typed as
   strings, never formulas; a plain number such as ``-12.5`` is left alone;
3. stamp the file with who, when and why (:class:`ExportContext.stamp`): the first line
   of a CSV, the first row of a table workbook (a sheet named ``导出信息 Export`` in a
   workbook built by its own builder) and the document properties, a closing line and
   the metadata of a PDF;
4. write one audit record with the export's :class:`AuditAction`, whose detail carries
   the format, the number of rows, whether ID numbers were masked, the reason and the file
   name.

Example (a view)::

    export = Export(
        title="人员名单 persons", filename="persons-110105.csv", format="csv",
        action=AuditAction.EXPORT_PERSONS,
        columns=[Column("姓名 name"), Column("公民身份号码 id_number", id_number=True)],
        rows=[("王秀英", "110105199003040029")],
    )
    return export_response(actor, export, permission=Permission.EXPORT_PERSONS,
                           unit_code="110105", full_id=False, reason="入户核查")

A workbook with styles, charts or protection passes ``xlsx=`` (a function filling the
workbook it is given); a PDF passes ``pdf_html=`` (a function returning the HTML that
WeasyPrint renders).  Both receive the :class:`ExportContext`, whose
:meth:`~ExportContext.id_text` masks or not as decided here.  A file a job made with
:func:`export_bytes` and stored is handed out by :func:`stored_file_response`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import content_disposition_header

from popreg.core.privacy import mask_id
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.localtime import format_moment, local
from popreg.registry.policy import Permission

if TYPE_CHECKING:
    from openpyxl import Workbook

    from popreg.registry.access import Actor

__all__ = [
    "CONTENT_TYPES",
    "Column",
    "Export",
    "ExportContext",
    "export_bytes",
    "export_response",
    "neutralise",
    "neutralise_workbook",
    "request_full_id",
    "request_reason",
    "stored_file_response",
    "unneutralise",
]

Format = Literal["csv", "xlsx", "pdf"]

CONTENT_TYPES: Mapping[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

#: The characters with which a spreadsheet starts a formula (or DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?\Z")
STAMP_SHEET = "导出信息 Export"
_CSV_CHUNK_ROWS = 2000


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a leading ``'`` when it starts
    with a formula character (``=HYPERLINK(...)`` → ``'=HYPERLINK(...)``).

    >>> neutralise("=1+1"), neutralise("@SUM(A1)"), neutralise("-2+3"), neutralise("-12.5")
    ("'=1+1", "'@SUM(A1)", "'-2+3", '-12.5')
    """
    if text and text[0] in FORMULA_STARTS and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """The value :func:`neutralise` was given, for a file of ours that comes back (the
    campaign field workbook checks its printed cells against a checksum).

    >>> unneutralise("'=1+1"), unneutralise("'quoted")
    ('=1+1', "'quoted")
    """
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_STARTS:
        return text[1:]
    return text


def neutralise_workbook(wb: Workbook) -> int:
    """Neutralise every text cell of every sheet in place and type it as a string; the
    number of cells changed."""
    changed = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str):
                    safe = neutralise(value)
                    if safe != value:
                        cell.value = safe
                        changed += 1
                    cell.data_type = "s"
    return changed


@dataclass(frozen=True)
class Column:
    """A column of a table export: its header, and whether it holds ID numbers (masked
    unless the full number is allowed and asked for)."""

    header: str
    id_number: bool = False


@dataclass(frozen=True)
class ExportContext:
    """Who, when and why, and whether ID numbers are shown whole; given to builders."""

    title: str
    actor_name: str
    exported_at: datetime
    reason: str
    full_id: bool

    def id_text(self, number: str | None) -> str:
        """An ID number as this file may show it."""
        if self.full_id:
            return number or ""
        return mask_id(number)

    @property
    def id_note(self) -> str:
        return "完整 full" if self.full_id else "已脱敏 masked"

    def stamp_fields(self, rows: int | None = None) -> list[str]:
        fields = [
            f"导出人 exported by: {self.actor_name}",
            f"导出时间 exported at: {self.exported_at:%Y-%m-%d %H:%M:%S %z}",
            f"用途 reason: {self.reason}",
            f"身份证号 ID numbers: {self.id_note}",
        ]
        if rows is not None:
            fields.append(f"行数 rows: {rows}")
        return fields

    def stamp(self, rows: int | None = None) -> str:
        """The stamp on one line."""
        return "；".join([self.title, *self.stamp_fields(rows)])


@dataclass
class Export:
    """What to download.  A table (``columns`` and ``rows``) is written as CSV or xlsx by
    the layer; ``xlsx`` fills a workbook itself; ``pdf_html`` returns the HTML of a PDF.

    ``row_count`` lets a large CSV stream (rows are then an iterator read once);
    ``stamp_in_body=False`` is for templates that are filled in and imported again: their
    first line must stay the header, so the stamp goes only where the format has metadata
    (the xlsx properties and stamp sheet) and in the audit record.
    """

    title: str
    filename: str
    format: Format
    action: AuditAction
    reason: str = ""
    columns: Sequence[Column] = ()
    rows: Iterable[Sequence[Any]] = ()
    row_count: int | None = None
    xlsx: Callable[[Workbook, ExportContext], None] | None = None
    pdf_html: Callable[[ExportContext], str] | None = None
    target: Any = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    stamp_in_body: bool = True
    sheet_title: str = ""


# --------------------------------------------------------------------------- the checks


def _context(
    actor: Actor, export: Export, *, permission: Permission, unit_code: str | None,
    full_id: bool, reason: str,
) -> ExportContext:
    actor.require(permission, unit_code)
    if full_id:
        actor.require(Permission.VIEW_FULL_ID, unit_code)
    if export.format not in CONTENT_TYPES:
        raise ValueError(f"unknown export format {export.format!r}")
    return ExportContext(
        title=export.title,
        actor_name=actor.name,
        exported_at=timezone.localtime(),
        reason=(reason or export.reason or export.title).strip(),
        full_id=full_id,
    )


def _audit(actor: Actor, export: Export, ctx: ExportContext, unit_code: str | None,
           rows: int | None) -> None:
    audit(actor, export.action, export.target, unit_code=unit_code or "", detail={
        **export.detail,
        "format": export.format,
        "rows": rows,
        "masked": not ctx.full_id,
        "reason": ctx.reason,
        "file": export.filename,
    })


# --------------------------------------------------------------------------- writers


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_moment(value, seconds=True)  # an aware moment in the county's time zone
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_cells(export: Export, ctx: ExportContext, row: Sequence[Any]) -> list[str]:
    cells = []
    for i, value in enumerate(row):
        col = export.columns[i] if i < len(export.columns) else None
        text = ctx.id_text(_text(value) or None) if col is not None and col.id_number else _text(value)
        cells.append(neutralise(text))
    return cells


def _csv_chunks(export: Export, ctx: ExportContext, rows: Iterable[Sequence[Any]],
                count: int | None) -> Iterator[str]:
    buf = io.StringIO()
    out = csv.writer(buf)
    buf.write("\ufeff")  # UTF-8 BOM: Excel opens the file as UTF-8
    if export.stamp_in_body:
        # First line, starting with "#": a reader skips it, Excel shows it above the header.
        first, *others = ctx.stamp_fields(count)
        out.writerow([neutralise(f) for f in ["# " + first, *others, ctx.title]])
    if export.columns:
        out.writerow([neutralise(c.header) for c in export.columns])
    for n, row in enumerate(rows, start=1):
        out.writerow(_csv_cells(export, ctx, row))
        if n % _CSV_CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _properties(wb: Workbook, ctx: ExportContext, rows: int | None) -> None:
    props = wb.properties
    props.title = props.title or ctx.title
    props.creator = "popreg"
    props.lastModifiedBy = ctx.actor_name
    props.subject = ctx.reason
    props.description = ctx.stamp(rows)
    props.keywords = f"exported-by:{ctx.actor_name}"
    props.created = ctx.exported_at.replace(tzinfo=None)


def _string_cell(ws: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _xlsx_table(export: Export, ctx: ExportContext, rows: list[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet((export.sheet_title or export.title)[:31])
    if export.stamp_in_body:
        ws.append([_string_cell(ws, neutralise(ctx.stamp(len(rows))))])
    if export.columns:
        ws.append([_string_cell(ws, neutralise(c.header)) for c in export.columns])
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            col = export.columns[i] if i < len(export.columns) else None
            if col is not None and col.id_number:
                value = ctx.id_text(_text(value) or None)
            if isinstance(value, datetime) and timezone.is_aware(value):
                value = local(value).replace(tzinfo=None)  # a cell holds no zone: local wall-clock time
            if isinstance(value, str):
                value = neutralise(value)
            elif value is not None and not isinstance(value, int | float | date):
                value = neutralise(_text(value))
            cells.append(_string_cell(ws, value))
        ws.append(cells)
    _properties(wb, ctx, len(rows))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_built(export: Export, ctx: ExportContext) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    assert export.xlsx is not None
    wb = Workbook()
    export.xlsx(wb, ctx)
    stamp = wb.create_sheet(STAMP_SHEET)
    stamp.append([ctx.title])
    stamp["A1"].font = Font(bold=True)
    for line in ctx.stamp_fields():
        stamp.append([line])
    stamp.column_dimensions["A"].width = 60
    neutralise_workbook(wb)  # every sheet the builder wrote, and the stamp (the user's reason)
    _properties(wb, ctx, None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _pdf(export: Export, ctx: ExportContext) -> bytes:
    from weasyprint import HTML

    assert export.pdf_html is not None
    html = export.pdf_html(ctx)
    meta = (
        f'<meta name="author" content="{escape(ctx.actor_name)}">'
        f'<meta name="description" content="{escape(ctx.stamp())}">'
        f'<meta name="keywords" content="{escape(ctx.reason)}">'
        f'<meta name="generator" content="popreg">'
        f'<meta name="dcterms.created" content="{ctx.exported_at.isoformat()}">'
    )
    if not re.search(r"<title>", html, re.IGNORECASE):
        meta = f"<title>{escape(ctx.title)}</title>" + meta
    closing = (
        '<p class="popreg-export-stamp" style="margin-top:4mm;font-size:7pt;color:#555;'
        f'page-break-inside:avoid">{escape(ctx.stamp())}</p>'
    )
    head = re.search(r"<head[^>]*>", html, re.IGNORECASE)
    html = html[: head.end()] + meta + html[head.end():] if head else meta + html
    end = html.lower().rfind("</body>")
    html = html[:end] + closing + html[end:] if end >= 0 else html + closing
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def _build(export: Export, ctx: ExportContext) -> tuple[bytes, int | None]:
    if export.format == "pdf":
        if export.pdf_html is None:
            raise ValueError("a PDF export needs pdf_html")
        return _pdf(export, ctx), export.row_count
    if export.format == "xlsx" and export.xlsx is not None:
        return _xlsx_built(export, ctx), export.row_count
    rows = list(export.rows)
    if export.format == "xlsx":
        return _xlsx_table(export, ctx, rows), len(rows)
    return "".join(_csv_chunks(export, ctx, rows, len(rows))).encode("utf-8"), len(rows)


# --------------------------------------------------------------------------- entry points


def export_bytes(
    actor: Actor,
    export: Export,
    *,
    permission: Permission,
    unit_code: str | None,
    full_id: bool = False,
    reason: str = "",
) -> bytes:
    """The file's bytes, checked, masked, neutralised, stamped and audited (for jobs and
    commands); raises :class:`~popreg.registry.errors.RegistryError` when refused, before
    anything is written."""
    ctx = _context(actor, export, permission=permission, unit_code=unit_code,
                   full_id=full_id, reason=reason)
    data, rows = _build(export, ctx)
    _audit(actor, export, ctx, unit_code, rows)
    return data


def _headers(response: HttpResponse | StreamingHttpResponse, export: Export) -> None:
    response["Content-Disposition"] = content_disposition_header(True, export.filename) or "attachment"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"


def export_response(
    actor: Actor,
    export: Export,
    *,
    permission: Permission,
    unit_code: str | None,
    full_id: bool = False,
    reason: str = "",
) -> HttpResponse | StreamingHttpResponse:
    """The download of ``export`` for a view: like :func:`export_bytes`, a refusal is a 403
    and nothing is written or audited.  A CSV table with a ``row_count`` streams."""
    try:
        ctx = _context(actor, export, permission=permission, unit_code=unit_code,
                       full_id=full_id, reason=reason)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    response: HttpResponse | StreamingHttpResponse
    if export.format == "csv" and export.xlsx is None and export.row_count is not None:
        # Audited before the first byte leaves: the count is known, the rows stream.
        _audit(actor, export, ctx, unit_code, export.row_count)
        response = StreamingHttpResponse(
            _csv_chunks(export, ctx, export.rows, export.row_count),
            content_type=CONTENT_TYPES["csv"],
        )
    else:
        data, rows = _build(export, ctx)
        _audit(actor, export, ctx, unit_code, rows)
        response = HttpResponse(data, content_type=CONTENT_TYPES[export.format])
    _headers(response, export)
    return response


def stored_file_response(
    actor: Actor,
    path: Path,
    *,
    filename: str,
    format: Format,
    action: AuditAction,
    permission: Permission,
    unit_code: str | None,
    full_id: bool = False,
    target: Any = None,
    detail: Mapping[str, Any] | None = None,
) -> FileResponse:
    """The download of a file a job made earlier with :func:`export_bytes` (already
    masked, neutralised and stamped): the permission is checked again for the user who
    fetches it (and ``VIEW_FULL_ID`` when the file holds full ID numbers), the download
    is audited, and the headers are those of :func:`export_response`."""
    try:
        actor.require(permission, unit_code)
        if full_id:
            actor.require(Permission.VIEW_FULL_ID, unit_code)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    handle = path.open("rb")
    audit(actor, action, target, unit_code=unit_code or "", detail={
        **(detail or {}), "format": format, "file": filename, "masked": not full_id, "stored": True,
    })
    response = FileResponse(handle, content_type=CONTENT_TYPES[format])
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def request_full_id(request: HttpRequest) -> bool:
    """Whether the download asks for full ID numbers (``?full_id=1``)."""
    return request.GET.get("full_id", "") in ("1", "true", "yes", "on")


def request_reason(request: HttpRequest) -> str:
    """The reason the user gave for the download (``?reason=...``), at most 200 characters."""
    return (request.GET.get("reason") or request.POST.get("reason") or "").strip()[:200]
