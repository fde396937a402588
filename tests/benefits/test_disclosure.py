"""Public lists show masked names and ID numbers only: in the CSV, the Excel list and the
text of the PDF notice (read back with pypdf)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popreg.core.privacy import mask_id, mask_name

from ..conftest import VILLAGE_A1
from .conftest import MONTH

P = "childcare_subsidy"


@pytest.mark.parametrize(("name", "masked"), [
    ("张伟", "张*"), ("王秀英", "王*英"), ("欧阳娜娜", "欧**娜"), ("李·阿依", "李·**"),
    ("买买提·艾力·阿不都", "买买提·**·阿不都"),
])
def test_masking_of_two_three_four_character_and_dotted_names(name, masked):
    assert mask_name(name) == masked


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


def _shown(original: str, masked: str) -> int:
    return sum(1 for c in masked if c not in "*·")


@given(st.lists(st.text(HAN, min_size=1, max_size=6), min_size=1, max_size=4))
def test_a_masked_name_never_shows_more_than_allowed(parts):
    name = "·".join(parts)
    masked = mask_name(name)
    assert len(masked) == len(name)
    if len(parts) == 1:
        allowed = 1 if len(name) <= 2 else 2
        assert _shown(name, masked) <= allowed
    elif len(parts) == 2:
        assert masked.split("·")[1] == "*" * len(parts[1])
    else:
        assert all(set(p) == {"*"} for p in masked.split("·")[1:-1])


@given(st.text("0123456789X", min_size=15, max_size=18))
def test_a_masked_id_shows_four_and_four(number):
    masked = mask_id(number)
    assert masked[:4] == number[:4] and masked[-4:] == number[-4:]
    assert set(masked[4:-4]) <= {"*"}


def _check_public_text(text: str, persons) -> None:
    for p in persons:
        assert p.name not in text, p.name
        assert p.id_number not in text, p.id_number
        if len(p.name) >= 3 and "·" not in p.name:
            assert p.name[:2] not in text, p.name
    # every 18-character ID-like run shows at most 4 + 4 characters
    for m in re.findall(r"[0-9X*]{15,18}", text):
        assert m[4:-4].strip("*") == "", m


@pytest.mark.django_db
def test_public_list_csv_and_pdf_show_masked_values_only(families, officers, tmp_path):
    from pypdf import PdfReader

    from popreg.benefits.disclosure import write_disclosure
    from popreg.benefits.runs import run_live

    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    info = write_disclosure(P, MONTH, VILLAGE_A1, tmp_path)
    assert info["rows"] == 2 and info["run"] == run.pk
    persons = [families[k][r] for k in ("a1", "a2") for r in ("mother", "child")]
    text = (tmp_path / "list.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][1] == "姓名 name" and len(rows) == 3
    assert {r[1] for r in rows[1:]} == {"张*伟", "欧*明"}
    assert {r[2] for r in rows[1:]} == {mask_id(families[k]["child"].id_number) for k in ("a1", "a2")}
    _check_public_text(text, persons)
    pdf = PdfReader(tmp_path / "notice.pdf")
    pdf_text = "".join(page.extract_text() for page in pdf.pages)
    assert "张*伟" in pdf_text and "欧*明" in pdf_text and "育儿补贴" in pdf_text
    _check_public_text(pdf_text, persons)
    fonts = {str(f) for page in pdf.pages for f in page["/Resources"]["/Font"].values()
             for f in [f.get_object()["/BaseFont"]]}
    assert any("CJK" in f for f in fonts), fonts  # the Chinese font is embedded
    b1 = families["b1"]["child"]
    assert mask_name(b1.name) not in pdf_text  # another village's person is not on this notice


@pytest.mark.django_db
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(names=st.lists(st.lists(st.text(HAN, min_size=1, max_size=4), min_size=1, max_size=3).map("·".join),
                      min_size=1, max_size=3, unique=True))
def test_public_list_never_shows_more_than_allowed(names, county, actors, officers, tmp_path_factory):
    """Whatever the names, the CSV and the PDF show only masked names and IDs."""
    from datetime import date

    from django.db import transaction
    from pypdf import PdfReader

    from popreg.benefits.disclosure import write_disclosure
    from popreg.benefits.runs import run_live
    from popreg.registry import actions

    from ..conftest import make_id

    admin = actors["admin"]
    with transaction.atomic():  # each example starts from the same registry: rolled back below
        mother = actions.do_register_birth(admin, name="母亲甲乙", sex="F", birth_date=date(1990, 1, 1),
                                           registered_unit_code=VILLAGE_A1)
        kids = []
        for i, n in enumerate(names):
            born = date(2024, 1, 1 + i)
            kids.append(actions.do_register_birth(admin, name=n, sex="F", birth_date=born,
                                                  registered_unit_code=VILLAGE_A1, mother=mother,
                                                  id_number=make_id(born, "F", 100 + i)))
        run_live(P, MONTH, actor=officers["fuli1"])
        out = tmp_path_factory.mktemp("notice")
        write_disclosure(P, MONTH, VILLAGE_A1, out)
        transaction.set_rollback(True)
    text = (out / "list.csv").read_text(encoding="utf-8-sig")
    pdf_text = "".join(p.extract_text() for p in PdfReader(out / "notice.pdf").pages)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == len(kids)
    # The notice's fixed wording (title, window, headers, village): a one-character name
    # such as 享 may be part of it and is no leak.
    from django.template.loader import render_to_string
    from django.utils.html import strip_tags

    wording = strip_tags(render_to_string("benefits/notice_print.html", {"rows": [], "village": {"name": "东关村民委员会"},
                                                                         "programme_zh": "育儿补贴"}))
    for kid in kids:
        row = next(r for r in rows if r[2] == mask_id(kid.id_number))
        assert row[1] == mask_name(kid.name) and row[3] == mask_name("母亲甲乙")
        for shown in (text, pdf_text):
            assert kid.id_number not in shown
            assert mask_id(kid.id_number) in shown.replace("\n", "")
            if kid.name != mask_name(kid.name) and kid.name not in wording and kid.name not in "母亲甲乙":
                assert kid.name not in shown.replace("\n", ""), kid.name


@pytest.mark.django_db
def test_excel_list_shows_masked_values_only(client, families, officers):
    from openpyxl import load_workbook

    from popreg.benefits.runs import run_live

    run, _ = run_live(P, MONTH, actor=officers["fuli1"])
    client.force_login(officers["fuli1_user"])
    r = client.get(f"/benefits/runs/{run.pk}/villages/{VILLAGE_A1}/list.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    cells = [str(c) for row in wb.worksheets[0].iter_rows(values_only=True) for c in row if c is not None]
    text = "\n".join(cells)
    assert "张*伟" in cells and mask_id(families["a1"]["child"].id_number) in cells
    _check_public_text(text, [families[k][r] for k in ("a1", "a2") for r in ("mother", "child")])
