"""Web forms of the registry.  They only parse input; every rule lives in ``actions``.

Field names follow the ``field`` that :class:`popreg.registry.errors.RegistryError`
names, so an error raised by an action lands next to the right input
(:func:`add_registry_error`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from popreg.registry.access import Actor, scope_units
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Sex

_DATE_ERRORS = {
    "invalid": _("Enter a real date as YYYY-MM-DD (for example 2024-03-15)."),
    "required": _("This date is required."),
}


def date_field(label: Any, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        input_formats=["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"],
        # A plain text box, not type=date: it behaves the same on every browser, takes
        # 2024-03-15, 2024/03/15 or 20240315 as typed, and shows the date as 年-月-日.
        widget=forms.DateInput(attrs={"placeholder": "YYYY-MM-DD", "inputmode": "numeric",
                                      "autocomplete": "off", "size": 12}, format="%Y-%m-%d"),
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
    form.fields[name].choices = choices
    if len(choices) == 2 and name not in form.initial:
        form.initial[name] = choices[1][0]


def village_units(actor: Actor | None = None) -> Any:
    qs = AdminUnit.objects.filter(level__in=("village", "group"), valid_to__isnull=True)
    return scope_units(qs, actor) if actor is not None else qs


# Action field name → form field name, where they differ.
_FIELD_ALIASES = {"registered_unit_code": "registered_unit", "household": "household_no",
                  "to_unit_code": "to_unit", "changes": None, "person": None, "version": None}


def add_registry_error(form: forms.Form, err: RegistryError) -> None:
    """Put an action's error next to the field it names (or on top of the form)."""
    field = _FIELD_ALIASES.get(err.field or "", err.field)
    form.add_error(field if field in form.fields else None, err.message)


class _Base(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"
    # The version of the record the form was opened on: an edit of an older version is
    # refused by the action (no lost update).  Unused by the forms that create records.
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class _HouseholdMixin(forms.Form):
    household_no = forms.CharField(
        label=_("Household number"), required=False, max_length=20,
        help_text=_("Leave empty if the person has no household yet."),
    )


class BirthForm(_Base, _HouseholdMixin):
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    birth_date = date_field(_("Birth date"))
    registered_unit = forms.ChoiceField(label=_("Registered unit"))
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40,
                                help_text=_("Optional for newborns."))
    ethnicity = forms.CharField(label=_("Ethnicity"), max_length=20, initial="汉族")
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

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _unit_field(self, "registered_unit", village_units(actor))


class MoveInForm(_Base, _HouseholdMixin):
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    birth_date = date_field(_("Birth date"))
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40)
    ethnicity = forms.CharField(label=_("Ethnicity"), max_length=20, initial="汉族")
    registered_unit = forms.ChoiceField(label=_("Registered unit"))
    from_unit_code = forms.CharField(
        label=_("Moved in from (division code)"), max_length=12, required=False,
        help_text=_("6- or 12-digit code of the place of origin."),
    )
    move_date = date_field(_("Move-in date"))

    field_order = ["name", "sex", "birth_date", "id_number", "ethnicity", "registered_unit",
                   "household_no", "from_unit_code", "move_date"]

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _unit_field(self, "registered_unit", village_units(actor))

    def clean_from_unit_code(self) -> str:
        code = str(self.cleaned_data.get("from_unit_code") or "").strip()
        if code and not (code.isdigit() and len(code) in (6, 12)):
            raise forms.ValidationError(_("Enter a 6- or 12-digit division code."))
        return code


class DeathForm(_Base):
    death_date = date_field(_("Date of death"))
    cause = forms.CharField(label=_("Cause of death"), required=False, max_length=200)


class MoveOutForm(_Base):
    move_date = date_field(_("Move-out date"))
    destination_code = forms.CharField(
        label=_("Destination (division code)"), max_length=12,
        help_text=_("6- or 12-digit code of the place outside the county."),
    )
    destination_name = forms.CharField(label=_("Destination name"), required=False, max_length=100)


class TransferForm(_Base, _HouseholdMixin):
    to_unit = forms.ChoiceField(label=_("Destination village"))
    move_date = date_field(_("Transfer date"))

    field_order = ["to_unit", "household_no", "move_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Transfers go anywhere in the county; unit names are not personal data.
        self.fields["to_unit"].choices = unit_choices(village_units())


class MarriageForm(_Base):
    marriage_date = date_field(_("Date of marriage"))


class DivorceForm(_Base):
    divorce_date = date_field(_("Date of divorce"))


class EnlistmentForm(_Base):
    enlistment_date = date_field(_("Date of enlistment"))


class DischargeForm(_Base, _HouseholdMixin):
    discharge_date = date_field(_("Date of discharge"))
    to_unit = forms.ChoiceField(label=_("Village of registration"))

    field_order = ["discharge_date", "to_unit", "household_no"]

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _unit_field(self, "to_unit", village_units(actor))


class CorrectionForm(_Base):
    """Only the fields the user fills in are corrected; the reason is required."""

    name = forms.CharField(label=_("Name"), required=False, max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), required=False,
                            choices=[("", "---------"), *Sex.choices])
    birth_date = date_field(_("Birth date"), required=False)
    ethnicity = forms.CharField(label=_("Ethnicity"), required=False, max_length=20)
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=40)
    reason = forms.CharField(label=_("Reason for the correction"), max_length=200,
                             widget=forms.TextInput(attrs={"size": 40}))


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=60, required=False)
