import csv
from datetime import datetime

import pytest

from popreg.campaigns.anomalies import (
    ANOMALY_TYPES,
    CSV_COLUMNS,
    LIVE_REGISTRY_TYPES,
    AuditError,
    detect_anomalies,
    normalize_id_number,
    normalize_name,
    unit_prefix,
)
from popreg.snapshot.format import DEFECT_TYPES

from .factory import EXPECTED, TOWN_A, TOWN_B, VILLAGE_A, VILLAGE_B, build_rows, write_fixture


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("snap"))


def _keys(findings):
    return {(f.record_id, f.source, f.anomaly_type) for f in findings}


def test_every_rule_finds_its_case_and_nothing_else(snapshot):
    findings = detect_anomalies(snapshot)
    assert _keys(findings) == EXPECTED
    assert all(f.detail for f in findings)
    # the live-registry types have their own tests (tests/migrants/test_anomaly.py)
    assert {t for _, _, t in EXPECTED} == set(ANOMALY_TYPES) - set(LIVE_REGISTRY_TYPES)


def test_vocabulary_extends_the_snapshot_defect_types():
    assert tuple(ANOMALY_TYPES)[: len(DEFECT_TYPES)] == DEFECT_TYPES


def test_details_are_chinese_and_name_the_evidence(snapshot):
    by_key = {(f.record_id, f.anomaly_type): f for f in detect_anomalies(snapshot)}
    assert "DN000001" in by_key[("3", "death_not_deregistered")].detail
    assert "2025-06-01" in by_key[("3", "death_not_deregistered")].detail
    assert "校验码" in by_key[("10", "id_checksum_error")].detail
    assert "15" in by_key[("14", "duplicate")].detail
    assert "杜曲村民委员会" in by_key[("7", "living_away")].detail
    assert by_key[("HB000002", "unregistered_birth")].person_id == 2  # the mother


@pytest.mark.parametrize(
    "unit, expected_ids",
    [
        # township B: person 7 lives there, 15 is registered there, HB3 and DN3 stated it
        (TOWN_B, {"7", "15", "HB000003", "DN000003"}),
        (VILLAGE_B, {"7", "15", "HB000003", "DN000003"}),
        (VILLAGE_A, {"3", "5", "7", "8", "10", "11", "12", "13", "14", "16", "17", "19", "22",
                     "24", "HB000002"}),
    ],
)
def test_unit_restricts_by_code_prefix(snapshot, unit, expected_ids):
    assert {f.record_id for f in detect_anomalies(snapshot, unit=unit)} == expected_ids


def test_unit_prefix_levels(snapshot):
    assert unit_prefix(None, "411122000000") == "411122"
    assert unit_prefix(None, TOWN_A) == "411122100"
    assert unit_prefix(None, VILLAGE_A) == VILLAGE_A
    assert unit_prefix(None, VILLAGE_A + "001") == VILLAGE_A + "001"


@pytest.mark.parametrize("unit", ["4111", "41112210000x", "411199999999"])
def test_bad_unit_is_refused_in_chinese_and_english(snapshot, unit):
    with pytest.raises(AuditError, match="单位代码|unit"):
        detect_anomalies(snapshot, unit=unit)


def test_pending_days_and_reference_moment_are_parameters(snapshot):
    keys = _keys(detect_anomalies(snapshot, pending_days=30))
    assert ("9", "registry", "pending_registration") in keys
    # a year earlier: the 2025 birth and deaths are after the moment, 8 pending 260 days
    early = _keys(detect_anomalies(snapshot, reference_moment=datetime(2024, 11, 1)))
    assert ("HB000002", "hospital_births", "unregistered_birth") not in early
    assert ("3", "registry", "death_not_deregistered") not in early
    assert ("8", "registry", "pending_registration") in early
    assert ("21", "registry", "future_event") in early  # born 2025-03-01


def test_linkage_clusters_replace_the_id_fallback(snapshot):
    keys = _keys(detect_anomalies(snapshot, duplicate_clusters=[[1, 2], [14, 99]]))
    dups = {k[0] for k in keys if k[2] == "duplicate"}
    assert dups == {"1", "2"}  # 14's partner 99 does not exist; 14/15 not in a cluster


def test_linkage_source_links_are_used(snapshot):
    links = {("death_notices", "DN000003"): 1, ("hospital_births", "HB000003"): 25}
    keys = _keys(detect_anomalies(snapshot, source_links=links))
    assert ("1", "registry", "death_not_deregistered") in keys
    assert ("DN000003", "death_notices", "death_notice_unmatched") not in keys
    assert ("HB000003", "hospital_births", "unregistered_birth") not in keys


def test_snapshot_without_sources(tmp_path):
    rows = build_rows()
    del rows["sources/hospital_births"], rows["sources/death_notices"]
    found = _keys(detect_anomalies(write_fixture(tmp_path, rows)))
    assert found == {k for k in EXPECTED if k[2] not in (
        "death_not_deregistered", "death_notice_unmatched", "unregistered_birth")}


def test_not_a_snapshot(tmp_path):
    with pytest.raises(AuditError, match="manifest.json"):
        detect_anomalies(tmp_path)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (" １１０１０５１９４９１２３１００２ｘ ", "11010519491231002X"),
        ("110105491231002", "11010519491231002X"),  # legacy 15 digits, published example
        ("", None),
        (None, None),
    ],
)
def test_normalize_id_number(raw, expected):
    assert normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [("趙強", "赵强"), (" 李 娜", "李娜"), ("阿依古丽•买买提", "阿依古丽·买买提"),
     ("阿依古丽．买买提", "阿依古丽·买买提"), ("", None)],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_audit_command_writes_the_contract_columns(snapshot, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "findings.csv"
    call_command("audit", "--snapshot", str(snapshot), "--out", str(out), "--unit", TOWN_B)
    with out.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert {(r["record_id"], r["source"], r["anomaly_type"]) for r in rows} == {
        k for k in EXPECTED if k[0] in {"7", "15", "HB000003", "DN000003"}
    }
    assert all(r["detail"] for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--unit", "123"], "单位代码"),
        (["--pending-days", "-1"], "pending-days"),
    ],
)
def test_audit_command_errors_change_nothing(snapshot, tmp_path, args, message):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = tmp_path / "findings.csv"
    with pytest.raises(CommandError, match=message):
        call_command("audit", "--snapshot", str(snapshot), "--out", str(out), *args)
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.django_db(transaction=True)
def test_audit_command_reads_the_live_registry(snapshot, tmp_path):
    """Without --snapshot the registry is snapshotted first: loading the fixture and auditing
    the live registry gives the same findings as auditing the fixture at the same moment."""
    from django.core.management import call_command

    call_command("load", str(snapshot))
    out = tmp_path / "live.csv"
    call_command("audit", "--out", str(out), "--at", "2025-11-01T00:00:00")
    with out.open(encoding="utf-8") as f:
        live = {(r["record_id"], r["source"], r["anomaly_type"]) for r in csv.DictReader(f)}
    assert live == EXPECTED


def test_audit_command_takes_linkage_output(snapshot, tmp_path):
    from django.core.management import call_command

    (tmp_path / "clusters.csv").write_text("record_id,cluster_id\n1,a\n2,a\n14,b\n15,c\n",
                                           encoding="utf-8")
    (tmp_path / "links.csv").write_text(
        "record_id,person_id,match_probability,status\nDN000003,1,0.99,matched\n"
        "DN000001,2,0.55,review\n", encoding="utf-8")
    out = tmp_path / "f.csv"
    call_command("audit", "--snapshot", str(snapshot), "--out", str(out),
                 "--clusters", str(tmp_path / "clusters.csv"),
                 "--links", f"death_notices={tmp_path / 'links.csv'}")
    with out.open(encoding="utf-8") as f:
        keys = {(r["record_id"], r["anomaly_type"]) for r in csv.DictReader(f)}
    assert {k[0] for k in keys if k[1] == "duplicate"} == {"1", "2"}
    assert ("1", "death_not_deregistered") in keys          # the engine's link
    assert ("2", "death_not_deregistered") not in keys      # a review pair is not a link
    assert ("DN000003", "death_notice_unmatched") not in keys


@pytest.mark.parametrize(
    "args, message",
    [
        (["--links", "births.csv"], "SOURCE=FILE"),
        (["--links", "parish=x.csv"], "hospital_births"),
        (["--clusters", "/nonexistent/clusters.csv"], "无法读取"),
    ],
)
def test_audit_command_bad_linkage_files(snapshot, tmp_path, args, message):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("audit", "--snapshot", str(snapshot), "--out", str(tmp_path / "f.csv"), *args)
    assert not (tmp_path / "f.csv").exists()
