"""The population concepts (人口口径): one definition of each, shared by every count.

No Django here.  The registry pages, the API, the person-list exports
(:mod:`popreg.registry.population` builds Django filters from these definitions) and the
statistics engine (:mod:`popreg.stats`, which writes SQL over a snapshot with
:func:`sql_where` and :func:`sql_unit`) all count a unit's people with the definitions
below, so a unit shows one number everywhere.

A person counts in a concept when the record is

- ``active`` (not dead, moved out of the county or deregistered),
- not merged into another record (a merged duplicate is one human counted once), and
- of one of the concept's residence types,

and is counted in the unit given by the concept's unit field: the unit of registration
(户籍地) or the unit of residence (居住地; the unit of registration when it is unknown).
A unit counts everyone whose unit code starts with its code prefix (a village its groups).
docs/indicators.md, "Population concepts", documents the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ConceptKey = Literal["registered", "resident", "actual"]
UnitField = Literal["registered", "residence"]


@dataclass(frozen=True)
class Concept:
    """One population concept: who counts, and in which unit."""

    key: ConceptKey
    zh: str
    en: str
    residence_types: tuple[str, ...]
    unit_field: UnitField

    @property
    def label(self) -> str:
        return f"{self.zh} {self.en}"


#: 户籍人口: people whose 户口 is registered here, wherever they live (流出 included).
REGISTERED = Concept(
    "registered", "户籍人口", "registered population", ("registered", "floating_out"), "registered"
)
#: 常住人口: people usually living here: registered residents, in-migrants and people from
#: outside the mainland; counted where they live.
RESIDENT = Concept(
    "resident", "常住人口", "resident population", ("registered", "floating_in", "foreign"),
    "residence",
)
#: 实有人口: everyone actually living here, whatever the state of the registration: the
#: resident population and the persons whose registration is pending (户口待定).
ACTUAL = Concept(
    "actual", "实有人口", "actual population",
    ("registered", "floating_in", "foreign", "pending"), "residence",
)

CONCEPTS: dict[str, Concept] = {c.key: c for c in (REGISTERED, RESIDENT, ACTUAL)}

#: Status of a counted record.
COUNTED_STATUS = "active"


def concept(key: str) -> Concept:
    """The concept named ``key``; an unknown name is refused with the names to choose from."""
    try:
        return CONCEPTS[key]
    except KeyError:
        names = "、".join(CONCEPTS)
        raise ValueError(
            f"人口口径只能是 {names}，收到 {key!r} / population concept must be one of "
            f"{', '.join(CONCEPTS)}, got {key!r}"
        ) from None


def _col(alias: str, name: str) -> str:
    return f"{alias}.{name}" if alias else name


def sql_types(c: Concept) -> str:
    """``'registered', 'floating_out'``: the residence types as an SQL list body."""
    return ", ".join(f"'{t}'" for t in c.residence_types)


def sql_where(c: Concept, alias: str = "", *, merged_column: bool = True) -> str:
    """SQL condition (snapshot column names) of a person counted in ``c`` now.

    ``merged_column=False`` for a persons table without ``merged_into`` (a synthetic
    snapshot: nothing is merged there)."""
    parts = [
        f"{_col(alias, 'status')} = '{COUNTED_STATUS}'",
        f"{_col(alias, 'residence_type')} IN ({sql_types(c)})",
    ]
    if merged_column:
        parts.append(f"{_col(alias, 'merged_into')} IS NULL")
    return " AND ".join(parts)


def sql_unit(c: Concept, alias: str = "") -> str:
    """SQL expression (snapshot column names) of the unit a person of ``c`` counts in."""
    if c.unit_field == "registered":
        return _col(alias, "registered_unit")
    return f"coalesce({_col(alias, 'residence_unit')}, {_col(alias, 'registered_unit')})"


def counts(
    c: Concept,
    status: str,
    residence_type: str,
    merged_into: object | None = None,
) -> bool:
    """Whether one record with these values counts in ``c`` (plain-Python form)."""
    return status == COUNTED_STATUS and residence_type in c.residence_types and merged_into is None


def unit_of(c: Concept, registered_unit: str, residence_unit: str | None) -> str:
    """The unit one record counts in for ``c``."""
    if c.unit_field == "registered":
        return registered_unit
    return residence_unit or registered_unit
