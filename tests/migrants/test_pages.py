"""The migrants pages in Chinese and English; forms call the actions; lists are scoped;
the two Excel lists go through the export layer."""

from __future__ import annotations

import html
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from popreg.migrants import actions
from popreg.migrants.models import InMigrant, OutMigrant, PlaceOccupant
from popreg.registry.models import AuditRecord, Person

from ..bilingual import check_bilingual, get_page
from ..conftest import VILLAGE_A1, VILLAGE_B1
from .conftest import ORIGIN

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(people, actors, migrant):
    admin = actors["admin"]
    today = date.today()
    place = actions.save_place(admin, kind="rental", name="王家出租屋", address="东关村7号", unit_code=VILLAGE_A1,
                               contact_name="王房东")
    permit = actions.issue_permit(admin, migrant, applied_on=date(2024, 8, 1), condition="work", evidence="劳动合同",
                                  issue_date=today - timedelta(days=350))
    actions.record_whereabouts(admin, people["mother"], residence_unit_code="320582101001", residence_unit_name="张家港某村",
                               confirmed_on=today - timedelta(days=400), source="own_report")
    actions.record_whereabouts(admin, people["other"], residence_unit_code="330102", confirmed_on=today,
                               source="campaign")
    return {"place": place, "permit": permit}


def test_overview_in_both_languages(client, users, data):
    client.force_login(users["clerk_a1"])
    check_bilingual(client, "/migrants/",
                    ["In-migrants living here", "Whereabouts known (confirmed within 12 months)", "Age and sex"],
                    ["在本地居住的流入人口", "去向掌握率（12个月内核实）", "年龄和性别"])
    page = get_page(client, "/migrants/", english=False)
    assert 'data-kpi="in">1<' in page and 'data-kpi="out">1<' in page  # only village A1's
    assert 'data-kpi="known_rate">0.0 %' in page and 'data-kpi="permits_valid">1<' in page
    assert "河南省" in page  # province of origin (410102)
    admin = client
    admin.force_login(users["admin"])
    page = get_page(admin, "/migrants/", english=True)
    assert 'data-kpi="out">2<' in page and 'data-kpi="known_rate">50.0 %' in page


@pytest.mark.parametrize("url", ["/migrants/in/", "/migrants/permits/expiring/", "/migrants/out/",
                                 "/migrants/out/unknown/", "/migrants/places/", "/migrants/import/",
                                 "/migrants/in/new/", "/migrants/places/new/"])
def test_lists_in_both_languages(client, users, data, url):
    client.force_login(users["officer_a"])
    zh = get_page(client, url, english=False)
    en = get_page(client, url, english=True)
    assert '<html lang="zh-hans">' in zh and '<html lang="en">' in en
    assert "流动人口" in zh and "Migrants" in en
    assert "流入人口" not in en.split("<main")[-1] or "Rental" in en


def test_register_form_errors_name_the_field_in_each_language(client, users, people):
    client.force_login(users["clerk_a1"])
    form = {"name": "陈建国", "sex": "M", "birth_date": "1988-06-01", "origin_code": "999999",
            "residence_unit": VILLAGE_A1, "arrival_date": "2024-01-10", "reason": "work"}
    client.cookies["django_language"] = "en"
    r = client.post("/migrants/in/new/", form)
    assert r.status_code == 400 and "The place of registration '999999' is not in the national list" in html.unescape(r.content.decode())
    client.cookies.pop("django_language")
    r = client.post("/migrants/in/new/", form)
    assert r.status_code == 400 and "不在全国行政区划代码表中" in r.content.decode()
    form["origin_code"] = ORIGIN
    r = client.post("/migrants/in/new/", form)
    assert r.status_code == 302 and InMigrant.objects.count() == 1


def test_detail_forms_move_permit_depart(client, users, migrant):
    client.force_login(users["clerk_a1"])
    url = f"/migrants/in/{migrant.pk}/"
    r = client.post(url + "permit/", {"applied_on": "2024-03-01", "condition": "work", "evidence": ""})
    assert r.status_code == 302
    page = get_page(client, url, english=True)
    assert "less than six months' residence" in page and "Refused" in page
    page = get_page(client, url, english=False)
    assert "来本地居住未满半年" in page
    r = client.post(url + "depart/", {"departure_date": "2024-09-01", "destination_code": "12345"})
    assert r.status_code == 400 and "去往地" in r.content.decode()
    r = client.post(url + "depart/", {"departure_date": "2024-09-01"})
    assert r.status_code == 302
    assert Person.objects.get(pk=migrant.person_id).status == "emigrated"


def test_whereabouts_page_and_unknown_excel(client, users, people, data):
    client.force_login(users["clerk_a1"])
    mother = people["mother"]
    page = get_page(client, "/migrants/out/unknown/", english=False)
    assert mother.name in page and people["other"].name not in page
    r = client.get("/migrants/out/unknown.xlsx")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    wb = load_workbook(io.BytesIO(b"".join(r.streaming_content) if hasattr(r, "streaming_content") else r.content))
    cells = [c for row in wb.worksheets[0].iter_rows(values_only=True) for c in row]
    assert mother.name in cells and mother.id_number not in cells  # masked by default
    assert any(ws.title.startswith("按村") for ws in wb.worksheets)
    assert AuditRecord.objects.filter(action="export_persons", detail__list="whereabouts_unknown").exists()
    r = client.post(f"/migrants/out/{mother.pk}/", {"residence_unit_code": "320582101001", "confirmed_on":
                                                    date.today().isoformat(), "source": "own_report"})
    assert r.status_code == 302
    assert OutMigrant.objects.get(person=mother).last_confirmed == date.today()
    assert mother.name not in get_page(client, "/migrants/out/unknown/", english=False)


def test_permits_expiring_excel(client, users, data):
    client.force_login(users["clerk_a1"])
    assert data["permit"].number in get_page(client, "/migrants/permits/expiring/", english=False)
    r = client.get("/migrants/permits/expiring.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert data["permit"].number in [c for row in wb.worksheets[0].iter_rows(values_only=True) for c in row]
    client.force_login(users["clerk_b1"])
    assert data["permit"].number not in get_page(client, "/migrants/permits/expiring/", english=False)


def test_place_page_reports_an_occupant(client, users, migrant, data):
    client.force_login(users["clerk_a1"])
    place = data["place"]
    r = client.post(f"/migrants/places/{place.pk}/", {"form": "report", "id_number": migrant.person.id_number,
                                                       "since": "2024-01-10", "reported_on": "2024-01-20"})
    assert r.status_code == 302
    occ = PlaceOccupant.objects.get(place=place)
    assert occ.reported_on == date(2024, 1, 20)
    page = get_page(client, f"/migrants/places/{place.pk}/", english=True)
    assert "late" in page
    r = client.post(f"/migrants/occupants/{occ.pk}/end/", {"until": "2024-06-01"})
    assert r.status_code == 302
    occ.refresh_from_db()
    assert occ.until == date(2024, 6, 1)


@pytest.mark.django_db(transaction=True)  # the job starts when its transaction commits
def test_import_page_runs_a_job(client, users, people, settings, tmp_path):
    settings.POPREG_HOME = tmp_path
    client.force_login(users["clerk_a1"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    from popreg.migrants.importing import COLUMNS

    header = ",".join(c.header for c in COLUMNS)
    bad = f"{header}\n陈建国,男,1988-06-01,,,999999,{VILLAGE_B1},2024-01-10,务工,,,,\n".encode()
    r = client.post("/migrants/import/", {"file": SimpleUploadedFile("m.csv", bad, "text/csv")})
    assert r.status_code == 302
    from popreg.registry.job_models import Job

    job = Job.objects.get(kind="migrant_import")
    assert job.state == "succeeded" and job.result["errors"] == 2 and job.result["imported"] == 0
    page = get_page(client, job.result_url, english=False)
    assert "户籍地代码" in page and "未登记任何人员" in page
    r = client.get(f"/migrants/import/errors.csv?import={job.result['import_id']}")
    assert r.status_code == 200 and "行号 Row" in b"".join(r.streaming_content if hasattr(r, "streaming_content") else [r.content]).decode("utf-8-sig")
    good = f"{header}\n陈建国,男,1988-06-01,,,410102,{VILLAGE_A1},2024-01-10,务工,,,,\n".encode()
    client.post("/migrants/import/", {"file": SimpleUploadedFile("m2.csv", good, "text/csv")})
    assert InMigrant.objects.count() == 1


def test_out_list_finds_a_registered_person_by_id_number(client, users, people):
    client.force_login(users["clerk_a1"])
    mother, other = people["mother"], people["other"]
    r = client.get("/migrants/out/", {"id_number": mother.id_number})
    assert r.status_code == 302 and r["Location"] == f"/migrants/out/{mother.pk}/"
    page = get_page(client, "/migrants/out/", english=True, id_number=other.id_number)  # village B1's
    assert "No active person with this ID number is registered in your jurisdiction." in page
    assert other.name not in page
