"""Annual statistical report (年度人口统计报告) of a unit: PDF and Excel, with charts.

The report is built from the dashboard cube (:mod:`popreg.stats.dashboard`), so its
figures are those of the indicator engine on one statistics snapshot, which the report
names.  Contents: the unit's figures for the year, one table row per unit below it (the
townships of the county, the villages of a township) and the unit's total, the ten-year
trends and the age pyramid at the end of the year.

Charts are drawn server-side without a plotting library: inline SVG (written here) in the
PDF, which WeasyPrint renders with the CJK font ``Noto Sans CJK SC`` (Debian
fonts-noto-cjk), and native openpyxl charts in the workbook (Excel draws them).

    data = build_report(dash, unit, 2024, "registered", made_by="tongji", made_at=now)
    pdf_bytes = report_pdf(data)
    xlsx_bytes = report_xlsx(data)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from popreg.registry.localtime import format_moment
from popreg.stats.dashboard import Dashboard, Unit, YearToDate
from popreg.stats.indicators import Population

POPULATION_LABELS = {"registered": "户籍人口", "resident": "常住人口"}
FONT = "Noto Sans CJK SC"

#: Columns of the per-unit table: key in the engine table, Chinese header, number format.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("unit_code", "单位代码", "text"),
    ("unit_name", "单位", "text"),
    ("population_start", "年初人口", "int"),
    ("population_end", "年末人口", "int"),
    ("births", "出生", "int"),
    ("male_births", "其中男", "int"),
    ("female_births", "其中女", "int"),
    ("deaths", "死亡", "int"),
    ("in_migration", "迁入", "int"),
    ("out_migration", "迁出", "int"),
    ("cbr", "出生率(‰)", "rate"),
    ("cdr", "死亡率(‰)", "rate"),
    ("rni", "自然增长率(‰)", "rate"),
    ("srb", "出生人口性别比", "ratio"),
    ("srb_interval", "性别比95%区间", "text"),
    ("tfr", "总和生育率", "tfr"),
    ("total_dependency_ratio", "总抚养比", "ratio"),
)

#: Beside the crude rates of a year to date: the same per year (``*_annualised``).
ANNUALISED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cbr_annualised", "出生率(年化‰)", "rate"),
    ("cdr_annualised", "死亡率(年化‰)", "rate"),
    ("rni_annualised", "自然增长率(年化‰)", "rate"),
)

TREND_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("period_label", "年份", "text"),
    ("population_end", "年末人口", "int"),
    ("births", "出生", "int"),
    ("deaths", "死亡", "int"),
    ("cbr", "出生率(‰)", "rate"),
    ("cdr", "死亡率(‰)", "rate"),
    ("rni", "自然增长率(‰)", "rate"),
    ("srb", "出生人口性别比", "ratio"),
    ("srb_low", "性别比下限", "ratio"),
    ("srb_high", "性别比上限", "ratio"),
    ("tfr", "总和生育率", "tfr"),
    *ANNUALISED_COLUMNS,  # last: the workbook's charts read the columns before them
)


def fmt(value: Any, kind: str) -> str:
    """A table cell as printed: empty for no value, thousands for counts, 2 or 1 decimals."""
    if value is None:
        return ""
    if kind == "int":
        return f"{int(value):,}"
    if kind == "rate":
        return f"{value:.2f}"
    if kind == "ratio":
        return f"{value:.1f}"
    if kind == "tfr":
        return f"{value:.2f}"
    return str(value)


def srb_interval(row: dict[str, Any]) -> str:
    """"98.1–112.4" (or "98.1–∞" without girls); "*" marks too few births to judge."""
    if row.get("srb_low") is None:
        return ""
    high = "∞" if row.get("srb_high") is None else f"{row['srb_high']:.1f}"
    mark = "*" if row.get("srb_insufficient") else ""
    return f"{row['srb_low']:.1f}–{high}{mark}"


@dataclass
class ReportData:
    unit: Unit
    year: int
    population: Population
    made_by: str
    made_at: datetime
    snapshot: str
    reference_moment: datetime
    row: dict[str, Any] | None
    rows: list[dict[str, Any]]  # the units below, then the unit itself (total)
    trend: list[dict[str, Any]]
    pyramid: dict[str, Any]
    ancestors: list[Unit] = field(default_factory=list)
    #: set when ``year`` is the year to date (a part of the year, to the snapshot's moment)
    year_to_date: YearToDate | None = None

    @property
    def population_label(self) -> str:
        return POPULATION_LABELS[self.population]

    @property
    def period_label(self) -> str:
        """2024年, or 2025年（本年累计，截至10月31日）."""
        return self.year_to_date.label_zh if self.year_to_date else f"{self.year}年"

    @property
    def end_label(self) -> str:
        """When the period ends: 年末, or 10月末."""
        return f"{self.year_to_date.last_day.month}月末" if self.year_to_date else "年末"

    @property
    def title(self) -> str:
        return f"{self.unit.name}{self.period_label}人口统计报告（{self.population_label}）"

    @property
    def table_columns(self) -> tuple[tuple[str, str, str], ...]:
        """The per-unit table's columns; a year to date has its annualised rates beside."""
        if self.year_to_date is None:
            return TABLE_COLUMNS
        cols: list[tuple[str, str, str]] = []
        for key, header, kind in TABLE_COLUMNS:
            cols.append((key, header.replace("年末", self.end_label), kind))
            if key == "rni":
                cols.extend(ANNUALISED_COLUMNS)
        return tuple(cols)


def build_report(
    dash: Dashboard,
    unit: Unit,
    year: int,
    population: Population,
    *,
    made_by: str,
    made_at: datetime,
    covers: Callable[[str], bool] | None = None,
) -> ReportData:
    """Gather the report's figures; ``covers`` keeps out units outside a jurisdiction."""
    allowed = covers or (lambda _code: True)
    children = [c for c in dash.children(unit) if allowed(c.code)]
    rows = [r for c in children if (r := dash.row(c.code, year, population)) is not None]
    own = dash.row(unit.code, year, population)
    if own is not None:
        rows.append(own)
    for r in rows:
        r["srb_interval"] = srb_interval(r)
    trend = dash.rows(unit.code, population)
    ytd = dash.year_to_date
    for r in trend:
        r["period_label"] = (f"{r['period']}（{ytd.to_zh}）" if ytd and dash.is_year_to_date(int(r["period"]))
                             else str(r["period"]))  # fmt: skip
    return ReportData(
        unit=unit, year=year, population=population, made_by=made_by, made_at=made_at,
        snapshot=dash.snapshot.name, reference_moment=dash.reference_moment, row=own,
        rows=rows, trend=trend,
        pyramid=dash.age_pyramid(unit.code, year, population), ancestors=dash.ancestors(unit),
        year_to_date=dash.year_to_date if dash.is_year_to_date(year) else None,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# SVG charts (for the PDF)
# ---------------------------------------------------------------------------------------

_COLORS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'font-family="{FONT}" font-size="10">' + "".join(body) + "</svg>"
    )


def pyramid_svg(pyramid: dict[str, Any], width: int = 460, height: int = 330) -> str:
    """Horizontal bars, men left and women right, youngest at the bottom."""
    groups: Sequence[str] = pyramid["groups"]
    male: Sequence[int] = pyramid["male"]
    female: Sequence[int] = pyramid["female"]
    top, bottom, label_w = 20, 24, 44
    half = (width - label_w) / 2 - 10
    centre_l = 10 + half
    centre_r = centre_l + label_w
    scale_max = _nice_max(max([*male, *female, 1]))
    bar_h = (height - top - bottom) / len(groups)
    body = [
        f'<text x="{centre_l - half / 2:.1f}" y="12" text-anchor="middle" fill="{_COLORS[0]}">男</text>',
        f'<text x="{centre_r + half / 2:.1f}" y="12" text-anchor="middle" fill="{_COLORS[1]}">女</text>',
    ]
    for i, g in enumerate(groups):
        y = height - bottom - (i + 1) * bar_h
        wm = male[i] / scale_max * half
        wf = female[i] / scale_max * half
        body.append(f'<rect x="{centre_l - wm:.1f}" y="{y + 1:.1f}" width="{wm:.1f}" '
                    f'height="{bar_h - 2:.1f}" fill="{_COLORS[0]}"/>')
        body.append(f'<rect x="{centre_r:.1f}" y="{y + 1:.1f}" width="{wf:.1f}" '
                    f'height="{bar_h - 2:.1f}" fill="{_COLORS[1]}"/>')
        body.append(f'<text x="{centre_l + label_w / 2:.1f}" y="{y + bar_h / 2 + 3.5:.1f}" '
                    f'text-anchor="middle" font-size="8">{escape(g)}</text>')
    axis_y = height - bottom + 12
    for frac in (0.0, 0.5, 1.0):
        v = f"{int(scale_max * frac):,}"
        body.append(f'<text x="{centre_l - frac * half:.1f}" y="{axis_y}" text-anchor="middle" font-size="8">{v}</text>')
        body.append(f'<text x="{centre_r + frac * half:.1f}" y="{axis_y}" text-anchor="middle" font-size="8">{v}</text>')
    return _svg(width, height, body, "年龄金字塔 age pyramid")


def line_svg(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    band: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
    width: int = 460,
    height: int = 220,
    title: str = "",
    zero_based: bool = False,
) -> str:
    """Lines over years (gaps where a value is missing); ``band``: a shaded interval."""
    left, right, top, bottom = 52, 12, 22, 26
    values: list[float] = [v for _, s in series for v in s if v is not None]
    if band:
        values += [v for s in band for v in s if v is not None]
    lo = min(values, default=0.0)
    hi = max(values, default=1.0)
    if zero_based:
        lo = min(lo, 0.0)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - (0 if zero_based and lo == 0 else pad), hi + pad
    n = max(len(labels), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    body = [f'<text x="{left}" y="13" font-size="10" font-weight="bold">{escape(title)}</text>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
            f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        body.append(f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end" font-size="8">{v:,.1f}</text>')
        body.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + plot_w}" y2="{y(v):.1f}" stroke="#e5e5e5"/>')
    for i, lab in enumerate(labels):
        body.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="8">{escape(lab)}</text>')
    if band:
        upper = [(i, v) for i, v in enumerate(band[1]) if v is not None]
        lower = [(i, v) for i, v in enumerate(band[0]) if v is not None]
        if upper and lower:
            pts = [f"{x(i):.1f},{y(v):.1f}" for i, v in upper]
            pts += [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(lower)]
            body.append(f'<polygon points="{" ".join(pts)}" fill="{_COLORS[0]}" fill-opacity="0.15"/>')
    legend_x = left + 8
    for k, (name, s) in enumerate(series):
        color = _COLORS[k % len(_COLORS)]
        segment: list[str] = []
        for i, point in enumerate([*s, None]):
            if point is None:
                if len(segment) > 1:
                    body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{color}" stroke-width="1.8"/>')
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(point):.1f}")
            body.append(f'<circle cx="{x(i):.1f}" cy="{y(point):.1f}" r="2" fill="{color}"/>')
        body.append(f'<rect x="{legend_x}" y="{top + 2}" width="10" height="3" fill="{color}"/>')
        body.append(f'<text x="{legend_x + 13}" y="{top + 7}" font-size="8">{escape(name)}</text>')
        legend_x += 16 + 9 * len(name)
    return _svg(width, height, body, title)


def report_charts(data: ReportData) -> dict[str, str]:
    # the year to date is "2025*" on the axes (its name is in the note under the charts) and
    # its point on the rate chart is its annualised rate, comparable with the full years
    years = [f"{r['period']}*" if r.get("year_to_date") else str(r["period"]) for r in data.trend]
    return {
        "pyramid": pyramid_svg(data.pyramid),
        "population": line_svg(years, [("年末人口", [r["population_end"] for r in data.trend])],
                               title="年末人口 population at year end"),
        "rates": line_svg(years, [("出生率", [r.get("cbr_annualised", r["cbr"]) for r in data.trend]),
                                  ("死亡率", [r.get("cdr_annualised", r["cdr"]) for r in data.trend]),
                                  ("自然增长率", [r.get("rni_annualised", r["rni"]) for r in data.trend])],
                          title="出生率、死亡率、自然增长率（‰）"),
        "srb": line_svg(years, [("出生人口性别比", [r["srb"] for r in data.trend])],
                        band=([r["srb_low"] for r in data.trend], [r["srb_high"] for r in data.trend]),
                        title="出生人口性别比及95%区间"),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------


def report_html(data: ReportData) -> str:
    from django.template.loader import render_to_string

    return str(render_to_string("stats/report_print.html", {
        "data": data, "charts": report_charts(data), "period_text": _period_text(data),
        "chart_note": next((f"* {r['period_label']}：本年累计，出生率、死亡率、自然增长率图中为年化率；"
                            "年末人口为期末人口" for r in data.trend if r.get("year_to_date")), ""),
        "header": [h for _, h, _ in data.table_columns],
        "table": [[fmt(r.get(k), kind) for k, _, kind in data.table_columns] for r in data.rows],
        "trend_header": [h for _, h, _ in TREND_COLUMNS],
        "trend": [[fmt(r.get(k), kind) for k, _, kind in TREND_COLUMNS] for r in data.trend],
        "row": data.row,
        "fmt_row": {k: fmt((data.row or {}).get(k), kind) for k, _, kind in (*TABLE_COLUMNS, *ANNUALISED_COLUMNS)},
        "pyramid_rows": list(zip(data.pyramid["groups"], data.pyramid["male"], data.pyramid["female"], strict=True)),
    }))  # fmt: skip


def report_pdf(data: ReportData) -> bytes:
    """A4 PDF with the tables and charts; Chinese in Noto Sans CJK SC, embedded."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=report_html(data)).write_pdf()
    return pdf


# ---------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------


def _write_table(ws: Any, top: int, columns: Sequence[tuple[str, str, str]],
                 rows: Sequence[dict[str, Any]]) -> None:
    from openpyxl.styles import Font, PatternFill

    head_fill = PatternFill("solid", fgColor="DDE5EE")
    for j, (_key, header, _kind) in enumerate(columns, start=1):
        cell = ws.cell(top, j, header)
        cell.font = Font(bold=True)
        cell.fill = head_fill
    for i, r in enumerate(rows, start=top + 1):
        for j, (key, _header, kind) in enumerate(columns, start=1):
            value = r.get(key)
            cell = ws.cell(i, j, value)
            if kind == "text":
                cell.number_format = "@"
            elif kind == "int":
                cell.number_format = "#,##0"
            elif kind in ("rate", "tfr"):
                cell.number_format = "0.00"
            elif kind == "ratio":
                cell.number_format = "0.0"


def _period_text(data: ReportData) -> str:
    ytd = data.year_to_date
    if ytd is None:
        return f"{data.year}-01-01 至 {data.year}-12-31（全年）"
    return (f"{ytd.start.isoformat()} 至 {ytd.last_day.isoformat()}（本年累计，{ytd.days} 天，"
            f"全年 {ytd.year_days} 天）")


def fill_report_workbook(wb: Any, data: ReportData) -> None:
    """Fill ``wb``: 汇总 (table per unit), 趋势 (trend + line charts), 年龄金字塔 (pyramid +
    bar chart), 说明 (source, maker, definitions).  Downloads go through
    :mod:`popreg.registry.exports`, which neutralises and stamps it."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.active
    ws.title = "汇总"
    ws.cell(1, 1, data.title).font = Font(bold=True, size=14)
    ws.cell(2, 1, f"统计期间 {_period_text(data)}；统计快照 {data.snapshot}（标准时点 {data.reference_moment:%Y-%m-%d %H:%M}）；"
                   f"制表人 {data.made_by}，{format_moment(data.made_at)}")
    _write_table(ws, 4, data.table_columns, data.rows)
    if data.rows:
        for cell in ws[4 + len(data.rows)]:
            cell.font = Font(bold=True)
    ws.cell(6 + len(data.rows), 1, "* 出生数不足 1000，性别比仅供参考，不宜据以判断。")
    for j in range(1, len(data.table_columns) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 16 if j <= 2 else 11
    ws.freeze_panes = "C5"

    tr = wb.create_sheet("趋势")
    _write_table(tr, 1, TREND_COLUMNS, data.trend)
    n = len(data.trend)
    if n:
        cats = Reference(tr, min_col=1, min_row=2, max_row=n + 1)
        pop = LineChart()
        pop.title = "年末人口"
        pop.add_data(Reference(tr, min_col=2, min_row=1, max_row=n + 1), titles_from_data=True)
        pop.set_categories(cats)
        pop.height, pop.width = 7, 16
        tr.add_chart(pop, f"A{n + 4}")
        rates = LineChart()
        rates.title = "出生率、死亡率、自然增长率（‰）"
        rates.add_data(Reference(tr, min_col=5, max_col=7, min_row=1, max_row=n + 1), titles_from_data=True)
        rates.set_categories(cats)
        rates.height, rates.width = 7, 16
        tr.add_chart(rates, f"J{n + 4}")
        srb = LineChart()
        srb.title = "出生人口性别比及95%区间"
        srb.add_data(Reference(tr, min_col=8, max_col=10, min_row=1, max_row=n + 1), titles_from_data=True)
        srb.set_categories(cats)
        srb.height, srb.width = 7, 16
        tr.add_chart(srb, f"A{n + 20}")
    py = wb.create_sheet("年龄金字塔")
    py.append(["年龄组", "男", "女", "男（作图用负值）"])
    for g, m, f in zip(data.pyramid["groups"], data.pyramid["male"], data.pyramid["female"], strict=True):
        py.append([g, m, f, -m])
    rows = len(data.pyramid["groups"])
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "clustered"
    chart.overlap = 100
    chart.gapWidth = 10
    chart.title = f"{data.year}年{data.end_label}年龄金字塔"
    chart.add_data(Reference(py, min_col=4, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.add_data(Reference(py, min_col=3, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(py, min_col=1, min_row=2, max_row=rows + 1))
    chart.height, chart.width = 11, 16
    py.add_chart(chart, "F2")

    about = wb.create_sheet("说明")
    for line in (
        ("报告", data.title),
        ("单位代码", data.unit.code),
        ("统计期间", _period_text(data)),
        ("人口口径", f"{data.population_label}（{data.population}）"),
        ("统计快照", data.snapshot),
        ("标准时点", f"{data.reference_moment:%Y-%m-%d %H:%M}"),
        ("制表人", data.made_by),
        ("制表时间", format_moment(data.made_at)),  # the county's time zone
        ("平均人口", "（年初人口 + 年末人口）/ 2"),
        ("出生率、死亡率、自然增长率", "出生数、死亡数、（出生 − 死亡）÷ 平均人口 × 1000（‰）"),
        ("出生人口性别比", "男婴数 ÷ 女婴数 × 100；95% 区间为 Wilson 区间；出生数不足 1000 时不宜判断"),
        ("总和生育率", "5 × 各年龄组（15–49 岁）年龄别生育率之和"),
        ("年化率", "本年累计（不满一年）的出生率、死亡率、自然增长率 × 全年天数 ÷ 已过天数，"
                   "即每人年的事件数；总和生育率按妇女人年计算，本身即为年率"),
    ):
        about.append(list(line))
    about.column_dimensions["A"].width = 26
    about.column_dimensions["B"].width = 80
    wb.properties.creator = f"popreg ({data.made_by})"
    wb.properties.title = data.title


def report_xlsx(data: ReportData) -> bytes:
    """The workbook of :func:`fill_report_workbook` as bytes, its text cells neutralised."""
    from openpyxl import Workbook

    from popreg.registry.exports import neutralise_workbook

    wb = Workbook()
    fill_report_workbook(wb, data)
    neutralise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
