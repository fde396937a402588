"""Reading and row validation: every kind of bad input gives a clear, located message."""

from __future__ import annotations

import pytest

from popreg.registry.importing import ImportFileError, parse_file, template_csv, template_xlsx

from .helpers import HEADER, person_row, sample_rows, to_csv, to_xlsx


def errors_by_column(result):
    return {(e.row, e.column): e for e in result.errors}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_are_detected(encoding):
    result = parse_file(to_csv(sample_rows(4), encoding=encoding), "p.csv")
    assert result.ok, result.errors
    assert result.total_rows == 4
    assert [r.name for r in result.rows] == ["测试零", "测试一", "测试二", "测试三"]
    assert result.rows[0].sex == "F" and result.rows[1].sex == "M"


def test_xlsx_with_title_row_and_excel_dates():
    from datetime import datetime

    rows = sample_rows(2)
    rows[0][HEADER.index("出生日期")] = datetime(1960, 1, 1)
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["东关村人口导入表"])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    result = parse_file(buf.getvalue(), "p.xlsx")
    assert result.ok, result.errors
    assert result.file_format == "xlsx"
    assert result.rows[0].row == 3  # title row 1, header row 2
    assert str(result.rows[0].birth_date) == "1960-01-01"


def test_english_aliases_and_tab_separated():
    header = ["household_no", "name", "sex", "birth_date", "id_number", "registered_unit"]
    src = person_row(1)
    pick = [src[HEADER.index(h)] for h in ("户号", "姓名", "性别", "出生日期", "公民身份号码", "户籍地代码")]
    data = ("\t".join(header) + "\n" + "\t".join(pick) + "\n").encode()
    result = parse_file(data, "p.tsv")
    assert result.ok, result.errors
    assert result.rows[0].registered_unit == pick[-1]


def test_bad_cells_are_named_by_row_and_column():
    rows = sample_rows(6)
    rows[0][HEADER.index("出生日期")] = "2023-02-30"
    rows[1][HEADER.index("公民身份号码")] = "110105199001010011"  # wrong check digit
    rows[2][HEADER.index("性别")] = "未知"
    rows[3][HEADER.index("户籍地代码")] = "1101"
    rows[4][HEADER.index("姓名")] = ""
    rows[5][HEADER.index("居住类型")] = "火星"
    result = parse_file(to_csv(rows), "bad.csv")
    got = errors_by_column(result)
    assert "不是有效日期" in got[(2, "出生日期")].message_zh
    assert "not a real date" in got[(2, "出生日期")].message_en
    assert "校验码" in got[(3, "公民身份号码")].message_zh
    assert "性别" in got[(4, "性别")].message_zh
    assert "12 位" in got[(5, "户籍地代码")].message_zh
    assert "姓名" in got[(6, "姓名")].message_zh
    assert "居住类型" in got[(7, "居住类型")].message_zh
    assert result.rows == []


def test_id_must_agree_with_birth_date_and_sex():
    row = person_row(3)
    row[HEADER.index("性别")] = "女"  # the ID says male
    result = parse_file(to_csv([row]), "x.csv")
    (err,) = result.errors
    assert err.column == "公民身份号码" and "性别" in err.message_zh


def test_id_stored_as_excel_number_is_refused():
    row = person_row(1)
    row[HEADER.index("公民身份号码")] = 1.10105196002020e17
    result = parse_file(to_xlsx([row]), "x.xlsx")
    (err,) = result.errors
    assert "文本" in err.message_zh


def test_duplicates_and_household_conflicts_inside_the_file():
    a = person_row(1, relation="户主")
    b = person_row(1, relation="户主")  # same person twice, second head
    c = person_row(2, unit="110105002001")
    result = parse_file(to_csv([a, b, c]), "x.csv")
    messages = [(e.row, e.column) for e in result.errors]
    assert (3, "公民身份号码") in messages
    assert (3, "与户主关系") in messages
    assert (4, "户籍地代码") in messages


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "没有数据行"),
        (b"%PDF-1.4 binary\x00\x01", "不是电子表格"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"PK\x03\x04not really a zip", "Excel"),
        (b"\x80\x80\x80\x80abc\xff", "编码"),
        ("姓名,性别\n张三,男\n".encode(), "找不到表头"),
        ("户号,姓名,性别,出生日期\n1,张三,男,1990-01-01\n".encode(), "公民身份号码"),
        (",".join(HEADER).encode() + b"\n", "没有数据行"),
    ],
    ids=["empty", "pdf", "xls", "broken-zip", "bad-encoding", "no-header", "missing-columns", "header-only"],
)
def test_unusable_files_raise_a_clear_message(data, needle):
    with pytest.raises(ImportFileError) as exc:
        parse_file(data, "f")
    assert needle in exc.value.message_zh
    assert exc.value.message_en  # English follows the Chinese


def test_missing_columns_are_all_named():
    with pytest.raises(ImportFileError) as exc:
        parse_file("姓名,性别,出生日期,民族\n张三,男,1990-01-01,汉族\n".encode(), "f.csv")
    for col in ("户号", "公民身份号码", "户籍地代码"):
        assert col in exc.value.message_zh


def test_templates_parse_as_headers():
    for data in (template_csv(), template_xlsx()):
        with pytest.raises(ImportFileError) as exc:
            parse_file(data, "t")
        assert "没有数据行" in exc.value.message_zh
