"""Evaluate a shipped programme for one month over a snapshot (and the family-fact records).

``evaluate_programme`` is deterministic: the same programme document (rules version), the
same snapshot (its manifest's SHA-256) and the same family facts give the same decisions,
row for row.  The benefits app stores the result of a run; the command
``popreg benefits eligibility`` writes it as CSV.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from popreg.benefits.facts import CERTIFICATE_COLUMNS, DISABILITY_COLUMNS, FamilyFacts, build_facts
from popreg.benefits.programmes import load
from popreg.core.eligibility import Programme, evaluate, month_bounds

__all__ = [
    "EvaluationResult", "evaluate_programme", "evaluate_months", "evaluate_facts", "snapshot_digest",
    "family_digest",
]


@dataclass(frozen=True)
class EvaluationResult:
    """Decisions of one programme for one month.

    ``decisions``: one row per person considered, ordered by ``person_id``: ``person_id``,
    ``payee_person_id``, ``eligible`` (bool), ``amount_yuan`` (float, 0 when not eligible),
    ``reasons`` (text, Chinese / English), then one column per condition id with
    ``passed`` / ``failed`` / ``unknown``.
    """

    programme: Programme
    month: date
    decisions: pd.DataFrame
    rules_version: str
    snapshot_sha256: str
    family_sha256: str
    parameters: dict[str, Any]

    @property
    def condition_ids(self) -> list[str]:
        return [c.id for c in self.programme.conditions]


def snapshot_digest(snapshot: str | Path) -> str:
    """SHA-256 of the snapshot's manifest (which holds the checksum of every table)."""
    return hashlib.sha256((Path(snapshot) / "manifest.json").read_bytes()).hexdigest()


def family_digest(family: FamilyFacts | None) -> str:
    """SHA-256 of the family-fact tables in a canonical CSV form (rows sorted)."""
    fam = family or FamilyFacts()
    h = hashlib.sha256()
    for name, frame, cols in (("certificates", fam.certificates, CERTIFICATE_COLUMNS),
                              ("disabilities", fam.disabilities, DISABILITY_COLUMNS)):
        part = frame.loc[:, list(cols)].astype(str).sort_values(list(cols))
        h.update(name.encode())
        h.update(part.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return h.hexdigest()


def evaluate_facts(programme: Programme, month: date, facts: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Decisions of ``programme`` for ``month`` over an already built facts table."""
    ev = evaluate(programme, facts, month)
    frame = ev.frame(facts)
    return frame.sort_values("person_id", kind="stable").reset_index(drop=True), ev.parameters


def evaluate_programme(code: str, month: date, snapshot: Path, family: FamilyFacts | None = None) -> EvaluationResult:
    """Evaluate shipped programme ``code`` for the month of ``month`` over ``snapshot``."""
    programme = load(code)
    start, _ = month_bounds(month)
    facts = build_facts(snapshot, family)
    decisions, parameters = evaluate_facts(programme, start, facts)
    return EvaluationResult(
        programme=programme, month=start, decisions=decisions,
        rules_version=programme.rules_version, snapshot_sha256=snapshot_digest(snapshot),
        family_sha256=family_digest(family), parameters=parameters,
    )


def evaluate_months(code: str, months: list[date], snapshot: Path, family: FamilyFacts | None = None) -> dict[date, EvaluationResult]:
    """:func:`evaluate_programme` for several months over one snapshot, building the facts
    table once (looking back over months already paid, three consecutive months...)."""
    programme = load(code)
    facts = build_facts(snapshot, family)
    digest, fam = snapshot_digest(snapshot), family_digest(family)
    out: dict[date, EvaluationResult] = {}
    for month in months:
        start, _ = month_bounds(month)
        decisions, parameters = evaluate_facts(programme, start, facts)
        out[start] = EvaluationResult(
            programme=programme, month=start, decisions=decisions, rules_version=programme.rules_version,
            snapshot_sha256=digest, family_sha256=fam, parameters=parameters,
        )
    return out
