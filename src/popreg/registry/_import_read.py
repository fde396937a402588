"""Reading an import file (:mod:`popreg.registry.importing`): telling CSV from ``.xlsx``,
decoding CSV (UTF-8, UTF-16, GBK/GB18030), and finding the header row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from popreg.registry._import_format import (
    COLUMN_BY_KEY,
    HEADER_INDEX,
    REQUIRED_KEYS,
    ImportFileError,
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
        raise empty_file()
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


def empty_file() -> ImportFileError:
    return ImportFileError(
        "文件中没有数据行；请在表头下方逐行填写人员信息",
        "the file has no data rows; fill in one person per row below the header",
    )


def open_rows(data: bytes, file_name: str) -> tuple[Iterator[list[Any]], str]:
    if not data.strip():
        raise empty_file()
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
