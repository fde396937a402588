"""Public disclosure lists (三级三公示): what neighbours may see of a run's list.

A public list shows, for each person on a run's list in a village, only the masked name
(:func:`popreg.core.privacy.mask_name`: 张*伟, 王*) and the masked ID number
(:func:`~popreg.core.privacy.mask_id`: first 4 and last 4 characters), the payee's masked
name, the amount and the month; never a full name, a full number, a date of birth or an
address.  Masking happens here, before any file or page is made, so no export option can
undo it.

The village notice is an A4 PDF rendered by WeasyPrint with the CJK font Noto Sans CJK SC
embedded; the list is also an Excel workbook or a CSV.  Every file goes through
:mod:`popreg.registry.exports` (permission, stamp, audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape

from popreg.benefits.actions import BenefitsError, current_disclosure, month_label
from popreg.benefits.models import Decision, Disclosure, EligibilityRun
from popreg.core.privacy import mask_id, mask_name
from popreg.registry.access import Actor, system_actor
from popreg.registry.audit import AuditAction
from popreg.registry.exports import Column, Export, ExportContext, export_bytes
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission

#: Headers of the public list (Chinese, then the English column name).
LIST_COLUMNS = ("序号 no", "姓名 name", "身份证号 id_number", "领取人 payee", "金额（元） amount_yuan",
                "月份 month", "村（居） village")


@dataclass(frozen=True)
class PublicRow:
    no: int
    name: str  # masked
    id_number: str  # masked
    payee: str  # masked
    amount_yuan: Decimal
    month: str
    village: str

    def cells(self) -> tuple[Any, ...]:
        return (self.no, self.name, self.id_number, self.payee, f"{self.amount_yuan:.2f}", self.month, self.village)


def programme_name(code: str) -> tuple[str, str]:
    """The programme's Chinese and English names (its code when it is not a shipped one)."""
    from popreg.benefits.programmes import CODES, load

    if code not in CODES:
        return code, code
    name = load(code).name
    return name.zh, name.en


def public_rows(run: EligibilityRun, village: str) -> list[PublicRow]:
    """The masked list of one village (or every village of the run when ``village`` is the
    run's own unit)."""
    unit = AdminUnit.objects.filter(code=village).first()
    if unit is None:
        raise BenefitsError(f"单位 {village} 不存在", f"unit {village} does not exist", "unit")
    names = dict(AdminUnit.objects.filter(code__startswith=unit.prefix).values_list("code", "name"))
    decisions = (Decision.objects.filter(run=run, eligible=True, unit_code__startswith=unit.prefix)
                 .select_related("person", "payee").order_by("unit_code", "person__name", "id"))
    rows = []
    for i, d in enumerate(decisions, start=1):
        payee = d.payee or d.person
        rows.append(PublicRow(
            no=i, name=mask_name(d.person.name), id_number=mask_id(d.person.id_number),
            payee=mask_name(payee.name), amount_yuan=d.amount_yuan, month=month_label(run.month),
            village=names.get(d.unit_code, d.unit_code),
        ))
    return rows


def latest_run(programme: str, month: date, unit_code: str) -> EligibilityRun:
    """The latest recorded run of the programme and month whose unit contains ``unit_code``."""
    for run in EligibilityRun.objects.filter(programme=programme, month=month).select_related("unit").order_by("-id"):
        if run.unit.contains(unit_code):
            return run
    raise BenefitsError(f"{programme} 在 {month_label(month)} 没有覆盖单位 {unit_code} 的核定批次",
                        f"no recorded run of {programme} for {month_label(month)} covers unit {unit_code}", "unit")


def _notice_html(run: EligibilityRun, village: AdminUnit, rows: list[PublicRow], disclosure: Disclosure | None,
                 ctx: ExportContext) -> str:
    zh, en = programme_name(run.programme)
    return render_to_string("benefits/notice_print.html", {
        "run": run, "village": village, "rows": rows, "disclosure": disclosure, "programme_zh": zh,
        "programme_en": en, "month": month_label(run.month), "stamp": escape(ctx.stamp()),
        "total": sum((r.amount_yuan for r in rows), Decimal("0")),
    })


def notice_export(run: EligibilityRun, village: str) -> Export:
    unit = AdminUnit.objects.get(code=village)
    rows = public_rows(run, village)
    disclosure = current_disclosure(run)
    return Export(
        title=f"公示名单 disclosure {run.programme} {month_label(run.month)} {village}",
        filename=f"notice-{run.programme}-{run.month:%Y%m}-{village}.pdf", format="pdf",
        action=AuditAction.BENEFITS_EXPORT_LIST, reason="三级公示 public disclosure", target=run,
        pdf_html=lambda ctx: _notice_html(run, unit, rows, disclosure, ctx), row_count=len(rows),
        detail={"run": run.pk, "village": village},
    )


def list_export(run: EligibilityRun, village: str, fmt: str, *, stamp_in_body: bool = True) -> Export:
    rows = public_rows(run, village)
    return Export(
        title=f"公示名单 disclosure {run.programme} {month_label(run.month)} {village}",
        filename=f"list-{run.programme}-{run.month:%Y%m}-{village}.{fmt}", format=fmt,  # type: ignore[arg-type]
        action=AuditAction.BENEFITS_EXPORT_LIST, reason="三级公示 public disclosure", target=run,
        columns=[Column(h) for h in LIST_COLUMNS], rows=[r.cells() for r in rows],
        detail={"run": run.pk, "village": village}, stamp_in_body=stamp_in_body, sheet_title="公示名单",
    )


def write_disclosure(programme: str, month: date, unit: str, out_dir: str | Path,
                     actor: Actor | None = None) -> dict[str, Any]:
    """Write ``notice.pdf`` and ``list.csv`` of a village's public list, from the latest
    recorded run of the programme and month (``popreg benefits disclosure``)."""
    actor = actor or system_actor("benefits")
    month = month.replace(day=1)
    run = latest_run(programme, month, unit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pdf = export_bytes(actor, notice_export(run, unit), permission=Permission.VIEW_BENEFITS, unit_code=unit)
    (out / "notice.pdf").write_bytes(pdf)
    # The CSV's first line is its header (a list read by other tools); the stamp is in the audit record.
    csv = export_bytes(actor, list_export(run, unit, "csv", stamp_in_body=False),
                       permission=Permission.VIEW_BENEFITS, unit_code=unit)
    (out / "list.csv").write_bytes(csv)
    return {"run": run.pk, "rows": len(public_rows(run, unit)), "notice": str(out / "notice.pdf"),
            "list": str(out / "list.csv")}
