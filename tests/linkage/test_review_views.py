"""Review queue pages: jurisdiction on every path, decisions with reasons, merge and undo."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from popreg.linkage.models import DuplicateCandidate, MergeRecord
from popreg.registry import actions as reg
from popreg.registry.models import AuditRecord, Event, Person

from ..conftest import PASSWORD, VILLAGE_A1

EVIDENCE = [
    {
        "comparison": "name",
        "gamma": 2,
        "level": "same reading (homophone / variant)",
        "weight": 7.2,
    },
    {"comparison": "id_number", "gamma": -1, "level": "null", "weight": 0.0},
    {"comparison": "birth_date", "gamma": 4, "level": "same date", "weight": 13.7},
    {"comparison": "sex", "gamma": 1, "level": "same", "weight": 1.0},
    {"comparison": "address", "gamma": 3, "level": "same household", "weight": 10.8},
]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client, users):
    def _login(username):
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


def _candidate(a, b, probability):
    lo, hi = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.create(
        person_a_id=lo,
        person_b_id=hi,
        match_weight=9.5,
        match_probability=probability,
        evidence=EVIDENCE,
    )


@pytest.fixture
def queue(people, actors):
    """``inside``: both persons in village A1; ``outside``: one in A1, one in B1."""
    twin = reg.do_register_birth(
        actors["admin"],
        name="张伟",
        sex="M",
        birth_date=date(2020, 5, 6),
        registered_unit_code=VILLAGE_A1,
        household=people["hh_a"],
    )
    inside = _candidate(people["child"], twin, 0.93)
    outside = _candidate(people["mother"], people["other"], 0.71)
    return {"inside": inside, "outside": outside, "twin": twin}


def _state():
    return (
        Event.objects.count(),
        MergeRecord.objects.count(),
        list(DuplicateCandidate.objects.order_by("pk").values_list("status", flat=True)),
        list(Person.objects.order_by("pk").values_list("merged_into_id", "status")),
    )


def test_queue_lists_only_pairs_within_the_jurisdiction(login, queue):
    page = login("clerk_a1").get(reverse("linkage:index")).content.decode()
    assert reverse("linkage:candidate", args=[queue["inside"].pk]) in page
    assert reverse("linkage:candidate", args=[queue["outside"].pk]) not in page
    assert "李娜" not in page  # the B1 person of the outside pair
    page = login("admin").get(reverse("linkage:index")).content.decode()
    assert reverse("linkage:candidate", args=[queue["outside"].pk]) in page
    # Sorted by probability, most probable first.
    assert page.index(f"candidates/{queue['inside'].pk}/") < page.index(
        f"candidates/{queue['outside'].pk}/"
    )
    # Unit filter: village B1 keeps only the pair with a person registered there.
    page = login("admin").get(reverse("linkage:index"), {"unit": "110105002001"}).content.decode()
    assert (
        f"candidates/{queue['outside'].pk}/" in page
        and f"candidates/{queue['inside'].pk}/" not in page
    )


def test_clerk_cannot_reach_a_pair_outside_the_village(login, queue):
    client = login("clerk_a1")
    outside = queue["outside"]
    before = _state()
    assert client.get(reverse("linkage:candidate", args=[outside.pk])).status_code == 404
    r = client.post(
        reverse("linkage:decide", args=[outside.pk]),
        {"decision": "same_person", "reason": "同一人"},
    )
    assert r.status_code == 404
    r = client.post(
        reverse("linkage:merge", args=[outside.pk]),
        {"survivor": outside.person_a_id, "merge_reason": "同一人"},
    )
    assert r.status_code == 404
    assert _state() == before
    # A merge made by the county over that pair cannot be undone by the clerk either.
    merge = MergeRecord.objects.create(
        survivor_id=outside.person_a_id,
        duplicate_id=outside.person_b_id,
        reason="x",
        merged_by_name="admin",
    )
    assert (
        client.post(
            reverse("linkage:undo_merge", args=[merge.pk]), {"undo_reason": "撤销"}
        ).status_code
        == 404
    )
    assert (
        reverse("linkage:undo_merge", args=[merge.pk])
        not in client.get(reverse("linkage:merges")).content.decode()
    )


def test_side_by_side_page_shows_evidence_in_chinese(login, queue):
    r = login("clerk_a1").get(reverse("linkage:candidate", args=[queue["inside"].pk]))
    page = r.content.decode()
    assert r.status_code == 200
    for text in (
        "張偉",
        "张伟",
        "读音相同（同音字或异体字）",
        "+7.2",
        "日期相同",
        "+13.7",
        "同一户",
        "缺失（不计分）",
        "拼音",
        "同一人",
        "不同的人",
        "理由（必填）",
        "合并",
    ):
        assert text in page, text
    child = Person.objects.get(pk=queue["inside"].person_a_id)
    assert child.id_number in page  # full number to compare, and the read is audited
    assert AuditRecord.objects.filter(
        action="view_id_number", target_id=str(child.pk), detail__page="duplicate_review"
    ).exists()


def test_decision_needs_a_reason_and_is_audited(login, queue):
    client = login("clerk_a1")
    c = queue["inside"]
    before = _state()
    r = client.post(
        reverse("linkage:decide", args=[c.pk]), {"decision": "different_people", "reason": " "}
    )
    assert r.status_code == 400 and "请填写理由" in r.content.decode()
    assert _state() == before
    r = client.post(
        reverse("linkage:decide", args=[c.pk]),
        {"decision": "different_people", "reason": "双胞胎，出生证明为两人"},
    )
    assert r.status_code == 302
    c.refresh_from_db()
    assert c.status == "different_people" and c.decided_by_name == "clerk_a1"
    rec = AuditRecord.objects.get(action="decide_duplicate")
    assert rec.before["status"] == "pending" and rec.after["status"] == "different_people"
    # Decided pairs leave the pending queue.
    assert (
        reverse("linkage:candidate", args=[c.pk])
        not in client.get(reverse("linkage:index")).content.decode()
    )


def test_read_only_roles_cannot_decide(login, queue):
    before = _state()
    client = login("statistician")
    assert client.get(reverse("linkage:candidate", args=[queue["inside"].pk])).status_code == 200
    r = client.post(
        reverse("linkage:decide", args=[queue["inside"].pk]),
        {"decision": "same_person", "reason": "x"},
    )
    assert r.status_code == 403
    assert _state() == before


def test_merge_and_undo_from_the_page(login, queue):
    client = login("clerk_a1")
    c = queue["inside"]
    keep, drop = queue["twin"].pk, queue["twin"].pk ^ c.person_a_id ^ c.person_b_id
    number = Person.objects.get(pk=drop).id_number
    before = _state()
    r = client.post(reverse("linkage:merge", args=[c.pk]), {"survivor": keep, "merge_reason": ""})
    assert r.status_code == 400 and "请填写理由" in r.content.decode()
    r = client.post(reverse("linkage:merge", args=[c.pk]), {"merge_reason": "同一人"})
    assert r.status_code == 400 and "请选择保留哪一条记录" in r.content.decode()
    assert _state() == before
    r = client.post(
        reverse("linkage:merge", args=[c.pk]), {"survivor": keep, "merge_reason": "同一人重复登记"}
    )
    assert r.status_code == 302
    dup = Person.objects.get(pk=drop)
    assert dup.merged_into_id == keep and dup.status == "deregistered"
    assert Person.objects.get(pk=keep).id_number == number  # filled from the duplicate
    page = client.get(reverse("linkage:candidate", args=[c.pk])).content.decode()
    assert "已合并" in page and "撤销合并" in page and "补充了：公民身份号码" in page
    assert 'id="decide-form"' not in page and 'id="merge-form"' not in page
    merge = MergeRecord.objects.get()
    r = client.post(reverse("linkage:undo_merge", args=[merge.pk]), {"undo_reason": ""})
    assert r.status_code == 400 and "请填写理由" in r.content.decode()
    r = client.post(reverse("linkage:undo_merge", args=[merge.pk]), {"undo_reason": "误合并"})
    assert r.status_code == 302
    dup.refresh_from_db()
    assert dup.merged_into_id is None and dup.status == "active"
    assert Person.objects.get(pk=keep).id_number is None
    c.refresh_from_db()
    assert c.status == "pending"
    assert (
        'id="merge-form"' in client.get(reverse("linkage:candidate", args=[c.pk])).content.decode()
    )


def test_labels_csv_is_scoped(login, queue, actors):
    from popreg.linkage.actions import do_decide_candidate

    do_decide_candidate(actors["admin"], queue["inside"], True, "同一人")
    do_decide_candidate(actors["admin"], queue["outside"], False, "不同的人")
    body = login("clerk_a1").get(reverse("linkage:labels")).content.decode("utf-8-sig")
    stamp, *lines = body.strip().splitlines()
    c = queue["inside"]
    assert stamp.startswith("# ") and "clerk_a1" in stamp  # popreg dedupe --labels skips it
    assert lines == ["record_id_l,record_id_r,is_match", f"{c.person_a_id},{c.person_b_id},1"]


def test_a_running_run_blocks_the_unit_until_its_worker_is_dead(county, actors, settings):
    from datetime import timedelta

    from django.utils import timezone

    from popreg.linkage import jobs
    from popreg.registry.errors import RegistryError
    from popreg.registry.job_models import Job

    clerk = actors["clerk_a1"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # only queued
    busy = jobs.start_dedup_run(clerk, VILLAGE_A1)
    assert busy.state == "queued" and busy.job.unit_code == VILLAGE_A1
    Job.objects.filter(pk=busy.job_id).update(state="running", heartbeat_at=timezone.now(),
                                              worker_id="elsewhere:1")
    with pytest.raises(RegistryError, match="进行中"):
        jobs.start_dedup_run(clerk, VILLAGE_A1)
    # Its worker stops beating: after a minute the run is failed (interrupted) and the unit free.
    Job.objects.filter(pk=busy.job_id).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    run = jobs.start_dedup_run(clerk, VILLAGE_A1)
    busy = jobs.sync_run(busy)
    assert busy.state == "failed" and "中断" in busy.error
    # The village has nobody registered yet: nothing to compare, and it says so.
    assert run.state == "done" and run.n_records == 0 and run.stage == "too_few"
    assert "不足" in jobs.stage_text(run)
    with pytest.raises(RegistryError):  # outside the clerk's village
        jobs.start_dedup_run(clerk, "110105002001")


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_give_one_run(county, actors, settings):
    """Two clicks at the same instant (two threads, two connections): one run starts, the
    other is refused by the job's unique lock key; nothing is left half-created."""
    import threading

    from django.db import connection

    from popreg.linkage import jobs
    from popreg.linkage.models import DedupRun
    from popreg.registry.errors import RegistryError
    from popreg.registry.job_models import Job

    if connection.vendor == "sqlite":
        # pytest's SQLite test database is in memory with a shared cache, where a second
        # writer gets "table is locked" at once instead of waiting (a file database waits,
        # and SQLite has one writer at a time anyway); the PostgreSQL pass runs this test.
        pytest.skip("concurrent writers need a file or server database")
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # only queued
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        try:
            barrier.wait()
            jobs.start_dedup_run(actors["clerk_a1"], VILLAGE_A1)
            outcomes.append("started")
        except RegistryError as exc:
            outcomes.append(exc.message_en)
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    assert sorted(outcomes)[-1] == "started" and "already in progress" in sorted(outcomes)[0], outcomes
    assert DedupRun.objects.count() == 1 and Job.objects.filter(kind="dedup").count() == 1
