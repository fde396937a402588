"""Certificates a registry office prints: 户籍证明 (registration), 出生登记证明 (birth),
死亡登记证明 (death), 迁出证明 (move-out) and the 常住人口登记表 (the person's page of the
household register).

Each is an A4 PDF (WeasyPrint, Noto Sans CJK SC embedded) with the office's letterhead
(setting ``POPREG_OFFICE_NAME``), a serial number, the print date in the county's time zone
(``TIME_ZONE``) and a verification code.  Printing:

1. checks the permission ``print_certificates`` over the person's registered unit (and
   ``view_full_id``: a certificate carries the whole ID number);
2. builds the content from the registry and refuses, naming the reason, a certificate that
   does not apply (a registration certificate of a deceased person...);
3. takes the next serial number of the year under its own lock and stores it in
   :class:`~popreg.registry.models.Certificate` (a serial is never reused: the row stays);
4. renders the PDF through :mod:`popreg.registry.exports`, which audits it
   (``print_certificate``, with serial, kind and digest) in the same transaction.

The verification code is an HMAC (the site's secret key) of serial, person and the SHA-256
digest of the printed content; :func:`verify` recomputes it for the page
``/certificates/verify/``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.http import HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac

from popreg.core import idnumber
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.certificate_models import Certificate, CertificateKind
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Export, ExportContext, export_bytes, export_response
from popreg.registry.models import (
    AdminUnit,
    Event,
    EventType,
    Household,
    Person,
    Sex,
    Status,
)
from popreg.registry.policy import Permission
from popreg.registry.vocabulary import chinese_display

_SALT = "popreg.registry.certificates"

#: Titles printed on each kind (Chinese, English).
TITLES: dict[str, tuple[str, str]] = {
    CertificateKind.REGISTRATION: ("户籍证明", "Certificate of household registration"),
    CertificateKind.BIRTH: ("出生登记证明", "Birth registration certificate"),
    CertificateKind.DEATH: ("死亡登记证明", "Death registration certificate"),
    CertificateKind.MOVE_OUT: ("迁出证明", "Move-out certificate"),
    CertificateKind.REGISTER_PAGE: ("常住人口登记表", "Household register page (permanent residents)"),
}

_HUKOU = {"agricultural": "农业", "non_agricultural": "非农业", "resident": "居民"}
_MARITAL = {"single": "未婚", "married": "有配偶", "divorced": "离婚", "widowed": "丧偶"}
_STATUS: dict[str, str] = {Status.ACTIVE: "正常", Status.DECEASED: "死亡注销", Status.EMIGRATED: "迁出注销",
                           Status.DEREGISTERED: "注销"}


@dataclass(frozen=True)
class Content:
    """What a certificate states: its rows (label, value) and its statement.  The ID
    number is kept apart so that the export layer decides how it is printed."""

    kind: str
    person_id: int
    statement: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    id_number: str = ""

    def digest(self) -> str:
        """SHA-256 of the content (not of the PDF bytes, which carry the print time)."""
        data = {"kind": self.kind, "person": self.person_id, "statement": self.statement,
                "rows": self.rows, "id": self.id_number}
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def office_name() -> str:
    """The letterhead: the setting, else the county's registration office."""
    name = str(getattr(settings, "POPREG_OFFICE_NAME", "") or "").strip()
    if name:
        return name
    county = AdminUnit.objects.filter(level="county").order_by("code").first()
    return f"{county.name}公安局户籍管理部门" if county else "户籍管理部门"


def unit_path(code: str | None) -> str:
    """County, township and village names of a unit, from the county down."""
    if not code:
        return ""
    unit = AdminUnit.objects.select_related("parent").filter(code=code).first()
    if unit is None:
        return code
    names = []
    u: AdminUnit | None = unit
    while u is not None:
        names.append(u.name)
        u = u.parent
    return "".join(reversed(names))


def _place(code: str) -> str:
    """A unit of the county by its names, a place outside by its region name and code."""
    if not code:
        return "—"
    if AdminUnit.objects.filter(code=code).exclude(level="external").exists():
        return unit_path(code)
    return f"{idnumber.region_name(code[:6]) or ''} {code}".strip()


def _d(v: date | None) -> str:
    return f"{v.year}年{v.month}月{v.day}日" if v else "—"


def _name(pk: int | None) -> str:
    if not pk:
        return "—"
    return Person.objects.filter(pk=pk).values_list("name", flat=True).first() or "—"


def _last_event(person: Person, kind: str) -> Event | None:
    return Event.objects.filter(person=person, event_type=kind).order_by("-event_date", "-id").first()


def _refuse(person: Person, zh: str, en: str) -> RegistryError:
    return RegistryError(f"{person.name}：{zh}", f"{person.name}: {en}", "kind")


def applicable(person: Person) -> list[str]:
    """The kinds that can be printed for ``person`` now."""
    out = []
    for kind in CertificateKind.values:
        try:
            content_for(kind, person)
        except RegistryError:
            continue
        out.append(kind)
    return out


def content_for(kind: str, person: Person) -> Content:
    """The content of a certificate of ``kind``, or a RegistryError saying why not."""
    if kind not in CertificateKind.values:
        raise RegistryError("请选择证明种类", "choose the kind of certificate", "kind")
    if person.merged_into_id is not None:
        raise _refuse(person, f"该记录已作为重复记录并入编号 {person.merged_into_id}，请在该记录上开具",
                      f"this record was merged into record {person.merged_into_id}; print from that record")
    base = [("姓名 Name", person.name), ("性别 Sex", chinese_display(Sex, person.sex) or "—"),
            ("民族 Ethnicity", person.ethnicity or "—"), ("出生日期 Date of birth", _d(person.birth_date))]
    hh: Household | None = person.household
    place = unit_path(person.registered_unit_id)
    if kind == CertificateKind.REGISTRATION:
        if person.status != Status.ACTIVE:
            raise _refuse(person, f"登记状态为“{_STATUS.get(person.status, person.status)}”，不能开具户籍证明"
                          "（可开具死亡登记证明或迁出证明）",
                          "the record is closed (died, moved out or deregistered): no registration certificate")
        rows = [*base, ("户籍地 Registered at", place),
                ("户号 Household number", hh.household_no if hh else "—"),
                ("户主 Head of household", hh.head.name if hh and hh.head else "—"),
                ("住址 Address", (hh.address if hh else "") or "—"),
                ("户口性质 Hukou kind", _HUKOU.get(person.hukou_kind, person.hukou_kind or "—")),
                ("登记状态 Status", _STATUS[Status.ACTIVE])]
        statement = f"兹证明{person.name}系我辖区常住户口，户籍登记在{place}。特此证明。"
    elif kind == CertificateKind.BIRTH:
        ev = _last_event(person, EventType.BIRTH)
        if ev is None:
            raise _refuse(person, "本登记库中没有其出生登记（为迁入或历史导入的记录），请开具户籍证明",
                          "no birth registration in this registry (moved in or loaded): print a registration certificate")
        rows = [*base, ("母亲 Mother", _name(person.mother_id)), ("父亲 Father", _name(person.father_id)),
                ("出生登记地 Registered at", unit_path(ev.to_unit or ev.unit_code)),
                ("出生登记日期 Birth registered on", _d(ev.recorded_date))]
        statement = (f"兹证明{person.name}于{_d(person.birth_date)}出生，"
                     f"已于{_d(ev.recorded_date)}在{unit_path(ev.to_unit or ev.unit_code)}办理出生登记。特此证明。")
    elif kind == CertificateKind.DEATH:
        if person.status != Status.DECEASED:
            raise _refuse(person, "未登记死亡，不能开具死亡登记证明", "no death is registered: no death certificate")
        ev = _last_event(person, EventType.DEATH)
        cause = str((ev.detail or {}).get("cause", "")) if ev else ""
        rows = [*base, ("死亡日期 Date of death", _d(person.death_date)),
                ("原户籍地 Last registered at", place),
                ("注销日期 Registration closed on", _d(ev.recorded_date if ev else None)),
                *([("死亡原因 Cause", cause)] if cause else [])]
        statement = f"兹证明{person.name}已于{_d(person.death_date)}死亡，其户口已注销。特此证明。"
    elif kind == CertificateKind.MOVE_OUT:
        ev = _last_event(person, EventType.MOVE_OUT)
        if person.status != Status.EMIGRATED or ev is None:
            raise _refuse(person, "未办理迁出县外登记，不能开具迁出证明", "no move out of the county is registered")
        dest = ev.to_unit or ""
        dest_name = str((ev.detail or {}).get("destination_name", "")) or idnumber.region_name(dest[:6]) or ""
        rows = [*base, ("迁出地 Moved out of", unit_path(ev.from_unit or person.registered_unit_id)),
                ("迁往地 Moved to", f"{dest_name} {dest}".strip() or "—"),
                ("迁出日期 Date of move", _d(ev.event_date)),
                ("户号 Household number", hh.household_no if hh else "—")]
        statement = (f"兹证明{person.name}已于{_d(ev.event_date)}由{unit_path(ev.from_unit or person.registered_unit_id)}"
                     f"迁往{dest_name or dest}，原户口已注销。特此证明。")
    else:  # CertificateKind.REGISTER_PAGE
        if person.status != Status.ACTIVE or hh is None:
            raise _refuse(person, "只有在户的常住人口有常住人口登记表", "only a present member of a household has a register page")
        came = _last_event(person, EventType.MOVE_IN)
        rows = [("户号 Household number", hh.household_no), ("户别 Kind", "集体户" if hh.kind == "collective" else "家庭户"),
                ("户主 Head of household", hh.head.name if hh.head else "—"),
                ("与户主关系 Relation to the head", "户主" if hh.head_id == person.pk else "—"),
                *base, ("曾用名 Former names", person.former_names or "—"),
                ("户口性质 Hukou kind", _HUKOU.get(person.hukou_kind, person.hukou_kind or "—")),
                ("婚姻状况 Marital status", _MARITAL.get(person.marital_status, person.marital_status or "—")),
                ("母亲 Mother", _name(person.mother_id)), ("父亲 Father", _name(person.father_id)),
                ("户籍地址 Registered address", f"{place}{hh.address}" if hh.address else place),
                ("何时由何地迁来 Moved in from", f"{_d(came.event_date)} {_place(came.from_unit)}" if came else "—"),
                ("登记日期 Registered on", _d(person.registered_date))]
        statement = "本页与户口簿所载内容一致。"
    return Content(kind=kind, person_id=person.pk, statement=statement, rows=rows, id_number=person.id_number or "")


# --------------------------------------------------------------------------- codes


def _compact(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def verification_code(serial: str, person_id: int, digest: str) -> str:
    """16 hex digits in four groups: HMAC-SHA256 of serial, person and content digest."""
    mac = salted_hmac(_SALT, f"{serial}|{person_id}|{digest}", algorithm="sha256").hexdigest()[:16].upper()
    return "-".join(mac[i:i + 4] for i in range(0, 16, 4))


def verify(serial: str, code: str) -> Certificate | None:
    """The certificate with this serial whose code matches, else None (no hint which failed)."""
    serial = (serial or "").strip()
    if not serial or not code:
        return None
    cert = Certificate.objects.filter(serial=serial).first()
    if cert is None:
        return None
    expected = _compact(verification_code(cert.serial, cert.person_id, cert.digest))
    return cert if hmac.compare_digest(expected, _compact(code)) else None


# --------------------------------------------------------------------------- printing


#: PostgreSQL advisory lock of the serial numbers (apart from the audit chain's: rendering a
#: certificate takes about a second and must not hold up every other audited write).
_PG_SERIAL_LOCK = 0x706F70726567_0C  # "popreg" + 12


def _lock_serials() -> None:
    """Hold the right to take the next serial until the transaction ends (SQLite: its one
    writer at a time does this already; the unique (year, number) constraint backs both)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_SERIAL_LOCK])


def _next_serial(year: int) -> tuple[int, str]:
    last = Certificate.objects.filter(year=year).aggregate(m=Max("number"))["m"] or 0
    n = int(last) + 1
    return n, f"{year}-{n:06d}"


def _html(content: Content, cert: Certificate, code: str) -> Callable[[ExportContext], str]:
    zh, en = TITLES[content.kind]

    def build(ctx: ExportContext) -> str:
        rows = list(content.rows)
        rows.insert(4 if content.kind != CertificateKind.REGISTER_PAGE else 8,
                    ("公民身份号码 ID number", ctx.id_text(content.id_number) or "—"))
        printed = timezone.localtime(cert.issued_at)
        return render_to_string("registry/certificates/certificate.html", {
            "office": office_name(), "title_zh": zh, "title_en": en, "serial": cert.serial,
            "rows": rows, "statement": content.statement, "code": code,
            "print_date": _d(printed.date()), "printed_at": printed, "purpose": cert.purpose,
            "verify_path": "/certificates/verify/", "issued_by": cert.issued_by_name,
        })

    return build


def print_certificate(
    actor: Actor, person: Person, *, kind: str, purpose: str = "", respond: bool = True,
) -> tuple[Certificate, HttpResponse | StreamingHttpResponse | bytes]:
    """Issue a certificate of ``kind`` for ``person``: its register row, its audited PDF (a
    download response for a view, else the bytes).  A refusal changes nothing."""
    actor.require(Permission.PRINT_CERTIFICATES, person.registered_unit_id)
    actor.require(Permission.VIEW_FULL_ID, person.registered_unit_id)
    purpose = " ".join((purpose or "").split())[:200]
    with transaction.atomic():
        person = Person.objects.select_related("household__head", "registered_unit").get(pk=person.pk)
        content = content_for(kind, person)
        _lock_serials()  # one serial at a time; the audit chain is locked only to append
        now: datetime = timezone.localtime()
        number, serial = _next_serial(now.year)
        digest = content.digest()
        user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
        cert = Certificate.objects.create(
            serial=serial, year=now.year, number=number, kind=kind, person=person,
            unit_code=person.registered_unit_id, digest=digest, purpose=purpose, issued_at=now,
            issued_by=user, issued_by_name=actor.name)
        code = verification_code(serial, person.pk, digest)
        zh, en = TITLES[kind]
        export = Export(
            title=f"{zh} {en} {serial}", filename=f"certificate-{serial}.pdf", format="pdf",
            action=AuditAction.PRINT_CERTIFICATE, reason=purpose or zh, pdf_html=_html(content, cert, code),
            target=person, detail={"serial": serial, "kind": kind, "digest": digest, "certificate_id": cert.pk},
        )
        out: HttpResponse | StreamingHttpResponse | bytes
        if respond:
            out = export_response(actor, export, permission=Permission.PRINT_CERTIFICATES,
                                  unit_code=person.registered_unit_id, full_id=True, reason=purpose or zh)
        else:
            out = export_bytes(actor, export, permission=Permission.PRINT_CERTIFICATES,
                               unit_code=person.registered_unit_id, full_id=True, reason=purpose or zh)
    return cert, out


def certificate_summary(cert: Certificate) -> dict[str, Any]:
    """What the verification page may show of a valid certificate (the name masked)."""
    name = Person.objects.filter(pk=cert.person_id).values_list("name", flat=True).first() or ""
    masked = name[:1] + "*" * max(len(name) - 1, 1) if name else "—"
    zh, en = TITLES.get(cert.kind, ("", ""))
    return {"serial": cert.serial, "title_zh": zh, "title_en": en, "name": masked,
            "issued_on": timezone.localtime(cert.issued_at).date(), "office": office_name()}
