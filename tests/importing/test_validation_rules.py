"""The plausibility rules (docs/validation.md) in the person import: every problem of a row
is in the error report, naming the row, the column and the value (several problems of one
cell are one entry whose message names each)."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.core.idnumber import check_character
from popreg.registry.importing import parse_file

from .helpers import HEADER, person_row, sample_rows, to_csv


def _row_errors(rows):
    result = parse_file(to_csv(rows), "p.csv")
    out: dict[int, list] = {}
    for e in result.errors:
        out.setdefault(e.row, []).append(e)
    return result, out


@pytest.mark.django_db
def test_a_row_with_several_problems_reports_each_one():
    rows = sample_rows(3)
    # row 3 (file row): born 1890, ethnicity 火星族, an ID number with a wrong check character
    # that also disagrees with the sex: three columns, four problems
    born = date(1990, 3, 4)
    body = f"110105{born:%Y%m%d}002"  # sequence 002: a woman's number
    wrong = body + ("0" if check_character(body) != "0" else "1")
    rows[1] = person_row(1, relation="子", **{"出生日期": "1890-05-01", "民族": "火星族",
                                              "公民身份号码": wrong, "性别": "男"})
    result, by_row = _row_errors(rows)
    problems = by_row[3]
    assert sorted(e.column for e in problems) == sorted(["出生日期", "公民身份号码", "民族"]), problems
    by_column = {e.column: e for e in problems}
    assert "出生日期 1890-05-01 早于 1900 年" in by_column["出生日期"].message_zh and by_column["出生日期"].value == "1890-05-01"
    assert "GB/T 3304" in by_column["民族"].message_zh and by_column["民族"].value == "火星族"
    id_message = by_column["公民身份号码"]
    assert "check character" in id_message.message_en and "recorded sex is male" in id_message.message_en
    assert "校验码" in id_message.message_zh and "性别" in id_message.message_zh
    assert [r.row for r in result.rows] == [2, 4]  # the other rows are fine


@pytest.mark.django_db
def test_ethnicity_is_stored_by_its_gb_t_3304_name():
    rows = sample_rows(4)
    for i, written in enumerate(["蒙古", "05", "", "其他"]):
        rows[i][HEADER.index("民族")] = written
    result = parse_file(to_csv(rows), "p.csv")
    assert result.ok, result.errors
    assert [r.ethnicity for r in result.rows] == ["蒙古族", "维吾尔族", "汉族", "其他未识别民族"]


@pytest.mark.django_db
def test_a_living_person_older_than_120_is_refused():
    rows = sample_rows(2)
    rows[1] = person_row(1, relation="子", **{"出生日期": "1901-01-01", "公民身份号码": ""})
    _, by_row = _row_errors(rows)
    (problem,) = by_row[3]
    assert problem.column == "出生日期" and "120" in problem.message_zh
