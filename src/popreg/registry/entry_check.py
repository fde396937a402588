"""The duplicate check at data entry: the registry's side.

A form that creates a person (birth, move-in, in-migrant, found person) or a file import
asks, before saving, which registry records the new record most likely duplicates.  The
scoring belongs to the linkage app, which sits above the registry (the registry imports
no app): it registers a *finder* here in its ``AppConfig.ready``
(``popreg.linkage.index``).  Without a finder (an installation without linkage) the check
finds nothing and the forms save as before.

What the clerk may see is limited to their jurisdiction: a likely record outside it is
only counted ("registered elsewhere"), never shown, as the ID-number check does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from popreg.core import idnumber
from popreg.core.entry_record import EntryRecord
from popreg.core.privacy import mask_id
from popreg.registry.access import Actor, scope_persons
from popreg.registry.audit import AuditAction, audit
from popreg.registry.models import Person, Status

#: The submit button of "this is a new person" (name and value).
DECISION_FIELD = "entry_decision"
NEW_PERSON = "new"


#: A record as the clerk typed it (or as a file row reads), not saved yet.
NewRecord = EntryRecord


@dataclass(frozen=True)
class LikelyDuplicate:
    """An existing person scored against a new record by the linkage model."""

    person_id: int
    match_probability: float
    match_weight: float
    #: (comparison, level reached, weight) per comparison of the model
    evidence: tuple[tuple[str, str, float], ...] = ()


Finder = Callable[[Sequence[NewRecord]], list[list[LikelyDuplicate]]]
FINDERS: list[Finder] = []


def register_duplicate_finder(finder: Finder) -> Finder:
    """Called by the app that scores records (linkage) when it starts."""
    if finder not in FINDERS:
        FINDERS.append(finder)
    return finder


#: Called with the ids of persons written in bulk (a person import), inside its transaction,
#: so that the finder's index takes them at once (saves through the actions are seen by the
#: app's own ``post_save`` receiver).
WrittenHook = Callable[[Sequence[int]], object]
WRITTEN_HOOKS: list[WrittenHook] = []


def register_persons_written(hook: WrittenHook) -> WrittenHook:
    if hook not in WRITTEN_HOOKS:
        WRITTEN_HOOKS.append(hook)
    return hook


def persons_written(person_ids: Sequence[int]) -> None:
    for hook in WRITTEN_HOOKS:
        hook(person_ids)


def find_duplicates(records: Sequence[NewRecord]) -> list[list[LikelyDuplicate]]:
    """For each record, the likely existing persons (all jurisdictions), most likely first."""
    out: list[list[LikelyDuplicate]] = [[] for _ in records]
    for finder in FINDERS:
        for i, found in enumerate(finder(records)):
            out[i].extend(found)
    for found in out:
        found.sort(key=lambda d: (-d.match_weight, d.person_id))
    return out


@dataclass
class EntryCheck:
    """The result shown on a form: persons in reach with their scores; others counted."""

    shown: list[tuple[Person, LikelyDuplicate]] = field(default_factory=list)
    elsewhere: int = 0

    @property
    def found(self) -> bool:
        return bool(self.shown) or self.elsewhere > 0

    def rows(self) -> list[dict[str, Any]]:
        """What the form shows of each likely record (the ID number masked)."""
        return [{"person": p, "masked_id": mask_id(p.id_number), "percent": f"{100 * d.match_probability:.1f}%",
                 "probability": d.match_probability} for p, d in self.shown]

    def audit_detail(self) -> dict[str, Any]:
        return {
            "candidates": [
                {"person_id": p.pk, "match_probability": round(d.match_probability, 4)} for p, d in self.shown
            ],
            "elsewhere": self.elsewhere,
        }


def id_number_held(number: str) -> bool:
    """An active, unmerged record holds this ID number: the registration's own ID check
    answers (it names the record in reach, or says "registered elsewhere", audited)."""
    norm = idnumber.normalize(number or "")
    if not norm:
        return False
    return Person.objects.filter(id_number__in={norm, (number or "").strip()}, status=Status.ACTIVE,
                                 merged_into__isnull=True).exists()


def check_entry(actor: Actor, record: NewRecord) -> EntryCheck:
    """The likely duplicates of ``record`` as the actor may see them.

    Nothing when the record's ID number is already held by an active record: the action's
    uniqueness check refuses it with its own, more precise answer."""
    if id_number_held(record.id_number):
        return EntryCheck()
    found = find_duplicates([record])[0]
    if not found:
        return EntryCheck()
    ids = [d.person_id for d in found]
    qs = scope_persons(Person.objects.select_related("registered_unit", "household"), actor)
    persons = {p.pk: p for p in qs.filter(pk__in=ids)}
    check = EntryCheck()
    outside: list[int] = []
    for d in found:
        person = persons.get(d.person_id)
        if person is None:
            outside.append(d.person_id)
        else:
            check.shown.append((person, d))
    check.elsewhere = len(outside)
    if outside:
        # The clerk learns that such a record exists elsewhere (not which): audited, as the
        # ID-number check's "registered elsewhere" is (decision 0003).
        audit(actor, AuditAction.ENTRY_CHECK_ELSEWHERE, None, unit_code=actor.unit_code or "",
              detail={"persons": outside, "name": record.name,
                      "birth_date": record.birth_date.isoformat() if record.birth_date else ""})
    return check


def must_show(request: HttpRequest, check: EntryCheck) -> bool:
    """True when the form is to be shown again with the likely records: some were found
    and the clerk has not yet pressed "this is a new person"."""
    return check.found and request.POST.get(DECISION_FIELD) != NEW_PERSON


def record_from_form(d: dict[str, Any], unit_field: str = "registered_unit") -> NewRecord:
    """The new record of a registration form's cleaned data (birth, move-in, in-migrant)."""
    return NewRecord(
        name=str(d.get("name") or ""), sex=str(d.get("sex") or ""), birth_date=d.get("birth_date"),
        id_number=str(d.get("id_number") or "").strip(), village_code=str(d.get(unit_field) or ""),
        household_no=str(d.get("household_no") or "").strip(),
    )


#: Rows with likely existing records listed in an import preview at most (all are counted).
FILE_PREVIEW_ROWS = 200


def file_preview(actor: Actor, rows: Sequence[tuple[int, NewRecord]], limit: int = FILE_PREVIEW_ROWS) -> dict[str, Any]:
    """The rows of an uploaded file that look like existing persons, for its preview.

    JSON-ready (a job's result): per flagged row its number, name and birth date and the
    likely persons in the actor's jurisdiction (record number, name, birth date, unit, match
    probability).  Likely persons outside the jurisdiction are left out: a file of guessed
    names and birth dates must not tell which exist elsewhere (the ID numbers of a file are
    checked by the import itself, rate-limited and audited)."""
    found = find_duplicates([r for _row, r in rows]) if rows else []
    wanted = sorted({d.person_id for f in found for d in f})
    persons: dict[int, Person] = {}
    qs = scope_persons(Person.objects.select_related("registered_unit"), actor)
    for i in range(0, len(wanted), 500):
        persons.update({p.pk: p for p in qs.filter(pk__in=wanted[i : i + 500])})
    flagged: list[dict[str, Any]] = []
    for (row, rec), likely in zip(rows, found, strict=True):
        if not likely:
            continue
        shown = [(persons[d.person_id], d) for d in likely if d.person_id in persons]
        if not shown:
            continue
        flagged.append({
            "row": row, "name": rec.name, "birth_date": rec.birth_date.isoformat() if rec.birth_date else "",
            "matches": [{"person_id": p.pk, "name": p.name, "birth_date": p.birth_date.isoformat() if p.birth_date else "",
                         "unit": p.registered_unit.name, "percent": f"{100 * d.match_probability:.1f}%"}
                        for p, d in shown],
        })  # fmt: skip
    return {"count": len(flagged), "rows": flagged[:limit]}
