"""Household pages: the household with its members, flags and history, and the forms of
its upkeep (head, split, merge, address, dissolve).  Thin: each form calls one action of
:mod:`popreg.registry.actions.households`, shows every error it reports at once, and on
success lands on the household page with a message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from popreg.core.privacy import mask_id
from popreg.registry.access import Actor, scope_households, scope_persons
from popreg.registry.actions import households as hh_actions
from popreg.registry.actions.events import StaleVersionError
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.forms import add_registry_error
from popreg.registry.models import AdminUnit, AuditRecord, Household, Person, Status
from popreg.registry.views import base_context, with_actor, writer
from popreg.registry.widgets import DateWidget

#: The household actions whose records make up a household's history.
HISTORY_ACTIONS = (
    AuditAction.CREATE_HOUSEHOLD, AuditAction.SET_HOUSEHOLD_HEAD, AuditAction.SPLIT_HOUSEHOLD,
    AuditAction.MERGE_HOUSEHOLDS, AuditAction.CHANGE_HOUSEHOLD_ADDRESS, AuditAction.DISSOLVE_HOUSEHOLD,
)


def _crumbs(actor: Actor, unit: AdminUnit) -> list[AdminUnit]:
    """The unit's ancestors the user may open, from the county down, then the unit."""
    chain: list[AdminUnit] = []
    u = unit.parent
    while u is not None:
        chain.append(u)
        u = u.parent
    return [a for a in reversed(chain) if actor.covers(a.code)] + [unit]


def _household(actor: Actor, number: str) -> Household:
    return get_object_or_404(
        scope_households(Household.objects.select_related("unit", "head"), actor), household_no=number
    )


#: The text of each reason a head needs changing (actions.households.head_problem).
HEAD_FLAGS = {
    "no_head": _l("No head recorded: choose one"),
    "died": _l("The head has died: change the head"),
    "left": _l("The head no longer lives here: change the head"),
    "elsewhere": _l("The head belongs to another household: change the head"),
}


def head_flag(hh: Household) -> str:
    """Why the household's head needs changing, or "" (the head lives here)."""
    code = hh_actions.head_problem(hh)
    return str(HEAD_FLAGS[code]) if code else ""


def _describe(rec: AuditRecord, numbers: dict[int, str]) -> str:
    """One line of history: what changed, in the reader's language."""
    before, after, detail = rec.before or {}, rec.after or {}, rec.detail or {}
    reason = detail.get("reason") or ""
    action = rec.action
    if action == AuditAction.SET_HOUSEHOLD_HEAD:
        text = _("Head: %(before)s → %(after)s") % {
            "before": before.get("head_name") or numbers.get(before.get("head_id") or 0, "—"),
            "after": after.get("head_name") or numbers.get(after.get("head_id") or 0, "—")}
    elif action == AuditAction.SPLIT_HOUSEHOLD:
        names = "、".join(numbers.get(pk, str(pk)) for pk in detail.get("moved", []))
        if detail.get("new_household"):
            text = _("Split off: %(names)s formed household %(number)s") % {
                "names": names, "number": detail["new_household"]}
        else:
            text = _("Formed by a split from household %(number)s: %(names)s") % {
                "number": detail.get("from_household", ""), "names": names}
    elif action == AuditAction.MERGE_HOUSEHOLDS:
        names = "、".join(numbers.get(pk, str(pk)) for pk in detail.get("moved", []))
        if detail.get("merged"):
            text = _("Household %(number)s merged in: %(names)s") % {"number": detail["merged"], "names": names}
        else:
            text = _("Merged into household %(number)s") % {"number": detail.get("into", "")}
    elif action == AuditAction.CHANGE_HOUSEHOLD_ADDRESS:
        text = _("Address: %(before)s → %(after)s") % {"before": before.get("address") or "—",
                                                       "after": after.get("address") or "—"}
    elif action == AuditAction.DISSOLVE_HOUSEHOLD:
        text = _("Dissolved")
    elif action == AuditAction.CREATE_HOUSEHOLD:
        text = _("Household created")
    else:
        text = str(AuditAction(action).label)
    return f"{text}（{reason}）" if reason else str(text)


def household_history(hh: Household) -> list[dict[str, Any]]:
    records = list(AuditRecord.objects.filter(
        target_type="Household", target_id=str(hh.pk), action__in=[a.value for a in HISTORY_ACTIONS],
    ).order_by("at", "id"))
    pks: set[int] = set()
    for r in records:
        pks.update(int(x) for x in (r.detail or {}).get("moved", []))
        for side in (r.before or {}, r.after or {}):
            if side.get("head_id"):
                pks.add(int(side["head_id"]))
    numbers = dict(Person.objects.filter(pk__in=pks).values_list("pk", "name"))
    return [{"at": timezone.localtime(r.at), "who": r.actor_name, "what": AuditAction(r.action).label,
             "text": _describe(r, numbers)} for r in records]


@with_actor
def household_detail(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    hh = _household(actor, number)
    members = list(scope_persons(hh.members.select_related("registered_unit", "household"), actor)
                   .order_by("birth_date", "id"))
    for p in members:
        p.masked_id = mask_id(p.id_number)  # type: ignore[attr-defined]
    present = [p for p in members if p.status == Status.ACTIVE and p.merged_into_id is None]
    return render(request, "registry/household_detail.html", base_context(
        actor, household=hh, members=members, crumbs=_crumbs(actor, hh.unit),
        head_flag=head_flag(hh), history=household_history(hh), present_count=len(present),
        can_split=len(present) >= 2, can_dissolve=not present and hh.dissolved_on is None,
    ))


# --------------------------------------------------------------------------- forms


class _Form(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


def _date_input(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=20, help_text=_l("YYYY-MM-DD; empty: today."),
        widget=DateWidget())


def _reason_input(required: bool = True) -> forms.CharField:
    return forms.CharField(label=_l("Reason"), required=False, max_length=200,
                           help_text=None if required else _l("Optional."))


def _member_choices(members: list[Person]) -> list[tuple[str, str]]:
    return [(str(p.pk), f"{p.name}（{p.birth_date:%Y-%m-%d}）" if p.birth_date else p.name) for p in members]


class HeadForm(_Form):
    head = forms.ChoiceField(label=_l("New head"), required=False)
    reason = _reason_input()

    def __init__(self, *args: Any, members: list[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["head"].choices = [("", "—"), *_member_choices(members)]


class SplitForm(_Form):
    members = forms.MultipleChoiceField(label=_l("Members who form the new household"), required=False,
                                        widget=forms.CheckboxSelectMultiple)
    head = forms.ChoiceField(label=_l("Head of the new household"), required=False)
    remaining_head = forms.ChoiceField(
        label=_l("New head of this household"), required=False,
        help_text=_l("Only when the present head leaves with the new household."))
    address = forms.CharField(label=_l("Address of the new household"), required=False, max_length=200,
                              help_text=_l("Empty: the same address."))
    split_date = _date_input(_l("Date of the split"))
    reason = _reason_input(required=False)

    def __init__(self, *args: Any, members: list[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _member_choices(members)
        self.fields["members"].choices = choices
        self.fields["head"].choices = [("", "—"), *choices]
        self.fields["remaining_head"].choices = [("", "—"), *choices]


class MergeForm(_Form):
    other_household = forms.CharField(label=_l("Number of the household that joins this one"),
                                      required=False, max_length=20)
    merge_date = _date_input(_l("Date of the merge"))
    reason = _reason_input(required=False)


class AddressForm(_Form):
    address = forms.CharField(label=_l("New address"), required=False, max_length=250)
    reason = _reason_input()


class DissolveForm(_Form):
    dissolve_date = _date_input(_l("Date of dissolution"))
    reason = _reason_input(required=False)


def _date(raw: str) -> Any:
    """A typed date, today for an empty box, or the text itself (the action names the error)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return parse_date(raw.replace("/", "-").replace(".", "-")) or raw
    except ValueError:
        return raw


def _pk(raw: str | None) -> int | None:
    return int(raw) if raw and str(raw).isdigit() else None


def _add_errors(form: forms.Form, err: RegistryError) -> None:
    for e in getattr(err, "errors", [err]):
        add_registry_error(form, e)


def _household_form(
    request: HttpRequest, actor: Actor, number: str, form_class: type[_Form], title: str,
    call: Any, success: Any, **form_kwargs: Any,
) -> HttpResponse:
    hh = _household(actor, number)
    members = list(scope_persons(hh.members.filter(status=Status.ACTIVE, merged_into__isnull=True), actor)
                   .order_by("birth_date", "id"))
    form = form_class(request.POST if request.method == "POST" else None, initial={"version": hh.version},
                      **form_kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            result = call(hh, form.cleaned_data)
        except RegistryError as err:
            _add_errors(form, err)
            if isinstance(err, StaleVersionError):
                form.data = form.data.copy()
                form.data["version"] = str(err.current)
        else:
            messages.success(request, success(result))
            return redirect("registry:household", number=hh.household_no)
    return render(request, "registry/household_form.html", base_context(
        actor, household=hh, members=members, form=form, title=title, head_flag=head_flag(hh),
    ), status=400 if form.is_bound and form.errors else 200)


def _members_of(request: HttpRequest, actor: Actor, number: str) -> list[Person]:
    hh = _household(actor, number)
    return list(scope_persons(hh.members.filter(status=Status.ACTIVE, merged_into__isnull=True), actor)
                .order_by("birth_date", "id"))


@writer
def change_head(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    def call(hh: Household, d: dict[str, Any]) -> Household:
        return hh_actions.do_change_household_head(actor, hh, head=_pk(d["head"]), reason=d["reason"],
                                                   expected_version=d["version"])

    return _household_form(
        request, actor, number, HeadForm, _("Change the head of the household"), call,
        lambda hh: _("The head of household %(number)s is now %(name)s.") % {
            "number": hh.household_no, "name": hh.head.name},
        members=_members_of(request, actor, number))


@writer
def split(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    def call(hh: Household, d: dict[str, Any]) -> Household:
        versions = {int(k[2:]): int(v) for k, v in request.POST.items()
                    if k.startswith("v_") and k[2:].isdigit() and v.isdigit()}
        return hh_actions.do_split_household(
            actor, hh, members=[int(x) for x in d["members"]], head=_pk(d["head"]),
            remaining_head=_pk(d["remaining_head"]), address=d["address"], split_date=_date(d["split_date"]),
            reason=d["reason"], expected_version=d["version"], member_versions=versions or None)

    return _household_form(
        request, actor, number, SplitForm, _("Split the household"), call,
        lambda new: _("Household split: the new household number is %(number)s.") % {"number": new.household_no},
        members=_members_of(request, actor, number))


@writer
def merge(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    def call(hh: Household, d: dict[str, Any]) -> tuple[Household, str]:
        other_no = d["other_household"].strip()
        hh_actions.do_merge_households(actor, hh, other=other_no or None, merge_date=_date(d["merge_date"]),
                                       reason=d["reason"], expected_version=d["version"])
        return hh, other_no

    return _household_form(
        request, actor, number, MergeForm, _("Merge another household into this one"), call,
        lambda r: _("Household %(other)s merged into household %(number)s.") % {
            "other": r[1], "number": r[0].household_no})


@writer
def change_address(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    def call(hh: Household, d: dict[str, Any]) -> Household:
        return hh_actions.do_change_household_address(actor, hh, address=d["address"], reason=d["reason"],
                                                      expected_version=d["version"])

    return _household_form(
        request, actor, number, AddressForm, _("Change the address of the household"), call,
        lambda hh: _("The address of household %(number)s was changed.") % {"number": hh.household_no})


@writer
def dissolve(request: HttpRequest, actor: Actor, number: str) -> HttpResponse:
    def call(hh: Household, d: dict[str, Any]) -> Household:
        return hh_actions.do_dissolve_household(actor, hh, dissolve_date=_date(d["dissolve_date"]),
                                                reason=d["reason"], expected_version=d["version"])

    return _household_form(
        request, actor, number, DissolveForm, _("Dissolve the household"), call,
        lambda hh: _("Household %(number)s was dissolved.") % {"number": hh.household_no})
