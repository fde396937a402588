"""Exact resolution on checksum-valid ID numbers, before any probabilistic comparison.

At a county's size every candidate pair can be scored.  At a province's or the nation's,
almost every record carries a checksum-valid 18-digit ID number, and scoring the pairs of
such records that the name and date blocking rules bring together (two 王芳 born in 1985
in one province) is where the time goes.  Those pairs need no model:

* **same valid number**: one person.  The records are grouped by ``id18`` (a hash join,
  :func:`exact_pairs`) and put in one cluster before any scored pair is considered,
  whatever their name, sex or birth date fields say (a wrong sex or date field does not
  veto them; a reviewer who rejects such a pair still keeps them apart).
* **two different valid numbers**: two people.  The MOD 11-2 check character of GB 11643
  catches every single substituted digit and every exchange of two adjacent digits, so a
  clerk's typo does not produce another valid number; and the clustering already refuses
  to join two valid numbers (:mod:`popreg.linkage.cluster`).

So the probabilistic step only needs the pairs in which **at least one record has no
usable ID number** (missing, mistyped, legacy 15-digit): :func:`restrict_settings`
rewrites every blocking rule except the one on ``id18`` itself so that the join key of one
side is ``NULL`` for a record with a valid number.  Each rule becomes two rules, one per
side (Splink's ``dedupe_only`` orders a pair by ``record_id``), and each is still an
equality join that DuckDB and Spark execute as a hash join; the pairs of two valid
numbers are never produced, not produced and then filtered.  The rule on ``id18`` stays
as it is, so the pairs of one valid number are still scored and shown with their levels
(and a legacy 15-digit number still meets its 18-digit form).

What this gives up: one person registered twice under two different valid numbers
(一人多号) is no longer put before a reviewer by the name rules.  ``dedupe(...,
compare_valid_ids=True)`` (``popreg dedupe --compare-valid-ids``) scores every pair, as
before, for a county that looks for them.

No Django here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

#: The rule left as it is: the hash join on the normalised 18-character number.
EXACT_KEY = "id18"
#: The column that says a record's number is usable (``prepare.py``: checksum-valid id18).
VALID_COLUMN = "id_valid"

# One equality of a rule Splink wrote from ``block_on``: l."col" = r."col" (DuckDB) or
# l.`col` = r.`col` (Spark), possibly in parentheses and joined by AND.
_TERM = re.compile(r'^\(?\s*l\.(["`]?)(\w+)\1\s*=\s*r\.\1(\w+)\1\s*\)?$')


def _equalities(sql: str) -> list[tuple[str, str]] | None:
    """``[(quote, column), ...]`` for a rule of plain equalities on one column each;
    ``None`` for anything else (left unchanged: it only costs extra pairs)."""
    terms = re.split(r"\s+AND\s+", sql.strip(), flags=re.IGNORECASE)
    out: list[tuple[str, str]] = []
    for term in terms:
        m = _TERM.match(term.strip())
        if m is None or m.group(2) != m.group(3):
            return None
        out.append((m.group(1), m.group(2)))
    return out


def _side_rule(terms: Sequence[tuple[str, str]], side: str) -> str:
    """The rule with ``side``'s first key made NULL for records with a valid number."""
    parts = []
    for i, (q, col) in enumerate(terms):
        left, right = f"l.{q}{col}{q}", f"r.{q}{col}{q}"
        if i == 0:
            valid = f"{side}.{q}{VALID_COLUMN}{q}"
            guarded = f"(CASE WHEN {valid} THEN NULL ELSE {side}.{q}{col}{q} END)"
            left, right = (guarded, right) if side == "l" else (left, guarded)
        parts.append(f"({left} = {right})")
    return " AND ".join(parts)


def restrict_rules(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Splink blocking-rule dicts rewritten so that no pair of two records with valid ID
    numbers is produced, except by the rule on ``id18`` (see the module text)."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        terms = _equalities(str(rule["blocking_rule"]))
        if terms is None or [c for _q, c in terms] == [EXACT_KEY]:
            out.append(dict(rule))
            continue
        for side in ("l", "r"):
            out.append({**rule, "blocking_rule": _side_rule(terms, side)})
    return out


def restrict_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Splink settings whose prediction rules are :func:`restrict_rules` of the given ones."""
    key = "blocking_rules_to_generate_predictions"
    return {**settings, key: restrict_rules(settings[key])}


def exact_pairs(record_ids: Sequence[str], valid_ids: dict[str, str]) -> list[tuple[str, str]]:
    """The hash join: for every valid number held by several records, pairs that join them
    (the first record in input order with each of the others), in input order."""
    first: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for rid in record_ids:
        number = valid_ids.get(rid)
        if number is None:
            continue
        head = first.setdefault(number, rid)
        if head != rid:
            pairs.append((head, rid))
    return pairs
