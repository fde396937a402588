"""Matching outside sources to registry persons (``popreg match``).

Kinds of source and the columns each needs (other columns are ignored):

==================  ===================================================================
kind                columns
==================  ===================================================================
``death_notices``   record_id, name, sex, id_number, birth_date, address_unit
                    (matched: the deceased)
``hospital_births`` record_id, birth_date, child_sex, mother_name, mother_id_number,
                    mother_birth_date, address_unit; optional child_name
                    (matched: the mother first, then her registered child born that day;
                    no such child = the birth is not registered)
``persons``         record_id, name, sex, birth_date, id_number, village_code;
                    optional household_no (a door-to-door list, another registry)
==================  ===================================================================

The kind is taken from the snapshot table name or guessed from the columns
(``mother_name`` → hospital births, ``death_date`` or ``notifier`` → death notices).
Each source record gets one row: record_id, person_id (empty when unmatched),
match_probability, status (``matched`` / ``unmatched``) and rule (how the link was made:
``model``, or for hospital births one of the clerical rules of :func:`_clerical_births`;
empty when unmatched).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from splink import Linker

from popreg.core.idnumber import normalize
from popreg.core.names import normalize_name
from popreg.linkage.engine import SplinkBackend
from popreg.linkage.model import LinkageModel, estimate_prior, load_model
from popreg.linkage.prepare import (
    LinkageInputError,
    check_columns,
    check_record_ids,
    parse_birth_date,
    prepare_records,
    read_input_csv,
)
from popreg.snapshot import SnapshotError, read_manifest, read_table, table_path

KINDS = ("death_notices", "hospital_births", "persons")
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "death_notices": ("record_id", "name", "sex", "id_number", "birth_date", "address_unit"),
    "hospital_births": (
        "record_id",
        "birth_date",
        "child_sex",
        "mother_name",
        "mother_id_number",
        "mother_birth_date",
        "address_unit",
    ),
    "persons": ("record_id", "name", "sex", "birth_date", "id_number", "village_code"),
}
CHILD_DATE_TOLERANCE_DAYS = 3
#: Clerical rules for hospital births left unlinked by the model (see _clerical_births).
SAME_MOTHER_WINDOW_DAYS = 366
SAME_VILLAGE_WINDOW_DAYS = 1

logger = logging.getLogger(__name__)


def _text(df: pd.DataFrame) -> pd.DataFrame:
    """All columns as strings ('' for null), dates as ISO text."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        values = df[col].tolist()
        out[col] = [
            "" if v is None or (isinstance(v, float) and v != v) else
            v.isoformat() if isinstance(v, date) else str(v)
            for v in values
        ]  # fmt: skip
    return out


def read_source(source: str | Path, snapshot_dir: str | Path | None) -> tuple[pd.DataFrame, str]:
    """The source table and its name (CSV path, Parquet path, or snapshot table name)."""
    path = Path(source)
    if path.suffix.lower() == ".csv" and path.exists():
        return read_input_csv(path, required=("record_id",)), path.stem
    if path.suffix.lower() == ".parquet" and path.exists():
        return _text(pq.read_table(path).to_pandas()), path.stem
    if snapshot_dir is not None and table_path(snapshot_dir, str(source)).is_file():
        return _text(read_table(snapshot_dir, str(source)).to_pandas()), str(source).split("/")[-1]
    raise LinkageInputError(
        f"找不到来源 {source}：请给出 CSV 或 Parquet 文件，或快照中的来源表名（如 sources/death_notices）。\n"
        f"Source {source} not found: give a CSV or Parquet file, or a source table of the "
        "snapshot (e.g. sources/death_notices)."
    )


def guess_kind(df: pd.DataFrame, name: str) -> str:
    for kind in KINDS:
        if name == kind:
            return kind
    if "mother_name" in df.columns:
        return "hospital_births"
    if "death_date" in df.columns or "notifier" in df.columns:
        return "death_notices"
    return "persons"


def registry_records(snapshot_dir: str | Path) -> pd.DataFrame:
    """Registry persons as linkage input rows (record_id = person_id)."""
    try:
        read_manifest(snapshot_dir)
        persons = read_table(
            snapshot_dir,
            "persons",
            columns=["person_id", "household_id", "name", "sex", "birth_date", "id_number",
                     "registered_unit", "mother_id"],
        ).to_pandas()  # fmt: skip
        households = read_table(
            snapshot_dir, "households", columns=["household_id", "household_no"]
        ).to_pandas()
    except SnapshotError as exc:
        raise LinkageInputError(
            f"快照 {snapshot_dir} 无法读取：{exc}\nSnapshot {snapshot_dir} cannot be read: {exc}"
        ) from exc
    hh = dict(zip(households["household_id"], households["household_no"], strict=True))
    out = _text(persons[["name", "sex", "birth_date", "id_number"]])
    out.insert(0, "record_id", persons["person_id"].astype("int64").astype(str).to_numpy())
    out["village_code"] = [str(u)[:12] if u else "" for u in persons["registered_unit"]]
    out["household_no"] = [
        hh.get(h, "") if h is not None and h == h else "" for h in persons["household_id"]
    ]
    out["mother_id"] = [
        str(int(m)) if m is not None and m == m else "" for m in persons["mother_id"]
    ]
    return out


def _source_as_persons(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    if kind == "death_notices":
        out = df[["record_id", "name", "sex", "birth_date", "id_number"]].copy()
        out["village_code"] = df["address_unit"]
    elif kind == "hospital_births":
        out = pd.DataFrame(
            {
                "record_id": df["record_id"],
                "name": df["mother_name"],
                # The mother is a woman, but registers do carry wrong sex codes: leave it
                # out of the comparison rather than lose her.
                "sex": "",
                "birth_date": df["mother_birth_date"],
                "id_number": df["mother_id_number"],
                "village_code": df["address_unit"],
            }
        )
    else:
        out = df[["record_id", "name", "sex", "birth_date", "id_number", "village_code"]].copy()
    out["household_no"] = df["household_no"] if "household_no" in df.columns else ""
    return out


def link_to_registry(
    source: pd.DataFrame,
    registry: pd.DataFrame,
    *,
    engine: str = "duckdb",
    model: LinkageModel | None = None,
    spark: Any = None,
) -> pd.DataFrame:
    """Scored pairs (record_id, person_id, match_probability) between source and registry."""
    mdl = model or load_model(None)
    src = prepare_records(source)
    reg = prepare_records(registry)
    backend = SplinkBackend(engine, spark)
    src["record_id"] = "s" + src["record_id"]
    reg["record_id"] = "r" + reg["record_id"]
    sdf_src = backend.register(src, "source")
    sdf_reg = backend.register(reg, "registry")
    linker = Linker(
        [sdf_src, sdf_reg], mdl.settings_dict(backend.dialect, "link_only"),
        log_level=logging.WARNING,
    )  # fmt: skip
    estimate_prior(linker, mdl)
    raw = linker.inference.predict(threshold_match_probability=0.01, warning_mode="never")
    pairs = raw.as_pandas_dataframe()
    left = pairs["record_id_l"].astype(str)
    right = pairs["record_id_r"].astype(str)
    src_id = left.where(left.str.startswith("s"), right).str[1:]
    reg_id = right.where(right.str.startswith("r"), left).str[1:]
    return pd.DataFrame(
        {
            "record_id": src_id,
            "person_id": reg_id,
            "match_probability": pairs["match_probability"].astype(float),
        }
    )


def match_source(
    source: pd.DataFrame | str | Path,
    against: str | Path,
    *,
    kind: str | None = None,
    engine: str = "duckdb",
    model: LinkageModel | str | Path | None = None,
    threshold: float | None = None,
    spark: Any = None,
) -> pd.DataFrame:
    """One row per source record: record_id, person_id, match_probability, status."""
    if isinstance(source, pd.DataFrame):
        df, name = _text(source), "source"
    else:
        df, name = read_source(source, against)
    kind = kind or guess_kind(df, name)
    if kind not in KINDS:
        raise LinkageInputError(
            f"未知的来源类型 {kind}：可选 {', '.join(KINDS)}。\n"
            f"Unknown source kind {kind!r}: use one of {', '.join(KINDS)}."
        )
    check_columns(df, KIND_COLUMNS[kind], name)
    if df.empty:
        raise LinkageInputError(f"来源 {name} 没有数据行。\nSource {name} has no records.")
    check_record_ids(df, name)
    mdl = model if isinstance(model, LinkageModel) else load_model(model)
    cut = mdl.threshold if threshold is None else threshold
    registry = registry_records(against)
    people = _source_as_persons(df, kind)
    reg_people = registry.drop(columns=["mother_id"])
    pairs = link_to_registry(people, reg_people, engine=engine, model=mdl, spark=spark)
    pairs = pairs[pairs["match_probability"] >= cut]
    if kind == "hospital_births":
        links = _children(df, pairs, registry).assign(rule="model")
        links = pd.concat([links, _clerical_births(df, links, registry)], ignore_index=True)
    else:
        links = _best(pairs).assign(rule="model")
    out = pd.DataFrame({"record_id": df["record_id"].astype(str)})
    out = out.merge(links, on="record_id", how="left")
    matched = out["person_id"].notna()
    out["status"] = matched.map({True: "matched", False: "unmatched"})
    out["person_id"] = out["person_id"].fillna("")
    # A clerical link has no model probability: it stays empty (NaN); unmatched rows get 0.
    out["match_probability"] = out["match_probability"].astype(float).round(6)
    out.loc[~matched, "match_probability"] = 0.0
    out["rule"] = out["rule"].fillna("")
    return out[["record_id", "person_id", "match_probability", "status", "rule"]]


def _best(pairs: pd.DataFrame) -> pd.DataFrame:
    """The best registry person for each source record (ties: lowest person_id)."""
    if pairs.empty:
        return pd.DataFrame(columns=["record_id", "person_id", "match_probability"])
    ranked = pairs.assign(pid=pairs["person_id"].astype("int64")).sort_values(
        ["record_id", "match_probability", "pid"], ascending=[True, False, True]
    )
    return ranked.drop_duplicates("record_id")[["record_id", "person_id", "match_probability"]]


def _date_gap(hospital: date, registered: date) -> int | None:
    """How far a registered birth date is from the hospital's, as a penalty; None = too far.

    Within ``CHILD_DATE_TOLERANCE_DAYS`` days: the number of days.  Day and month
    exchanged, or the same day one year off (the usual recording errors): 4.
    """
    days = abs((registered - hospital).days)
    if days <= CHILD_DATE_TOLERANCE_DAYS:
        return days
    if hospital.day <= 12 and (registered.year, registered.month, registered.day) == (
        hospital.year,
        hospital.day,
        hospital.month,
    ):
        return 4
    if (registered.month, registered.day) == (hospital.month, hospital.day) and abs(
        registered.year - hospital.year
    ) == 1:
        return 4
    return None


def _children(births: pd.DataFrame, mothers: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """For each birth: the registered child of a matched mother born within a few days.

    Candidates are scored by date distance, then same sex, then child name; each registry
    child is given to at most one birth record (twins: two births, two children).
    """
    children = registry[registry["mother_id"] != ""]
    by_mother: dict[str, list[tuple[str, date | None, str, str]]] = {}
    for pid, mid, bd, sex, name in zip(
        children["record_id"], children["mother_id"], children["birth_date"],
        children["sex"], children["name"], strict=True,
    ):  # fmt: skip
        by_mother.setdefault(mid, []).append((pid, parse_birth_date(bd), sex, name))
    info = births.set_index("record_id")
    candidates: list[tuple[float, int, str, str, float]] = []
    for rid, mid, prob in zip(
        mothers["record_id"], mothers["person_id"], mothers["match_probability"], strict=True
    ):
        born = parse_birth_date(info.at[rid, "birth_date"])
        sex = info.at[rid, "child_sex"]
        child_name = info.at[rid, "child_name"] if "child_name" in info.columns else ""
        for pid, bd, csex, cname in by_mother.get(mid, []):
            if born is None or bd is None:
                continue
            gap = _date_gap(born, bd)
            if gap is None:
                continue
            penalty = gap + (0 if not sex or not csex or sex == csex else 5)
            penalty += 0 if not child_name or child_name == cname else 1
            candidates.append((-prob, penalty, rid, pid, prob))
    candidates.sort(key=lambda c: (c[1], c[0], c[2], c[3]))
    used_births: set[str] = set()
    used_children: set[str] = set()
    rows: list[dict[str, object]] = []
    for _neg, _penalty, rid, pid, prob in candidates:
        if rid in used_births or pid in used_children:
            continue
        used_births.add(rid)
        used_children.add(pid)
        rows.append({"record_id": rid, "person_id": pid, "match_probability": prob})
    return pd.DataFrame(rows, columns=["record_id", "person_id", "match_probability"])


def _clerical_births(
    births: pd.DataFrame, links: pd.DataFrame, registry: pd.DataFrame
) -> pd.DataFrame:
    """A clerical second pass over the hospital births the model left unlinked.

    What a registry clerk does with the leftovers of 月月清, in registry data only.  Among
    registry persons not linked yet, with the child's sex equal to the record's, a record is
    linked when **exactly one** candidate passes a rule, tried in this order:

    ``same_mother``
        the registry mother is certain: her ID number equals the record's mother ID number,
        or her name and birth date both equal the record's; and the child was born within
        ``SAME_MOTHER_WINDOW_DAYS`` of the hospital date (a mistyped birth date of the
        child does not hide a birth whose mother is certain);
    ``date_village``
        the child is registered in the village of the record's address and born within
        ``SAME_VILLAGE_WINDOW_DAYS`` of the hospital date (the mother's record is wrong or
        missing, or the child has no mother link).

    Records are taken in record_id order and a registry person is given to one record only.
    A record with no address is never linked by ``date_village``; two candidates or more
    leave the record unmatched (a clerk would check them by hand).
    """
    columns = ["record_id", "person_id", "match_probability", "rule"]
    todo = births[~births["record_id"].astype(str).isin(set(links["record_id"]))]
    if todo.empty:
        return pd.DataFrame(columns=columns)
    used = set(links["person_id"].astype(str))

    def iso(value: object) -> str:
        d = parse_birth_date(value)
        return d.isoformat() if d else ""

    mothers = {
        pid: (normalize_name(name) if name else "", normalize(idn) if idn else "", iso(bd))
        for pid, name, idn, bd in zip(
            registry["record_id"], registry["name"], registry["id_number"],
            registry["birth_date"], strict=True,
        )
    }  # fmt: skip
    by_mother: dict[object, list[str]] = {}  # mother's ID number, or (name, birth date)
    by_day: dict[tuple[str, date, str], list[str]] = {}
    child: dict[str, tuple[str, date]] = {}
    for pid, sex, bd, village, mid in zip(
        registry["record_id"], registry["sex"], registry["birth_date"],
        registry["village_code"], registry["mother_id"], strict=True,
    ):  # fmt: skip
        born = parse_birth_date(bd)
        if pid in used or born is None:
            continue
        child[pid] = (sex, born)
        if village:
            by_day.setdefault((village, born, sex), []).append(pid)
        m_name, m_id, m_bd = mothers.get(mid, ("", "", "")) if mid else ("", "", "")
        if m_id:
            by_mother.setdefault(m_id, []).append(pid)
        if m_name and m_bd:
            by_mother.setdefault((m_name, m_bd), []).append(pid)

    rows: list[dict[str, object]] = []
    for r in todo.sort_values("record_id").itertuples(index=False):
        born = parse_birth_date(r.birth_date)
        if born is None:
            continue
        sex = str(r.child_sex)
        keys: list[object] = []
        if r.mother_id_number:
            keys.append(normalize(str(r.mother_id_number)))
        if r.mother_name and iso(r.mother_birth_date):
            keys.append((normalize_name(str(r.mother_name)), iso(r.mother_birth_date)))
        same_mother = sorted(
            {
                p
                for k in keys
                for p in by_mother.get(k, [])
                if p not in used
                and child[p][0] == sex
                and abs((child[p][1] - born).days) <= SAME_MOTHER_WINDOW_DAYS
            }
        )
        village = str(r.address_unit)[:12]
        near: list[str] = []
        if village:
            for d in range(-SAME_VILLAGE_WINDOW_DAYS, SAME_VILLAGE_WINDOW_DAYS + 1):
                day = by_day.get((village, born + timedelta(days=d), sex), [])
                near += [p for p in day if p not in used]
        for rule, cands in (("same_mother", same_mother), ("date_village", near)):
            if len(cands) == 1:
                used.add(cands[0])
                rows.append(
                    {"record_id": str(r.record_id), "person_id": cands[0],
                     "match_probability": float("nan"), "rule": rule}
                )  # fmt: skip
                break
    return pd.DataFrame(rows, columns=columns)
