"""Indicators of migration for a unit (and its child units), from the live records.

- in-migrants living in the unit (active records), by province of origin, length of stay,
  age group and sex;
- out-migrants registered in the unit (``floating_out``), by province of destination, time
  recorded away, age group and sex; the whereabouts-known rate (confirmed within 12 months);
- residence permits: issued in the year, valid at the date, expiring within 30 days,
  refused applications in the year.

Durations: an in-migrant's stay runs from the arrival date; an out-migrant's time away from
the day the out-migrant record was made (the registry does not know when they left).
Ages are full years at the date.  Figures are counted with pandas over one query per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.utils.translation import gettext

from popreg.core import idnumber
from popreg.migrants.actions import RENEWAL_WINDOW_DAYS, WHEREABOUTS_STALE_DAYS
from popreg.migrants.models import InMigrantStatus, PermitStatus
from popreg.migrants.queries import in_migrants, out_migrants, permits
from popreg.registry.access import Actor
from popreg.registry.models import AdminUnit

#: Length of stay (in) or time away (out), in days: label key → [low, high).
DURATION_BANDS = (("lt6m", 0, 183), ("6m_1y", 183, 365), ("1y_3y", 365, 1096), ("3y_plus", 1096, 10**6))
AGE_BANDS = (("0_14", 0, 15), ("15_59", 15, 60), ("60_plus", 60, 200))


def province_of(code: object) -> str:
    """The province (2-digit code + name) of a division code; "" when unknown."""
    if not isinstance(code, str) or len(code) < 2 or not code[:2].isdigit():
        return ""
    name = idnumber.region_name(code[:2] + "0000")
    return name or code[:2]


def _band(days: float | None, bands: tuple[tuple[str, int, int], ...]) -> str:
    if days is None or pd.isna(days):
        return "unknown"
    for key, lo, hi in bands:
        if lo <= days < hi:
            return key
    return "unknown"


def _age(birth: date | None, at: date) -> int | None:
    if birth is None:
        return None
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def _level_below(parent: AdminUnit | None) -> str:
    return {"county": "township", "township": "village"}.get(parent.level if parent else "", "village")


@dataclass
class Breakdown:
    total: int = 0
    by_place: dict[str, int] = field(default_factory=dict)  # province of origin / destination
    by_duration: dict[str, int] = field(default_factory=dict)
    by_age_sex: dict[str, dict[str, int]] = field(default_factory=dict)  # age band → {M, F}
    by_child: dict[str, int] = field(default_factory=dict)  # child unit code → count


def _breakdown(df: pd.DataFrame, place_col: str, child_units: list[str], parent: AdminUnit | None,
               unit_col: str) -> Breakdown:
    out = Breakdown(total=len(df))
    if df.empty:
        return out
    out.by_place = {k: int(v) for k, v in df[place_col].map(province_of).replace("", gettext("unknown"))
                    .value_counts().sort_values(ascending=False).items()}  # fmt: skip
    out.by_duration = {k: int(df["duration"].eq(k).sum()) for k, _, _ in DURATION_BANDS}
    out.by_duration["unknown"] = int(df["duration"].eq("unknown").sum())
    for key, _, _ in AGE_BANDS:
        part = df[df["age_band"] == key]
        out.by_age_sex[key] = {"M": int((part["sex"] == "M").sum()), "F": int((part["sex"] == "F").sum())}
    if child_units:
        level = _level_below(parent)
        lengths = {"township": 9, "village": 12}
        n = lengths.get(level, 12)
        counts = df[unit_col].fillna("").str[:n].value_counts()
        out.by_child = {c: int(counts.get(c[:n], 0)) for c in child_units}
    return out


@dataclass
class MigrationIndicators:
    unit: AdminUnit | None
    as_of: date
    year: int
    children: list[AdminUnit]
    inflow: Breakdown
    outflow: Breakdown
    out_known: int
    permits_issued_year: int
    permits_valid: int
    permits_expiring: int
    permits_refused_year: int

    @property
    def known_rate(self) -> float | None:
        """Share of out-migrants whose whereabouts were confirmed within 12 months (%)."""
        return round(100 * self.out_known / self.outflow.total, 1) if self.outflow.total else None


def compute(actor: Actor, unit: AdminUnit | None, as_of: date) -> MigrationIndicators:
    code = unit.code if unit is not None else None
    children = list(AdminUnit.objects.filter(parent=unit).exclude(level="external").order_by("code")) if unit else []
    child_codes = [c.code for c in children]
    ins = pd.DataFrame.from_records(
        in_migrants(actor, code).values_list("origin_code", "arrival_date", "residence_unit_id",
                                             "person__sex", "person__birth_date"),
        columns=["origin", "arrival", "unit", "sex", "birth"])
    if not ins.empty:
        ins["duration"] = [_band((as_of - a).days if a else None, DURATION_BANDS) for a in ins["arrival"]]
        ins["age_band"] = [_band(_age(b, as_of), AGE_BANDS) for b in ins["birth"]]
    outs = pd.DataFrame.from_records(
        out_migrants(actor, code).values_list("residence_unit_id", "out_migration__destination_code",
                                              "out_migration__created_at", "out_migration__last_confirmed",
                                              "registered_unit_id", "sex", "birth_date"),
        columns=["residence", "destination", "since", "confirmed", "unit", "sex", "birth"])
    known = 0
    if not outs.empty:
        outs["dest"] = outs["destination"].where(outs["destination"].fillna("") != "", outs["residence"])
        outs["duration"] = [_band((as_of - s.date()).days if s is not None and not pd.isna(s) else None,
                                  DURATION_BANDS) for s in outs["since"]]
        outs["age_band"] = [_band(_age(b, as_of), AGE_BANDS) for b in outs["birth"]]
        cutoff = as_of - timedelta(days=WHEREABOUTS_STALE_DAYS)
        known = int(sum(1 for c in outs["confirmed"] if c is not None and not pd.isna(c) and c >= cutoff))
    else:
        outs["dest"] = []
    ps = permits(actor, code)
    year_start, year_end = date(as_of.year, 1, 1), date(as_of.year, 12, 31)
    return MigrationIndicators(
        unit=unit, as_of=as_of, year=as_of.year, children=children,
        inflow=_breakdown(ins, "origin", child_codes, unit, "unit"),
        outflow=_breakdown(outs, "dest", child_codes, unit, "unit"),
        out_known=known,
        permits_issued_year=ps.filter(status=PermitStatus.ISSUED, issue_date__range=(year_start, year_end)).count(),
        permits_valid=ps.filter(status=PermitStatus.ISSUED, issue_date__lte=as_of, expiry_date__gte=as_of,
                                in_migrant__status=InMigrantStatus.ACTIVE).count(),
        permits_expiring=ps.filter(status=PermitStatus.ISSUED, in_migrant__status=InMigrantStatus.ACTIVE,
                                   expiry_date__gte=as_of,
                                   expiry_date__lte=as_of + timedelta(days=RENEWAL_WINDOW_DAYS)).count(),
        permits_refused_year=ps.filter(status=PermitStatus.REFUSED,
                                       applied_on__range=(year_start, year_end)).count(),
    )  # fmt: skip


def chart_data(ind: MigrationIndicators, labels: dict[str, Any]) -> dict[str, Any]:
    """The JSON the page's charts read (popreg/migrants-charts.js)."""
    dur_keys = [k for k, _, _ in DURATION_BANDS] + ["unknown"]
    age_keys = [k for k, _, _ in AGE_BANDS]
    return {
        "labels": labels,
        "durations": [labels["duration"][k] for k in dur_keys],
        "in_duration": [ind.inflow.by_duration.get(k, 0) for k in dur_keys],
        "out_duration": [ind.outflow.by_duration.get(k, 0) for k in dur_keys],
        "ages": [labels["age"][k] for k in age_keys],
        "in_male": [ind.inflow.by_age_sex.get(k, {}).get("M", 0) for k in age_keys],
        "in_female": [ind.inflow.by_age_sex.get(k, {}).get("F", 0) for k in age_keys],
        "out_male": [ind.outflow.by_age_sex.get(k, {}).get("M", 0) for k in age_keys],
        "out_female": [ind.outflow.by_age_sex.get(k, {}).get("F", 0) for k in age_keys],
        "origins": list(ind.inflow.by_place)[:10], "origin_counts": list(ind.inflow.by_place.values())[:10],
        "destinations": list(ind.outflow.by_place)[:10],
        "destination_counts": list(ind.outflow.by_place.values())[:10],
        "children": [c.name for c in ind.children],
        "child_in": [ind.inflow.by_child.get(c.code, 0) for c in ind.children],
        "child_out": [ind.outflow.by_child.get(c.code, 0) for c in ind.children],
    }  # fmt: skip
