"""Facts the benefit rules read: one row per person, built from a snapshot.

The registry side comes from a snapshot directory (``popreg.snapshot.connect``, DuckDB);
family facts the registry does not hold (only-child certificates, disability grades) come
in as :class:`FamilyFacts`, two DataFrames the benefits app exports from its own records
with exactly these columns:

``certificates``
    ``person_id`` (int64, the holder: a parent), ``kind`` (str, e.g. ``only_child``),
    ``number`` (str), ``issued_date`` (date), ``child_person_id`` (int64, nullable).
``disabilities``
    ``person_id`` (int64), ``grade`` (int, 1 = most severe .. 4), ``recorded_date`` (date).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CERTIFICATE_COLUMNS: tuple[str, ...] = (
    "person_id", "kind", "number", "issued_date", "child_person_id",
)
DISABILITY_COLUMNS: tuple[str, ...] = ("person_id", "grade", "recorded_date")

#: ``kind`` of an only-child parents' certificate (独生子女父母光荣证).
ONLY_CHILD_CERTIFICATE = "only_child"


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})


@dataclass(frozen=True)
class FamilyFacts:
    """Family facts recorded by the benefits office (not in the registry snapshot)."""

    certificates: pd.DataFrame = field(default_factory=lambda: _empty(CERTIFICATE_COLUMNS))
    disabilities: pd.DataFrame = field(default_factory=lambda: _empty(DISABILITY_COLUMNS))

    def __post_init__(self) -> None:
        for name, frame, columns in (
            ("certificates", self.certificates, CERTIFICATE_COLUMNS),
            ("disabilities", self.disabilities, DISABILITY_COLUMNS),
        ):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"家庭信息表 {name} 缺少列 {', '.join(missing)}；"
                    f"family-fact table {name} lacks columns {', '.join(missing)}: "
                    f"export it with columns {', '.join(columns)}"
                )


#: The facts table :func:`build_facts` returns (one row per person; dates as datetime64,
#: counts as integers, missing as NaT / <NA>).  docs/benefits-rules.md describes each.
FACT_COLUMNS: tuple[str, ...] = (
    "person_id", "sex", "birth_date", "status", "residence_type", "hukou_kind",
    "registered_unit", "registered_in_county", "mother_id", "father_id",
    "death_date", "move_out_date", "deregistration_date", "last_move_in_date",
    "children_count", "sons_count", "daughters_count", "children_dead_count",
    "child_person_id", "child_birth_date", "child_death_date", "child_disability_grade",
    "children_min_disability_grade", "children_mother_birth_date",
    "disability_grade", "certificate_number", "certificate_issued_date",
    "certificate_child_id", "certificate_child_birth_date", "certificate_child_death_date",
)

_CATEGORICAL = ("sex", "status", "residence_type", "hukou_kind", "registered_unit")


def _normalise(family: FamilyFacts) -> tuple[pd.DataFrame, pd.DataFrame]:
    cert = family.certificates.loc[:, list(CERTIFICATE_COLUMNS)].copy()
    cert["person_id"] = pd.to_numeric(cert["person_id"]).astype("Int64")
    cert["child_person_id"] = pd.to_numeric(cert["child_person_id"]).astype("Int64")
    cert["issued_date"] = pd.to_datetime(cert["issued_date"]).astype("datetime64[s]")
    cert["kind"] = cert["kind"].astype("string")
    cert["number"] = cert["number"].astype("string")
    dis = family.disabilities.loc[:, list(DISABILITY_COLUMNS)].copy()
    dis["person_id"] = pd.to_numeric(dis["person_id"]).astype("Int64")
    dis["grade"] = pd.to_numeric(dis["grade"]).astype("Int64")
    dis["recorded_date"] = pd.to_datetime(dis["recorded_date"]).astype("datetime64[s]")
    return cert, dis


_FACTS_SQL = """
WITH p AS (
  SELECT person_id, sex, birth_date, status, residence_type, registered_unit, mother_id,
         {father} AS father_id, {hukou} AS hukou_kind, {death} AS death_date
  FROM persons {merged_filter}
),
ev AS (
  SELECT person_id, event_type, event_date,
         event_type = 'move_in' AND (from_unit IS NULL OR from_unit NOT IN (SELECT unit_code FROM units))
           AS from_outside
  FROM events
  WHERE event_type IN ('death', 'move_in', 'move_out', 'enlistment', 'discharge')
),
per AS (
  SELECT person_id,
    min(event_date) FILTER (WHERE event_type = 'death') AS death_event,
    max(event_date) FILTER (WHERE event_type = 'move_out') AS last_out,
    max(event_date) FILTER (WHERE from_outside) AS last_in,
    max(event_date) FILTER (WHERE event_type = 'enlistment') AS last_enlist,
    max(event_date) FILTER (WHERE event_type = 'discharge') AS last_discharge
  FROM ev GROUP BY person_id
),
dis AS (
  SELECT person_id, arg_max(grade, recorded_date) AS grade FROM disabilities GROUP BY person_id
),
kids AS (
  SELECT p.person_id AS child_id, p.sex, p.birth_date, p.mother_id,
         coalesce(p.death_date, per.death_event) AS death_date,
         p.status = 'deceased' OR coalesce(p.death_date, per.death_event) IS NOT NULL AS dead,
         dis.grade
  FROM p LEFT JOIN per USING (person_id) LEFT JOIN dis USING (person_id)
),
links AS (
  SELECT mother_id AS parent_id, * FROM kids WHERE mother_id IS NOT NULL
  UNION ALL
  SELECT p.father_id AS parent_id, kids.* FROM kids JOIN p ON p.person_id = kids.child_id
  WHERE p.father_id IS NOT NULL
),
mothers AS (SELECT person_id AS mother_id, birth_date AS mother_birth FROM p),
fam AS (
  SELECT parent_id AS person_id,
    count(*) AS children_count,
    count(*) FILTER (WHERE sex = 'M') AS sons_count,
    count(*) FILTER (WHERE sex = 'F') AS daughters_count,
    count(*) FILTER (WHERE dead) AS children_dead_count,
    CASE WHEN count(*) = 1 THEN any_value(child_id) END AS child_person_id,
    CASE WHEN count(*) = 1 THEN any_value(links.birth_date) END AS child_birth_date,
    CASE WHEN count(*) = 1 THEN any_value(death_date) END AS child_death_date,
    CASE WHEN count(*) = 1 THEN any_value(grade) END AS child_disability_grade,
    min(grade) AS children_min_disability_grade,
    CASE WHEN count(DISTINCT mother_birth) = 1 THEN min(mother_birth) END AS children_mother_birth_date
  FROM links LEFT JOIN mothers USING (mother_id)
  GROUP BY parent_id
),
cert_holders AS (
  SELECT c.person_id AS holder, c.number, c.issued_date, c.child_person_id FROM certificates c
  WHERE c.kind = '{only_child}'
  UNION ALL
  SELECT k.mother_id, c.number, c.issued_date, c.child_person_id
  FROM certificates c JOIN p k ON k.person_id = c.child_person_id
  WHERE c.kind = '{only_child}' AND k.mother_id IS NOT NULL
  UNION ALL
  SELECT k.father_id, c.number, c.issued_date, c.child_person_id
  FROM certificates c JOIN p k ON k.person_id = c.child_person_id
  WHERE c.kind = '{only_child}' AND k.father_id IS NOT NULL
),
cert AS (
  SELECT holder AS person_id,
    arg_max(number, issued_date) AS certificate_number,
    max(issued_date) AS certificate_issued_date,
    arg_max(child_person_id, issued_date) AS certificate_child_id
  FROM cert_holders GROUP BY holder
)
SELECT
  p.person_id, p.sex, p.birth_date, p.status, p.residence_type, p.hukou_kind,
  p.registered_unit, p.registered_unit IN (SELECT unit_code FROM units) AS registered_in_county,
  p.mother_id, p.father_id,
  coalesce(p.death_date, per.death_event) AS death_date,
  CASE WHEN per.last_out IS NOT NULL AND (per.last_in IS NULL OR per.last_in < per.last_out)
       THEN per.last_out END AS move_out_date,
  CASE WHEN per.last_enlist IS NOT NULL AND (per.last_discharge IS NULL OR per.last_discharge < per.last_enlist)
       THEN per.last_enlist END AS deregistration_date,
  per.last_in AS last_move_in_date,
  coalesce(fam.children_count, 0) AS children_count,
  coalesce(fam.sons_count, 0) AS sons_count,
  coalesce(fam.daughters_count, 0) AS daughters_count,
  coalesce(fam.children_dead_count, 0) AS children_dead_count,
  fam.child_person_id, fam.child_birth_date, fam.child_death_date, fam.child_disability_grade,
  fam.children_min_disability_grade, fam.children_mother_birth_date,
  dis.grade AS disability_grade,
  cert.certificate_number, cert.certificate_issued_date, cert.certificate_child_id,
  cc.birth_date AS certificate_child_birth_date, cc.death_date AS certificate_child_death_date
FROM p
LEFT JOIN per USING (person_id)
LEFT JOIN fam USING (person_id)
LEFT JOIN dis USING (person_id)
LEFT JOIN cert USING (person_id)
LEFT JOIN kids cc ON cc.child_id = cert.certificate_child_id
ORDER BY p.person_id
"""


def build_facts(snapshot: str | Path, family: FamilyFacts | None = None) -> pd.DataFrame:
    """One row per person of ``snapshot`` with the facts the benefit rules read.

    Records merged into another (``merged_into`` set, registry snapshots) are left out:
    the surviving record stands for the person.  Dates are ``datetime64``; text columns
    with few values are categorical, so a county of millions stays small in memory.
    """
    from popreg.snapshot import connect

    cert, dis = _normalise(family or FamilyFacts())
    with connect(snapshot, tables=["units", "persons", "events"]) as con:
        cols = {r[0] for r in con.rows("SELECT column_name FROM (DESCRIBE persons)")}
        con.register("certificates", cert)
        con.register("disabilities", dis)
        sql = _FACTS_SQL.format(
            merged_filter="WHERE merged_into IS NULL" if "merged_into" in cols else "",
            hukou="hukou_kind" if "hukou_kind" in cols else "CAST(NULL AS VARCHAR)",
            father="father_id" if "father_id" in cols else "CAST(NULL AS BIGINT)",
            death="death_date" if "death_date" in cols else "CAST(NULL AS DATE)",
            only_child=ONLY_CHILD_CERTIFICATE,
        )
        table = con.arrow(sql)
    # Text with few distinct values becomes categorical in Arrow (no Python string per
    # row), integers nullable Int64 and dates datetime64[s] without a detour via objects.
    for c in _CATEGORICAL:
        i = table.schema.get_field_index(c)
        table = table.set_column(i, c, pc.cast(table.column(c), pa.string()).dictionary_encode())
    for i, f in enumerate(table.schema):
        if pa.types.is_date(f.type):
            table = table.set_column(i, f.name, pc.cast(table.column(i), pa.timestamp("s")))
    ints = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(), pa.int16(): pd.Int64Dtype(), pa.int8(): pd.Int64Dtype()}
    facts = table.to_pandas(types_mapper=ints.get, self_destruct=True)
    del table
    for c in facts.columns:
        if c.endswith(("_id", "_count", "_grade")):
            facts[c] = facts[c].astype("Int64")
        elif c.endswith("_date"):
            facts[c] = facts[c].astype("datetime64[s]")
    facts["registered_in_county"] = facts["registered_in_county"].fillna(False).astype(bool)
    return facts.loc[:, list(FACT_COLUMNS)]
