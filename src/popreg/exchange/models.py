"""Tables of the exchange between deployments.

* :class:`LocalIdentity` — this deployment's code, URL and public key (one row).  The
  private key is never stored here: it lives in ``POPREG_EXCHANGE_KEY_DIR``.
* :class:`Peer` — a trusted deployment (code, inbox URL, public key and its RFC 7638
  thumbprint).  Messages from any other sender are refused.
* :class:`OutboxMessage` — a notification to send: pending until the peer's signed ack
  comes back (over HTTP or in a bundle); retries with exponential back-off.
* :class:`InboxMessage` — every message received: the received-id log (one row per sender
  and message id, whatever came afterwards), what was done with it, and the refusals.
* :class:`SubjectWatermark` — the newest message applied per sender and subject, so an
  older update arriving late is recorded as stale and ignored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


#: Message types (the value is on the wire; labels are English msgids).
class MessageType(models.TextChoices):
    MIGRANT_REGISTERED = "migrant_registered", pgettext_lazy("exchange", "Migrant registered")
    MIGRANT_MOVED = "migrant_moved", pgettext_lazy("exchange", "Migrant moved")
    MIGRANT_DEPARTED = "migrant_departed", pgettext_lazy("exchange", "Migrant departed")
    PERMIT_ISSUED = "permit_issued", pgettext_lazy("exchange", "Residence permit issued")
    WHEREABOUTS_CONFIRMED = "whereabouts_confirmed", pgettext_lazy("exchange", "Whereabouts confirmed")
    RECORD_CORRECTED = "record_corrected", pgettext_lazy("exchange", "Record corrected")
    ACK = "ack", pgettext_lazy("exchange", "Acknowledgement")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("exchange", "Pending")
    SENT = "sent", pgettext_lazy("exchange", "Sent")
    ACKED = "acked", pgettext_lazy("exchange", "Acknowledged")
    FAILED = "failed", pgettext_lazy("exchange", "Failed")


class InboxStatus(models.TextChoices):
    RECEIVED = "received", pgettext_lazy("exchange", "Received")
    APPLIED = "applied", pgettext_lazy("exchange", "Applied")
    DUPLICATE = "duplicate", pgettext_lazy("exchange", "Duplicate")
    STALE = "stale", pgettext_lazy("exchange", "Stale")
    REFUSED = "refused", pgettext_lazy("exchange", "Refused")
    REVIEW = "review", pgettext_lazy("exchange", "Awaiting review")
    UNMATCHED = "unmatched", pgettext_lazy("exchange", "No matching person")
    REJECTED = "rejected", pgettext_lazy("exchange", "Rejected")


class Channel(models.TextChoices):
    HTTP = "http", pgettext_lazy("exchange", "HTTP")
    BUNDLE = "bundle", pgettext_lazy("exchange", "Bundle")


class LocalIdentity(models.Model):
    """This deployment (one row, pk 1)."""

    code = models.CharField(max_length=12)
    url = models.CharField(max_length=300)
    public_jwk = models.JSONField()
    thumbprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.code} {self.url}"


class Peer(models.Model):
    """A trusted deployment."""

    code = models.CharField(max_length=12, unique=True)
    url = models.CharField(max_length=300)
    public_jwk = models.JSONField()
    thumbprint = models.CharField(max_length=64)
    trusted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def inbox_url(self) -> str:
        base = self.url if self.url.endswith("/") else self.url + "/"
        return base + "exchange/inbox/"


class OutboxMessage(models.Model):
    """A message to one peer; the state lives here, so a restart loses nothing."""

    message_id = models.CharField(max_length=26, unique=True)  # ULID
    recipient = models.CharField(max_length=12, db_index=True)
    type = models.CharField(max_length=32, choices=MessageType.choices)
    created = models.DateTimeField()
    subject = models.JSONField(default=dict)
    payload = models.JSONField(default=dict)
    in_reply_to = models.CharField(max_length=26, blank=True, default="")
    #: the signed JWS (compact), fixed at the first send so that retries send the same bytes
    token = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    #: what the peer said it did (applied, duplicate, stale, review, unmatched, rejected)
    ack_status = models.CharField(max_length=12, blank=True, default="")
    ack_detail = models.JSONField(default=dict, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    export_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["recipient", "status"])]

    def __str__(self) -> str:
        return f"{self.message_id} {self.type} → {self.recipient}"


class InboxMessage(models.Model):
    """A message received (or refused).  One row per sender and message id except for
    refusals: a duplicate only counts on the first row (``duplicate_count``)."""

    message_id = models.CharField(max_length=26, blank=True, default="")
    sender = models.CharField(max_length=12, blank=True, default="", db_index=True)
    recipient = models.CharField(max_length=12, blank=True, default="")
    type = models.CharField(max_length=32, blank=True, default="")
    created = models.DateTimeField(null=True, blank=True)
    subject = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    in_reply_to = models.CharField(max_length=26, blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.HTTP)
    token = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.RECEIVED, db_index=True
    )
    reason = models.TextField(blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    person = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    duplicate_count = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # the received-id log: a message is taken in once (refusals are not taken in)
            models.UniqueConstraint(
                fields=["sender", "message_id"],
                condition=~Q(status="refused"),
                name="exchange_inbox_once_per_sender",
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.type} ← {self.sender}"


class SubjectWatermark(models.Model):
    """The newest message taken in per sender and subject (ID number, else name)."""

    sender = models.CharField(max_length=12)
    subject_key = models.CharField(max_length=120)
    created = models.DateTimeField()
    message_id = models.CharField(max_length=26)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "subject_key"], name="exchange_watermark_unique")
        ]
