"""Checking parsed import rows against the registry (:mod:`popreg.registry.importing`,
stage 2): units and jurisdiction, ID numbers and persons already registered, existing
households, and the same file imported before.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from popreg.core import names as names_core
from popreg.registry._import_format import (
    AUDIT_ACTION,
    CHUNK,
    COLUMN_BY_KEY,
    ImportFileError,
    ImportRow,
    RowError,
)
from popreg.registry.access import Actor
from popreg.registry.actions.checks import elsewhere_message, unit_of_level
from popreg.registry.errors import RegistryError
from popreg.registry.id_checks import IdCheckLimitError, audit_bulk_id_check, charge_id_checks
from popreg.registry.models import AdminUnit, AuditRecord, Household, Person, ResidenceType, Status
from popreg.registry.policy import Permission

# --------------------------------------------------------------------------- registry checks


def previous_import(sha256: str) -> AuditRecord | None:
    """The audit record of an earlier import of the same bytes, if any."""
    return (AuditRecord.objects.filter(action=AUDIT_ACTION, detail__file_sha256=sha256)
            .order_by("id").first())


def _chunks(items: Sequence[str], n: int = CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


@dataclass(slots=True)
class RegistryCheck:
    errors: list[RowError]
    units: dict[str, AdminUnit]
    existing_households: dict[str, Household]


def check_against_registry(
    actor: Actor, rows: Iterable[ImportRow], sha256: str, *, labels: dict[str, str] | None = None,
    lock: bool = False,
) -> RegistryCheck:
    """Check rows against the registry as ``actor`` would write them.

    Raises :class:`ImportFileError` for the file as a whole (read-only role, same file
    imported before); returns row errors for the rest.  ``lock`` takes row locks on
    existing households (inside the import transaction).
    """
    actor.require(Permission.IMPORT_PERSONS)
    _refuse_imported_file(sha256)
    rows = list(rows)
    names = labels or {}

    def label(key: str) -> str:
        return names.get(key) or COLUMN_BY_KEY[key].header

    errors, units = _check_units(actor, rows, label)
    errors += _check_id_numbers(actor, rows, label, lock)
    errors += _check_same_person_without_id(actor, rows, label)
    household_errors, existing = _check_households(actor, rows, label, lock)
    errors += household_errors
    errors.sort(key=lambda e: e.row)
    return RegistryCheck(errors=errors, units=units, existing_households=existing)


def _refuse_imported_file(sha256: str) -> None:
    """The same file imported before is refused whole."""
    earlier = previous_import(sha256)
    if earlier is not None:
        at = timezone.localtime(earlier.at)
        raise ImportFileError(
            f"该文件已于 {at:%Y-%m-%d %H:%M} 由 {earlier.actor_name} 导入（审计记录 {earlier.pk}），"
            "不能重复导入",
            f"this file was already imported on {at:%Y-%m-%d %H:%M} by "
            f"{earlier.actor_name} (audit record {earlier.pk}); it cannot be imported twice",
        )


def _check_units(
    actor: Actor, rows: list[ImportRow], label: Callable[[str], str]
) -> tuple[list[RowError], dict[str, AdminUnit]]:
    """Registered and residence units exist, have the right level and (except where a
    person lives outside) lie in the actor's jurisdiction; the units found."""
    errors: list[RowError] = []
    units: dict[str, AdminUnit] = {}
    unit_problem: dict[str, RegistryError] = {}

    def unit(code: str, field: str, zh: str) -> AdminUnit | None:
        if code in units:
            return units[code]
        if code in unit_problem:
            raise unit_problem[code]
        try:
            u = unit_of_level(code, field, zh)
        except RegistryError as exc:
            unit_problem[code] = exc
            raise
        units[code] = u
        return u

    for r in rows:
        for key, code, zh, needs_scope in (
            ("registered_unit", r.registered_unit, "户籍地", True),
            ("residence_unit", r.residence_unit, "居住地", r.residence_type != ResidenceType.FLOATING_OUT),
        ):
            if not code:
                continue
            try:
                u = unit(code, key, zh)
            except RegistryError as exc:
                errors.append(RowError(r.row, label(key), code, exc.message_zh, exc.message_en))
                continue
            if needs_scope and u is not None and not actor.covers(u.code):
                errors.append(RowError(
                    r.row, label(key), code,
                    f"{zh} {u.name}（{code}）不在您的辖区内，不能导入",
                    f"unit {code} ({u.name}) is outside your jurisdiction"))
    return errors, units


def _check_id_numbers(
    actor: Actor, rows: list[ImportRow], label: Callable[[str], str], lock: bool
) -> list[RowError]:
    errors: list[RowError] = []
    # ID numbers already held by an active person.  Within the actor's jurisdiction the
    # message names the record; outside it only "registered elsewhere", audited, and the
    # numbers checked per hour are limited (the validation stage pays; the commit repeats
    # the check of the same rows inside its transaction).
    by_id = {r.id_number: r for r in rows if r.id_number}
    ids = list(by_id)
    if not lock:
        try:
            charge_id_checks(actor, len(ids))
        except IdCheckLimitError as exc:
            raise ImportFileError(exc.message_zh, exc.message_en) from exc
    holders: dict[str, list[tuple[int, str, str | None]]] = {}
    for chunk in _chunks(ids):
        for number, pk, registered, residence in (
                Person.objects.filter(id_number__in=chunk, status=Status.ACTIVE, merged_into__isnull=True)
                .order_by("pk").values_list("id_number", "pk", "registered_unit_id", "residence_unit_id")):
            holders.setdefault(number, []).append((pk, registered, residence))
    elsewhere: list[tuple[str, int, str]] = []
    for number, found in holders.items():
        r = by_id[number]
        visible = [pk for pk, reg, res in found if actor.covers(reg) or actor.covers(res)]
        if visible:
            errors.append(RowError(
                r.row, label("id_number"), number,
                f"公民身份号码 {number} 已登记给在册人员（编号 {visible[0]}），请核实是否重复登记",
                f"ID number {number} already belongs to active person {visible[0]}; check for a duplicate"))
        else:
            elsewhere.append((number, found[0][0], found[0][1]))
            errors.append(RowError(r.row, label("id_number"), number, *elsewhere_message(number)))
    if not lock:
        audit_bulk_id_check(actor, len(ids), elsewhere)
    return errors


def _check_same_person_without_id(
    actor: Actor, rows: list[ImportRow], label: Callable[[str], str]
) -> list[RowError]:
    errors: list[RowError] = []
    # Persons without an ID number: an active person of the same village with the same
    # name, sex and birth date is most likely the same person, already registered (e.g. a
    # file edited and uploaded again).
    # Only within the jurisdiction: a row naming a unit elsewhere is refused above and must
    # not learn who is registered there.
    no_id = [r for r in rows if not r.id_number and r.registered_unit and actor.covers(r.registered_unit)]
    wanted: dict[tuple[str, str, str, date], ImportRow] = {}
    for r in no_id:
        wanted.setdefault((r.registered_unit, names_core.normalize_name(r.name), r.sex, r.birth_date), r)
    for chunk in _chunks(sorted({r.registered_unit for r in no_id})):
        found = (Person.objects.filter(registered_unit_id__in=chunk, status=Status.ACTIVE)
                 .values_list("registered_unit_id", "name_key", "sex", "birth_date", "pk")
                 .iterator(chunk_size=5000))
        for unit_code, key, sex, born, pk in found:
            r = wanted.get((unit_code, key, sex, born))
            if r is not None:
                errors.append(RowError(
                    r.row, label("name"), r.name,
                    f"{unit_code} 已有同名、同性别、同出生日期的在册人员（编号 {pk}），"
                    "请核实是否重复登记；确为另一人时请填写公民身份号码",
                    f"active person {pk} in {unit_code} has the same name, sex and birth date; "
                    "check for a duplicate, or give the ID number if this is another person"))
    return errors


def _check_households(
    actor: Actor, rows: list[ImportRow], label: Callable[[str], str], lock: bool
) -> tuple[list[RowError], dict[str, Household]]:
    """Rows joining an existing household: allowed within one's jurisdiction, in the
    household's unit, without a second head or another address; the households found."""
    errors: list[RowError] = []
    # Household numbers that already exist: joining them is allowed within one's unit.
    first_of: dict[str, ImportRow] = {}
    for r in rows:
        if r.household_no:
            first_of.setdefault(r.household_no, r)
    existing: dict[str, Household] = {}
    numbers = list(first_of)
    for chunk in _chunks(numbers):
        qs = Household.objects.filter(household_no__in=chunk)
        if lock:
            qs = qs.select_for_update()
        for hh in qs:
            existing[hh.household_no] = hh
    for r in rows:
        hh = existing.get(r.household_no) if r.household_no else None
        if hh is None:
            continue
        if not actor.covers(hh.unit_id):
            errors.append(RowError(
                r.row, label("household_no"), r.household_no,
                f"户号 {r.household_no} 已被辖区外的户使用；请更换户号",
                f"household number {r.household_no} is used by a household outside your "
                "jurisdiction; choose another number"))
        elif hh.unit_id != r.registered_unit:
            errors.append(RowError(
                r.row, label("registered_unit"), r.registered_unit,
                f"户号 {r.household_no} 是已有的户，户籍地为 {hh.unit_id}，与本行不一致",
                f"household {r.household_no} already exists in unit {hh.unit_id}, not "
                f"{r.registered_unit}"))
        elif r.is_head and hh.head_id is not None:
            errors.append(RowError(
                r.row, label("relation"), r.relation,
                f"户号 {r.household_no} 已有户主（编号 {hh.head_id}），不能再导入户主；变更户主请另行办理",
                f"household {r.household_no} already has a head (person {hh.head_id})"))
        if (r.address and hh.address and actor.covers(hh.unit_id)
                and hh.unit_id == r.registered_unit and _norm_address(r.address) != _norm_address(hh.address)):
            errors.append(RowError(
                r.row, label("address"), r.address,
                f"户号 {r.household_no} 是已有的户，住址为“{hh.address}”，与本行不一致；"
                "变更住址请另行办理",
                f"household {r.household_no} already exists with address {hh.address!r}; "
                "change an address through its own form"))
    return errors, existing


def _norm_address(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
