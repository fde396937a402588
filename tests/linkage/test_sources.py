"""``popreg match``: death notices and hospital births against a small snapshot."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.core.idnumber import compose
from popreg.linkage.sources import _clerical_births, match_source
from popreg.linkage.testdata import generate_records, with_errors
from popreg.snapshot import write_snapshot

ERRORS = ["traditional", "homophone", "space", "id_typo", "id_transpose", "id_missing",
          "id15", "dob_pm1day", "dob_swap", "fullwidth"]  # fmt: skip


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    rng = random.Random(5)
    base = generate_records(2500, seed=8)
    people = base[base["errors"] == ""].drop_duplicates("entity_id").reset_index(drop=True)
    people = people[people["id_number"] != ""].reset_index(drop=True)
    households = {h: i + 1 for i, h in enumerate(sorted(people["household_no"].unique()))}
    persons = pd.DataFrame(
        {
            "person_id": range(1, len(people) + 1),
            "household_id": people["household_no"].map(households),
            "name": people["name"],
            "sex": people["sex"],
            "birth_date": [date.fromisoformat(d) for d in people["birth_date"]],
            "id_number": people["id_number"],
            "registered_unit": people["village_code"],
            "residence_unit": people["village_code"],
            "residence_type": "registered",
            "status": "active",
            "mother_id": pd.array([None] * len(people), dtype="Int64"),
        }
    )
    # Mothers and their registered children; some births never registered.
    mothers = persons[
        (persons["sex"] == "F") & persons["birth_date"].map(lambda d: 1975 <= d.year <= 1998)
    ].head(60)
    births, truth_births, new_rows = [], {}, []
    next_id = len(persons) + 1
    for k, m in enumerate(mothers.itertuples()):
        born = date(2024, 1, 1) + timedelta(days=rng.randrange(300))
        sex = rng.choice("MF")
        noisy = with_errors(m.name, "F", m.birth_date, m.id_number, [ERRORS[k % len(ERRORS)]], k)
        rid = f"HB{k:06d}"
        births.append({
            "record_id": rid, "hospital": "县医院", "birth_date": born, "child_sex": sex,
            "child_name": "", "mother_name": noisy["name"], "mother_id_number": noisy["id_number"],
            "mother_birth_date": date.fromisoformat(str(noisy["birth_date"])),
            "father_name": None, "address_unit": m.registered_unit,
        })  # fmt: skip
        if k % 5 != 0:  # every fifth birth is not registered
            new_rows.append({
                "person_id": next_id, "household_id": m.household_id, "name": m.name[0] + "小宝",
                "sex": sex, "birth_date": born, "id_number": compose("411423", born, 2 * k + 1),
                "registered_unit": m.registered_unit, "residence_unit": m.registered_unit,
                "residence_type": "registered", "status": "active", "mother_id": m.person_id,
            })  # fmt: skip
            truth_births[rid] = str(next_id)
            next_id += 1
        else:
            truth_births[rid] = ""
    persons = pd.concat([persons, pd.DataFrame(new_rows)], ignore_index=True)
    persons["mother_id"] = persons["mother_id"].astype("Int64")
    # Death notices: registry persons with noise, plus people from outside the registry.
    notices, truth_deaths = [], {}
    sample = persons.sample(80, random_state=3)
    for k, p in enumerate(sample.itertuples()):
        noisy = with_errors(p.name, p.sex, p.birth_date, p.id_number, [ERRORS[k % len(ERRORS)]], k)
        rid = f"DN{k:06d}"
        notices.append({
            "record_id": rid, "notifier": "hospital", "name": noisy["name"], "sex": p.sex,
            "id_number": noisy["id_number"], "birth_date": noisy["birth_date"],
            "death_date": "2025-06-01", "address_unit": p.registered_unit,
        })  # fmt: skip
        truth_deaths[rid] = str(p.person_id)
    for k in range(10):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(9000))
        rid = f"DN9{k:05d}"
        notices.append({
            "record_id": rid, "notifier": "crematorium", "name": "欧阳" + "明德清风"[k % 4] + "远",
            "sex": "M", "id_number": compose("130102", born, 2 * k + 1),
            "birth_date": born.isoformat(), "death_date": "2025-06-01", "address_unit": None,
        })  # fmt: skip
        truth_deaths[rid] = ""
    hh = pd.DataFrame({"household_id": list(households.values()),
                       "household_no": list(households.keys()),
                       "unit_code": "411423001201", "kind": "family", "address": ""})  # fmt: skip
    out = tmp_path_factory.mktemp("snap")
    write_snapshot(
        out,
        {
            "persons": pa.Table.from_pandas(persons, preserve_index=False),
            "households": pa.Table.from_pandas(hh, preserve_index=False),
            "sources/hospital_births": pa.Table.from_pandas(
                pd.DataFrame(births), preserve_index=False
            ),
            "sources/death_notices": pa.Table.from_pandas(
                pd.DataFrame(notices), preserve_index=False
            ),
        },
        datetime(2025, 11, 1),
    )
    return {"dir": out, "births": truth_births, "deaths": truth_deaths}


def _score(links: pd.DataFrame, truth: dict[str, str]) -> tuple[float, float]:
    got = dict(zip(links["record_id"], links["person_id"].astype(str), strict=True))
    linked = [r for r, p in got.items() if p]
    correct = sum(1 for r in linked if truth[r] == got[r])
    precision = correct / len(linked) if linked else 1.0
    recall = correct / sum(1 for p in truth.values() if p)
    return precision, recall


def test_death_notices_are_matched(snapshot: dict[str, object]) -> None:
    links = match_source("sources/death_notices", snapshot["dir"])  # type: ignore[arg-type]
    assert list(links.columns) == [
        "record_id", "person_id", "match_probability", "status", "rule"
    ]  # fmt: skip
    assert set(links.loc[links["status"] == "matched", "rule"]) == {"model"}
    assert (links.loc[links["status"] == "unmatched", "rule"] == "").all()
    assert len(links) == len(snapshot["deaths"])  # type: ignore[arg-type]
    precision, recall = _score(links, snapshot["deaths"])  # type: ignore[arg-type]
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    outsiders = links[links["record_id"].str.startswith("DN9")]
    assert (outsiders["status"] == "unmatched").all()
    assert (outsiders["person_id"] == "").all()


def test_hospital_births_find_child_or_report_unregistered(snapshot: dict[str, object]) -> None:
    links = match_source("sources/hospital_births", snapshot["dir"])  # type: ignore[arg-type]
    truth: dict[str, str] = snapshot["births"]  # type: ignore[assignment]
    precision, recall = _score(links, truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    unregistered = {r for r, p in truth.items() if not p}
    flagged = set(links.loc[links["status"] == "unmatched", "record_id"])
    assert len(unregistered & flagged) / len(unregistered) >= 0.9


def test_match_command_with_csv_source(snapshot: dict[str, object], tmp_path: Path) -> None:
    notices = pd.read_parquet(Path(snapshot["dir"]) / "sources" / "death_notices.parquet")  # type: ignore[arg-type]
    csv = tmp_path / "door_to_door.csv"
    notices.rename(columns={"address_unit": "village_code"}).drop(
        columns=["death_date", "notifier"]
    ).to_csv(csv, index=False)
    out = tmp_path / "links.csv"
    call_command("match", str(csv), "--against", str(snapshot["dir"]), "--out", str(out))
    links = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(links) == len(notices)
    assert set(links["status"]) <= {"matched", "unmatched"}
    assert (links["status"] == "matched").mean() > 0.8


def test_match_errors_are_clear(snapshot: dict[str, object], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,name\n1,张伟\n", encoding="utf-8")
    with pytest.raises(CommandError, match="缺少"):
        call_command(
            "match", str(bad), "--against", str(snapshot["dir"]), "--out", str(tmp_path / "o.csv")
        )
    with pytest.raises(CommandError, match="manifest"):
        call_command(
            "match", str(bad), "--against", str(tmp_path), "--out", str(tmp_path / "o.csv")
        )
    assert not (tmp_path / "o.csv").exists()


def _registry_row(pid: int, sex: str, born: str, village: str, mother: int | None = None,
                  name: str = "", id_number: str = "") -> dict[str, str]:  # fmt: skip
    return {
        "record_id": str(pid), "name": name, "sex": sex, "birth_date": born,
        "id_number": id_number, "village_code": village, "household_no": "",
        "mother_id": "" if mother is None else str(mother),
    }  # fmt: skip


def _birth(rid: str, born: str, sex: str, village: str, mother_name: str = "",
           mother_id: str = "", mother_born: str = "") -> dict[str, str]:  # fmt: skip
    return {
        "record_id": rid, "birth_date": born, "child_sex": sex, "mother_name": mother_name,
        "mother_id_number": mother_id, "mother_birth_date": mother_born, "address_unit": village,
    }  # fmt: skip


def test_clerical_second_pass_rules() -> None:
    v1, v2 = "411423001201", "411423001202"
    mum_id = compose("411423", date(1990, 5, 6), 12)
    registry = pd.DataFrame([
        _registry_row(1, "F", "1990-05-06", v1, name="李秀英", id_number=mum_id),
        _registry_row(2, "F", "1991-02-03", v2, name="王芳"),
        # her child's birth date was typed 40 days off: only the mother tells
        _registry_row(10, "M", "2024-04-20", v1, mother=1),
        # a child with no mother link, alone in its village on that day
        _registry_row(11, "F", "2024-06-02", v2),
        # two boys born the same day in v2, no mother links: ambiguous
        _registry_row(12, "M", "2024-07-10", v2),
        _registry_row(13, "M", "2024-07-11", v2),
        # already linked by the model: never given again
        _registry_row(14, "F", "2024-08-01", v1),
        # mother 王芳 (name and birth date), child of the other sex only
        _registry_row(15, "M", "2024-09-09", v2, mother=2),
    ])  # fmt: skip
    births = pd.DataFrame([
        _birth("H1", "2024-03-11", "M", v1, "李秀英", mum_id, "1990-05-06"),
        _birth("H2", "2024-06-01", "F", v2),
        _birth("H3", "2024-07-10", "M", v2),
        _birth("H4", "2024-08-01", "F", v1),
        _birth("H5", "2024-09-09", "F", v2, "王芳", "", "1991-02-03"),
        _birth("H6", "2024-06-02", "F", ""),  # no address: date alone is not enough
    ])  # fmt: skip
    model_links = pd.DataFrame(
        [{"record_id": "H9", "person_id": "14", "match_probability": 0.99}]
    )
    got = _clerical_births(births, model_links, registry)
    assert dict(zip(got["record_id"], zip(got["person_id"], got["rule"], strict=True),
                    strict=True)) == {
        "H1": ("10", "same_mother"),
        "H2": ("11", "date_village"),
    }  # fmt: skip
    assert got["match_probability"].isna().all()
