"""Blocking rules: which pairs are scored at all.

A pair is scored when it agrees on any one of these keys, so a duplicate is still found
when its ID number is missing or mistyped, its name written in another form, or its
birth date off by a day, a year or a swap:

1. ``id18``              same ID number (after normalisation and 15 → 18 upgrade)
2. ``id_body``           same first 17 characters (wrong or lower-case check character)
3. ``id_prefix14``       same region and birth date in the ID (typo in the sequence
                         digits; also brings twins and namesakes in, to be scored apart)
4. ``name_py, birth_year``  same pinyin key and birth year (ID missing or mistyped,
                         homophone and traditional forms)
5. ``name_py, birth_md``    same pinyin key and birth month-day (birth year off by one)
6. ``dob, surname``      same birth date and surname (given name written differently)
7. ``name_norm, village_code``  same name in the same village (ID missing and date wrong)
8. ``surname, village_code, birth_year``  same surname, village and birth year (ID
                         missing, given name written otherwise and date a day off)
9. ``name_py, village_code``  same reading in the same village (ID missing, a homophone
                         and the date a day off across the new year)
"""

from __future__ import annotations

from splink import block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator


def prediction_rules() -> list[BlockingRuleCreator]:
    return [
        block_on("id18"),
        block_on("id_body"),
        block_on("id_prefix14"),
        block_on("name_py", "birth_year"),
        block_on("name_py", "birth_md"),
        block_on("dob", "surname"),
        block_on("name_norm", "village_code"),
        block_on("surname", "village_code", "birth_year"),
        block_on("name_py", "village_code"),
    ]


def training_rules() -> list[BlockingRuleCreator]:
    """EM blocks: ID body (trains names, dates, sex, address); name + date (trains the ID);
    date + village (trains names against twins and neighbours born the same day)."""
    return [
        block_on("id_body"),
        block_on("name_py", "dob"),
        block_on("dob", "village_code"),
    ]


def generic_prediction_rules() -> list[BlockingRuleCreator]:
    """The baseline's rules on the raw columns, with about the same number of pairs."""
    return [
        block_on("id_number"),
        block_on("substr(id_number, 1, 14)"),
        block_on("name", "substr(birth_date, 1, 4)"),
        block_on("name", "substr(birth_date, 6, 5)"),
        block_on("birth_date", "substr(name, 1, 1)"),
        block_on("name", "village_code"),
    ]


def generic_training_rules() -> list[BlockingRuleCreator]:
    return [block_on("id_number"), block_on("name", "birth_date")]
