"""Assessment pages: scorecards and ranking, rule set versions, yearly targets.

Thin views: parse input, start a job or call one action, render.  The scorecards are
computed by an ``assessment`` job (:mod:`popreg.stats.jobs`, started by a POST; the page
shows its progress and its result page the table) from a snapshot under ``$POPREG_HOME/snapshots/`` (chosen on
the page), a stored rule set version and the stored targets, exactly as ``popreg assess``
computes them from the same three inputs (the CSV download holds the same values, below
the export layer's stamp line).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from popreg.core.rules import RuleError, parse_rule_set
from popreg.registry import jobs
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction
from popreg.registry.errors import RegistryError
from popreg.registry.exports import Column, Export, export_response, request_reason
from popreg.registry.job_models import JobState
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission
from popreg.registry.views import with_actor
from popreg.stats import actions
from popreg.stats.assessment import (
    EXTRA_INDICATORS,
    AssessmentError,
    TargetImportError,
    fill_scorecards_workbook,
    fill_target_template,
    preview,
    read_targets,
    to_csv_bytes,
)
from popreg.stats.assessment_text import (
    INDICATOR_LABELS,
    explain_row,
    rule_name,
    rule_summary,
    veto_names,
)
from popreg.stats.forms_assessment import (
    RuleFormSet,
    RuleSetHeaderForm,
    initial_rules,
    stored_indicators,
)
from popreg.stats.forms_assessment import definition as rules_definition
from popreg.stats.indicators import COLUMNS as INDICATOR_COLUMNS
from popreg.stats.jobs import load_assessment
from popreg.stats.models import RuleSetVersion, UnitTarget
from popreg.stats.snapshots import snapshot_path, snapshots

LEVELS = (("village", _("village")), ("township", _("township")), ("county", _("county")))
KNOWN_INDICATORS = sorted(
    {c for c in INDICATOR_COLUMNS if c not in ("level", "unit_code", "unit_name", "parent_code", "period", "period_start", "period_end")}
    | set(EXTRA_INDICATORS)
)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def _float(text: str | None, default: float) -> float:
    try:
        return float(text or default)
    except ValueError:
        return default


def _none(v: Any) -> Any:
    """NaN / NA (no value) as None, for templates."""
    return None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v


@with_actor
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The form; "calculate" (a POST) starts an ``assessment`` job and shows its progress."""
    q = request.POST if request.method == "POST" else request.GET
    snaps = snapshots()
    rule_sets = list(RuleSetVersion.objects.all())
    year = _int(q.get("year"), timezone.localdate().year - 1)
    level = q.get("level") or "village"
    if level not in dict(LEVELS):
        level = "village"
    lagging_percent = _float(q.get("lagging"), 10.0)
    snap_name = q.get("snapshot") or (snaps[0] if snaps else "")
    rs_id = _int(q.get("rules"), rule_sets[0].pk if rule_sets else 0)
    ctx: dict[str, Any] = {
        "snapshots": snaps, "rule_sets": rule_sets, "levels": LEVELS, "year": year, "level": level,
        "lagging": lagging_percent, "snapshot": snap_name, "rules_id": rs_id, "result": None,
    }  # fmt: skip
    if "year" in q:
        snap = snapshot_path(snap_name)
        rs_obj = next((r for r in rule_sets if r.pk == rs_id), None)
        if snap is None or rs_obj is None:
            ctx["error"] = _("Choose a snapshot and a rule set.")
        elif request.method == "POST":
            params = {"snapshot": snap_name, "year": year, "level": level, "rules": rs_obj.pk,
                      "lagging": lagging_percent}  # fmt: skip
            try:
                job = jobs.start_job(actor, "assessment", params, unit_code=actor.unit_code or "")
            except RegistryError as err:
                raise PermissionDenied(err.message) from None
            return redirect("jobs:detail", pk=job.pk)
    return render(request, "stats/assessment/index.html", ctx)


@with_actor
def job_result(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """The scorecards an ``assessment`` job computed (rows within the viewer's jurisdiction;
    the downloads of every unit are for county staff)."""
    job = jobs.job_for(actor, pk)
    if job.kind != "assessment":
        raise Http404
    if job.state != JobState.SUCCEEDED:
        return redirect("jobs:detail", pk=job.pk)
    p = job.params
    rs_obj = RuleSetVersion.objects.filter(pk=p.get("rules")).first()
    result = load_assessment(job.pk, rs_obj.definition) if rs_obj is not None else None
    if result is None:
        raise Http404("评估结果已不存在，请重新计算 / the result is gone; calculate again")
    level, year, snap_name = str(p["level"]), int(p["year"]), str(p["snapshot"])
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        return _scorecards_download(request, actor, result, fmt, level, year, snap_name)
    rows = [{k: _none(v) for k, v in r.items()} for r in result.table.to_dict("records")
            if actor.covers(r["unit_code"]) or actor.covers(r["parent_code"])]
    parent_names = dict(AdminUnit.objects.filter(code__in={r["parent_code"] for r in rows}).values_list("code", "name"))
    for r in rows:
        r["parent_name"] = parent_names.get(r["parent_code"], r["parent_code"])
        r["rules"] = explain_row(result.rule_set, r)
        r["veto_names"] = veto_names(result.rule_set, r["veto_rules"])
    return render(request, "stats/assessment/index.html", {
        "snapshots": snapshots(), "rule_sets": list(RuleSetVersion.objects.all()), "levels": LEVELS,
        "year": year, "level": level, "lagging": p.get("lagging", 10.0), "snapshot": snap_name,
        "rules_id": rs_obj.pk if rs_obj else 0, "result": result, "rows": rows, "job": job,
        "lagging_rows": [r for r in rows if r["lagging"]], "query": "",
        "rule_names": [rule_name(rule) for rule in result.rule_set.rules],
        "full_export": actor.can(Permission.EXPORT_SCORECARDS),
    })  # fmt: skip


def _with_summaries(versions: Any) -> list[RuleSetVersion]:
    """The stored rule sets, each with ``summaries``: its rules in words, for the page."""
    out = list(versions)
    for rs in out:
        try:
            rs.summaries = [rule_summary(r) for r in parse_rule_set(rs.definition).rules]
        except RuleError:
            rs.summaries = []
    return out


def _error_text(exc: AssessmentError) -> str:
    if len(exc.args) == 2:
        return _in_language(str(exc.args[0]), str(exc.args[1]))
    zh, _sep, en = str(exc).partition(" / ")
    return _in_language(zh, en or zh)


def _in_language(zh: str, en: str) -> str:
    return zh if (get_language() or "zh").lower().startswith("zh") else en


def _preview_rows(actor: Actor, definition: dict[str, Any], snap_name: str, year: int, level: str) -> list[dict[str, Any]]:
    """Every unit's score under the rules in the form (not saved), in words."""
    snap = snapshot_path(snap_name)
    if snap is None:
        raise AssessmentError("请选择用于预览的快照", "choose a snapshot for the preview")
    rule_set = parse_rule_set(definition)
    out = []
    for p in preview(snap, year, level, rule_set, actions.target_rows(year, year, actor.prefix)):
        if not (actor.covers(p.unit_code) or actor.covers(p.parent_code)):
            continue
        out.append({"unit_code": p.unit_code, "unit_name": p.unit_name, "total": p.card.total,
                    "max_points": p.card.max_points, "vetoed": p.card.vetoed, "rank": p.rank, "peers": p.peers,
                    "veto_names": veto_names(rule_set, ";".join(p.card.veto_rules)),
                    "rules": explain_row(rule_set, p.columns)})  # fmt: skip
    return out


def _rules_form(request: HttpRequest, actor: Actor, ctx: dict[str, Any], stored: list[RuleSetVersion]) -> HttpResponse | None:
    """The rules form: "preview" scores every unit with the rules as entered; "save" stores
    them as a new version through ``actions.do_save_rule_set`` (audited)."""
    q = request.POST if request.method == "POST" else request.GET
    snaps = snapshots()
    ctx.update(snapshots=snaps, levels=LEVELS, p_snapshot=q.get("p_snapshot") or (snaps[-1] if snaps else ""),
               p_year=_int(q.get("p_year"), timezone.localdate().year - 1), p_level=q.get("p_level") or "village")
    if ctx["p_level"] not in dict(LEVELS):
        ctx["p_level"] = "village"
    latest = None
    if stored:
        try:
            latest = parse_rule_set(stored[0].definition)
        except RuleError:
            latest = None
    kwargs = {"extra_indicators": stored_indicators(latest)}
    if request.method != "POST" or "definition" in request.POST:
        header_initial, rows = initial_rules(latest)
        ctx["header"] = RuleSetHeaderForm(initial=header_initial)
        ctx["formset"] = RuleFormSet(initial=rows, prefix="rule", form_kwargs=kwargs)
        return None
    header = RuleSetHeaderForm(request.POST)
    formset = RuleFormSet(request.POST, prefix="rule", form_kwargs=kwargs)
    ctx["header"], ctx["formset"] = header, formset
    if not ctx["can_edit"]:
        ctx["error"] = _("Your role cannot change the assessment rules.")
        return None
    header_ok, rules_ok = header.is_valid(), formset.is_valid()  # both: every error at once
    if not (header_ok and rules_ok):
        ctx["error"] = _("Some fields need correcting: see the messages next to them.")
        return None
    definition = rules_definition(header, formset)
    if "preview" in request.POST:
        try:
            ctx["preview"] = _preview_rows(actor, definition, ctx["p_snapshot"], ctx["p_year"], ctx["p_level"])
        except RuleError as exc:
            ctx["error"] = _in_language(exc.message_zh, exc.message_en)
        except AssessmentError as exc:
            ctx["error"] = _error_text(exc)
        return None
    try:
        obj = actions.do_save_rule_set(actor, definition)
    except RegistryError as err:
        ctx["error"] = str(err)
        return None
    messages.success(request, _("Rule set saved: %(rule_set)s") % {"rule_set": obj})
    return redirect("assess:rules")


@with_actor
def rule_sets(request: HttpRequest, actor: Actor) -> HttpResponse:
    stored = list(RuleSetVersion.objects.all())
    ctx: dict[str, Any] = {"rule_sets": _with_summaries(stored),
                           "can_edit": actor.can(Permission.MAINTAIN_ASSESSMENT)}
    done = _rules_form(request, actor, ctx, stored)
    if done is not None:
        return done
    if request.method == "POST" and "definition" in request.POST:  # a rule set as JSON (scripts)
        text = request.POST.get("definition", "")
        try:
            obj = actions.do_save_rule_set(actor, text)
        except RegistryError as err:
            ctx["error"] = str(err)
            ctx["definition"] = text
        else:
            messages.success(request, _("Rule set saved: %(rule_set)s") % {"rule_set": obj})
            return redirect("assess:rules")
    return render(request, "stats/assessment/rules.html", ctx)


def _levels_units(actor: Actor) -> dict[str, str]:
    qs = AdminUnit.objects.filter(level__in=("county", "township", "village"))
    if actor.prefix:
        qs = qs.filter(code__startswith=actor.prefix)
    return dict(qs.values_list("code", "name"))


@with_actor
def targets(request: HttpRequest, actor: Actor) -> HttpResponse:
    year = _int(request.GET.get("year") or request.POST.get("year"), timezone.localdate().year)
    # The form offers the indicators by name (those of the rules form); a file may name any
    # indicator column by its code.
    choices = [(code, str(label)) for code, label in INDICATOR_LABELS.items() if code in KNOWN_INDICATORS]
    ctx: dict[str, Any] = {"year": year, "indicators": choices, "can_edit": actor.can(Permission.SET_TARGETS),
                           "errors": []}
    if request.method == "POST":
        if not actor.can(Permission.SET_TARGETS):
            raise PermissionDenied(_("Your role is read-only: it cannot change targets."))
        units = _levels_units(actor)
        upload = request.FILES.get("file")
        try:
            if upload is not None:
                rows = read_targets(upload.read(), upload.name, units=units, indicators=KNOWN_INDICATORS)
                replace = True
            else:  # one row from the form, through the same validation as a file
                p = request.POST
                line = ",".join(str(p.get(k, "")).replace(",", " ") for k in ("year", "unit_code", "indicator", "low", "high", "note"))
                rows = read_targets(("year,unit_code,indicator,low,high,note\n" + line).encode(), "form.csv",
                                    units=units, indicators=KNOWN_INDICATORS)
                replace = False
            n = actions.do_save_targets(actor, rows, replace_year=replace)
        except TargetImportError as err:
            ctx["errors"] = [str(e) for e in err.errors]
        except (AssessmentError, RegistryError) as err:
            ctx["errors"] = [str(err)]
        else:
            messages.success(request, _("Targets saved: %(n)s") % {"n": n})
            return redirect(f"{request.path}?year={rows[0].year if rows else year}")
    qs = UnitTarget.objects.filter(year=year).select_related("unit")
    if actor.prefix:
        qs = qs.filter(unit__code__startswith=actor.prefix)
    rows = list(qs)
    for t in rows:
        label = INDICATOR_LABELS.get(t.indicator)
        t.label = str(label) if label is not None else ""  # type: ignore[attr-defined]
    ctx["targets"] = rows
    return render(request, "stats/assessment/targets.html", ctx)


@with_actor
def target_template_view(request: HttpRequest, actor: Actor) -> HttpResponse:
    year = _int(request.GET.get("year"), timezone.localdate().year)
    level = request.GET.get("level") or "village"
    units = AdminUnit.objects.filter(level=level).order_by("code")
    if actor.prefix:
        units = units.filter(code__startswith=actor.prefix)
    rs = RuleSetVersion.objects.first()
    rule_set = parse_rule_set(rs.definition) if rs else None
    export = Export(
        title=f"年度目标模板 targets template {year}", filename=f"targets-{level}-{year}.xlsx", format="xlsx",
        action=AuditAction.EXPORT_FILE, reason="年度目标模板 targets template",
        xlsx=lambda wb, ctx: fill_target_template(wb, year, units.values_list("code", "name"), rule_set),
        detail={"report": "targets_template", "year": year, "level": level},
    )
    return export_response(actor, export, permission=Permission.VIEW_STATISTICS, unit_code=actor.unit_code,
                           reason=request_reason(request))


def _scorecards_download(request: HttpRequest, actor: Actor, result: Any, fmt: str, level: str, year: int,
                         snapshot: str) -> HttpResponse | StreamingHttpResponse:
    """The scorecards of every unit (county staff only): the CSV carries the same values as
    ``popreg assess --out``, the workbook its three sheets."""
    detail = {"year": year, "level": level, "snapshot": snapshot}
    if fmt == "csv":
        header, *rows = list(csv.reader(io.StringIO(to_csv_bytes(result).decode("utf-8"))))
        export = Export(title=f"考核结果 scorecards {year}", filename=f"scorecards-{level}-{year}.csv", format="csv",
                        action=AuditAction.EXPORT_SCORECARDS, reason="考核结果 scorecards",
                        columns=[Column(h) for h in header], rows=rows, detail=detail)
    else:
        export = Export(title=f"考核结果 scorecards {year}", filename=f"scorecards-{level}-{year}.xlsx", format="xlsx",
                        action=AuditAction.EXPORT_SCORECARDS, reason="考核结果 scorecards",
                        row_count=len(result.table), detail=detail,
                        xlsx=lambda wb, ctx: fill_scorecards_workbook(wb, result, ctx.actor_name))
    return export_response(actor, export, permission=Permission.EXPORT_SCORECARDS, unit_code=None,
                           reason=request_reason(request))
