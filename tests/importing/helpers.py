"""Small generated import files for the tests."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from ..conftest import VILLAGE_A1, VILLAGE_A2, make_id

HEADER = ["户号", "户别", "住址", "姓名", "性别", "出生日期", "公民身份号码", "民族",
          "户籍地代码", "居住地代码", "居住类型", "与户主关系"]


def person_row(i: int, *, household: str = "900000001", unit: str = VILLAGE_A1,
               relation: str = "", **over: Any) -> list[Any]:
    sex = "男" if i % 2 else "女"
    birth = date(1960 + i % 50, 1 + i % 12, 1 + i % 28)
    row = {
        "户号": household, "户别": "家庭户", "住址": "东关村9号", "姓名": f"测试{_cn(i)}",
        "性别": sex, "出生日期": birth.isoformat(),
        "公民身份号码": make_id(birth, "M" if sex == "男" else "F", 100 + i),
        "民族": "汉族", "户籍地代码": unit, "居住地代码": "", "居住类型": "常住户籍",
        "与户主关系": relation,
    }
    row.update(over)
    return [row[h] for h in HEADER]


def _cn(i: int) -> str:
    digits = "零一二三四五六七八九"
    return "".join(digits[int(c)] for c in str(i))


def sample_rows(n: int = 6) -> list[list[Any]]:
    """Two households in village A1 / A2 with a head each."""
    rows = []
    for i in range(n):
        hh = "900000001" if i < n // 2 else "900000002"
        unit = VILLAGE_A1 if i < n // 2 else VILLAGE_A2
        rel = "户主" if i in (0, n // 2) else "子"
        rows.append(person_row(i, household=hh, unit=unit, relation=rel))
    return rows


def to_csv(rows: list[list[Any]], header: list[str] | None = None, encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header or HEADER)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def to_xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header or HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def counts() -> tuple[int, int, int, int]:
    from popreg.registry.models import AuditRecord, Event, Household, Person

    # Starting a job and checking ID numbers are audited too; the registry's own records are
    # what must not change.
    job_actions = ("start_job", "cancel_job", "retry_job", "bulk_id_check")
    return (Person.objects.count(), Household.objects.count(), Event.objects.count(),
            AuditRecord.objects.exclude(action__in=job_actions).count())
