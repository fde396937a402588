"""The register of printed certificates (see :mod:`popreg.registry.certificates`).

Each row is one certificate handed out: its serial number (per year, never reused: the
row stays), what it certifies, about whom, the digest of its printed content and who
printed it when.  The verification code is not stored: it is an HMAC of serial, person
and digest, recomputed when someone checks a certificate.

Imported by ``popreg.registry.models``; the migration is ``registry/0010``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CertificateKind(models.TextChoices):
    REGISTRATION = "registration", _("Certificate of household registration")
    BIRTH = "birth", _("Birth registration certificate")
    DEATH = "death", _("Death registration certificate")
    MOVE_OUT = "move_out", _("Move-out certificate")
    REGISTER_PAGE = "register_page", _("Household register page")


class Certificate(models.Model):
    serial = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=CertificateKind.choices)
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+")
    unit_code = models.CharField(max_length=15)
    digest = models.CharField(max_length=64)
    purpose = models.CharField(max_length=200, blank=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_by_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="certificate_year_number_unique"),
        ]

    def __str__(self) -> str:
        return self.serial
