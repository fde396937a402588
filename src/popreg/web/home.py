"""The home page (``/``): the user's open work and the jurisdiction's headline figures.

It lives in ``popreg.web``, the top layer, because it gathers work from every area
(registry, linkage, campaigns, benefits, migrants, exchange): a lower layer may not
import these.  Each item of open work is a count with a link to the page where the work
is done, shown only to a role that holds the permission that page needs, and counted
within the user's jurisdiction with the area's own scoped query.

Headline figures: the registered (户籍) and resident (常住) population and the households
of the jurisdiction (one definition each, :mod:`popreg.registry.population`), and this
year's births and deaths so far (registry events of the year up to today).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from popreg.registry import population
from popreg.registry.access import Actor, scope_households
from popreg.registry.forms import SearchForm
from popreg.registry.models import AdminUnit, Event, EventType, Household, Role
from popreg.registry.policy import Permission
from popreg.registry.views import base_context, with_actor


@dataclass(frozen=True)
class Work:
    """One kind of open work: how many, what, and where it is done."""

    key: str
    count: int
    label: str
    url: str


def jurisdiction_unit(actor: Actor) -> AdminUnit | None:
    unit = AdminUnit.objects.filter(code=actor.unit_code).first() if actor.unit_code else None
    if unit is None and actor.prefix == "":
        unit = AdminUnit.objects.filter(level="county").order_by("code").first()
    return unit


def _under(field: str, prefix: str) -> Q:
    return Q(**{f"{field}__startswith": prefix}) if prefix else Q()


def rectification_work(actor: Actor) -> list[Work]:
    """Open rectification items of each campaign still running, per campaign."""
    if not any(actor.can(p) for p in (Permission.CAMPAIGN_FIELDWORK, Permission.MANAGE_CAMPAIGNS,
                                        Permission.CAMPAIGN_ACCEPTANCE)):
        return []
    from popreg.campaigns.models import ItemStatus, Phase
    from popreg.campaigns.queries import campaigns_for, items_for

    out = []
    for c in campaigns_for(actor):
        if c.phase == Phase.CLOSED:
            continue
        n = items_for(c, actor).filter(status__in=(ItemStatus.OPEN, ItemStatus.IN_PROGRESS)).count()
        out.append(Work(f"rectification-{c.pk}", n,
                        _("Rectification items open in %(campaign)s") % {"campaign": c.name},
                        reverse("campaigns:items", args=[c.pk]) + "?status=open"))
    return out


def duplicate_work(actor: Actor) -> list[Work]:
    if not actor.can(Permission.REVIEW_DUPLICATES):
        return []
    from popreg.linkage import review

    return [Work("duplicates", review.candidates(actor).count(), _("Suspected duplicate pairs to review"),
                 reverse("linkage:index"))]


def objection_work(actor: Actor) -> list[Work]:
    if not actor.can(Permission.PREPARE_BENEFITS):  # who resolves an objection
        return []
    from popreg.benefits.models import Objection, ObjectionStatus

    n = Objection.objects.filter(_under("decision__unit_code", actor.prefix), status=ObjectionStatus.OPEN).count()
    return [Work("objections", n, _("Benefit objections waiting to be resolved"), reverse("benefits:index"))]


def permit_work(actor: Actor, today: date) -> list[Work]:
    if not actor.can(Permission.VIEW_REGISTRY) or not actor.can(Permission.MANAGE_MIGRANTS):
        return []
    from popreg.migrants.actions import RENEWAL_WINDOW_DAYS
    from popreg.migrants.queries import permits_expiring

    n = permits_expiring(actor, today).count()
    return [Work("permits", n, _("Residence permits expiring within %(days)s days") % {"days": RENEWAL_WINDOW_DAYS},
                 reverse("migrants:permits_expiring"))]


def exchange_work(actor: Actor) -> list[Work]:
    from popreg.exchange import review

    if not review.may_review(actor):
        return []
    return [Work("exchange", review.open_count(actor), _("Notifications from other counties to review"),
                 reverse("exchange:review"))]


def source_work(actor: Actor) -> list[Work]:
    from popreg.sources.queries import review_queue

    if not actor.can(Permission.REVIEW_SOURCES):
        return []
    return [Work("sources", review_queue(actor).count(), _("Outside-source records to link"),
                 reverse("sources:review"))]


def open_work(actor: Actor, today: date) -> list[Work]:
    """Every kind of open work the actor's role may see, in the order of the page."""
    return [*rectification_work(actor), *duplicate_work(actor), *objection_work(actor),
            *permit_work(actor, today), *exchange_work(actor), *source_work(actor)]


def headline(actor: Actor, unit: AdminUnit, today: date) -> dict[str, Any]:
    """The jurisdiction's figures: population, households, births and deaths this year."""
    prefix = population.prefix_of(unit)
    figures = population.figures(unit)
    start = today.replace(month=1, day=1)
    events = Event.objects.filter(_under("unit_code", prefix), event_date__gte=start, event_date__lte=today,
                                  person__merged_into__isnull=True)
    households = scope_households(Household.objects.filter(_under("unit_id", prefix), dissolved_on__isnull=True),
                                  actor)
    return {
        "registered": figures["registered"], "resident": figures["resident"],
        "households": households.count(),
        "births": events.filter(event_type=EventType.BIRTH).count(),
        "deaths": events.filter(event_type=EventType.DEATH).count(),
        "year": today.year, "today": today,
    }


@with_actor
def home(request: HttpRequest, actor: Actor) -> HttpResponse:
    today = timezone.localdate()
    unit = jurisdiction_unit(actor)
    work = open_work(actor, today)
    return render(request, "registry/home.html", base_context(
        actor, unit=unit, role_label=str(dict(Role.choices).get(actor.role, actor.role)), form=SearchForm(),
        work=work, work_total=sum(w.count for w in work),
        figures=headline(actor, unit, today) if unit is not None and actor.can(Permission.VIEW_REGISTRY) else None,
    ))
