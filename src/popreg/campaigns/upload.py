"""Upload of a filled field workbook (入户核对表回传): validated row by row, all rows or none,
idempotent.  Called through :func:`popreg.campaigns.actions.do_upload_workbook`.

The file is read by ``popreg.campaigns.fieldlists.read_field_workbook`` (which reports
edited headers, altered rows, unknown outcomes and impossible dates), then checked against
the campaign (its id, the village of the page, the user's jurisdiction, the phase, the
county lock) and applied in one transaction; any faulty row rolls everything back and the
report names every faulty row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from popreg.campaigns._common import acting_user, campaign_error, check_phase, check_unlocked
from popreg.campaigns._field import (
    do_record_found_person,
    do_record_outcome,
    outcome_values,
    record_new_outcomes,
)
from popreg.campaigns.models import (
    Campaign,
    FieldOutcome,
    ListedPerson,
    Phase,
    Source,
    Upload,
)
from popreg.campaigns.queries import in_scope
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.policy import Permission


@dataclass
class RowProblem:
    sheet: str
    row: int
    column: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        where = f"{self.sheet} 第{self.row}行" if self.row else self.sheet
        col = f"“{self.column}”列" if self.column else ""
        return f"{where}{col}：{self.message_zh} / {self.message_en}"


@dataclass
class UploadReport:
    accepted: bool
    duplicate: bool = False
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    found: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    upload: Upload | None = None


class _Rollback(Exception):
    pass


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def upload_workbook(
    actor: Actor, campaign: Campaign, data: bytes, *, filename: str = "", village_code: str | None = None
) -> UploadReport:
    """Apply a filled field workbook: all rows or none.

    The file is read and checked row by row (``read_field_workbook``); it is refused whole
    when it belongs to another campaign or village, when its headers were edited, or when
    any row is wrong, and the report names every faulty row.  A file already uploaded
    (same bytes) changes nothing; rows equal to what is recorded are counted as unchanged.
    """
    from popreg.campaigns import fieldlists

    campaign = Campaign.objects.get(pk=campaign.pk)
    digest = hashlib.sha256(data).hexdigest()
    prior = Upload.objects.filter(campaign=campaign, sha256=digest).first()
    if prior is not None:
        return UploadReport(accepted=True, duplicate=True, rows=prior.rows, unchanged=prior.rows, upload=prior,
                            problems=[RowProblem("", 0, "", f"该文件已于 {timezone.localtime(prior.uploaded_at):%Y-%m-%d %H:%M} 上传，未做任何修改",
                                                 "this file was uploaded before; nothing changed")])
    try:
        parsed = fieldlists.read_field_workbook(data)
    except Exception as exc:  # the reader's own error names what is wrong with the file
        zh = getattr(exc, "message_zh", None) or str(exc)
        en = getattr(exc, "message_en", None) or "the file cannot be read as a field workbook"
        return UploadReport(accepted=False, problems=[RowProblem("", 0, "", str(zh), str(en))])
    report = UploadReport(accepted=False, problems=_file_problems(parsed))
    expected = village_code
    village_code = str(_attr(parsed, "village_code", "unit_code", "village", default="") or "")
    refused = _refusal(actor, campaign, parsed, village_code, expected, report)
    if refused is not None:
        return refused
    rows = list(_attr(parsed, "rows", "persons", default=[]) or [])
    found = list(_attr(parsed, "new_persons", "found", "found_persons", default=[]) or [])
    report.rows = len(rows) + len(found)
    person_sheet = str(_attr(parsed, "persons_sheet", default="核对名单"))
    found_sheet = str(_attr(parsed, "found_sheet", default="新发现人员"))
    try:
        with transaction.atomic():
            up = Upload.objects.create(campaign=campaign, unit_id=village_code, sha256=digest,
                                       filename=filename[:200], rows=report.rows, uploaded_by=acting_user(actor))
            _apply_outcome_rows(actor, campaign, village_code, rows, up, report, person_sheet)
            _apply_found_rows(actor, campaign, village_code, found, up, report, found_sheet)
            if report.problems:
                raise _Rollback
            up.applied = report.changed
            up.save(update_fields=["applied"])
            audit(actor, AuditAction.CAMPAIGN_UPLOAD_WORKBOOK, up, unit_code=village_code,
                           after={"sha256": digest, "rows": report.rows, "changed": report.changed},
                           detail={"campaign": campaign.pk, "filename": filename})
    except _Rollback:
        report.changed = report.unchanged = report.found = 0
        return report
    report.accepted = True
    report.upload = up
    return report


def _file_problems(parsed: Any) -> list[RowProblem]:
    """The problems the workbook reader found in the file."""
    return [
        RowProblem(
            str(_attr(p, "sheet", default="")), int(_attr(p, "row", default=0) or 0), str(_attr(p, "column", default="")),
            str(_attr(p, "message_zh", default=str(p))), str(_attr(p, "message_en", default="")),
        )
        for p in _attr(parsed, "problems", "errors", default=[]) or []
    ]


def _refusal(
    actor: Actor, campaign: Campaign, parsed: Any, village_code: str, expected: str | None, report: UploadReport
) -> UploadReport | None:
    """The report refusing the whole file (another campaign or village, outside the
    campaign, no right to write, wrong phase, locked, faulty rows), or None to go on."""
    file_campaign = _attr(parsed, "campaign_id", "campaign")
    if file_campaign in (None, "") or not village_code:
        if not report.problems:
            report.problems.append(RowProblem("", 0, "", "文件中没有活动和村的标识，请上传本系统下载的核对表",
                                              "the file does not name its campaign and village"))
        return report
    if str(file_campaign) != str(campaign.pk):
        return UploadReport(accepted=False, problems=[RowProblem("", 0, "",
            f"该文件属于另一次整顿活动（编号 {file_campaign}），请下载本次活动“{campaign.name}”的核对表",
            f"this file belongs to campaign {file_campaign}, not {campaign.pk}; download this campaign's workbook")])
    if village_code and expected and village_code != expected:
        return UploadReport(accepted=False, problems=[RowProblem("", 0, "",
            f"该文件是 {parsed.village_name or village_code}（{village_code}）的核对表，不是本村（{expected}）的；请上传本村的核对表",
            f"this file is the workbook of village {village_code}, not of {expected}; upload this village's file")])
    if not in_scope(campaign, village_code):
        return UploadReport(accepted=False, problems=[RowProblem("", 0, "",
            f"该文件的村 {village_code} 不在本次整顿范围内", f"village {village_code} is outside this campaign")])
    try:
        actor.require(Permission.CAMPAIGN_FIELDWORK, village_code)
        check_phase(campaign, (Phase.VERIFICATION, Phase.RECTIFICATION), "上传核对表", "upload workbooks")
        check_unlocked(campaign, village_code)
    except RegistryError as exc:
        return UploadReport(accepted=False, problems=[RowProblem("", 0, "", exc.message_zh, exc.message_en)])
    if report.problems:
        return report
    return None


def _apply_found_rows(
    actor: Actor, campaign: Campaign, village_code: str, found: list[Any], up: Upload, report: UploadReport,
    sheet: str,
) -> None:
    """Record the persons found in the village (each by ``do_record_found_person``)."""
    for r in found:
        rowno = int(_attr(r, "row", "row_number", default=0) or 0)
        try:
            with transaction.atomic():
                _fp, created = do_record_found_person(
                    actor, campaign, village_code,
                    name=str(_attr(r, "name", default="") or ""), sex=str(_attr(r, "sex", default="") or ""),
                    birth_date=_attr(r, "birth_date"), kind=str(_attr(r, "kind", default="birth") or "birth"),
                    id_number=str(_attr(r, "id_number", default="") or ""),
                    household_no=str(_attr(r, "household_no", default="") or ""),
                    address=str(_attr(r, "address", default="") or ""),
                    from_unit_code=str(_attr(r, "from_unit_code", "from_unit", default="") or ""),
                    event_date=_attr(r, "event_date", "move_date"), note=str(_attr(r, "note", default="") or ""),
                    source=Source.WORKBOOK, upload=up,
                )
            if created:
                report.found += 1
                report.changed += 1
            else:
                report.unchanged += 1
        except (RegistryError, ValueError, TypeError) as exc:
            zh, en = getattr(exc, "message_zh", str(exc)), getattr(exc, "message_en", str(exc))
            report.problems.append(RowProblem(sheet, rowno, str(getattr(exc, "field", "") or ""), zh, en))


def _apply_outcome_rows(
    actor: Actor, campaign: Campaign, village_code: str, rows: list[Any], up: Upload, report: UploadReport,
    sheet: str,
) -> None:
    """Record the outcomes of an upload: each row is checked by the rules of
    ``do_record_outcome`` (``outcome_values``), and the persons without an outcome yet are
    recorded together by ``record_new_outcomes`` (the lookups, inserts and audit done once).
    A row that revises an earlier outcome goes through ``do_record_outcome`` itself (rare,
    and it updates the open item)."""
    wanted = []
    for r in rows:
        if not _attr(r, "outcome", default=""):
            continue  # not visited yet
        try:
            wanted.append((r, int(_attr(r, "person_id"))))
        except (TypeError, ValueError):
            report.problems.append(RowProblem(sheet, int(_attr(r, "row", default=0) or 0), "person_id",
                                              "人员编号缺失或被修改", "the person id is missing or altered"))
    ids = [pid for _, pid in wanted]
    listed = {lp.person_id: lp for lp in ListedPerson.objects.filter(campaign=campaign, person_id__in=ids)
              .select_related("person")}
    existing = set(FieldOutcome.objects.filter(campaign=campaign, person_id__in=ids)
                   .values_list("person_id", flat=True))
    new: list[tuple[ListedPerson, dict[str, Any]]] = []
    for r, pid in wanted:
        rowno = int(_attr(r, "row", "row_number", default=0) or 0)
        values = {
            "outcome": str(_attr(r, "outcome", default="")),
            "field_name": str(_attr(r, "field_name", "field", default="") or ""),
            "corrected_value": str(_attr(r, "corrected_value", "value", default="") or ""),
            "event_date": _attr(r, "event_date", "date"), "note": str(_attr(r, "note", default="") or ""),
        }
        try:
            lp = listed.get(pid)
            if lp is None or lp.unit_id != village_code:
                raise campaign_error(f"人员 {pid} 不在本村的核对名单上", f"person {pid} is not on this village's list", "person_id")
            if pid in existing:
                with transaction.atomic():
                    _fo, changed = do_record_outcome(actor, campaign, pid, source=Source.WORKBOOK, upload=up,
                                                     **values)
                report.changed += changed
                report.unchanged += not changed
                continue
            new.append((lp, outcome_values(lp.person, **values)))
        except (RegistryError, ValueError, TypeError) as exc:
            zh, en = getattr(exc, "message_zh", str(exc)), getattr(exc, "message_en", str(exc))
            report.problems.append(RowProblem(sheet, rowno, str(getattr(exc, "field", "") or ""), zh, en))
            continue
        report.changed += 1
    if report.problems:
        return
    record_new_outcomes(actor, campaign, village_code, new, source=Source.WORKBOOK, upload=up)
