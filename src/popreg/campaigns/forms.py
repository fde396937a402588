"""Web forms of the campaign workflow.  They only parse input; every rule lives in
``popreg.campaigns.actions``, whose errors are placed next to the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from popreg.campaigns.models import FoundPerson, Outcome, ResolveAction, SignOff
from popreg.registry.access import Actor, scope_units
from popreg.registry.actions import CORRECTABLE
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit, Sex
from popreg.registry.validation import errors_of
from popreg.registry.widgets import DateWidget

_DATE_ERRORS = {"invalid": _("Enter a valid date as YYYY-MM-DD (for example 2025-11-01)."),
                "required": _("Please enter the date.")}
_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"]

#: English names of the registry fields a campaign may correct (their Chinese is
#: ``registry.actions.CORRECTABLE``, which also labels the printed and uploaded workbooks).
CORRECTABLE_NAMES = {
    "name": _("Name"), "former_names": _("Former names"), "sex": _("Sex"), "birth_date": _("Birth date"),
    "ethnicity": _("Ethnicity"), "id_number": _("ID number"), "hukou_kind": _("Hukou kind"),
    "residence_unit_id": _("Residence unit"), "residence_type": _("Residence type"), "mother_id": _("Mother"),
    "father_id": _("Father"),
}

# Choices come from the models (``Outcome``, ``FoundPerson.Kind``, ``Sex`` ...), whose labels
# are English message ids shown in the active language: one vocabulary, no copies here.
_SEXES = Sex.choices
_CORRECTABLE_CHOICES = [("", "—"), *((k, CORRECTABLE_NAMES.get(k, v)) for k, v in CORRECTABLE.items())]


def action_label(action: str) -> str:
    """The resolving action's name in the active language."""
    return str(ResolveAction(action).label) if action in ResolveAction.values else action




def date_field(label: Any, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, input_formats=_FORMATS, error_messages=_DATE_ERRORS,
        widget=DateWidget(), **kwargs,
    )


class _Base(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"


def add_error(form: forms.Form, err: RegistryError) -> None:
    """Put an action's error next to the field it names (or on top of the form); an error
    holding several problems (``registry.validation.RegistryErrors``) puts each next to its field."""
    aliases = {"event_date": "date", "scope": "scope_codes", "corrected_value": "value"}
    for one in errors_of(err):
        field = aliases.get(one.field or "", one.field)
        form.add_error(field if field in form.fields else None, one.message)


class CampaignForm(_Base):
    name = forms.CharField(label=_("Campaign name"), max_length=120, initial="户口整顿")
    scope_codes = forms.MultipleChoiceField(
        label=_("Scope"), widget=forms.CheckboxSelectMultiple,
        help_text=_("Choose the county, townships (subdistricts) or villages (neighbourhood committees); every village under a chosen unit is in scope."),
    )
    reference_moment = forms.DateTimeField(
        label=_("Reference time"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    preparation_start = date_field(_("Preparation starts"))
    preparation_end = date_field(_("Preparation ends"))
    verification_start = date_field(_("Door-to-door verification starts"))
    verification_end = date_field(_("Door-to-door verification ends"))
    rectification_start = date_field(_("Rectification starts"))
    rectification_end = date_field(_("Rectification ends (deadline for rectification)"))
    summary_start = date_field(_("Review and acceptance starts"))
    summary_end = date_field(_("Review and acceptance ends"))
    spot_check_households = forms.IntegerField(label=_("Households to spot-check per village"), min_value=1, initial=5)
    error_threshold = forms.FloatField(label=_("Spot-check error rate limit"), min_value=0.001, max_value=0.999,
                                       initial=0.05,
                                       help_text=_("A fraction: 0.05 means 5%. A village passes acceptance when its spot-check error rate is below this limit."))
    seed = forms.IntegerField(label=_("Random seed for sampling"), initial=20251101,
                              help_text=_("The same seed draws the same households, so the draw can be repeated."))

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = scope_units(AdminUnit.objects.filter(level__in=("county", "township", "village"),
                                                     valid_to__isnull=True), actor)
        indent = {"township": "　", "village": "　　"}
        self.fields["scope_codes"].choices = [
            (u.code, f"{indent.get(u.level, '')}{u.name} ({u.code})") for u in units.order_by("code")
        ]


class OutcomeForm(_Base):
    outcome = forms.ChoiceField(label=_("Verification result"), choices=Outcome.choices,
                                widget=forms.RadioSelect)
    field_name = forms.ChoiceField(label=_("Incorrect item"), required=False, choices=_CORRECTABLE_CHOICES)
    value = forms.CharField(label=_("Correct value / destination code / duplicate record number"), required=False,
                            max_length=200)
    date = date_field(_("Date (death, move away)"), required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class FoundPersonForm(_Base):
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=_SEXES, widget=forms.RadioSelect)
    birth_date = date_field(_("Birth date"))
    kind = forms.ChoiceField(label=_("Category"), choices=FoundPerson.Kind.choices,
                             widget=forms.RadioSelect,
                             initial=FoundPerson.Kind.BIRTH)
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=18)
    household_no = forms.CharField(label=_("Household number"), required=False, max_length=20)
    address = forms.CharField(label=_("Address (house number)"), required=False, max_length=200)
    from_unit_code = forms.CharField(label=_("Moved in from (code, for an unregistered move-in)"), required=False,
                                     max_length=12)
    date = date_field(_("Move-in date"), required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class UploadForm(_Base):
    file = forms.FileField(label=_("Completed workbook (.xlsx)"))


#: The inputs each resolving action reads (the form shows only those of the item's actions).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "register_death": ("date",),
    "register_enlistment": ("date",),
    "correct_person": ("field_name", "value"),
    "transfer": ("date", "destination_code"),
    "move_out": ("date", "destination_code"),
    "merge_persons": ("other_person_id",),
    "register_birth": ("name", "sex", "birth_date", "id_number", "household_no"),
    "move_in": ("name", "sex", "birth_date", "id_number", "household_no", "from_unit_code", "date"),
}


class ResolveForm(_Base):
    action = forms.ChoiceField(label=_("Rectification action"))
    date = date_field(_("Date (death, move, enlistment, move-in)"), required=False)
    field_name = forms.ChoiceField(label=_("Item to correct"), required=False, choices=_CORRECTABLE_CHOICES)
    value = forms.CharField(label=_("Correct value"), required=False, max_length=200)
    destination_code = forms.CharField(label=_("Destination code (12-digit village code within the county)"),
                                       required=False, max_length=12)
    other_person_id = forms.CharField(
        label=_("Number of the record to keep (this record is merged into it; both histories are kept)"),
        required=False, max_length=12)
    name = forms.CharField(label=_("Name (new person)"), required=False, max_length=60)
    sex = forms.ChoiceField(label=_("Sex (new person)"), required=False, choices=[("", "—"), *_SEXES])
    birth_date = date_field(_("Birth date (new person)"), required=False)
    id_number = forms.CharField(label=_("ID number (new person)"), required=False, max_length=18)
    household_no = forms.CharField(label=_("Household number (new person)"), required=False, max_length=20)
    from_unit_code = forms.CharField(label=_("Moved in from (code, for a move-in)"), required=False, max_length=12)

    def __init__(self, *args: Any, actions: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a, action_label(a)) for a in actions]
        wanted = {"action"}.union(*(ACTION_FIELDS.get(a, ()) for a in actions))
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]


class RejectForm(_Base):
    reason = forms.CharField(label=_("Reason for rejection"), max_length=200)


class AssignForm(_Base):
    owner = forms.ChoiceField(label=_("Responsible officer"), required=False)
    deadline = date_field(_("Deadline"), required=False)
    start = forms.BooleanField(label=_("Mark as in progress"), required=False)

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—")] + owners


class SpotCheckForm(_Base):
    agrees = forms.ChoiceField(label=_("Re-check result"),
                               choices=[("1", _("Agrees with the verification result")), ("0", _("Differs"))],
                               widget=forms.RadioSelect)
    note = forms.CharField(label=_("Description of the error"), required=False, max_length=200)


class SignOffForm(_Base):
    unit = forms.CharField(widget=forms.HiddenInput)
    level = forms.ChoiceField(choices=SignOff.Level.choices, widget=forms.HiddenInput)
    note = forms.CharField(label=_("Acceptance remarks"), required=False, max_length=200)
