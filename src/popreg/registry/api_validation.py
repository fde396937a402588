"""``POST /api/validate``: the plausibility rules (docs/validation.md) for other systems.

A system that sends registrations (a hospital, a neighbouring county's registry, a
campaign tool) checks a record before it sends it: the answer lists **every** problem at
once, each with its rule ``code``, the ``field`` at fault and how to fix it in Chinese and
English (422), or ``{"ok": true, "problems": []}`` (200).  Nothing is written: the API stays
read-only, and a read-only API token may call it.

A registration of a person already in the registry (death, move out, marriage, …) names
the record (``person``); like every read of the API it must be inside the caller's
jurisdiction (404 otherwise).  Parents are given by record number or ID number and are
looked up in the caller's jurisdiction only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from ninja.security import SessionAuth

from popreg.core.validation import Entry, Problem, check
from popreg.registry.access import Actor, actor_for, person_in_scope, scope_persons
from popreg.registry.api import TokenAuth
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person
from popreg.registry.validation import event_entry, person_entry

NOT_FOUND = "未找到，或不在您的辖区内 / not found, or outside your jurisdiction"

#: Kinds of registration the endpoint checks: a new record, or an event of a stored one.
NEW_RECORD = ("birth", "move_in", "person")
EVENTS = ("death", "move_out", "transfer", "marriage", "divorce", "enlistment", "discharge")

_SEX = {"M": "M", "F": "F", "男": "M", "女": "F", "1": "M", "2": "F"}


router = Router(tags=["validation 校验"], auth=[SessionAuth(), TokenAuth()])


class RecordIn(Schema):
    kind: str = Field("person", description="birth, move_in, person (a new record); death, move_out, "
                      "transfer, marriage, divorce, enlistment, discharge (an event of `person`)")
    person: int | None = Field(None, description="record number of the person (events)")
    sex: str | None = Field(None, description="M/F or 男/女")
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    event_date: str | None = Field(None, description="YYYY-MM-DD: the date of the move, death, marriage …")
    id_number: str | None = None
    ethnicity: str | None = None
    mother: str | None = Field(None, description="record number or ID number")
    father: str | None = Field(None, description="record number or ID number")
    origin_code: str | None = Field(None, description="6- or 12-digit division code (move_in)")
    destination_code: str | None = Field(None, description="6- or 12-digit division code (move_out)")


class ProblemOut(Schema):
    code: str
    field: str
    message_zh: str
    message_en: str


class ResultOut(Schema):
    ok: bool
    message: str
    problems: list[ProblemOut]


def _actor(request: HttpRequest) -> Actor:
    user = getattr(request, "auth", None) or request.user
    try:
        return actor_for(user)
    except RegistryError as exc:
        raise HttpError(403, f"{exc.message_zh} / {exc.message_en}") from exc


def _problem(code: str, field: str, zh: str, en: str) -> Problem:
    return Problem(code, field, zh, en)


def _date(raw: str | None, field: str, found: list[Problem]) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        found.append(_problem("date_invalid", field, f"日期“{text}”不是有效日期，应写作 年-月-日（如 2024-03-15）",
                              f"{text!r} is not a real date; write year-month-day such as 2024-03-15"))
        return None


def _parent(actor: Actor, raw: str | None, field: str, found: list[Problem]) -> Person | None:
    text = (raw or "").strip().upper()
    if not text:
        return None
    qs = scope_persons(Person.objects.all(), actor)
    person = qs.filter(id_number=text).first() if len(text) in (15, 18) else None
    if person is None and text.isdigit() and len(text) <= 12:
        person = qs.filter(pk=int(text)).first()
    if person is None:
        zh = "母亲" if field == "mother" else "父亲"
        found.append(_problem("parent_not_found", field,
                              f"{zh}“{text}”未找到：请填写辖区内已登记人员的编号或公民身份号码，或留空",
                              f"{field} {text} not found: give the record number or ID number of a person "
                              "registered in your jurisdiction, or leave it empty"))
    return person


def check_record(actor: Actor, record: RecordIn) -> list[Problem]:
    """Every problem of ``record`` (the endpoint's answer, usable without HTTP)."""
    found: list[Problem] = []
    kind = (record.kind or "").strip()
    if kind not in NEW_RECORD + EVENTS:
        found.append(_problem("kind_unknown", "kind", f"登记类别“{kind}”无法识别，可填：{'、'.join(NEW_RECORD + EVENTS)}",
                              f"unknown kind {kind!r}; use one of {', '.join(NEW_RECORD + EVENTS)}"))
        return found
    sex = None
    if record.sex:
        sex = _SEX.get(record.sex.strip().upper())
        if sex is None:
            found.append(_problem("sex_unknown", "sex", "性别应为 男(M) 或 女(F)", "sex must be M or F (男/女)"))
    born = _date(record.birth_date, "birth_date", found)
    when = _date(record.event_date, "event_date", found)
    entry: Entry
    if kind in EVENTS:
        if record.person is None:
            found.append(_problem("person_required", "person", "请填写人员编号（person）",
                                  "give the record number of the person (person)"))
            return found
        person = Person.objects.filter(pk=record.person).first()
        if person is None or not person_in_scope(actor, person):
            raise HttpError(404, NOT_FOUND)
        extra: dict[str, Any] = {}
        if kind == "move_out":
            extra = {"destination_code": (record.destination_code or "").strip(), "entered": {"destination_code"}}
        entry = event_entry(person, kind, when, "event_date", **extra)
    else:
        mother = _parent(actor, record.mother, "mother", found)
        father = _parent(actor, record.father, "father", found)
        entry = person_entry(kind, birth_date=born, sex=sex, id_number=record.id_number,
                             ethnicity=record.ethnicity, event_date=when,
                             event_field="event_date" if kind == "move_in" else "birth_date",
                             mother=mother, father=father, origin_code=record.origin_code)
    return found + check(entry)


@router.post("/validate", response={200: ResultOut, 422: ResultOut},
             summary="校验一条登记（不保存）/ check a registration without saving it")
def validate_record(request: HttpRequest, record: RecordIn) -> Any:
    """Every plausibility problem of the record (docs/validation.md) at once; nothing is saved."""
    actor = _actor(request)
    problems = check_record(actor, record)
    out = [{"code": p.code, "field": p.field, "message_zh": p.message_zh, "message_en": p.message_en}
           for p in problems]
    if not problems:
        return Status(200, {"ok": True, "message": "没有发现问题 / no problem found", "problems": []})
    message = f"发现 {len(problems)} 个问题，见 problems / {len(problems)} problems found, see problems"
    return Status(422, {"ok": False, "message": message, "problems": out})
