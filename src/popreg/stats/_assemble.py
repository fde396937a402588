"""The indicator table from the engine's counts (:mod:`popreg.stats.indicators`): rates,
ratios and fertility by the formulas of :mod:`popreg.core.demography`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from popreg.core import demography as demo
from popreg.stats._indicator_defs import COLUMNS, FERTILE_GROUPS, Level, PeriodSpec


def _assemble(
    level: Level,
    periods: Sequence[tuple[int, PeriodSpec]],
    units: pd.DataFrame,
    pop: pd.DataFrame,
    flows: pd.DataFrame,
    mbirths: pd.DataFrame,
) -> pd.DataFrame:
    popw: dict[tuple[int, str], dict[str, Any]] = {
        (int(r["j"]), r["unit_code"]): r for r in pop.fillna(0).to_dict("records")
    }
    fl: dict[tuple[int, str], dict[str, Any]] = {
        (int(r["pidx"]), r["unit_code"]): r for r in flows.fillna(0).to_dict("records")
    }
    mb: dict[tuple[int, str], dict[int | None, float]] = {}
    for r in mbirths.to_dict("records"):
        g = None if pd.isna(r["mgroup"]) else int(r["mgroup"])
        mb.setdefault((int(r["pidx"]), r["unit_code"]), {})[g] = float(r["births"])
    empty: dict[str, Any] = {}

    rows: list[dict[str, Any]] = []
    unit_rows = units.to_dict("records")
    for i, p in periods:
        for u in unit_rows:
            code = u["unit_code"]
            f = fl.get((i, code), empty)
            st = popw.get((i, code), empty)  # boundary i = start, i + 1 = end
            en = popw.get((i + 1, code), empty)

            def c(name: str, d: dict[str, Any] = f) -> int:
                return int(d.get(name, 0) or 0)

            ps, pe = c("total", st), c("total", en)
            avg = demo.average_population(ps, pe)
            births, deaths = c("births"), c("deaths")
            male, female = c("male_births"), c("female_births")
            srb = demo.sex_ratio_at_birth(male, female)
            # ASFR: women-years = mean of start and end female population × period length;
            # births with unknown mother's age are spread in proportion to the known ones.
            mbu = mb.get((i, code), {})
            known = sum(v for k, v in mbu.items() if k is not None)
            unknown = mbu.get(None, 0.0)
            scale = (known + unknown) / known if known > 0 else 0.0
            asfr: list[float | None] = []
            for g in FERTILE_GROUPS:
                wy = (c(f"f{g}", st) + c(f"f{g}", en)) / 2 * p.years
                (a,) = demo.age_specific_fertility([mbu.get(g, 0.0) * scale], [wy])
                asfr.append(a)
            tfr: float | None = None
            if known > 0 or (births == 0 and any(a is not None for a in asfr)):
                tfr = demo.total_fertility_rate(asfr, 5)
            dep = demo.dependency_ratios(c("a0_14", en), c("a15_64", en), c("a65_plus", en))
            row: dict[str, Any] = {
                "level": level,
                "unit_code": code,
                "unit_name": u["unit_name"],
                "parent_code": u["parent_code"],
                "period": p.label,
                "period_start": p.start.isoformat(),
                "period_end": p.end.isoformat(),
                "population_start": ps,
                "population_end": pe,
                "average_population": avg,
                "population_start_male": c("male", st),
                "population_start_female": c("female", st),
                "population_end_male": c("male", en),
                "population_end_female": c("female", en),
                "births": births,
                "male_births": male,
                "female_births": female,
                "births_sex_unknown": births - male - female,
                "deaths": deaths,
                "in_migration": c("move_in") + c("transfer_in"),
                "out_migration": c("move_out") + c("transfer_out"),
                "move_in": c("move_in"),
                "move_out": c("move_out"),
                "transfer_in": c("transfer_in"),
                "transfer_out": c("transfer_out"),
                "enlistments": c("enlistments"),
                "discharges": c("discharges"),
                "other_in": c("other_in"),
                "other_out": c("other_out"),
                "cbr": demo.crude_birth_rate(births, avg),
                "cdr": demo.crude_death_rate(deaths, avg),
                "rni": demo.rate_of_natural_increase(births, deaths, avg),
                "srb": srb.ratio,
                "srb_low": srb.low,
                "srb_high": srb.high,
                "srb_insufficient": srb.insufficient,
                "births_mother_age_unknown": int(unknown),
                "tfr": tfr,
                "population_end_0_14": c("a0_14", en),
                "population_end_15_64": c("a15_64", en),
                "population_end_65_plus": c("a65_plus", en),
                "youth_dependency_ratio": dep.youth,
                "old_age_dependency_ratio": dep.old_age,
                "total_dependency_ratio": dep.total,
            }
            for rt in ("registered", "floating_out", "floating_in", "foreign"):
                row[f"population_start_{rt}"] = c(f"rt_{rt}", st)
                row[f"population_end_{rt}"] = c(f"rt_{rt}", en)
            for g, a in zip(FERTILE_GROUPS, asfr, strict=True):
                row[f"asfr_{g}_{g + 4}"] = a
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))
