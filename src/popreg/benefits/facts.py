"""Facts the benefit rules read: one row per person, built from a snapshot.

The registry side comes from a snapshot directory (``popreg.snapshot.connect``, DuckDB);
family facts the registry does not hold (only-child certificates, disability grades) come
in as :class:`FamilyFacts`, two DataFrames the benefits app exports from its own records
with exactly these columns:

``certificates``
    ``person_id`` (int64, the holder: a parent), ``kind`` (str, e.g. ``only_child``),
    ``number`` (str), ``issued_date`` (date), ``child_person_id`` (int64, nullable).
``disabilities``
    ``person_id`` (int64), ``grade`` (int, 1 = most severe .. 4), ``recorded_date`` (date).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CERTIFICATE_COLUMNS: tuple[str, ...] = (
    "person_id", "kind", "number", "issued_date", "child_person_id",
)
DISABILITY_COLUMNS: tuple[str, ...] = ("person_id", "grade", "recorded_date")

#: ``kind`` of an only-child parents' certificate (独生子女父母光荣证).
ONLY_CHILD_CERTIFICATE = "only_child"


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})


@dataclass(frozen=True)
class FamilyFacts:
    """Family facts recorded by the benefits office (not in the registry snapshot)."""

    certificates: pd.DataFrame = field(default_factory=lambda: _empty(CERTIFICATE_COLUMNS))
    disabilities: pd.DataFrame = field(default_factory=lambda: _empty(DISABILITY_COLUMNS))

    def __post_init__(self) -> None:
        for name, frame, columns in (
            ("certificates", self.certificates, CERTIFICATE_COLUMNS),
            ("disabilities", self.disabilities, DISABILITY_COLUMNS),
        ):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"家庭信息表 {name} 缺少列 {', '.join(missing)}；"
                    f"family-fact table {name} lacks columns {', '.join(missing)}: "
                    f"export it with columns {', '.join(columns)}"
                )
