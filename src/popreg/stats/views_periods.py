"""Closed periods pages: the closings in the jurisdiction, and each unit's closings with the
published figures, the revised ones and the late records; the close form and the
county's approval (see ``docs/periods.md``).

A unit outside the jurisdiction is a 404, like a unit that does not exist.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from popreg.registry.access import Actor, scope_units
from popreg.registry.errors import PermissionDeniedError, RegistryError
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.stats.period_actions import CLOSING_LEVELS, do_approve_period, do_close_period
from popreg.stats.period_models import ClosedPeriod, PeriodState, PublishedFigure
from popreg.stats.periods import FIGURE_KEYS, Revision, revisions

FIGURE_LABELS = {
    "population_start": gettext_lazy("Population at the start"),
    "population_end": gettext_lazy("Population at the end"),
    "average_population": gettext_lazy("Average population"),
    "births": gettext_lazy("Births"),
    "deaths": gettext_lazy("Deaths"),
    "in_migration": gettext_lazy("Moved in"),
    "out_migration": gettext_lazy("Moved out"),
    "cbr": gettext_lazy("Birth rate (‰)"),
    "cdr": gettext_lazy("Death rate (‰)"),
    "rni": gettext_lazy("Natural growth rate (‰)"),
}
POPULATION_LABELS = {"registered": gettext_lazy("Registered population"),
                     "resident": gettext_lazy("Resident population")}  # fmt: skip


class CloseForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period"), max_length=7,
        help_text=gettext_lazy("A year (2024) or a month (2024-03) that has ended."),
    )  # fmt: skip
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)


def _require(actor: Actor, permission: Permission, unit_code: str | None = None) -> None:
    try:
        actor.require(permission, unit_code)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None


def _unit(actor: Actor, code: str) -> AdminUnit:
    return get_object_or_404(scope_units(AdminUnit.objects.select_related("parent"), actor),
                             code=code, level__in=CLOSING_LEVELS)  # fmt: skip


def revision_rows(revs: list[Revision]) -> list[dict[str, Any]]:
    """What the templates show per revision: labels beside the figures."""
    return [{
        "rev": r, "population_label": POPULATION_LABELS.get(r.population, r.population),
        "figures": [(k, FIGURE_LABELS[k], r.figure(k)) for k in FIGURE_KEYS],
    } for r in revs]  # fmt: skip


def unit_revisions(unit_code: str, period: str | None = None) -> list[Revision]:
    """The revisions of a unit's published figures (of one period when given)."""
    qs = PublishedFigure.objects.filter(unit_code=unit_code).select_related("closing")
    if period is not None:
        qs = qs.filter(period=period)
    return revisions(qs.order_by("-period", "population"))


@with_actor
def period_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require(actor, Permission.VIEW_STATISTICS)
    qs = ClosedPeriod.objects.select_related("unit").order_by("state", "-closed_at")
    if actor.prefix:
        qs = qs.filter(unit__code__startswith=actor.prefix)
    return render(request, "stats/period_list.html", {
        "actor": actor, "closings": list(qs[:500]), "can_approve": actor.can(Permission.APPROVE_PERIODS),
        "home": actor.unit_code, "closed_state": PeriodState.CLOSED,
    })  # fmt: skip


@with_actor
def unit_periods(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    _require(actor, Permission.VIEW_STATISTICS)
    unit = _unit(actor, code)
    form = CloseForm(request.POST or None)
    if request.method == "POST":
        _require(actor, Permission.CLOSE_PERIODS, unit.code)
        if form.is_valid():
            try:
                closing = do_close_period(actor, unit.code, form.cleaned_data["period"],
                                          note=form.cleaned_data["note"])  # fmt: skip
            except PermissionDeniedError as err:
                raise PermissionDenied(err.message) from None
            except RegistryError as err:
                form.add_error("period" if err.field in (None, "period", "unit") else err.field, err.message)
            else:
                done = _("Period %(period)s of %(unit)s is closed and its figures are published; the county approves the closing.")  # noqa: E501
                messages.success(request, done % {"period": closing.period, "unit": unit.name})
                return redirect("stats:periods", code=unit.code)
    closings = ClosedPeriod.objects.filter(unit=unit).order_by("-period")
    return render(request, "stats/periods.html", {
        "actor": actor, "unit": unit, "form": form, "closings": closings,
        "rows": revision_rows(unit_revisions(unit.code)),
        "can_close": actor.can(Permission.CLOSE_PERIODS, unit.code),
        "can_approve": actor.can(Permission.APPROVE_PERIODS, unit.code),
        "closed_state": PeriodState.CLOSED,
    })  # fmt: skip


@require_POST
@with_actor
def approve(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    _require(actor, Permission.APPROVE_PERIODS, code)
    unit = _unit(actor, code)
    period = (request.POST.get("period") or "").strip()
    closing = ClosedPeriod.objects.filter(unit=unit, period=period).first()
    if closing is None:
        missing = _("%(unit)s has no closing of the period “%(period)s” to approve: choose one from the list.")
        messages.error(request, missing % {"unit": unit.name, "period": period})
        return redirect("stats:periods", code=unit.code)
    try:
        do_approve_period(actor, closing)
    except PermissionDeniedError as err:
        raise PermissionDenied(err.message) from None
    except RegistryError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, _("The closing of %(period)s of %(unit)s is approved.")
                         % {"period": closing.period, "unit": unit.name})  # fmt: skip
    return redirect("stats:periods", code=unit.code)


def page_revisions(unit_code: str, year: int, population: str) -> list[dict[str, Any]]:
    """The statistics page's revision box: the unit's closed periods of ``year`` (the year
    and its months) in the population shown."""
    qs = (PublishedFigure.objects.filter(unit_code=unit_code, population=population, period__startswith=str(year))
          .select_related("closing", "closing__unit").order_by("period"))  # fmt: skip
    return revision_rows(revisions(qs))


#: Printed labels (reports are Chinese only, for the county's files).
PRINT_LABELS = {
    "population_start": "年初人口", "population_end": "年末人口", "average_population": "平均人口",
    "births": "出生", "deaths": "死亡", "in_migration": "迁入", "out_migration": "迁出",
    "cbr": "出生率(‰)", "cdr": "死亡率(‰)", "rni": "自然增长率(‰)",
}  # fmt: skip
PRINT_STATE = {PeriodState.CLOSED: "已结报，待县级审批", PeriodState.APPROVED: "已结报，已审批"}


def _print_value(value: Any, count: bool) -> Any:
    if value is None:
        return None
    return int(value) if count else round(float(value), 2)


def add_revision_sheet(wb: Any, rows: list[dict[str, Any]]) -> None:
    """A 结报修订 sheet: each closed period's published figures, the revised ones and the
    late records (nothing when no period of the report is closed)."""
    if not rows:
        return
    ws = wb.create_sheet("结报修订")
    for row in rows:
        rev, c = row["rev"], row["rev"].closing
        ws.append([f"{c.period} 结报（{PRINT_STATE.get(c.state, c.state)}）", f"结报人 {c.closed_by_name}",
                   f"公布数来自统计快照 {c.snapshot}", f"修订数来自统计快照 {rev.snapshot or '—'}"])  # fmt: skip
        ws.append(["指标", "公布数", "修订数", "差额"])
        for key, _label, f in row["figures"]:
            ws.append([PRINT_LABELS[key], _print_value(f.published, f.is_count),
                       _print_value(f.revised, f.is_count), _print_value(f.difference, f.is_count)])  # fmt: skip
        ws.append(["迟报记录（结报后登记、发生在期间内）", rev.late_records])
        ws.append([])
    ws.column_dimensions["A"].width = 36
    for col in "BCD":
        ws.column_dimensions[col].width = 30


def with_revision_html(html: str, rows: list[dict[str, Any]]) -> str:
    """The report's HTML with a 结报修订 section before its end (unchanged when no period
    of the report is closed)."""
    if not rows:
        return html
    from html import escape

    parts = ['<section class="revision"><h2>结报修订：公布数与修订数</h2>']
    for row in rows:
        rev, c = row["rev"], row["rev"].closing
        parts.append(f"<p>{escape(c.period)} 结报（{PRINT_STATE.get(c.state, c.state)}），结报人 "
                     f"{escape(c.closed_by_name)}；公布数来自统计快照 {escape(c.snapshot)}，修订数来自统计快照 "
                     f"{escape(rev.snapshot or '—')}；迟报记录 {rev.late_records} 条。</p>")  # fmt: skip
        parts.append("<table><thead><tr><th>指标</th><th>公布数</th><th>修订数</th><th>差额</th></tr></thead><tbody>")
        for key, _label, f in row["figures"]:
            cells = [_print_value(v, f.is_count) for v in (f.published, f.revised, f.difference)]
            parts.append(f"<tr><td>{PRINT_LABELS[key]}</td>"
                         + "".join(f"<td>{'—' if v is None else v}</td>" for v in cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</section>")
    section = "".join(parts)
    end = html.rfind("</body>")
    return html[:end] + section + html[end:] if end >= 0 else html + section
