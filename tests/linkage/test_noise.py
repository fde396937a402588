"""Linkage on real-world noise: the level lists of docs/linkage.md one by one, estimation
on the data with the shipped model as prior, and the independent test set
(``tests/linkage/noisegen.py``) scored per noise class."""

from __future__ import annotations

import copy
from datetime import date

import pandas as pd
import pytest

from popreg.core.idnumber import compose
from popreg.linkage import comparisons
from popreg.linkage.engine import REVIEW_FLOOR, dedupe, score_records
from popreg.linkage.model import blend_m, load_model

from . import noisegen

VILLAGE = "360321001201"
BORN = date(1980, 3, 5)
ID = compose("360321", BORN, 22)  # a woman's number (even sequence)
TWIN_ID = compose("360321", BORN, 24)
OTHER_ID = compose("360321", date(1975, 6, 1), 31)


def _rec(rid: str, **fields: str) -> dict[str, str]:
    base = {
        "record_id": rid, "name": "伍玉珍", "sex": "F", "birth_date": BORN.isoformat(),
        "id_number": ID, "village_code": VILLAGE, "household_no": f"H{rid}",
    }  # fmt: skip
    base.update(fields)
    return base


def _typo(number: str, pos: int) -> str:
    digit = str((int(number[pos]) + 1) % 10)
    return number[:pos] + digit + number[pos + 1 :]


def _swap(number: str, pos: int) -> str:
    return number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]


# (comparison, expected level, left record's changes, right record's changes)
LEVEL_CASES: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    ("name", "null", {}, {"name": ""}),
    ("name", "same characters", {}, {}),
    ("name", "same characters", {"name": "張偉"}, {"name": "张伟"}),  # traditional form
    ("name", "same reading (homophone / variant)", {"name": "张伟"}, {"name": "张玮"}),
    ("name", "same characters in another order", {}, {"name": "伍珍玉"}),
    ("name", "one given-name character dropped or added", {}, {"name": "伍珍"}),
    ("name", "one given-name character dropped or added", {"name": "包红"}, {"name": "包小红"}),
    ("name", "one given-name character differs", {"name": "张嘉豪"}, {"name": "张嘉伟"}),
    (
        "name",
        "given name different, same household and birth date (twins)",
        {"household_no": "H1"},
        {"name": "伍春花", "household_no": "H1", "id_number": ""},
    ),
    ("name", "same surname, given name different", {}, {"name": "伍春花"}),  # 曾用名
    ("name", "different", {}, {"name": "李娜"}),
    ("id_number", "null", {}, {"id_number": ""}),
    ("id_number", "same number", {}, {"id_number": ID.lower()}),
    ("id_number", "same after 15 to 18 upgrade", {}, {"id_number": ID[:6] + ID[8:17]}),
    (
        "id_number",
        "both valid, only sequence differs (twins / namesakes)",
        {},
        {"id_number": TWIN_ID},
    ),
    ("id_number", "both valid, different", {}, {"id_number": OTHER_ID}),
    (
        "id_number",
        "only the check character differs",
        {},
        {"id_number": ID[:17] + ("0" if ID[17] != "0" else "1")},
    ),
    (
        "id_number",
        "one typo or adjacent transposition (not both valid)",
        {},
        {"id_number": _typo(ID, 15)},
    ),
    (
        "id_number",
        "one typo or adjacent transposition (not both valid)",
        {},
        {"id_number": _swap(ID, 7)},
    ),
    ("id_number", "different", {}, {"id_number": _typo(_typo(ID, 3), 15)}),
    ("birth_date", "null", {"id_number": ""}, {"birth_date": "", "id_number": ""}),
    ("birth_date", "same date", {}, {}),
    # missing date field: the date decoded from the valid ID number stands in
    ("birth_date", "same date", {"id_number": ""}, {"birth_date": ""}),
    (
        "birth_date",
        "recorded dates differ, the ID numbers' dates agree",
        {},
        {"birth_date": "1982-07-09"},
    ),
    (
        "birth_date",
        "day and month exchanged",
        {"id_number": ""},
        {"birth_date": "1980-05-03", "id_number": ""},
    ),
    (
        "birth_date",
        "one day apart",
        {"id_number": ""},
        {"birth_date": "1980-03-06", "id_number": ""},
    ),
    (
        "birth_date",
        "one year apart, same day",
        {"id_number": ""},
        {"birth_date": "1981-03-05", "id_number": ""},
    ),
    (
        "birth_date",
        "a generation apart (15 years or more)",
        {"id_number": ""},
        {"birth_date": "2006-08-01", "id_number": ""},
    ),
    ("birth_date", "different", {"id_number": ""}, {"birth_date": "1983-09-20", "id_number": ""}),
    ("sex", "null", {"id_number": ""}, {"sex": "", "id_number": ""}),
    ("sex", "same", {}, {}),
    ("sex", "same", {"id_number": ""}, {"sex": ""}),  # missing field: the ID number's sex
    ("sex", "recorded sex differs, the ID numbers' sex agrees", {}, {"sex": "M"}),
    ("sex", "different", {"id_number": ""}, {"sex": "M", "id_number": ""}),
    ("address", "null", {}, {"village_code": ""}),
    ("address", "same household", {"household_no": "H1"}, {"household_no": "H1"}),
    ("address", "same village", {}, {}),
    ("address", "same township", {}, {"village_code": "360321001202"}),
    ("address", "different township", {}, {"village_code": "360321004203"}),
    ("address", "different county", {}, {"village_code": "360322001201"}),
]


@pytest.fixture(scope="module")
def level_pairs() -> pd.DataFrame:
    left = pd.DataFrame([_rec(f"L{i}", **lf) for i, (_c, _e, lf, _r) in enumerate(LEVEL_CASES)])
    right = pd.DataFrame([_rec(f"R{i}", **rf) for i, (_c, _e, _l, rf) in enumerate(LEVEL_CASES)])
    return score_records(left, right).set_index(["record_id_l", "record_id_r"])


def test_every_level_of_the_documented_lists_is_reached(level_pairs: pd.DataFrame) -> None:
    reached: dict[str, set[str]] = {}
    for i, (comparison, expected, _l, _r) in enumerate(LEVEL_CASES):
        got = level_pairs.loc[(f"L{i}", f"R{i}"), f"{comparison}_level"]
        assert got == expected, (i, comparison, expected, got)
        reached.setdefault(comparison, set()).add(got)
    for comparison, labels in comparisons.LEVEL_LABELS.items():
        assert set(labels) | {"null"} == reached[comparison], comparison


def test_level_labels_match_the_shipped_model() -> None:
    model = load_model()
    assert model.splink is not None
    for comp in model.splink["comparisons"]:
        labels = [lv["label_for_charts"] for lv in comp["comparison_levels"][1:]]
        assert labels == comparisons.LEVEL_LABELS[comp["output_column_name"]]


def _pool(n: int = 2000) -> pd.DataFrame:
    """Other people of a county, so that names have realistic frequencies."""
    records, _dups, _negs = noisegen.generate(n, seed=99, rate=0.0)
    return records.drop(columns=["entity_id", "noise", "noise2"])


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    return _pool()


def _probability(pool: pd.DataFrame, left: dict[str, str], right: dict[str, str]) -> float:
    scored = score_records(pd.DataFrame([left]), pd.concat([pool, pd.DataFrame([right])]))
    row = scored[scored["record_id_r"] == right["record_id"]]
    return float(row["match_probability"].iloc[0])


def test_a_wrong_sex_and_date_field_does_not_veto_identical_ids(pool: pd.DataFrame) -> None:
    threshold = load_model().threshold
    left = _rec("A", name="伍玉珍")
    right = _rec("B", name="伍玉珍", sex="M", birth_date="1982-07-09",
                 village_code="360321004203")  # fmt: skip
    assert _probability(pool, left, right) >= threshold


@pytest.mark.parametrize(
    "right",
    [
        {"birth_date": ""},  # birth date missing, the rest agrees
        {"id_number": ""},  # ID number missing, the rest agrees
        {"id_number": "", "village_code": "360322003204"},  # and moved to another county
        {"id_number": "", "name": "伍珍"},  # and a character dropped
        {"id_number": "", "name": "伍珍玉"},  # and characters swapped
    ],
)
def test_missing_fields_and_moves_still_match(pool: pd.DataFrame, right: dict[str, str]) -> None:
    assert _probability(pool, _rec("A"), _rec("B", **right)) >= load_model().threshold


@pytest.mark.parametrize(
    ("left", "right", "below"),
    [
        # twins: same household, surname and birth date, valid numbers one sequence apart
        ({"name": "伍玉珍", "household_no": "H1"},
         {"name": "伍玉兰", "household_no": "H1", "id_number": TWIN_ID}, "review"),
        # twins, one without a number: never merged (a former name in the same household
        # would look the same, so a reviewer may see the pair)
        ({"name": "伍玉珍", "household_no": "H1"},
         {"name": "伍春花", "household_no": "H1", "id_number": ""}, "threshold"),
        # namesakes born 40 days apart in one village, one without a number
        ({}, {"birth_date": "1980-04-14", "id_number": ""}, "review"),
        # parent and child with the same name in one household, the child without a number
        ({"household_no": "H1"}, {"household_no": "H1", "birth_date": "2006-08-01",
                                  "id_number": ""}, "review"),
    ],
)  # fmt: skip
def test_hard_negatives_stay_apart(
    pool: pd.DataFrame, left: dict[str, str], right: dict[str, str], below: str
) -> None:
    bound = REVIEW_FLOOR if below == "review" else load_model().threshold
    assert _probability(pool, _rec("A", **left), _rec("B", **right)) < bound


# --- estimation on the data -------------------------------------------------------------


def _settings(ms: list[float | None], fixed: int | None = None) -> dict[str, object]:
    levels: list[dict[str, object]] = [{"label_for_charts": "null", "is_null_level": True}]
    for i, m in enumerate(ms):
        level: dict[str, object] = {"label_for_charts": f"level {i}", "m_probability": m}
        if i == fixed:
            level["fix_m_probability"] = True
        levels.append(level)
    return {"comparisons": [{"output_column_name": "x", "comparison_levels": levels}]}


def test_blend_weighs_estimate_against_prior() -> None:
    prior = _settings([0.5, 0.3, 0.2])
    estimated = _settings([0.9, None, 0.1])
    for weight, expected in ((0.0, [0.5, 0.3, 0.2]), (1.0, [0.9, 0.3, 0.1])):
        est = copy.deepcopy(estimated)
        blend_m(prior, est, weight)
        got = [lv["m_probability"] for lv in est["comparisons"][0]["comparison_levels"][1:]]  # type: ignore[index]
        total = sum(expected)
        assert got == pytest.approx([e / total for e in expected])


def test_blend_keeps_fixed_levels_and_raises_floors() -> None:
    prior = _settings([0.9, 0.05, 1e-12], fixed=2)
    est = _settings([0.999, 0.0, 1e-12], fixed=2)
    blend_m(prior, est, 1.0)
    levels = est["comparisons"][0]["comparison_levels"]  # type: ignore[index]
    assert levels[3]["m_probability"] == 1e-12
    # no floor for this made-up comparison: the estimate stands
    assert levels[2]["m_probability"] == pytest.approx(0.0)

    floor = comparisons.M_FLOOR[("sex", "different")]
    sex = _settings([0.99, 0.01, 0.0])
    sex["comparisons"][0]["output_column_name"] = "sex"  # type: ignore[index]
    for lv, label in zip(sex["comparisons"][0]["comparison_levels"][1:],  # type: ignore[index]
                         comparisons.LEVEL_LABELS["sex"], strict=True):  # fmt: skip
        lv["label_for_charts"] = label
    est = copy.deepcopy(sex)
    blend_m(sex, est, 1.0)
    assert est["comparisons"][0]["comparison_levels"][3]["m_probability"] >= floor * 0.99  # type: ignore[index]


# --- the independent test set -----------------------------------------------------------


@pytest.fixture(scope="module")
def noisy() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return noisegen.generate(5000, seed=1)


@pytest.fixture(scope="module")
def noisy_result(noisy):  # type: ignore[no-untyped-def]
    records, _d, _n = noisy
    return dedupe(records.drop(columns=["entity_id", "noise", "noise2"]))


def test_generator_plants_every_class_with_truth(noisy) -> None:  # type: ignore[no-untyped-def]
    records, dups, negs = noisy
    by_id = records.set_index("record_id")
    assert set(dups["noise"]) == set(noisegen.DUPLICATE_CLASSES)
    assert set(negs["noise"]) == set(noisegen.NEGATIVE_CLASSES)
    assert (dups.groupby("noise").size() == 75).all()
    for a, b, cls in dups.itertuples(index=False):
        ra, rb = by_id.loc[a], by_id.loc[b]
        assert ra["entity_id"] == rb["entity_id"]
        if cls in ("id_digit", "id_transposed", "id_check_digit"):
            assert len(rb["id_number"]) == 18 and rb["id_number"] != ra["id_number"]
            body = rb["id_number"][:17]
            assert noisegen.check_char(body) != rb["id_number"][17]
        if cls == "id_legacy15":
            assert len(rb["id_number"]) == 15
    for a, b, cls in negs.itertuples(index=False):
        ra, rb = by_id.loc[a], by_id.loc[b]
        assert ra["entity_id"] != rb["entity_id"]
        if cls == "twins":
            assert ra["household_no"] == rb["household_no"]
            assert ra["birth_date"] == rb["birth_date"] and ra["name"] != rb["name"]
        else:
            assert ra["name"] == rb["name"]


def test_independent_set_per_noise_class(noisy, noisy_result) -> None:  # type: ignore[no-untyped-def]
    records, dups, negs = noisy
    table, scores = noisegen.class_table(records, dups, negs, noisy_result.clusters)
    print()
    print(table.to_string(index=False))
    print({k: round(v, 4) for k, v in scores.items()})
    assert scores["f1"] >= 0.98, scores
    assert scores["precision"] >= 0.995, scores
    recall = table[table["kind"] == "duplicate"].set_index("class")["recall"]
    assert set(recall.index) == set(noisegen.DUPLICATE_CLASSES)
    assert (recall >= 0.95).all(), recall[recall < 0.95]
    apart = table[table["kind"] == "hard negative"].set_index("class")["kept_apart"]
    assert (apart >= 0.99).all(), apart


def test_model_is_estimated_on_the_data(noisy_result) -> None:  # type: ignore[no-untyped-def]
    model = noisy_result.model
    assert model.meta["recipe"] == "EM on the data, the model as prior"
    shipped = load_model().splink
    assert shipped is not None and model.splink is not None

    def m(settings: dict[str, object], comp: str, label: str) -> float:
        for c in settings["comparisons"]:  # type: ignore[attr-defined]
            if c["output_column_name"] == comp:
                for lv in c["comparison_levels"]:
                    if lv["label_for_charts"] == label:
                        return float(lv["m_probability"])
        raise KeyError(label)

    # The test set has many more dropped characters and moves than the shipped model's
    # training data: EM on the data learns that.
    label = "one given-name character dropped or added"
    assert m(model.splink, "name", label) > 2 * m(shipped, "name", label)


def test_uncertain_pairs_go_to_review_not_to_a_merge(noisy_result) -> None:  # type: ignore[no-untyped-def]
    result = noisy_result
    cut = result.model.threshold
    cluster = dict(zip(result.clusters["record_id"], result.clusters["cluster_id"], strict=True))
    review = result.review
    assert len(review) > 0
    assert (review["match_probability"] >= REVIEW_FLOOR).all()
    for a, b, p in review[["record_id_l", "record_id_r", "match_probability"]].itertuples(
        index=False
    ):
        assert p < cut or cluster[a] != cluster[b]
    band = result.pairs[result.pairs["match_probability"].between(REVIEW_FLOOR, cut, "left")]
    assert len(band) == len(review[review["match_probability"] < cut])


def test_every_level_has_a_chinese_name_for_the_review_page() -> None:
    from popreg.linkage.review import LEVEL_NAMES

    for labels in comparisons.LEVEL_LABELS.values():
        for label in labels:
            assert label in LEVEL_NAMES, label
            assert any("\u4e00" <= ch <= "\u9fff" for ch in LEVEL_NAMES[label]), label
