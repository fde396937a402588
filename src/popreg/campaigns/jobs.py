"""Job kinds of the campaigns app (see :mod:`popreg.registry.jobs`): field list PDFs.

A field list of a large village takes about 10 ms per person to render (a minute for the
largest village of the default county), so the page starts a ``field_list_pdf`` job: the
worker builds the PDF through the export layer (:func:`popreg.registry.exports.export_bytes`:
permission, masking, stamp and audit as for any download), writes it under
``$POPREG_HOME/fieldlists/<job id>/`` (a temporary name renamed into place) and links its
download (``campaigns:field_list_download``) as the job's result.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.campaigns import fieldlists
from popreg.campaigns.models import Campaign
from popreg.campaigns.queries import campaign_info, field_list_persons, village_info
from popreg.registry import jobs as runner
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Export, export_bytes
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission

STAGES: dict[str, str] = {
    "reading": gettext_noop("Reading the persons of the village"),
    "rendering": gettext_noop("Rendering the field list of %(n)s persons as PDF"),
    "saving": gettext_noop("Saving the PDF"),
    "ready": gettext_noop("The field list of %(n)s persons is ready"),
}


def field_list_root() -> Path:
    """``$POPREG_HOME/fieldlists``: one folder per job."""
    return Path(settings.POPREG_HOME) / "fieldlists"


def field_list_file(job_id: int, name: str) -> Path | None:
    """The stored PDF of job ``job_id`` (None when it is gone or the name is not plain)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = field_list_root() / str(int(job_id)) / name
    return path if path.is_file() else None


def pdf_export(campaign: Campaign, village: AdminUnit, split: str | None) -> tuple[Export, int]:
    """The export of a village's field list (shared by the job and its tests)."""
    persons = field_list_persons(campaign, village.code)
    export = Export(
        title=f"{campaign.name} {village.name} 入户核对名单",
        filename=f"{campaign.name}-{village.name}-入户核对名单.pdf", format="pdf",
        action=AuditAction.CAMPAIGN_EXPORT_FIELD_LIST, reason="入户核对 field check", target=campaign,
        row_count=len(persons), detail={"village": village.code, "split": split},
        pdf_html=lambda ctx: fieldlists.field_list_html(
            village_info(village), persons, campaign_info(campaign) | {"show_full_id": ctx.full_id},
            split_by=split),
    )  # fmt: skip
    return export, len(persons)


def run_field_list_pdf(ctx: runner.JobContext) -> None:
    """The ``field_list_pdf`` job: render, store (temp + rename) and link the PDF."""
    p = ctx.params
    campaign = Campaign.objects.get(pk=p["campaign"])
    village = AdminUnit.objects.get(code=p["village"])
    ctx.progress(0, 3, "reading")
    export, n = pdf_export(campaign, village, p.get("split") or None)
    ctx.progress(1, 3, "rendering", n=n)
    try:
        data = export_bytes(ctx.actor, export, permission=Permission.CAMPAIGN_FIELDWORK,
                            unit_code=village.code, full_id=bool(p.get("full_id")),
                            reason=p.get("reason", ""))  # fmt: skip
    except fieldlists.FieldListError as err:
        zh, _sep, en = str(err).partition(" / ")
        raise RegistryError(zh, en or zh, "split") from None
    ctx.progress(2, 3, "saving", n=n)
    folder = field_list_root() / str(ctx.job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{export.filename}.{os.getpid()}.part"
    tmp.write_bytes(data)
    final = folder / export.filename
    try:
        with ctx.applying():
            os.replace(tmp, final)
            ctx.progress(3, 3, "ready", n=n)
            ctx.set_result(
                url=reverse("campaigns:field_list_download", args=[ctx.job.pk]),
                data={"file": export.filename, "persons": n, "bytes": len(data),
                      "campaign": campaign.pk, "village": village.code},
            )  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)


FIELD_LIST_PDF = runner.register(runner.JobKind(
    name="field_list_pdf", label=gettext_noop("Field list (PDF)"),
    permission=Permission.CAMPAIGN_FIELDWORK, handler=run_field_list_pdf, stages=STAGES,
))  # fmt: skip
