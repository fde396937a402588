"""Review decisions, merges and unmerges of duplicate registry records.

Same pattern as ``popreg.registry.actions``: each ``do_*`` function is atomic, checks the
actor's role and that *both* persons are in the actor's jurisdiction, changes persons only
through events (``merge`` / ``unmerge``, with {field: [before, after]} changes, so
``popreg.registry.history.rebuild_person`` re-derives every state), and is audited.
Nothing is deleted: a merged duplicate keeps its record and history, with ``merged_into``
pointing to the survivor and status ``deregistered``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from popreg.linkage.models import DuplicateCandidate, MergeRecord
from popreg.registry.access import Actor
from popreg.registry.actions.checks import today
from popreg.registry.actions.events import lock_person, record_event
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.history import to_json
from popreg.registry.models import STATE_FIELDS, EventType, Household, Person, Status
from popreg.registry.policy import Permission

#: Fields the survivor takes from the duplicate when it has no value of its own.
FILLABLE: dict[str, str] = {
    "id_number": "公民身份号码",
    "birth_date": "出生日期",
    "sex": "性别",
    "ethnicity": "民族",
    "former_names": "曾用名",
    "hukou_kind": "户口性质",
    "marital_status": "婚姻状况",
    "mother_id": "母亲",
    "father_id": "父亲",
    "household_id": "户",
}


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise RegistryError("请填写理由（审核结论需说明依据）", "a reason is required", "reason")
    return text


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


def _lock_pair(actor: Actor, a: Person | int, b: Person | int) -> tuple[Person, Person]:
    """Both persons under row locks (in id order, so two reviewers cannot deadlock)."""
    pa = a if isinstance(a, int) else a.pk
    pb = b if isinstance(b, int) else b.pk
    first, second = sorted((pa, pb))
    locked = {
        first: lock_person(actor, first, allow_merged=True, permission=Permission.REVIEW_DUPLICATES),
        second: lock_person(actor, second, allow_merged=True, permission=Permission.REVIEW_DUPLICATES),
    }
    return locked[pa], locked[pb]


def _candidate_unit(candidate: DuplicateCandidate) -> str:
    return str(candidate.person_a.registered_unit_id)


def _candidate_state(c: DuplicateCandidate) -> dict[str, Any]:
    return {
        "status": c.status,
        "reason": c.reason,
        "decided_by": c.decided_by_name,
        "person_a": c.person_a_id,
        "person_b": c.person_b_id,
    }


def _active_merge(a: int, b: int) -> MergeRecord | None:
    return (
        MergeRecord.objects.filter(undone=False)
        .filter(Q(survivor_id=a, duplicate_id=b) | Q(survivor_id=b, duplicate_id=a))
        .first()
    )


@transaction.atomic
def do_decide_candidate(
    actor: Actor, candidate: DuplicateCandidate | int, same_person: bool, reason: str
) -> DuplicateCandidate:
    """Record a reviewer's decision on a candidate pair (a changed decision is audited too)."""
    actor.require(Permission.REVIEW_DUPLICATES)
    pk = candidate if isinstance(candidate, int) else candidate.pk
    try:
        c = DuplicateCandidate.objects.select_for_update().get(pk=pk)
    except DuplicateCandidate.DoesNotExist:
        raise RegistryError(
            f"候选重复记录 {pk} 不存在", f"candidate {pk} does not exist", "candidate"
        ) from None
    text = _reason(reason)
    _lock_pair(actor, c.person_a_id, c.person_b_id)
    status = (
        DuplicateCandidate.Status.SAME_PERSON
        if same_person
        else DuplicateCandidate.Status.DIFFERENT_PEOPLE
    )
    if not same_person and _active_merge(c.person_a_id, c.person_b_id) is not None:
        raise RegistryError(
            "这两条记录已合并：如判定为不同的人，请先撤销合并",
            "these records are merged: undo the merge before deciding they are different people",
            "candidate",
        )
    before = _candidate_state(c)
    c.status = status
    c.reason = text
    c.decided_by = _user(actor)
    c.decided_by_name = actor.name
    c.decided_at = timezone.now()
    c.save()
    audit(
        actor,
        AuditAction.DECIDE_DUPLICATE,
        c,
        unit_code=_candidate_unit(c),
        before=before,
        after=_candidate_state(c),
        detail={"match_probability": c.match_probability},
    )
    return c


@transaction.atomic
def do_merge_persons(
    actor: Actor,
    survivor: Person | int,
    duplicate: Person | int,
    reason: str,
    candidate: DuplicateCandidate | int | None = None,
) -> MergeRecord:
    """Merge ``duplicate`` into ``survivor``; both records and histories stay.

    The duplicate gets ``merged_into = survivor`` and status ``deregistered`` through a
    ``merge`` event; the survivor gets a ``merge`` event that fills the fields it lacked
    (ID number, birth date, ...) from the duplicate.  With a pending ``candidate``, the
    candidate is decided "same person" with the same reason.
    """
    actor.require(Permission.REVIEW_DUPLICATES)
    text = _reason(reason)
    s_pk = survivor if isinstance(survivor, int) else survivor.pk
    d_pk = duplicate if isinstance(duplicate, int) else duplicate.pk
    if s_pk == d_pk:
        raise RegistryError(
            "不能把一条记录合并到它自己", "a record cannot be merged into itself", "duplicate"
        )
    # Lock order everywhere: merge record, candidate, then persons by id.
    pair = (min(s_pk, d_pk), max(s_pk, d_pk))
    cand: DuplicateCandidate | None = None
    if candidate is not None:
        c_pk = candidate if isinstance(candidate, int) else candidate.pk
        cand = DuplicateCandidate.objects.select_for_update().filter(pk=c_pk).first()
        if cand is None or (cand.person_a_id, cand.person_b_id) != pair:
            raise RegistryError(
                "候选记录与所选的两个人不符",
                "the candidate is not this pair of persons",
                "candidate",
            )
    else:
        cand = (
            DuplicateCandidate.objects.select_for_update()
            .filter(person_a_id=pair[0], person_b_id=pair[1])
            .first()
        )
    s, d = _lock_pair(actor, s_pk, d_pk)
    for p, role in ((s, "保留记录"), (d, "重复记录")):
        if p.merged_into_id is not None:
            raise RegistryError(
                f"{role} {p.name}（编号 {p.pk}）已合并到编号 {p.merged_into_id}，不能再合并",
                f"record {p.pk} is already merged into {p.merged_into_id}",
                "duplicate" if p is d else "survivor",
            )
    if cand is not None and cand.status == DuplicateCandidate.Status.DIFFERENT_PEOPLE:
        raise RegistryError(
            "审核结论为“不同的人”，不能合并；如结论有误，请先改为“同一人”",
            "the pair was decided to be different people; change the decision first",
            "candidate",
        )

    merge = MergeRecord.objects.create(
        survivor=s,
        duplicate=d,
        candidate=cand,
        reason=text,
        duplicate_before=d.state(),
        merged_by=_user(actor),
        merged_by_name=actor.name,
    )
    on = today()
    d_event = record_event(
        actor,
        d,
        EventType.MERGE,
        on,
        {"merged_into_id": s.pk, "status": Status.DEREGISTERED},
        detail={"merge_id": merge.pk, "role": "duplicate", "survivor_id": s.pk, "reason": text},
        action=AuditAction.MERGE_PERSONS,
    )
    repointed = _repoint(actor, d, s, merge.pk, text, EventType.MERGE, AuditAction.MERGE_PERSONS)
    fill: dict[str, Any] = {}
    for field in FILLABLE:
        mine, theirs = getattr(s, field), getattr(d, field)
        if mine in (None, "") and theirs not in (None, ""):
            fill[field] = theirs
    filled = {f: [to_json(f, getattr(s, f)), to_json(f, v)] for f, v in fill.items()}
    s_event = record_event(
        actor,
        s,
        EventType.MERGE,
        on,
        fill,
        detail={
            "merge_id": merge.pk,
            "role": "survivor",
            "duplicate_id": d.pk,
            "reason": text,
            "filled": sorted(fill),
            "repointed": repointed,
        },
        action=AuditAction.MERGE_PERSONS,
    )
    merge.filled = filled
    merge.survivor_event = s_event
    merge.duplicate_event = d_event
    merge.save(update_fields=["filled", "survivor_event", "duplicate_event"])
    if cand is not None and cand.status == DuplicateCandidate.Status.PENDING:
        before = _candidate_state(cand)
        cand.status = DuplicateCandidate.Status.SAME_PERSON
        cand.reason = text
        cand.decided_by = _user(actor)
        cand.decided_by_name = actor.name
        cand.decided_at = timezone.now()
        cand.save()
        audit(
            actor,
            AuditAction.DECIDE_DUPLICATE,
            cand,
            unit_code=_candidate_unit(cand),
            before=before,
            after=_candidate_state(cand),
            detail={"merge_id": merge.pk},
        )
    return merge


@transaction.atomic
def do_unmerge(actor: Actor, merge_record: MergeRecord | int, reason: str) -> MergeRecord:
    """Undo a merge: the duplicate gets back exactly its state before the merge, and the
    survivor loses the fields that were filled from the duplicate (unless they were
    changed since), each through an ``unmerge`` event.  The merge record stays, flagged
    undone; its candidate goes back to the queue (pending)."""
    actor.require(Permission.REVIEW_DUPLICATES)
    text = _reason(reason)
    pk = merge_record if isinstance(merge_record, int) else merge_record.pk
    try:
        m = MergeRecord.objects.select_for_update().get(pk=pk)
    except MergeRecord.DoesNotExist:
        raise RegistryError(
            f"合并记录 {pk} 不存在", f"merge {pk} does not exist", "merge"
        ) from None
    if m.undone:
        raise RegistryError("该合并已撤销", "this merge has already been undone", "merge")
    cand = (
        DuplicateCandidate.objects.select_for_update().get(pk=m.candidate_id)
        if m.candidate_id is not None
        else None
    )
    s, d = _lock_pair(actor, m.survivor_id, m.duplicate_id)
    if d.merged_into_id != s.pk:
        raise RegistryError(
            f"重复记录（编号 {d.pk}）当前未合并到编号 {s.pk}，无法撤销",
            f"record {d.pk} is not merged into {s.pk} any more; cannot undo",
            "merge",
        )
    # The survivor first: filled fields go back to empty where they still hold the filled
    # value, so that the duplicate gets its ID number back without two active records
    # holding it at once (the database allows one; docs/decisions/0003-integrity.md).
    unfill: dict[str, Any] = {}
    kept: list[str] = []
    for field, (before, after) in m.filled.items():
        if to_json(field, getattr(s, field)) == after:
            unfill[field] = before
        else:
            kept.append(field)
    record_event(
        actor,
        s,
        EventType.UNMERGE,
        today(),
        _from_json_values(unfill),
        detail={
            "merge_id": m.pk,
            "role": "survivor",
            "duplicate_id": d.pk,
            "reason": text,
            "restored": sorted(unfill),
            "kept_changed_since": kept,
        },
        action=AuditAction.UNMERGE_PERSONS,
    )
    # The duplicate: back to its whole state just before the merge.
    restore = {f: m.duplicate_before.get(f) for f in STATE_FIELDS}
    record_event(
        actor,
        d,
        EventType.UNMERGE,
        today(),
        _from_json_values(restore),
        detail={"merge_id": m.pk, "role": "duplicate", "survivor_id": s.pk, "reason": text},
        action=AuditAction.UNMERGE_PERSONS,
    )
    # Children and households that the merge pointed at the survivor go back to the
    # duplicate, where they still point at the survivor.
    done = (m.survivor_event.detail if m.survivor_event is not None else {}).get("repointed") or {}
    _repoint(actor, s, d, m.pk, text, EventType.UNMERGE, AuditAction.UNMERGE_PERSONS, only=done)
    m.undone = True
    m.undone_at = timezone.now()
    m.undone_by = _user(actor)
    m.undone_by_name = actor.name
    m.undo_reason = text
    m.save(update_fields=["undone", "undone_at", "undone_by", "undone_by_name", "undo_reason"])
    if cand is not None:
        before = _candidate_state(cand)
        cand.status = DuplicateCandidate.Status.PENDING
        cand.reason = ""
        cand.decided_by = None
        cand.decided_by_name = ""
        cand.decided_at = None
        cand.save()
        audit(
            actor,
            AuditAction.REOPEN_DUPLICATE,
            cand,
            unit_code=_candidate_unit(cand),
            before=before,
            after=_candidate_state(cand),
            detail={"merge_id": m.pk, "reason": text},
        )
    return m


PARENT_FIELDS = ("mother_id", "father_id")


def _repoint(
    actor: Actor,
    old: Person,
    new: Person,
    merge_id: int,
    reason: str,
    event_type: str,
    action: AuditAction,
    only: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Point the children and the household headship of ``old`` at ``new``.

    A child whose mother or father is ``old`` gets an event (``event_type``, role
    ``child``) that changes the link; a household headed by ``old`` is headed by ``new``
    when ``new`` is a member of it (otherwise the household keeps its head and a person
    must choose one), with an audit record.  The children may lie outside the actor's
    jurisdiction: the change follows from the merge the actor may make.  ``only`` (on
    undo) limits the change to what the merge did.  Returns what was changed, as
    ``{"children": {child_id: [fields]}, "heads": [household_id]}``.
    """
    want_children = None if only is None else {int(k): v for k, v in only.get("children", {}).items()}
    want_heads = None if only is None else set(only.get("heads", []))
    children: dict[str, list[str]] = {}
    kids = Person.objects.select_for_update().filter(Q(mother_id=old.pk) | Q(father_id=old.pk))
    for child in kids.order_by("pk"):
        fields = [f for f in PARENT_FIELDS if getattr(child, f) == old.pk]
        if want_children is not None:
            fields = [f for f in fields if f in want_children.get(child.pk, [])]
        if not fields or child.pk in (old.pk, new.pk):
            continue
        record_event(
            actor,
            child,
            event_type,
            today(),
            {f: new.pk for f in fields},
            detail={"merge_id": merge_id, "role": "child", "reason": reason, "parent_fields": fields},
            action=action,
        )
        children[str(child.pk)] = fields
    heads: list[int] = []
    for hh in Household.objects.select_for_update().filter(head_id=old.pk).order_by("pk"):
        if want_heads is not None and hh.pk not in want_heads:
            continue
        if want_heads is None and new.household_id != hh.pk:
            continue
        hh.head = new
        hh.version += 1
        hh.save(update_fields=["head", "version"])
        audit(
            actor,
            AuditAction.SET_HOUSEHOLD_HEAD,
            hh,
            unit_code=hh.unit_id,
            before={"head_id": old.pk},
            after={"head_id": new.pk},
            detail={"merge_id": merge_id, "reason": reason},
        )
        heads.append(hh.pk)
    return {"children": children, "heads": heads}


def _from_json_values(values: dict[str, Any]) -> dict[str, Any]:
    from popreg.registry.history import from_json

    return {f: from_json(f, v) for f, v in values.items()}
