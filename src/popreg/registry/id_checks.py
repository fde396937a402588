"""Bulk checks of ID numbers against the registry (the import's check): audited, and
limited per user and hour.

An import answers, for each ID number in the file, whether an active record already holds
it.  Outside the user's jurisdiction the answer is only "registered elsewhere"
(:func:`popreg.registry.actions.checks.elsewhere_message`), but even that tells whether a
guessed number belongs to someone in the county, so every bulk check leaves an audit
record (``AuditAction.BULK_ID_CHECK``: how many numbers, which were found elsewhere) and
the numbers a user may check in one hour are limited by ``POPREG_ID_CHECKS_PER_HOUR``
(counted from those audit records, so every process and the job worker see the same
count).  County-wide users are not limited: every record is within their jurisdiction.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AuditRecord

WINDOW = timedelta(hours=1)


class IdCheckLimitError(RegistryError):
    """The user has checked as many ID numbers as one hour allows."""


def checks_per_hour() -> int:
    """``POPREG_ID_CHECKS_PER_HOUR`` (0: no limit)."""
    return int(getattr(settings, "POPREG_ID_CHECKS_PER_HOUR", 2000))


def _records_of(actor: Actor) -> QuerySet[AuditRecord]:
    qs = AuditRecord.objects.filter(action=AuditAction.BULK_ID_CHECK.value, at__gte=timezone.now() - WINDOW)
    return qs.filter(actor_id=actor.user_id) if actor.user_id else qs.filter(actor_name=actor.name)


def checked_last_hour(actor: Actor) -> int:
    return sum(int((d or {}).get("checked", 0)) for d in _records_of(actor).values_list("detail", flat=True))


def charge_id_checks(actor: Actor, count: int) -> None:
    """Refuse a bulk check of ``count`` ID numbers that would take ``actor`` over the
    hourly limit (the check itself is counted by :func:`audit_bulk_id_check`)."""
    limit = checks_per_hour()
    if limit <= 0 or count <= 0 or actor.county_wide:
        return
    if count > limit:
        raise IdCheckLimitError(
            f"文件中有 {count} 个公民身份号码，超过每小时最多核对 {limit} 个的限制；请把文件拆分后分批导入，"
            "或请县级户籍部门导入",
            f"the file has {count} ID numbers, more than the {limit} that may be checked against the "
            "registry per hour; split the file and import the parts, or ask the county office",
            "id_number",
        )
    used = checked_last_hour(actor)
    if used + count <= limit:
        return
    oldest = _records_of(actor).order_by("at").values_list("at", flat=True).first()
    wait = math.ceil(((oldest + WINDOW) - timezone.now()).total_seconds() / 60) if oldest else 60
    raise IdCheckLimitError(
        f"您在一小时内已核对 {used} 个公民身份号码，本文件还有 {count} 个，超过每小时 {limit} 个的限制；"
        f"请约 {max(wait, 1)} 分钟后再试，或请县级户籍部门办理",
        f"you have checked {used} ID numbers against the registry in the last hour and this file has "
        f"{count} more, over the limit of {limit} per hour; try again in about {max(wait, 1)} minutes, "
        "or ask the county office",
        "id_number",
    )


def audit_bulk_id_check(actor: Actor, count: int, elsewhere: list[tuple[str, int, str]]) -> None:
    """Record a bulk check of ``count`` numbers; ``elsewhere``: the numbers found outside
    the actor's jurisdiction (number, holder's record, holder's registered unit)."""
    if count <= 0:
        return
    with transaction.atomic():
        audit(actor, AuditAction.BULK_ID_CHECK, None, unit_code=actor.unit_code or "",
              detail={"checked": count, "elsewhere": len(elsewhere),
                      "hits": [{"id_number": n, "person_id": pk, "unit": u} for n, pk, u in elsewhere]})
