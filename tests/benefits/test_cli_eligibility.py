"""``popreg benefits eligibility``: the contract CSV over a snapshot and over the live
registry (the run is recorded), and its errors in both languages."""

from __future__ import annotations

import csv
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.benefits.evaluate import evaluate_programme
from popreg.synth.generator import generate


@pytest.fixture(scope="module")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-county")
    generate(out, seed=3, persons=2000, progress=None)
    return out


def run(*args: str) -> str:
    out = StringIO()
    call_command("benefits", *args, stdout=out)
    return out.getvalue()


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_eligibility_over_a_snapshot_writes_the_contract_csv(small_county: Path, tmp_path: Path) -> None:
    out = tmp_path / "elig.csv"
    said = run("eligibility", "--programme", "childcare_subsidy", "--month", "2025-09",
               "--snapshot", str(small_county), "--out", str(out))
    with out.open(encoding="utf-8") as f:
        assert f.readline().strip() == "person_id,eligible,amount_yuan,reasons"
    rows = read(out)
    expected = evaluate_programme("childcare_subsidy", date(2025, 9, 1), small_county).decisions
    assert [int(r["person_id"]) for r in rows] == expected["person_id"].tolist()
    assert {r["eligible"] for r in rows} <= {"true", "false"}
    assert [r["eligible"] == "true" for r in rows] == expected["eligible"].tolist()
    assert all(r["amount_yuan"] == ("300" if r["eligible"] == "true" else "0") for r in rows)
    assert all(r["reasons"] for r in rows)
    n_eligible = sum(r["eligible"] == "true" for r in rows)
    assert n_eligible > 0
    assert f"{len(rows)} considered, {n_eligible} eligible" in said


def test_the_same_snapshot_gives_the_same_bytes(small_county: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        run("eligibility", "--programme", "rural_fp_reward", "--month", "2025-10", "--snapshot", str(small_county), "--out", str(out))
    assert a.read_bytes() == b.read_bytes()


def test_certificates_from_a_csv_with_a_snapshot(small_county: Path, tmp_path: Path) -> None:
    import pandas as pd

    persons = pd.read_parquet(small_county / "persons.parquet")
    child = persons[persons["mother_id"].notna() & (pd.to_datetime(persons["birth_date"]) > pd.Timestamp("2015-01-01"))
                    & (persons["status"] == "active")].iloc[0]
    certs = tmp_path / "certs.csv"
    certs.write_text(
        "person_id,kind,number,issued_date,child_person_id\n"
        f"{int(child['mother_id'])},only_child,光荣证-7,2016-03-01,{int(child['person_id'])}\n", encoding="utf-8")
    out = tmp_path / "oc.csv"
    run("eligibility", "--programme", "only_child_parents_reward", "--month", "2025-10", "--snapshot", str(small_county),
        "--certificates", str(certs), "--out", str(out))
    rows = read(out)
    assert int(child["mother_id"]) in {int(r["person_id"]) for r in rows}
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,number\n1,x\n", encoding="utf-8")
    with pytest.raises(CommandError, match="columns missing: kind, issued_date, child_person_id"):
        run("eligibility", "--programme", "only_child_parents_reward", "--month", "2025-10",
            "--snapshot", str(small_county), "--certificates", str(bad), "--out", str(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--month", "2025-13"), "use YYYY-MM"),
        (("--month", "2024-12"), "no value on 2024-12-01"),  # the subsidy starts in January 2025
        (("--month", "2025-10", "--snapshot", "nowhere"), "is not a snapshot directory"),
    ],
)
def test_errors_say_what_to_fix(args: tuple[str, ...], message: str, small_county: Path, tmp_path: Path) -> None:
    base = ["eligibility", "--programme", "childcare_subsidy", "--out", str(tmp_path / "x.csv")]
    if "--snapshot" not in args:
        base += ["--snapshot", str(small_county)]
    with pytest.raises(CommandError) as exc:
        run(*base, *args)
    assert message in str(exc.value)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value))  # Chinese too


@pytest.mark.django_db
def test_without_a_snapshot_the_live_registry_is_evaluated_and_the_run_recorded(families, tmp_path: Path) -> None:
    from popreg.benefits.models import EligibilityRun

    out = tmp_path / "live.csv"
    said = run("eligibility", "--programme", "childcare_subsidy", "--month", "2025-10", "--out", str(out))
    rows = {int(r["person_id"]): r for r in read(out)}
    babies = [families[k]["child"].pk for k in ("a1", "a2", "b1")]
    assert all(rows[pk]["eligible"] == "true" and rows[pk]["amount_yuan"] == "300" for pk in babies)
    # born 1 June 2022: three years old on 1 October 2025
    assert rows[families["old"].pk]["eligible"] == "false"
    assert "under 3 on the first day of the month: failed" in rows[families["old"].pk]["reasons"]
    run_ = EligibilityRun.objects.get(programme="childcare_subsidy", month=date(2025, 10, 1))
    assert run_.eligible_count == 3
    assert f"run {run_.pk} recorded" in said


@pytest.mark.django_db
def test_payments_and_disclosure_contract(families, officers, tmp_path: Path) -> None:
    """The three contract commands in turn: eligibility (run recorded), disclosure of a
    village's public list, and the payment file once the run is disclosed and approved."""
    from popreg.benefits.models import EligibilityRun

    from ..conftest import VILLAGE_A1
    from .conftest import disclose

    run("eligibility", "--programme", "childcare_subsidy", "--month", "2025-10", "--out", str(tmp_path / "e.csv"))
    elig = EligibilityRun.objects.get(programme="childcare_subsidy", month=date(2025, 10, 1))
    out_dir = tmp_path / "a1"
    said = run("disclosure", "--programme", "childcare_subsidy", "--month", "2025-10", "--unit", VILLAGE_A1, "--out", str(out_dir))
    assert (out_dir / "notice.pdf").read_bytes().startswith(b"%PDF")
    listed = (out_dir / "list.csv").read_text(encoding="utf-8-sig")
    assert "张*伟" in listed and "张小伟" not in listed  # masked names only
    assert "notice.pdf" in said
    # Payment cannot start before the county level has closed and the run is approved.
    with pytest.raises(CommandError) as refused:
        run("payments", "--programme", "childcare_subsidy", "--month", "2025-10", "--out", str(tmp_path / "p.csv"))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(refused.value))
    from popreg.benefits import actions

    disclose(elig, officers["fuli1"])
    actions.do_approve_run(officers["fuli2"], elig)
    said = run("payments", "--programme", "childcare_subsidy", "--month", "2025-10", "--out", str(tmp_path / "p.csv"))
    assert "(3 lines, 900" in said
    with (tmp_path / "p.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["record_type", "payment_id"]
    assert [r[0] for r in rows[1:] if r] == ["H", "D", "D", "D"]  # the batch header, then one line per child
