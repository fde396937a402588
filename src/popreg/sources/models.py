"""Outside sources arriving in a running registry (docs/sources.md).

A :class:`SourceBatch` is one imported file; each of its rows is a :class:`SourceEntry`
(one hospital birth, death notice or marriage registration), unique per kind by its
natural key; each entry has one :class:`SourceLink` per person it concerns (the deceased,
the child, the husband and the wife) with the engine's proposal and the reviewer's
decision.  Nothing here is written directly: use ``popreg.sources.actions``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from popreg.registry.models import AdminUnit, Person


class SourceKind(models.TextChoices):
    HOSPITAL_BIRTHS = "hospital_births", _("Hospital births")
    DEATH_NOTICES = "death_notices", _("Death notices")
    MARRIAGES = "marriages", _("Marriage registrations")


class SourceBatch(models.Model):
    """One imported file (identified by its SHA-256: the same file is imported once)."""

    kind = models.CharField(_("Kind"), max_length=20, choices=SourceKind.choices)
    file_name = models.CharField(_("File"), max_length=200)
    sha256 = models.CharField(max_length=64, unique=True)
    file_format = models.CharField(max_length=20, blank=True)
    rows = models.PositiveIntegerField(default=0)
    new_records = models.PositiveIntegerField(default=0)
    known_records = models.PositiveIntegerField(default=0)
    #: {"accepted": n, "proposed": n, "unmatched": n} over the links of the new records
    link_counts = models.JSONField(default=dict)
    #: months (YYYY-MM) of the new records' dates
    months = models.JSONField(default=list)
    #: what the import fed: reconciliation items created/existing, anomaly findings
    fed = models.JSONField(default=dict)
    unit = models.ForeignKey(AdminUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class SourceEntry(models.Model):
    """One record of an outside source, as imported (cleaned values in ``data``)."""

    batch = models.ForeignKey(SourceBatch, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("Kind"), max_length=20, choices=SourceKind.choices)
    #: the natural key: the file's record number, else derived from the record's content
    record_id = models.CharField(_("Record"), max_length=60)
    data = models.JSONField(default=dict)
    #: the birth, death or marriage date
    event_date = models.DateField(_("Date"))
    #: the stated address (village code), else the unit of a linked person, else the county
    unit_code = models.CharField(max_length=15, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        unique_together = [("kind", "record_id")]
        indexes = [models.Index(fields=["kind", "event_date"])]


class LinkStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, to review")
    UNMATCHED = "unmatched", _("No person found, to review")
    ACCEPTED = "accepted", _("Linked")
    REJECTED = "rejected", _("No person in the registry")


class LinkRole(models.TextChoices):
    DECEASED = "deceased", _("Deceased")
    CHILD = "child", _("Child")
    HUSBAND = "husband", _("Husband")
    WIFE = "wife", _("Wife")


class SourceLink(models.Model):
    """The registry person one entry concerns in one role: proposed by the linkage engine
    on arrival, accepted automatically above ``POPREG_SOURCES_AUTO_ACCEPT`` or decided by a
    reviewer (accept, reject, link to another person) with a reason."""

    entry = models.ForeignKey(SourceEntry, on_delete=models.PROTECT, related_name="links")
    role = models.CharField(_("Role"), max_length=10, choices=LinkRole.choices)
    proposed_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    probability = models.FloatField(null=True, blank=True)
    #: how the proposal was made (``model`` or a clerical rule of the engine)
    rule = models.CharField(max_length=20, blank=True)
    status = models.CharField(_("Status"), max_length=10, choices=LinkStatus.choices)
    #: the person the entry is linked to now (accepted or linked by a reviewer)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    automatic = models.BooleanField(default=False)
    reason = models.CharField(_("Reason"), max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        unique_together = [("entry", "role")]
        indexes = [models.Index(fields=["status"])]

    @property
    def decided(self) -> bool:
        return self.status in (LinkStatus.ACCEPTED, LinkStatus.REJECTED)
