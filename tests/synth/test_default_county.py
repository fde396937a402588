"""The default county has the numbers of the product brief (PRODUCT.md, "The synthetic county")."""

from __future__ import annotations

import json
from datetime import date

import pytest

from popreg.snapshot import read_manifest, verify_snapshot

from .conftest import connect

REGISTERED = "status = 'active' AND residence_type IN ('registered', 'floating_out')"
RESIDENT = "status = 'active' AND residence_type IN ('registered', 'floating_in', 'foreign')"
START = date(2015, 11, 1)
REF = date(2025, 11, 1)


@pytest.fixture(scope="module")
def con(county):
    return connect(county)


def one(con, sql):
    return con.execute(sql).fetchone()


def test_manifest_is_complete_and_verifies(county):
    manifest = read_manifest(county)
    assert verify_snapshot(county) == []
    assert manifest["reference_moment"] == "2025-11-01T00:00:00"
    assert manifest["generator"]["name"] == "synth"
    assert manifest["generator"]["seed"] == 20251101
    assert manifest["generator"]["parameters"]["persons"] == 157_000
    for name in ("units", "persons", "households", "events", "sources/hospital_births", "sources/death_notices"):
        assert manifest["row_counts"][name] > 0
    for name in ("entities", "defects", "source_links", "unrecorded_births"):
        assert f"truth/{name}.csv" in manifest["checksums"]


def test_registered_population_now_and_ten_years_ago(con):
    (now,) = one(con, f"SELECT count(*) FROM persons WHERE {REGISTERED}")
    assert abs(now - 157_000) <= 0.05 * 157_000
    # registered at the start: records made before it, minus nothing (no exit event precedes it)
    (then,) = one(con, f"""
        SELECT count(*) FROM persons
        WHERE residence_type IN ('registered', 'floating_out') AND registered_date < DATE '{START}'
    """)
    assert abs(then - 147_100) <= 0.05 * 147_100
    assert then < now


def test_units_hierarchy_and_village_sizes(con):
    counts = dict(con.execute("SELECT level, count(*) FROM units GROUP BY 1").fetchall())
    assert counts["county"] == 1 and counts["township"] == 15 and counts["village"] == 343
    (county_code,) = one(con, "SELECT unit_code FROM units WHERE level = 'county'")
    assert len(county_code) == 12 and county_code.endswith("000000")
    bad_prefix = one(con, """
        SELECT count(*) FROM units u JOIN units p ON u.parent_code = p.unit_code
        WHERE length(u.unit_code) <> 12
           OR (p.level = 'county' AND (substr(u.unit_code, 1, 6) <> substr(p.unit_code, 1, 6) OR substr(u.unit_code, 10) <> '000'))
           OR (p.level = 'township' AND substr(u.unit_code, 1, 9) <> substr(p.unit_code, 1, 9))
    """)[0]
    assert bad_prefix == 0
    names = con.execute("SELECT level, name FROM units WHERE level IN ('township', 'village')").fetchall()
    assert all(n.endswith(("镇", "乡", "街道")) for lv, n in names if lv == "township")
    assert all(n.endswith(("村", "社区")) for lv, n in names if lv == "village")
    under200, under100 = one(con, f"""
        WITH c AS (SELECT registered_unit AS u, count(*) AS n FROM persons WHERE {REGISTERED} GROUP BY 1)
        SELECT sum((coalesce(n, 0) < 200)::INT), sum((coalesce(n, 0) < 100)::INT)
        FROM units LEFT JOIN c ON u = unit_code WHERE level = 'village'
    """)
    assert (under200, under100) == (87, 35)


def test_north_county_town_and_agricultural(con):
    # the seven northern townships are the 镇 with codes 100-106; 城关镇 is 100
    north = "substr({col}, 7, 3) BETWEEN '100' AND '106'"
    (share,) = one(con, f"SELECT avg(({north.format(col='registered_unit')})::INT) FROM persons WHERE {REGISTERED}")
    assert share > 0.60
    (seat_name,) = one(con, "SELECT name FROM units WHERE level = 'township' AND substr(unit_code, 7, 3) = '100'")
    assert seat_name == "城关镇"
    living_north, living_seat = one(con, f"""
        SELECT sum(({north.format(col='coalesce(residence_unit, registered_unit)')})::INT),
               sum((substr(coalesce(residence_unit, registered_unit), 7, 3) = '100')::INT)
        FROM persons WHERE {RESIDENT}
    """)
    assert 110_000 <= living_north <= 120_000
    assert 65_000 <= living_seat <= 75_000
    (agri,) = one(con, f"SELECT count(*) FROM persons WHERE {REGISTERED} AND hukou_kind = 'agricultural'")
    assert agri > 130_000


def test_age_sex_structure_follows_census_shape(con):
    # shares at the start moment follow the 2010 census; ten years of ageing shift them a little
    young, old, males = one(con, f"""
        SELECT avg((date_diff('year', birth_date, DATE '{REF}') < 15)::INT),
               avg((date_diff('year', birth_date, DATE '{REF}') >= 65)::INT),
               avg((sex = 'M')::INT)
        FROM persons WHERE {REGISTERED} AND birth_date IS NOT NULL AND sex IS NOT NULL
    """)
    assert 0.10 < young < 0.20
    assert 0.10 < old < 0.22
    assert 0.49 < males < 0.53
    (han,) = one(con, f"SELECT avg((ethnicity = '汉族')::INT) FROM persons WHERE {REGISTERED}")
    assert 0.93 < han < 0.99


def test_households(con):
    mean_size, n_collective = one(con, f"""
        WITH s AS (SELECT household_id, count(*) AS n FROM persons WHERE {REGISTERED} AND household_id IS NOT NULL GROUP BY 1)
        SELECT avg(n) FILTER (WHERE h.kind = 'family'), count(*) FILTER (WHERE h.kind = 'collective')
        FROM s JOIN households h USING (household_id)
    """)
    assert 2.7 < mean_size < 3.3
    assert n_collective >= 5
    (dup_no,) = one(con, "SELECT count(*) - count(DISTINCT household_no) FROM households")
    assert dup_no == 0
    (bad_no,) = one(con, "SELECT count(*) FROM households WHERE NOT regexp_matches(household_no, '^[0-9]{9}$')")
    assert bad_no == 0


def test_names(con):
    rows = con.execute(f"SELECT name FROM persons WHERE {REGISTERED} AND name IS NOT NULL").fetchall()
    names = [r[0] for r in rows]
    surnames = {}
    for n in names:
        surnames[n[0]] = surnames.get(n[0], 0) + 1
    top = sorted(surnames, key=surnames.get, reverse=True)[:5]
    assert set(top) & {"王", "李", "张", "刘", "陈"}
    assert surnames["王"] / len(names) > 0.04
    for heteronym in "单曾解":
        assert surnames.get(heteronym, 0) > 0
    assert sum("·" in n for n in names) > 20


def test_rates_of_the_decade(con):
    per_year = con.execute(f"""
        WITH y AS (SELECT range AS k FROM range(10)),
        ev AS (SELECT event_type, person_id, floor(date_diff('day', DATE '{START}', event_date) / 365.25)::INT AS k
               FROM events)
        SELECT k,
               (SELECT count(*) FROM ev WHERE ev.k = y.k AND event_type = 'birth'),
               (SELECT count(*) FROM ev WHERE ev.k = y.k AND event_type = 'death')
        FROM y ORDER BY k
    """).fetchall()
    (pop,) = one(con, f"SELECT count(*) FROM persons WHERE {REGISTERED}")
    births = sum(r[1] for r in per_year)
    deaths = sum(r[2] for r in per_year)
    mean_pop = (pop + 147_100) / 2
    assert 8 <= births / 10 / mean_pop * 1000 <= 12
    assert 6 <= deaths / 10 / mean_pop * 1000 <= 8
    for _, b, d in per_year:
        assert 6 <= b / mean_pop * 1000 <= 14
        assert 4.5 <= d / mean_pop * 1000 <= 9
    srb = con.execute("""
        SELECT year(e.event_date) < 2019 AS early, 100.0 * sum((p.sex = 'M')::INT) / sum((p.sex = 'F')::INT)
        FROM events e JOIN persons p USING (person_id)
        WHERE e.event_type = 'birth' AND year(e.event_date) BETWEEN 2016 AND 2024 AND year(e.event_date) NOT IN (2019, 2020, 2021)
        GROUP BY 1
    """).fetchall()
    srb = dict(srb)
    assert 110 <= srb[True] <= 122
    assert 100 <= srb[False] <= 112
    assert srb[True] > srb[False]


def test_every_event_type_and_migrant_kind_occurs(con):
    types = dict(con.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    for t in ("birth", "death", "move_in", "move_out", "transfer", "marriage", "divorce", "enlistment", "discharge", "correction"):
        assert types.get(t, 0) > 20, t
    kinds = dict(con.execute("SELECT residence_type, count(*) FROM persons WHERE status = 'active' GROUP BY 1").fetchall())
    assert kinds["floating_in"] > 10_000
    assert kinds["floating_out"] > 5_000
    assert 1 <= kinds["foreign"] <= 100
    assert kinds["pending"] > 100
    statuses = dict(con.execute("SELECT status, count(*) FROM persons GROUP BY 1").fetchall())
    assert statuses["emigrated"] > 1000 and statuses["deceased"] > 5000 and statuses["deregistered"] > 50
    (late,) = one(con, "SELECT count(*) FROM events WHERE event_type = 'birth' AND recorded_date - event_date > 365")
    assert late > 50
    (corr,) = one(con, "SELECT any_value(detail) FROM events WHERE event_type = 'correction'")
    assert {"field", "before", "after"} <= set(json.loads(corr))


def test_mothers_of_births(con):
    (missing,) = one(con, """
        SELECT count(*) FROM events e JOIN persons p USING (person_id)
        WHERE e.event_type = 'birth' AND p.mother_id IS NULL
    """)
    assert missing == 0
    ages = con.execute("""
        SELECT date_diff('day', m.birth_date, c.birth_date) / 365.25
        FROM events e JOIN persons c USING (person_id) JOIN persons m ON m.person_id = c.mother_id
        WHERE e.event_type = 'birth' AND m.birth_date IS NOT NULL AND c.birth_date IS NOT NULL
    """).fetchall()
    ages = [a for (a,) in ages]
    assert all(14 <= a < 50 for a in ages)
    assert sum(20 <= a <= 35 for a in ages) / len(ages) > 0.75


def test_defect_counts_are_measurable(con):
    counts = dict(con.execute("SELECT defect_type, count(*) FROM truth_defects GROUP BY 1").fetchall())
    for kind in ("duplicate", "living_away", "death_not_deregistered", "enlisted_not_deregistered",
                 "pending_registration", "id_checksum_error", "id_birthdate_mismatch", "id_sex_mismatch",
                 "missing_field", "unregistered_birth"):
        assert 100 <= counts.get(kind, 0) <= 1500, kind
    (recent_pending,) = one(con, f"""
        SELECT count(*) FROM persons WHERE residence_type = 'pending' AND DATE '{REF}' - registered_date <= 180
    """)
    assert recent_pending > 10
