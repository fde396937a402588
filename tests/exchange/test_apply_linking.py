"""Linking precision and recall on noisy subjects (popreg.exchange.apply.link_subject).

Generated records with truth (``popreg.linkage.testdata``: traditional forms, homophones,
variant characters, ID typos and transpositions, 15-digit numbers, missing numbers, date
swaps and ±1 day/year, twins and namesakes): the first record of each person is in the
registry, each further record of the person is a subject as another county holds it, and
the records of a county not registered here must stay unlinked.  No wrong link is allowed;
bench/bench_exchange_linking.py gives the figures at a larger size.
"""

from __future__ import annotations

from datetime import date

import pytest

from popreg.core import idnumber
from popreg.exchange.apply import Subject, link_subject
from popreg.linkage.testdata import generate_records
from popreg.registry.models import AdminUnit, Person
from popreg.registry.search import name_keys


def _registry_number(raw: str | None) -> str | None:
    """The number as the registry stores it: compact, legacy 15-digit numbers upgraded."""
    number = idnumber.normalize(raw or "")
    if len(number) == 15 and number.isdigit():
        number = idnumber.upgrade_15_to_18(number)
    return number if len(number) == 18 else None


def _subject(r) -> Subject:
    return Subject(id_number=r.id_number or "", name=r.name, sex=r.sex,
                   birth_date=date.fromisoformat(r.birth_date) if r.birth_date else None)


@pytest.mark.django_db
def test_noisy_subjects_link_with_full_precision():
    home = generate_records(1500, seed=11, county="411423")
    strangers = generate_records(150, seed=12, county="330102")
    units = {"411423000000": ("示例县", "county", None)}
    for v in sorted(set(home["village_code"])):
        units.setdefault(v[:9] + "000", ("乡镇", "township", "411423000000"))
        units[v] = ("村", "village", v[:9] + "000")
    order = sorted(units.items(), key=lambda kv: {"county": 0, "township": 1, "village": 2}[kv[1][1]])
    AdminUnit.objects.bulk_create([AdminUnit(code=c, name=n, level=lv, parent_id=p, valid_from=date(2000, 1, 1))
                                   for c, (n, lv, p) in order])
    first = home.drop_duplicates("entity_id", keep="first")
    rest = home[~home.index.isin(first.index)]
    seen: set[str] = set()
    rows = []
    for r in first.itertuples():
        number = _registry_number(r.id_number)
        if number in seen:
            number = None
        if number:
            seen.add(number)
        key, py = name_keys(r.name)
        rows.append(Person(name=r.name, name_key=key, name_pinyin=py, sex=r.sex,
                           birth_date=date.fromisoformat(r.birth_date), id_number=number,
                           registered_unit_id=r.village_code, residence_type="registered", status="active"))
    Person.objects.bulk_create(rows)
    entity_of = dict(zip(Person.objects.order_by("id").values_list("id", flat=True), first["entity_id"], strict=True))

    linked = right = 0
    for r in rest.itertuples():
        link = link_subject(_subject(r))
        if link.status == "linked":
            linked += 1
            right += entity_of[link.person.pk] == r.entity_id
    wrong_strangers = [r.name for r in strangers.itertuples() if link_subject(_subject(r)).status == "linked"]

    assert len(rest) > 100
    assert right == linked, f"{linked - right} wrong links of {linked}"
    assert not wrong_strangers
    assert right / len(rest) >= 0.97, f"recall {right / len(rest):.3f}"
