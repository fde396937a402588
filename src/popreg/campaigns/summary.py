"""The campaign summary statistics table (整顿情况汇总表) as rows, Excel and PDF.

One row per unit in the actor's jurisdiction (campaign total, each township, each
village): persons on the list, checked, findings by type, fixed, rejected, outstanding,
spot check and sign-offs.  Every export names who made it and when.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation

from popreg.campaigns.models import Campaign, Phase, SignOff
from popreg.campaigns.queries import UnitProgress, item_type_labels, progress
from popreg.registry.access import Actor
from popreg.registry.vocabulary import CHINESE, ChineseLabels, chinese_label

LEVEL_LABELS = {"campaign": "合计", "township": "乡镇(街道)", "village": "村(居)委会"}
SIGN_LABELS: Mapping[str, str] = ChineseLabels(SignOff.Level)


@dataclass
class SummaryTable:
    campaign: Campaign
    rows: list[UnitProgress]
    types: list[tuple[str, str]]  # (item type, label) of the columns, in vocabulary order
    made_by: str
    made_at: datetime

    def header(self) -> list[str]:
        return ["单位代码", "单位名称", "层级", "名单人数", "已核对", "核对率%",
                *[label for _, label in self.types], "问题合计", "已整改", "已驳回", "未办结",
                "抽查户数", "抽查差错", "抽查差错率%", "签字"]

    def values(self, r: UnitProgress) -> list[Any]:
        rate = r.spot_error_rate
        return [r.code, r.name, LEVEL_LABELS.get(r.level, r.level), r.listed, r.checked,
                round(r.checked_pct, 1), *[r.by_type.get(t, 0) for t, _ in self.types],
                r.findings, r.fixed, r.rejected, r.outstanding, r.spot_sampled, r.spot_errors,
                round(100 * rate, 1) if rate is not None else "",
                "、".join(SIGN_LABELS.get(s, s) for s in r.signoffs)]


def summary_table(campaign: Campaign, actor: Actor) -> SummaryTable:
    rows = progress(campaign, actor)
    labels = item_type_labels()
    present = set().union(*(r.by_type.keys() for r in rows)) if rows else set()
    types = [(t, labels[t]) for t in labels if t in present]
    types += [(t, t) for t in sorted(present - set(labels))]
    return SummaryTable(campaign, rows, types, actor.name, timezone.localtime())


def summary_xlsx(table: SummaryTable) -> bytes:
    """The summary workbook as bytes, its text cells neutralised; downloads go through
    :mod:`popreg.registry.exports` with :func:`fill_summary_workbook`."""
    from openpyxl import Workbook

    from popreg.registry.exports import neutralise_workbook

    wb = Workbook()
    fill_summary_workbook(wb, table)
    neutralise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def fill_summary_workbook(wb: Any, table: SummaryTable) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.active
    ws.title = "汇总表"
    c = table.campaign
    ws.append([f"{c.name} 整顿情况汇总表"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"标准时点 {timezone.localtime(c.reference_moment):%Y-%m-%d %H:%M}；当前阶段 {chinese_label(Phase(c.phase))}；"
               f"抽查差错率上限 {c.error_threshold:.1%}"])
    ws.append([f"制表人 {table.made_by}；制表时间 {table.made_at:%Y-%m-%d %H:%M}"])
    ws.append([])
    ws.append(table.header())
    head_row = ws.max_row
    for cell in ws[head_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    for r in table.rows:
        ws.append(table.values(r))
        if r.level != "village":
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
    for i in range(1, len(table.header()) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 24 if i == 2 else (14 if i == 1 else 9)
    for row in ws.iter_rows(min_row=head_row + 1, max_col=1):
        row[0].number_format = "@"
    ws.freeze_panes = ws.cell(head_row + 1, 3)
    wb.properties.creator = f"popreg ({table.made_by})"
    wb.properties.title = f"{c.name} 整顿情况汇总表"


def summary_html(table: SummaryTable) -> str:
    """The HTML of the A4 landscape summary (rendered by the export layer or :func:`summary_pdf`)."""
    with translation.override(CHINESE):  # printed: Chinese whoever prints it
        return str(render_to_string("campaigns/summary_print.html", {
            "table": table, "campaign": table.campaign, "header": table.header(),
            "rows": [(r, table.values(r)) for r in table.rows],
        }))


def summary_pdf(table: SummaryTable) -> bytes:
    """A4 landscape PDF; Chinese in Noto Sans CJK SC (Debian fonts-noto-cjk), embedded."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=summary_html(table)).write_pdf()
    return pdf
