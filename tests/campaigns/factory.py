"""A hand-built snapshot with one known case per anomaly rule (and near misses).

``EXPECTED`` lists the findings every rule must produce, as (record_id, source, type); all
other records are clean on purpose (each near miss is commented).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from popreg.core.idnumber import compose
from popreg.snapshot import write_snapshot

REF = datetime(2025, 11, 1)
COUNTY = "411122000000"
TOWN_A = "411122100000"
VILLAGE_A = "411122100001"
VILLAGE_A2 = "411122100002"
TOWN_B = "411122101000"
VILLAGE_B = "411122101001"


def _id(birth: date, seq: int, region: str = "411122") -> str:
    return compose(region, birth, seq)


def _bad_check(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def build_rows() -> dict[str, list[dict[str, Any]]]:
    P: list[dict[str, Any]] = []

    def person(pid: int, name: str | None, sex: str | None, birth: date | None, **kw: Any) -> None:
        row = {
            "person_id": pid, "household_id": kw.pop("household_id", pid), "name": name,
            "sex": sex, "birth_date": birth,
            "id_number": kw.pop("id_number", _id(birth, 10 + pid * 2 + (sex == "M")) if birth else None),
            "registered_unit": kw.pop("registered_unit", VILLAGE_A),
            "residence_unit": kw.pop("residence_unit", None),
            "residence_type": kw.pop("residence_type", "registered"),
            "status": kw.pop("status", "active"), "mother_id": kw.pop("mother_id", None),
            "registered_date": kw.pop("registered_date", date(2000, 1, 1)),
            "death_date": kw.pop("death_date", None),
        }
        if row["residence_unit"] is None:
            row["residence_unit"] = row["registered_unit"]
        assert not kw, kw
        P.append(row)

    person(1, "张伟", "M", date(1980, 5, 1))                                   # clean
    person(2, "李娜", "F", date(1985, 2, 3))                                   # clean mother of 21
    person(3, "王芳", "F", date(1950, 7, 9))                                   # death notice DN1 (ID)
    person(4, "赵强", "M", date(1948, 3, 3), id_number=None, registered_unit=VILLAGE_A2)  # DN2 by name
    person(5, "刘洋", "M", date(2003, 4, 4))                                   # enlisted
    person(6, "陈静", "F", date(2002, 6, 6))                                   # enlisted, discharged
    person(7, "杨磊", "M", date(1990, 1, 1), residence_unit=VILLAGE_B)        # living away
    person(8, "黄敏", "F", date(1995, 8, 8), residence_type="pending",
           registered_date=date(2024, 1, 15))                                  # pending 600+ days
    person(9, "周杰", "M", date(1996, 9, 9), residence_type="pending",
           registered_date=date(2025, 9, 1))                                   # pending 61 days: ok
    person(10, "吴刚", "M", date(1970, 10, 10),
           id_number=_bad_check(_id(date(1970, 10, 10), 11)))                  # checksum
    person(11, "徐丽", "F", date(1971, 11, 11), id_number=_id(date(1971, 11, 12), 12))  # birth
    person(12, "孙鹏", "M", date(1972, 12, 12), id_number=_id(date(1972, 12, 12), 14))  # sex
    person(13, "马超", "M", date(2015, 3, 3),
           id_number=_id(date(2015, 3, 3), 15, region="110103"))               # 崇文区 ended 2010
    person(14, "朱红", "F", date(1960, 1, 20), id_number=_id(date(1960, 1, 20), 16))    # duplicate
    person(15, "朱紅", "F", date(1960, 1, 20), id_number=_id(date(1960, 1, 20), 16),
           registered_unit=VILLAGE_B)                                          # duplicate
    person(16, None, "F", date(1975, 5, 5))                                    # missing name
    person(17, "胡小明", "M", date(1988, 5, 5), id_number=None)                # missing ID (adult)
    person(18, "胡小宝", "M", date(2020, 5, 5), id_number=None)                # child: no ID is fine
    person(19, "郭老太", "F", date(1912, 2, 2))                                # age 113
    person(20, "林小", "F", date(2000, 6, 1))                                  # mother aged 12
    person(21, "李小宝", "M", date(2025, 3, 1), mother_id=2, household_id=2)   # HB1's child
    person(22, "高远", "M", date(1999, 9, 9))                                  # future event
    person(23, "罗平", "M", date(1940, 1, 1), status="deceased",
           death_date=date(2023, 1, 1))                                        # DN4, deregistered
    person(24, "林小小", "F", date(2012, 6, 1), mother_id=20)                  # mother 12 at birth
    person(25, "何晓", "F", date(2024, 12, 30), registered_unit=VILLAGE_A2)    # HB4 child, no mother
    person(26, "罗平", "M", date(1940, 1, 1), status="deceased",
           id_number=_id(date(1940, 1, 1), 90))                                # inactive, not a dup
    E = [
        ("enlistment", 5, date(2024, 9, 1)), ("enlistment", 6, date(2020, 9, 1)),
        ("discharge", 6, date(2022, 9, 1)), ("move_in", 22, date(2026, 1, 1)),
        ("birth", 21, date(2025, 3, 1)),
    ]
    events = [
        {"event_id": i + 1, "person_id": pid, "event_type": t, "event_date": d,
         "recorded_date": d, "unit_code": VILLAGE_A, "from_unit": None, "to_unit": None}
        for i, (t, pid, d) in enumerate(E)
    ]
    by_id = {p["person_id"]: p for p in P}
    hospital = [
        # HB1: mother by ID, child registered with mother_id: clean
        {"record_id": "HB000001", "hospital": "县人民医院", "birth_date": date(2025, 3, 2),
         "child_sex": "M", "child_name": None, "mother_name": "李娜",
         "mother_id_number": by_id[2]["id_number"], "mother_birth_date": date(1985, 2, 3),
         "father_name": None, "address_unit": VILLAGE_A},
        # HB2: mother by name + birth date (ID mistyped), no child: unregistered
        {"record_id": "HB000002", "hospital": "县人民医院", "birth_date": date(2025, 7, 1),
         "child_sex": "F", "child_name": None, "mother_name": "李 娜",
         "mother_id_number": "4111221985", "mother_birth_date": date(1985, 2, 3),
         "father_name": None, "address_unit": VILLAGE_A},
        # HB3: unknown mother, no child: unregistered
        {"record_id": "HB000003", "hospital": "县妇幼保健院", "birth_date": date(2025, 5, 5),
         "child_sex": "M", "child_name": None, "mother_name": "外地人",
         "mother_id_number": _id(date(1990, 1, 1), 2, region="110105"),
         "mother_birth_date": date(1990, 1, 1), "father_name": None, "address_unit": VILLAGE_B},
        # HB4: unknown mother, child registered in the village two days off: clean
        {"record_id": "HB000004", "hospital": "县妇幼保健院", "birth_date": date(2025, 1, 1),
         "child_sex": "F", "child_name": "何晓", "mother_name": "何母",
         "mother_id_number": None, "mother_birth_date": date(1992, 1, 1),
         "father_name": None, "address_unit": VILLAGE_A2},
        # HB5: after the reference moment: ignored
        {"record_id": "HB000005", "hospital": "县人民医院", "birth_date": date(2025, 11, 20),
         "child_sex": "M", "child_name": None, "mother_name": "某某",
         "mother_id_number": None, "mother_birth_date": date(1990, 1, 1),
         "father_name": None, "address_unit": VILLAGE_A},
    ]
    deaths = [
        {"record_id": "DN000001", "notifier": "hospital", "name": "王芳", "sex": "F",
         "id_number": by_id[3]["id_number"].lower(), "birth_date": date(1950, 7, 9),
         "death_date": date(2025, 6, 1), "address_unit": VILLAGE_A},
        {"record_id": "DN000002", "notifier": "crematorium", "name": "趙強", "sex": "M",
         "id_number": None, "birth_date": date(1948, 3, 3), "death_date": date(2025, 2, 1),
         "address_unit": VILLAGE_A2},
        {"record_id": "DN000003", "notifier": "civil_affairs", "name": "无名氏", "sex": "M",
         "id_number": None, "birth_date": date(1930, 1, 1), "death_date": date(2025, 3, 1),
         "address_unit": VILLAGE_B},
        {"record_id": "DN000004", "notifier": "hospital", "name": "罗平", "sex": "M",
         "id_number": by_id[23]["id_number"], "birth_date": date(1940, 1, 1),
         "death_date": date(2023, 1, 1), "address_unit": VILLAGE_A},
        # outside the county: not reported when unmatched
        {"record_id": "DN000005", "notifier": "hospital", "name": "路人", "sex": "F",
         "id_number": None, "birth_date": date(1930, 1, 1), "death_date": date(2025, 3, 1),
         "address_unit": "110105001001"},
    ]
    units = [
        (COUNTY, "临颍县", "county", None), (TOWN_A, "城关镇", "township", COUNTY),
        (VILLAGE_A, "东关村民委员会", "village", TOWN_A),
        (VILLAGE_A2, "西关村民委员会", "village", TOWN_A),
        (TOWN_B, "杜曲镇", "township", COUNTY), (VILLAGE_B, "杜曲村民委员会", "village", TOWN_B),
    ]
    return {
        "units": [
            {"unit_code": c, "name": n, "level": lv, "parent_code": p,
             "valid_from": date(2000, 1, 1), "valid_to": None}
            for c, n, lv, p in units
        ],
        "households": [
            {"household_id": p["person_id"], "household_no": f"{p['person_id']:09d}",
             "unit_code": p["registered_unit"], "kind": "family", "address": f"{p['person_id']}号"}
            for p in P
        ],
        "persons": P,
        "events": events,
        "sources/hospital_births": hospital,
        "sources/death_notices": deaths,
    }


EXPECTED = {
    ("3", "registry", "death_not_deregistered"),
    ("4", "registry", "death_not_deregistered"),
    ("DN000003", "death_notices", "death_notice_unmatched"),
    ("5", "registry", "enlisted_not_deregistered"),
    ("7", "registry", "living_away"),
    ("8", "registry", "pending_registration"),
    ("10", "registry", "id_checksum_error"),
    ("11", "registry", "id_birthdate_mismatch"),
    ("12", "registry", "id_sex_mismatch"),
    ("13", "registry", "id_region_invalid"),
    ("14", "registry", "duplicate"),
    ("15", "registry", "duplicate"),
    ("HB000002", "hospital_births", "unregistered_birth"),
    ("HB000003", "hospital_births", "unregistered_birth"),
    ("4", "registry", "missing_field"),
    ("16", "registry", "missing_field"),
    ("17", "registry", "missing_field"),
    ("19", "registry", "implausible_age"),
    ("24", "registry", "implausible_mother_age"),
    ("22", "registry", "future_event"),
}

_TYPES = {
    "units": {"valid_from": pa.date32(), "valid_to": pa.date32(), "parent_code": pa.string()},
    "persons": {"birth_date": pa.date32(), "registered_date": pa.date32(),
                "death_date": pa.date32(), "mother_id": pa.int64(), "id_number": pa.string(),
                "name": pa.string(), "sex": pa.string(), "household_id": pa.int64()},
    "events": {"from_unit": pa.string(), "to_unit": pa.string()},
    "sources/hospital_births": {"child_name": pa.string(), "father_name": pa.string(),
                                "mother_id_number": pa.string()},
    "sources/death_notices": {"id_number": pa.string()},
}


def to_tables(rows: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    tables = {}
    for name, data in rows.items():
        cols = list(data[0])
        arrays = {}
        for c in cols:
            typ = _TYPES.get(name, {}).get(c)
            arrays[c] = pa.array([r[c] for r in data], typ) if typ else pa.array([r[c] for r in data])
        tables[name] = pa.table(arrays)
    return tables


def write_fixture(out: Path, rows: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    write_snapshot(out, to_tables(rows or build_rows()), REF)
    return out
