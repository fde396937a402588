"""Limits on what one import file may hold: each is checked while the file is read, and a
file past one is refused with a message that names the limit and how to fix the file."""

from __future__ import annotations

import io
import random
import string
import zipfile

import pytest

from popreg.registry import _import_parse
from popreg.registry.importing import ImportFileError, parse_file

from .helpers import HEADER, sample_rows, to_csv, to_xlsx


def _with_part(xlsx: bytes, name: str, content: bytes) -> bytes:
    """The workbook ``xlsx`` with one part added or replaced (deflated, like Excel does)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info.filename, src.read(info))
        dst.writestr(name, content)
    return out.getvalue()


def _shared_strings(text: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{text}</t></si></sst>').encode()


def _refused(data: bytes) -> ImportFileError:
    with pytest.raises(ImportFileError) as exc:
        parse_file(data, "f")
    assert exc.value.message_zh and exc.value.message_en
    return exc.value


def test_a_highly_compressed_part_is_refused_before_it_is_unpacked():
    # 20 MB of one letter deflates to ~20 KB: the shape of the 400 MB cell in a 402 KB file.
    bomb = _with_part(to_xlsx(sample_rows(2)), "xl/sharedStrings.xml", _shared_strings("A" * 20_000_000))
    assert len(bomb) < 200_000
    exc = _refused(bomb)
    assert "xl/sharedStrings.xml" in exc.message_zh and "倍" in exc.message_zh
    assert "times its compressed size" in exc.message_en


def test_the_total_unpacked_size_is_limited(settings):
    settings.POPREG_IMPORT_MAX_UNPACKED_MB = 0
    exc = _refused(to_xlsx(sample_rows(2)))
    assert "超过上限 0 MB" in exc.message_zh and "split it into several files" in exc.message_en


def test_a_gigantic_cell_that_compresses_poorly_is_refused_without_parsing(monkeypatch):
    rng = random.Random(1)
    text = "".join(rng.choices(string.ascii_letters, k=300_000))  # low ratio: only the scan sees it
    data = _with_part(to_xlsx(sample_rows(2)), "xl/sharedStrings.xml", _shared_strings(text))
    monkeypatch.setattr("openpyxl.load_workbook", lambda *a, **k: pytest.fail("the workbook was parsed"))
    exc = _refused(data)
    assert "1,000" in exc.message_zh and "shorten it" in exc.message_en


def test_a_one_megabyte_csv_cell_is_a_clear_error_naming_its_row():
    rows = sample_rows(3)
    rows[1][HEADER.index("住址")] = "东" * 1_000_000
    exc = _refused(to_csv(rows))
    assert "第 3 行" in exc.message_zh and "row 3" in exc.message_en
    assert "Error" not in exc.message_zh


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_long_cell_is_a_row_error_naming_its_column_with_the_value_cut_short(fmt, settings):
    settings.POPREG_IMPORT_MAX_CELL_CHARS = 300
    rows = sample_rows(4)
    rows[2][HEADER.index("住址")] = "东关村" * 1000
    data = to_csv(rows) if fmt == "csv" else to_xlsx(rows)
    result = parse_file(data, f"f.{fmt}")
    assert [(e.row, e.column) for e in result.errors] == [(4, "住址")]
    error = result.errors[0]
    assert "3,000" in error.message_zh and "300" in error.message_zh
    assert len(error.value) < 100 and error.value.startswith("东关村")
    assert len(result.rows) == 3


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_too_many_rows_are_refused_before_any_row_is_parsed(fmt, settings, monkeypatch):
    settings.POPREG_IMPORT_MAX_ROWS = 5
    parsed = []
    real = _import_parse._parse_row
    monkeypatch.setattr(_import_parse, "_parse_row", lambda *a: parsed.append(a[0]) or real(*a))
    rows = sample_rows(40)
    exc = _refused(to_csv(rows) if fmt == "csv" else to_xlsx(rows))
    assert "5 行" in exc.message_zh and "split it" in exc.message_en
    assert parsed == []  # refused on the count, not after checking every row
    settings.POPREG_IMPORT_MAX_ROWS = 40
    assert parse_file(to_csv(rows), "f.csv").total_rows == 40


def test_the_row_limit_stops_reading_as_soon_as_it_is_passed(settings, monkeypatch):
    # A sheet without a declared size cannot be counted first: reading stops at the limit.
    settings.POPREG_IMPORT_MAX_ROWS = 5
    parsed = []
    real = _import_parse._parse_row
    monkeypatch.setattr(_import_parse, "_parse_row", lambda *a: parsed.append(a[0]) or real(*a))
    xlsx = to_xlsx(sample_rows(40))
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    start = sheet.index(b"<dimension")
    sheet = sheet[:start] + sheet[sheet.index(b"/>", start) + 2:]
    _refused(_with_part(xlsx, "xl/worksheets/sheet1.xml", sheet))
    assert len(parsed) == 5


def test_content_past_the_column_limit_is_refused_and_empty_columns_are_not(settings):
    settings.POPREG_IMPORT_MAX_COLUMNS = len(HEADER)
    rows = sample_rows(2)
    assert parse_file(to_csv([r + ["", ""] for r in rows]), "f.csv").ok
    rows[1] = rows[1] + ["", "多余"]
    exc = _refused(to_csv(rows))
    assert "第 3 行" in exc.message_zh and f"{len(HEADER)} columns at most" in exc.message_en


def test_other_uploaded_workbooks_are_checked_the_same_way():
    from popreg.campaigns.fieldlists import read_field_workbook
    from popreg.stats.assessment import AssessmentError, read_targets

    bomb = _with_part(to_xlsx(sample_rows(2)), "xl/sharedStrings.xml", _shared_strings("A" * 20_000_000))
    parsed = read_field_workbook(bomb)
    assert not parsed.ok and "times its compressed size" in parsed.problems[0].message_en
    with pytest.raises(AssessmentError) as exc:
        read_targets(bomb, "targets.xlsx")
    assert "倍" in exc.value.args[0] and "times its compressed size" in exc.value.args[1]


def test_through_the_import_page_a_huge_cell_is_a_clear_message_and_a_long_one_a_short_report(
        client, users, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.POPREG_HOME = tmp_path
    client.force_login(users["admin"])
    rows = sample_rows(3)
    rows[1][HEADER.index("住址")] = "东" * 1_000_000
    r = client.post("/import/", {"file": SimpleUploadedFile("big.csv", to_csv(rows))})
    page = client.get(r["Location"]).content.decode()
    assert "第 3 行" in page and "1,000" in page and "内部错误" not in page
    rows[1][HEADER.index("住址")] = "东" * 20_000  # within the scan: a row error, cut short
    r = client.post("/import/", {"file": SimpleUploadedFile("long.csv", to_csv(rows))})
    report = client.get(r["Location"] + "errors.csv").content.decode("utf-8-sig")
    assert "住址" in report and "20,000" in report and len(report) < 3_000
