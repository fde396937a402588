"""``popreg project``: the explicit-input contract (PHG Box 6.2) and its refusals, and the
hand-over of the registry form to the planning app."""

from __future__ import annotations

import csv
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.core import projection as p

DATA = Path(__file__).resolve().parent.parent / "data" / "demography"
HEADER = "sex,age_start,population,nLx,asfr,net_migrants"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


PHG = _rows("phg_box6_2_sweden1993_female_ccmpp.csv")
DEMOPROJ = _rows("phg_sweden1993_demoproj_v0.csv")


def _phg_lines() -> list[str]:
    """Box 6.2 with the male rows equal to the female ones (as ccmppWPP's test does)."""
    lines = [HEADER]
    for sex in "FM":
        for r in PHG:
            asfr = r["asfr"] if sex == "F" else "0"
            lines.append(
                f"{sex},{r['age_start']},{r['pop_f_1993']},{r['nLx_f']},{asfr},"
                f"{r['net_migrants_f_1993_1998']}"
            )
    return lines


def _write(tmp_path: Path, lines: list[str], name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_phg_box_6_2_through_the_command(tmp_path):
    inputs = _write(tmp_path, _phg_lines())
    out, births = tmp_path / "pop.csv", tmp_path / "births.csv"
    call_command(
        "project", "--inputs", str(inputs), "--steps", "3", "--srb", "1.05",
        "--out", str(out), "--births-out", str(births),
    )
    pop = _read(out)
    assert list(pop[0]) == ["step", "sex", "age_start", "population"]
    assert len(pop) == 4 * 2 * len(PHG)
    step1 = {(r["sex"], int(r["age_start"])): float(r["population"]) for r in pop if r["step"] == "1"}
    for r in PHG:
        age = int(r["age_start"])
        assert round(step1[("F", age)]) == int(r["expected_pop_f_1998"]), age
    assert round(step1[("M", 0)]) == 317340  # ccmppWPP data-raw/sweden_1993.R @ 2f034b43
    step0 = [r for r in pop if r["step"] == "0" and r["sex"] == "F"]
    assert [float(r["population"]) for r in step0] == [float(r["pop_f_1993"]) for r in PHG]
    b = _read(births)
    assert list(b[0]) == ["step", "mother_age_start", "births"]
    assert {r["step"] for r in b} == {"1", "2", "3"}
    first = {int(r["mother_age_start"]): float(r["births"]) for r in b if r["step"] == "1"}
    for r in PHG:
        assert round(first[int(r["age_start"])]) == int(r["expected_births_by_mother_age_1993_1998"])


def test_demoproj_both_sexes_through_the_command(tmp_path):
    lines = [HEADER]
    for sex in "FM":
        s = sex.lower()
        for r in DEMOPROJ:
            asfr = r["Fx"] if sex == "F" else "0"
            lines.append(f"{sex},{r['x']},{r['Nx_' + s]},{r['Lx_' + s]},{asfr},0")
    out = tmp_path / "pop.csv"
    call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "5",
                 "--srb", "1.05", "--out", str(out))
    col = {k: np.array([float(r[k]) for r in DEMOPROJ]) for k in ("Nx_f", "Nx_m", "Lx_f", "Lx_m", "Fx")}
    res = p.project_five_year(
        np.array([col["Nx_f"], col["Nx_m"]]), np.array([col["Lx_f"], col["Lx_m"]]), col["Fx"],
        np.zeros((2, len(DEMOPROJ))), 5, 1.05,
    )
    for r in _read(out):
        s = p.SEX_LABELS.index(r["sex"])
        g = int(r["age_start"]) // 5
        assert float(r["population"]) == pytest.approx(res.population[int(r["step"]), s, g], abs=1e-6)


def test_rows_in_any_order_and_open_group_marked(tmp_path):
    lines = _phg_lines()
    body = lines[1:]
    body.reverse()
    shuffled = [HEADER + ",age_end"] + [
        line + ("," if line.split(",")[1] == "85" else f",{int(line.split(',')[1]) + 4}")
        for line in body
    ]
    out = tmp_path / "pop.csv"
    call_command("project", "--inputs", str(_write(tmp_path, shuffled)), "--steps", "1",
                 "--srb", "1.05", "--out", str(out))
    got = {(r["sex"], r["age_start"]): r["population"] for r in _read(out) if r["step"] == "1"}
    assert round(float(got[("F", "85")])) == 131966


def _mutate(line_no: int, column: str, value: str) -> list[str]:
    """The PHG file with one cell changed (line_no counts the header as line 1)."""
    lines = _phg_lines()
    cols = HEADER.split(",")
    cells = lines[line_no - 1].split(",")
    cells[cols.index(column)] = value
    lines[line_no - 1] = ",".join(cells)
    return lines


def _without(line_no: int) -> list[str]:
    lines = _phg_lines()
    del lines[line_no - 1]
    return lines


# female rows are lines 2-19 (ages 0..85), male rows lines 20-37
BAD = {
    "negative population": (_mutate(5, "population", "-3"), 5, "population", "negative"),
    "nLx zero": (_mutate(7, "nLx", "0"), 7, "nLx", "positive"),
    "nLx above 5 radix": (_mutate(2, "nLx", "500001"), 2, "nLx", "5 × radix"),
    "nLx rising": (_mutate(9, "nLx", "496000"), 9, "nLx", "survival ratio above 1"),
    "asfr for men": (_mutate(24, "asfr", "0.05"), 24, "asfr", "male row"),
    "asfr per 1000": (_mutate(7, "asfr", "90.8"), 7, "asfr", "not per 1000"),
    "unknown sex": (_mutate(11, "sex", "X"), 11, "sex", "unknown sex 'X'"),
    "not a number": (_mutate(12, "population", "12a"), 12, "population", "not a number"),
    "empty number": (_mutate(13, "net_migrants", ""), 13, "net_migrants", "not a number"),
    "nan": (_mutate(13, "nLx", "nan"), 13, "nLx", "not a number"),
    "missing group": (_without(6), 6, "age_start", "lacks the age group 20–24"),
    "missing 0-4": (_without(20), 20, "age_start", "lacks the age group 0–4"),
    "overlapping group": (_mutate(6, "age_start", "15"), 6, "age_start", "overlaps line 5"),
    "not a five-year start": (_mutate(6, "age_start", "22"), 6, "age_start", "five-year group"),
    "open group in the middle": (_mutate(14, "age_start", "60+"), 14, "age_start", "not the last"),
    "bad age": (_mutate(14, "age_start", "sixty"), 14, "age_start", "first age of a group"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs_name_the_line_and_column_and_write_nothing(tmp_path, case):
    lines, line, column, fragment = BAD[case]
    out, births = tmp_path / "pop.csv", tmp_path / "births.csv"
    with pytest.raises(CommandError) as info:
        call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "2",
                     "--srb", "1.05", "--out", str(out), "--births-out", str(births))
    message = str(info.value)
    assert f"line {line}, column {column}:" in message, message
    assert f"第 {line} 行「{column}」列" in message
    assert fragment in message
    assert not out.exists() and not births.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in.csv"]


def test_missing_column_and_empty_file(tmp_path):
    lines = [line.rsplit(",", 1)[0] for line in _phg_lines()]
    with pytest.raises(CommandError, match="line 1, column net_migrants: the column is missing"):
        call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "1",
                     "--srb", "1.05", "--out", str(tmp_path / "o.csv"))
    with pytest.raises(CommandError, match="line 1: the file is empty"):
        call_command("project", "--inputs", str(_write(tmp_path, [""], "e.csv")), "--steps", "1",
                     "--srb", "1.05", "--out", str(tmp_path / "o.csv"))
    female_only = _phg_lines()[:19]
    with pytest.raises(CommandError, match="no rows for sex M"):
        call_command("project", "--inputs", str(_write(tmp_path, female_only, "f.csv")),
                     "--steps", "1", "--srb", "1.05", "--out", str(tmp_path / "o.csv"))
    assert not (tmp_path / "o.csv").exists()


def test_open_group_via_age_end_in_the_middle(tmp_path):
    lines = [HEADER + ",age_end"] + [
        line + ("," if line.split(",")[1] in ("85", "40") else f",{int(line.split(',')[1]) + 4}")
        for line in _phg_lines()[1:]
    ]
    with pytest.raises(CommandError, match=r"line 10, column age_end: the open group 40\+ is not"):
        call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "1",
                     "--srb", "1.05", "--out", str(tmp_path / "o.csv"))


def test_out_migration_larger_than_the_population(tmp_path):
    lines = _mutate(30, "net_migrants", "-900000")
    with pytest.raises(CommandError, match=r"step 1, M, age 50: .* net out-migration exceeds.*line 29, 30, column net_migrants"):
        call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "1",
                     "--srb", "1.05", "--out", str(tmp_path / "o.csv"))


def test_an_existing_output_is_left_alone_on_error(tmp_path):
    out = tmp_path / "pop.csv"
    out.write_text("old\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("project", "--inputs", str(_write(tmp_path, _mutate(3, "nLx", "-1"))),
                     "--steps", "1", "--srb", "1.05", "--out", str(out))
    assert out.read_text(encoding="utf-8") == "old\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--steps", "1", "--srb", "1.05"], "needs --out"),
        (["--srb", "1.05", "--out", "o.csv"], "needs --steps"),
        (["--steps", "0", "--srb", "1.05", "--out", "o.csv"], "between 1 and"),
        (["--steps", "1", "--srb", "105", "--out", "o.csv"], "not 105"),
        (["--steps", "1", "--srb", "1.05", "--radix", "0", "--out", "o.csv"], "positive"),
        (["--steps", "1", "--srb", "1.05", "--out", "o.csv", "--unit", "X"], "--unit does not"),
        (["--steps", "1", "--srb", "1.05", "--out", "nodir/o.csv"], "does not exist"),
        (["--steps", "1", "--srb", "1.05", "--out", "o.csv", "--births-out", "o.csv"], "same file"),
    ],
)
def test_option_errors(tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, _phg_lines())
    with pytest.raises(CommandError, match=fragment):
        call_command("project", "--inputs", "in.csv", *args)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in.csv"]


def test_inputs_and_snapshot_are_exclusive(tmp_path):
    with pytest.raises(CommandError, match="--inputs and --snapshot cannot be used together"):
        call_command("project", "--inputs", "a.csv", "--snapshot", str(tmp_path))
    with pytest.raises(CommandError, match="give either --inputs"):
        call_command("project")


def test_registry_form_hands_over_to_the_planning_app(tmp_path, monkeypatch):
    calls = []

    def project_registry(**kwargs):
        calls.append(kwargs)
        kwargs["stdout"].write("done")

    fake = types.ModuleType("popreg.planning.forecast")
    fake.project_registry = project_registry
    monkeypatch.setitem(sys.modules, "popreg.planning.forecast", fake)
    out = tmp_path / "f.csv"
    call_command("project", "--snapshot", str(tmp_path), "--unit", "110105001001",
                 "--base-year", "2025", "--years", "10", "--scenario", "medium", "--out", str(out))
    (kw,) = calls
    assert kw["snapshot"] == tmp_path and kw["unit"] == "110105001001"
    assert (kw["base_year"], kw["years"], kw["scenario"], kw["out"]) == (2025, 10, "medium", out)
    call_command("project", "--snapshot", str(tmp_path), "--unit", "U", "--base-year", "2020",
                 "--years", "5", "--scenario", "constant")
    assert calls[1]["out"] is None
    with pytest.raises(CommandError, match="--srb does not belong to the --snapshot form"):
        call_command("project", "--snapshot", str(tmp_path), "--unit", "U", "--base-year",
                     "2020", "--years", "5", "--scenario", "low", "--srb", "1.05")
    with pytest.raises(CommandError, match="needs --base-year"):
        call_command("project", "--snapshot", str(tmp_path), "--unit", "U", "--years", "5",
                     "--scenario", "low")
    assert len(calls) == 2


def test_exit_status_is_non_zero(tmp_path):
    inputs = _write(tmp_path, _mutate(5, "population", "-3"))
    done = subprocess.run(
        [sys.executable, "-m", "popreg", "project", "--inputs", str(inputs), "--steps", "1",
         "--srb", "1.05", "--out", str(tmp_path / "o.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "line 5, column population" in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_last_group_closed_by_age_end_is_refused(tmp_path):
    lines = [HEADER + ",age_end"] + [
        line + f",{int(line.split(',')[1]) + 4}" for line in _phg_lines()[1:]
    ]
    with pytest.raises(CommandError, match=r"line 19, column age_end: the last group \(85\) must be open"):
        call_command("project", "--inputs", str(_write(tmp_path, lines)), "--steps", "1",
                     "--srb", "1.05", "--out", str(tmp_path / "o.csv"))


def test_radix_one_and_gbk_file(tmp_path):
    """nLx on radix 1 with --radix 1 gives the same projection; a GBK file (Excel on a
    Chinese Windows) with a Chinese extra column is read."""
    lines = [HEADER + ",备注"]
    for line in _phg_lines()[1:]:
        cells = line.split(",")
        cells[3] = repr(float(cells[3]) / 100000)
        lines.append(",".join(cells) + ",女" if cells[0] == "F" else ",".join(cells) + ",男")
    path = tmp_path / "gbk.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    out = tmp_path / "pop.csv"
    call_command("project", "--inputs", str(path), "--steps", "1", "--srb", "1.05",
                 "--radix", "1", "--out", str(out))
    got = {(r["sex"], int(r["age_start"])): float(r["population"]) for r in _read(out) if r["step"] == "1"}
    for r in PHG:
        assert round(got[("F", int(r["age_start"]))]) == int(r["expected_pop_f_1998"])
    path.write_bytes(b"\xff\xfe\x00\x00garbage")
    with pytest.raises(CommandError, match="neither UTF-8 nor GBK"):
        call_command("project", "--inputs", str(path), "--steps", "1", "--srb", "1.05",
                     "--out", str(tmp_path / "o.csv"))
