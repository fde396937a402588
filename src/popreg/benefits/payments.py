"""Payment files in a bank-like layout, the bank's return file, and their checks.

A payment file (one programme, one month; Excel or CSV, the same table) has the columns

``record_type, payment_id, payee_name, payee_id_number, account, amount_yuan, programme, period, count``

Its first row after the column header is the batch header (``record_type`` ``H``): the
batch number in ``payment_id``, the total in ``amount_yuan`` and the number of lines in
``count``.  Every following row is one payment (``D``, ``count`` 1).  :func:`check_payment_file`
reads a file back and checks the header's total and count against its lines.  The payee's
ID number is written in full (the bank pays by it), so the file needs ``view_full_id``
besides ``manage_payments``; it goes through :mod:`popreg.registry.exports` (stamp in the
audit record and the workbook's properties, not in the body: the bank reads the first line).

The bank's return file: CSV or Excel with the columns ``payment_id``, ``status``
(``paid``/``failed``, or 成功/失败), ``reason`` (for a failure) and optionally ``paid_on``.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from popreg.benefits.actions import (
    BenefitsError,
    ReturnRow,
    do_make_payment_batch,
    first_of_month,
    month_label,
)
from popreg.benefits.models import PaymentBatch
from popreg.registry.access import Actor, system_actor
from popreg.registry.audit import AuditAction
from popreg.registry.exports import Column, Export, export_bytes, unneutralise
from popreg.registry.policy import Permission

PAYMENT_COLUMNS = ("record_type", "payment_id", "payee_name", "payee_id_number", "account", "amount_yuan",
                   "programme", "period", "count")
_STATUS = {"paid": "paid", "成功": "paid", "success": "paid", "ok": "paid",
           "failed": "failed", "失败": "failed", "fail": "failed", "failure": "failed"}


def batch_rows(batch: PaymentBatch) -> list[tuple[Any, ...]]:
    """The header row, then one row per payment."""
    period = month_label(batch.month)
    lines = list(batch.lines.order_by("id"))
    total = sum((ln.amount_yuan for ln in lines), Decimal("0"))
    rows: list[tuple[Any, ...]] = [("H", batch.batch_no, "", "", "", f"{total:.2f}", batch.programme, period, len(lines))]
    for ln in lines:
        rows.append(("D", ln.payment_id, ln.payee_name, ln.payee_id_number, ln.account, f"{ln.amount_yuan:.2f}",
                     batch.programme, period, 1))
    return rows


def payment_export(batch: PaymentBatch, fmt: str) -> Export:
    return Export(
        title=f"发放文件 payment file {batch.batch_no}", filename=f"payments-{batch.batch_no}.{fmt}",
        format=fmt,  # type: ignore[arg-type]
        action=AuditAction.BENEFITS_EXPORT_PAYMENTS, reason="补助发放 benefit payment", target=batch,
        columns=[Column(c, id_number=(c == "payee_id_number")) for c in PAYMENT_COLUMNS],
        rows=batch_rows(batch), stamp_in_body=False, sheet_title="payments",
        detail={"batch": batch.batch_no, "lines": batch.line_count, "total_yuan": str(batch.total_yuan)},
    )


def payment_file_bytes(actor: Actor, batch: PaymentBatch, fmt: str) -> bytes:
    return export_bytes(actor, payment_export(batch, fmt), permission=Permission.MANAGE_PAYMENTS,
                        unit_code=None, full_id=True)


def batch_for(programme: str, month: date) -> PaymentBatch | None:
    return (PaymentBatch.objects.filter(programme=programme, month=first_of_month(month), resubmission_of__isnull=True)
            .order_by("id").first())


def write_payment_file(programme: str, month: date, out: str | Path, actor: Actor | None = None) -> dict[str, Any]:
    """Write the month's payment file (``.csv``, or ``.xlsx`` by the suffix), making the batch
    from the approved runs first when there is none yet (``popreg benefits payments``)."""
    actor = actor or system_actor("benefits")
    batch = batch_for(programme, month) or do_make_payment_batch(actor, programme=programme, month=month)
    path = Path(out)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payment_file_bytes(actor, batch, fmt))
    return {"batch": batch.batch_no, "lines": batch.line_count, "total_yuan": str(batch.total_yuan), "file": str(path)}


# ------------------------------------------------------------------ reading files back


def _table(data: bytes, filename: str) -> list[list[str]]:
    """The rows of a CSV or xlsx file as text (stamp lines starting with # skipped)."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook gets the same message
            raise BenefitsError("无法读取该 Excel 文件", "the Excel file cannot be read: save it again as .xlsx", "file") from None
        ws = wb.worksheets[0]
        rows = [["" if v is None else unneutralise(str(v)) for v in r] for r in ws.iter_rows(values_only=True)]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise BenefitsError("文件编码无法识别，请存为 UTF-8 的 CSV", "the file is not UTF-8 text: save it as a UTF-8 CSV",
                                    "file") from None
        rows = [[unneutralise(c) for c in r] for r in csv.reader(io.StringIO(text))]
    return [r for r in rows if r and any(c.strip() for c in r) and not r[0].startswith("#")]


def check_payment_file(data: bytes, filename: str) -> dict[str, Any]:
    """Read a payment file back: its header, lines, and whether the header's count and
    total equal those of the lines."""
    rows = _table(data, filename)
    if not rows or [c.strip() for c in rows[0][: len(PAYMENT_COLUMNS)]] != list(PAYMENT_COLUMNS):
        raise BenefitsError("不是发放文件：第一行应为列名", "not a payment file: the first row must be the column names", "file")
    body = [dict(zip(PAYMENT_COLUMNS, r, strict=False)) for r in rows[1:]]
    headers = [r for r in body if r["record_type"] == "H"]
    lines = [r for r in body if r["record_type"] == "D"]
    if len(headers) != 1:
        raise BenefitsError("发放文件应有且只有一行汇总（H）", "a payment file has exactly one header row (H)", "record_type")
    head = headers[0]
    total = sum((Decimal(r["amount_yuan"]) for r in lines), Decimal("0"))
    return {
        "batch": head["payment_id"], "count": int(head["count"]), "total_yuan": Decimal(head["amount_yuan"]),
        "lines": lines, "lines_count": len(lines), "lines_total_yuan": total,
        "consistent": int(head["count"]) == len(lines) and Decimal(head["amount_yuan"]) == total,
    }


def read_return_file(data: bytes, filename: str) -> list[ReturnRow]:
    """The bank's return file as rows for :func:`popreg.benefits.actions.do_import_return`."""
    rows = _table(data, filename)
    if not rows:
        raise BenefitsError("回盘文件是空的", "the return file is empty", "file")
    header = [c.strip().lower() for c in rows[0]]
    for need in ("payment_id", "status"):
        if need not in header:
            raise BenefitsError(f"回盘文件缺少列 {need}", f"the return file lacks the column {need}", "file")
    col = {name: header.index(name) for name in header}
    out = []
    for n, r in enumerate(rows[1:], start=2):
        def cell(name: str, r: list[str] = r) -> str:
            i = col.get(name)
            return r[i].strip() if i is not None and i < len(r) else ""

        raw = cell("status")
        status = _STATUS.get(raw.lower())
        if status is None:
            raise BenefitsError(f"第 {n} 行：状态 {raw!r} 应为 paid/成功 或 failed/失败",
                                f"row {n}: status {raw!r} must be paid or failed", "status")
        paid_on = None
        if cell("paid_on"):
            try:
                paid_on = date.fromisoformat(cell("paid_on")[:10])
            except ValueError:
                raise BenefitsError(f"第 {n} 行：支付日期应写作 YYYY-MM-DD", f"row {n}: paid_on must be YYYY-MM-DD",
                                    "paid_on") from None
        out.append(ReturnRow(row=n, payment_id=cell("payment_id"), status=status, reason=cell("reason"), paid_on=paid_on))
    return out


def parse_amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BenefitsError(f"金额 {text!r} 不是数字", f"amount {text!r} is not a number", "amount_yuan") from None
