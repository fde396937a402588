"""Every write to the planning settings: scenarios, norms and stated figures.

Each ``do_*`` function is atomic, requires ``maintain_planning`` (county-wide), validates
its input (a refusal names the field, in Chinese and English, and changes nothing) and
writes one audit record with the values before and after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from popreg.planning.models import FigureKind, Norm, NormKey, Scenario, StatedFigure
from popreg.registry.access import Actor
from popreg.registry.audit import AuditAction, audit
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit
from popreg.registry.policy import Permission


class PlanningError(RegistryError):
    """A refused planning write."""


def _user(actor: Actor) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None


def _number(value: Any, field: str, zh: str, en: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PlanningError(f"{zh}须为数字", f"{en} must be a number", field) from None
    if not low <= number <= high:
        raise PlanningError(
            f"{zh}须在 {low:g} 与 {high:g} 之间",
            f"{en} must lie between {low:g} and {high:g}",
            field,
        )
    return number


def _scenario_values(scenario: Scenario) -> dict[str, Any]:
    return {
        "code": scenario.code,
        "name_zh": scenario.name_zh,
        "name_en": scenario.name_en,
        "tfr_offset": scenario.tfr_offset,
        "tfr_target": scenario.tfr_target,
        "path_years": scenario.path_years,
        "e0_gain_per_year": scenario.e0_gain_per_year,
        "migration_factor": scenario.migration_factor,
    }


@transaction.atomic
def do_save_scenario(
    actor: Actor,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    tfr_offset: Any,
    tfr_target: Any,
    path_years: Any,
    e0_gain_per_year: Any,
    migration_factor: Any,
) -> Scenario:
    """Create or change the scenario ``code``."""
    actor.require(Permission.MAINTAIN_PLANNING)
    code = (code or "").strip()
    if (
        not code
        or len(code) > 20
        or not code.replace("_", "").replace("-", "").isalnum()
        or not code.isascii()
    ):
        raise PlanningError(
            "方案代码须为 1–20 个英文字母、数字、-或_",
            "scenario code: 1–20 letters, digits, - or _",
            "code",
        )
    name_zh, name_en = (name_zh or "").strip(), (name_en or "").strip()
    if not name_zh or not name_en or len(name_zh) > 40 or len(name_en) > 40:
        raise PlanningError(
            "方案名称（中文和英文）不能为空，最多 40 字",
            "scenario names (Chinese and English): 1–40 characters",
            "name_zh",
        )
    offset = _number(tfr_offset or 0, "tfr_offset", "总和生育率变化", "TFR change", low=-3, high=3)
    target = None
    if tfr_target not in (None, ""):
        target = _number(tfr_target, "tfr_target", "总和生育率目标", "TFR target", low=0, high=8)
    years = _number(
        path_years or 1, "path_years", "达到目标的年数", "years to reach the target", low=1, high=50
    )
    if years != int(years):
        raise PlanningError(
            "达到目标的年数须为整数",
            "years to reach the target must be a whole number",
            "path_years",
        )
    gain = _number(
        e0_gain_per_year or 0,
        "e0_gain_per_year",
        "预期寿命年增幅",
        "life expectancy gain",
        low=-1,
        high=1,
    )
    factor = _number(
        migration_factor or 0,
        "migration_factor",
        "净迁移倍数",
        "net migration factor",
        low=0,
        high=5,
    )
    scenario = Scenario.objects.select_for_update().filter(code=code).first()
    before = _scenario_values(scenario) if scenario is not None else None
    if scenario is None:
        scenario = Scenario(code=code, position=Scenario.objects.count())
    scenario.name_zh, scenario.name_en = name_zh, name_en
    scenario.tfr_offset, scenario.tfr_target, scenario.path_years = offset, target, int(years)
    scenario.e0_gain_per_year, scenario.migration_factor = gain, factor
    scenario.updated_by = _user(actor)
    scenario.save()
    audit(
        actor,
        AuditAction.PLANNING_SAVE_SCENARIO,
        scenario,
        before=before,
        after=_scenario_values(scenario),
    )
    return scenario


@transaction.atomic
def do_save_norm(actor: Actor, *, key: str, value: Any, valid_from: Any, source: str) -> Norm:
    """Record a norm in force from ``valid_from`` (a new date is a new version; the same
    date replaces the value)."""
    actor.require(Permission.MAINTAIN_PLANNING)
    if key not in NormKey.values:
        raise PlanningError("请选择规划标准", "choose a norm", "key")
    number = _number(value, "value", "标准值", "the value", low=0, high=1_000_000)
    day = _date(valid_from, "valid_from", "生效日期", "valid from")
    source = (source or "").strip()
    if not source or len(source) > 300:
        raise PlanningError(
            "请填写来源（文件名称、文号或出处，最多 300 字）",
            "give the source (document, number or origin; at most 300 characters)",
            "source",
        )
    norm = Norm.objects.select_for_update().filter(key=key, valid_from=day).first()
    before = {"value": norm.value, "source": norm.source} if norm is not None else None
    if norm is None:
        norm = Norm(key=key, valid_from=day)
    norm.value, norm.source, norm.updated_by = number, source, _user(actor)
    norm.save()
    audit(actor, AuditAction.PLANNING_SAVE_NORM, norm, before=before,
          after={"key": key, "value": number, "valid_from": day.isoformat(), "source": source})  # fmt: skip
    return norm


@transaction.atomic
def do_save_figure(
    actor: Actor, *, kind: str, unit_code: str, year: Any, value: Any, source: str
) -> StatedFigure:
    """Record a figure another office states (harvest, school places, beds, area)."""
    actor.require(Permission.MAINTAIN_PLANNING)
    if kind not in FigureKind.values:
        raise PlanningError("请选择数据项", "choose a figure", "kind")
    unit = AdminUnit.objects.filter(code=(unit_code or "").strip()).first()
    if unit is None:
        raise PlanningError(
            f"单位代码 {unit_code} 不存在", f"unit code {unit_code} does not exist", "unit_code"
        )
    actor.require(Permission.MAINTAIN_PLANNING, unit.code)
    y = _number(year, "year", "年份", "the year", low=1949, high=2100)
    if y != int(y):
        raise PlanningError("年份须为整数", "the year must be a whole number", "year")
    number = _number(value, "value", "数值", "the value", low=0, high=1e13)
    source = (source or "").strip()
    if not source or len(source) > 300:
        raise PlanningError(
            "请填写来源（最多 300 字）", "give the source (at most 300 characters)", "source"
        )
    fig = StatedFigure.objects.select_for_update().filter(kind=kind, unit=unit, year=int(y)).first()
    before = {"value": fig.value, "source": fig.source} if fig is not None else None
    if fig is None:
        fig = StatedFigure(kind=kind, unit=unit, year=int(y))
    fig.value, fig.source, fig.updated_by = number, source, _user(actor)
    fig.save()
    audit(actor, AuditAction.PLANNING_SAVE_FIGURE, fig, unit_code=unit.code, before=before,
          after={"kind": kind, "unit": unit.code, "year": int(y), "value": number, "source": source})  # fmt: skip
    return fig


def _date(value: Any, field: str, zh: str, en: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise PlanningError(
            f"{zh}须为日期，如 2026-01-01", f"{en} must be a date such as 2026-01-01", field
        ) from None
