"""A part of a year is the year to date (本年累计), labelled as such everywhere, with
annualised rates beside the raw ones; the demo's statistics use the synthetic county's
reference moment.

The shared county (tests/stats/test_dashboard.py) has its reference moment at 2025-11-01
00:00: its cube holds the full years 2016–2024 and the year to date 1 January – 31 October
2025 (304 days of a 365-day year).
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from popreg.core.demography import annualised_rate
from popreg.stats import report
from popreg.stats.dashboard import current_population
from popreg.stats.indicators import IndicatorError, SnapshotIndicators
from popreg.stats.report import build_report

from .test_dashboard import dash, small_snap, snap, stats_home  # noqa: F401  (shared fixtures)
from .test_dashboard_views import fast_password_hasher, home, login, units  # noqa: F401

YTD = 2025
MADE_AT = datetime(2025, 11, 20, 9, 30)


def test_annualised_rate_is_the_rate_per_person_year():
    # 9 births in the first 304 days of 2025, mean population 1,498
    raw = 9 / 1498 * 1000
    assert round(raw, 2) == 6.01
    assert round(annualised_rate(raw, 304, 365) or 0, 2) == 7.21
    assert annualised_rate(raw, 366, 366) == pytest.approx(raw)  # a full (leap) year
    assert annualised_rate(None, 304, 365) is None
    with pytest.raises(ValueError):
        annualised_rate(1.0, 0, 365)


def test_cube_has_the_year_to_date_after_the_full_years(dash):  # noqa: F811
    ytd = dash.year_to_date
    assert ytd is not None
    assert (ytd.year, ytd.start, ytd.end, ytd.last_day) == (2025, date(2025, 1, 1), date(2025, 11, 1),
                                                            date(2025, 10, 31))
    assert (ytd.days, ytd.year_days) == (304, 365)
    assert ytd.label_zh == "2025年（本年累计，截至10月31日）"
    assert dash.last_year == 2024 and dash.all_years[-1] == 2025  # the pages open on a full year
    assert dash.is_year_to_date(2025) and not dash.is_year_to_date(2024)


@pytest.mark.parametrize("population", ["registered", "resident"])
def test_year_to_date_rows_add_up(dash, snap, population):  # noqa: F811
    """Start = the end of 2024; end = the population at the reference moment, counted
    independently; stocks and flows balance; villages add up to their township."""
    now = current_population(snap)
    now = now[now["population"] == population]
    for unit in [dash.county(), *dash.children(dash.county())]:
        row = dash.row(unit.code, YTD, population)
        assert row is not None and row["year_to_date"] is True
        assert (row["period_start"], row["period_end"]) == ("2025-01-01", "2025-11-01")
        assert row["population_start"] == dash.row(unit.code, 2024, population)["population_end"]
        assert row["population_end"] == int(now[now["unit"].str.startswith(unit.prefix)]["n"].sum())
        assert row["population_end"] == (
            row["population_start"] + row["births"] - row["deaths"] + row["in_migration"]
            - row["out_migration"] + row["discharges"] - row["enlistments"] + row["other_in"]
            - row["other_out"]
        )  # fmt: skip
        for key in ("cbr", "cdr", "rni"):
            assert row[f"{key}_annualised"] == pytest.approx(row[key] * 365 / 304), key
        full = dash.row(unit.code, 2024, population)
        assert full["year_to_date"] is False and full["cbr_annualised"] == pytest.approx(full["cbr"])
    town = dash.children(dash.county())[0]
    villages = [dash.row(v.code, YTD, population) for v in dash.children(town)]
    assert sum(v["births"] for v in villages if v) == dash.row(town.code, YTD, population)["births"]


def test_year_to_date_births_are_the_births_of_the_months_elapsed(dash, snap):  # noqa: F811
    import duckdb

    from popreg.snapshot.format import table_path

    con = duckdb.connect()
    births = con.execute(
        f"""SELECT count(*) FROM read_parquet('{table_path(snap, "events")}') e
            JOIN read_parquet('{table_path(snap, "persons")}') p USING (person_id)
            WHERE e.event_type = 'birth' AND e.event_date >= DATE '2025-01-01'
              AND e.event_date < DATE '2025-11-01'
              AND p.residence_type IN ('registered', 'floating_out')"""
    ).fetchone()[0]
    row = dash.row(dash.county().code, YTD)
    assert births > 0 and row["births"] == births
    # the TFR is per woman-year: not deflated by the missing two months
    assert row["tfr"] == pytest.approx(dash.row(dash.county().code, 2024)["tfr"], rel=0.5)


@pytest.mark.parametrize(("moment", "end"), [
    ("2025-11-01T00:00:00", date(2025, 11, 1)),  # the demo: 1 January – 31 October
    ("2025-11-15T10:30:00", date(2025, 11, 1)),  # mid-month: the complete months only
    ("2025-02-01T00:00:00", date(2025, 2, 1)),  # January alone
    ("2025-01-20T00:00:00", None),  # no complete month yet
    ("2025-01-01T00:00:00", None),  # the year has not begun
])
def test_year_to_date_holds_the_complete_months_before_the_moment(small_snap, tmp_path, moment, end):  # noqa: F811
    import shutil

    from popreg.stats.dashboard import year_to_date_end

    copy = tmp_path / "snap"
    shutil.copytree(small_snap, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["reference_moment"] = moment
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert year_to_date_end(copy) == end


def test_engine_refuses_a_year_to_date_it_cannot_answer(snap):  # noqa: F811
    eng = SnapshotIndicators(snap)
    with pytest.raises(IndicatorError, match="2月至12月"):
        eng.compute_year_to_date(date(2025, 1, 1), "county")
    with pytest.raises(IndicatorError, match="first day of a month"):
        eng.compute_year_to_date(date(2025, 10, 15), "county")
    with pytest.raises(IndicatorError, match="超出快照数据范围"):
        eng.compute_year_to_date(date(2025, 12, 1), "county")  # after the reference moment


# -- pages ---------------------------------------------------------------------------------


def _kpi(content: str, name: str) -> str:
    m = re.search(rf'data-kpi="{name}">([^<]*)<', content)
    assert m, name
    return m.group(1)


def test_page_labels_the_year_to_date_and_shows_annualised_rates(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    row = dash.row(county.code, YTD)
    page = client.get(f"/stats/units/{county.code}/").content.decode()
    # opens on the last full year; the year to date is offered under its own name
    assert _kpi(page, "births") == str(dash.row(county.code, 2024)["births"])
    assert f'data-ytd="{YTD}">2025（截至10月31日）</a>' in page
    assert 'id="ytd-note"' not in page and "data-kpi=\"cbr_annualised\"" not in page
    page = client.get(f"/stats/units/{county.code}/?year={YTD}").content.decode()
    assert "<strong>2025（截至10月31日）</strong>" in page
    assert "2025年本年累计（截至10月31日）出生 / 死亡" in page
    assert "2025年10月末户籍人口" in page
    assert 'id="ytd-note"' in page and "× 365 / 304" in page
    assert _kpi(page, "births") == str(row["births"])
    assert _kpi(page, "cbr") == f"{row['cbr']:.2f}"
    assert _kpi(page, "cbr_annualised") == f"{row['cbr_annualised']:.2f}"
    assert _kpi(page, "rni_annualised") == f"{row['rni_annualised']:.2f}"
    # the trend table names the row and puts the annualised rate beside the raw one
    trend = re.search(r'<tr data-year="2025" data-ytd="1"><td>([^<]*)</td>(.*?)</tr>', page, re.S)
    assert trend and trend.group(1) == "2025（截至10月31日）"
    assert f'data-annualised="cdr">（年化 {row["cdr_annualised"]:.2f}）' in trend.group(2)
    # the comparison of the townships too
    town = dash.children(dash.county())[0]
    trow = dash.row(town.code, YTD)
    assert f'data-annualised="cbr">（年化 {trow["cbr_annualised"]:.2f}）' in page
    data = re.search(r'id="stats-data" type="application/json">(.*?)</script>', page, re.S)
    assert data and json.loads(data.group(1))["years"][-2:] == ["2024", "2025（截至10月31日）"]
    charts = json.loads(data.group(1))
    # the rate chart's year-to-date point is annualised, the others are the years' own rates
    assert charts["cbr"][-1] == pytest.approx(row["cbr_annualised"])
    assert charts["cdr"][-2] == pytest.approx(dash.row(county.code, 2024)["cdr"])
    assert 'id="ytd-charts"' in page and "2025（截至10月31日）为年化率" in page


def test_estimate_page_names_its_partial_years(login, units, dash):  # noqa: F811
    """The dual-system estimate's window (from the hospital records' first full month to
    the reference moment) cuts its first and last years: they are named as such."""
    info = dash.meta["dse"]
    start, end = date.fromisoformat(info["window_start"]), date.fromisoformat(info["window_end"])
    assert end == date(2025, 11, 1)
    client = login("statistician")
    page = client.get(f"/stats/units/{units['county'].code}/dse/").content.decode()
    assert 'data-year="2025">2025（截至10月31日）</a>' in page
    assert "<tr><td>2025（截至10月31日）</td>" in page
    if start.month != 1 or start.day != 1:
        assert f"<tr><td>{start.year}（{start.month}月{start.day}日起）</td>" in page
    assert "<tr><td>2024</td>" in page


def test_page_in_english_says_year_to_date(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    client.cookies["django_language"] = "en"
    page = client.get(f"/stats/units/{county.code}/?year={YTD}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2025, year to date (to 31 October)" in page
    assert "at the end of October 2025" in page
    assert "(annualised " in page


def test_api_names_the_year_to_date_with_its_annualised_rates(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    got = client.get(f"/api/stats/units/{county.code}/indicators")
    assert got.status_code == 200, got.content[:300]
    body = got.json()
    assert body["reference_moment"] == "2025-11-01T00:00:00+08:00"
    kinds = [r["period_kind"] for r in body["rows"]]
    assert kinds == ["year"] * len(dash.years) + ["year_to_date"]
    last, full = body["rows"][-1], body["rows"][-2]
    row = dash.row(county.code, YTD)
    assert last["period"] == "2025" and last["period_label"] == "2025年（本年累计，截至10月31日）"
    assert (last["period_start"], last["period_end"], last["period_days"], last["year_days"]) == (
        "2025-01-01", "2025-11-01", 304, 365)
    assert last["births"] == row["births"] and last["cbr"] == pytest.approx(row["cbr"])
    assert last["cbr_annualised"] == pytest.approx(row["cbr"] * 365 / 304)
    assert full["period_label"] == "2024年" and full["cbr_annualised"] == pytest.approx(full["cbr"])
    resident = client.get(f"/api/stats/units/{county.code}/indicators?population=resident").json()
    assert resident["rows"][-1]["births"] == dash.row(county.code, YTD, "resident")["births"]
    assert client.get(f"/api/stats/units/{county.code}/indicators?population=x").status_code == 400


def test_api_keeps_to_the_jurisdiction(login, units):  # noqa: F811
    client = login("clerk")
    assert client.get(f"/api/stats/units/{units['village_a1'].code}/indicators").status_code == 200
    assert client.get(f"/api/stats/units/{units['village_b1'].code}/indicators").status_code == 404
    assert client.get(f"/api/stats/units/{units['county'].code}/indicators").status_code == 404


# -- PDF and workbook ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ytd_report(dash):  # noqa: F811
    return build_report(dash, dash.county(), YTD, "registered", made_by="统计员甲", made_at=MADE_AT)


def test_pdf_says_year_to_date_with_annualised_rates(ytd_report, dash):  # noqa: F811
    pdf = report.report_pdf(ytd_report)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    assert ytd_report.title.endswith("2025年（本年累计，截至10月31日）人口统计报告（户籍人口）")
    assert re.sub(r"\s+", "", ytd_report.title) in flat
    assert "统计期间：2025-01-01至2025-10-31（本年累计，304天，全年365天）" in flat
    row = dash.row(dash.county().code, YTD)
    assert f"（年化{row['cbr_annualised']:.2f}‰/{row['cdr_annualised']:.2f}‰/{row['rni_annualised']:.2f}‰）" in flat
    assert "年初/10月末人口" in flat and "出生率(年化‰)" in flat
    assert "2025（截至10月31日）" in flat  # the trend's last row
    assert "2025年10月末年龄金字塔" in flat
    assert "2025*" in flat and "*2025（截至10月31日）：本年累计，出生率、死亡率、自然增长率图中为年化率" in flat
    rates = report.report_charts(ytd_report)["rates"]
    assert ">2025*</text>" in rates and "截至" not in rates  # a short axis label


def test_workbook_has_annualised_columns_and_the_period(ytd_report, dash):  # noqa: F811
    wb = load_workbook(io.BytesIO(report.report_xlsx(ytd_report)))
    ws = wb["汇总"]
    assert ws.cell(1, 1).value == ytd_report.title
    assert "统计期间 2025-01-01 至 2025-10-31（本年累计" in ws.cell(2, 1).value
    header = [c.value for c in ws[4]]
    assert header[header.index("自然增长率(‰)") + 1: header.index("自然增长率(‰)") + 4] == [
        "出生率(年化‰)", "死亡率(年化‰)", "自然增长率(年化‰)"]
    assert "10月末人口" in header and "年末人口" not in header
    total = len(ytd_report.rows) + 4  # the unit's own row is last
    county = dash.row(dash.county().code, YTD)
    got = {h: ws.cell(total, j).value for j, h in enumerate(header, start=1)}
    assert got["单位代码"] == county["unit_code"]
    assert got["出生"] == county["births"]
    assert got["出生率(‰)"] == pytest.approx(county["cbr"])
    assert got["出生率(年化‰)"] == pytest.approx(county["cbr"] * 365 / 304)
    assert got["死亡率(年化‰)"] == pytest.approx(county["cdr_annualised"])
    trend = wb["趋势"]
    heads = [c.value for c in trend[1]]
    last = [c.value for c in trend[len(dash.all_years) + 1]]
    assert last[0] == "2025（截至10月31日）"
    assert last[heads.index("出生率(年化‰)")] == pytest.approx(county["cbr_annualised"])
    about = {r[0].value: r[1].value for r in wb["说明"].iter_rows()}
    assert about["统计期间"] == "2025-01-01 至 2025-10-31（本年累计，304 天，全年 365 天）"
    assert "全年天数 ÷ 已过天数" in about["年化率"]


def test_report_prints_its_making_time_in_the_countys_zone(dash, settings):  # noqa: F811
    """Made at 2026-12-01 00:00 in Beijing (2026-11-30 16:00 UTC): printed as 2026-12-01."""
    from datetime import UTC

    settings.TIME_ZONE = "Asia/Shanghai"
    made = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    data = build_report(dash, dash.county(), 2024, "registered", made_by="统计员甲", made_at=made)
    wb = load_workbook(io.BytesIO(report.report_xlsx(data)))
    about = {r[0].value: r[1].value for r in wb["说明"].iter_rows()}
    assert about["制表时间"] == "2026-12-01 00:00"
    assert wb["汇总"].cell(2, 1).value.endswith("制表人 统计员甲，2026-12-01 00:00")
    flat = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(report.report_pdf(data))).pages))
    assert "制表时间2026-12-0100:00" in flat and "2026-11-30" not in flat


def test_full_year_report_is_labelled_as_a_year(dash):  # noqa: F811
    data = build_report(dash, dash.county(), 2024, "registered", made_by="x", made_at=MADE_AT)
    assert data.year_to_date is None and "2024年人口统计报告" in data.title
    assert "年化" not in "".join(h for _, h, _ in data.table_columns)


# -- the demo's reference moment ---------------------------------------------------------------


def test_stats_refresh_at_the_loaded_snapshots_moment(db, tmp_path, settings, small_snap):  # noqa: F811
    from django.core.management import CommandError, call_command

    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.stats.dashboard import load_dashboard

    settings.POPREG_HOME = tmp_path
    with pytest.raises(CommandError, match="--at loaded"):
        call_command("stats_refresh", "--at", "loaded", "--no-dse")
    load_snapshot(small_snap, system_actor("test"))
    call_command("stats_refresh", "--at", "loaded", "--no-dse")
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["20251101T000000"]
    demo = load_dashboard(build=False)
    assert demo.reference_moment == datetime(2025, 11, 1)
    assert demo.last_year == 2024 and demo.year_to_date is not None
    assert demo.year_to_date.end == date(2025, 11, 1)


def test_make_demo_refreshes_at_the_loaded_moment():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "popreg stats_refresh --at loaded" in makefile
