"""Duplicate check at data entry: scoring in plain Python, the index of blocking keys, and
the forms (birth, move-in, in-migrant) that show likely existing records before saving."""

from __future__ import annotations

import html
import json
from datetime import date
from importlib import resources

import pytest
from django.core.management import call_command

from popreg.core.entry_record import EntryRecord
from popreg.linkage import entrycheck, index
from popreg.linkage.entrycheck import features, score
from popreg.linkage.models import EntryKey
from popreg.registry import actions as reg
from popreg.registry.audit import AuditAction
from popreg.registry.entry_check import NewRecord, check_entry, find_duplicates
from popreg.registry.models import AuditRecord, Person

from ..conftest import VILLAGE_A1, VILLAGE_A2, VILLAGE_B1, make_id

ORIGIN = "130102"  # a county outside ours (Hebei), as in tests/migrants


def _f(name, sex="M", born=date(2020, 5, 6), number="", village=VILLAGE_A1, hh=""):
    return features(EntryRecord(name=name, sex=sex, birth_date=born, id_number=number,
                                village_code=village, household_no=hh))


# ---------------------------------------------------------------- scoring (no database)


def test_model_weights_come_from_the_model_file():
    model = entrycheck.default_model()
    data = json.loads(resources.files("popreg.linkage").joinpath("models", "registry-v1.json").read_text("utf-8"))
    name = next(c for c in data["splink"]["comparisons"] if c["output_column_name"] == "name")
    same = next(lv for lv in name["comparison_levels"] if lv.get("label_for_charts") == "same characters")
    level = next(lv for lv in model.comparisons["name"] if lv.label == "same characters")
    assert (level.m, level.u, level.tf) == (same["m_probability"], same["u_probability"], True)
    assert model.prior == data["splink"]["probability_two_random_records_match"]
    assert model.threshold == data["popreg_model"]["threshold"]


def test_every_level_of_the_comparisons_is_decided_by_the_entry_check():
    from popreg.linkage.comparisons import LEVEL_LABELS

    model = entrycheck.default_model()
    for comp, labels in LEVEL_LABELS.items():
        assert set(labels[:-1]) <= entrycheck.KNOWN_LEVELS[comp], (
            f"{comp}: teach popreg.linkage.entrycheck the levels {set(labels[:-1]) - entrycheck.KNOWN_LEVELS[comp]}")
        # the shipped model has the same levels, in the same order
        assert [lv.label for lv in model.comparisons[comp]] == labels


def test_same_child_typed_again_scores_as_a_match_with_the_models_weights():
    model = entrycheck.default_model()
    s = score(_f("张伟"), _f("張偉"), model)  # traditional form of the same name
    levels = {c: label for c, label, _w in s.evidence}
    assert levels == {"name": "same characters", "id_number": "null", "birth_date": "same date",
                      "sex": "same", "address": "same village"}
    # The weight is the prior plus log2(m/u) of each level reached, as Splink adds them.
    import math

    expected = math.log2(model.prior / (1 - model.prior))
    for comp, label in levels.items():
        if label == "null":
            continue
        lv = next(x for x in model.comparisons[comp] if x.label == label)
        expected += math.log2(lv.m / lv.u)
    assert s.match_weight == pytest.approx(expected, abs=1e-3)
    assert s.match_probability > 0.99


def test_levels_for_typical_noise():
    born = date(1990, 3, 4)
    good = make_id(born, "F", 1)
    typo = good[:5] + str((int(good[5]) + 1) % 10) + good[6:]
    base = _f("王秀英", "F", born, good)
    cases = {
        "homophone": (_f("王秀瑛", "F", born, good), "name", "same reading (homophone / variant)"),
        "id typo": (_f("王秀英", "F", born, typo), "id_number", "one typo or adjacent transposition (not both valid)"),
        "swapped date": (_f("王秀英", "F", date(1990, 4, 3)), "birth_date", "day and month exchanged"),
        "day off": (_f("王秀英", "F", date(1990, 3, 5)), "birth_date", "one day apart"),
        "year off": (_f("王秀英", "F", date(1991, 3, 4)), "birth_date", "one year apart, same day"),
        "other township": (_f("王秀英", "F", born, good, VILLAGE_B1), "address", "different township"),
        "same township": (_f("王秀英", "F", born, good, VILLAGE_A2), "address", "same township"),
        "parent": (_f("王秀英", "F", date(1962, 3, 4)), "birth_date", "a generation apart (15 years or more)"),
        "other county": (_f("王秀英", "F", born, good, "130102001001"), "address", "different county"),
        "dropped character": (_f("王英", "F", born, good), "name", "one given-name character dropped or added"),
        "order by reading": (_f("王英秀", "F", born, good), "name", "same characters in another order"),
        "check character": (_f("王秀英", "F", born, good[:17] + ("0" if good[17] != "0" else "1")),
                            "id_number", "only the check character differs"),
    }
    for what, (other, comp, label) in cases.items():
        got = dict((c, lab) for c, lab, _w in score(base, other).evidence)[comp]
        assert got == label, what


def test_twins_without_id_numbers_stay_apart():
    born = date(2015, 8, 1)
    hh = "110105001001001"
    a, b = _f("张嘉豪", "M", born, hh=hh), _f("张子涵", "M", born, hh=hh)
    levels = dict((c, lab) for c, lab, _w in score(a, b).evidence)
    assert levels["name"] == "given name different, same household and birth date (twins)"
    assert score(a, b).match_probability < entrycheck.default_model().threshold  # not shown
    # 金宁 / 金晓凝: one syllable more, by reading
    levels = dict((c, lab) for c, lab, _w in score(_f("金宁"), _f("金晓凝")).evidence)
    assert levels["name"] == "one given-name character dropped or added"


def test_hard_negatives_stay_apart():
    born = date(2015, 8, 1)
    twin_a = _f("张嘉豪", "M", born, make_id(born, "M", 5), hh="110105001001001")
    twin_b = _f("张嘉伟", "M", born, make_id(born, "M", 6), hh="110105001001001")
    assert score(twin_a, twin_b).match_probability < 0.01
    # Namesakes with different valid ID numbers: never the same person.
    other = date(2015, 3, 9)
    assert score(_f("李明", "M", born, make_id(born, "M", 7)),
                 _f("李明", "M", other, make_id(other, "M", 8))).match_probability < 1e-6


def test_a_common_name_weighs_less_than_a_rare_one():
    a, b = _f("张伟"), _f("张伟", village=VILLAGE_B1)
    rare = score(a, b, name_share=1 / 150_000)
    common = score(a, b, name_share=300 / 150_000)
    assert rare.match_weight > common.match_weight + 8


def test_blocking_keys_follow_the_engines_rules():
    born = date(1990, 3, 4)
    f = _f("王秀英", "F", born, make_id(born, "F", 1))
    prefixes = {k.split(":", 1)[0] for k in entrycheck.blocking_keys(f)}
    assert prefixes == set(entrycheck.KEY_RULES) | {entrycheck.NAME_KEY}
    # Without an ID the name and date rules still find the person.
    g = _f("王秀英", "F", born)
    assert {k.split(":", 1)[0] for k in entrycheck.candidate_keys(g)} == {"py", "pm", "ds", "nv", "sv"}


# ---------------------------------------------------------------- the index


@pytest.mark.django_db
def test_index_follows_births_corrections_and_merges(people, actors):
    from popreg.linkage import actions as link

    child = people["child"]
    keys = set(EntryKey.objects.filter(person=child).values_list("key", flat=True))
    assert "nn:张伟" in keys and f"nv:张伟|{VILLAGE_A1}" in keys
    reg.do_correct_person(actors["admin"], child, changes={"name": "张小伟"}, reason="更正姓名")
    keys = set(EntryKey.objects.filter(person=child).values_list("key", flat=True))
    assert "nn:张小伟" in keys and "nn:张伟" not in keys
    dup = reg.do_register_birth(actors["admin"], name="张小伟", sex="M", birth_date=date(2020, 5, 6),
                                registered_unit_code=VILLAGE_A1)
    assert EntryKey.objects.filter(person=dup).exists()
    link.do_merge_persons(actors["admin"], child, dup, "同一人")
    assert not EntryKey.objects.filter(person=dup).exists()
    assert EntryKey.objects.filter(person=child).exists()


@pytest.mark.django_db
def test_rebuild_command_and_catch_up_after_bulk_writes(people):
    n_persons = Person.objects.filter(merged_into__isnull=True).count()
    before = sorted(EntryKey.objects.values_list("person_id", "key"))
    EntryKey.objects.all().delete()
    call_command("linkage_index", "--rebuild")
    assert sorted(EntryKey.objects.values_list("person_id", "key")) == before
    assert EntryKey.objects.filter(key__startswith="nn:").count() == n_persons
    # A person written without the action layer (bulk import path) is indexed at the next check.
    top = people["other"]
    EntryKey.objects.filter(person=top).delete()
    assert index.catch_up() == 1
    assert EntryKey.objects.filter(person=top).exists()


@pytest.mark.django_db
def test_finder_returns_the_existing_child_and_not_strangers(people):
    found = find_duplicates([
        NewRecord(name="张伟", sex="M", birth_date=date(2020, 5, 6), village_code=VILLAGE_A1),
        NewRecord(name="赵小宝", sex="M", birth_date=date(2024, 1, 1), village_code=VILLAGE_A1),
    ])
    assert [d.person_id for d in found[0]] == [people["child"].pk]
    assert found[0][0].match_probability > 0.99
    assert found[1] == []


@pytest.mark.django_db
def test_check_shows_only_what_the_clerk_may_see(people, actors):
    record = NewRecord(name="李娜", sex="F", birth_date=date(1985, 1, 2), village_code=VILLAGE_A1)
    mine = check_entry(actors["clerk_b1"], record)
    assert [p.pk for p, _d in mine.shown] == [people["other"].pk] and mine.elsewhere == 0
    assert not AuditRecord.objects.filter(action=AuditAction.ENTRY_CHECK_ELSEWHERE).exists()
    theirs = check_entry(actors["clerk_a1"], record)
    assert theirs.shown == [] and theirs.elsewhere == 1 and theirs.found
    # Being told that such a record exists elsewhere is audited (not which record it is).
    rec = AuditRecord.objects.get(action=AuditAction.ENTRY_CHECK_ELSEWHERE)
    assert rec.actor_name == "clerk_a1" and rec.detail["persons"] == [people["other"].pk]


# ---------------------------------------------------------------- the forms


BIRTH = {"name": "张伟", "sex": "M", "birth_date": "2020-05-06", "registered_unit": VILLAGE_A1,
         "household_no": "", "mother": "", "father": "", "id_number": "", "ethnicity": "汉族"}


@pytest.mark.django_db
def test_birth_form_shows_the_existing_child_before_saving_then_confirms(client, users, people):
    client.force_login(users["clerk_a1"])
    n = Person.objects.count()
    r = client.post("/register/birth/", BIRTH)
    page = r.content.decode()
    assert r.status_code == 200 and Person.objects.count() == n
    assert 'id="entry-check"' in page and f'href="/persons/{people["child"].pk}/"' in page
    assert "張偉" in page and 'name="entry_decision" value="new"' in page
    assert not AuditRecord.objects.filter(action=AuditAction.CONFIRM_NEW_PERSON).exists()
    r = client.post("/register/birth/", {**BIRTH, "entry_decision": "new"})
    assert r.status_code == 302 and Person.objects.count() == n + 1
    new = Person.objects.latest("pk")
    rec = AuditRecord.objects.get(action=AuditAction.CONFIRM_NEW_PERSON)
    assert rec.target_id == str(new.pk) and rec.actor == users["clerk_a1"]
    assert rec.detail["form"] == "register_birth"
    assert [c["person_id"] for c in rec.detail["candidates"]] == [people["child"].pk]
    assert rec.detail["candidates"][0]["match_probability"] > 0.99


@pytest.mark.django_db
def test_birth_without_a_likely_record_saves_at_once_and_records_no_decision(client, users, people):
    client.force_login(users["clerk_a1"])
    r = client.post("/register/birth/", {**BIRTH, "name": "赵小宝", "birth_date": "2024-02-03"})
    assert r.status_code == 302
    assert not AuditRecord.objects.filter(action=AuditAction.CONFIRM_NEW_PERSON).exists()


MOVE_IN = {"name": "王秀英", "sex": "F", "birth_date": "1990-03-04", "id_number": "",
           "registered_unit": VILLAGE_A2, "from_unit_code": "130102000000", "move_date": "2024-05-01",
           "household_no": "", "ethnicity": "汉族"}


@pytest.mark.django_db
def test_move_in_form_shows_the_likely_record_in_both_languages(client, users, people):
    client.force_login(users["officer_a"])
    n = Person.objects.count()
    r = client.post("/register/move-in/", MOVE_IN)
    page = html.unescape(r.content.decode())
    assert r.status_code == 200 and Person.objects.count() == n
    assert f'/persons/{people["mother"].pk}/' in page and "疑似已有记录" in page
    client.cookies["django_language"] = "en"
    page = html.unescape(client.post("/register/move-in/", MOVE_IN).content.decode())
    assert "Likely existing records" in page and "save as a new person" in page
    client.cookies.pop("django_language")
    r = client.post("/register/move-in/", {**MOVE_IN, "entry_decision": "new"})
    assert r.status_code == 302 and Person.objects.count() == n + 1
    rec = AuditRecord.objects.get(action=AuditAction.CONFIRM_NEW_PERSON)
    assert rec.detail["form"] == "move_in"


@pytest.mark.django_db
def test_in_migrant_form_shows_a_registry_person_with_the_same_name_and_birth_date(client, users, people):
    from popreg.migrants.models import InMigrant

    client.force_login(users["clerk_a1"])
    form = {"name": "王秀英", "sex": "F", "birth_date": "1990-03-04", "origin_code": ORIGIN,
            "residence_unit": VILLAGE_A1, "arrival_date": "2024-01-10", "reason": "work"}
    r = client.post("/migrants/in/new/", form)
    page = r.content.decode()
    assert r.status_code == 200 and InMigrant.objects.count() == 0
    assert f'/persons/{people["mother"].pk}/' in page and 'value="new"' in page
    r = client.post("/migrants/in/new/", {**form, "entry_decision": "new"})
    assert r.status_code == 302 and InMigrant.objects.count() == 1
    rec = AuditRecord.objects.get(action=AuditAction.CONFIRM_NEW_PERSON)
    assert rec.detail["form"] == "in_migrant" and rec.target_id == str(InMigrant.objects.get().person_id)


# ---------------------------------------------------------------- file imports


@pytest.mark.django_db
def test_person_import_preview_lists_rows_that_look_like_existing_persons(client, users, people, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ..importing.helpers import person_row, to_csv

    settings.POPREG_HOME = tmp_path
    client.force_login(users["officer_a"])
    rows = [person_row(0, relation="户主"),
            person_row(1, relation="女", **{"姓名": "王秀英", "性别": "女", "出生日期": "1990-03-04", "公民身份号码": ""})]
    r = client.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(rows))})
    assert r.status_code == 302
    page = client.get(r["Location"]).content.decode()
    assert 'id="likely-duplicates"' in page and "1 行疑似已登记人员" in page
    section = page.split('id="likely-duplicates"')[1].split("</table>")[0]
    assert 'data-row="3"' in section and f'/persons/{people["mother"].pk}/' in section
    assert "测试零" not in section  # the other row is nobody's duplicate
    # A clerk of another township is not told that such a person exists outside their reach.
    client.force_login(users["clerk_b1"])
    r = client.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(
        [person_row(1, relation="户主", unit=VILLAGE_B1,
                    **{"姓名": "王秀英", "性别": "女", "出生日期": "1990-03-04", "公民身份号码": ""})]))})
    page = client.get(r["Location"]).content.decode()
    assert 'id="likely-duplicates"' not in page and f'/persons/{people["mother"].pk}/' not in page


@pytest.mark.django_db
def test_migrant_import_is_held_until_the_likely_duplicates_are_confirmed(client, users, people, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from popreg.migrants.importing import COLUMNS
    from popreg.migrants.models import InMigrant
    from popreg.registry.job_models import Job

    settings.POPREG_HOME = tmp_path
    header = ",".join(c.header for c in COLUMNS)
    line = ",".join(["王秀英", "女", "1990-03-04", "", "", "410102", VILLAGE_A1, "2024-01-10", "务工", "", "", "", ""])
    other = ",".join(["陈建国", "男", "1988-06-01", "", "", "410102", VILLAGE_A1, "2024-01-10", "务工", "", "", "", ""])
    data = ("\n".join([header, line, other]) + "\n").encode("utf-8")
    client.force_login(users["clerk_a1"])
    r = client.post("/migrants/import/", {"file": SimpleUploadedFile("m.csv", data)})
    assert r.status_code == 302
    import_id = Job.objects.filter(kind="migrant_import").latest("pk").params["import_id"]
    page = client.get(f"/migrants/import/?import={import_id}").content.decode()
    assert InMigrant.objects.count() == 0
    assert 'id="likely-duplicates"' in page and f'/persons/{people["mother"].pk}/' in page
    assert 'name="entry_decision" value="new"' in page
    r = client.post("/migrants/import/", {"import": import_id, "entry_decision": "new"})
    assert r.status_code == 302 and InMigrant.objects.count() == 2
    rec = AuditRecord.objects.get(action=AuditAction.MIGRANT_IMPORT)
    assert rec.detail["likely_duplicates_confirmed"] == 1
    # Confirming an import that was not held does nothing.
    assert client.post("/migrants/import/", {"import": "nope", "entry_decision": "new"}).status_code == 302
    assert InMigrant.objects.count() == 2


# ---------------------------------------------------------------- found persons (campaigns)


@pytest.mark.django_db
def test_found_person_form_shows_the_registered_person_first(client, users, people, actors):
    from popreg.campaigns.models import FoundPerson

    from ..campaigns.conftest import advance_to
    from ..campaigns.conftest import campaign as campaign_fixture

    campaign = campaign_fixture.__wrapped__(people, actors)
    advance_to(campaign, "verification", actors["admin"])
    client.force_login(users["clerk_a1"])
    url = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/found/"
    form = {"name": "李娜", "sex": "F", "birth_date": "1985-01-02", "kind": "move_in"}
    # 李娜 of the same birth date is registered in B1, outside the clerk's village: only counted.
    page = client.post(url, form).content.decode()
    assert 'id="entry-check"' in page and "辖区以外" in page and FoundPerson.objects.count() == 0
    form = {"name": "王秀英", "sex": "F", "birth_date": "1990-03-04", "kind": "birth"}
    page = client.post(url, form).content.decode()
    assert f'/persons/{people["mother"].pk}/' in page and FoundPerson.objects.count() == 0
    r = client.post(url, {**form, "entry_decision": "new"})
    assert r.status_code == 302 and FoundPerson.objects.count() == 1
    rec = AuditRecord.objects.get(action=AuditAction.CONFIRM_NEW_PERSON)
    assert rec.detail["form"] == "found_person" and rec.target_id == str(FoundPerson.objects.get().pk)
    assert rec.unit_code == VILLAGE_A1


@pytest.mark.django_db
def test_an_id_number_already_held_is_left_to_the_registrations_own_check(client, users, people):
    mother = people["mother"]
    client.force_login(users["clerk_a1"])
    r = client.post("/register/move-in/", {**MOVE_IN, "id_number": mother.id_number, "registered_unit": VILLAGE_A1})
    page = r.content.decode()
    # The action refuses, naming the record in reach; the entry check adds nothing.
    assert r.status_code == 400 and 'id="entry-check"' not in page and str(mother.pk) in page
    # Without the number the same person is shown by the entry check.
    page = client.post("/register/move-in/", {**MOVE_IN, "registered_unit": VILLAGE_A1}).content.decode()
    assert 'id="entry-check"' in page and f'/persons/{mother.pk}/' in page


@pytest.mark.django_db
def test_load_builds_the_index_and_a_loaded_person_is_found(tmp_path):
    from popreg.registry.access import system_actor
    from popreg.registry.loading import load_snapshot
    from popreg.synth.generator import generate

    generate(tmp_path / "snap", seed=7, persons=1500, progress=None)
    counts = load_snapshot(tmp_path / "snap", system_actor("test"))
    assert counts["entry_index_keys"] == EntryKey.objects.count() > 0
    assert EntryKey.objects.filter(key__startswith="nn:").count() == Person.objects.filter(merged_into__isnull=True).count()
    p = Person.objects.filter(birth_date__isnull=False, status="active").order_by("pk")[100]
    found = find_duplicates([NewRecord(name=p.name, sex=p.sex, birth_date=p.birth_date,
                                       village_code=p.registered_unit_id)])[0]
    assert found and found[0].person_id == p.pk


@pytest.mark.django_db
def test_persons_of_a_person_import_are_indexed_in_its_transaction(client, users, people, actors, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ..importing.helpers import sample_rows, to_csv

    settings.POPREG_HOME = tmp_path
    client.force_login(users["officer_a"])
    r = client.post("/import/", {"file": SimpleUploadedFile("people.csv", to_csv(sample_rows(4)))})
    jid = r["Location"].rstrip("/").split("/")[-1]
    client.post(f"/import/{jid}/commit/")
    imported = list(Person.objects.filter(name__startswith="测试").values_list("pk", flat=True))
    assert len(imported) == 4
    # A birth registered afterwards does not hide the imported persons from the index.
    reg.do_register_birth(actors["admin"], name="赵小宝", sex="M", birth_date=date(2024, 1, 1),
                          registered_unit_code=VILLAGE_A1)
    assert set(EntryKey.objects.filter(key__startswith="nn:", person_id__in=imported)
               .values_list("person_id", flat=True)) == set(imported)
