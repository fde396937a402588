"""How a person's history is written: lock the record, append one event, apply its
changes, audit both.  Every action that changes a person goes through these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction

from popreg.registry.access import Actor, person_in_scope
from popreg.registry.actions.checks import check_id_unique, today
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.history import apply_changes, diff
from popreg.registry.models import (
    ACTIVE_ID_NUMBER_UNIQUE,
    STATE_FIELDS,
    Event,
    Person,
)
from popreg.registry.policy import Permission

#: Fields of the uniqueness rule on active ID numbers (models.ACTIVE_ID_NUMBER_UNIQUE).
_ID_RULE_FIELDS = frozenset({"id_number", "status", "merged_into_id"})


def save_person(actor: Actor, person: Person, *, checked: bool) -> None:
    """Save ``person``; a write that breaks the uniqueness of active ID numbers (another
    transaction registered the number first) becomes the usual ``id_number`` field error.

    ``checked``: the change cannot touch the rule (saves the savepoint)."""
    if checked:
        person.save()
        return
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:
        if ACTIVE_ID_NUMBER_UNIQUE not in str(exc) and "registry_person.id_number" not in str(exc):
            raise
        # The winner has committed: the check now finds it and words the refusal for
        # this actor's jurisdiction.
        check_id_unique(person.id_number, exclude_pk=person.pk, actor=actor, context="concurrent")
        raise RegistryError(
            f"公民身份号码 {person.id_number} 刚被其他登记占用，请核实后重试",
            f"ID number {person.id_number} was just taken by another registration; check and retry",
            "id_number",
        ) from exc


def lock_person(
    actor: Actor, person: Person | int, *, allow_merged: bool = False,
    permission: Permission = Permission.EDIT_REGISTRY,
) -> Person:
    """Re-read the person under a row lock and check the actor may change them.

    A record merged into another (a resolved duplicate) takes no further changes until the
    merge is undone; only the linkage actions pass ``allow_merged`` (and their own
    ``permission``).
    """
    actor.require(permission)
    pk = person if isinstance(person, int) else person.pk
    try:
        fresh = Person.objects.select_for_update().get(pk=pk)
    except Person.DoesNotExist:
        raise RegistryError(f"人员 {pk} 不存在", f"person {pk} does not exist", "person") from None
    if not person_in_scope(actor, fresh):
        raise JurisdictionError("该人员不在您的辖区内", "this person is outside your jurisdiction", "person")
    if fresh.merged_into_id is not None and not allow_merged:
        raise RegistryError(
            f"该记录已作为重复记录并入编号 {fresh.merged_into_id}，请在该记录上办理，或先撤销合并",
            f"this record was merged into person {fresh.merged_into_id}; act on that record or undo the merge first",
            "person",
        )
    return fresh


def require_version(person: Person, expected: int | str | None,
                    submitted: Mapping[str, Any] | None = None) -> None:
    """Refuse an edit made on an older version of ``person`` (a form opened before someone
    else's change): no lost update.  The message names each field changed since, with its
    stored value and the value in the form (``submitted``, else the value the form showed).
    ``expected`` None (commands, imports) skips the check."""
    if expected in (None, ""):
        return
    try:
        seen_version = int(expected)
    except (TypeError, ValueError):
        raise RegistryError("表单版本号无效，请刷新页面后重新填写",
                            "the form's version is invalid; reload the page", "version") from None
    if seen_version == person.version:
        return
    newer = person.version - seen_version
    recent = list(Event.objects.filter(person=person).order_by("-id")[:newer]) if newer > 0 else []
    opened: dict[str, Any] = {}  # field -> its value when the form was opened
    for ev in reversed(recent):
        for f, (before, _after) in ev.changes.items():
            opened.setdefault(f, before)
    form = dict(submitted or {})
    stored = person.state()
    fields = sorted(opened, key=lambda f: (f not in form, f))
    zh_parts, en_parts = [], []
    for f in fields:
        now, theirs = _shown(stored.get(f)), _shown(form[f] if f in form else opened[f])
        zh_parts.append(f"{VERSIONED_LABELS.get(f, f)} 现为“{now[0]}”，您的表单为“{theirs[0]}”")
        en_parts.append(f"{f} is now {now[1]}, your form has {theirs[1]}")
    field = fields[0] if fields and fields[0] in form else "version"
    raise StaleVersionError(
        f"该记录在您打开后已被他人修改（第 {seen_version} 版，现为第 {person.version} 版），本次未保存"
        + ("：" + "；".join(zh_parts) if zh_parts else "")
        + "。请核对现有登记后重新填写提交",
        f"this record was changed by someone else after you opened it (version {seen_version}, "
        f"now {person.version}); nothing was saved"
        + (": " + "; ".join(en_parts) if en_parts else "")
        + ". Check the record as it is now and submit again",
        field,
        current=person.version,
    )


class StaleVersionError(RegistryError):
    """An edit made on an older version of the record; ``current`` is the stored version
    (a form shown again with it lets the user submit deliberately over the newer change)."""

    def __init__(self, message_zh: str, message_en: str, field: str | None, *, current: int) -> None:
        super().__init__(message_zh, message_en, field)
        self.current = current


#: Chinese labels of the fields a version conflict may name.
VERSIONED_LABELS = {
    "name": "姓名", "former_names": "曾用名", "sex": "性别", "birth_date": "出生日期",
    "ethnicity": "民族", "id_number": "公民身份号码", "household_id": "户",
    "registered_unit_id": "户籍地", "residence_unit_id": "居住地", "residence_type": "居住类型",
    "status": "状态", "hukou_kind": "户口性质", "marital_status": "婚姻状况", "mother_id": "母亲",
    "father_id": "父亲", "death_date": "死亡日期", "merged_into_id": "并入记录",
}


def _shown(value: Any) -> tuple[str, str]:
    if value in (None, ""):
        return "空", "(empty)"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text, repr(text)


def record_event(
    actor: Actor,
    person: Person,
    event_type: str,
    event_date: date,
    new_values: Mapping[str, Any],
    *,
    recorded_date: date | None = None,
    from_unit: str = "",
    to_unit: str = "",
    detail: Mapping[str, Any] | None = None,
    action: AuditAction,
) -> Event:
    """Append one event, apply its changes to the person, audit both."""
    before = person.state()
    changes = diff(person, dict(new_values))
    apply_changes(person, changes)
    if "id_number" in changes:
        person.legacy_duplicate_id = False  # a new number is held to the uniqueness rule
    person.version += 1
    save_person(actor, person, checked=_ID_RULE_FIELDS.isdisjoint(changes))
    event = Event(
        person=person,
        event_type=event_type,
        event_date=event_date,
        recorded_date=recorded_date or today(),
        unit_code=before.get("registered_unit_id") or person.registered_unit_id or "",
        from_unit=from_unit or "",
        to_unit=to_unit or "",
        changes=changes,
        detail=dict(detail or {}),
        actor=actor.user if actor.user is not None and actor.user.pk else None,
    )
    event.save()
    audit(
        actor,
        action,
        person,
        unit_code=person.registered_unit_id,
        before=before,
        after=person.state(),
        detail={"event_id": event.pk, "event_type": event_type},
    )
    return event


def empty_state() -> dict[str, Any]:
    return {f: None for f in STATE_FIELDS}


def create_person(
    actor: Actor,
    values: dict[str, Any],
    event_type: str,
    event_date: date,
    *,
    recorded_date: date | None,
    from_unit: str = "",
    to_unit: str = "",
    detail: Mapping[str, Any] | None = None,
    action: AuditAction,
) -> Person:
    """A new record whose whole state comes from its first event (baseline empty)."""
    person = Person(**values)
    person.baseline = empty_state()
    person.baseline_event_id = 0
    changes = {f: [None, v] for f, v in person.state().items() if v is not None}
    apply_changes(person, changes)
    person.registered_date = recorded_date or today()
    person.version = 1
    save_person(actor, person, checked=False)
    event = Event(
        person=person,
        event_type=event_type,
        event_date=event_date,
        recorded_date=recorded_date or today(),
        unit_code=person.registered_unit_id,
        from_unit=from_unit,
        to_unit=to_unit,
        changes=changes,
        detail=dict(detail or {}),
        actor=actor.user if actor.user is not None and actor.user.pk else None,
    )
    event.save()
    audit(actor, action, person, unit_code=person.registered_unit_id, before=None,
          after=person.state(), detail={"event_id": event.pk, "event_type": event_type})
    return person
