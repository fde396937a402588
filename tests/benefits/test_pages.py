"""The benefits pages through the web client, in Chinese and English."""

from __future__ import annotations

import io

import pytest

from popreg.benefits.models import Disclosure, EligibilityRun, Objection, PaymentBatch

from ..bilingual import check_bilingual
from .conftest import MONTH

pytestmark = pytest.mark.django_db
P = "childcare_subsidy"


def test_the_whole_flow_through_the_pages(client, families, officers, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    u1, u2 = officers["fuli1_user"], officers["fuli2_user"]
    client.force_login(u1)
    r = client.post("/benefits/", {"programme": P, "month": "2025-10"})
    assert r.status_code == 302 and "/jobs/" in r["Location"]
    run = EligibilityRun.objects.get()
    assert run.eligible_count == 3 and run.prepared_by == u1
    page = client.get(f"/benefits/runs/{run.pk}/").content.decode()
    assert "张小伟" in page and "registered_in_county" not in page  # condition labels, not ids
    start = MONTH
    for level in ("village", "township", "county"):
        r = client.post(f"/benefits/runs/{run.pk}/publish/", {"level": level, "starts_on": start.isoformat()})
        assert r.status_code == 302
        d = Disclosure.objects.get(run=run, level=level)
        if level == "township":
            decision = run.decisions.get(person=families["b1"]["child"])
            client.post(f"/benefits/disclosures/{d.pk}/objections/",
                        {"decision": decision.pk, "objector": "村民乙", "what": "已迁走", "evidence": "照片"})
            obj = Objection.objects.get()
            client.post(f"/benefits/disclosures/{d.pk}/close/")
            d.refresh_from_db()
            assert d.closed_at is None  # an open objection blocks the close
            client.post(f"/benefits/objections/{obj.pk}/resolve/", {"outcome": "dismiss", "reason": "核实仍在本县"})
        client.post(f"/benefits/disclosures/{d.pk}/close/")
        d.refresh_from_db()
        assert d.closed_at is not None, level
        start = d.ends_on
    r = client.get(f"/benefits/runs/{run.pk}/villages/110105001001/notice.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    client.post(f"/benefits/runs/{run.pk}/approve/")
    run.refresh_from_db()
    assert run.status == "disclosed"  # the preparer cannot approve
    client.force_login(u2)
    client.post(f"/benefits/runs/{run.pk}/approve/")
    run.refresh_from_db()
    assert run.status == "approved"
    r = client.post("/benefits/payments/", {"programme": P, "month": "2025-10"})
    batch = PaymentBatch.objects.get()
    assert r.status_code == 302 and batch.line_count == 3
    # The bank file carries full ID numbers: it asks why first, then carries the reason.
    form = client.get(f"/benefits/payments/{batch.pk}/file.csv")
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    csv_text = client.get(f"/benefits/payments/{batch.pk}/file.csv", {"reason": "银行代发 bank payment"}
                          ).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("record_type,payment_id")
    ids = [ln.payment_id for ln in batch.lines.order_by("id")]
    ret = "payment_id,status,reason\n" + "\n".join(
        f"{i},{'failed' if n == 0 else 'paid'},{'户名不符' if n == 0 else ''}" for n, i in enumerate(ids))
    f = io.BytesIO(ret.encode())
    f.name = "return.csv"
    client.post(f"/benefits/payments/{batch.pk}/return/", {"file": f})
    assert batch.lines.filter(status="failed").count() == 1
    r = client.post(f"/benefits/payments/{batch.pk}/resubmit/")
    assert PaymentBatch.objects.count() == 2
    for url in ("/benefits/", "/benefits/payments/", f"/benefits/payments/{batch.pk}/", "/benefits/recoveries/",
                "/benefits/applications/", f"/benefits/persons/{families['a1']['mother'].pk}/", "/"):
        assert client.get(url).status_code == 200, url
    check_bilingual(client, f"/benefits/runs/{run.pk}/", ["Public disclosure (village, township, county)", "Decisions",
                                                         "under 3 on the first day of the month"],
                    ["三级公示", "资格核定结果", "月初未满3周岁"])
    check_bilingual(client, f"/benefits/payments/{batch.pk}/", ["Payment file", "Download the payment file"], ["发放文件", "下载发放文件"])
    check_bilingual(client, "/", ["Family benefits"], ["计划生育和育儿补助"])


def test_a_refusal_names_the_field(client, families, officers):
    client.force_login(officers["fuli1_user"])
    r = client.post("/benefits/", {"programme": P, "month": "2025/13"}, follow=True)
    assert "YYYY-MM" in r.content.decode()


def test_family_facts_page_records_with_history_and_names_the_field(client, families, officers):
    from popreg.benefits.models import DisabilityRecord, FamilyCertificate, PayeeAccount

    mother, child = families["a1"]["mother"], families["a1"]["child"]
    client.force_login(officers["fuli1_user"])
    url = f"/benefits/persons/{mother.pk}/"
    client.post(url, {"what": "certificate", "number": "DS-2024-001", "issued_date": "2024-07-01", "child": child.pk})
    cert = FamilyCertificate.objects.get()
    assert cert.child_id == child.pk and cert.recorded_by_name == "fuli1"
    r = client.post(url, {"what": "disability", "grade": "五", "recorded_date": "2025-01-01"}, follow=True)
    assert "1 到 4 级" in r.content.decode() and not DisabilityRecord.objects.exists()
    client.post(url, {"what": "disability", "grade": "2", "recorded_date": "2025-01-01"})
    client.post(url, {"what": "account", "account": "6222020012345678", "bank": "农商银行"})
    client.post(url, {"what": "account", "account": "6222020087654321", "bank": "农商银行"})
    assert PayeeAccount.objects.filter(ended_at__isnull=True).get().account.endswith("4321")
    client.post(url, {"what": "end_certificate", "id": cert.pk, "reason": "证书遗失补办"})
    cert.refresh_from_db()
    assert cert.ended_at is not None and cert.end_reason == "证书遗失补办"
    page = client.get(url).content.decode()
    assert "DS-2024-001" in page and "证书遗失补办" in page and "…4321" in page and "6222020012345678" not in page


def test_application_pages_four_eyes(client, families, officers):
    from popreg.benefits.models import Application

    older = families["old"]
    client.force_login(officers["fuli1_user"])
    client.post("/benefits/applications/", {"programme": P, "month": "2025-10", "person": older.pk,
                                            "amount_yuan": "300", "evidence": "出生证明"})
    app = Application.objects.get()
    r = client.post(f"/benefits/applications/{app.pk}/decide/", {"outcome": "grant", "reason": "属实"}, follow=True)
    assert "cannot decide" in r.content.decode() or "不能审核" in r.content.decode()
    client.force_login(officers["fuli2_user"])
    client.post(f"/benefits/applications/{app.pk}/decide/", {"outcome": "grant", "reason": "属实"})
    app.refresh_from_db()
    assert app.status == "granted" and app.decided_by_name == "fuli2"


def test_reproduce_page_and_home_card(client, families, officers, users):
    from popreg.benefits.runs import run_live

    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    client.force_login(officers["fuli2_user"])
    check_bilingual(client, f"/benefits/runs/{run.pk}/reproduce/",
                    ["Reproduced: every decision and every condition is the same."], ["复核一致"])
    home = client.get("/").content.decode()
    assert 'id="benefits-figures"' in home and "900.00" in home
    client.force_login(users["clerk_a1"])
    assert 'id="benefits-figures"' not in client.get("/").content.decode()
    assert client.get(f"/benefits/runs/{run.pk}/").status_code == 404  # outside the village's jurisdiction
    assert client.get("/benefits/").status_code == 403


def test_all_programmes_in_one_job_share_one_snapshot(client, families, officers):
    from popreg.benefits.programmes import CODES

    client.force_login(officers["fuli1_user"])
    r = client.post("/benefits/", {"programme": "all", "month": "2025-10"})
    assert r.status_code == 302
    runs = list(EligibilityRun.objects.order_by("id"))
    assert [r.programme for r in runs] == list(CODES)
    assert len({r.snapshot_sha256 for r in runs}) == 1
    assert runs[0].eligible_count == 3


def test_a_month_before_the_programme_began_fails_the_job_with_a_reason(client, families, officers):
    from popreg.registry.job_models import Job

    client.force_login(officers["fuli1_user"])
    client.post("/benefits/", {"programme": P, "month": "2024-06"})
    job = Job.objects.get(kind="benefits_eligibility")
    assert job.state == "failed" and "2024-06" in job.error_en and "internal" not in job.error_en.lower()
    assert not EligibilityRun.objects.exists()


def test_decisions_csv_masks_ids_unless_asked_and_audits(client, families, officers):
    from popreg.benefits.runs import run_live
    from popreg.core.privacy import mask_id
    from popreg.registry.models import AuditRecord

    run, result = run_live(P, MONTH, actor=officers["fuli1"])
    client.force_login(officers["fuli1_user"])
    body = b"".join(client.get(f"/benefits/runs/{run.pk}/decisions.csv").streaming_content).decode("utf-8-sig")
    child = families["a1"]["child"]
    assert mask_id(child.id_number) in body and child.id_number not in body
    assert "under_age" in body.splitlines()[1] and len(body.splitlines()) == 2 + run.considered
    # Full ID numbers of a county-wide run need a second person's approval: refused here,
    # with the way to get them; nothing is exported.
    refused = client.get(f"/benefits/runs/{run.pk}/decisions.csv?full_id=1&reason=核对")
    assert refused.status_code == 403
    assert AuditRecord.objects.filter(action="benefits_export_list").count() == 1


def test_a_persons_benefits_month_by_month(client, families, officers, actors):
    from datetime import date

    from popreg.benefits.runs import run_live
    from popreg.registry import actions as registry

    from .conftest import approve_and_pay, pay_all

    a, b = officers["fuli1"], officers["fuli2"]
    for m in (MONTH, date(2025, 11, 1)):
        run, _ = run_live(P, m, actor=a)
        pay_all(approve_and_pay(P, m, a, b, run), b)
    child, mother = families["a2"]["child"], families["a2"]["mother"]
    registry.do_register_death(actors["admin"], child, death_date=date(2025, 10, 5))
    run_live(P, date(2025, 12, 1), actor=a)
    client.force_login(officers["fuli1_user"])
    client.cookies["django_language"] = "en"
    for who in (child, mother):
        table = client.get(f"/benefits/persons/{who.pk}/").content.decode()
        table = table.split('id="entitlements"', 1)[1].split("</table>", 1)[0]
        assert "2025-11" in table and "Overpayment to recover 300.00" in table and "2025-12" in table
    assert "as payee" in table


def test_the_person_page_links_to_benefits_for_those_who_may_see_them(client, families, officers, users):
    mother = families["a1"]["mother"]
    client.force_login(officers["fuli1_user"])
    assert f'href="/benefits/persons/{mother.pk}/"' in client.get(f"/persons/{mother.pk}/").content.decode()
    client.force_login(users["clerk_a1"])
    assert "/benefits/persons/" not in client.get(f"/persons/{mother.pk}/").content.decode()
