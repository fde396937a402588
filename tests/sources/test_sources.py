"""Outside sources arriving in a running registry (docs/sources.md): reading each kind with
its row-level error report, linking on arrival, idempotent imports, the review decisions,
and what death notices and hospital births feed at once: the month's reconciliation items
and the campaign anomalies.

On the tiny county of tests/conftest.py (``people``: 王秀英 and her son 張偉 in village A1,
李娜 in village B1)."""

from __future__ import annotations

import io
import tempfile
from datetime import date, datetime

import pytest
from django.core.management import CommandError, call_command

from popreg.campaigns.models import RectificationItem
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.importing import ImportFileError
from popreg.registry.models import AuditRecord
from popreg.registry.snapshot import write_registry_snapshot
from popreg.sources.actions import do_review_link
from popreg.sources.jobs import import_file
from popreg.sources.models import LinkStatus, SourceBatch, SourceEntry, SourceLink
from popreg.sources.reading import natural_key, parse_source
from popreg.stats.models import ReconciliationItem
from popreg.stats.reconciliation import Month, link_sources, reconcile

from ..conftest import TOWN_A, TOWN_B, VILLAGE_A1, VILLAGE_B1, make_id

LI_NA_ID = make_id(date(1985, 1, 2), "F", 3)
MOTHER_ID = make_id(date(1990, 3, 4), "F", 1)

#: A month of death notices: 李娜 (still active in the registry) and a stranger.
DEATHS_2025_09 = (
    "编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码,通报单位\n"
    f"DN1,李娜,女,{LI_NA_ID},1985-01-02,2025-09-10,{VILLAGE_B1},医院\n"
    f"DN2,赵无名,男,,1950-02-03,2025-09-12,{VILLAGE_A1},民政\n"
)


def _campaign(actors):
    from popreg.campaigns import actions

    from ..campaigns.conftest import DATES

    return actions.do_create_campaign(
        actors["admin"], name="2025年户口整顿", scope_codes=[TOWN_A, TOWN_B],
        reference_moment=datetime(2025, 11, 1), dates=DATES,
        spot_check_households=2, error_threshold=0.05, seed=7,
    )


def _state():
    return (SourceBatch.objects.count(), SourceEntry.objects.count(), SourceLink.objects.count(),
            ReconciliationItem.objects.count(), RectificationItem.objects.count(),
            AuditRecord.objects.count())


def test_a_month_of_death_notices_feeds_reconciliation_and_anomalies_once(people, actors, tmp_path):
    campaign = _campaign(actors)
    path = tmp_path / "死亡通报-2025-09.csv"
    path.write_bytes(DEATHS_2025_09.encode("gbk"))  # Excel's CSV on Chinese Windows
    out = io.StringIO()
    call_command("sources", "import", "--kind", "death_notices", str(path), stdout=out)
    assert '"outcome": "imported"' in out.getvalue()

    # linked on arrival: 李娜 by her ID number (accepted), the stranger to nobody
    dn1 = SourceLink.objects.get(entry__record_id="DN1")
    assert (dn1.status, dn1.person_id, dn1.automatic) == (LinkStatus.ACCEPTED, people["other"].pk, True)
    assert SourceLink.objects.get(entry__record_id="DN2").status == LinkStatus.UNMATCHED

    # the month's reconciliation items: both deaths are known only to the source
    items = {(i.month, i.kind, i.category, i.source_record_id, i.unit_id, i.person_id)
             for i in ReconciliationItem.objects.all()}
    assert items == {
        ("2025-09", "death", "source_only", "DN1", VILLAGE_B1, people["other"].pk),
        ("2025-09", "death", "source_only", "DN2", VILLAGE_A1, None),
    }
    # the anomalies, as rectification items of the open campaign
    found = {(i.item_type, i.unit_id, i.person_id) for i in RectificationItem.objects.filter(campaign=campaign)
             if i.item_type.startswith("death")}
    assert found == {("death_not_deregistered", VILLAGE_B1, people["other"].pk),
                     ("death_notice_unmatched", VILLAGE_A1, None)}
    batch = SourceBatch.objects.get()
    assert {f["anomaly_type"] for f in batch.fed["findings"]} == {"death_not_deregistered", "death_notice_unmatched"}
    assert AuditRecord.objects.filter(action="sources_import", target_id=str(batch.pk)).count() == 1

    # the live registry's reconciliation reads them too (the snapshot carries the records)
    with tempfile.TemporaryDirectory() as tmp:
        write_registry_snapshot(tmp)
        summary = reconcile(tmp, [Month(2025, 9)], level="county", links=link_sources(tmp)).summary
    assert int(summary["deaths_source_only"].sum()) == 2 and int(summary["deaths_registry"].sum()) == 0

    # the same file again changes nothing
    before = _state()
    out = io.StringIO()
    call_command("sources", "import", "--kind", "death_notices", str(path), stdout=out)
    assert '"outcome": "repeated"' in out.getvalue() and "未作任何更改" in out.getvalue()
    assert _state() == before

    # another file with the same notices and one more: only the new one is added
    more = DEATHS_2025_09 + f"DN3,王秀英,女,{MOTHER_ID},1990-03-04,2025-09-20,{VILLAGE_A1},殡葬\n"
    result = import_file(actors["admin"], more.encode("utf-8-sig"), "more.csv", "death_notices")
    assert (result.outcome, result.batch.new_records, result.batch.known_records) == ("imported", 1, 2)
    assert ReconciliationItem.objects.filter(source_record_id="DN3").count() == 1
    assert ReconciliationItem.objects.count() == 3


def test_a_registered_death_is_matched_not_an_item(people, actors):
    from popreg.registry import actions

    actions.do_register_death(actors["admin"], people["other"], death_date=date(2025, 9, 10))
    csv = DEATHS_2025_09.splitlines()[:2]
    result = import_file(actors["admin"], ("\n".join(csv) + "\n").encode(), "dn.csv", "death_notices")
    assert result.outcome == "imported"
    assert result.batch.fed["reconciliation"]["created"] == 0
    assert not ReconciliationItem.objects.exists()
    assert result.batch.fed["findings"] == []  # deregistered already: no anomaly


def test_hospital_births_link_the_registered_child_and_feed_the_unregistered_one(people, actors):
    xlsx = _xlsx([
        ["医院出生记录 2025年9月"],  # a title row above the header
        ["出生医学证明编号", "医院", "出生日期", "婴儿性别", "母亲姓名", "母亲身份证号", "母亲出生日期", "住址代码"],
        ["HB1", "县医院", date(2020, 5, 6), "男", "王秀英", MOTHER_ID,
         date(1990, 3, 4), VILLAGE_A1],
        ["HB2", "县医院", date(2025, 9, 3), "女", "李娜", LI_NA_ID, date(1985, 1, 2), VILLAGE_B1],
    ])
    result = import_file(actors["admin"], xlsx, "births.xlsx", "hospital_births")
    assert result.outcome == "imported", result.errors
    hb1 = SourceLink.objects.get(entry__record_id="HB1")
    assert hb1.role == "child" and hb1.proposed_person_id == people["child"].pk
    assert SourceLink.objects.get(entry__record_id="HB2").proposed_person_id is None
    # the unregistered birth of September is an item of that month and an anomaly
    assert {(i.month, i.kind, i.category, i.source_record_id) for i in ReconciliationItem.objects.all()} == {
        ("2025-09", "birth", "source_only", "HB2")}
    assert [f["anomaly_type"] for f in result.batch.fed["findings"]] == ["unregistered_birth"]


def test_marriages_link_both_spouses(people, actors):
    csv = ("结婚证字号,登记日期,男方姓名,男方身份证号,男方出生日期,女方姓名,女方身份证号,女方出生日期,登记机关,住址代码\n"
           f"J110105-2025-001,2025-09-08,张伟,,2000-05-06,李娜,{LI_NA_ID},1985-01-02,示例县民政局,{VILLAGE_B1}\n")
    result = import_file(actors["admin"], csv.encode(), "marriages.csv", "marriages")
    assert result.outcome == "imported"
    links = {lk.role: lk for lk in SourceLink.objects.all()}
    assert set(links) == {"husband", "wife"}
    assert links["wife"].proposed_person_id == people["other"].pk
    assert links["husband"].proposed_person_id is None  # no such man registered
    assert result.batch.fed == {}  # marriages feed neither reconciliation nor anomalies


# ------------------------------------------------------------------ reading and errors


def test_each_kind_is_read_in_utf8_and_gbk_with_natural_keys():
    csv = ("姓名,性别,身份证号,出生日期,死亡日期\n"
           f"李 娜,F,{LI_NA_ID[:-1]}{LI_NA_ID[-1].lower()},1985/1/2,2025年9月10日\n")
    for data in (csv.encode("gbk"), csv.encode("utf-8"), csv.encode("utf-8-sig")):
        parsed = parse_source(data, "dn.csv", "death_notices")
        assert parsed.ok, parsed.errors
        (row,) = parsed.rows
        assert row.data["name"] == "李娜" and row.data["sex"] == "F"
        assert row.data["birth_date"] == "1985-01-02" and row.data["death_date"] == "2025-09-10"
        assert row.data["id_number"] == LI_NA_ID.upper()
        assert row.record_id == natural_key("death_notices", row.data) and row.record_id.startswith("DN-")
        assert not row.from_file


def test_bad_rows_are_named_with_how_to_fix_them_and_nothing_is_imported(people, actors, tmp_path):
    csv = (
        "编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\n"
        f"DN1,,女,{LI_NA_ID},1985-01-02,2025-09-10,{VILLAGE_B1}\n"  # row 2: no name
        "DN2,钱七,X,12345,1950-02-30,2025-09-12,1101\n"  # row 3: sex, ID, date, unit
        "DN3,孙八,男,,1960-01-01,2099-01-01,\n"  # row 4: a death in the future
        f"DN4,周九,男,,1990-01-01,1980-01-01,{VILLAGE_A1}\n"  # row 5: died before birth
        f"DN5,吴十,男,,1950-01-01,2025-09-01,{VILLAGE_A1}\n"
        f"DN5,吴十,男,,1950-01-01,2025-09-01,{VILLAGE_A1}\n"  # row 7: repeated
    )
    result = import_file(actors["admin"], csv.encode(), "bad.csv", "death_notices")
    assert result.outcome == "errors" and result.batch is None
    errors = {(e.row, e.column): e for e in result.errors}
    assert set(errors) == {(2, "姓名"), (3, "性别"), (3, "公民身份号码"), (3, "出生日期"), (3, "住址代码"),
                           (4, "死亡日期"), (5, "死亡日期"), (7, "编号")}
    assert "请填写姓名" in errors[(2, "姓名")].message_zh
    assert "男 或 女" in errors[(3, "性别")].message_zh
    assert "18 位" in errors[(3, "公民身份号码")].message_zh and "blank" in errors[(3, "公民身份号码")].message_en
    assert "不是有效日期" in errors[(3, "出生日期")].message_zh
    assert "晚于今天" in errors[(4, "死亡日期")].message_zh
    assert "第 6 行" in errors[(7, "编号")].message_zh
    assert not SourceEntry.objects.exists() and not SourceBatch.objects.exists()

    # the command prints them, writes the report and fails
    path, report = tmp_path / "bad.csv", tmp_path / "errors.csv"
    path.write_bytes(csv.encode())
    err = io.StringIO()
    with pytest.raises(CommandError, match="8 处错误"):
        call_command("sources", "import", "--kind", "death_notices", str(path), "--errors", str(report), stderr=err)
    assert "第 3 行 性别“X”" in err.getvalue()
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("行号 Row") and len(lines) == 9
    assert not SourceEntry.objects.exists()


def test_a_file_that_cannot_be_used_says_why():
    with pytest.raises(ImportFileError, match="公民身份号码"):
        parse_source("姓名,性别,出生日期,死亡日期\n李娜,女,1985-01-02,2025-09-10\n".encode(), "x.csv",
                     "death_notices")
    with pytest.raises(ImportFileError, match="marriages"):
        parse_source(b"a,b\n", "x.csv", "births")
    with pytest.raises(ImportFileError, match="表头"):
        parse_source("随便,什么\n1,2\n".encode(), "x.csv", "hospital_births")


def test_a_township_officer_imports_only_records_of_the_township(people, actors, tmp_path):
    csv = ("编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\n"
           f"DN1,李娜,女,{LI_NA_ID},1985-01-02,2025-09-10,{VILLAGE_B1}\n"
           f"DN2,赵无名,男,,1950-02-03,2025-09-12,{VILLAGE_A1}\n")
    result = import_file(actors["officer_a"], csv.encode(), "dn.csv", "death_notices")
    assert result.outcome == "errors"
    assert [(e.row, e.column) for e in result.errors] == [(2, "住址代码")]
    assert "辖区" in result.errors[0].message_zh
    with pytest.raises(RegistryError):
        import_file(actors["clerk_a1"], csv.encode(), "dn.csv", "death_notices")  # a clerk does not import

    # the command acts as the user given
    path = tmp_path / "dn.csv"
    path.write_bytes(csv.encode())
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 处错误"):
        call_command("sources", "import", "--kind", "death_notices", str(path), "--user", "officer_a", stderr=err)
    assert "第 2 行 住址代码" in err.getvalue() and "outside your jurisdiction" in err.getvalue()
    with pytest.raises(CommandError, match="不存在"):
        call_command("sources", "import", "--kind", "death_notices", str(path), "--user", "nobody")
    assert not SourceEntry.objects.exists()


# ------------------------------------------------------------------ review decisions


@pytest.fixture
def queued(people, actors):
    """Two notices waiting for review: one proposed to 王秀英 by a clerical guess, one unmatched."""
    from popreg.sources.actions import do_import_source
    from popreg.sources.linking import Proposal

    csv = ("编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\n"
           f"DN7,王秀英,女,,1990-03-04,2025-09-01,{VILLAGE_A1}\n"
           f"DN8,王秀瑛,女,,1990-03-04,2025-09-02,{VILLAGE_A1}\n")
    parsed = parse_source(csv.encode(), "q.csv", "death_notices")
    do_import_source(actors["admin"], parsed, [Proposal("DN7", "deceased", people["mother"].pk, 0.8, "model")],
                     feed=False)
    return {lk.entry.record_id: lk for lk in SourceLink.objects.select_related("entry")}


def test_review_accept_reject_and_link_are_audited_and_feed_at_once(queued, people, actors):
    clerk = actors["clerk_a1"]
    assert queued["DN7"].status == LinkStatus.PROPOSED and queued["DN8"].status == LinkStatus.UNMATCHED
    accepted = do_review_link(clerk, queued["DN7"], "accept")
    assert (accepted.status, accepted.person_id, accepted.decided_by.username) == (
        "accepted", people["mother"].pk, "clerk_a1")
    # the accepted notice fed the month at once: 王秀英 is still active
    assert ReconciliationItem.objects.filter(source_record_id="DN7", person=people["mother"]).count() == 1
    rec = AuditRecord.objects.filter(action="sources_review_accept").get()
    assert rec.before["status"] == "proposed" and rec.after == {
        "status": "accepted", "person_id": people["mother"].pk, "reason": ""}

    with pytest.raises(RegistryError, match="理由"):
        do_review_link(clerk, queued["DN8"], "link", person_id=people["mother"].pk)
    with pytest.raises(RegistryError, match="不存在"):
        do_review_link(clerk, queued["DN8"], "link", person_id=999999, reason="同一人")
    with pytest.raises(JurisdictionError):
        do_review_link(clerk, queued["DN8"], "link", person_id=people["other"].pk, reason="同一人")
    with pytest.raises(RegistryError, match="没有建议"):
        do_review_link(clerk, queued["DN8"], "accept")
    linked = do_review_link(clerk, queued["DN8"], "link", person_id=people["mother"].pk, reason="名字错一字")
    assert (linked.status, linked.person_id, linked.reason) == ("accepted", people["mother"].pk, "名字错一字")

    # the reviewer's decisions are what reconciliation uses (no engine guess on top)
    with tempfile.TemporaryDirectory() as tmp:
        write_registry_snapshot(tmp)
        links = link_sources(tmp).set_index("record_id")
    assert links.loc["DN7", "person_id"] == links.loc["DN8", "person_id"] == str(people["mother"].pk)

    rejected = do_review_link(clerk, linked, "reject", reason="另一人，户籍不在本县")
    assert (rejected.status, rejected.person_id) == ("rejected", None)
    with tempfile.TemporaryDirectory() as tmp:
        write_registry_snapshot(tmp)
        assert link_sources(tmp).set_index("record_id").loc["DN8", "person_id"] == ""
    assert list(AuditRecord.objects.filter(action__startswith="sources_review").values_list("action", flat=True)
                .order_by("pk")) == ["sources_review_accept", "sources_review_link", "sources_review_reject"]


def test_review_outside_the_jurisdiction_is_refused(queued, actors):
    with pytest.raises(JurisdictionError):
        do_review_link(actors["clerk_b1"], queued["DN7"], "accept")
    with pytest.raises(RegistryError):
        do_review_link(actors["statistician"], queued["DN7"], "accept")
    assert SourceLink.objects.get(pk=queued["DN7"].pk).status == LinkStatus.PROPOSED
    # the county administrator may review everywhere
    do_review_link(actors["admin"], queued["DN7"], "reject", reason="非本人", feed=False)


def _xlsx(rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
