"""The clerk's decision at the duplicate check of data entry (``popreg.registry.entry_check``).

When a form that creates a person showed likely existing records and the clerk saves
anyway ("new person"), the decision is audited on the new record, with the candidates that
were shown, so a later review can see who overrode which warning.  (Opening an existing
record instead saves nothing, so there is nothing to record.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import transaction

from popreg.registry.access import Actor, person_in_scope
from popreg.registry.actions.checks import audit_id_refusals
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AuditRecord, Person
from popreg.registry.policy import Permission

if TYPE_CHECKING:
    from popreg.registry.entry_check import EntryCheck

T = TypeVar("T")

#: The forms that run the check (the ``form`` of the audit detail).
FORMS = ("register_birth", "move_in", "in_migrant", "found_person")


@transaction.atomic
def do_confirm_new_person(
    actor: Actor,
    record: Any,
    *,
    form: str,
    shown: Mapping[str, Any],
    permission: Permission = Permission.EDIT_REGISTRY,
) -> AuditRecord:
    """Record that ``record`` (the new Person, or a campaign's found person) was saved as a
    new person although ``shown`` (the
    :meth:`~popreg.registry.entry_check.EntryCheck.audit_detail` of the check) listed likely
    existing records."""
    actor.require(permission)
    if form not in FORMS:
        raise RegistryError(f"未知的登记表 {form}", f"unknown entry form {form}", "form")
    if isinstance(record, Person):
        unit = str(record.registered_unit_id)
        if not person_in_scope(actor, record):
            raise RegistryError("该人员不在您的管辖范围内", "this person is outside your jurisdiction", "person")
    else:  # a record of a village (a found person): the actor must hold the permission there
        unit = str(getattr(record, "unit_id", "") or "")
        actor.require(permission, unit or None)
    candidates = list(shown.get("candidates") or [])
    elsewhere = int(shown.get("elsewhere") or 0)
    if not candidates and not elsewhere:
        raise RegistryError("没有提示疑似已有记录，无需确认", "no likely existing record was shown: nothing to confirm",
                            "entry_decision")
    return audit(actor, AuditAction.CONFIRM_NEW_PERSON, record, unit_code=unit,
                 detail={"form": form, "candidates": candidates, "elsewhere": elsewhere})


@audit_id_refusals
@transaction.atomic
def save_checked(actor: Actor, check: EntryCheck, form: str, create: Callable[[], T],
                 person_of: Callable[[T], Any] | None = None,
                 permission: Permission = Permission.EDIT_REGISTRY) -> T:
    """Run ``create`` (the action that saves the new record) and, when the check had shown
    likely existing records, the audited decision, in one transaction.  ``person_of`` picks
    the new record out of what ``create`` returns (default: all of it)."""
    made = create()
    if check.found:
        record = person_of(made) if person_of is not None else made
        do_confirm_new_person(actor, record, form=form, shown=check.audit_detail(), permission=permission)
    return made
