"""Score ``popreg audit`` against the synthetic county's ground truth (truth/defects.csv)."""

import csv
from collections import defaultdict

import pytest
from django.core.management import call_command

from popreg.campaigns.anomalies import detect_anomalies
from popreg.snapshot.format import DEFECT_TYPES

SEED = 20251101
PERSONS = 20_000
MIN_RECALL, MIN_PRECISION = 0.95, 0.90


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "county"
    call_command("synth", "--seed", str(SEED), "--persons", str(PERSONS), "--out", str(out))
    return out


def _read(path, type_column):
    found = defaultdict(set)
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            found[row[type_column]].add((row["record_id"], row["source"]))
    return found


def test_audit_finds_every_injected_defect_type(county, tmp_path):
    out = tmp_path / "findings.csv"
    call_command("audit", "--snapshot", str(county), "--out", str(out))
    truth = _read(county / "truth" / "defects.csv", "defect_type")
    found = _read(out, "anomaly_type")
    assert set(truth) == set(DEFECT_TYPES), "the generator should inject every defect type"
    lines = [f"{'defect type':28s} {'truth':>6s} {'found':>6s} {'hit':>6s} {'recall':>7s} {'precision':>9s}"]
    failures = []
    for defect in DEFECT_TYPES:
        hit = len(truth[defect] & found[defect])
        recall = hit / len(truth[defect])
        precision = hit / len(found[defect]) if found[defect] else 0.0
        lines.append(f"{defect:28s} {len(truth[defect]):6d} {len(found[defect]):6d} {hit:6d} "
                     f"{recall:7.3f} {precision:9.3f}")
        if recall < MIN_RECALL or precision < MIN_PRECISION:
            failures.append(defect)
    print("\n" + "\n".join(lines))
    assert not failures, "\n".join(lines)


def test_unit_restriction_on_the_synthetic_county(county):
    everything = detect_anomalies(county)
    township = next(f.unit_code for f in everything if f.source == "registry")[:9] + "000"
    part = detect_anomalies(county, unit=township)
    assert part and set(part) < set(everything)
    assert all(any(u.startswith(township[:9]) for u in f.scope_units) for f in part)
    assert {f for f in everything if any(u.startswith(township[:9]) for u in f.scope_units)} == set(part)


@pytest.mark.slow
def test_largest_village_field_list_reads_back(county):
    """The largest village's printable list: every name comes back from the PDF, in order.

    Slow on purpose: about 1,300 persons, 15-30 ms each in WeasyPrint.
    """
    import duckdb

    from popreg.campaigns.fieldlists import (
        field_list_from_snapshot,
        render_field_list_pdf,
        sort_persons,
    )

    from .pdfcheck import fonts, notdef_count, text

    code = duckdb.sql(
        f"""SELECT substr(registered_unit, 1, 12) AS v, count(*) AS n
            FROM '{county / "persons.parquet"}'
            WHERE status = 'active' AND residence_type IN ('registered', 'floating_out')
            GROUP BY v ORDER BY n DESC, v LIMIT 1"""
    ).fetchall()[0][0]
    village, persons = field_list_from_snapshot(county, code)
    assert len(persons) > 500
    pdf = render_field_list_pdf(village, persons, {"id": 1, "name": "户口整顿"}, strict=True)
    got = text(pdf)
    pos = 0
    # Printed order: the village's register, then the in-migrants living there (their own part).
    printed = (sort_persons([p for p in persons if p.get("residence_type") != "floating_in"])
               + sort_persons([p for p in persons if p.get("residence_type") == "floating_in"]))
    for p in printed:
        if p["name"]:
            found = got.find("".join(p["name"].split()), pos)
            assert found >= 0, f"{p['name']} missing after position {pos}"
            pos = found
    assert notdef_count(pdf) == 0 and all(fonts(pdf).values())
