"""The pages of the outside-source app: upload (a job with progress) → the job's outcome with
the row-level error report → the imported file and what it fed; the review queue and the
decision form.  Also :func:`source_objects`, the inside and outside objects of the
authorization matrix (tests/web/test_authz_matrix.py)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from popreg.registry.job_models import Job
from popreg.registry.models import AuditRecord
from popreg.sources.models import LinkStatus, SourceBatch, SourceEntry, SourceLink
from popreg.stats.models import ReconciliationItem

from ..conftest import VILLAGE_A1, VILLAGE_B1, make_id

NOTICE = "编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\n{rid},{name},女,{id},{birth},2025-09-01,{unit}\n"


def source_objects(people, admin):
    """A file with a notice in village A1 (proposed: 王秀英) and one in village B1 (李娜)."""
    from popreg.sources.actions import do_import_source
    from popreg.sources.linking import Proposal
    from popreg.sources.reading import parse_source

    out = {}
    for key, person, unit in (("a", people["mother"], VILLAGE_A1), ("b", people["other"], VILLAGE_B1)):
        rid = f"DN-{key.upper()}"
        csv = NOTICE.format(rid=rid, name=person.name, id="", birth=person.birth_date.isoformat(), unit=unit)
        parsed = parse_source(csv.encode(), f"{key}.csv", "death_notices")
        batch = do_import_source(admin, parsed, [Proposal(rid, "deceased", person.pk, 0.7, "model")],
                                 feed=False).batch
        out[key] = (batch.pk, batch.entries.get().links.get().pk)
    return {"source_batch": ((out["a"][0],), (out["b"][0],)),
            "source_link": ((out["a"][1],), (out["b"][1],))}


@pytest.fixture
def home(settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    return tmp_path


def _upload(client, kind, name, data):
    return client.post("/sources/", {"kind": kind, "file": SimpleUploadedFile(name, data, "text/csv")})


def test_upload_runs_the_job_and_shows_the_file_and_what_it_fed(people, users, client, home):
    client.force_login(users["admin"])
    page = client.get("/sources/")
    assert page.status_code == 200 and "死亡通报" in page.content.decode() and "住址代码" in page.content.decode()
    csv = NOTICE.format(rid="DN1", name="李娜", id=make_id(date(1985, 1, 2), "F", 3), birth="1985-01-02",
                        unit=VILLAGE_B1)
    r = _upload(client, "death_notices", "九月死亡通报.csv", csv.encode("gbk"))
    assert r.status_code == 302 and r["Location"].startswith("/sources/jobs/")
    job_page = client.get(r["Location"])
    text = job_page.content.decode()
    assert job_page.status_code == 200 and 'id="imported"' in text
    batch = SourceBatch.objects.get()
    assert f"/sources/batches/{batch.pk}/" in text
    assert not list(home.joinpath("sources").iterdir())  # the uploaded file is gone
    text = client.get(f"/sources/batches/{batch.pk}/").content.decode()
    assert "九月死亡通报.csv" in text and "死亡应销未销" in text and "DN1" in text
    assert "比对事项：新增 1" in text or "1 new" in text

    # the same file again: the job says nothing changed
    r = _upload(client, "death_notices", "again.csv", csv.encode("gbk"))
    assert 'id="repeated"' in client.get(r["Location"]).content.decode()
    assert SourceBatch.objects.count() == 1


def test_a_file_with_errors_shows_every_bad_row_and_offers_the_report(people, users, client, home):
    client.force_login(users["admin"])
    csv = ("编号,姓名,性别,公民身份号码,出生日期,死亡日期,住址代码\n"
           "DN1,,女,,1985-01-02,2025-09-01,\n"
           "DN2,钱七,?,,1950-02-30,2025-09-12,\n")
    r = _upload(client, "death_notices", "bad.csv", csv.encode())
    text = client.get(r["Location"]).content.decode()
    assert 'id="errors-summary"' in text and "请填写姓名" in text and "不是有效日期" in text
    assert "男 或 女" in text and not SourceEntry.objects.exists()
    job_id = r["Location"].rstrip("/").rsplit("/", 1)[1]
    report = client.get(f"/sources/jobs/{job_id}/errors.csv")
    assert report.status_code == 200
    body = b"".join(report.streaming_content if report.streaming else [report.content]).decode("utf-8-sig")
    assert "请填写姓名" in body and "2025-09-12" not in body.split("\n")[0]
    assert "不是有效日期" in body
    xlsx = client.get(f"/sources/jobs/{job_id}/errors.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    from openpyxl import load_workbook

    cells = [c for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True) for c in row]
    assert "请填写姓名" in cells and 2 in cells  # the row number of the empty name
    client.cookies["django_language"] = "en"
    english = client.get(r["Location"]).content.decode()
    assert "is required" in english and "nothing was imported" in english


def test_upload_refusals_name_the_field(people, users, client, home):
    client.force_login(users["admin"])
    r = client.post("/sources/", {"kind": "death_notices"})
    assert r.status_code == 400 and "请选择要上传的" in r.content.decode()
    r = _upload(client, "births", "x.csv", b"a,b\n")
    assert r.status_code == 400 and "请选择来源类型" in r.content.decode()
    # a file that is not a usable table: the job's page says why (the column missing)
    r = _upload(client, "death_notices", "x.csv", "姓名,性别,出生日期,死亡日期\n李娜,女,1985-01-02,2025-09-01\n".encode())
    page = client.get(r["Location"]).content.decode()
    assert "缺少必需的列" in page and "公民身份号码" in page and not SourceBatch.objects.exists()
    client.force_login(users["clerk_a1"])  # a clerk reviews but does not import
    assert client.get("/sources/").status_code == 200
    assert _upload(client, "death_notices", "x.csv", b"a\n").status_code == 403
    client.force_login(users["statistician"])
    assert client.get("/sources/").status_code == 403


def test_review_queue_and_decision_form(people, users, actors, client):
    objs = source_objects(people, actors["admin"])
    link_a, link_b = objs["source_link"][0][0], objs["source_link"][1][0]
    client.force_login(users["clerk_a1"])
    queue = client.get("/sources/review/").content.decode()
    assert "DN-A" in queue and "DN-B" not in queue and "李娜" not in queue  # B1 is not the clerk's
    assert client.get(f"/sources/links/{link_b}/").status_code == 403
    home = client.get("/").content.decode()  # the open work of the home page links the queue
    assert "待审核关联的外部来源记录" in home and 'href="/sources/review/"' in home
    form = client.get(f"/sources/links/{link_a}/").content.decode()
    assert "王秀英" in form and 'name="decision"' in form
    # a missing reason is named on the form, nothing changes
    r = client.post(f"/sources/links/{link_a}/", {"decision": "reject", "reason": ""})
    assert r.status_code == 400 and "请填写理由" in r.content.decode()
    assert SourceLink.objects.get(pk=link_a).status == LinkStatus.PROPOSED
    r = client.post(f"/sources/links/{link_a}/", {"decision": "accept", "reason": "本人"})
    assert r.status_code == 302
    assert SourceLink.objects.get(pk=link_a).status == LinkStatus.ACCEPTED
    assert AuditRecord.objects.filter(action="sources_review_accept", actor=users["clerk_a1"]).count() == 1
    # the feeding job ran: 王秀英 is notified dead but still active
    assert Job.objects.get(kind="sources_feed").state == "succeeded"
    assert ReconciliationItem.objects.get(source_record_id="DN-A").person_id == people["mother"].pk
    assert "DN-A" not in client.get("/sources/review/").content.decode()
    batch_a = objs["source_batch"][0][0]
    assert "已关联" in client.get(f"/sources/batches/{batch_a}/").content.decode()
