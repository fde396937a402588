"""Upload of the filled field workbook: row-by-row validation, all or nothing, idempotent."""

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from popreg.campaigns import actions
from popreg.campaigns.fieldlists import build_field_workbook
from popreg.campaigns.models import FieldOutcome, FoundPerson, RectificationItem, Upload
from popreg.campaigns.queries import campaign_info, field_list_persons, village_info
from popreg.registry.models import AdminUnit, AuditRecord

from ..conftest import COUNTY, VILLAGE_A1, VILLAGE_B1
from .conftest import DATES, advance_to

OUTCOME_COL, FIELD_COL, VALUE_COL, DATE_COL = 9, 10, 11, 12  # I..L; person_id is column 16


def workbook(campaign, code=VILLAGE_A1):
    village = AdminUnit.objects.select_related("parent__parent").get(code=code)
    return build_field_workbook(village_info(village), field_list_persons(campaign, code), campaign_info(campaign))


def fill(data, outcomes=None, found=(), header=None, keywords=None):
    """outcomes: {person_id: (outcome label, field, value, date)}; found: rows of the second sheet."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb["核对名单"]
    for r in range(2, ws.max_row + 1):
        pid = ws.cell(r, 16).value
        if pid is not None and int(pid) in (outcomes or {}):
            for col, value in zip((OUTCOME_COL, FIELD_COL, VALUE_COL, DATE_COL), outcomes[int(pid)], strict=True):
                ws.cell(r, col).value = value
    fs = wb["新发现人员"]
    for i, row in enumerate(found, start=2):
        for j, value in enumerate(row, start=1):
            fs.cell(i, j).value = value
    if header:
        ws.cell(1, header[0]).value = header[1]
    if keywords:
        wb.properties.keywords = keywords
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def verifying(campaign, actors):
    return advance_to(campaign, "verification", actors["admin"])


def _state():
    return (FieldOutcome.objects.count(), RectificationItem.objects.count(), FoundPerson.objects.count(),
            Upload.objects.count())


def test_upload_applies_outcomes_and_is_idempotent(verifying, people, actors):
    clerk = actors["clerk_a1"]
    mother, child = people["mother"].pk, people["child"].pk
    data = fill(workbook(verifying), {mother: ("核实无误", None, None, None),
                                      child: ("已死亡", None, None, "2025-10-02")},
                found=[("张小花", "女", "2024-02-02", None, people["hh_a"].household_no, "东关村1号", "出生未登记")])
    report = actions.do_upload_workbook(clerk, verifying, data, filename="a1.xlsx", village_code=VILLAGE_A1)
    assert report.accepted and not report.problems, [str(p) for p in report.problems]
    assert (report.changed, report.found) == (3, 1)
    assert dict(FieldOutcome.objects.values_list("person_id", "outcome")) == {mother: "confirmed", child: "died"}
    assert set(RectificationItem.objects.values_list("item_type", flat=True)) == {"died", "found_person"}
    assert FieldOutcome.objects.get(person_id=child).source == "workbook"
    before, audits = _state(), AuditRecord.objects.count()
    # the same file again: nothing more happens
    again = actions.do_upload_workbook(clerk, verifying, data, village_code=VILLAGE_A1)
    assert again.duplicate and again.changed == 0 and "未做任何修改" in str(again.problems[0])
    # the same content saved again (other bytes): every row is unchanged
    resaved = fill(data, keywords="opened and saved again")
    assert resaved != data
    third = actions.do_upload_workbook(clerk, verifying, resaved, village_code=VILLAGE_A1)
    assert third.accepted and third.changed == 0 and third.unchanged == 3
    assert _state()[:3] == before[:3]
    assert AuditRecord.objects.filter(action="campaign_record_outcome").count() == 2
    assert AuditRecord.objects.count() == audits + 1  # only the second upload's own record


def test_wrong_village_is_refused(verifying, people, actors):
    data = fill(workbook(verifying, VILLAGE_B1), {people["other"].pk: ("核实无误", None, None, None)})
    report = actions.do_upload_workbook(actors["admin"], verifying, data, village_code=VILLAGE_A1)
    assert not report.accepted and "不是本村" in str(report.problems[0])
    # a clerk of A1 cannot upload B1's list at all
    report = actions.do_upload_workbook(actors["clerk_a1"], verifying, data)
    assert not report.accepted and "辖区" in str(report.problems[0])
    assert _state() == (0, 0, 0, 0)


def test_file_of_an_older_campaign_is_refused(verifying, people, actors):
    old = fill(workbook(verifying), {people["mother"].pk: ("核实无误", None, None, None)})
    newer = actions.do_create_campaign(actors["admin"], name="2026年复查", scope_codes=[COUNTY],
                                       reference_moment=datetime(2026, 11, 1), dates=DATES)
    advance_to(newer, "verification", actors["admin"])
    report = actions.do_upload_workbook(actors["clerk_a1"], newer, old, village_code=VILLAGE_A1)
    assert not report.accepted and "另一次整顿活动" in str(report.problems[0])
    assert _state() == (0, 0, 0, 0)


def test_edited_headers_are_reported_by_column(verifying, people, actors):
    data = fill(workbook(verifying), {people["mother"].pk: ("核实无误", None, None, None)}, header=(9, "结果"))
    report = actions.do_upload_workbook(actors["clerk_a1"], verifying, data, village_code=VILLAGE_A1)
    assert not report.accepted
    assert [(p.row, p.column) for p in report.problems] == [(1, "I")]
    assert "表头" in str(report.problems[0])
    assert _state() == (0, 0, 0, 0)


def test_bad_rows_are_reported_and_nothing_is_half_applied(verifying, people, actors):
    mother, child = people["mother"].pk, people["child"].pk
    # row of the mother is fine; the child's death date does not exist
    data = fill(workbook(verifying), {mother: ("已死亡", None, None, "2025-10-01"),
                                      child: ("已死亡", None, None, "2025-02-30")})
    report = actions.do_upload_workbook(actors["clerk_a1"], verifying, data, village_code=VILLAGE_A1)
    assert not report.accepted
    assert [(p.sheet, p.column) for p in report.problems] == [("核对名单", "L")]
    assert "不存在" in str(report.problems[0])
    # the reader accepts a real date before the birth date; the action refuses it, and the
    # valid row before it is rolled back with it
    data = fill(workbook(verifying), {mother: ("已死亡", None, None, "2025-10-01"),
                                      child: ("已死亡", None, None, "2019-01-01")})
    report = actions.do_upload_workbook(actors["clerk_a1"], verifying, data, village_code=VILLAGE_A1)
    assert not report.accepted and report.problems[0].row >= 2 and "早于出生日期" in str(report.problems[0])
    assert _state() == (0, 0, 0, 0)


def test_not_an_excel_file(verifying, actors):
    report = actions.do_upload_workbook(actors["clerk_a1"], verifying, b"name,outcome\n", village_code=VILLAGE_A1)
    assert not report.accepted and "xlsx" in str(report.problems[0])


def test_upload_waits_for_the_verification_phase(campaign, people, actors):
    data = fill(workbook(campaign), {people["mother"].pk: ("核实无误", None, None, None)})
    report = actions.do_upload_workbook(actors["clerk_a1"], campaign, data, village_code=VILLAGE_A1)
    assert not report.accepted and "当前阶段" in str(report.problems[0])


def test_a_later_file_revises_open_outcomes(verifying, people, actors):
    clerk = actors["clerk_a1"]
    mother, child = people["mother"].pk, people["child"].pk
    first = fill(workbook(verifying), {mother: ("已死亡", None, None, "2025-10-01")})
    assert actions.do_upload_workbook(clerk, verifying, first, village_code=VILLAGE_A1).accepted
    item = RectificationItem.objects.get(person_id=mother)
    # the field worker got it wrong: she is alive; the child is now checked too
    second = fill(workbook(verifying), {mother: ("核实无误", None, None, None),
                                        child: ("信息有误", "姓名", "张伟", None)})
    report = actions.do_upload_workbook(clerk, verifying, second, village_code=VILLAGE_A1)
    assert report.accepted and (report.changed, report.unchanged) == (2, 0)
    item.refresh_from_db()
    assert item.status == "rejected" and "核实无误" in item.reject_reason
    fix = RectificationItem.objects.get(person_id=child)
    assert (fix.item_type, fix.outcome.field_name, fix.outcome.corrected_value) == ("field_wrong", "name", "张伟")
    assert AuditRecord.objects.filter(action="campaign_record_outcome").count() == 3


def test_bulk_upload_writes_what_the_single_action_writes(campaign, people, actors):
    """The same outcomes recorded through the form (one ``do_record_outcome`` each) and through
    an upload (the bulk path) give the same outcome rows, items and audit records."""
    from datetime import date

    clerk = actors["clerk_a1"]
    verifying = advance_to(campaign, "verification", actors["admin"])
    mother, child = people["mother"].pk, people["child"].pk
    wanted = {mother: ("field_wrong", "name", "张秀英", None), child: ("died", "", "", date(2025, 10, 2))}

    def written(after: int = 0):
        # audit records are append-only: the second round reads those written after ``after``
        audits = AuditRecord.objects.filter(action="campaign_record_outcome", pk__gt=after)
        return (
            {o.person_id: (o.outcome, o.field_name, o.corrected_value, o.event_date)
             for o in FieldOutcome.objects.filter(campaign=verifying)},
            {i.person_id: (i.key, i.origin, i.item_type, i.detail, i.owner_id, i.deadline, i.status, i.unit_id)
             for i in RectificationItem.objects.filter(campaign=verifying)},
            sorted(((a.target_type, a.unit_code, a.actor_name, a.before, a.after,
                    {k: v for k, v in a.detail.items() if k not in ("source", "upload")}) for a in audits), key=repr),
        )

    for pid, (outcome, field, value, when) in wanted.items():
        actions.do_record_outcome(clerk, verifying, pid, outcome=outcome, field_name=field, corrected_value=value,
                                  event_date=when)
    single = written()
    FieldOutcome.objects.all().delete()  # test reset: start the village again
    RectificationItem.objects.all().delete()
    last_audit = AuditRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    data = fill(workbook(verifying), {mother: ("信息有误", "姓名", "张秀英", None),
                                      child: ("已死亡", None, None, "2025-10-02")})
    report = actions.do_upload_workbook(clerk, verifying, data, village_code=VILLAGE_A1)
    assert report.accepted, [str(p) for p in report.problems]
    assert written(after=last_audit) == single
    assert single[1][child][3] == "已死亡；2025-10-02"
    up = report.upload
    assert {(a.target_id, a.detail["source"], a.detail["upload"])
            for a in AuditRecord.objects.filter(action="campaign_record_outcome", pk__gt=last_audit)} == {
        (str(o.pk), "workbook", up.pk) for o in FieldOutcome.objects.filter(campaign=verifying)}
