"""Households (户): creating one, and their upkeep: a new head (户主变更), splitting off some
members into a new household (分户), merging two households of one unit (合户), a new
address, and dissolving a household nobody belongs to any more (销户).

Each action is atomic, checks the actor's permission over the household's unit, refuses an
edit made on an older ``version`` of the household (and of each member it moves), and
writes audit records whose target is the household: they are the household's history on
its page (who, when, what).  A member who changes household gets a correction event in
their own history, with the household action and both household numbers.

Every check of a form's fields runs before anything is refused, so one submission shows
every error at once (:class:`HouseholdErrors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Max

from popreg.registry.access import Actor
from popreg.registry.actions.checks import check_date, today, unit_of_level
from popreg.registry.actions.events import (
    StaleVersionError,
    lock_person,
    record_event,
    require_version,
)
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import JurisdictionError, RegistryError
from popreg.registry.models import (
    EventType,
    Household,
    Person,
    Status,
)
from popreg.registry.policy import Permission

#: The statuses of a member who lives in the household now (a head must be one of them).
PRESENT = (Status.ACTIVE,)


class HouseholdErrors(RegistryError):
    """Several field errors of one submission; ``errors`` lists each (field named)."""

    def __init__(self, errors: Sequence[RegistryError]) -> None:
        first = errors[0]
        super().__init__("；".join(e.message_zh for e in errors), "; ".join(e.message_en for e in errors),
                         first.field)
        self.errors = list(errors)


class _Collect:
    """Collects field errors; :meth:`raise_any` refuses with all of them at once."""

    def __init__(self) -> None:
        self.errors: list[RegistryError] = []

    def add(self, zh: str, en: str, field: str) -> None:
        self.errors.append(RegistryError(zh, en, field))

    def check(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RegistryError as err:
            self.errors.append(err)
            return None

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise HouseholdErrors(self.errors)


def next_household_no() -> str:
    """The next free household number (dissolved households keep theirs: never reused)."""
    last = Household.objects.aggregate(m=Max("household_no"))["m"]
    n = int(last) + 1 if last and last.isdigit() else 1
    return f"{n:09d}"


def household_state(hh: Household) -> dict[str, Any]:
    """What the history shows of a household: number, unit, kind, address, head, members."""
    members = list(Person.objects.filter(household=hh).order_by("id").values_list("id", flat=True))
    return {
        "household_no": hh.household_no, "unit": hh.unit_id, "kind": hh.kind, "address": hh.address,
        "head_id": hh.head_id, "members": members,
        "dissolved_on": hh.dissolved_on.isoformat() if hh.dissolved_on else None,
    }


@transaction.atomic
def do_create_household(
    actor: Actor, *, unit_code: str, kind: str = Household.Kind.FAMILY, address: str = "",
    household_no: str | None = None,
) -> Household:
    actor.require(Permission.EDIT_REGISTRY)
    unit = unit_of_level(unit_code, "unit_code", "户籍地")
    actor.require(Permission.EDIT_REGISTRY, unit.code)
    if kind not in Household.Kind.values:
        raise RegistryError("户别应为 家庭户 或 集体户", "kind must be family or collective", "kind")
    no = (household_no or "").strip() or next_household_no()
    if Household.objects.filter(household_no=no).exists():
        raise RegistryError(f"户号 {no} 已存在", f"household number {no} already exists", "household_no")
    hh = Household.objects.create(household_no=no, unit=unit, kind=kind, address=address.strip())
    audit(actor, AuditAction.CREATE_HOUSEHOLD, hh, unit_code=unit.code, after={"household_no": no, "unit": unit.code, "kind": kind, "address": hh.address})
    return hh


# --------------------------------------------------------------------------- helpers


def lock_household(actor: Actor, household: Household | int, *, field: str = "household") -> Household:
    """Re-read the household under a row lock; the actor must be allowed to change its unit."""
    actor.require(Permission.EDIT_REGISTRY)
    pk = household if isinstance(household, int) else household.pk
    try:
        hh = Household.objects.select_for_update(of=("self",)).select_related("unit", "head").get(pk=pk)
    except Household.DoesNotExist:
        raise RegistryError(f"户 {pk} 不存在", f"household {pk} does not exist", field) from None
    if not actor.covers(hh.unit_id):
        raise JurisdictionError(f"户 {hh.household_no} 不在您的辖区内", f"household {hh.household_no} is outside your jurisdiction", field)
    actor.require(Permission.EDIT_REGISTRY, hh.unit_id)
    if hh.dissolved_on is not None:
        raise RegistryError(
            f"户 {hh.household_no} 已于 {hh.dissolved_on:%Y-%m-%d} 销户，不能再办理",
            f"household {hh.household_no} was dissolved on {hh.dissolved_on:%Y-%m-%d}; nothing more can be done to it",
            field,
        )
    return hh


def require_household_version(hh: Household, expected: int | str | None) -> None:
    """Refuse an edit made on an older version of the household (no lost update)."""
    if expected in (None, ""):
        return
    try:
        seen = int(expected)
    except (TypeError, ValueError):
        raise RegistryError("表单版本号无效，请刷新页面后重新填写",
                            "the form's version is invalid; reload the page", "version") from None
    if seen != hh.version:
        raise StaleVersionError(
            f"户 {hh.household_no} 在您打开表单后已被他人修改（第 {seen} 版，现为第 {hh.version} 版），"
            "本次未保存。请核对该户现在的登记后重新提交",
            f"household {hh.household_no} was changed by someone else after you opened the form "
            f"(version {seen}, now {hh.version}); nothing was saved. Check the household as it is now "
            "and submit again",
            "version",
            current=hh.version,
        )


def head_problem(hh: Household) -> str:
    """Why the household's head needs changing: ``no_head``, ``died``, ``left`` (moved out of
    the county, deregistered, merged into another record), ``elsewhere`` (now a member of
    another household); "" when the head lives here or the household is dissolved."""
    if hh.dissolved_on is not None:
        return ""
    head = hh.head
    if head is None:
        return "no_head"
    if head.status == Status.DECEASED:
        return "died"
    if head.status in (Status.EMIGRATED, Status.DEREGISTERED) or head.merged_into_id is not None:
        return "left"
    if head.household_id != hh.pk:
        return "elsewhere"
    return ""


def _bump(hh: Household, fields: Iterable[str]) -> None:
    hh.version += 1
    hh.save(update_fields=[*fields, "version"])


def _present(p: Person) -> bool:
    return p.status in PRESENT and p.merged_into_id is None


def _move_members(
    actor: Actor, members: Iterable[Person], target: Household, when: date, *, what: str,
    source: Household, reason: str, versions: Mapping[int, int] | None, action: AuditAction,
) -> list[int]:
    moved = []
    for m in members:
        p = lock_person(actor, m.pk, allow_merged=True)
        if versions is not None and p.pk in versions:
            require_version(p, versions[p.pk])
        record_event(
            actor, p, EventType.CORRECTION, when, {"household_id": target.pk},
            detail={"reason": reason or what, "household_action": what,
                    "from_household": source.household_no, "to_household": target.household_no},
            action=action,
        )
        moved.append(p.pk)
    return moved


def _date(value: Any, field: str, label_zh: str, label_en: str) -> date:
    """The date of a household action (today when not given), checked like every event
    date; the English message names the date in words, not the field."""
    try:
        return check_date(value or today(), field, label_zh)
    except RegistryError as err:
        en = err.message_en.replace(field, label_en, 1)
        raise RegistryError(err.message_zh, en[:1].upper() + en[1:], field) from None


def _reason(raw: str) -> str:
    return (raw or "").strip()[:200]


# --------------------------------------------------------------------------- head


@transaction.atomic
def do_change_household_head(
    actor: Actor, household: Household | int, *, head: Person | int | None, reason: str = "",
    expected_version: int | str | None = None,
) -> Household:
    """户主变更: another member who lives in the household becomes its head."""
    hh = lock_household(actor, household)
    require_household_version(hh, expected_version)
    errors = _Collect()
    new = None
    if head is None:
        errors.add("请选择新户主", "choose the new head of the household", "head")
    else:
        pk = head if isinstance(head, int) else head.pk
        new = Person.objects.filter(pk=pk, household=hh).first()
        if new is None:
            errors.add("新户主必须是本户成员", "the new head must be a member of this household", "head")
        elif not _present(new):
            errors.add(f"{new.name} 的状态为“{new.get_status_display()}”，不能担任户主，请选择在户的成员",
                       f"{new.name} is recorded as {new.status} and cannot be head; choose a member who lives here",
                       "head")
        elif new.pk == hh.head_id:
            errors.add(f"{new.name} 已是户主", f"{new.name} is already the head", "head")
    if not _reason(reason):
        errors.add("请填写变更原因（如原户主死亡、迁出）", "give the reason (the former head died, moved out...)", "reason")
    errors.raise_any()
    assert new is not None
    before = {"head_id": hh.head_id, "head_name": hh.head.name if hh.head else None}
    hh.head = new
    _bump(hh, ["head"])
    audit(actor, AuditAction.SET_HOUSEHOLD_HEAD, hh, unit_code=hh.unit_id, before=before,
          after={"head_id": new.pk, "head_name": new.name}, detail={"reason": _reason(reason)})
    return hh


# --------------------------------------------------------------------------- split


@transaction.atomic
def do_split_household(
    actor: Actor, household: Household | int, *, members: Sequence[Person | int], head: Person | int | None,
    split_date: date | None = None, address: str = "", remaining_head: Person | int | None = None,
    reason: str = "", expected_version: int | str | None = None,
    member_versions: Mapping[int, int] | None = None,
) -> Household:
    """分户: the chosen members form a new household (a new number, in the same unit) with
    ``head`` as its head.  When the old head leaves, ``remaining_head`` (a member who stays)
    becomes the old household's head.  Returns the new household."""
    hh = lock_household(actor, household)
    require_household_version(hh, expected_version)
    errors = _Collect()
    current = {p.pk: p for p in Person.objects.filter(household=hh)}
    chosen_pks = [m if isinstance(m, int) else m.pk for m in members]
    chosen = [current[pk] for pk in chosen_pks if pk in current]
    strangers = [pk for pk in chosen_pks if pk not in current]
    if not chosen_pks:
        errors.add("请选择分出的成员", "choose the members who form the new household", "members")
    if strangers:
        errors.add(f"编号 {', '.join(map(str, strangers))} 不是本户成员",
                   f"records {', '.join(map(str, strangers))} are not members of this household", "members")
    absent = [p.name for p in chosen if not _present(p)]
    if absent:
        errors.add(f"{'、'.join(absent)} 不在户（已死亡、迁出或注销），不能分户",
                   f"{', '.join(absent)} no longer live here (died, moved out, deregistered) and cannot be split off",
                   "members")
    staying = [p for pk, p in current.items() if pk not in chosen_pks and _present(p)]
    if chosen and not staying:
        errors.add("分户后原户须至少留一名在户成员；整户迁移请办理迁移",
                   "at least one member must stay in the household; move the whole household instead", "members")
    head_pk = head if isinstance(head, int) or head is None else head.pk
    if head_pk is None:
        errors.add("请选择新户的户主", "choose the head of the new household", "head")
    elif head_pk not in chosen_pks:
        errors.add("新户的户主必须是分出的成员之一", "the new head must be one of the members split off", "head")
    rest_pk = remaining_head if isinstance(remaining_head, int) or remaining_head is None else remaining_head.pk
    head_leaves = hh.head_id is None or hh.head_id not in {p.pk for p in staying}
    if head_leaves and rest_pk is None and staying:
        errors.add("原户主随分户离开（或原户无在户户主），请选择原户的新户主",
                   "the head leaves with the new household (or has none who lives here): choose the old household's new head",
                   "remaining_head")
    if rest_pk is not None and rest_pk not in {p.pk for p in staying}:
        errors.add("原户的新户主必须是留在原户的在户成员", "the old household's new head must be a member who stays",
                   "remaining_head")
    when = errors.check(_date, split_date, "split_date", "分户日期", "the date of the split")
    errors.raise_any()
    reason = _reason(reason) or "分户"
    new = Household.objects.create(household_no=next_household_no(), unit=hh.unit, kind=Household.Kind.FAMILY,
                                   address=(address or "").strip() or hh.address)
    before_old = household_state(hh)
    moved = _move_members(actor, chosen, new, when, what="split", source=hh, reason=reason,
                          versions=member_versions, action=AuditAction.SPLIT_HOUSEHOLD)
    new.head_id = head_pk
    new.save(update_fields=["head"])
    fields = []
    if rest_pk is not None and rest_pk != hh.head_id:
        hh.head_id = rest_pk
        fields.append("head")
    _bump(hh, fields)
    audit(actor, AuditAction.SPLIT_HOUSEHOLD, hh, unit_code=hh.unit_id, before=before_old,
          after=household_state(hh), detail={"reason": reason, "new_household": new.household_no,
                                             "moved": moved, "date": when.isoformat()})
    audit(actor, AuditAction.SPLIT_HOUSEHOLD, new, unit_code=new.unit_id, before=None,
          after=household_state(new), detail={"reason": reason, "from_household": hh.household_no,
                                              "moved": moved, "date": when.isoformat()})
    return new


# --------------------------------------------------------------------------- merge


@transaction.atomic
def do_merge_households(
    actor: Actor, household: Household | int, *, other: Household | int | str | None, merge_date: date | None = None,
    reason: str = "", expected_version: int | str | None = None,
    other_version: int | str | None = None,
) -> Household:
    """合户: every member of ``other`` (a household of the same unit) joins ``household``,
    whose head stays head; ``other`` is dissolved.  ``other`` may be given by its number
    (looked up within the actor's jurisdiction).  Returns ``household``."""
    hh = lock_household(actor, household)
    require_household_version(hh, expected_version)
    errors = _Collect()
    src = None
    if isinstance(other, str):
        number = other.strip()
        found = Household.objects.filter(household_no=number).first() if number else None
        if number and (found is None or not actor.covers(found.unit_id)):
            errors.add(f"户号 {number} 不存在或不在您的辖区内，请核对户号",
                       f"household {number} does not exist or is outside your jurisdiction; check the number",
                       "other_household")
            number = ""
        elif not number:
            errors.add("请填写要并入的户号", "give the number of the household to merge in", "other_household")
        other = found if number else None
    elif other is None:
        errors.add("请填写要并入的户号", "give the number of the household to merge in", "other_household")
    if other is not None:
        src = errors.check(lock_household, actor, other, field="other_household")
        if src is not None:
            if src.pk == hh.pk:
                errors.add("不能与本户合并", "a household cannot be merged with itself", "other_household")
                src = None
            elif src.unit_id != hh.unit_id:
                errors.add(f"户 {src.household_no} 属于 {src.unit.name}，只能合并同一村(居)的两户",
                           f"household {src.household_no} belongs to {src.unit_id}: only households of one unit merge",
                           "other_household")
                src = None
            else:
                try:
                    require_household_version(src, other_version)
                except RegistryError as err:
                    err.field = "other_household"
                    errors.errors.append(err)
    when = errors.check(_date, merge_date, "merge_date", "合户日期", "the date of the merge")
    if hh.head_id is None or not Person.objects.filter(pk=hh.head_id, household=hh, status__in=PRESENT).exists():
        errors.add("本户没有在户的户主，请先变更户主再合户",
                   "this household has no head who lives here: change the head before merging", "household")
    errors.raise_any()
    assert src is not None
    reason = _reason(reason) or "合户"
    before_hh, before_src = household_state(hh), household_state(src)
    moved = _move_members(actor, Person.objects.filter(household=src).order_by("id"), hh, when, what="merge",
                          source=src, reason=reason, versions=None, action=AuditAction.MERGE_HOUSEHOLDS)
    _bump(hh, [])
    src.head = None
    src.dissolved_on = when
    _bump(src, ["head", "dissolved_on"])
    audit(actor, AuditAction.MERGE_HOUSEHOLDS, hh, unit_code=hh.unit_id, before=before_hh,
          after=household_state(hh), detail={"reason": reason, "merged": src.household_no, "moved": moved,
                                             "date": when.isoformat()})
    audit(actor, AuditAction.MERGE_HOUSEHOLDS, src, unit_code=src.unit_id, before=before_src,
          after=household_state(src), detail={"reason": reason, "into": hh.household_no, "moved": moved,
                                              "date": when.isoformat()})
    return hh


# --------------------------------------------------------------------------- address


@transaction.atomic
def do_change_household_address(
    actor: Actor, household: Household | int, *, address: str, reason: str = "",
    expected_version: int | str | None = None,
) -> Household:
    """住址变更 within the household's unit (a move to another unit is a transfer)."""
    hh = lock_household(actor, household)
    require_household_version(hh, expected_version)
    errors = _Collect()
    new = " ".join((address or "").split())
    if not new:
        errors.add("请填写新住址", "give the new address", "address")
    elif len(new) > 200:
        errors.add("住址不能超过200个字", "the address may have at most 200 characters", "address")
    elif new == hh.address:
        errors.add("新住址与现住址相同", "the new address is the same as the current one", "address")
    if not _reason(reason):
        errors.add("请填写变更原因", "give the reason for the change", "reason")
    errors.raise_any()
    before = {"address": hh.address}
    hh.address = new
    _bump(hh, ["address"])
    audit(actor, AuditAction.CHANGE_HOUSEHOLD_ADDRESS, hh, unit_code=hh.unit_id, before=before,
          after={"address": new}, detail={"reason": _reason(reason)})
    return hh


# --------------------------------------------------------------------------- dissolve


@transaction.atomic
def do_dissolve_household(
    actor: Actor, household: Household | int, *, dissolve_date: date | None = None, reason: str = "",
    expected_version: int | str | None = None,
) -> Household:
    """销户 of a household nobody lives in any more (members who died or moved out keep it in
    their history).  The row stays, marked dissolved."""
    hh = lock_household(actor, household)
    require_household_version(hh, expected_version)
    errors = _Collect()
    members = list(Person.objects.filter(household=hh, status__in=PRESENT, merged_into__isnull=True)
                   .values_list("name", flat=True)[:6])
    if members:
        errors.add(f"该户仍有在户成员（{'、'.join(members[:5])}{'等' if len(members) > 5 else ''}），"
                   "只能注销没有在户成员的户；请先将成员迁出、分户或合户",
                   "the household still has members who live here; only a household without them can be "
                   "dissolved (move them out, split or merge first)", "household")
    when = errors.check(_date, dissolve_date, "dissolve_date", "销户日期", "the date of dissolution")
    errors.raise_any()
    before = household_state(hh)
    hh.dissolved_on = when
    hh.head = None
    _bump(hh, ["dissolved_on", "head"])
    audit(actor, AuditAction.DISSOLVE_HOUSEHOLD, hh, unit_code=hh.unit_id, before=before,
          after=household_state(hh), detail={"reason": _reason(reason) or "空户销户"})
    return hh
