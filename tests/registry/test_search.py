import pytest

from popreg.registry.search import search_persons


@pytest.mark.parametrize(
    "query, expected",
    [
        ("張偉", {"child"}),  # traditional input
        ("张伟", {"child"}),  # simplified input finds the traditional record
        ("张", {"child"}),  # prefix
        ("zhangwei", {"child"}),
        ("Zhang Wei", {"child"}),
        ("wangxiu", {"mother"}),
        ("王秀英", {"mother"}),
        ("ＷＡＮＧ", {"mother"}),  # full-width Latin is normalised to half-width pinyin
    ],
)
def test_search_by_name_and_pinyin(people, actors, query, expected):
    hits = set(search_persons(actors["admin"], query))
    found = {k for k in ("mother", "child", "other") if people[k] in hits}
    assert found == expected


def test_search_by_id_full_partial_and_household(people, actors):
    admin = actors["admin"]
    mother = people["mother"]
    assert list(search_persons(admin, mother.id_number)) == [mother]
    assert list(search_persons(admin, mother.id_number.lower())) == [mother]
    assert mother in search_persons(admin, mother.id_number[-6:])
    assert set(search_persons(admin, people["hh_a"].household_no)) == {mother, people["child"]}
    assert list(search_persons(admin, "12")) == []


def test_search_is_scoped(people, actors):
    other = people["other"]
    assert list(search_persons(actors["clerk_a1"], other.id_number)) == []
    assert list(search_persons(actors["clerk_a1"], "李娜")) == []
    assert list(search_persons(actors["clerk_b1"], "李娜")) == [other]
    assert list(search_persons(actors["officer_a"], "李娜")) == []
