"""Account pages: users and roles (county administrator), the user's own API tokens, and
the second factor (TOTP) of county administrators and auditors.

Every change goes through an action of :mod:`popreg.registry.actions.accounts`; the pages
only parse forms and show the result.
"""

from __future__ import annotations

import base64
from io import BytesIO
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from popreg.registry import actions
from popreg.registry.access import Actor, scope_units
from popreg.registry.errors import RegistryError
from popreg.registry.forms import add_registry_error, unit_choices
from popreg.registry.models import AdminUnit, ApiToken, Assignment, Role
from popreg.registry.policy import Permission
from popreg.registry.views import base_context, with_actor
from popreg.registry.widgets import pick_unit

# ------------------------------------------------------------------ forms


class NewUserForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150)
    full_name = forms.CharField(label=gettext_lazy("Full name"), max_length=150, required=False)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)
    # A type-ahead input over the units the manager may assign (registry.widgets.UnitPicker).
    unit_code = forms.ChoiceField(label=gettext_lazy("Unit"))
    password = forms.CharField(label=gettext_lazy("Initial password"), widget=forms.PasswordInput,
                               help_text=gettext_lazy("At least 12 characters, not a common password."))


class PasswordForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("New password"), widget=forms.PasswordInput,
                               help_text=gettext_lazy("At least 12 characters, not a common password."))


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (what uses the token)"), max_length=100)
    days = forms.IntegerField(label=gettext_lazy("Valid for (days)"), min_value=1, initial=30)


def _manager(actor: Actor) -> None:
    try:
        actor.require(Permission.MANAGE_USERS)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None


def _form_page(request: HttpRequest, actor: Actor, form: forms.Form, title: str) -> HttpResponse:
    return render(request, "registry/form.html", base_context(actor, form=form, title=title),
                  status=400 if form.is_bound and form.errors else 200)


# ------------------------------------------------------------------ users and roles


@with_actor
def users_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    _manager(actor)
    users = get_user_model().objects.order_by("username")
    roles = {a.user_id: a for a in Assignment.objects.select_related("unit")}
    rows = [{"user": u, "assignment": roles.get(u.pk)} for u in users]
    return render(request, "registry/users.html", base_context(actor, rows=rows))


@with_actor
def user_create(request: HttpRequest, actor: Actor) -> HttpResponse:
    _manager(actor)
    form = NewUserForm(request.POST or None)
    units = scope_units(AdminUnit.objects.filter(valid_to__isnull=True).exclude(level="external"), actor)
    pick_unit(form.fields["unit_code"], unit_choices(units))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.do_create_user(actor, d["username"], d["password"], d["role"], d["unit_code"],
                                   full_name=d["full_name"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The user %(user)s was created.") % {"user": d["username"]})
            return redirect("registry:users")
    return _form_page(request, actor, form, _("Create a user"))


@with_actor
def user_password(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _manager(actor)
    user = get_object_or_404(get_user_model(), pk=pk)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_reset_password(actor, user, form.cleaned_data["password"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            messages.success(request, _("The password of %(user)s was reset.") % {"user": user.get_username()})
            return redirect("registry:users")
    return _form_page(request, actor, form, _("Reset the password of %(user)s") % {"user": user.get_username()})


@require_POST
@with_actor
def user_deactivate(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _manager(actor)
    user = get_object_or_404(get_user_model(), pk=pk)
    try:
        actions.do_deactivate_user(actor, user)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    messages.success(request, _("The user %(user)s was deactivated.") % {"user": user.get_username()})
    return redirect("registry:users")


# ------------------------------------------------------------------ API tokens


@with_actor
def tokens_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _, secret = actions.do_create_api_token(actor, form.cleaned_data["name"],
                                                    days=form.cleaned_data["days"])
        except RegistryError as err:
            add_registry_error(form, err)
        else:
            form = TokenForm()
    tokens = ApiToken.objects.filter(owner=request.user)
    return render(request, "registry/tokens.html", base_context(
        actor, form=form, secret=secret, tokens=tokens,
    ), status=400 if form.is_bound and form.errors else 200)


@require_POST
@with_actor
def token_revoke(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    try:
        actions.do_revoke_api_token(actor, token)
    except RegistryError as err:
        raise PermissionDenied(err.message) from None
    messages.success(request, _("The API token %(name)s was revoked.") % {"name": token.name})
    return redirect("registry:tokens")


# ------------------------------------------------------------------ second factor (TOTP)


class OtpForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code from the authenticator app (6 digits)"),
                           max_length=6, min_length=6)


def _qr_png(url: str) -> str | None:
    """The enrolment URL as a data: PNG when a QR library is installed (else the key is
    typed into the app by hand)."""
    try:
        import qrcode  # type: ignore[import-not-found]
    except ImportError:
        return None
    buf = BytesIO()
    qrcode.make(url).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def otp_page(request: HttpRequest) -> HttpResponse:
    """Verify a TOTP code; a user without a confirmed device enrols one first (the
    unconfirmed device's key is shown until a code from it is accepted)."""
    from django.contrib.auth.views import redirect_to_login
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="authenticator", confirmed=False)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            nxt = request.GET.get("next") or "/"
            if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
                nxt = "/"
            return redirect(nxt)
        form.add_error("code", _("The code is wrong or too old; enter the code the app shows now."))
    context: dict[str, Any] = {"form": form, "enrolling": enrolling}
    if enrolling:
        context["key"] = base64.b32encode(device.bin_key).decode()
        context["qr"] = _qr_png(device.config_url)
    return render(request, "registry/otp.html", context,
                  status=400 if form.is_bound and form.errors else 200)
