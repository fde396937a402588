"""The five-year-plan sheet (五年规划人口测算表) of a projection job's result, as PDF (A4,
WeasyPrint, Noto Sans CJK SC) and Excel.  Both are built from the stored result
(:func:`popreg.planning.jobs.load_result`) and downloaded through
:mod:`popreg.registry.exports` (permission, stamp, audit).

The plan covers the five calendar years from the base year; its end is 1 January of the
base year + 5 (the end of the plan's last year), or the projection's horizon when shorter.
The charts are the statistics report's SVG charts (:mod:`popreg.stats.report`).
"""

from __future__ import annotations

from typing import Any

from popreg.stats.report import line_svg, pyramid_svg

PLAN_YEARS = 5


def plan_end_index(data: dict[str, Any]) -> int:
    return min(PLAN_YEARS, int(data["years"]))


def _medium(data: dict[str, Any]) -> dict[str, Any]:
    scenarios: list[dict[str, Any]] = data["scenarios"]
    return next((s for s in scenarios if s["code"] == "medium"), scenarios[0])


def _n(v: Any, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{float(v):,.{digits}f}"


def _pct(v: Any, digits: int = 1) -> str:
    return "—" if v is None else f"{float(v) * 100:.{digits}f}%"


def sheet(data: dict[str, Any]) -> dict[str, Any]:
    """The sheet's tables as text cells (shared by the PDF and the workbook)."""
    k = plan_end_index(data)
    base, end = data["base_year"], data["base_year"] + k
    med = _medium(data)
    by_scenario = []
    for s in data["scenarios"]:
        start, stop = s["summary"][0], s["summary"][k]
        growth = (
            (stop["population"] / start["population"]) ** (1 / k) - 1
            if k and start["population"]
            else None
        )
        by_scenario.append([
            f"{s['name_zh']} {s['name_en']}", _n(stop["population"]), _n(stop["male"]), _n(stop["female"]),
            _n(stop["aged_0_14"]), _n(stop["aged_15_64"]), _n(stop["aged_65_plus"]),
            _n(stop["population"] - start["population"]), _pct(growth, 2), _n(stop["total_dependency"], 1),
        ])  # fmt: skip
    vital = []
    for t in range(k):
        row = [str(base + t)]
        for s in data["scenarios"]:
            r = s["summary"][t]
            row += [_n(r["births"]), _n(r["deaths"])]
        vital.append(row)
    grain = [[str(r["year"]), _n(r["population"]), _n(r["need"]), _n(r["growth"]), _n(r["extra_need"]),
              _n(r["output"]), _n(r["output_increase"]), _pct(r["share_of_increase"])]
             for r in med["grain"][: k + 1]]  # fmt: skip
    schools = []
    for r in med["schools"][: k + 1]:
        row = [str(r["year"])]
        for key in ("school_primary", "school_junior", "school_senior"):
            row += [_n(r[key]), _n(r[key + "_capacity"]), _n(r[key + "_gap"])]
        schools.append(row)
    care = [[str(r["year"]), _n(r["aged_65_plus"]), _n(r["beds_needed"]), _n(r["beds"]), _n(r["gap"])]
            for r in med["care"][: k + 1]]  # fmt: skip
    return {
        "title": f"{data['unit_name']} 五年规划人口测算表 Five-year plan population sheet {base}–{end - 1}",
        "base": base, "end": end, "k": k, "medium": med, "by_scenario": by_scenario,
        "scenario_names": [f"{s['name_zh']} {s['name_en']}" for s in data["scenarios"]],
        "vital": vital, "grain": grain, "schools": schools, "care": care,
    }  # fmt: skip


def charts(data: dict[str, Any]) -> dict[str, str]:
    med = _medium(data)
    years = [str(r["year"]) for r in med["summary"]]
    fan = line_svg(years, [(s["name_zh"], [r["population"] for r in s["summary"]]) for s in data["scenarios"]],
                   title="各方案总人口 population by scenario")  # fmt: skip
    return {
        "pyramid_base": pyramid_svg(med["pyramid_base"]),
        "pyramid_end": pyramid_svg(med["pyramid_end"]),
        "fan": fan,
    }


def plan_html(data: dict[str, Any], made_by: str) -> str:
    from django.template.loader import render_to_string

    bt = data.get("backtest") or {}
    pct = f"{bt['error'] * 100:+.2f}%" if bt.get("error") is not None else ""
    return str(render_to_string("planning/plan_print.html", {
        "data": data, "s": sheet(data), "charts": charts(data), "made_by": made_by, "backtest_pct": pct,
    }))  # fmt: skip


def _table(ws: Any, top: int, title: str, header: list[str], rows: list[list[str]]) -> int:
    from openpyxl.styles import Font

    ws.cell(top, 1, title).font = Font(bold=True)
    for j, h in enumerate(header, start=1):
        ws.cell(top + 1, j, h).font = Font(bold=True)
    for i, row in enumerate(rows, start=top + 2):
        for j, v in enumerate(row, start=1):
            text = str(v).replace(",", "").rstrip("%")
            try:
                ws.cell(i, j, float(text) if text not in ("—", "") and j > 1 else v)
            except ValueError:
                ws.cell(i, j, v)
    return top + len(rows) + 3


def fill_plan_workbook(wb: Any, data: dict[str, Any]) -> None:
    """规划表 (the sheet's tables) and 分年龄人口 (population by year, sex and single year of
    age under every scenario, the last age 100+ open)."""
    from openpyxl.styles import Font

    s = sheet(data)
    ws = wb.active
    ws.title = "规划表"
    ws.cell(1, 1, s["title"]).font = Font(bold=True, size=14)
    ws.cell(2, 1, f"{data['unit']} · 快照 snapshot {data['snapshot']} ({data['reference_moment']})")
    row = 4
    row = _table(ws, row, f"规划期末（{s['end']} 年 1 月 1 日）人口 Population at the plan's end", [
        "方案 scenario", "总人口 total", "男 male", "女 female", "0–14", "15–64", "65+",
        "增加 change", "年均增长 growth/year", "总抚养比 dependency"], s["by_scenario"])  # fmt: skip
    header = ["年份 year"]
    for name in s["scenario_names"]:
        header += [f"出生 births {name}", f"死亡 deaths {name}"]
    row = _table(ws, row, "出生与死亡 Births and deaths", header, s["vital"])
    row = _table(ws, row, f"粮食需求（中方案）Grain (medium), {data['norms']['grain']['value']:g} 斤 jin/person", [
        "年份 year", "人口 population", "需求 need (jin)", "增加人口 growth", "新增需求 extra need",
        "产量趋势 harvest trend", "年增产 increase", "占增产 share"], s["grain"])  # fmt: skip
    row = _table(ws, row, "学位（中方案）School places (medium)", [
        "年份 year", "小学 6–11", "学位 places", "缺口 gap", "初中 12–14", "学位 places", "缺口 gap",
        "高中 15–17", "学位 places", "缺口 gap"], s["schools"])  # fmt: skip
    row = _table(ws, row, f"养老床位（中方案）Elderly-care beds (medium), {data['norms']['care']['value']:g}/1000 65+", [
        "年份 year", "65 岁以上 aged 65+", "需床位 beds needed", "现有 beds", "缺口 gap"], s["care"])  # fmt: skip
    est = data["estimates"]
    notes = [
        f"估计年份 estimated from {est['years'][0]}–{est['years'][1]}: TFR {est['tfr']:.2f}, "
        f"e0 F {est['e0_female']:.1f} M {est['e0_male']:.1f}, SRB {est['srb']:.1f}",
        f"粮食标准 grain norm: {data['norms']['grain']['value']:g} ({data['norms']['grain']['valid_from']}) "
        f"{data['norms']['grain']['source']}",
        f"养老床位标准 care-bed norm: {data['norms']['care']['value']:g} ({data['norms']['care']['valid_from']}) "
        f"{data['norms']['care']['source']}",
    ]
    bt = data.get("backtest") or {}
    if "error" in bt:
        notes.append(f"回测 back-test {bt['start']}→{bt['end']}: {bt['error'] * 100:+.2f}%")
    for i, text in enumerate(notes):
        ws.cell(row + i, 1, text)
    ages = wb.create_sheet("分年龄人口")
    ages.append(["scenario", "year", "sex", "age", "population"])
    for sc in data["scenarios"]:
        for t, by_sex in enumerate(sc["population"]):
            for sx, values in zip(("F", "M"), by_sex, strict=True):
                for a, v in enumerate(values):
                    ages.append([sc["code"], data["base_year"] + t, sx, a, v])
