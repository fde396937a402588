"""Dedup runs from the UI over a small generated county (run synchronously in tests)."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from popreg.linkage import jobs
from popreg.linkage.actions import do_decide_candidate
from popreg.linkage.engine import REVIEW_FLOOR
from popreg.linkage.models import DedupRun, DuplicateCandidate
from popreg.registry.access import actor_for, system_actor
from popreg.registry.loading import load_snapshot
from popreg.registry.models import AdminUnit, Assignment, AuditRecord, Person
from popreg.synth.generator import generate

PASSWORD = "test-pass-123"


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    out = tmp_path_factory.mktemp("snap")
    generate(out, seed=11, persons=1500, progress=None)
    return out


@pytest.fixture(autouse=True)
def fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def county(db, snap):
    load_snapshot(snap, system_actor("test"))
    county = AdminUnit.objects.get(level="county")
    villages = list(AdminUnit.objects.filter(level="village").order_by("code"))
    users = {}
    for name, role, unit in (
        ("admin", "county_admin", county),
        ("clerk", "village_clerk", villages[0]),
    ):
        u = get_user_model().objects.create_user(username=name, password=PASSWORD)
        Assignment.objects.create(user=u, role=role, unit=unit)
        users[name] = u
    return {"county": county, "villages": villages, "users": users}


@pytest.fixture
def planted(county):
    """Duplicates registered on top of the generated ones (same name and birth date without
    the ID number; day and month exchanged) and twins (same household and birth date,
    another given name, valid ID numbers differing in the sequence digits only)."""
    from datetime import date

    from popreg.core.idnumber import compose
    from popreg.registry import actions as reg

    system = system_actor("test")
    people = list(
        Person.objects.filter(
            status="active",
            id_number__isnull=False,
            birth_date__year__lt=2010,
            registered_unit__level="village",
            household__isnull=False,
        ).order_by("pk")[::97][:12]
    )
    dups, twins = set(), set()
    for i, p in enumerate(people):
        b = p.birth_date
        if i % 3 == 0:
            twin_id = compose(p.id_number[:6], b, (int(p.id_number[14:17]) + 2) % 1000)
            twin = reg.do_register_birth(
                system,
                name=p.name[0] + ("佳" if p.name[-1] != "佳" else "美"),
                sex=p.sex,
                birth_date=b,
                registered_unit_code=p.registered_unit_id,
                household=p.household,
                id_number=twin_id,
            )
            twins.add(tuple(sorted((p.pk, twin.pk))))
            continue
        if i % 3 == 1 and b.day <= 12 and b.day != b.month:
            b = date(b.year, b.day, b.month)
        dup = reg.do_register_birth(
            system,
            name=p.name,
            sex=p.sex,
            birth_date=b,
            registered_unit_code=p.registered_unit_id,
        )
        dups.add(tuple(sorted((p.pk, dup.pk))))
    return {"dups": dups, "twins": twins}


def _true_pairs(snap, ids):
    by_entity = defaultdict(list)
    with open(snap / "truth" / "entities.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if int(row["person_id"]) in ids:
                by_entity[row["entity_id"]].append(int(row["person_id"]))
    return {
        tuple(sorted(p))
        for members in by_entity.values()
        for p in itertools.combinations(members, 2)
    }


def test_run_from_the_page_finds_the_county_duplicates(client, county, snap, planted):
    client.login(username="admin", password=PASSWORD)
    r = client.post(reverse("linkage:start_run"), {"unit": county["county"].code})
    assert r.status_code == 302
    run = DedupRun.objects.get()
    assert r["Location"] == reverse("linkage:run", args=[run.pk])
    assert run.state == "done" and run.progress == 100 and run.error == ""
    exported = jobs.unit_records(county["county"])
    registered = Person.objects.filter(
        status="active", registered_unit_id__startswith=county["county"].code[:6]
    )
    assert run.n_records == len(exported) == registered.count()
    assert set(exported["record_id"]) == {str(p) for p in registered.values_list("pk", flat=True)}

    stored = DuplicateCandidate.objects.all()
    found = {(c.person_a_id, c.person_b_id) for c in stored if c.match_probability >= run.threshold}
    uncertain = {(c.person_a_id, c.person_b_id) for c in stored} - found
    truth = _true_pairs(snap, {int(x) for x in exported["record_id"]}) | planted["dups"]
    assert len(truth) >= 8 and len(planted["twins"]) >= 3
    recall = len(found & truth) / len(truth)
    assert recall >= 0.9, (recall, len(truth))
    assert not found & planted["twins"], "twins are different people"
    assert len(found & truth) / len(found) >= 0.9, (len(found), len(truth))
    # the uncertain band goes to the same queue (nothing is merged by a run)
    assert run.n_new == len(found) + len(uncertain) == run.n_pairs
    assert all(c.status == "pending" for c in stored)
    for c in stored:
        assert c.match_probability >= REVIEW_FLOOR and c.run_id == run.pk
        assert [e["comparison"] for e in c.evidence] == [
            "name",
            "id_number",
            "birth_date",
            "sex",
            "address",
        ]
    assert AuditRecord.objects.filter(action="start_dedup_run").count() == 1

    data = client.get(reverse("linkage:run_progress", args=[run.pk])).json()
    assert data["state"] == "done" and data["progress"] == 100 and data["finished"]
    assert data["n_new"] == run.n_new
    page = client.get(reverse("linkage:run", args=[run.pk])).content.decode()
    assert "已完成" in page and reverse("linkage:run_progress", args=[run.pk]) in page

    first = DuplicateCandidate.objects.order_by("-match_probability").first()
    page = client.get(reverse("linkage:candidate", args=[first.pk])).content.decode()
    assert reverse("linkage:run", args=[run.pk]) in page and "匹配权重" in page

    # A second run leaves decided pairs alone and rescores the pending ones.
    admin = actor_for(county["users"]["admin"])
    decided = DuplicateCandidate.objects.order_by("pk").first()
    do_decide_candidate(admin, decided, True, "核实为同一人")
    again = jobs.start_dedup_run(admin, county["county"].code)
    assert again.state == "done"
    assert (again.n_new, again.n_decided, again.n_updated) == (0, 1, run.n_new - 1)
    decided.refresh_from_db()
    assert decided.status == "same_person" and decided.run_id == run.pk

    # Another user's run page and progress are out of reach of a village clerk.
    client.logout()
    client.login(username="clerk", password=PASSWORD)
    assert client.get(reverse("linkage:run_progress", args=[run.pk])).status_code == 404
    assert client.get(reverse("linkage:run", args=[run.pk])).status_code == 404


def test_clerk_runs_only_over_the_village(client, county):
    client.login(username="clerk", password=PASSWORD)
    other = county["villages"][1]
    r = client.post(reverse("linkage:start_run"), {"unit": other.code})
    assert r.status_code == 400 and "辖区" in r.content.decode()
    assert not DedupRun.objects.exists()
    r = client.post(reverse("linkage:start_run"), {"unit": county["villages"][0].code})
    run = DedupRun.objects.get()
    assert r.status_code == 302 and run.state == "done"
    village = county["villages"][0].code
    assert (
        run.n_records
        == Person.objects.filter(registered_unit_id__startswith=village, status="active").count()
    )
    for c in DuplicateCandidate.objects.select_related("person_a", "person_b"):
        assert c.person_a.registered_unit_id.startswith(village)
        assert c.person_b.registered_unit_id.startswith(village)


def test_a_failed_run_says_why(county, monkeypatch):
    from popreg.linkage import engine

    def broken(*args, **kwargs):
        raise RuntimeError("引擎出错")

    monkeypatch.setattr(engine, "dedupe", broken)
    run = jobs.start_dedup_run(actor_for(county["users"]["admin"]), county["county"].code)
    assert run.state == "failed" and "引擎出错" in run.error and run.finished_at is not None
    assert not DuplicateCandidate.objects.exists()
