"""Assessment over snapshots: scorecards with known answers on the hand-built county,
targets files (template, row-by-row validation), change against last year on a synthetic
county, and the reproducibility of ``popreg assess``."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook, load_workbook

from popreg.core.rules import parse_rule_set
from popreg.stats.assessment import (
    AssessmentError,
    TargetImportError,
    TargetRow,
    assess,
    level_units,
    read_targets,
    target_template,
    to_csv_bytes,
    to_xlsx_bytes,
)
from popreg.stats.indicators import SnapshotIndicators

from .handmade import T1, T2, V11, V12, V21, write_handmade_snapshot

RULES = {
    "name": "测试考核", "version": 2, "rules": [
        {"id": "rni", "indicator": "rni", "comparison": "band", "low": 0, "high": 400, "weight": 50},
        {"id": "cdr", "indicator": "cdr", "comparison": "at_most", "threshold": 0, "weight": 10, "veto": True},
        {"id": "srb", "indicator": "srb", "comparison": "band", "low": 103, "high": 107, "weight": 30,
         "missing": "skip",
         "few_events": {"count": "sexed_births", "min": 1000, "low": "srb_low", "high": "srb_high"}},
        {"id": "acc", "indicator": "accuracy_rate", "comparison": "at_least", "threshold": 100, "weight": 10},
    ],
}  # fmt: skip
NO_LINKS = pd.DataFrame(columns=["source", "record_id", "person_id", "match_probability"])


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return write_handmade_snapshot(tmp_path_factory.mktemp("hand") / "snap")


@pytest.fixture(scope="module")
def rule_set():
    return parse_rule_set(RULES)


def _rows(result):
    return {r["unit_code"]: r for r in result.table.to_dict("records")}


def test_handmade_scorecards(handmade, rule_set):
    result = assess(handmade, 2024, "village", rule_set, links=NO_LINKS)
    rows = _rows(result)
    # rni: 东关 1/3.5 → 285.7 ‰ (in band), 西关 −1/2.5 → −400 ‰, 李庄 1/2 → 500 ‰
    assert rows[V11]["rni_value"] == pytest.approx(1000 / 3.5)
    assert [rows[c]["rni_outcome"] for c in (V11, V12, V21)] == ["pass", "fail", "fail"]
    # 西关's death fails the veto rule cdr ≤ 0
    assert rows[V12]["vetoed"] and rows[V12]["veto_rules"] == "cdr"
    # one boy (东关) / one girl (李庄): the interval overlaps 103–107; no births in 西关: skipped
    assert (rows[V11]["srb_outcome"], rows[V21]["srb_outcome"], rows[V12]["srb_outcome"]) == ("pass", "pass", "skip")
    # no sources: every registered event is reported and verified → 100 %
    assert rows[V12]["acc_value"] == 100.0
    assert (rows[V11]["total"], rows[V11]["max_points"]) == (100, 100)
    assert (rows[V12]["total"], rows[V12]["max_points"]) == (10, 70)
    assert (rows[V21]["total"], rows[V21]["max_points"]) == (50, 100)
    # peers: 东关 and 西关 (城关镇); 李庄 alone in 东乡
    assert (rows[V11]["rank"], rows[V12]["rank"], rows[V21]["rank"]) == (1, 2, 1)
    assert (rows[V11]["peers"], rows[V21]["peers"]) == (2, 1)
    assert [rows[c]["lagging"] for c in (V11, V12)] == [False, True]
    # the history starts in June 2023: no previous year to compare with
    assert not result.previous_available and pd.isna(rows[V11]["previous_total"])


def test_targets_replace_rule_bounds_per_unit(handmade, rule_set):
    targets = [TargetRow(2024, V21, "rni", None, 600.0), TargetRow(2023, V21, "rni", None, 100.0)]
    rows = _rows(assess(handmade, 2024, "village", rule_set, targets, links=NO_LINKS))
    assert (rows[V21]["rni_high"], rows[V21]["rni_outcome"], rows[V21]["total"]) == (600.0, "pass", 100)
    assert rows[V11]["rni_high"] == 400  # other units keep the rule's band


def test_township_level_and_values_equal_indicator_engine(handmade, rule_set):
    result = assess(handmade, 2024, "township", rule_set, links=NO_LINKS)
    table = SnapshotIndicators(handmade).compute([2024], "township", with_pyramid=False)[0]
    engine = {r["unit_code"]: r for r in table.to_dict("records")}
    for code, row in _rows(result).items():
        assert row["rni_value"] == pytest.approx(engine[code]["rni"])
        assert row["cdr_value"] == pytest.approx(engine[code]["cdr"])
    assert set(_rows(result)) == {T1, T2}


def test_unknown_indicator_and_bad_level(handmade):
    bad = parse_rule_set({"name": "x", "version": 1, "rules": [
        {"id": "q", "indicator": "happiness", "comparison": "at_least", "threshold": 1, "weight": 1}]})
    with pytest.raises(AssessmentError, match="happiness"):
        assess(handmade, 2024, "village", bad)
    with pytest.raises(AssessmentError, match="level"):
        assess(handmade, 2024, "province", bad)
    with pytest.raises(AssessmentError, match="2019"):
        assess(handmade, 2019, "village", parse_rule_set(RULES), links=NO_LINKS)


# ---------------------------------------------------------------- targets files


def _filled_template(handmade, rule_set, fill):
    buf = io.BytesIO()
    target_template(buf, 2024, level_units(handmade, "village").items(), rule_set)
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    ws = wb.worksheets[0]
    for row in ws.iter_rows(min_row=2):
        key = (row[1].value, row[3].value)
        if key in fill:
            row[4].value, row[5].value = fill[key]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_template_round_trip(handmade, rule_set):
    data = _filled_template(handmade, rule_set, {(V21, "rni"): (None, 600), (V11, "accuracy_rate"): (95, None)})
    rows = read_targets(data, "t.xlsx", units=level_units(handmade, "village"), indicators=rule_set.indicators)
    assert sorted((r.unit_code, r.indicator, r.low, r.high) for r in rows) == [
        (V11, "accuracy_rate", 95.0, None), (V21, "rni", None, 600.0)]
    assert rows[0].year == 2024


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["年份 year", "单位代码 unit_code", "指标 indicator", "下限 low", "上限 high"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        (["24", V11, "rni", 1, 2], "年份 year", "4-digit year"),
        ([2024, "41100000100", "rni", 1, 2], "单位代码 unit_code", "12-digit"),
        ([2024, "411000009009", "rni", 1, 2], "单位代码 unit_code", "not a unit of this level"),
        ([2024, V11, "", 1, 2], "指标 indicator", "required"),
        ([2024, V11, "happiness", 1, 2], "指标 indicator", "not in the rules"),
        ([2024, V11, "rni", "abc", 2], "下限 low", "must be a number"),
        ([2024, V11, "rni", 5, 2], "下限 low / 上限 high", "swap"),
    ],
)
def test_bad_target_rows_name_row_and_column(handmade, rule_set, row, column, fragment):
    data = _xlsx([[2024, V12, "rni", 0, 5], row])
    with pytest.raises(TargetImportError) as err:
        read_targets(data, "t.xlsx", units=level_units(handmade, "village"), indicators=rule_set.indicators)
    (e,) = err.value.errors
    assert (e.row, e.column) == (3, column) and fragment in e.message_en and e.message_zh
    assert "第 3 行" in str(e)


def test_rows_without_bounds_are_no_target(handmade):
    rows = read_targets(_xlsx([[2024, V11, "rni", None, None], [2024, V12, "rni", 0, None]]), "t.xlsx")
    assert [(r.unit_code, r.low, r.high) for r in rows] == [(V12, 0.0, None)]


def test_duplicate_rows_and_missing_header(handmade):
    with pytest.raises(TargetImportError, match="repeats row 2"):
        read_targets(_xlsx([[2024, V11, "rni", 0, 5], [2024, V11, "rni", 1, 5]]), "t.xlsx")
    csv = "年份,单位代码,下限\n2024,411000001001,1\n".encode()
    with pytest.raises(TargetImportError, match="indicator"):
        read_targets(csv, "t.csv")
    with pytest.raises(AssessmentError, match=".xlsx or .csv"):
        read_targets(b"x", "t.doc")


# ---------------------------------------------------------------- reproducibility, CLI


def test_cli_is_reproducible_and_equals_the_function(handmade, rule_set, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    targets = tmp_path / "targets.xlsx"
    targets.write_bytes(_filled_template(handmade, rule_set, {(V21, "rni"): (None, 600)}))
    outs = []
    for i in range(2):
        out = tmp_path / f"score{i}.csv"
        call_command("assess", str(handmade), "--year", "2024", "--level", "village", "--rules", str(rules),
                     "--targets", str(targets), "--out", str(out), "--xlsx", str(tmp_path / f"s{i}.xlsx"))
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    direct = assess(handmade, 2024, "village", rule_set, read_targets(targets))
    assert to_csv_bytes(direct) == outs[0]
    table = pd.read_csv(io.BytesIO(outs[0]), dtype={"unit_code": str}).set_index("unit_code")
    assert table.loc[V21, "total"] == 100 and table.loc[V12, "vetoed"]
    wb = load_workbook(tmp_path / "s0.xlsx")
    assert wb.sheetnames == ["考核结果 scorecards", "后进单位 lagging", "说明 about"]
    assert wb["后进单位 lagging"].max_row == 1 + int(table["lagging"].sum())


def test_cli_refuses_bad_rules_and_writes_nothing(handmade, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"name": "x", "version": 1, "rules": [{"id": "a", "indicator": "rni", "comparison": "band", "weight": 1}]}')
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="band needs"):
        call_command("assess", str(handmade), "--year", "2024", "--rules", str(rules), "--out", str(out))
    assert not out.exists()


def test_cli_template(handmade, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    call_command("assess", str(handmade), "--year", "2025", "--level", "township", "--rules", str(rules),
                 "--template", str(tmp_path / "t.xlsx"))
    ws = load_workbook(tmp_path / "t.xlsx").worksheets[0]
    units = {r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert units == {T1, T2} and ws.max_row == 1 + 2 * 4


# ---------------------------------------------------------------- change against last year


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from popreg.synth.generator import generate

    out = tmp_path_factory.mktemp("synth") / "county"
    generate(out, seed=5, persons=1500, progress=None)
    return out


def test_change_against_last_year_on_a_synthetic_county(synth):
    rs = parse_rule_set({"name": "x", "version": 1, "rules": [
        {"id": "rni", "indicator": "rni", "comparison": "band", "low": -2, "high": 5, "weight": 60},
        {"id": "cbr", "indicator": "cbr", "comparison": "at_least", "threshold": 6, "weight": 40},
    ]})  # fmt: skip
    now = assess(synth, 2024, "village", rs)
    before = assess(synth, 2023, "village", rs)
    assert now.previous_available
    prev = _rows(before)
    for code, row in _rows(now).items():
        assert row["previous_total"] == prev[code]["total"]
        assert row["previous_rank"] == prev[code]["rank"]
        assert row["total_change"] == row["total"] - prev[code]["total"]
        assert row["rank_change"] == prev[code]["rank"] - row["rank"]
    xlsx = to_xlsx_bytes(now, "tester")
    assert load_workbook(io.BytesIO(xlsx))["说明 about"]["B8"].value == "tester"


def test_cli_refuses_targets_of_unknown_units(handmade, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    targets = tmp_path / "t.xlsx"
    targets.write_bytes(_xlsx([[2024, V11, "rni", 0, 5], [2024, "411000009009", "rni", 0, 5]]))
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match="row 3"):
        call_command("assess", str(handmade), "--year", "2024", "--rules", str(rules),
                     "--targets", str(targets), "--out", str(out))
    assert not out.exists()
