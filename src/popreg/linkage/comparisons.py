"""Chinese-aware Splink comparisons for registry records.

Each comparison is a Splink ``CustomComparison``: an ordered list of levels, the first
level whose SQL condition holds is the level of the pair.  Conditions use the columns
pre-computed by :mod:`popreg.linkage.prepare` and only portable SQL (or Splink's own
dialect-aware levels), so the same model runs on DuckDB and Spark.  The level lists are
documented in ``docs/linkage.md``; :data:`LEVEL_LABELS` is the same list in code.

Generic comparisons (what a user would assemble from Splink's library without knowing
Chinese names or ID numbers) are in :func:`generic_comparisons`, for the benchmark.
"""

from __future__ import annotations

from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink.internals.comparison_creator import ComparisonCreator

# m of "both numbers valid and different": a duplicate carries someone else's valid
# number only by a filing error, about once in a thousand duplicates.
FIXED_M_VALID_DIFFERENT = 1e-12
FIXED_M_ID_DIFFERENT = 1e-4
FIXED_M_ONE_CHARACTER = 1e-7
# m of "given name different, same household and birth date": twins.  Household and date
# agree for twins as for duplicates, so without this level the two comparisons would
# count twice what is one fact; fixed, as EM cannot tell twins from duplicates.
FIXED_M_TWINS = 1e-10

# Lowest m of the levels that are weak evidence against, never a veto: after estimation
# (EM sees few duplicates with these differences, and pushes their m towards zero) m is
# raised to at least this.  A wrong sex or date field, a move to another township or
# county, a former name (曾用名) happen in real registers.
M_FLOOR: dict[tuple[str, str], float] = {
    ("name", "same characters in another order"): 2e-3,
    ("name", "one given-name character dropped or added"): 5e-3,
    ("name", "same surname, given name different"): 5e-3,
    ("name", "different"): 5e-4,
    ("birth_date", "different"): 5e-3,
    ("birth_date", "a generation apart (15 years or more)"): 1e-5,
    ("sex", "recorded sex differs, the ID numbers' sex agrees"): 5e-3,
    ("sex", "different"): 5e-3,
    ("address", "different township"): 0.05,
    ("address", "different county"): 0.02,
}


def _level(sql: str, label: str, m: float | None = None, u: float | None = None) -> Any:
    level = cll.CustomLevel(sql, label_for_charts=label, base_dialect_str="duckdb")
    return _prior(level, m, u)


def _prior(level: Any, m: float | None, u: float | None) -> Any:
    """Starting values, kept when training cannot observe a level (see model.py)."""
    if m is not None:
        level = level.configure(m_probability=m)
    if u is not None:
        level = level.configure(u_probability=u)
    return level


def name_comparison() -> ComparisonCreator:
    """Names: characters, readings, order, a character dropped or added, 曾用名."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="Chinese name: normalised characters, pinyin readings",
        comparison_levels=[
            _level("name_norm_l IS NULL OR name_norm_r IS NULL", "null").configure(
                is_null_level=True
            ),
            _level("name_norm_l = name_norm_r", "same characters", 0.85, 1e-4).configure(
                tf_adjustment_column="name_norm", tf_adjustment_weight=1.0
            ),
            _prior(
                cll.ArrayIntersectLevel("name_readings", 1).configure(
                    label_for_charts="same reading (homophone / variant)"
                ),
                0.05,
                1e-4,
            ),
            _level(
                "name_sorted_l = name_sorted_r OR name_py_sorted_l = name_py_sorted_r",
                "same characters in another order",
                0.01,
                1e-6,
            ),
            cll.Or(
                cll.And(
                    _level(
                        "surname_l = surname_r AND abs(name_len_l - name_len_r) = 1",
                        "same surname, one longer",
                    ),
                    cll.LevenshteinLevel("name_norm", 1),
                ),
                # the same by reading: 金宁 / 金晓凝 (宁 and 凝 read alike)
                _level(
                    "array_contains(name_py_drops_l, name_py_full_r) "
                    "OR array_contains(name_py_drops_r, name_py_full_l)",
                    "one syllable more, by reading",
                ),
            ).configure(
                label_for_charts="one given-name character dropped or added",
                m_probability=0.02,
                u_probability=2e-5,
            ),
            _level(
                "surname_l = surname_r AND household_no_l = household_no_r "
                "AND birth_day_l = birth_day_r",
                "given name different, same household and birth date (twins)",
            ).configure(m_probability=FIXED_M_TWINS, u_probability=1e-6, fix_m_probability=True),
            cll.And(
                _level(
                    "surname_l = surname_r AND name_len_l = name_len_r AND name_len_l >= 3",
                    "same surname and length",
                ),
                cll.LevenshteinLevel("name_norm", 1),
            ).configure(
                # Homophones and variant forms are caught by the reading level; what is
                # left is mostly siblings (张嘉豪 / 张嘉伟), hence a fixed, tiny m.
                label_for_charts="one given-name character differs",
                m_probability=FIXED_M_ONE_CHARACTER,
                u_probability=3e-4,
                fix_m_probability=True,
            ),
            # A former name (曾用名) keeps the surname: weak evidence against, not a veto.
            _level("surname_l = surname_r", "same surname, given name different", 0.02, 0.03),
            _prior(cll.ElseLevel().configure(label_for_charts="different"), 0.002, 0.97),
        ],
    )


def id_comparison() -> ComparisonCreator:
    """ID numbers with knowledge of their structure (GB 11643)."""
    return cl.CustomComparison(
        output_column_name="id_number",
        comparison_description="Resident ID number: structure-aware",
        comparison_levels=[
            _level("id_norm_l IS NULL OR id_norm_r IS NULL", "null").configure(is_null_level=True),
            _level("id_norm_l = id_norm_r", "same number", 0.7, 1e-6),
            _level("id18_l = id18_r", "same after 15 to 18 upgrade", 0.05, 1e-7),
            # Two different numbers that both pass the MOD 11-2 check are not a typo of
            # one another (the check catches every single substitution and adjacent
            # transposition): different people.  EM cannot learn this (namesakes look
            # like matches on every other field), so m is fixed from that knowledge.
            _level(
                "id_valid_l AND id_valid_r AND id_prefix14_l = id_prefix14_r",
                "both valid, only sequence differs (twins / namesakes)",
            ).configure(m_probability=FIXED_M_VALID_DIFFERENT, fix_m_probability=True),
            _level("id_valid_l AND id_valid_r", "both valid, different").configure(
                m_probability=FIXED_M_VALID_DIFFERENT, fix_m_probability=True
            ),
            # u as for one typo: two people's numbers can share the first 17 characters
            # when one of them was issued or copied wrongly.
            _level("id_body_l = id_body_r", "only the check character differs", 0.03, 1e-6),
            cll.DamerauLevenshteinLevel("id18", 1).configure(
                label_for_charts="one typo or adjacent transposition (not both valid)",
                m_probability=0.15,
                u_probability=1e-6,
            ),
            # Each record carries at most one error per ID number, so two numbers that are
            # neither equal nor one edit apart belong to different people; fixed for the
            # same reason as above (EM sees namesakes as matches).
            cll.ElseLevel().configure(
                label_for_charts="different",
                m_probability=FIXED_M_ID_DIFFERENT,
                u_probability=0.1,
                fix_m_probability=True,
            ),
        ],
    )


def birth_date_comparison() -> ComparisonCreator:
    """Birth dates (recorded, else from the ID number): exact, from the ID numbers,
    day/month exchanged, one day apart, one year apart."""
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description="Birth date: exact, ID numbers' dates, swap, ±1 day, ±1 year",
        comparison_levels=[
            _level("birth_day_l IS NULL OR birth_day_r IS NULL", "null").configure(
                is_null_level=True
            ),
            _level("birth_day_l = birth_day_r", "same date", 0.85, 1e-4),
            # A recorded date that conflicts with the checksum-valid number is a field
            # error when the numbers' dates agree: evidence for, not a veto.
            _level(
                "id_dob_l = id_dob_r OR id_dob_l = dob_r OR dob_l = id_dob_r",
                "recorded dates differ, the ID numbers' dates agree",
                0.02,
                1e-6,
            ),
            _level(
                "birth_swapped_l = dob_r OR birth_swapped_r = dob_l",
                "day and month exchanged",
                0.03,
                2e-5,
            ),
            _level("abs(birth_day_l - birth_day_r) <= 1", "one day apart", 0.04, 1e-4),
            _level(
                "birth_md_l = birth_md_r AND "
                "abs(CAST(birth_year_l AS INTEGER) - CAST(birth_year_r AS INTEGER)) = 1",
                "one year apart, same day",
                0.04,
                1e-4,
            ),
            # Parent and child (a generation apart) are not one person with a wrong date.
            _level(
                "abs(birth_day_l - birth_day_r) >= 5479",
                "a generation apart (15 years or more)",
                1e-4,
                0.6,
            ),
            _prior(cll.ElseLevel().configure(label_for_charts="different"), 0.01, 0.4),
        ],
    )


def sex_comparison() -> ComparisonCreator:
    """Sex (recorded, else from the ID number); a recorded sex that conflicts while the
    ID numbers' sex agrees is a field error, not a veto."""
    return cl.CustomComparison(
        output_column_name="sex",
        comparison_description="Sex",
        comparison_levels=[
            _level("sex_l IS NULL OR sex_r IS NULL", "null").configure(is_null_level=True),
            _level("sex_l = sex_r", "same", 0.98, 0.5),
            _level(
                "id_sex_l = id_sex_r OR id_sex_l = sex_r OR sex_l = id_sex_r",
                "recorded sex differs, the ID numbers' sex agrees",
                0.01,
                1e-3,
            ),
            _prior(cll.ElseLevel().configure(label_for_charts="different"), 0.005, 0.5),
        ],
    )


def address_comparison() -> ComparisonCreator:
    """Registered address: household > village > township > county (code prefixes).

    People move: a different unit is weak evidence against, never a veto."""
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="Address hierarchy: household, village, township, county",
        comparison_levels=[
            _level("village_code_l IS NULL OR village_code_r IS NULL", "null").configure(
                is_null_level=True
            ),
            _level("household_no_l = household_no_r", "same household", 0.4, 1e-3),
            _level("village_code_l = village_code_r", "same village", 0.3, 0.02),
            _level("township_l = township_r", "same township", 0.15, 0.05),
            _level(
                "substr(village_code_l, 1, 6) = substr(village_code_r, 1, 6)",
                "different township",
                0.1,
                0.5,
            ),
            _prior(cll.ElseLevel().configure(label_for_charts="different county"), 0.05, 0.43),
        ],
    )


def registry_comparisons() -> list[ComparisonCreator]:
    """The popreg comparisons, in model order."""
    return [
        name_comparison(),
        id_comparison(),
        birth_date_comparison(),
        sex_comparison(),
        address_comparison(),
    ]


def generic_comparisons() -> list[ComparisonCreator]:
    """A generic Splink model on the raw columns (the benchmark baseline)."""
    return [
        cl.JaroWinklerAtThresholds("name", [0.9, 0.7]),
        cl.LevenshteinAtThresholds("id_number", [1, 2]),
        cl.DateOfBirthComparison("birth_date", input_is_string=True),
        cl.ExactMatch("sex"),
        cl.ExactMatch("village_code"),
    ]


# Labels of the levels (gamma value → label), for pairs.csv and the review screen.
# Gamma -1 is the null level; gammas count down from the first non-null level.
LEVEL_LABELS: dict[str, list[str]] = {
    "name": [
        "same characters",
        "same reading (homophone / variant)",
        "same characters in another order",
        "one given-name character dropped or added",
        "given name different, same household and birth date (twins)",
        "one given-name character differs",
        "same surname, given name different",
        "different",
    ],
    "id_number": [
        "same number",
        "same after 15 to 18 upgrade",
        "both valid, only sequence differs (twins / namesakes)",
        "both valid, different",
        "only the check character differs",
        "one typo or adjacent transposition (not both valid)",
        "different",
    ],
    "birth_date": [
        "same date",
        "recorded dates differ, the ID numbers' dates agree",
        "day and month exchanged",
        "one day apart",
        "one year apart, same day",
        "a generation apart (15 years or more)",
        "different",
    ],
    "sex": ["same", "recorded sex differs, the ID numbers' sex agrees", "different"],
    "address": [
        "same household",
        "same village",
        "same township",
        "different township",
        "different county",
    ],
}


def level_label(comparison: str, gamma: int) -> str:
    """The label of a gamma value (``-1`` → ``null``)."""
    if gamma < 0:
        return "null"
    labels = LEVEL_LABELS[comparison]
    return labels[len(labels) - 1 - gamma]
