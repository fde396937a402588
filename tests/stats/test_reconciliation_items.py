"""Reconciliation from the registry database: ``popreg reconcile --create-items`` turns
the unmatched records into items for the responsible unit; items are settled in
jurisdiction, idempotently created, and audited; the page shows the same counts."""

from __future__ import annotations

import tempfile
from datetime import date

import pandas as pd
import pytest
from django.core.management import call_command

from popreg.registry.access import Actor, system_actor
from popreg.registry.errors import JurisdictionError, PermissionDeniedError
from popreg.registry.loading import load_snapshot
from popreg.registry.models import AuditRecord
from popreg.registry.snapshot import write_registry_snapshot
from popreg.stats import actions
from popreg.stats.models import ReconciliationItem
from popreg.stats.reconciliation import Month, reconcile

from .test_reconciliation import LINKS, T2, V11, V12, V21, write_recon_snapshot

pytestmark = pytest.mark.urls("tests.stats.urls_for_tests")


@pytest.fixture
def loaded(db, tmp_path):
    snap = write_recon_snapshot(tmp_path / "snap")
    load_snapshot(snap, system_actor("test"))
    links = tmp_path / "links.csv"
    LINKS.to_csv(links, index=False)
    return links


def test_command_from_registry_creates_items_once(loaded, tmp_path):
    out = tmp_path / "recon.csv"
    args = ["reconcile", "--month", "2024-05", "--links", str(loaded), "--out", str(out), "--create-items"]
    call_command(*args)
    df = pd.read_csv(out, dtype={"unit_code": str}).set_index("unit_code")
    assert (df.loc[V11, "reported"], df.loc[V11, "verified"]) == (2, 3)
    items = {(i.unit_id, i.category, i.kind, i.event_id, i.source_record_id) for i in ReconciliationItem.objects.all()}
    assert items == {
        (V11, "registry_only", "birth", 2, ""),
        (V21, "source_only", "birth", None, "HB2"),
        (V11, "source_only", "death", None, "DN3"),
    }
    assert ReconciliationItem.objects.get(source_record_id="DN3").person_id == 11
    call_command(*args)  # the same month again: nothing new
    assert ReconciliationItem.objects.count() == 3
    assert AuditRecord.objects.filter(action="create_reconciliation_items").count() == 2


def test_registry_as_it_stood_before_a_late_registration(loaded, tmp_path):
    out = tmp_path / "recon.csv"
    # on 1 July the late birth (recorded 15 July) and the death of 31 May (recorded 1 July) were not yet in the registry
    call_command("reconcile", "--month", "2024-05", "--links", str(loaded), "--out", str(out), "--at", "2024-07-01T00:00")
    df = pd.read_csv(out, dtype={"unit_code": str}).set_index("unit_code")
    assert df.loc[V11, "births_registry"] == 1 and df.loc[V12, "deaths_registry"] == 1
    assert (df["reported"].sum(), df["verified"].sum()) == (2, 4)
    call_command("reconcile", "--month", "2024-06", "--links", str(loaded), "--out", str(out), "--at", "2024-07-01T00:00")
    june = pd.read_csv(out, dtype={"unit_code": str}).set_index("unit_code")
    assert june.loc[V12, "deaths_source_only"] == 1  # DN4 (1 June): the death was not yet registered


def test_items_are_scoped_and_settled_in_jurisdiction(loaded):
    with tempfile.TemporaryDirectory() as tmp:
        write_registry_snapshot(tmp)
        rec = reconcile(tmp, [Month(2024, 5)], links=LINKS).records
    township_b = Actor(name="officer_b", role="township_officer", prefix=T2[:9], unit_code=T2)
    created, _ = actions.do_create_reconciliation_items(township_b, rec)
    assert created == 1 and ReconciliationItem.objects.get().unit_id == V21
    actions.do_create_reconciliation_items(system_actor(), rec)
    clerk_v11 = Actor(name="clerk", role="village_clerk", prefix=V11, unit_code=V11)
    hb2 = ReconciliationItem.objects.get(source_record_id="HB2")
    with pytest.raises(JurisdictionError):
        actions.do_settle_reconciliation_item(clerk_v11, hb2, status="resolved", note="补登")
    statistician = Actor(name="stat", role="county_statistician", prefix="")
    with pytest.raises(PermissionDeniedError):
        actions.do_settle_reconciliation_item(statistician, hb2, status="resolved", note="补登")
    item = ReconciliationItem.objects.get(event_id=2)
    with pytest.raises(actions.StatsError, match="note"):
        actions.do_settle_reconciliation_item(clerk_v11, item, status="resolved", note=" ")
    actions.do_settle_reconciliation_item(clerk_v11, item, status="rejected", note="在家分娩，已核实")
    item.refresh_from_db()
    assert item.status == "rejected" and item.resolved_at is not None
    assert AuditRecord.objects.filter(action="settle_reconciliation_item", target_id=str(item.pk)).exists()


def _officer_a(client):
    from django.contrib.auth import get_user_model

    from popreg.registry.models import Assignment

    user = get_user_model().objects.create_user("officer_a", password="pw-123456")
    Assignment.objects.create(user=user, role="township_officer", unit_id="411000001000")
    client.force_login(user)
    return user


def test_page_shows_counts_and_creates_items(loaded, client, monkeypatch):
    """"The registry now" is a POSTed job; its result page shows the table and creates items."""
    from popreg.registry.job_models import Job

    monkeypatch.setattr("popreg.stats.jobs.link_sources", lambda path: LINKS)
    _officer_a(client)
    params = {"month": "2024-05", "snapshot": "", "level": "village"}
    resp = client.post("/stats/reconciliation/", {**params, "action": "compare"})
    job = Job.objects.get(kind="reconciliation")
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert job.state == "succeeded" and job.unit_code == "411000001000"
    progress = client.get(resp["Location"]).content.decode()
    assert 'data-job-progress="' in progress and f"/stats/reconciliation/jobs/{job.pk}/" in progress
    resp = client.get(job.result_url)
    assert resp.status_code == 200
    rows = {r["unit_code"]: r for r in resp.context["rows"]}
    assert set(rows) == {V11, V12}  # only the officer's township
    assert rows[V11]["verified"] == 3 and rows[V12]["accuracy_rate"] == 100.0
    resp = client.post(job.result_url)
    assert resp.status_code == 302
    assert sorted(ReconciliationItem.objects.values_list("unit_id", flat=True)) == [V11, V11]
    csv_resp = client.get(job.result_url, {"format": "csv"})
    body = b"".join(csv_resp.streaming_content) if csv_resp.streaming else csv_resp.content
    assert b"accuracy_rate" in body and V21.encode() not in body
    assert date(2024, 5, 20) in set(ReconciliationItem.objects.values_list("event_date", flat=True))


def test_get_of_the_page_writes_no_snapshot(loaded, client, monkeypatch):
    from popreg.registry.job_models import Job

    def refuse(*args, **kwargs):
        raise AssertionError("a GET wrote a snapshot")

    monkeypatch.setattr("popreg.registry.snapshot.write_registry_snapshot", refuse)
    _officer_a(client)
    resp = client.get("/stats/reconciliation/", {"month": "2024-05", "snapshot": "", "level": "village"})
    assert resp.status_code == 200 and resp.context.get("rows") is None
    assert not Job.objects.exists()

