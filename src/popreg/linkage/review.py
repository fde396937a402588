"""Queries of the duplicate review queue, evidence display, and decisions as labels.

Jurisdiction: a candidate is visible to an actor only when *both* persons are within the
actor's jurisdiction (registered or living there), so a village clerk never sees a pair
that involves someone outside the village.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from popreg.linkage.models import DuplicateCandidate, MergeRecord
from popreg.registry.access import Actor

#: Comparisons shown on the review page, in order, with their Chinese names.
COMPARISON_NAMES: dict[str, str] = {
    "name": "姓名（字形与拼音）",
    "id_number": "公民身份号码",
    "birth_date": "出生日期",
    "sex": "性别",
    "address": "户籍地址",
}

#: Chinese for the engine's level labels (``popreg.linkage.comparisons.LEVEL_LABELS``).
LEVEL_NAMES: dict[str, str] = {
    "null": "缺失（不计分）",
    "same characters": "字形相同",
    "same reading (homophone / variant)": "读音相同（同音字或异体字）",
    "one given-name character differs": "名字中一个字不同",
    "same characters in another order": "字相同，顺序不同",
    "one given-name character dropped or added": "名字多一个字或少一个字",
    "given name different, same household and birth date (twins)": "同户同日出生，名字不同（双胞胎）",
    "same surname, given name different": "同姓，名字不同（可能是曾用名）",
    "only the check character differs": "仅校验码不同",
    "recorded dates differ, the ID numbers' dates agree": "登记的出生日期不同，身份证号中的日期相同",
    "a generation apart (15 years or more)": "相差 15 年以上（隔代）",
    "recorded sex differs, the ID numbers' sex agrees": "登记的性别不同，身份证号中的性别相同",
    "different county": "不同县（市、区）",
    "same number": "号码相同",
    "same after 15 to 18 upgrade": "15位升18位后相同",
    "both valid, only sequence differs (twins / namesakes)": "均为有效号码，仅顺序码不同（双胞胎或同日出生）",
    "both valid, different": "均为有效号码，且不同",
    "one typo or adjacent transposition (not both valid)": "差一位或相邻两位颠倒（非均有效）",
    "same date": "日期相同",
    "day and month exchanged": "月、日颠倒",
    "one day apart": "相差一天",
    "one year apart, same day": "月日相同，年份差一年",
    "same": "相同",
    "same household": "同一户",
    "same village": "同村（居）",
    "same township": "同乡镇",
    "different township": "不同乡镇",
    "different": "不同",
}


def _in_scope(prefix: str, side: str) -> Q:
    return Q(**{f"{side}__registered_unit_id__startswith": prefix}) | Q(
        **{f"{side}__residence_unit_id__startswith": prefix}
    )


def scope_candidates(
    qs: QuerySet[DuplicateCandidate], actor: Actor
) -> QuerySet[DuplicateCandidate]:
    """Candidates whose two persons are both within the actor's jurisdiction."""
    if actor.prefix == "":
        return qs
    return qs.filter(_in_scope(actor.prefix, "person_a")).filter(
        _in_scope(actor.prefix, "person_b")
    )


def scope_merges(qs: QuerySet[MergeRecord], actor: Actor) -> QuerySet[MergeRecord]:
    if actor.prefix == "":
        return qs
    return qs.filter(_in_scope(actor.prefix, "survivor")).filter(
        _in_scope(actor.prefix, "duplicate")
    )


def candidates(
    actor: Actor, *, status: str = "pending", unit_prefix: str = ""
) -> QuerySet[DuplicateCandidate]:
    """The queue: candidates in scope with ``status`` ("" = all), most probable first.

    ``unit_prefix`` keeps pairs where either person is registered in that unit.
    """
    qs = scope_candidates(
        DuplicateCandidate.objects.select_related(
            "person_a", "person_b", "person_a__registered_unit", "person_b__registered_unit"
        ),
        actor,
    )
    if status:
        qs = qs.filter(status=status)
    if unit_prefix:
        qs = qs.filter(
            Q(person_a__registered_unit_id__startswith=unit_prefix)
            | Q(person_b__registered_unit_id__startswith=unit_prefix)
        )
    return qs.order_by("-match_probability", "id")


def level_name(label: str) -> str:
    return LEVEL_NAMES.get(label, label)


def evidence_rows(candidate: DuplicateCandidate) -> list[dict[str, Any]]:
    """The stored evidence in display order, with Chinese names and a strength class."""
    by_name = {e.get("comparison"): e for e in candidate.evidence or []}
    rows = []
    for comp, zh in COMPARISON_NAMES.items():
        e = by_name.get(comp)
        if e is None:
            continue
        weight = e.get("weight")
        strength = (
            "none"
            if weight is None
            else ("for" if weight > 0.5 else ("against" if weight < -0.5 else "none"))
        )
        rows.append(
            {
                "comparison": comp,
                "name": zh,
                "level": level_name(str(e.get("level", ""))),
                "level_en": e.get("level", ""),
                "weight": weight,
                "strength": strength,
            }
        )
    return rows


def evidence_from_pair(
    row: dict[str, Any], weights: dict[str, dict[int, float]]
) -> list[dict[str, Any]]:
    """Evidence to store for one scored pair of ``engine.dedupe`` (its ``*_gamma``/``*_level``
    columns) with the match weight of each level from the model (``level_weights``)."""
    out = []
    for comp in COMPARISON_NAMES:
        gamma_key = f"{comp}_gamma"
        if gamma_key not in row:
            continue
        gamma = int(row[gamma_key])
        level = str(row.get(f"{comp}_level") or ("null" if gamma < 0 else gamma))
        w = weights.get(comp, {}).get(gamma)
        out.append(
            {
                "comparison": comp,
                "gamma": gamma,
                "level": level,
                "weight": None if w is None else round(w, 2),
            }
        )
    return out


def level_weights(splink_settings: dict[str, Any] | None) -> dict[str, dict[int, float]]:
    """log2(m/u) of every level of every comparison of a trained Splink model, by gamma.

    Splink numbers the non-null levels from the last (``ELSE``, gamma 0) up; the null
    level is gamma -1 and weighs 0.  Term-frequency adjustments are not included.
    """
    out: dict[str, dict[int, float]] = {}
    for comp in (splink_settings or {}).get("comparisons", []):
        levels = [lv for lv in comp.get("comparison_levels", []) if not lv.get("is_null_level")]
        weights: dict[int, float] = {-1: 0.0}
        for i, lv in enumerate(levels):
            m, u = lv.get("m_probability"), lv.get("u_probability")
            if m and u:
                weights[len(levels) - 1 - i] = math.log2(float(m) / float(u))
        out[str(comp.get("output_column_name"))] = weights
    return out


def decision_labels(actor: Actor) -> list[tuple[str, str, int]]:
    """Decided pairs in scope as engine labels: (record_id_l, record_id_r, is_match)."""
    qs = scope_candidates(
        DuplicateCandidate.objects.exclude(status=DuplicateCandidate.Status.PENDING), actor
    )
    return [
        (str(a), str(b), 1 if status == DuplicateCandidate.Status.SAME_PERSON else 0)
        for a, b, status in qs.order_by("person_a_id", "person_b_id").values_list(
            "person_a_id", "person_b_id", "status"
        )
    ]


LABEL_COLUMNS = ("record_id_l", "record_id_r", "is_match")


def labels_csv(rows: Iterable[tuple[str, str, int]]) -> str:
    """CSV for ``popreg.linkage.engine.dedupe(labels=...)`` (record ids are person ids);
    downloads go through :mod:`popreg.registry.exports` and add a stamp line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(LABEL_COLUMNS)
    w.writerows(rows)
    return buf.getvalue()
