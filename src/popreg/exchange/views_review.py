"""Review queue pages: incoming notifications that found no certain person.

Thin: reads through :mod:`popreg.exchange.review` (scoping: a message outside the
reviewer's jurisdiction is a 404, as if it did not exist), writes through its ``do_*``
actions.  ID numbers are masked unless the reviewer may see full numbers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from popreg.core.privacy import mask_id
from popreg.exchange import review
from popreg.exchange.models import InboxMessage
from popreg.linkage.review import LEVEL_NAMES
from popreg.registry.access import Actor
from popreg.registry.errors import RegistryError
from popreg.registry.models import Person, ResidenceType, Sex
from popreg.registry.policy import Permission
from popreg.registry.views import base_context, with_actor

#: The comparisons shown side by side, in order.
COMPARISONS = [
    ("name", _("Name (characters and pinyin)")),
    ("id_number", _("ID number")),
    ("birth_date", _("Birth date")),
    ("sex", _("Sex")),
]


def _require_reviewer(actor: Actor) -> None:
    if not review.may_review(actor):
        raise PermissionDenied(_("Your role may not decide exchange notifications."))


def _message(actor: Actor, pk: int) -> InboxMessage:
    message = InboxMessage.objects.select_related("person", "reviewed_by").filter(pk=pk).first()
    if message is None or not review.message_in_scope(actor, message):
        raise Http404
    return message


def _id(actor: Actor, number: str | None) -> str:
    if not number:
        return ""
    return number if actor.can(Permission.VIEW_FULL_ID) else mask_id(number)


def _level(label: str) -> str:
    if (get_language() or "").startswith("en"):
        return label
    return LEVEL_NAMES.get(label, label)


def _sex(code: str | None) -> str:
    return str(dict(Sex.choices).get(code or "", code or ""))


def _columns(actor: Actor, message: InboxMessage) -> list[dict[str, Any]]:
    """The candidates side by side (the notification's own values are the first column)."""
    cols = []
    county = actor.can(Permission.MANAGE_EXCHANGE) or actor.county_wide
    for c in message.candidates or []:
        if not county and not actor.covers(str(c.get("registered_unit") or "")):
            continue  # a candidate outside the reviewer's jurisdiction is not shown
        levels = c.get("levels") or {}
        cols.append({
            "person_id": c.get("person_id"),
            "name": c.get("name", ""),
            "id_number": _id(actor, c.get("id_number")),
            "sex": _sex(c.get("sex")),
            "birth_date": c.get("birth_date", ""),
            "registered_unit": c.get("registered_unit", ""),
            "probability": c.get("probability"),
            "levels": [(str(label), _level(str(levels.get(key, "null")))) for key, label in COMPARISONS],
        })  # fmt: skip
    return cols


def _render(request: HttpRequest, actor: Actor, message: InboxMessage, *, error: str = "",
            form: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    found: list[Person] = review.search_people(actor, query, message) if query else []
    subject = message.subject or {}
    return render(request, "exchange/review_detail.html", base_context(
        actor, m=message, open=message.status in review.OPEN,
        subject={"name": subject.get("name", ""), "id_number": _id(actor, subject.get("id_number")),
                 "sex": _sex(subject.get("sex")), "birth_date": subject.get("birth_date", "")},
        payload=message.payload or {}, columns=_columns(actor, message), query=query,
        found=[{"pk": p.pk, "name": p.name, "id_number": _id(actor, p.id_number),
                "sex": _sex(p.sex), "birth_date": p.birth_date,
                "registered_unit": p.registered_unit, "residence_type": p.get_residence_type_display()}
               for p in found],
        wants_in_migrant=message.type in ("whereabouts_confirmed", "record_corrected"),
        floating_in=ResidenceType.FLOATING_IN, error=error, form=form or {},
    ), status=status)  # fmt: skip


@with_actor
def review_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require_reviewer(actor)
    queue = review.review_queue(actor)
    return render(request, "exchange/review.html", base_context(
        actor, queue=queue, decided=review.decided(actor, limit=20),
    ))  # fmt: skip


@with_actor
def review_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _require_reviewer(actor)
    return _render(request, actor, _message(actor, pk))


def _decide(request: HttpRequest, actor: Actor, pk: int, decision: str) -> HttpResponse:
    _require_reviewer(actor)
    message = _message(actor, pk)
    person = request.POST.get("person", "")
    reason = request.POST.get("reason", "")
    try:
        if decision == "accept":
            review.do_accept_candidate(actor, message.pk, person)
        elif decision == "link":
            review.do_link_person(actor, message.pk, person, reason)
        else:
            review.do_reject_message(actor, message.pk, reason)
    except RegistryError as err:
        message.refresh_from_db()
        return _render(request, actor, message, error=err.message,
                       form={"reason": reason, "decision": decision}, status=400)
    return redirect("exchange:review_detail", pk=message.pk)


@require_POST
@with_actor
def review_accept(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _decide(request, actor, pk, "accept")


@require_POST
@with_actor
def review_link(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _decide(request, actor, pk, "link")


@require_POST
@with_actor
def review_reject(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _decide(request, actor, pk, "reject")
