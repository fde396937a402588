"""A certificate in headless Chromium (issue 14, point 10): from the person's page the clerk
opens "开具证明", a submission without a kind names the missing choice, a registration
certificate downloads as an A4 PDF whose text is read back (letterhead, title, serial, full
ID number, purpose, verification code), the print is audited, the page lists the serial,
and the public verification page accepts the printed serial and code."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from popreg.registry import certificates
from popreg.registry.certificate_models import Certificate
from popreg.registry.models import AuditRecord

from ..conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4 portrait
    assert reader.pages[0].mediabox.height == pytest.approx(841.89, abs=1)
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def test_certificate_pdf_is_printed_read_back_and_verified(browser, people, settings):
    settings.POPREG_OFFICE_NAME = "示例县公安局城关派出所"
    mother = people["mother"]
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)

    b.open(f"/persons/{mother.pk}/")
    b.submit(f'a[href$="/persons/{mother.pk}/certificate/"]')
    assert "开具证明" in b.css("h1").text
    assert mother.id_number not in b.text()  # the page itself shows the masked number
    b.shot("form")
    b.submit("form.entry button[type=submit]")  # no kind chosen: refused, nothing printed
    assert "请选择证明种类" in b.text()
    assert not Certificate.objects.exists()
    b.shot("kind-missing")

    b.click('input[name="kind"][value="registration"]')
    b.css("#id_purpose").send_keys("子女入学")
    b.click("form.entry button[type=submit]")
    pdf = b.wait_download(".pdf", timeout=60).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    cert = Certificate.objects.get()
    for expected in ("示例县公安局城关派出所", "户籍证明", cert.serial, "王秀英", mother.id_number,
                     "兹证明王秀英系我辖区常住户口", "子女入学", "clerk_a1"):
        assert expected in text, expected
    label = "验证码Verificationcode:"
    code = text[text.index(label) + len(label):][:19]
    assert code == certificates.verification_code(cert.serial, mother.pk, cert.digest)
    rec = AuditRecord.objects.get(action="print_certificate")
    assert rec.actor_name == "clerk_a1" and rec.detail["serial"] == cert.serial

    b.open(f"/persons/{mother.pk}/certificate/")  # the printed certificate is listed
    assert cert.serial in b.text() and "子女入学" in b.text()

    b.open("/certificates/verify/")
    b.css("#id_serial").send_keys(cert.serial)
    b.css("#id_code").send_keys(code)
    b.submit("form.entry button[type=submit]")
    assert "有效" in b.css("#verify-result").text and "王**" in b.css("#verify-result").text
    b.shot("verified")
    b.css("#id_code").clear()
    b.css("#id_code").send_keys("0000-0000-0000-0000")
    b.submit("form.entry button[type=submit]")
    assert "没有编号和验证码都相符的证明" in b.css("#verify-result").text
