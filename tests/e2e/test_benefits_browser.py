"""The whole benefits flow in headless Chromium: run eligibility, publish village →
township → county with an objection raised and resolved, approve as a second user, export
the payment file, import a bank return file with one failure."""

from __future__ import annotations

import csv
import io

import pytest

from popreg.benefits.models import EligibilityRun, Objection, PaymentBatch

from ..benefits.conftest import families, officers  # noqa: F401  (fixtures)
from ..conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(b, username: str) -> None:
    b.driver.delete_all_cookies()
    b.open("/login/")
    b.css("#id_username").send_keys(username)
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)


def test_benefits_flow_in_the_browser(browser, families, officers, settings, tmp_path):  # noqa: F811
    settings.POPREG_HOME = tmp_path
    for name in ("fuli1", "fuli2"):
        u = officers[name + "_user"]
        u.set_password(PASSWORD)
        u.save()
    b = browser
    _login(b, "fuli1")
    b.open("/benefits/")
    assert "育儿补贴" in b.text()
    b.set_value("#start-run input[name=month]", "2025-10")
    b.submit("#start-run button[type=submit]", timeout=60)  # the job runs at once in tests
    b.submit('[data-job-field="result"] a', timeout=60)
    run = EligibilityRun.objects.get()
    assert b.driver.current_url.endswith(f"/benefits/runs/{run.pk}/")
    assert b.css("#run-summary").get_attribute("data-eligible") == "3"
    assert "张小伟" in b.css("#decisions").text
    b.shot("run")

    for level in ("village", "township", "county"):
        if level == "village":
            b.set_value("#publish input[name=starts_on]", "2025-10-01")
        b.submit(f"#publish-{level}", timeout=30)
        if level == "township":
            b.css("#raise-objection input[name=objector]").send_keys("村民丙")
            b.css("#raise-objection textarea[name=what]").send_keys("该户已迁往外省")
            b.css("#raise-objection textarea[name=evidence]").send_keys("邻居证言")
            b.submit("#raise-objection button[type=submit]")
            assert "村民丙" in b.css("#objections").text
            b.submit("#close-township")
            assert "异议未处理" in b.text()  # a level cannot close while an objection is open
            b.css(".resolve input[name=reason]").send_keys("经核实仍在本县居住")
            b.submit(".resolve button[type=submit]")
            assert Objection.objects.get().status == "dismissed"
            b.shot("objection-resolved")
        b.submit(f"#close-{level}")
        assert b.css(f'#disclosures tr[data-level="{level}"]').text.count("-") >= 3
    run.refresh_from_db()
    assert run.status == "disclosed"
    assert not b.all("#approve") and "双人审核" in b.text()  # the preparer cannot approve

    _login(b, "fuli2")
    b.open(f"/benefits/runs/{run.pk}/")
    b.submit("#approve")
    run.refresh_from_db()
    assert run.status == "approved" and run.approved_by_name == "fuli2"
    b.shot("approved")

    b.open("/benefits/payments/")
    b.css("#make-batch input[name=month]").send_keys("2025-10")
    b.submit("#make-batch button[type=submit]", timeout=30)
    batch = PaymentBatch.objects.get()
    assert b.driver.current_url.endswith(f"/benefits/payments/{batch.pk}/")
    # The bank file carries full ID numbers: the link asks for the reason first
    b.submit("#download-csv")
    assert b.css("#id_reason").is_displayed()
    b.css("#id_reason").send_keys("银行代发 bank payment")
    b.click("form.entry button[type=submit]")
    path = b.wait_download(".csv")
    b.open(f"/benefits/payments/{batch.pk}/")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    header, lines = rows[0], rows[1:]
    assert header["record_type"] == "H" and int(header["count"]) == len(lines) == 3
    assert sum(float(r["amount_yuan"]) for r in lines) == float(header["amount_yuan"]) == 900.0
    mother = families["a1"]["mother"]
    assert any(r["payee_id_number"] == mother.id_number for r in lines)  # the bank needs the full number

    ret = tmp_path / "return.csv"
    ret.write_text("payment_id,status,reason\n" + "\n".join(
        f"{r['payment_id']},{'failed' if i == 0 else 'paid'},{'户名与账号不符' if i == 0 else ''}"
        for i, r in enumerate(lines)) + "\n", encoding="utf-8")
    b.css("#return-form input[type=file]").send_keys(str(ret))
    b.submit("#return-form button[type=submit]", timeout=30)
    assert b.css("#failed-count").text == "1" and b.css("#paid-count").text == "2"
    assert "户名与账号不符" in b.css("#lines").text
    b.shot("returned")
