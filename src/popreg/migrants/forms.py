"""Forms of the migrants pages (labels are English msgids; Chinese in the app's catalog)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from popreg.migrants.models import PermitCondition, PlaceKind, Reason, WhereaboutsSource
from popreg.registry.models import Sex
from popreg.registry.widgets import DateWidget, pick_unit

DATE = DateWidget()  # the site's one date input


class _Base(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"


class RegisterForm(_Base):
    name = forms.CharField(label=_("Name"), max_length=60)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices)
    birth_date = forms.DateField(label=_("Birth date"), widget=DATE)
    id_number = forms.CharField(label=_("ID number"), max_length=18, required=False)
    origin_code = forms.CharField(label=_("Place of registration (division code)"), max_length=12,
                                  help_text=_("6- or 12-digit code of the county or village outside this county"))
    residence_unit = forms.ChoiceField(label=_("Village lived in"))
    arrival_date = forms.DateField(label=_("Arrival date"), widget=DATE)
    reason = forms.ChoiceField(label=_("Reason"), choices=Reason.choices)
    place = forms.ChoiceField(label=_("Rental place or employer"), required=False)
    address = forms.CharField(label=_("Address here"), max_length=200, required=False)
    employer = forms.CharField(label=_("Employer"), max_length=120, required=False)
    contact = forms.CharField(label=_("Contact"), max_length=60, required=False)

    def __init__(self, *args: object, units: list[tuple[str, str]], places: list[tuple[str, str]],
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        pick_unit(self.fields["residence_unit"], units)
        self.fields["place"].choices = [("", "—"), *places]


class MoveForm(_Base):
    residence_unit = forms.ChoiceField(label=_("New village lived in"))
    move_date = forms.DateField(label=_("Date of the move"), widget=DATE)
    place = forms.ChoiceField(label=_("Rental place or employer"), required=False)
    address = forms.CharField(label=_("Address here"), max_length=200, required=False)

    def __init__(self, *args: object, units: list[tuple[str, str]], places: list[tuple[str, str]],
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        pick_unit(self.fields["residence_unit"], units)
        self.fields["place"].choices = [("", "—"), *places]


class DepartForm(_Base):
    departure_date = forms.DateField(label=_("Date of leaving"), widget=DATE)
    destination_code = forms.CharField(label=_("Going to (division code, if known)"), max_length=12, required=False)


class PermitForm(_Base):
    applied_on = forms.DateField(label=_("Application date"), widget=DATE)
    condition = forms.ChoiceField(label=_("Condition"), choices=PermitCondition.choices)
    evidence = forms.CharField(label=_("Evidence"), max_length=300, required=False,
                               help_text=_("e.g. employment contract, tenancy agreement, school record"))
    issue_date = forms.DateField(label=_("Issue date"), widget=DATE, required=False)


class RenewForm(_Base):
    renewed_on = forms.DateField(label=_("Renewal date"), widget=DATE)


class WhereaboutsForm(_Base):
    residence_unit_code = forms.CharField(label=_("Lives in (division code)"), max_length=12)
    residence_unit_name = forms.CharField(label=_("Place name"), max_length=100, required=False)
    employer = forms.CharField(label=_("Employer"), max_length=120, required=False)
    contact = forms.CharField(label=_("Contact"), max_length=60, required=False)
    confirmed_on = forms.DateField(label=_("Confirmed on"), widget=DATE)
    source = forms.ChoiceField(label=_("Source"), choices=WhereaboutsSource.choices)


class PlaceForm(_Base):
    kind = forms.ChoiceField(label=_("Kind"), choices=PlaceKind.choices)
    name = forms.CharField(label=_("Name"), max_length=120)
    address = forms.CharField(label=_("Address"), max_length=200)
    unit = forms.ChoiceField(label=_("Village"))
    contact_name = forms.CharField(label=_("Landlord or employer contact"), max_length=60)
    contact_phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    agreement_signed = forms.DateField(label=_("Responsibility agreement signed"), widget=DATE, required=False)
    agreement_expires = forms.DateField(label=_("Responsibility agreement expires"), widget=DATE, required=False)
    active = forms.BooleanField(label=_("In use"), required=False, initial=True)

    def __init__(self, *args: object, units: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        pick_unit(self.fields["unit"], units)


class ReportForm(_Base):
    id_number = forms.CharField(label=_("ID number of the tenant or worker"), max_length=18)
    since = forms.DateField(label=_("Living or working there since"), widget=DATE)
    reported_on = forms.DateField(label=_("Reported on"), widget=DATE)


class EndForm(_Base):
    until = forms.DateField(label=_("Left on"), widget=DATE)


class UploadForm(_Base):
    file = forms.FileField(label=_("Excel workbook or CSV file"))
