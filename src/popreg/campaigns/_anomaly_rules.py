"""The anomaly rules behind :func:`popreg.campaigns.anomalies.detect_anomalies`.

One function per rule, in the order of docs/anomalies.md.  Each takes the DuckDB context
(views ``units``, ``households``, ``persons``, ``events`` and, when present,
``hospital_births`` and ``death_notices``) and returns findings.  Registry findings carry
the person's registered and residence unit as ``scope_units`` so ``--unit`` can filter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache

import duckdb
import pyarrow as pa
from duckdb.func import SPECIAL

from popreg.campaigns._anomaly_base import (
    Finding,
    RuleContext,
    id_number_problems,
    normalize_id_number,
    normalize_name,
)
from popreg.registry.models import Sex
from popreg.registry.vocabulary import ChineseLabels

Clusters = Iterable[Iterable[int]] | None
Links = Mapping[tuple[str, str], int] | None
Rule = Callable[[RuleContext, Clusters, Links], list[Finding]]

RULES: list[Rule] = []

_ACTIVE = "status = 'active'"


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _d(value: date | None) -> str:
    return "不详" if value is None else f"{value:%Y-%m-%d}"


def _registry(
    person_id: int, anomaly_type: str, detail: str, registered: str | None, residence: str | None
) -> Finding:
    return Finding(
        record_id=str(person_id),
        source="registry",
        anomaly_type=anomaly_type,
        detail=detail,
        person_id=int(person_id),
        unit_code=registered,
        scope_units=tuple(u for u in (registered, residence) if u),
    )


@lru_cache(maxsize=200_000)
def _pinyin(name: str) -> str:
    from popreg.core.names import pinyin_key

    return pinyin_key(name)


def same_name(a: str | None, b: str | None) -> bool:
    """Two normalised names are the same written name or read the same (homophones)."""
    if not a or not b:
        return False
    return a == b or _pinyin(a) == _pinyin(b)


def ids_compatible(a: str | None, b: str | None) -> bool:
    """Could two recorded numbers be one person's?  Missing, equal, or one typing slip apart
    (one wrong character, or two adjacent characters exchanged)."""
    if not a or not b or a == b:
        return True
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    i, j = (diff + [0, 0])[:2]
    return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: SQL for "{x} is 18 characters, 17 digits and the right MOD 11-2 check character".
_ID_OK_SQL = (
    "coalesce(regexp_full_match({x}, '[0-9]{{17}}[0-9X]') AND substr('10X98765432', 1 + ("
    + " + ".join(f"TRY_CAST(substr({{x}}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_WEIGHTS))
    + ") % 11, 1) = substr({x}, 18, 1), false)"
)


def _udfs(con: duckdb.DuckDBPyConnection) -> None:
    """Normalisation functions for the fallback matching, registered once per connection."""
    try:
        for name, fn in (("norm_id", normalize_id_number), ("norm_name", normalize_name)):
            con.create_function(
                name, fn, ["VARCHAR"], "VARCHAR", null_handling=SPECIAL, side_effects=False
            )
        con.create_function("same_name", same_name, ["VARCHAR", "VARCHAR"], "BOOLEAN",
                            null_handling=SPECIAL, side_effects=False)
        # a birth date within 3 days, or with day and month exchanged (a common typing slip)
        con.execute(
            """CREATE MACRO near_birth(a, b) AS abs(date_diff('day', a, b)) <= 3
                 OR (year(a) = year(b) AND month(a) = day(b) AND day(a) = month(b))"""
        )
    except duckdb.CatalogException:  # already registered
        pass


def _person_keys(ctx: RuleContext) -> None:
    """Table ``pk``: every person with normalised ID number and name (computed once)."""
    if ctx.cache.get("pk"):
        return
    _udfs(ctx.con)
    # normalise each distinct name once; numbers already in compact form skip Python
    ctx.con.execute(
        f"""CREATE TEMP TABLE pk AS
           WITH nn AS (SELECT name, norm_name(name) AS nname
                       FROM (SELECT DISTINCT name FROM persons WHERE name IS NOT NULL))
           SELECT *, {_ID_OK_SQL.format(x="nid")} AS id_ok FROM (
             SELECT p.person_id, p.status, p.sex, p.birth_date, p.household_id, p.mother_id,
                    p.registered_unit, p.residence_unit, p.name, nn.nname,
                    CASE WHEN regexp_full_match(p.id_number, '[0-9]{{17}}[0-9X]') THEN p.id_number
                         ELSE norm_id(p.id_number) END AS nid
             FROM persons p LEFT JOIN nn ON nn.name = p.name)"""
    )
    ctx.cache["pk"] = True


# ---------------------------------------------------------------------------------------
# source linking (fallback when the linkage engine's links are not given)


def _link_death_notices(ctx: RuleContext, links: Links) -> dict[str, set[int]]:
    """record_id -> person_ids for death notices dated on or before the reference moment."""
    if "death_links" in ctx.cache:
        return dict(ctx.cache["death_links"])
    result: dict[str, set[int]] = defaultdict(set)
    if ctx.has_death_notices:
        _person_keys(ctx)
        con = ctx.con
        con.execute(
            f"""CREATE TEMP TABLE dn AS
               SELECT CAST(record_id AS VARCHAR) AS record_id, name, sex, birth_date, death_date,
                      address_unit, norm_id(id_number) AS nid, norm_name(name) AS nname
               FROM death_notices WHERE death_date IS NULL OR death_date <= DATE '{ctx.ref_date}'"""
        )
        by_id = con.execute(
            "SELECT dn.record_id, pk.person_id FROM dn JOIN pk ON dn.nid = pk.nid"
        ).fetchall()
        for rid, pid in by_id:
            result[rid].add(int(pid))
        # name + birth date for the rest; ties broken by sex, then by the stated village
        rows = con.execute(
            """SELECT dn.record_id, pk.person_id, pk.sex = dn.sex, pk.registered_unit = dn.address_unit
               FROM dn JOIN pk ON dn.birth_date = pk.birth_date
               WHERE dn.nname IS NOT NULL AND same_name(dn.nname, pk.nname)"""
        ).fetchall()
        candidates: dict[str, list[tuple[int, bool, bool]]] = defaultdict(list)
        for rid, pid, same_sex, same_unit in rows:
            if rid not in result:
                candidates[rid].append((int(pid), bool(same_sex), bool(same_unit)))
        for rid, cands in candidates.items():
            for narrowed in (cands, [c for c in cands if c[1]], [c for c in cands if c[1] and c[2]]):
                if len(narrowed) == 1:
                    result[rid].add(narrowed[0][0])
                    break
    for (source, rid), pid in (links or {}).items():
        if source == "death_notices":
            result[str(rid)].add(int(pid))
    for rid, decided_pid in decided_links(ctx, "death_notices").items():
        if decided_pid is None:
            result.pop(rid, None)
        else:
            result[rid] = {decided_pid}
    ctx.cache["death_links"] = dict(result)
    return dict(result)


def decided_links(ctx: RuleContext, view: str) -> dict[str, int | None]:
    """record_id -> person (None: "nobody in the registry") of the source records whose
    link a person already decided in the live registry (popreg.sources writes the columns
    ``link_decided`` and ``link_person_id`` into the snapshot); these override the fallback."""
    present = ctx.has_death_notices if view == "death_notices" else ctx.has_hospital_births
    if not present or not _has_column(ctx, view, "link_decided"):
        return {}
    pid = "link_person_id" if _has_column(ctx, view, "link_person_id") else "NULL"
    date_col = "death_date" if view == "death_notices" else "birth_date"
    rows = ctx.rows(
        f"""SELECT CAST(record_id AS VARCHAR), CAST({pid} AS BIGINT) FROM {view}
           WHERE CAST(link_decided AS BOOLEAN)
             AND ({date_col} IS NULL OR {date_col} <= DATE '{ctx.ref_date}')"""
    )
    return {str(rid): (int(p) if p is not None else None) for rid, p in rows}


@rule
def death_not_deregistered(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """应销未销(死亡): a death notice links to a person who is still active."""
    linked = _link_death_notices(ctx, links)
    if not linked:
        return []
    pairs = [(rid, pid) for rid, pids in linked.items() for pid in pids]
    dl_arrow = pa.table({"record_id": pa.array([p[0] for p in pairs], pa.string()),
                         "person_id": pa.array([p[1] for p in pairs], pa.int64())})
    ctx.con.register("dl_arrow", dl_arrow)
    ctx.con.execute("CREATE OR REPLACE TEMP TABLE dl AS SELECT * FROM dl_arrow")
    ctx.con.unregister("dl_arrow")
    notifier = "n.notifier" if _has_column(ctx, "death_notices", "notifier") else "NULL"
    rows = ctx.rows(
        f"""SELECT p.person_id, p.name, p.registered_unit, p.residence_unit,
                  string_agg(dl.record_id, ',' ORDER BY dl.record_id), min(n.death_date),
                  any_value({notifier})
           FROM dl JOIN persons p USING (person_id)
           JOIN death_notices n ON CAST(n.record_id AS VARCHAR) = dl.record_id
           WHERE p.{_ACTIVE}
           GROUP BY ALL"""
    )
    out = []
    for pid, name, reg, res, rids, death_date, notifier_value in rows:
        who = {"hospital": "医院", "civil_affairs": "民政", "crematorium": "殡葬"}.get(
            notifier_value or "", "外部来源"
        )
        out.append(
            _registry(
                pid, "death_not_deregistered",
                f"{name}：{who}死亡通报{rids}载明于{_d(death_date)}死亡，户籍状态仍为正常，应注销",
                reg, res,
            )
        )
    return out


@rule
def death_notice_unmatched(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """A death notice with an address in the county that links to no registry record."""
    if not ctx.has_death_notices or not _has_column(ctx, "death_notices", "address_unit"):
        return []
    linked = _link_death_notices(ctx, links)
    counties = [r[0][:6] for r in ctx.rows("SELECT unit_code FROM units WHERE level = 'county'")]
    out = []
    for rid, name, birth, death, unit in ctx.rows(
        "SELECT record_id, name, birth_date, death_date, address_unit FROM dn ORDER BY record_id"
    ):
        if rid in linked or not unit or not any(unit.startswith(c) for c in counties):
            continue
        out.append(
            Finding(
                record_id=rid, source="death_notices", anomaly_type="death_notice_unmatched",
                detail=f"死亡通报{rid}（{name or '姓名不详'}，出生{_d(birth)}，死亡{_d(death)}）"
                f"在户籍中找不到对应人员，请核实是否漏登或通报有误",
                unit_code=unit, scope_units=(unit,),
            )
        )
    return out


@rule
def enlisted_not_deregistered(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """应销未销(入伍): an enlistment event with no later discharge, person still active."""
    rows = ctx.rows(
        f"""WITH e AS (
               SELECT person_id, max(event_date) AS enlisted FROM events
               WHERE event_type = 'enlistment' AND event_date <= ? GROUP BY person_id)
           SELECT p.person_id, p.name, p.registered_unit, p.residence_unit, e.enlisted
           FROM persons p JOIN e USING (person_id)
           WHERE p.{_ACTIVE} AND NOT EXISTS (
               SELECT 1 FROM events d WHERE d.person_id = p.person_id
               AND d.event_type = 'discharge' AND d.event_date >= e.enlisted AND d.event_date <= ?)""",
        [ctx.ref_date, ctx.ref_date],
    )
    return [
        _registry(pid, "enlisted_not_deregistered",
                  f"{name}：{_d(d)}入伍，无退伍记录，户籍状态仍为正常，应注销", reg, res)
        for pid, name, reg, res, d in rows
    ]


@rule
def living_away(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """人户分离: active, residence type 'registered', residence village differs."""
    rows = ctx.rows(
        f"""SELECT p.person_id, p.name, p.registered_unit, p.residence_unit,
                  ru.name, su.name
           FROM persons p
           LEFT JOIN (SELECT unit_code, any_value(name) AS name FROM units GROUP BY 1) ru
                  ON ru.unit_code = p.registered_unit
           LEFT JOIN (SELECT unit_code, any_value(name) AS name FROM units GROUP BY 1) su
                  ON su.unit_code = p.residence_unit
           WHERE p.{_ACTIVE} AND p.residence_type = 'registered' AND p.residence_unit IS NOT NULL
             AND substr(p.residence_unit, 1, 12) <> substr(p.registered_unit, 1, 12)"""
    )
    return [
        _registry(pid, "living_away",
                  f"{name}：户籍地{rn or reg}（{reg}），实际居住地{sn or res}({res}），"
                  f"居住类型登记为常住户籍", reg, res)
        for pid, name, reg, res, rn, sn in rows
    ]


@rule
def pending_registration(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """户口待定: residence type 'pending' for more than ``pending_days`` days."""
    since = (
        "coalesce(p.registered_date, ev.first_recorded)"
        if "registered_date" in ctx.person_columns else "ev.first_recorded"
    )
    limit = ctx.ref_day - timedelta(days=ctx.pending_days)
    rows = ctx.rows(
        f"""SELECT p.person_id, p.name, p.registered_unit, p.residence_unit, {since} AS since
           FROM persons p LEFT JOIN (
               SELECT person_id, min(recorded_date) AS first_recorded FROM events GROUP BY 1) ev
             USING (person_id)
           WHERE p.{_ACTIVE} AND p.residence_type = 'pending'
             AND ({since} IS NULL OR {since} < ?)""",
        [limit],
    )
    out = []
    for pid, name, reg, res, start in rows:
        if start is None:
            detail = f"{name}：户口待定，立案日期不详"
        else:
            days = (ctx.ref_day - start).days
            detail = f"{name}：自{_d(start)}起户口待定，已{days}天（超过{ctx.pending_days}天）"
        out.append(_registry(pid, "pending_registration", detail, reg, res))
    return out


@rule
def id_problems(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """ID number checksum, birth date, sex and region code (active persons)."""
    # only numbers SQL cannot show to be consistent go through core.idnumber.validate: a
    # compact number with a right check character, the recorded birth date and sex, and a
    # region code that is known and not retired before the birth year is fine
    codes = [c for (c,) in ctx.rows(
        "SELECT DISTINCT substr(id_number, 1, 6) FROM persons WHERE id_number IS NOT NULL")]
    ctx.con.register("regions_arrow", pa.table({
        "code": pa.array(codes, pa.string()),
        "last_year": pa.array([_region_last_year(c) for c in codes], pa.int32()),
    }))
    x = "id_number"
    rows = ctx.rows(
        f"""SELECT p.person_id, p.name, p.id_number, p.birth_date, p.sex, p.registered_unit,
                  p.residence_unit
           FROM persons p LEFT JOIN regions_arrow r ON r.code = substr(p.id_number, 1, 6)
           WHERE p.{_ACTIVE} AND p.id_number IS NOT NULL AND trim(p.id_number) <> ''
             AND p.residence_type <> 'foreign'
             AND NOT coalesce(
                   {_ID_OK_SQL.format(x=x)}
                   AND (p.birth_date IS NULL OR substr({x}, 7, 8) = strftime(p.birth_date, '%Y%m%d'))
                   AND (p.sex IS NULL OR p.sex NOT IN ('M', 'F')
                        OR (TRY_CAST(substr({x}, 17, 1) AS INTEGER) % 2 = 1) = (p.sex = 'M'))
                   AND r.last_year IS NOT NULL
                   AND (r.last_year = 9999 OR r.last_year >= TRY_CAST(substr({x}, 7, 4) AS INTEGER))
                   AND try_strptime(substr({x}, 7, 8), '%Y%m%d') IS NOT NULL,
                 false)"""
    )
    ctx.con.unregister("regions_arrow")
    out = []
    for pid, name, idn, birth, sex, reg, res in rows:
        for anomaly_type, detail in id_number_problems(idn, birth, sex, today=ctx.ref_date):
            out.append(_registry(pid, anomaly_type, f"{name}：{detail}", reg, res))
    return out


def _region_last_year(code: str) -> int | None:
    """Last year a region code was in use (9999: still in use); None when unknown."""
    from popreg.core.idnumber import region_periods

    periods = region_periods(code) if code.isdigit() else None
    if not periods:
        return None
    return max(9999 if p.end_year is None else p.end_year for p in periods)


def _fallback_duplicate_groups(ctx: RuleContext) -> list[list[int]]:
    """Active records that are one person, without the linkage engine.

    Pairs: (a) the same normalised ID number (a legacy 15-digit number counts as its
    18-digit form); (b) the same sex and birth date and the same name or name reading,
    where one record's number is missing or fails the check and the two numbers could be
    one person's (see :func:`ids_compatible`).  Two valid, different numbers are two people.
    Pairs are joined into groups (union-find).
    """
    _person_keys(ctx)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for (ids,) in ctx.rows(
        f"""SELECT list(person_id ORDER BY person_id) FROM pk
           WHERE {_ACTIVE} AND nid IS NOT NULL GROUP BY nid HAVING count(*) > 1"""
    ):
        for other in ids[1:]:
            union(int(ids[0]), int(other))
    for a, b, na, nb, ia, ib in ctx.rows(
        """SELECT a.person_id, b.person_id, a.nname, b.nname, a.nid, b.nid
           FROM pk a JOIN pk b
             ON a.birth_date = b.birth_date AND a.sex = b.sex AND a.person_id < b.person_id
           WHERE a.status = 'active' AND b.status = 'active'
             AND (NOT coalesce(a.id_ok, false) OR NOT coalesce(b.id_ok, false))"""
    ):
        if same_name(na, nb) and ids_compatible(ia, ib):
            union(int(a), int(b))
    groups: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        groups[find(x)].append(x)
    return [sorted(g) for g in groups.values() if len(g) > 1]


@rule
def duplicates(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """重户重口: two or more active records of one human."""
    groups: list[list[int]]
    method: str
    if clusters is not None:
        groups = [sorted({int(p) for p in c}) for c in clusters]
        method = "记录关联引擎判定"
    else:
        groups = _fallback_duplicate_groups(ctx)
        method = "身份证号相同，或姓名读音、出生日期、性别相同且身份证号缺失或仅差一处录入错误"
    member = {pid: i for i, g in enumerate(groups) for pid in g}
    if not member:
        return []
    active = {
        pid: (name, reg, res)
        for pid, name, reg, res in ctx.rows(
            f"SELECT person_id, name, registered_unit, residence_unit FROM persons WHERE {_ACTIVE}"
        )
        if pid in member
    }
    out = []
    for g in groups:
        live = [p for p in g if p in active]
        if len(live) < 2:
            continue
        for pid in live:
            name, reg, res = active[pid]
            others = "、".join(str(o) for o in live if o != pid)
            out.append(_registry(pid, "duplicate", f"{name}：与记录{others}重复登记（{method}）",
                                 reg, res))
    return out


@rule
def unregistered_births(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """出生未登记: a hospital birth with no registry child (mother-based, else child-based)."""
    if not ctx.has_hospital_births:
        return []
    _person_keys(ctx)
    con = ctx.con
    cols = _columns(ctx, "hospital_births")
    opt = {c: (f"h.{c}" if c in cols else "NULL") for c in (
        "child_sex", "child_name", "mother_name", "mother_id_number", "mother_birth_date",
        "address_unit", "hospital")}
    con.execute(
        f"""CREATE TEMP TABLE hb AS
           SELECT CAST(h.record_id AS VARCHAR) AS record_id, h.birth_date,
                  {opt['child_sex']} AS sex, norm_name({opt['child_name']}) AS cname,
                  {opt['mother_name']} AS mother_name, norm_name({opt['mother_name']}) AS mname,
                  norm_id({opt['mother_id_number']}) AS mnid,
                  {opt['mother_birth_date']} AS mbirth, {opt['address_unit']} AS address_unit,
                  {opt['hospital']} AS hospital,
                  CASE WHEN day(h.birth_date) <= 12 AND day(h.birth_date) <> month(h.birth_date)
                       THEN make_date(year(h.birth_date), day(h.birth_date), month(h.birth_date))
                  END AS swapped
           FROM hospital_births h WHERE h.birth_date <= DATE '{ctx.ref_date}'"""
    )
    # mothers: exact normalised ID, else same name (or reading) + birth date (women only)
    con.execute(
        """CREATE TEMP TABLE hm AS
           SELECT hb.record_id, pk.person_id AS mother_id FROM hb JOIN pk ON hb.mnid = pk.nid
           WHERE pk.sex IS DISTINCT FROM 'M'"""
    )
    con.execute(
        """INSERT INTO hm SELECT hb.record_id, pk.person_id FROM hb
           JOIN pk ON hb.mbirth = pk.birth_date
           WHERE pk.sex IS DISTINCT FROM 'M' AND same_name(hb.mname, pk.nname)
             AND hb.record_id NOT IN (SELECT record_id FROM hm)"""
    )
    # the mother's child (or a child of her household) born within 3 days, or with day and
    # month exchanged
    registered = {
        r for (r,) in ctx.rows(
            """SELECT DISTINCT hm.record_id FROM hm JOIN hb USING (record_id)
               JOIN pk m ON m.person_id = hm.mother_id
               JOIN pk c ON c.mother_id = hm.mother_id
               WHERE near_birth(c.birth_date, hb.birth_date)
               UNION
               SELECT hm.record_id FROM hm JOIN hb USING (record_id)
               JOIN pk m ON m.person_id = hm.mother_id
               JOIN pk c ON c.household_id = m.household_id AND c.person_id <> m.person_id
               WHERE near_birth(c.birth_date, hb.birth_date)
                 AND c.sex IS NOT DISTINCT FROM coalesce(hb.sex, c.sex)"""
        )
    }
    # no mother link: the child itself, born near that day in the stated village, with the
    # child's or the mother's name (or reading) agreeing
    registered |= {
        r for (r,) in ctx.rows(
            """WITH lone AS (
                 SELECT * FROM hb WHERE record_id NOT IN (SELECT record_id FROM hm)),
               cand AS (
                 SELECT lone.*, c.person_id, c.nname AS child_nname, c.mother_id AS cmother,
                        c.registered_unit AS creg, c.sex AS csex
                 FROM lone JOIN pk c
                   ON c.birth_date BETWEEN lone.birth_date - INTERVAL 3 DAY
                                       AND lone.birth_date + INTERVAL 3 DAY
                 UNION ALL
                 SELECT lone.*, c.person_id, c.nname, c.mother_id, c.registered_unit, c.sex
                 FROM lone JOIN pk c ON c.birth_date = lone.swapped)
               SELECT DISTINCT cand.record_id FROM cand LEFT JOIN pk m ON m.person_id = cand.cmother
               WHERE (cand.sex IS NULL OR cand.csex = cand.sex)
                 AND (cand.address_unit IS NULL OR substr(cand.creg, 1, 12) = cand.address_unit)
                 AND (same_name(cand.child_nname, cand.cname) OR same_name(m.nname, cand.mname)
                      OR (cand.cmother IS NULL AND cand.cname IS NULL))"""
        )
    }
    registered |= {str(rid) for (source, rid) in (links or {}) if source == "hospital_births"}
    for rid, child in decided_links(ctx, "hospital_births").items():
        if child is None:
            registered.discard(rid)
        else:
            registered.add(rid)
    mothers = {
        rid: (pid, reg, res)
        for rid, pid, reg, res in ctx.rows(
            """SELECT hm.record_id, any_value(pk.person_id), any_value(pk.registered_unit),
                      any_value(pk.residence_unit)
               FROM hm JOIN pk ON pk.person_id = hm.mother_id GROUP BY 1"""
        )
    }
    out = []
    for rid, birth, sex, mname, unit, hospital in ctx.rows(
        "SELECT record_id, birth_date, sex, mother_name, address_unit, hospital FROM hb"
    ):
        if rid in registered:
            continue
        mother = mothers.get(rid)
        where = f"{hospital}" if hospital else "医院"
        if mother is not None:
            detail = (f"{where}出生记录{rid}：{_d(birth)}出生的{_SEX.get(sex, '')}婴，"
                      f"母亲{mname}（户籍记录{mother[0]}）名下无此子女的户籍登记")
            scope = tuple(u for u in (unit, mother[1], mother[2]) if u)
        else:
            detail = (f"{where}出生记录{rid}：{_d(birth)}出生的{_SEX.get(sex, '')}婴，"
                      f"母亲{mname or '姓名不详'}，户籍中找不到母亲和婴儿")
            scope = (unit,) if unit else ()
        out.append(
            Finding(
                record_id=rid, source="hospital_births", anomaly_type="unregistered_birth",
                detail=detail, person_id=mother[0] if mother else None,
                unit_code=unit or (mother[1] if mother else None), scope_units=scope,
            )
        )
    return out


#: Sexes as written into the (Chinese) item details.
_SEX: Mapping[str, str] = ChineseLabels(Sex)


@rule
def missing_fields(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """Required fields: name, sex, birth date, and the ID number from age 16."""
    rows = ctx.rows(
        f"""SELECT person_id, name, registered_unit, residence_unit,
                  name IS NULL OR trim(name) = '',
                  sex IS NULL OR sex NOT IN ('M', 'F'),
                  birth_date IS NULL,
                  (id_number IS NULL OR trim(id_number) = '') AND residence_type <> 'foreign'
                    AND (birth_date IS NULL OR date_sub('year', birth_date, ?) >= 16)
           FROM persons WHERE {_ACTIVE}""",
        [ctx.ref_day],
    )
    out = []
    for pid, name, reg, res, no_name, no_sex, no_birth, no_id in rows:
        missing = [label for flag, label in (
            (no_name, "姓名"), (no_sex, "性别"), (no_birth, "出生日期"), (no_id, "身份证号")) if flag]
        if missing:
            out.append(_registry(pid, "missing_field",
                                 f"{name or '（无姓名）'}：缺少{'、'.join(missing)}", reg, res))
    return out


@rule
def implausible_values(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """Age over 110; mother under 14 or over 60 at a birth (registry and hospital records)."""
    out = []
    for pid, name, reg, res, birth, age in ctx.rows(
        f"""SELECT person_id, name, registered_unit, residence_unit, birth_date,
                  date_sub('year', birth_date, ?) AS age
           FROM persons WHERE {_ACTIVE} AND birth_date IS NOT NULL
             AND date_sub('year', birth_date, ?) > 110""",
        [ctx.ref_day, ctx.ref_day],
    ):
        out.append(_registry(pid, "implausible_age",
                             f"{name}：出生日期{_d(birth)}，年龄{age}岁，超过110岁", reg, res))
    for pid, name, reg, res, birth, mid, mname, mbirth, age in ctx.rows(
        f"""SELECT c.person_id, c.name, c.registered_unit, c.residence_unit, c.birth_date,
                  m.person_id, m.name, m.birth_date, date_sub('year', m.birth_date, c.birth_date)
           FROM persons c JOIN persons m ON m.person_id = c.mother_id
           WHERE c.{_ACTIVE} AND c.birth_date IS NOT NULL AND m.birth_date IS NOT NULL
             AND (m.birth_date > c.birth_date
                  OR date_sub('year', m.birth_date, c.birth_date) NOT BETWEEN 14 AND 60)"""
    ):
        out.append(_registry(pid, "implausible_mother_age",
                             f"{name}：出生于{_d(birth)}，母亲{mname}（记录{mid}）出生于{_d(mbirth)},"
                             f"生育时{age}岁（合理范围14至60岁）", reg, res))
    if ctx.has_hospital_births and "mother_birth_date" in _columns(ctx, "hospital_births"):
        unit = "address_unit" if "address_unit" in _columns(ctx, "hospital_births") else "NULL"
        for rid, birth, mbirth, age, u in ctx.rows(
            f"""SELECT CAST(record_id AS VARCHAR), birth_date, mother_birth_date,
                      date_sub('year', mother_birth_date, birth_date), {unit}
               FROM hospital_births
               WHERE birth_date IS NOT NULL AND mother_birth_date IS NOT NULL AND birth_date <= ?
                 AND (mother_birth_date > birth_date
                      OR date_sub('year', mother_birth_date, birth_date) NOT BETWEEN 14 AND 60)""",
            [ctx.ref_date],
        ):
            out.append(Finding(
                record_id=rid, source="hospital_births", anomaly_type="implausible_mother_age",
                detail=f"出生记录{rid}：婴儿出生于{_d(birth)}，母亲出生于{_d(mbirth)},"
                f"生育时{age}岁（合理范围14至60岁）",
                unit_code=u, scope_units=(u,) if u else (),
            ))
    return out


@rule
def future_events(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """Birth, death or event dates after the reference moment (registry records)."""
    death = ", death_date" if "death_date" in ctx.person_columns else ", NULL"
    out = []
    for pid, name, reg, res, birth, died in ctx.rows(
        f"""SELECT person_id, name, registered_unit, residence_unit, birth_date {death}
           FROM persons WHERE birth_date > ? {'OR death_date > ?' if death != ', NULL' else ''}""",
        [ctx.ref_date, ctx.ref_date] if death != ", NULL" else [ctx.ref_date],
    ):
        what = (f"出生日期{_d(birth)}" if birth and birth > ctx.ref_date else f"死亡日期{_d(died)}")
        out.append(_registry(pid, "future_event",
                             f"{name}：{what}晚于标准时点{ctx.ref:%Y-%m-%d %H:%M}", reg, res))
    seen = {f.record_id for f in out}
    rows = ctx.rows(
        """SELECT e.person_id, any_value(p.name), any_value(p.registered_unit),
                  any_value(p.residence_unit),
                  string_agg(e.event_type || ' ' || strftime(e.event_date, '%Y-%m-%d'), '; '
                             ORDER BY e.event_date)
           FROM events e JOIN persons p USING (person_id)
           WHERE e.event_date > ? GROUP BY e.person_id""",
        [ctx.ref_date],
    )
    for pid, name, reg, res, events in rows:
        if str(pid) in seen:
            continue
        out.append(_registry(pid, "future_event",
                             f"{name}：事件日期晚于标准时点{ctx.ref:%Y-%m-%d %H:%M}（{events}）",
                             reg, res))
    return out


# ---- migrants (popreg.migrants)


@rule
def unreported_migrant(ctx: RuleContext, clusters: Clusters, links: Links) -> list[Finding]:
    """流动人口未按期申报: a tenant or worker of a registered rental place or employer whose
    landlord or employer has not reported them within the set number of days
    (``POPREG_MIGRANT_REPORT_DAYS``) before the reference moment.

    Who lives or works at a place is kept by the migrants app, not in the snapshot, so the
    rule reads it only for a snapshot of this registry (``popreg snapshot`` writes the
    registry's ``merged_into`` column; a generated or foreign snapshot has none), and keeps a
    finding only for a person the snapshot holds as active under the same name."""
    if not _has_column(ctx, "persons", "merged_into"):
        return []
    from popreg.migrants.actions import report_days
    from popreg.migrants.queries import unreported_occupants

    occupants = list(unreported_occupants(ctx.ref_date))
    if not occupants:
        return []
    table = pa.table({"person_id": pa.array([o.person_id for o in occupants], pa.int64()),
                      "name": [o.person.name for o in occupants]})
    ctx.con.register("unreported_arrow", table)
    rows = ctx.rows(
        f"""SELECT DISTINCT p.person_id, p.registered_unit, p.residence_unit FROM persons p
           JOIN unreported_arrow u ON u.person_id = p.person_id AND u.name = p.name
           WHERE p.{_ACTIVE}""")
    ctx.con.unregister("unreported_arrow")
    held = {int(pid): (reg, res) for pid, reg, res in rows}
    days = report_days()
    out, seen = [], set()
    for o in occupants:
        if o.person_id not in held or o.person_id in seen:
            continue
        seen.add(o.person_id)
        reg, res = held[o.person_id]
        who = "租住" if o.role == "tenant" else "务工"
        out.append(Finding(
            record_id=str(o.person_id), source="registry", anomaly_type="unreported_migrant",
            detail=(f"{o.person.name}：{_d(o.since)}起在“{o.place.name}”（{o.place.address}）{who}，"
                    f"{o.place.contact_name}未在{days}日内申报"),
            person_id=o.person_id, unit_code=o.place.unit_id,
            scope_units=tuple(u for u in (o.place.unit_id, res, reg) if u),
        ))
    return out


def _columns(ctx: RuleContext, view: str) -> set[str]:
    key = f"columns:{view}"
    if key not in ctx.cache:
        ctx.cache[key] = {r[0] for r in ctx.rows(f"DESCRIBE {view}")}
    cols: set[str] = ctx.cache[key]
    return cols


def _has_column(ctx: RuleContext, view: str, column: str) -> bool:
    return column in _columns(ctx, view)


__all__ = ["RULES"]
