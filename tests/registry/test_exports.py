"""The one export layer: permission, masking, stamp, audit, and no formula cell in any
spreadsheet a user downloads."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from pypdf import PdfReader

from popreg.core.privacy import mask_id
from popreg.registry import actions
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.exports import (
    Column,
    Export,
    export_bytes,
    neutralise,
    unneutralise,
)
from popreg.registry.models import AuditRecord
from popreg.registry.policy import Permission

from ..conftest import COUNTY, PASSWORD, VILLAGE_A1, VILLAGE_B1

#: What an attacker types into a name, an address, a note or an import cell.
PAYLOADS = ['=HYPERLINK("http://x","y")', "+1+cmd", "-2+3", "@SUM(A1)"]


@pytest.mark.parametrize(("raw", "safe"), [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+1+cmd", "'+1+cmd"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("王秀英", "王秀英"),
    ("", ""),
    ("-12.5", "-12.5"),  # a plain number stays a number
    ("-1e-05", "-1e-05"),
    ("a=b", "a=b"),
])  # fmt: skip
def test_neutralise_follows_the_owasp_rule_and_round_trips(raw, safe):
    assert neutralise(raw) == safe
    assert unneutralise(neutralise(raw)) == raw


def _table(fmt="csv"):
    return Export(
        title="测试名单 test list", filename=f"测试-list.{fmt}", format=fmt, action=AuditAction.EXPORT_PERSONS,
        columns=[Column("姓名 name"), Column("公民身份号码 id_number", id_number=True)],
        rows=[("王秀英", "11010519900304002X"), ("=1+1", None)],
    )


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_refused_permission_writes_nothing(actors):
    before = AuditRecord.objects.count()
    with pytest.raises(RegistryError):  # the auditor's role may not download person lists
        export_bytes(actors["auditor"], _table(), permission=Permission.EXPORT_PERSONS, unit_code=VILLAGE_A1)
    with pytest.raises(RegistryError):  # outside the clerk's village
        export_bytes(actors["clerk_a1"], _table(), permission=Permission.EXPORT_PERSONS, unit_code=VILLAGE_B1)
    with pytest.raises(RegistryError):  # a statistician may not see full ID numbers
        export_bytes(actors["statistician"], _table(), permission=Permission.EXPORT_STATISTICS,
                     unit_code=None, full_id=True)
    assert AuditRecord.objects.count() == before


def test_ids_masked_by_default_full_only_when_allowed_and_asked(actors):
    masked = _csv_rows(export_bytes(actors["clerk_a1"], _table(), permission=Permission.EXPORT_PERSONS,
                                    unit_code=VILLAGE_A1))
    assert masked[2] == ["王秀英", mask_id("11010519900304002X")] and masked[3] == ["'=1+1", ""]
    full = _csv_rows(export_bytes(actors["clerk_a1"], _table(), permission=Permission.EXPORT_PERSONS,
                                  unit_code=VILLAGE_A1, full_id=True, reason="户籍核查"))
    assert full[2][1] == "11010519900304002X"
    assert "完整 full" in ",".join(full[0]) and "已脱敏 masked" in ",".join(masked[0])


def test_stamp_and_audit_record(actors):
    data = export_bytes(actors["clerk_a1"], _table("xlsx"), permission=Permission.EXPORT_PERSONS,
                        unit_code=VILLAGE_A1, reason="入户核查")
    wb = load_workbook(io.BytesIO(data))
    stamp = wb.active.cell(1, 1).value
    assert "clerk_a1" in stamp and "入户核查" in stamp and "导出时间" in stamp
    assert [c.value for c in wb.active[2]] == ["姓名 name", "公民身份号码 id_number"]
    assert wb.properties.lastModifiedBy == "clerk_a1" and wb.properties.subject == "入户核查"
    rec = AuditRecord.objects.filter(action=AuditAction.EXPORT_PERSONS).latest("id")
    assert rec.actor_name == "clerk_a1" and rec.unit_code == VILLAGE_A1
    assert rec.detail == {"format": "xlsx", "rows": 2, "masked": True, "reason": "入户核查",
                          "file": "测试-list.xlsx"}


def test_pdf_is_stamped_in_text_and_metadata(actors):
    export = Export(title="测试 PDF", filename="t.pdf", format="pdf", action=AuditAction.EXPORT_STATISTICS,
                    pdf_html=lambda ctx: "<html><head></head><body><p>内容 body</p></body></html>")
    data = export_bytes(actors["statistician"], export, permission=Permission.EXPORT_STATISTICS,
                        unit_code=None, reason="年报")
    reader = PdfReader(io.BytesIO(data))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "statistician" in text and "年报" in text
    assert reader.metadata.author == "statistician" and reader.metadata.title == "测试 PDF"
    assert AuditRecord.objects.filter(action=AuditAction.EXPORT_STATISTICS, detail__format="pdf").exists()


def test_a_workbook_builder_cannot_leave_a_formula(actors):
    def build(wb, ctx):
        ws = wb.active
        for i, payload in enumerate(PAYLOADS, start=1):
            ws.cell(i, 1, payload)
        ws.cell(1, 2, ctx.id_text("11010519900304002X"))

    export = Export(title="t", filename="t.xlsx", format="xlsx", action=AuditAction.EXPORT_FILE, xlsx=build)
    wb = load_workbook(io.BytesIO(export_bytes(actors["admin"], export, permission=Permission.VIEW_REGISTRY,
                                               unit_code=None)))
    _assert_no_formula(wb, PAYLOADS)
    assert wb.active.cell(1, 2).value == mask_id("11010519900304002X")
    assert "导出信息 Export" in wb.sheetnames


# --------------------------------------------------------------------------- round trips


def _assert_no_formula(wb, expected):
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert neutralise(cell.value) == cell.value, f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                    seen.add(unneutralise(cell.value))
    for payload in expected:
        assert payload in seen, payload


def _assert_csv_safe(data: bytes, expected):
    cells = [c for row in _csv_rows(data) for c in row]
    for c in cells:
        assert c[:1] not in ("=", "+", "-", "@", "\t", "\r"), c
    for payload in expected:
        assert "'" + payload in cells, payload


@pytest.fixture
def login(client, users):
    def _login(name):
        client.login(username=name, password=PASSWORD)
        return client
    return _login


@pytest.fixture
def hostile(people, actors):
    """Persons whose names are formula payloads, in a household whose address is one."""
    hh = actions.do_create_household(actors["admin"], unit_code=VILLAGE_A1, address=PAYLOADS[0])
    return [actions.do_register_birth(actors["admin"], name=p, sex="M", birth_date=date(2001, 1, 1),
                                      registered_unit_code=VILLAGE_A1, household=hh) for p in PAYLOADS]


def test_round_trip_person_list_csv(login, hostile):
    r = login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons.csv")
    _assert_csv_safe(b"".join(r.streaming_content), PAYLOADS)


def test_round_trip_import_error_report(login, settings, tmp_path):
    from ..importing.helpers import HEADER, sample_rows, to_csv

    settings.POPREG_HOME = tmp_path
    rows = sample_rows(4)
    for row, payload in zip(rows, PAYLOADS, strict=True):
        row[HEADER.index("出生日期")] = payload  # each an error whose report repeats the value
    c = login("clerk_a1")
    resp = c.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(rows))})
    job = resp["Location"].rstrip("/").split("/")[-1]
    _assert_csv_safe(c.get(f"/import/{job}/errors.csv").content, PAYLOADS)
    xlsx = c.get(f"/import/{job}/errors.xlsx")
    _assert_no_formula(load_workbook(io.BytesIO(xlsx.content)), PAYLOADS)


def test_round_trip_campaign_workbook_and_summary(login, hostile, actors):
    from popreg.campaigns import actions as campaign_actions
    from popreg.campaigns.fieldlists import read_field_workbook

    from ..campaigns.conftest import DATES

    campaign = campaign_actions.do_create_campaign(
        actors["admin"], name=PAYLOADS[1], scope_codes=[COUNTY], reference_moment=datetime(2025, 11, 1),
        dates=DATES, spot_check_households=2, error_threshold=0.05, seed=7,
    )
    c = login("clerk_a1")
    data = c.get(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/workbook.xlsx").content
    _assert_no_formula(load_workbook(io.BytesIO(data)), PAYLOADS)
    parsed = read_field_workbook(data)  # the quotes come off again: the row checksums still hold
    assert not parsed.problems, parsed.problems
    summary = login("admin").get(f"/campaigns/{campaign.pk}/summary.xlsx").content
    _assert_no_formula(load_workbook(io.BytesIO(summary)), [PAYLOADS[1]])


def test_no_download_bypasses_the_layer():
    """Every attachment a view returns is made by popreg.registry.exports."""
    src = Path(__file__).resolve().parents[2] / "src" / "popreg"
    pattern = re.compile(r"Content-Disposition|as_attachment|attachment;|FileResponse|text/csv|"
                         r"spreadsheetml|application/pdf|octet-stream", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(src)}:{n}"
        for path in src.rglob("*.py") if path.name != "exports.py" or path.parent.name != "registry"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == [], "downloads must go through popreg.registry.exports.export_response"


def test_a_stored_job_file_is_checked_again_and_audited(actors, tmp_path):
    from django.core.exceptions import PermissionDenied

    from popreg.registry.exports import stored_file_response

    path = tmp_path / "list.csv"
    path.write_bytes(export_bytes(actors["admin"], _table(), permission=Permission.EXPORT_PERSONS,
                                  unit_code=VILLAGE_A1, full_id=True))
    args = {"filename": "名单.csv", "format": "csv", "action": AuditAction.EXPORT_FILE,
            "permission": Permission.EXPORT_PERSONS, "unit_code": VILLAGE_A1, "full_id": True}
    before = AuditRecord.objects.count()
    with pytest.raises(PermissionDenied):
        stored_file_response(actors["clerk_b1"], path, **args)  # another village
    with pytest.raises(PermissionDenied):
        stored_file_response(actors["statistician"], path, **args)  # no full ID numbers
    assert AuditRecord.objects.count() == before
    r = stored_file_response(actors["clerk_a1"], path, **args)
    assert b"".join(r.streaming_content) == path.read_bytes()
    assert r["Cache-Control"] == "no-store" and "utf-8''" in r["Content-Disposition"]
    rec = AuditRecord.objects.latest("id")
    assert rec.actor_name == "clerk_a1" and rec.detail["stored"] is True and rec.detail["masked"] is False


def test_person_list_offers_full_ids_only_to_roles_that_may_see_them(login, people):
    page = login("clerk_a1").get(f"/units/{VILLAGE_A1}/persons/").content.decode()
    link = re.search(r'href="([^"]*/persons/full-id/[^"]*)"', page)
    assert link, "the clerk may see full ID numbers: the page offers them (after a reason)"
    r = login("clerk_a1").post(link.group(1).replace("&amp;", "&"), {"reason": "入户核查"})
    rows = _csv_rows(b"".join(r.streaming_content))
    assert people["mother"].id_number in {row[4] for row in rows[2:]}
    rec = AuditRecord.objects.filter(action=AuditAction.EXPORT_PERSONS).latest("id")
    assert rec.detail["masked"] is False
    # the statistician sees the list but not full ID numbers: no link, and the URL is refused
    stat = login("statistician")
    assert "/full-id/" not in stat.get(f"/units/{VILLAGE_A1}/persons/").content.decode()
    assert stat.get(f"/units/{VILLAGE_A1}/persons.csv?full_id=1").status_code == 403
