"""Web forms of the registry.

A form parses its input and, in ``clean()``, runs the plausibility rules of
:mod:`popreg.core.validation` (through :mod:`popreg.registry.validation`) on every value
that parsed, so one submission shows every problem at once: a future date, a bad ID
number and an unknown mother are three errors next to three fields, not one.  The actions
run the same rules again before they write.

Field names follow the ``field`` that :class:`popreg.registry.errors.RegistryError`
names, so an error raised by an action lands next to the right input
(:func:`add_registry_error`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from popreg.core import ethnicity as ethnic_groups
from popreg.core.validation import Entry
from popreg.registry.access import Actor, scope_households, scope_persons, scope_units
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Household, Person, Sex
from popreg.registry.validation import (
    check_entry,
    errors_of,
    event_entry,
    person_entry,
    today,
)
from popreg.registry.widgets import DateWidget, pick_unit

_DATE_ERRORS = {
    "invalid": _("Enter a real date as YYYY-MM-DD (for example 2024-03-15)."),
    "required": _("This date is required."),
}


def date_field(label: Any, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        input_formats=["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"],
        # The site's one date input (type=date with a format hint, registry.widgets); a
        # browser without a date picker shows a text box that still takes 2024/03/15 or 20240315.
        widget=DateWidget(),
        error_messages=_DATE_ERRORS,
        **kwargs,
    )


def unit_choices(units: Any) -> list[tuple[str, str]]:
    """Village/group choices labelled "township / village (code)"."""
    out = [("", "---------")]
    for u in units.select_related("parent").order_by("code"):
        parent = f"{u.parent.name} / " if u.parent_id and u.parent.level != "county" else ""
        out.append((u.code, f"{parent}{u.name} ({u.code})"))
    return out


def _unit_field(form: forms.Form, name: str, units: Any) -> None:
    """Fill a unit select; a clerk with a single village gets it preselected."""
    choices = unit_choices(units)
    pick_unit(form.fields[name], choices)  # a type-ahead input, not a select of every village
    if len(choices) == 2 and name not in form.initial:
        form.initial[name] = choices[1][0]


def village_units(actor: Actor | None = None) -> Any:
    qs = AdminUnit.objects.filter(level__in=("village", "group"), valid_to__isnull=True)
    return scope_units(qs, actor) if actor is not None else qs


# Action field name → form field name, where they differ.
_FIELD_ALIASES = {"registered_unit_code": "registered_unit", "household": "household_no",
                  "to_unit_code": "to_unit", "changes": None, "person": None, "version": None,
                  "origin_code": "from_unit_code", "residence_unit_id": None}


def add_registry_error(form: forms.Form, err: RegistryError, aliases: dict[str, str] | None = None) -> None:
    """Put an action's error next to the field it names (or on top of the form); an error
    that holds several (:class:`popreg.registry.validation.RegistryErrors`) puts each one
    next to its own field."""
    names = {**_FIELD_ALIASES, **(aliases or {})}
    for one in errors_of(err):
        field = names.get(one.field or "", one.field)
        field = field if field in form.fields else None
        if field is not None and field in form.errors and one.message in form.errors[field]:
            continue  # the form's own check found it already
        form.add_error(field, one.message)


def _ethnic_label(name: str, roman: str) -> str:
    """汉族 on a Chinese page; 汉族 Han (with the romanised name of GB/T 3304) on an English one."""
    from django.utils.translation import get_language

    return f"{name} {roman}" if (get_language() or "").startswith("en") else name


def ethnicity_choices(blank: bool = False) -> list[tuple[str, Any]]:
    """The GB/T 3304 groups and the two extra categories, as the select shows them (the
    labels follow the page's language)."""
    from django.utils.functional import lazy

    label = lazy(_ethnic_label, str)
    out: list[tuple[str, Any]] = [("", "---------")] if blank else []
    return out + [(g.name, label(g.name, g.roman) if g.letters else g.name) for g in ethnic_groups.GROUPS]


def ethnicity_field(required: bool = True) -> forms.CharField:
    """A select of the official list; a value outside it (a crafted post, an old record)
    is reported by the ``ethnicity_unknown`` rule with how to fix it."""
    return forms.CharField(
        label=_("Ethnicity"), required=required, max_length=20,
        initial="汉族" if required else "",
        widget=forms.Select(choices=ethnicity_choices(blank=not required)),
    )


class _Base(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"
    # The version of the record the form was opened on: an edit of an older version is
    # refused by the action (no lost update).  Unused by the forms that create records.
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    #: The registration (a kind of ``core.validation.KINDS``) and its date field.
    kind = ""
    event_field = ""

    def __init__(self, *args: Any, person: Person | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.person = person

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for err in self.rule_errors(data):
            add_registry_error(self, err)
        return data

    def rule_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        """Every broken plausibility rule of the values that parsed (docs/validation.md)."""
        if self.person is None or not self.kind:
            return []
        return self.lookup_errors(data) + check_entry(event_entry(
            self.person, self.kind, data.get(self.event_field), self.event_field, **self.entry_extra(data)))

    def lookup_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        """Records named by the form that do not exist (a household number)."""
        return []

    def entry_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        return {}


class _HouseholdMixin(forms.Form):
    household_no = forms.CharField(
        label=_("Household number"), required=False, max_length=20,
        help_text=_("Leave empty if the person has no household yet."),
    )


def _household_error(actor: Actor, number: str) -> RegistryError | None:
    """Why a typed household number cannot be used (the view looks it up again to save)."""
    number = (number or "").strip()
    if not number or scope_households(Household.objects.all(), actor).filter(household_no=number).exists():
        return None
    return RegistryError(
        f"户号 {number} 不存在或不在您的辖区内，请核对户号",
        f"household {number} does not exist or is outside your jurisdiction; check the number",
        "household_no",
    )


def _parent(actor: Actor, raw: str, field: str, label: str) -> tuple[Person | None, RegistryError | None]:
    """A parent given by record number (编号) or ID number, inside the jurisdiction."""
    raw = (raw or "").strip().upper()
    if not raw:
        return None, None
    qs = scope_persons(Person.objects.all(), actor)
    found = qs.filter(id_number=raw).first() if len(raw) in (15, 18) else None
    if found is None and raw.isdigit() and len(raw) <= 12:
        found = qs.filter(pk=int(raw)).first()
    if found is not None:
        return found, None
    return None, RegistryError(
        f"{label}“{raw}”未找到：请填写{label}的编号或公民身份号码（须已在您的辖区内登记），"
        f"或留空",
        f"{field} {raw} not found: give the record number or ID number of a person registered "
        "in your jurisdiction, or leave it empty",
        field,
    )


class _NewPersonForm(_Base, _HouseholdMixin):
    """Birth and move in: a new record; the household and the parents are looked up here
    so that an unknown one is reported together with every other problem."""

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        _unit_field(self, "registered_unit", village_units(actor))

    def rule_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        errors: list[RegistryError] = []
        household = _household_error(self.actor, data.get("household_no", ""))
        if household is not None:
            errors.append(household)
        parents: dict[str, Person | None] = {}
        for field, label in (("mother", "母亲"), ("father", "父亲")):
            if field in self.fields:
                parents[field], problem = _parent(self.actor, data.get(field, ""), field, label)
                if problem is not None:
                    errors.append(problem)
        entry = person_entry(
            self.kind, birth_date=data.get("birth_date"), sex=data.get("sex") or None,
            id_number=(data.get("id_number") or "").strip() or None,
            ethnicity=data.get("ethnicity"), event_date=data.get("move_date"),
            event_field="move_date" if self.kind == "move_in" else "birth_date",
            mother=parents.get("mother"), father=parents.get("father"),
            origin_code=data.get("from_unit_code") or None,
        )
        return errors + check_entry(entry)


class BirthForm(_NewPersonForm):
    kind = "birth"
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    birth_date = date_field(_("Birth date"))
    registered_unit = forms.ChoiceField(label=_("Registered unit"))
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40,
                                help_text=_("Optional for newborns."))
    ethnicity = ethnicity_field()
    mother = forms.CharField(
        label=_("Mother"), required=False, max_length=40,
        help_text=_("Record number or ID number of the mother, if registered here."),
    )
    father = forms.CharField(
        label=_("Father"), required=False, max_length=40,
        help_text=_("Record number or ID number of the father, if registered here."),
    )

    field_order = ["name", "sex", "birth_date", "registered_unit", "household_no", "id_number",
                   "ethnicity", "mother", "father"]


class MoveInForm(_NewPersonForm):
    kind = "move_in"
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    birth_date = date_field(_("Birth date"))
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40)
    ethnicity = ethnicity_field()
    registered_unit = forms.ChoiceField(label=_("Registered unit"))
    from_unit_code = forms.CharField(
        label=_("Moved in from (division code)"), max_length=12, required=False,
        help_text=_("6- or 12-digit code of the place of origin."),
    )
    move_date = date_field(_("Move-in date"))

    field_order = ["name", "sex", "birth_date", "id_number", "ethnicity", "registered_unit",
                   "household_no", "from_unit_code", "move_date"]

    def clean_from_unit_code(self) -> str:
        # the code is checked by the rules (format, GB/T 2260, valid at the move date)
        return str(self.cleaned_data.get("from_unit_code") or "").strip()


class DeathForm(_Base):
    kind, event_field = "death", "death_date"
    death_date = date_field(_("Date of death"))
    cause = forms.CharField(label=_("Cause of death"), required=False, max_length=200)


class MoveOutForm(_Base):
    kind, event_field = "move_out", "move_date"
    move_date = date_field(_("Move-out date"))
    destination_code = forms.CharField(
        label=_("Destination (division code)"), max_length=12,
        help_text=_("6- or 12-digit code of the place outside the county."),
    )
    destination_name = forms.CharField(label=_("Destination name"), required=False, max_length=100)

    def entry_extra(self, data: dict[str, Any]) -> dict[str, Any]:
        if "destination_code" not in data:
            return {}  # empty: the field's own "required" error says so
        return {"destination_code": data["destination_code"].strip(), "entered": {"destination_code"}}


class TransferForm(_Base, _HouseholdMixin):
    kind, event_field = "transfer", "move_date"
    to_unit = forms.ChoiceField(label=_("Destination village"))
    move_date = date_field(_("Transfer date"))

    field_order = ["to_unit", "household_no", "move_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Transfers go anywhere in the county; unit names are not personal data.
        pick_unit(self.fields["to_unit"], unit_choices(village_units()))

    def lookup_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        number = (data.get("household_no") or "").strip()
        # The destination household may be outside the clerk's own village.
        if not number or Household.objects.filter(household_no=number).exists():
            return []
        return [RegistryError(f"户号 {number} 不存在，请核对户号，或留空",
                              f"household {number} does not exist; check the number or leave it empty",
                              "household_no")]


class MarriageForm(_Base):
    kind, event_field = "marriage", "marriage_date"
    marriage_date = date_field(_("Date of marriage"))


class DivorceForm(_Base):
    kind, event_field = "divorce", "divorce_date"
    divorce_date = date_field(_("Date of divorce"))


class EnlistmentForm(_Base):
    kind, event_field = "enlistment", "enlistment_date"
    enlistment_date = date_field(_("Date of enlistment"))


class DischargeForm(_Base, _HouseholdMixin):
    kind, event_field = "discharge", "discharge_date"
    discharge_date = date_field(_("Date of discharge"))
    to_unit = forms.ChoiceField(label=_("Village of registration"))

    field_order = ["discharge_date", "to_unit", "household_no"]

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        _unit_field(self, "to_unit", village_units(actor))

    def lookup_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        problem = _household_error(self.actor, data.get("household_no", ""))
        return [problem] if problem is not None else []


class CorrectionForm(_Base):
    """Only the fields the user fills in are corrected; the reason is required."""

    name = forms.CharField(label=_("Name"), required=False, max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), required=False,
                            choices=[("", "---------"), *Sex.choices])
    birth_date = date_field(_("Birth date"), required=False)
    ethnicity = ethnicity_field(required=False)
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40)
    reason = forms.CharField(label=_("Reason for the correction"), max_length=200,
                             widget=forms.TextInput(attrs={"size": 40}))

    def rule_errors(self, data: dict[str, Any]) -> list[RegistryError]:
        p = self.person
        if p is None:
            return []
        changed = {k: v for k, v in data.items()
                   if k in ("sex", "birth_date", "ethnicity", "id_number") and v not in (None, "")}
        if not changed:
            return []
        entry = Entry(
            kind="correction", today=today(), event_field="correction_date",
            sex=changed.get("sex", p.sex) or None, birth_date=changed.get("birth_date", p.birth_date),
            death_date=p.death_date, id_number=str(changed.get("id_number", p.id_number) or "").strip() or None,
            ethnicity=changed.get("ethnicity"), entered=frozenset(changed),
        )
        return check_entry(entry)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=60, required=False)
