"""Every write of the outside-source app (docs/sources.md).

Each ``do_*`` function is atomic, checks the actor's permission and jurisdiction and
writes an audit record; a refused action changes nothing and raises :class:`SourcesError`
(Chinese and English, naming the field or row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from popreg.registry.access import Actor, person_in_scope
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.importing import RowError
from popreg.registry.models import AdminUnit, Person, SourceRecord
from popreg.registry.policy import Permission
from popreg.sources.feed import FED_KINDS, feed_records
from popreg.sources.linking import ROLES, Proposal
from popreg.sources.models import LinkStatus, SourceBatch, SourceEntry, SourceLink
from popreg.sources.reading import ParsedSource

#: Model links at or above this probability are accepted without review.
AUTO_ACCEPT = 0.99


class SourcesError(RegistryError):
    """A refused import or review decision."""


def auto_accept() -> float:
    return float(getattr(settings, "POPREG_SOURCES_AUTO_ACCEPT", AUTO_ACCEPT))


def jurisdiction_errors(actor: Actor, parsed: ParsedSource) -> list[RowError]:
    """Rows whose stated address lies outside the actor's jurisdiction (a user below the
    county imports only records of their own units; rows without an address are the
    county's and need a county-wide user)."""
    if actor.prefix == "":
        return []
    label = parsed.headers.get("address_unit", "住址代码")
    out = []
    for r in parsed.rows:
        if not r.address_unit:
            out.append(RowError(r.row, label, "", "没有住址代码的记录只能由县级用户导入；请填写住址代码",
                                "a record without an address code is imported by a county user; fill in the code"))
        elif not actor.covers(r.address_unit):
            out.append(RowError(r.row, label, r.address_unit, "住址不在您的辖区内，请交县级用户导入",
                                "the address is outside your jurisdiction; ask the county office to import it"))
    return out


@dataclass
class ImportOutcome:
    batch: SourceBatch
    repeated: bool  # the same file was imported before: nothing was written


def previous_batch(sha256: str) -> SourceBatch | None:
    return SourceBatch.objects.filter(sha256=sha256).first()


def _link_status(p: Proposal, threshold: float) -> tuple[str, bool]:
    if p.person_id is None:
        return LinkStatus.UNMATCHED, False
    if p.rule == "model" and p.probability is not None and p.probability >= threshold:
        return LinkStatus.ACCEPTED, True
    return LinkStatus.PROPOSED, False


@transaction.atomic
def do_import_source(actor: Actor, parsed: ParsedSource, proposals: Sequence[Proposal], *,
                     feed: bool = True) -> ImportOutcome:
    """Store a checked file's new records with their links and feed reconciliation and
    anomalies.  The same file (SHA-256) again writes nothing; records already known (same
    kind and natural key, here or loaded with the registry) are skipped."""
    actor.require(Permission.IMPORT_SOURCES)
    earlier = previous_batch(parsed.sha256)
    if earlier is not None:
        return ImportOutcome(earlier, True)
    errors = parsed.errors or jurisdiction_errors(actor, parsed)
    if errors:
        first = errors[0]
        raise SourcesError(
            f"文件有 {len(errors)} 处错误，未导入；第 {first.row} 行 {first.column}：{first.message_zh}",
            f"the file has {len(errors)} errors and was not imported; row {first.row} {first.column}: {first.message_en}",
            "file",
        )
    kind = parsed.kind
    ids = [r.record_id for r in parsed.rows]
    known = set(SourceEntry.objects.filter(kind=kind, record_id__in=ids).values_list("record_id", flat=True))
    known |= set(SourceRecord.objects.filter(source=kind, record_id__in=ids).values_list("record_id", flat=True))
    new_rows = [r for r in parsed.rows if r.record_id not in known]
    by_record: dict[tuple[str, str], Proposal] = {(p.record_id, p.role): p for p in proposals}
    persons = {p.pk: p for p in Person.objects.filter(
        pk__in={p.person_id for p in proposals if p.person_id is not None})}
    county = AdminUnit.objects.filter(level="county").order_by("code").values_list("code", flat=True).first() or ""
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    unit = AdminUnit.objects.filter(code=actor.unit_code).first() if actor.unit_code else None
    try:
        with transaction.atomic():  # the same file imported at the same moment: one wins
            batch = SourceBatch.objects.create(
                kind=kind, file_name=parsed.file_name[:200], sha256=parsed.sha256,
                file_format=parsed.file_format, rows=len(parsed.rows), new_records=len(new_rows),
                known_records=len(parsed.rows) - len(new_rows), months=sorted({r.month for r in new_rows}),
                unit=unit, imported_by=user, actor_name=actor.name,
            )  # fmt: skip
    except IntegrityError:
        return ImportOutcome(SourceBatch.objects.get(sha256=parsed.sha256), True)
    threshold = auto_accept()
    counts = {s.value: 0 for s in LinkStatus}
    entries = []
    now = timezone.now()
    for r in new_rows:
        props = [by_record.get((r.record_id, role)) or Proposal(r.record_id, role, None, None, "")
                 for role in ROLES[kind]]
        props = [p if p.person_id is None or p.person_id in persons else
                 Proposal(p.record_id, p.role, None, None, "") for p in props]
        linked_unit = next((persons[p.person_id].registered_unit_id for p in props if p.person_id), "")
        entry = SourceEntry.objects.create(
            batch=batch, kind=kind, record_id=r.record_id, data=r.data, event_date=r.event_date,
            unit_code=r.address_unit or linked_unit or county,
        )
        for p in props:
            status, automatic = _link_status(p, threshold)
            counts[status] += 1
            SourceLink.objects.create(
                entry=entry, role=p.role, proposed_person_id=p.person_id, probability=p.probability,
                rule=p.rule, status=status, automatic=automatic,
                person_id=p.person_id if status == LinkStatus.ACCEPTED else None,
                decided_at=now if automatic else None,
            )  # fmt: skip
        entries.append(entry)
    batch.link_counts = counts
    if feed and entries and kind in FED_KINDS:
        batch.fed = feed_records(actor, entries)
    batch.save(update_fields=["link_counts", "fed"])
    audit(actor, AuditAction.SOURCES_IMPORT, batch, after={
        "kind": kind, "file_name": batch.file_name, "sha256": batch.sha256, "rows": batch.rows,
        "new_records": batch.new_records, "known_records": batch.known_records, "links": counts,
        "months": batch.months,
    })  # fmt: skip
    return ImportOutcome(batch, False)


DECISIONS = {
    "accept": AuditAction.SOURCES_REVIEW_ACCEPT,
    "reject": AuditAction.SOURCES_REVIEW_REJECT,
    "link": AuditAction.SOURCES_REVIEW_LINK,
}


def _state(link: SourceLink) -> dict[str, Any]:
    return {"status": link.status, "person_id": link.person_id, "reason": link.reason}


@transaction.atomic
def do_review_link(actor: Actor, link: SourceLink | int, decision: str, *, reason: str = "",
                   person_id: int | str | None = None, feed: bool = True) -> SourceLink:
    """Decide a link: ``accept`` the proposed person, ``reject`` (nobody in the registry is
    this record's person) or ``link`` to another person (by record number).  A reason is
    required to reject or to link elsewhere.  A decided link may be decided again."""
    actor.require(Permission.REVIEW_SOURCES)
    pk = link.pk if isinstance(link, SourceLink) else int(link)
    obj = SourceLink.objects.select_for_update().select_related("entry").get(pk=pk)
    actor.require(Permission.REVIEW_SOURCES, obj.entry.unit_code)
    reason = (reason or "").strip()
    if decision not in DECISIONS:
        raise SourcesError("请选择：确认、否定或改为关联其他人员", "choose accept, reject or link", "decision")
    if decision != "accept" and not reason:
        raise SourcesError("请填写理由（否定或改为关联其他人员时必填）",
                           "give a reason (required to reject or to link another person)", "reason")
    if len(reason) > 200:
        raise SourcesError("理由最多 200 个字", "the reason has at most 200 characters", "reason")
    before = _state(obj)
    if decision == "accept":
        if obj.proposed_person_id is None:
            raise SourcesError("这条记录没有建议的人员，无法确认；请改为关联其他人员或否定",
                               "this record has no proposed person to accept; link another person or reject", "decision")
        obj.status, obj.person_id = LinkStatus.ACCEPTED, obj.proposed_person_id
    elif decision == "reject":
        obj.status, obj.person_id = LinkStatus.REJECTED, None
    else:
        person = _person(actor, person_id)
        obj.status, obj.person_id = LinkStatus.ACCEPTED, person.pk
    obj.reason = reason
    obj.automatic = False
    obj.decided_by = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    obj.decided_at = timezone.now()
    obj.save()
    fed: dict[str, Any] = {}
    if feed and obj.entry.kind in FED_KINDS:
        fed = feed_records(actor, [obj.entry])
    audit(actor, DECISIONS[decision], obj, unit_code=obj.entry.unit_code, before=before, after=_state(obj),
          detail={"kind": obj.entry.kind, "record_id": obj.entry.record_id, "role": obj.role,
                  "reconciliation": fed.get("reconciliation", {}), "findings": len(fed.get("findings", []))})
    return obj


def _person(actor: Actor, person_id: int | str | None) -> Person:
    text = str(person_id or "").strip()
    if not text.isdigit():
        raise SourcesError("请填写要关联的人员编号（数字）", "give the number of the person to link", "person_id")
    person = Person.objects.filter(pk=int(text)).first()
    if person is None:
        raise SourcesError(f"人员编号 {text} 不存在，请核对", f"person {text} does not exist; check the number", "person_id")
    if not person_in_scope(actor, person):
        raise JurisdictionError(f"人员 {text} 不在您的辖区内", f"person {text} is outside your jurisdiction", "person_id")
    return person
