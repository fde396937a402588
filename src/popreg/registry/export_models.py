"""Requests for a full-ID export that needs a second person's approval (see
:mod:`popreg.registry.actions.exports` and ``docs/exports.md``).

A person list with full ID numbers of a county-level unit is not handed out on one
click: the requester gives a reason, another user holding ``VIEW_FULL_ID`` over the unit
approves, and the requester may then download the file once.  The row stays as the
record of who asked, why, who approved and when the file was taken.

Imported by ``popreg.registry.models``; the migration is ``registry/0011``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExportApproval(models.Model):
    unit = models.ForeignKey("registry.AdminUnit", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    filters = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"full-id export {self.pk} of {self.unit_id}"

    @property
    def state(self) -> str:
        """``pending``, ``approved`` (ready to download) or ``used``."""
        if self.downloaded_at is not None:
            return "used"
        return "approved" if self.approved_at is not None else "pending"
