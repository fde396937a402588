"""Annual statistical report: the PDF (text read back with pypdf) and the workbook (cells,
charts) carry the indicator engine's figures for the unit and every unit below it."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from popreg.stats import report
from popreg.stats.report import TABLE_COLUMNS, build_report, fmt, line_svg, pyramid_svg

from .test_dashboard import dash, snap, stats_home  # noqa: F401  (shared fixtures)

MADE_AT = datetime(2025, 11, 20, 9, 30)


@pytest.fixture(scope="module")
def county_report(dash):  # noqa: F811
    county = dash.county()
    return build_report(dash, county, dash.last_year, "registered", made_by="统计员甲", made_at=MADE_AT)


def test_report_rows_are_the_units_below_and_the_total(county_report, dash):  # noqa: F811
    county = dash.county()
    codes = [r["unit_code"] for r in county_report.rows]
    assert codes == [t.code for t in dash.children(county)] + [county.code]
    for r in county_report.rows:
        want = dash.row(r["unit_code"], dash.last_year)
        assert r["population_end"] == want["population_end"] and r["births"] == want["births"]
    # each row also carries its label as printed ("2025（截至10月31日）" for the year to date)
    assert [{k: v for k, v in r.items() if k != "period_label"} for r in county_report.trend] == dash.rows(county.code)


def test_report_respects_a_jurisdiction(dash):  # noqa: F811
    county = dash.county()
    first = dash.children(county)[0]
    data = build_report(dash, county, dash.last_year, "registered", made_by="x", made_at=MADE_AT,
                        covers=lambda code: code.startswith(first.prefix))
    assert [r["unit_code"] for r in data.rows if r["unit_code"] != county.code] == [first.code]


def test_pdf_text_has_the_figures(county_report, dash):  # noqa: F811
    pdf = report.report_pdf(county_report)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    county = dash.county()
    assert re.sub(r"\s+", "", county_report.title) in flat
    assert "统计员甲" in flat and "2025-11-2009:30" in flat
    assert f"统计快照{county_report.snapshot}" in flat
    for r in county_report.rows:
        assert r["unit_code"] in flat
        assert re.sub(r"\s+", "", r["unit_name"]) in flat
    row = dash.row(county.code, dash.last_year)
    for key in ("population_end", "births", "deaths"):
        assert fmt(row[key], "int") in flat, key
    for key in ("cbr", "cdr", "rni"):
        assert fmt(row[key], "rate") in flat, key
    for year in dash.years:
        assert str(year) in flat
    for chart_title in ("年龄金字塔", "出生人口性别比及95%区间", "年末人口"):
        assert chart_title in flat
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2


def test_workbook_cells_and_charts(county_report, dash):  # noqa: F811
    wb = load_workbook(io.BytesIO(report.report_xlsx(county_report)))
    assert wb.sheetnames == ["汇总", "趋势", "年龄金字塔", "说明"]
    ws = wb["汇总"]
    header = [c.value for c in ws[4]]
    assert header == [h for _, h, _ in TABLE_COLUMNS]
    for i, r in enumerate(county_report.rows, start=5):
        got = {key: ws.cell(i, j).value for j, (key, _, _) in enumerate(TABLE_COLUMNS, start=1)}
        want = dash.row(r["unit_code"], dash.last_year)
        assert got["unit_code"] == want["unit_code"]
        for key in ("population_start", "population_end", "births", "deaths", "in_migration"):
            assert got[key] == want[key], key
        for key in ("cbr", "cdr", "rni", "srb", "tfr"):
            assert got[key] == (pytest.approx(want[key]) if want[key] is not None else None), key
    trend = wb["趋势"]
    assert [trend.cell(i, 1).value for i in range(2, 2 + len(dash.years))] == [str(y) for y in dash.years]
    assert len(trend._charts) == 3
    pyr = wb["年龄金字塔"]
    assert len(pyr._charts) == 1
    groups = [pyr.cell(i, 1).value for i in range(2, 20)]
    assert groups == county_report.pyramid["groups"]
    assert [pyr.cell(i, 2).value for i in range(2, 20)] == county_report.pyramid["male"]
    assert [pyr.cell(i, 3).value for i in range(2, 20)] == county_report.pyramid["female"]
    about = {r[0].value: r[1].value for r in wb["说明"].iter_rows()}
    assert about["制表人"] == "统计员甲" and about["统计快照"] == county_report.snapshot
    assert wb.properties.creator == "popreg (统计员甲)"


def test_svg_charts_draw_every_bar_and_skip_gaps():
    svg = pyramid_svg({"groups": ["0-4", "5-9"], "male": [10, 20], "female": [15, 0]})
    assert svg.count("<rect") == 4 and "男" in svg and "女" in svg
    line = line_svg(["2020", "2021", "2022", "2023"], [("srb", [105.0, None, 110.0, 108.0])],
                    band=([90.0, None, 95.0, 94.0], [120.0, None, 125.0, 122.0]))
    # the missing year breaks the line: one polyline for the last two points only
    assert line.count("<polyline") == 1 and line.count("<circle") == 3
    assert "<polygon" in line
    assert line_svg([], [("empty", [])]).startswith("<svg")


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [(None, "int", ""), (1234567, "int", "1,234,567"), (7.6851, "rate", "7.69"),
     (106.55, "ratio", "106.5"), (1.2345, "tfr", "1.23"), ("x", "text", "x")],
)  # fmt: skip
def test_cell_formats(value, kind, text):
    assert fmt(value, kind) == text


def test_srb_interval_marks_too_few_births():
    assert report.srb_interval({"srb_low": 90.04, "srb_high": 120.0, "srb_insufficient": True}) == "90.0–120.0*"
    assert report.srb_interval({"srb_low": 50.0, "srb_high": None, "srb_insufficient": True}) == "50.0–∞*"
    assert report.srb_interval({"srb_low": None}) == ""
