"""Import pages: upload → preview → commit, error report, progress, permissions."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from popreg.registry.models import Person

from .helpers import HEADER, counts, sample_rows, to_csv, to_xlsx


@pytest.fixture(autouse=True)
def _home(settings, tmp_path):
    settings.POPREG_HOME = tmp_path


def upload(client, data, name="people.csv"):
    return client.post("/import/", {"file": SimpleUploadedFile(name, data)})


def job_id(response):
    assert response.status_code == 302, response.content[:500]
    return response["Location"].rstrip("/").split("/")[-1]


def test_anonymous_is_sent_to_login(client, db):
    r = client.get("/import/")
    assert r.status_code == 302 and "login" in r["Location"]


@pytest.mark.parametrize("role", ["statistician", "auditor"])
def test_read_only_roles_get_403(client, users, role):
    client.force_login(users[role])
    assert client.get("/import/").status_code == 403
    r = upload(client, to_csv(sample_rows(2)))
    assert r.status_code == 403
    assert Person.objects.count() == 0


def test_upload_preview_commit(client, users):
    client.force_login(users["officer_a"])
    page = client.get("/import/")
    assert page.status_code == 200 and "公民身份号码" in page.content.decode()
    data = to_xlsx(sample_rows(6))
    jid = job_id(upload(client, data, "people.xlsx"))
    page = client.get(f"/import/{jid}/").content.decode()
    assert "检查通过" in page and "测试零" in page
    assert Person.objects.count() == 0  # preview writes nothing
    assert client.get(f"/import/{jid}/progress/").json()["state"] == "ready"
    r = client.post(f"/import/{jid}/commit/")
    assert r.status_code == 302
    page = client.get(f"/import/{jid}/").content.decode()
    assert "导入完成" in page
    assert Person.objects.count() == 6
    # The same file again is refused at the preview and nothing changes.
    before = counts()
    jid2 = job_id(upload(client, data, "again.xlsx"))
    page = client.get(f"/import/{jid2}/").content.decode()
    assert "不能重复导入" in page
    client.post(f"/import/{jid2}/commit/")
    # Another file with the same people (other bytes) is refused by their ID numbers.
    jid3 = job_id(upload(client, to_csv(sample_rows(6)), "copy.csv"))
    page = client.get(f"/import/{jid3}/").content.decode()
    assert "已登记给在册人员" in page
    client.post(f"/import/{jid3}/commit/")
    assert counts() == before


def test_errors_are_listed_and_downloadable(client, users):
    client.force_login(users["clerk_a1"])
    rows = sample_rows(4)
    rows[1][HEADER.index("出生日期")] = "2023-02-30"
    rows[3][HEADER.index("公民身份号码")] = "12345"
    jid = job_id(upload(client, to_csv(rows, encoding="gbk")))
    page = client.get(f"/import/{jid}/").content.decode()
    assert "2023-02-30" in page and "不是有效日期" in page
    assert "辖区" in page  # rows 4-5 are in village A2, outside clerk A1's village
    report = client.get(f"/import/{jid}/errors.csv").content
    assert report.startswith(b"\xef\xbb\xbf")
    text = report.decode("utf-8-sig")
    assert "3,出生日期,2023-02-30" in text and "5,公民身份号码,12345" in text
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(client.get(f"/import/{jid}/errors.xlsx").content)).active
    # row 1: who, when and why; row 2: the header; the errors follow
    assert "clerk_a1" in ws.cell(row=1, column=1).value
    assert ws.cell(row=3, column=1).value == 3 and ws.cell(row=3, column=2).value == "出生日期"
    before = counts()
    client.post(f"/import/{jid}/commit/")  # not ready: nothing happens
    assert counts() == before


def test_unreadable_file_gives_a_clear_message(client, users):
    client.force_login(users["admin"])
    before = counts()
    jid = job_id(upload(client, b"%PDF-1.7\x00\x01\x02", "scan.pdf"))
    page = client.get(f"/import/{jid}/").content.decode()
    assert "不是电子表格" in page and "not a spreadsheet" in page
    assert counts() == before
    r = client.post("/import/", {})
    assert r.status_code == 400 and "请选择" in r.content.decode()


def test_jobs_are_private_to_their_owner(client, users):
    client.force_login(users["admin"])
    jid = job_id(upload(client, to_csv(sample_rows(2))))
    client.force_login(users["officer_a"])
    assert client.get(f"/import/{jid}/").status_code == 404
    assert client.post(f"/import/{jid}/commit/").status_code == 404
    assert client.get("/import/../../etc/").status_code == 404


def test_templates_download(client, users):
    client.force_login(users["clerk_a1"])
    csv_bytes = client.get("/import/template.csv").content
    assert csv_bytes.decode("utf-8-sig").startswith("户号,户别,住址,姓名")  # imports unchanged
    xlsx = client.get("/import/template.xlsx").content
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(xlsx))
    assert [c.value for c in wb.worksheets[0][1]][:4] == ["户号", "户别", "住址", "姓名"]
    # stamped in the properties and a sheet of its own, not above the header
    assert wb.properties.lastModifiedBy == "clerk_a1" and "导出信息 Export" in wb.sheetnames


@pytest.mark.django_db(transaction=True)
def test_imports_run_as_queued_jobs_with_progress(client, users, settings):
    """With the database queue, the upload and the commit only queue jobs; the worker
    (``db_worker``, run here in batch mode) does the work and the page follows it."""
    from django.core.management import call_command

    from popreg.registry.job_models import Job

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client.force_login(users["admin"])
    jid = job_id(upload(client, to_csv(sample_rows(6))))

    def work():
        call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
        return client.get(f"/import/{jid}/progress/").json()

    st = client.get(f"/import/{jid}/progress/").json()
    assert st["state"] == "validating" and st["running"]
    page = client.get(f"/import/{jid}/").content.decode()
    assert f'data-job-progress="/jobs/{st["job"]}/progress/"' in page  # the progress component
    assert work()["state"] == "ready"
    client.post(f"/import/{jid}/commit/")
    st = client.get(f"/import/{jid}/progress/").json()
    assert st["state"] == "committing" and Person.objects.count() == 0
    st = work()
    assert st["state"] == "committed" and not st["running"]
    assert Person.objects.count() == 6
    job = Job.objects.get(pk=st["job"])
    assert (job.kind, job.state, job.attempts) == ("import_commit", "succeeded", 1)
    assert job.result["summary"]["persons"] == 6 and job.result_url == f"/import/{jid}/"
    assert job.done == job.total == 6


def test_progress_stages_are_shown_in_the_users_language():
    from django.utils import translation

    from popreg.registry.import_views import _stage

    with translation.override("zh-hans"):
        assert _stage({"stage": "commit"}) == "写入人员"
    with translation.override("en"):
        assert _stage({"stage": "parse"}) == "Reading the rows"
    assert _stage({"stage": "something-new"}) == "something-new"
    assert _stage({}) == ""
