"""Where a registry form lands after it saved, and the success message it shows there.

Every form of a person lands on the person's page with a message saying what was
registered.  When the change took the record out of the user's jurisdiction (a village
clerk transferring a person to another township), the person's page would be "not
found" to that user: the form lands instead on the household the person left, or on the
unit the person was registered in, with a message that says where the record went and
who keeps it now.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from popreg.registry.access import Actor, person_in_scope, scope_households
from popreg.registry.models import AdminUnit, Household, Person


def success_message(action: str, person: Person) -> str:
    """What the action did, in the active language, naming the person (and the place)."""
    unit = person.registered_unit
    values = {"name": person.name, "number": person.pk, "unit": unit.name, "code": unit.code}
    texts = {
        "birth": _("The birth of %(name)s was registered (record %(number)s)."),
        "move_in": _("%(name)s was registered as moved into the county (record %(number)s)."),
        "death": _("The death of %(name)s was registered."),
        "transfer": _("%(name)s was transferred to %(unit)s."),
        "move_out": _("The move of %(name)s out of the county was registered."),
        "marriage": _("The marriage of %(name)s was registered."),
        "divorce": _("The divorce of %(name)s was registered."),
        "enlistment": _("The enlistment of %(name)s was registered; the registration is suspended."),
        "discharge": _("The discharge of %(name)s was registered; the registration is restored in %(unit)s."),
        "correct": _("The record of %(name)s was corrected."),
    }
    return texts.get(action, _("The change to the record of %(name)s was saved.")) % values


def landing(request: HttpRequest, actor: Actor, person: Person, action: str,
            *, left_household_id: int | None = None) -> HttpResponse:
    """Redirect after a successful ``action`` on ``person`` (the stored record is re-read)."""
    fresh = Person.objects.select_related("registered_unit", "household").get(pk=person.pk)
    message = success_message(action, fresh)
    if person_in_scope(actor, fresh):
        messages.success(request, message)
        return redirect("registry:person", pk=fresh.pk)
    messages.success(request, message + " " + _(
        "The record is now kept by %(unit)s (%(code)s), outside your jurisdiction."
    ) % {"unit": fresh.registered_unit.name, "code": fresh.registered_unit.code})
    household_id = left_household_id if left_household_id is not None else person.household_id
    left = scope_households(Household.objects.filter(pk=household_id, dissolved_on__isnull=True), actor).first() \
        if household_id else None
    if left is not None:
        return redirect("registry:household", number=left.household_no)
    unit_code = person.registered_unit_id
    if unit_code and actor.covers(unit_code) and AdminUnit.objects.filter(code=unit_code).exists():
        return redirect("registry:unit", code=unit_code)
    return redirect("home")
