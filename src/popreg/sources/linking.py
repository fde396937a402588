"""Linking arriving source records to registry persons with the linkage engine.

The engine is the one of ``popreg match`` (:func:`popreg.linkage.sources.match_source`),
run against a snapshot of the live registry: a death notice is linked to the deceased, a
hospital birth to the registered child (through the mother), each spouse of a marriage
registration to the person (the ``persons`` kind of the engine, once per spouse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from popreg.sources.reading import SourceRow

#: kind -> (role, engine kind, {engine column: record column})
ROLE_FRAMES: dict[str, tuple[tuple[str, str, dict[str, str]], ...]] = {
    "death_notices": (("deceased", "death_notices", {
        "name": "name", "sex": "sex", "id_number": "id_number", "birth_date": "birth_date",
        "address_unit": "address_unit",
    }),),
    "hospital_births": (("child", "hospital_births", {
        "birth_date": "birth_date", "child_sex": "child_sex", "child_name": "child_name",
        "mother_name": "mother_name", "mother_id_number": "mother_id_number",
        "mother_birth_date": "mother_birth_date", "address_unit": "address_unit",
    }),),
    "marriages": (
        ("husband", "persons", {"name": "husband_name", "id_number": "husband_id_number",
                                "birth_date": "husband_birth_date", "village_code": "address_unit"}),
        ("wife", "persons", {"name": "wife_name", "id_number": "wife_id_number",
                             "birth_date": "wife_birth_date", "village_code": "address_unit"}),
    ),
}  # fmt: skip
ROLE_SEX = {"husband": "M", "wife": "F"}
ROLES = {kind: tuple(r for r, _k, _c in frames) for kind, frames in ROLE_FRAMES.items()}


@dataclass(frozen=True)
class Proposal:
    record_id: str
    role: str
    person_id: int | None
    probability: float | None
    rule: str


def _frame(kind: str, role: str, columns: dict[str, str], rows: Sequence[SourceRow]) -> pd.DataFrame:
    data: dict[str, list[str]] = {"record_id": [r.record_id for r in rows]}
    for target, source in columns.items():
        data[target] = [r.data.get(source, "") for r in rows]
    if role in ROLE_SEX:
        data["sex"] = [ROLE_SEX[role]] * len(rows)
    return pd.DataFrame(data)


def propose_links(kind: str, rows: Sequence[SourceRow], snapshot_dir: str | Path) -> list[Proposal]:
    """The engine's proposal for every record and role (person None: nobody found)."""
    from popreg.linkage.sources import match_source  # Splink is imported only when linking
    from popreg.snapshot import read_table

    if not rows:
        return []
    has_persons = read_table(snapshot_dir, "persons", columns=["person_id"]).num_rows > 0
    out: list[Proposal] = []
    for role, engine_kind, columns in ROLE_FRAMES[kind]:
        found: dict[str, tuple[int, float | None, str]] = {}
        if has_persons:
            links = match_source(_frame(kind, role, columns, rows), snapshot_dir, kind=engine_kind)
            for rec in links.to_dict("records"):
                pid = str(rec["person_id"] or "")
                if not pid:
                    continue
                prob = rec["match_probability"]
                found[str(rec["record_id"])] = (
                    int(float(pid)), None if prob is None or prob != prob else float(prob), str(rec["rule"] or "")
                )
        for r in rows:
            hit = found.get(r.record_id)
            if hit is None:
                out.append(Proposal(r.record_id, role, None, None, ""))
            else:
                out.append(Proposal(r.record_id, role, hit[0], hit[1], hit[2]))
    return out
