"""Duplicate review and bulk import pages: Chinese by default, English with the language cookie.

Data (names, units, reasons) stays as entered; the checks name the pages' own headings,
labels and messages.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from popreg.linkage.models import DedupRun, DuplicateCandidate
from popreg.registry import actions as reg

from ..bilingual import check_bilingual, get_page
from ..conftest import VILLAGE_A1
from ..importing.helpers import sample_rows, to_csv

EVIDENCE = [
    {"comparison": "name", "gamma": 2, "level": "same reading (homophone / variant)", "weight": 7.2},
    {"comparison": "id_number", "gamma": -1, "level": "null", "weight": 0.0},
    {"comparison": "birth_date", "gamma": 4, "level": "same date", "weight": 13.7},
]


@pytest.fixture
def pair(people, actors):
    """A finished run over village A1 and the pending pair it found (張偉 / 张伟)."""
    twin = reg.do_register_birth(
        actors["admin"],
        name="张伟",
        sex="M",
        birth_date=date(2020, 5, 6),
        registered_unit_code=VILLAGE_A1,
        household=people["hh_a"],
    )
    run = DedupRun.objects.create(
        unit_id=VILLAGE_A1, started_by_name="admin", state="done", progress=100, n_records=3, n_pairs=1
    )
    lo, hi = sorted((people["child"].pk, twin.pk))
    c = DuplicateCandidate.objects.create(
        person_a_id=lo, person_b_id=hi, match_weight=9.5, match_probability=0.93, evidence=EVIDENCE, run=run
    )
    return {"candidate": c, "run": run, "twin": twin}


def test_queue_page(client, users, pair):
    client.force_login(users["clerk_a1"])
    check_bilingual(
        client,
        reverse("linkage:index"),
        ["Duplicate review (persons and households registered twice)", "Review queue",
         "Match probability", "Pending review", "Decided: same person", "Recent deduplication runs",
         "Your jurisdiction has <strong>1</strong> pair to review.", "3 persons, 1 possible duplicates"],
        ["重复记录审核（重户重口）", "待审核队列", "匹配概率", "待审核", "已判定同一人",
         "最近的查重运行", "对待审核", "3 人，1 对疑似重复"],
    )
    assert "张伟" in get_page(client, reverse("linkage:index"), english=True)  # data stays as entered


def test_pair_page_with_evidence_and_decision_form(client, users, pair):
    client.force_login(users["clerk_a1"])
    check_bilingual(
        client,
        reverse("linkage:candidate", args=[pair["candidate"].pk]),
        ["Check possible duplicate: 張偉 and 张伟", "Total match weight", "Same person",
         "Different people", "Reason (required)", "same reading (homophone / variant)",
         "missing (not scored)", "Merge into one record", "Keep record 1 (no. "],
        ["核对疑似重复", "总匹配权重", "同一人", "不同的人", "理由（必填）", "读音相同（同音字或异体字）",
         "缺失（不计分）", "合并为一条记录", "保留记录一（编号 "],
    )


def test_merge_note_and_error_message(client, users, pair):
    client.force_login(users["clerk_a1"])
    client.cookies["django_language"] = "en"
    c, twin = pair["candidate"], pair["twin"]
    r = client.post(reverse("linkage:decide", args=[c.pk]), {"decision": "same_person", "reason": " "})
    page = r.content.decode()
    assert r.status_code == 400 and "a reason is required" in page and "请填写理由" not in page
    client.post(reverse("linkage:merge", args=[c.pk]), {"survivor": twin.pk, "merge_reason": "同一人"})
    url = reverse("linkage:candidate", args=[c.pk])
    page = get_page(client, url, english=True)
    assert "the kept record took from the duplicate: ID number" in page
    assert "Both records and their full history are kept." in page and "Undo merge" in page
    assert "补充了" not in page and "撤销合并" not in page
    page = get_page(client, url, english=False)
    assert "补充了：公民身份号码" in page and "两条记录及其全部历史均保留。" in page


def test_runs_run_and_merges_pages(client, users, pair):
    client.force_login(users["admin"])
    run = pair["run"]
    check_bilingual(
        client,
        reverse("linkage:runs"),
        ["Start deduplication", "Possible duplicates", f"Run {run.pk}", "finished"],
        ["开始查重", "疑似重复", f"第 {run.pk} 次", "已完成"],
    )
    check_bilingual(
        client,
        reverse("linkage:run", args=[run.pk]),
        [f"Deduplication run {run.pk}: 东关村民委员会", "Persons compared", "Already decided, skipped"],
        [f"第 {run.pk} 次查重：", "参与比对人数", "已判定、跳过"],
    )
    check_bilingual(client, reverse("linkage:merges"), ["Merge log", "No merges yet."], ["合并记录", "暂无合并记录。"])
    progress = reverse("linkage:run_progress", args=[run.pk])
    client.cookies["django_language"] = "en"
    assert client.get(progress).json()["state_label"] == "finished"
    client.cookies.pop("django_language")
    assert client.get(progress).json()["state_label"] == "已完成"


def test_import_pages(client, users, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    client.force_login(users["admin"])
    check_bilingual(
        client,
        "/import/",
        ["Bulk import of persons and households", "Upload and check", "Download a template:",
         "Column header"],
        ["批量导入人员和户", "上传并检查", "下载模板", "列名"],
    )
    r = client.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(sample_rows(3)))})
    job = r["Location"]
    check_bilingual(
        client,
        job,
        ["Checked, ready to import", "All rows passed the checks", "Import 3 rows",
         "Preview of the first 3 rows", "Relation to head"],
        ["检查通过", "确认导入", "前 3 行预览", "与户主关系"],
    )
    r = client.post("/import/", {"file": SimpleUploadedFile("scan.pdf", b"%PDF-1.7\x00\x01")})
    page = get_page(client, r["Location"], english=True)
    assert "not a spreadsheet" in page and "Nothing was written." in page
    assert "不是电子表格" not in page and "无法读取" not in page
    page = get_page(client, r["Location"], english=False)
    assert "不是电子表格" in page and "没有写入任何数据。" in page


def test_import_refused_to_read_only_role(client, users):
    client.force_login(users["statistician"])
    client.cookies["django_language"] = "en"
    r = client.get("/import/")
    page = r.content.decode()
    assert r.status_code == 403 and "<h1>Bulk import</h1>" in page
    main = page.split("<main", 1)[1]
    assert "your role cannot import persons" in main and "当前角色" not in main
    assert "County statistician" in page  # the role, named in the page's language


def test_run_stage_follows_the_language(client, users, pair):
    run = pair["run"]
    run.stage = "too_few"
    run.save()
    client.force_login(users["clerk_a1"])
    url = reverse("linkage:run_progress", args=[run.pk])
    client.cookies["django_language"] = "en"
    assert client.get(url).json()["stage"] == "Fewer than two persons: nothing to compare"
    client.cookies.pop("django_language")
    assert client.get(url).json()["stage"] == "人数不足两人，无需查重"
    run.stage = "旧版本写入的文字"  # runs recorded before stages had keys show their text
    run.save()
    assert client.get(url).json()["stage"] == "旧版本写入的文字"
