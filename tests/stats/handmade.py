"""A hand-built snapshot of 14 persons whose 2024 indicators are known exactly.

County 411000000000 with townships 001 (villages 001, 002) and 002 (village 001).
Reference moment 2025-11-01; the event history starts in June 2023.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from popreg.snapshot.format import write_snapshot

C, T1, T2 = "411000000000", "411000001000", "411000002000"
V11, V12, V21 = "411000001001", "411000001002", "411000002001"
ELSEWHERE = "110105001001"

UNITS = [
    (C, "示例县", "county", None),
    (T1, "城关镇", "township", C),
    (T2, "东乡", "township", C),
    (V11, "东关村民委员会", "village", T1),
    (V12, "西关村民委员会", "village", T1),
    (V21, "李庄村民委员会", "village", T2),
]

# person_id, sex, birth_date, registered_unit, residence_unit, residence_type, status, mother
PERSONS = [
    (1, "F", date(1995, 6, 15), V11, V11, "registered", "active", None),
    (2, "M", date(1990, 3, 1), V11, V11, "registered", "active", None),
    (3, "M", date(2024, 5, 10), V11, V11, "registered", "active", 1),
    (4, "F", date(1940, 1, 1), V12, V12, "registered", "deceased", None),
    (5, "M", date(1980, 7, 20), V21, V21, "registered", "active", None),
    (6, "F", date(2000, 2, 2), V12, None, "floating_out", "active", None),
    (7, "M", date(1985, 1, 1), ELSEWHERE, V11, "floating_in", "active", None),
    (8, "F", date(1970, 12, 31), V21, V21, "registered", "emigrated", None),
    (9, "M", date(2001, 4, 4), V21, V21, "registered", "active", None),
    (10, "F", date(2024, 11, 11), V21, V21, "registered", "active", None),
    (11, "M", date(1960, 5, 5), V11, V11, "registered", "active", None),
    (12, "M", date(2003, 1, 1), V12, V12, "registered", "deregistered", None),
    (13, "M", date(2025, 2, 2), V11, V11, "registered", "active", 1),
    (14, "F", date(1950, 1, 2), V21, V21, "registered", "deceased", None),
]

# event_id, person_id, event_type, event_date, unit_code, from_unit, to_unit
EVENTS = [
    (1, 14, "death", date(2023, 6, 6), V21, None, None),
    (2, 9, "move_in", date(2024, 2, 2), V21, ELSEWHERE, V21),
    (3, 5, "transfer", date(2024, 3, 3), V12, V12, V21),
    (4, 3, "birth", date(2024, 5, 10), V11, None, None),
    (5, 11, "marriage", date(2024, 6, 1), V11, None, None),
    (6, 4, "death", date(2024, 8, 1), V12, None, None),
    (7, 12, "enlistment", date(2024, 9, 9), V12, None, None),
    (8, 8, "move_out", date(2024, 10, 10), V21, V21, ELSEWHERE),
    (9, 10, "birth", date(2024, 11, 11), V21, None, None),
    (10, 13, "birth", date(2025, 2, 2), V11, None, None),
]


def write_handmade_snapshot(out: Path) -> Path:
    units = pa.table(
        {
            "unit_code": [u[0] for u in UNITS],
            "name": [u[1] for u in UNITS],
            "level": [u[2] for u in UNITS],
            "parent_code": pa.array([u[3] for u in UNITS], pa.string()),
            "valid_from": [date(2000, 1, 1)] * len(UNITS),
            "valid_to": pa.array([None] * len(UNITS), pa.date32()),
        }
    )
    households = pa.table(
        {
            "household_id": pa.array([1], pa.int64()),
            "household_no": ["000000001"],
            "unit_code": [V11],
            "kind": ["family"],
            "address": ["东关村1号"],
        }
    )
    persons = pa.table(
        {
            "person_id": pa.array([p[0] for p in PERSONS], pa.int64()),
            "household_id": pa.array([1] * len(PERSONS), pa.int64()),
            "name": [f"测试{p[0]}" for p in PERSONS],
            "sex": [p[1] for p in PERSONS],
            "birth_date": pa.array([p[2] for p in PERSONS], pa.date32()),
            "id_number": pa.array([None] * len(PERSONS), pa.string()),
            "registered_unit": [p[3] for p in PERSONS],
            "residence_unit": pa.array([p[4] for p in PERSONS], pa.string()),
            "residence_type": [p[5] for p in PERSONS],
            "status": [p[6] for p in PERSONS],
            "mother_id": pa.array([p[7] for p in PERSONS], pa.int64()),
        }
    )
    events = pa.table(
        {
            "event_id": pa.array([e[0] for e in EVENTS], pa.int64()),
            "person_id": pa.array([e[1] for e in EVENTS], pa.int64()),
            "event_type": [e[2] for e in EVENTS],
            "event_date": pa.array([e[3] for e in EVENTS], pa.date32()),
            "recorded_date": pa.array([e[3] for e in EVENTS], pa.date32()),
            "unit_code": [e[4] for e in EVENTS],
            "from_unit": pa.array([e[5] for e in EVENTS], pa.string()),
            "to_unit": pa.array([e[6] for e in EVENTS], pa.string()),
        }
    )
    write_snapshot(
        out,
        {"units": units, "households": households, "persons": persons, "events": events},
        datetime(2025, 11, 1),
    )
    return out
