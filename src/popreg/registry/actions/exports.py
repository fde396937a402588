"""Full-ID person lists that need a second person (see ``docs/exports.md``).

A person list with full ID numbers asks for a reason.  For a unit below the county the
reason is enough (the export layer checks ``VIEW_FULL_ID`` over the unit and stamps and
audits the file).  For a county-level unit — the whole county — the list is first asked
for (:func:`do_request_full_id_export`), then approved by another user holding
``VIEW_FULL_ID`` over the unit (:func:`do_approve_full_id_export`); the requester may
then download it once (:func:`take_full_id_export`, inside the download's transaction,
whose ``export_persons`` record names the request).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.export_models import ExportApproval
from popreg.registry.models import AdminUnit, UnitLevel
from popreg.registry.policy import Permission

__all__ = [
    "MAX_REASON",
    "clean_reason",
    "do_approve_full_id_export",
    "do_request_full_id_export",
    "needs_approval",
    "take_full_id_export",
]

MAX_REASON = 200


def clean_reason(reason: str) -> str:
    """The reason as stored, or a :class:`RegistryError` naming the field."""
    text = " ".join((reason or "").split())
    if len(text) < 2:
        raise RegistryError("请填写导出完整身份证号的用途（至少2个字）",
                            "give the reason for exporting full ID numbers (at least 2 characters)", "reason")
    if len(text) > MAX_REASON:
        raise RegistryError(f"用途不能超过{MAX_REASON}个字",
                            f"the reason may have at most {MAX_REASON} characters", "reason")
    return text


def needs_approval(unit: AdminUnit) -> bool:
    """Whether a full-ID list of ``unit`` needs a second person: a county-level unit."""
    return unit.level == UnitLevel.COUNTY


@transaction.atomic
def do_request_full_id_export(
    actor: Actor, unit: AdminUnit, *, reason: str, filters: Mapping[str, str] | None = None,
) -> ExportApproval:
    """Ask for the full-ID person list of ``unit`` (a county-level unit), with a reason."""
    actor.require(Permission.EXPORT_PERSONS, unit.code)
    actor.require(Permission.VIEW_FULL_ID, unit.code)
    text = clean_reason(reason)
    if actor.user is None:
        raise RegistryError("系统任务不能申请导出", "a system job cannot ask for an export")
    req = ExportApproval.objects.create(
        unit=unit, reason=text, filters=dict(filters or {}), requested_by=actor.user,
        requested_by_name=actor.name, requested_at=timezone.now(),
    )
    audit(actor, AuditAction.REQUEST_FULL_ID_EXPORT, req, unit_code=unit.code,
          after={"state": "pending"}, detail={"reason": text, "filters": req.filters})
    return req


def _lock(actor: Actor, pk: int) -> ExportApproval:
    req = ExportApproval.objects.select_for_update().filter(pk=pk).first()
    if req is None or not actor.covers(req.unit_id):
        raise JurisdictionError("没有这项导出申请", "no such export request")
    return req


@transaction.atomic
def do_approve_full_id_export(actor: Actor, pk: int) -> ExportApproval:
    """Approve another user's request; the approver holds ``VIEW_FULL_ID`` over its unit."""
    req = _lock(actor, pk)
    actor.require(Permission.VIEW_FULL_ID, req.unit_id)
    if actor.user_id is not None and actor.user_id == req.requested_by_id:
        raise RegistryError("不能批准自己的申请：须由另一位有权查看完整身份证号的人员批准",
                            "you cannot approve your own request: another user who may see full "
                            "ID numbers must approve it")
    if req.approved_at is not None:
        raise RegistryError(f"该申请已由 {req.approved_by_name} 批准",
                            f"this request was already approved by {req.approved_by_name}")
    req.approved_by = actor.user
    req.approved_by_name = actor.name
    req.approved_at = timezone.now()
    req.save(update_fields=["approved_by", "approved_by_name", "approved_at"])
    audit(actor, AuditAction.APPROVE_FULL_ID_EXPORT, req, unit_code=req.unit_id,
          before={"state": "pending"}, after={"state": "approved"},
          detail={"reason": req.reason, "requested_by": req.requested_by_name})
    return req


def take_full_id_export(actor: Actor, pk: int) -> ExportApproval:
    """Mark an approved request of ``actor`` downloaded, once.  Call inside the download's
    transaction: its ``export_persons`` audit record (detail ``approval``) is this write's
    record, and a refused download leaves the request as it was."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take_full_id_export runs inside the download's transaction")
    req = _lock(actor, pk)
    actor.require(Permission.EXPORT_PERSONS, req.unit_id)
    actor.require(Permission.VIEW_FULL_ID, req.unit_id)
    if actor.user_id is None or actor.user_id != req.requested_by_id:
        raise JurisdictionError("没有这项导出申请", "no such export request")
    if req.approved_at is None:
        raise RegistryError("该申请尚未获批准", "this request has not been approved yet")
    if req.downloaded_at is not None:
        raise RegistryError("该文件已下载过一次；如需再次导出，请重新申请",
                            "this file was already downloaded once; ask again for another export")
    req.downloaded_at = timezone.now()
    req.save(update_fields=["downloaded_at"])
    return req
