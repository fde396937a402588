"""popreg import_migrants: every error of every row at once, in Chinese; all or nothing."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from popreg.migrants.importing import COLUMNS, import_in_migrants, template_csv
from popreg.migrants.models import InMigrant
from popreg.registry.models import AuditRecord, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1
from .conftest import origin_id

pytestmark = pytest.mark.django_db

HEADER = ",".join(c.header for c in COLUMNS)


def row(name="陈建国", sex="男", birth="1988-06-01", number="", origin="410102", unit=VILLAGE_A1,
        arrival="2024-01-10", reason="务工", place="", address="", employer="", contact=""):
    return ",".join([name, sex, birth, number, "", origin, unit, arrival, reason, place, address, employer, contact])


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("gb18030")


def test_good_file_registers_every_row(people, actors, tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(csv_bytes(
        row(number=origin_id(date(1988, 6, 1), "M")),
        row(name="刘芳", sex="女", birth="1995/2/3", unit=VILLAGE_A2, reason="family", origin="320582101001"),
    ))
    out = io.StringIO()
    call_command("import_migrants", str(path), "--user", "officer_a", stdout=out)
    assert "登记完成" in out.getvalue()
    assert InMigrant.objects.count() == 2
    assert set(Person.objects.filter(residence_type="floating_in").values_list("residence_unit_id", flat=True)) == {
        VILLAGE_A1, VILLAGE_A2}
    assert AuditRecord.objects.filter(action="migrant_import").count() == 1


def test_every_error_reported_at_once_and_nothing_written(people, actors, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(
        row(),  # fine on its own
        row(name="", sex="X", birth="2023-02-30", origin="999999", reason="旅游"),  # five cell errors
        row(name="王五", unit=VILLAGE_B1),  # outside the clerk's jurisdiction (the action refuses)
        row(name="赵六", number="110105198806010011"),  # a wrong ID number
    ))
    before = Person.objects.count()
    with pytest.raises(CommandError, match="未登记任何人员"):
        call_command("import_migrants", str(path), "--user", "clerk_a1", "--errors", str(tmp_path / "e.csv"),
                     stdout=(out := io.StringIO()))
    text = out.getvalue()
    assert "第 3 行 [姓名]" in text and "第 3 行 [性别]" in text and "第 3 行 [出生日期]" in text
    assert "第 3 行 [户籍地代码]" in text and "第 3 行 [流入原因]" in text
    assert "第 4 行 [居住地代码]" in text and "第 5 行 [公民身份号码]" in text
    assert "1 行无误" in text
    assert Person.objects.count() == before and not InMigrant.objects.exists()
    report = (tmp_path / "e.csv").read_bytes().decode("utf-8-sig")
    assert "行号 Row" in report and "辖区" in report


def test_xlsx_and_check_only(people, actors):
    wb = Workbook()
    ws = wb.active
    ws.append(["流入人口登记表"])  # a title row above the header
    ws.append([c.header for c in COLUMNS])
    ws.append(["陈建国", "男", date(1988, 6, 1), None, None, "410102", VILLAGE_A1, date(2024, 1, 10), "经商"])
    buf = io.BytesIO()
    wb.save(buf)
    res = import_in_migrants(actors["clerk_a1"], buf.getvalue(), "m.xlsx", commit=False)
    assert res.ok and res.imported == 0 and res.total_rows == 1 and not InMigrant.objects.exists()
    res = import_in_migrants(actors["clerk_a1"], buf.getvalue(), "m.xlsx")
    assert res.imported == 1 and InMigrant.objects.get().reason == "business"


def test_template_parses(people, actors):
    res = import_in_migrants(actors["clerk_a1"], template_csv(VILLAGE_A1), "t.csv", commit=False)
    assert res.ok, res.errors
