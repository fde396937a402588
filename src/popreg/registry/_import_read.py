"""Reading an import file (:mod:`popreg.registry.importing`): telling CSV from ``.xlsx``,
decoding CSV (UTF-8, UTF-16, GBK/GB18030), and finding the header row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from popreg.registry._import_format import (
    COLUMN_BY_KEY,
    HEADER_INDEX,
    REQUIRED_KEYS,
    ImportFileError,
    ImportLimits,
    header_key,
)

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


# --------------------------------------------------------------------------- limits


def too_many_rows(limit: int) -> ImportFileError:
    return ImportFileError(
        f"文件超过 {limit:,} 行（每个文件的上限）；请按乡镇或村拆分为多个文件后分批导入",
        f"the file has more than {limit:,} rows (the limit of one file); split it by township "
        "or village into several files and import them one by one",
    )


def _too_big(unpacked: int, limits: ImportLimits) -> ImportFileError:
    mb = limits.max_unpacked_bytes // (1024 * 1024)
    return ImportFileError(
        f"该 Excel 文件解压后约 {unpacked / 2**20:,.0f} MB，超过上限 {mb:,} MB；请拆分为多个文件，"
        "或删除多余的工作表、图片和格式后另存",
        f"this Excel file unpacks to about {unpacked / 2**20:,.0f} MB, more than the limit of "
        f"{mb:,} MB; split it into several files, or delete extra sheets, pictures and formatting "
        "and save it again",
    )


def _cell_too_long(where_zh: str, where_en: str, limits: ImportLimits) -> ImportFileError:
    n = limits.max_cell_chars
    return ImportFileError(
        f"{where_zh}有一个单元格的内容远超每格 {n:,} 个字的上限，文件未读取；请找到并删除或缩短该单元格后重新上传",
        f"{where_en} holds a cell far longer than the limit of {n:,} characters, so the file "
        "was not read; find that cell, delete or shorten it, and upload the file again",
    )


def _scan_limit(limits: ImportLimits) -> int:
    """Bytes of text between two XML tags (or in one CSV field) past which a cell is refused
    before the file is parsed: generous (UTF-8 and entities take several bytes a
    character), so that a merely long cell is reported by row and column instead."""
    return max(limits.max_cell_chars * 8, 64 * 1024)


def _longest_text_over(stream: Any, limit: int) -> bool:
    """Whether an XML part read in chunks has a text run (bytes between '>' and '<') longer
    than ``limit``, reading it without keeping it."""
    long_run = re.compile(rb"[^<]{%d}" % (limit + 1))
    carry = 0  # length of the run that ends the previous chunk
    while chunk := stream.read(1 << 20):
        first = chunk.find(b"<")
        if first < 0:
            carry += len(chunk)
            if carry > limit:
                return True
            continue
        if carry + first > limit or long_run.search(chunk):
            return True
        carry = len(chunk) - chunk.rfind(b"<") - 1
    return False


def check_xlsx_package(data: bytes, limits: ImportLimits) -> None:
    """Refuse an .xlsx whose parts unpack to too much (a "zip bomb"), or that holds a
    gigantic cell, before openpyxl reads it (it keeps every shared string in memory)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # _xlsx_rows reports the broken workbook
    with zf:
        infos = zf.infolist()
        unpacked = sum(i.file_size for i in infos)
        if unpacked > limits.max_unpacked_bytes:
            raise _too_big(unpacked, limits)
        for info in infos:
            if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ImportFileError(
                    f"该 Excel 文件的 {info.filename} 部分压缩率异常（解压后 {info.file_size / 2**20:,.0f} MB，"
                    f"为压缩后的 {info.file_size // max(info.compress_size, 1):,} 倍），文件未读取；"
                    "请在 Excel 或 WPS 中检查是否有超长或重复的单元格内容，删除后另存为 .xlsx",
                    f"the part {info.filename} of this Excel file unpacks to "
                    f"{info.file_size / 2**20:,.0f} MB, {info.file_size // max(info.compress_size, 1):,} "
                    "times its compressed size, so the file was not read; look for huge or repeated "
                    "cell contents in Excel or WPS, delete them and save it again as .xlsx",
                )
        limit = _scan_limit(limits)
        for info in infos:
            name = info.filename.lower()
            is_cells = name.startswith("xl/worksheets/") or name == "xl/sharedstrings.xml"
            if is_cells and name.endswith(".xml") and info.file_size > limit:
                with zf.open(info) as part:
                    if _longest_text_over(part, limit):
                        raise _cell_too_long("该工作簿", "the workbook", limits)


def _csv_rows(data: bytes, limits: ImportLimits) -> tuple[Iterator[list[Any]], str]:
    text, encoding = _decode(data)
    if "\x00" in text:
        raise _not_spreadsheet()
    text = text.lstrip("\ufeff")
    dialect = _sniff_dialect(text[:4096])
    field_limit = _scan_limit(limits)

    def reader() -> Iterator[list[str]]:
        old = csv.field_size_limit(field_limit)
        try:
            rows = csv.reader(io.StringIO(text, newline=""), dialect)
            try:
                yield from (list(r) for r in rows)
            except csv.Error as exc:  # a field past field_limit, or a broken quote
                if "field larger than field limit" in str(exc):
                    raise _cell_too_long(f"第 {rows.line_num} 行", f"row {rows.line_num}", limits) from exc
                raise ImportFileError(
                    f"第 {rows.line_num} 行的 CSV 格式有误（{exc}）；请在 Excel 或 WPS 中打开后另存为 CSV UTF-8",
                    f"row {rows.line_num} is not valid CSV ({exc}); open the file in Excel or WPS and "
                    "save it again as CSV UTF-8",
                ) from exc
        finally:
            csv.field_size_limit(old)

    if text.count("\n") > limits.max_rows:
        # Count before parsing (csv alone is fast) so that a huge file is refused at once.
        old = csv.field_size_limit(field_limit)
        try:
            filled = sum(1 for r in csv.reader(io.StringIO(text, newline=""), dialect) if any(r))
        except csv.Error:
            filled = 0  # the reader above reports the broken row
        finally:
            csv.field_size_limit(old)
        if filled - 1 > limits.max_rows:  # the header row is not a person
            raise too_many_rows(limits.max_rows)
    return reader(), encoding


def _xlsx_rows(data: bytes, limits: ImportLimits) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    check_xlsx_package(data, limits)
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
        raise empty_file()
    ws = wb.worksheets[0]
    # The sheet's declared dimension (when present) refuses a huge sheet before reading it.
    # (openpyxl would yield that many rows, empty or not).
    if ws.max_row is not None and ws.max_row - 1 > limits.max_rows:
        declared = ws.max_row
        wb.close()
        exc = too_many_rows(limits.max_rows)
        raise ImportFileError(
            f"{exc.message_zh}（工作表共 {declared:,} 行；若其中多为空行，请删除数据下方的空白行后另存）",
            f"{exc.message_en} (the sheet spans {declared:,} rows; if most are empty, delete the "
            "blank rows below the data and save it again)",
        )
    max_col = limits.max_columns + 1  # one more, to see whether anything lies past the limit
    if ws.max_column is not None:  # the declared width (openpyxl pads every row to max_col)
        max_col = min(max_col, ws.max_column)

    def rows() -> Iterator[list[Any]]:
        try:
            for values in ws.iter_rows(values_only=True, max_col=max_col):
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


def empty_file() -> ImportFileError:
    return ImportFileError(
        "文件中没有数据行；请在表头下方逐行填写人员信息",
        "the file has no data rows; fill in one person per row below the header",
    )


def open_rows(data: bytes, file_name: str,
              limits: ImportLimits | None = None) -> tuple[Iterator[list[Any]], str]:
    limits = limits or ImportLimits.from_settings()
    if not data.strip():
        raise empty_file()
    if data.startswith(_OLE):
        raise ImportFileError(
            "这是旧版 Excel(.xls) 文件；请在 Excel 或 WPS 中另存为 .xlsx 或 CSV 后上传",
            "this is a legacy Excel (.xls) file; save it as .xlsx or CSV and upload that",
        )
    if data.startswith(_ZIP):
        return _xlsx_rows(data, limits), "xlsx"
    head = data[:2048]
    binary_magic = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
    if head.startswith(binary_magic) or (b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))):
        raise _not_spreadsheet()
    return _csv_rows(data, limits)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def find_header(rows: Iterator[list[Any]]) -> tuple[int, list[str], list[list[Any]]]:
    """(row number of the header, its cells, the non-empty rows seen before it).

    Title rows above the header are allowed: the header is the first of the first ten
    non-empty rows in which at least three known column names appear.
    """
    seen: list[list[Any]] = []
    for number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not any(texts):
            continue
        known = sum(1 for t in texts if header_key(t) in HEADER_INDEX)
        if known >= 3:
            return number, texts, seen
        seen.append(texts)
        if len(seen) >= 10:
            break
    if not seen:
        raise empty_file()
    first = "、".join(t for t in seen[0] if t)[:200]
    needed = "、".join(COLUMN_BY_KEY[k].header for k in REQUIRED_KEYS)
    raise ImportFileError(
        f"找不到表头：文件前几行没有“{needed}”等列名（第一行为：{first}）。"
        "如表头显示为乱码，请将文件另存为 UTF-8 编码的 CSV 或 .xlsx；否则请使用本页的模板",
        f"no header row found: the first rows do not name the columns {needed} (first row: "
        f"{first}); if the header looks garbled, save the file as CSV UTF-8 or .xlsx, "
        "otherwise start from the template on this page",
    )
