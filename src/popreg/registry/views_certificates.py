"""Certificate pages: choose and print a certificate of a person (the PDF comes from
:mod:`popreg.registry.certificates` through the export layer), and the public page that
checks a certificate's serial number and verification code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from popreg.core.privacy import mask_id
from popreg.registry import certificates
from popreg.registry.access import Actor, scope_persons
from popreg.registry.certificate_models import Certificate, CertificateKind
from popreg.registry.errors import RegistryError
from popreg.registry.forms import add_registry_error
from popreg.registry.models import Person
from popreg.registry.policy import Permission
from popreg.registry.views import base_context, with_actor


class CertificateForm(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"
    kind = forms.ChoiceField(label=_l("Certificate"), required=False, widget=forms.RadioSelect)
    purpose = forms.CharField(label=_l("Purpose"), required=False, max_length=200,
                              help_text=_l("Printed on the certificate, e.g. school enrolment."))

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(CertificateKind.choices)
        self.fields["kind"].choices = [(k, labels[k]) for k in kinds]


@with_actor
def print_certificate(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    qs = Person.objects.select_related("registered_unit", "household__head")
    person = get_object_or_404(scope_persons(qs, actor), pk=pk)
    actor_may = actor.can(Permission.PRINT_CERTIFICATES, person.registered_unit_id)
    if not actor_may:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("Your role may not print certificates."))
    kinds = certificates.applicable(person)
    form = CertificateForm(request.POST if request.method == "POST" else None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        try:
            _cert, response = certificates.print_certificate(
                actor, person, kind=form.cleaned_data["kind"], purpose=form.cleaned_data["purpose"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            assert isinstance(response, HttpResponse)
            return response
    person.masked_id = mask_id(person.id_number)  # type: ignore[attr-defined]
    issued = Certificate.objects.filter(person=person).order_by("-id")[:20]
    return render(request, "registry/certificates/print.html", base_context(
        actor, person=person, form=form, kinds=kinds, issued=issued,
    ), status=400 if form.is_bound and form.errors else 200)


def verify(request: HttpRequest) -> HttpResponse:
    """Public by design: whoever holds a certificate (a school, a bank) checks it here.  Only
    a matching serial *and* code shows anything, and then only the kind, the date, the
    office and the name with all but its first character masked."""
    serial = (request.GET.get("serial") or "").strip()[:20]
    code = (request.GET.get("code") or "").strip()[:30]
    asked = bool(serial or code)
    cert = certificates.verify(serial, code) if asked else None
    return render(request, "registry/certificates/verify.html", {
        "serial": serial, "code": code, "asked": asked,
        "result": certificates.certificate_summary(cert) if cert else None,
    })
