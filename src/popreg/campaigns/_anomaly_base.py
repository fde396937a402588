"""What the anomaly rules and their runner share: the finding, the rule context, and the
normalisation and ID number checks of the fallback matching.

A leaf of :mod:`popreg.campaigns.anomalies` (the runner) and
:mod:`popreg.campaigns._anomaly_rules` (the rules): both import it, it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from popreg.core import idnumber, names

#: Sex codes of the registry (popreg.registry.models.Sex); the rules read snapshots, not models.
_SEXES = ("M", "F")


@dataclass(frozen=True)
class Finding:
    """One anomaly on one record.

    ``record_id`` is a person_id for source ``registry`` and the source's record_id
    otherwise.  ``person_id`` is the registry person concerned (for a source record: the
    person it was linked to, if any); ``unit_code`` the unit the finding belongs to
    (registered unit, or the stated address of a source record).
    """

    record_id: str
    source: str
    anomaly_type: str
    detail: str
    person_id: int | None = None
    unit_code: str | None = None
    scope_units: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def as_row(self) -> dict[str, str]:
        return {
            "record_id": self.record_id,
            "source": self.source,
            "anomaly_type": self.anomaly_type,
            "detail": self.detail,
        }


# ---------------------------------------------------------------------------------------
# normalisation used by the fallback matching


def normalize_id_number(value: str | None) -> str | None:
    """Compact form for exact matching (``popreg.core.idnumber.normalize``); a legacy
    15-digit number becomes 18 characters.  None for an empty value."""
    if value is None:
        return None
    s = idnumber.normalize(value)
    if len(s) == 15 and s.isascii() and s.isdigit():
        s = idnumber.upgrade_15_to_18(s)
    return s or None


def normalize_name(value: str | None) -> str | None:
    """``popreg.core.names.normalize_name``, with None for an empty name."""
    return names.normalize_name(value) or None


# ---------------------------------------------------------------------------------------
# ID number checks

#: core.idnumber problem codes -> anomaly type.  A number whose format or check character
#: is wrong gets only ``id_checksum_error``: its other parts cannot be trusted.
_ID_FORMAT_CODES = {"length", "characters", "checksum"}
_ID_CODE_TYPES = {
    "birth_date_invalid": "id_birthdate_mismatch",
    "birth_date_mismatch": "id_birthdate_mismatch",
    "sex_mismatch": "id_sex_mismatch",
    "region_unknown": "id_region_invalid",
    "region_not_valid_at_birth": "id_region_invalid",
}


def id_number_problems(
    id_number: str, birth_date: date | None, sex: str | None, today: date | None = None
) -> list[tuple[str, str]]:
    """(anomaly_type, Chinese detail) for one recorded ID number; empty when consistent."""
    check = idnumber.validate(
        id_number, birth_date=birth_date, sex=sex if sex in _SEXES else None, today=today
    )
    if check.ok:
        return []
    formal = [p for p in check.problems if p.code in _ID_FORMAT_CODES]
    if formal:
        return [("id_checksum_error", f"身份证号“{id_number}”：{formal[0].message_zh}")]
    out: list[tuple[str, str]] = []
    for problem in check.problems:
        anomaly_type = _ID_CODE_TYPES.get(problem.code)
        if anomaly_type is None:
            continue  # birth_date_future: the future_event rule reports dates
        if (
            problem.code == "region_not_valid_at_birth"
            and check.birth_date is not None
            and not _region_retired_before(check.number[:6], check.birth_date)
        ):
            continue
        out.append((anomaly_type, problem.message_zh))
    return out


def _region_retired_before(code: str, birth: date) -> bool:
    """True when every period of use of the region code ended before the birth year.

    A code that came into use only after the birth year is accepted: numbers were first
    issued in 1984 and are often issued years after birth with the code of that time, so
    the strict core check would flag most people born before their county's current code.
    """
    periods = idnumber.region_periods(code)
    if periods is None:
        return True
    return all(p.end_year is not None and p.end_year < birth.year for p in periods)


@dataclass
class RuleContext:
    """What every rule reads: the DuckDB connection with the snapshot's views, the reference
    moment, what the snapshot holds, and a cache shared by the rules of one run."""

    con: duckdb.DuckDBPyConnection
    ref: datetime
    pending_days: int
    person_columns: set[str]
    has_hospital_births: bool
    has_death_notices: bool
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def ref_date(self) -> date:
        # the reference moment is 00:00 of a day: events of that day are after it
        return self.ref.date() if self.ref.time() != datetime.min.time() else self.ref.date() - timedelta(days=1)

    @property
    def ref_day(self) -> date:
        """The day of the reference moment: ages and durations are counted up to it."""
        return self.ref.date()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()
