"""Certificates: the PDF read back with pypdf (letterhead, serial, print date, full ID,
verification code), serial numbers per year, refusals that change nothing, the audit
record, the verification page, the county's time zone at midnight."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from unittest import mock

import pytest
from pypdf import PdfReader

from popreg.registry import actions, certificates
from popreg.registry.certificate_models import Certificate
from popreg.registry.errors import RegistryError
from popreg.registry.models import AuditRecord

from ..bilingual import check_bilingual
from ..conftest import VILLAGE_A1


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    assert len(reader.pages) == 1  # one sheet
    return "".join("".join(p.extract_text().split()) for p in reader.pages)


def _fonts(pdf: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(pdf))
    out = set()
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            font = f.get_object()
            desc = font.get("/DescendantFonts")
            d = desc[0].get_object()["/FontDescriptor"] if desc else font.get("/FontDescriptor")
            if d is not None and any(k in d.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                out.add(str(font["/BaseFont"]))
    return out


def _code(text: str) -> str:
    i = text.index("验证码Verificationcode:") + len("验证码Verificationcode:")
    return text[i:i + 19]


def test_registration_certificate_through_the_page(people, client, users, settings):
    settings.POPREG_OFFICE_NAME = "示例县公安局城关派出所"
    mother = people["mother"]
    client.force_login(users["clerk_a1"])
    check_bilingual(client, f"/persons/{mother.pk}/certificate/", ["Print a certificate", "Purpose"],
                    ["开具证明", "用途"])
    r = client.post(f"/persons/{mother.pk}/certificate/", {"kind": "registration", "purpose": "子女入学"})
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert "attachment" in r["Content-Disposition"]
    pdf = b"".join(r.streaming_content) if r.streaming else r.content
    text = _text(pdf)
    cert = Certificate.objects.get()
    year = datetime.now().year
    assert cert.serial == f"{year}-000001" and cert.kind == "registration" and cert.purpose == "子女入学"
    for expected in ("示例县公安局城关派出所", "户籍证明", cert.serial, "王秀英", mother.id_number,
                     "东关村1号", "兹证明王秀英系我辖区常住户口", "子女入学"):
        assert expected in text, expected
    code = _code(text)
    assert code == certificates.verification_code(cert.serial, mother.pk, cert.digest)
    assert any("CJK" in f for f in _fonts(pdf))  # the CJK font is embedded
    rec = AuditRecord.objects.get(action="print_certificate")
    assert rec.detail["serial"] == cert.serial and rec.detail["digest"] == cert.digest
    assert rec.target_id == str(mother.pk) and rec.actor_name == "clerk_a1" and rec.detail["masked"] is False
    # a second print takes the next serial; the page lists both
    client.post(f"/persons/{mother.pk}/certificate/", {"kind": "register_page"})
    assert list(Certificate.objects.order_by("number").values_list("serial", flat=True)) == [
        f"{year}-000001", f"{year}-000002"]
    page = client.get(f"/persons/{mother.pk}/certificate/").content.decode()
    assert f"{year}-000002" in page and "子女入学" in page


def test_the_certificate_states_the_sex_in_chinese_whatever_the_language(people):
    from django.utils import translation

    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            assert ("性别 Sex", "女") in certificates.content_for("registration", people["mother"]).rows


def test_refusals_change_nothing_and_name_the_reason(people, client, users):
    mother = people["mother"]
    client.force_login(users["clerk_a1"])
    r = client.post(f"/persons/{mother.pk}/certificate/", {"kind": "death"})
    assert r.status_code == 400  # not offered: the choice is not among the kinds that apply
    r = client.post(f"/persons/{mother.pk}/certificate/", {})
    assert r.status_code == 400 and "请选择证明种类" in r.content.decode()
    assert not Certificate.objects.exists() and not AuditRecord.objects.filter(action="print_certificate").exists()
    with pytest.raises(RegistryError, match="未登记死亡"):
        certificates.content_for("death", mother)
    client.force_login(users["statistician"])
    assert client.get(f"/persons/{mother.pk}/certificate/").status_code == 403
    client.force_login(users["clerk_b1"])
    assert client.get(f"/persons/{mother.pk}/certificate/").status_code == 404


def test_birth_death_and_move_out_certificates(people, actors):
    admin, clerk = actors["admin"], actors["clerk_a1"]
    child, mother, other = people["child"], people["mother"], people["other"]
    assert certificates.applicable(child) == ["registration", "birth", "register_page"]
    _cert, pdf = certificates.print_certificate(clerk, child, kind="birth", respond=False)
    text = _text(pdf)
    assert "出生登记证明" in text and "母亲Mother王秀英" in text and "2020年5月6日" in text
    actions.do_register_death(admin, mother, death_date=date(2025, 2, 3), cause="疾病")
    mother.refresh_from_db()
    assert certificates.applicable(mother) == ["birth", "death"]
    _cert, pdf = certificates.print_certificate(clerk, mother, kind="death", respond=False)
    text = _text(pdf)
    assert "死亡登记证明" in text and "2025年2月3日" in text and "其户口已注销" in text
    actions.do_move_out(admin, other, move_date=date(2025, 4, 5), destination_code="330102",
                        destination_name="杭州市上城区")
    other.refresh_from_db()
    _cert, pdf = certificates.print_certificate(admin, other, kind="move_out", respond=False)
    text = _text(pdf)
    assert "迁出证明" in text and "杭州市上城区" in text and "330102" in text
    with pytest.raises(RegistryError, match="不能开具户籍证明"):
        certificates.print_certificate(admin, other, kind="registration", respond=False)
    newcomer = actions.do_move_in(admin, name="钱多多", sex="M", birth_date=date(1991, 8, 9), id_number=None,
                                  registered_unit_code=VILLAGE_A1, from_unit_code="330102",
                                  move_date=date(2024, 9, 1), household=people["hh_a"])
    assert "birth" not in certificates.applicable(newcomer)  # moved in: no birth registered here
    _cert, pdf = certificates.print_certificate(clerk, newcomer, kind="register_page", respond=False)
    text = _text(pdf)
    assert "常住人口登记表" in text and "2024年9月1日" in text and "330102" in text
    assert f"户号Householdnumber{people['hh_a'].household_no}" in text
    assert Certificate.objects.count() == 4


def test_serials_are_per_year_and_the_print_date_is_the_county_day(people, actors):
    clerk, mother = actors["clerk_a1"], people["mother"]
    # 2026-12-31 16:30 UTC is already 2027-01-01 00:30 in the county (Asia/Shanghai)
    late = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=late):
        cert, pdf = certificates.print_certificate(clerk, mother, kind="registration", respond=False)
    assert cert.serial == "2027-000001" and cert.year == 2027
    assert "2027年1月1日" in _text(pdf)
    before = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 December in the county
    with mock.patch("django.utils.timezone.now", return_value=before):
        cert2, pdf2 = certificates.print_certificate(clerk, mother, kind="registration", respond=False)
    assert cert2.serial == "2026-000001" and "2026年12月31日" in _text(pdf2)
    with mock.patch("django.utils.timezone.now", return_value=late):
        cert3, _ = certificates.print_certificate(clerk, mother, kind="registration", respond=False)
    assert cert3.serial == "2027-000002"


def test_verification_page(people, actors, client):
    cert, pdf = certificates.print_certificate(actors["clerk_a1"], people["mother"], kind="registration",
                                               respond=False)
    code = _code(_text(pdf))
    client.logout()  # public: whoever holds the certificate checks it
    r = client.get("/certificates/verify/", {"serial": cert.serial, "code": code.lower().replace("-", " ")})
    page = r.content.decode()
    assert r.status_code == 200 and "有效" in page and "王**" in page and "王秀英" not in page
    for serial, bad in ((cert.serial, "0000-0000-0000-0000"), ("2020-000001", code), ("", "")):
        page = client.get("/certificates/verify/", {"serial": serial, "code": bad}).content.decode()
        assert "有效：" not in page
    assert "没有编号和验证码都相符的证明" in client.get(
        "/certificates/verify/", {"serial": cert.serial, "code": "0000-0000-0000-0000"}).content.decode()
    # the code covers the content: a stored digest altered afterwards no longer verifies
    Certificate.objects.filter(pk=cert.pk).update(digest="0" * 64)
    assert certificates.verify(cert.serial, code) is None
    check_bilingual(client, "/certificates/verify/", ["Verify a certificate", "Verification code"],
                    ["证明核验", "验证码"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_prints_take_distinct_serials(people, actors):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL (SQLite in memory shares one connection)")
    threads, start, outcome = 4, threading.Barrier(4), []

    def issue() -> None:
        try:
            start.wait()
            cert, _pdf = certificates.print_certificate(actors["clerk_a1"], people["mother"], kind="registration",
                                                        respond=False)
            outcome.append(cert.serial)
        except Exception as exc:  # noqa: BLE001 - every outcome is asserted below
            outcome.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=issue) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    year = Certificate.objects.values_list("year", flat=True).first()
    assert sorted(outcome) == [f"{year}-{n:06d}" for n in range(1, threads + 1)], outcome
    assert AuditRecord.objects.filter(action="print_certificate").count() == threads
