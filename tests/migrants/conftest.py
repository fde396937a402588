"""Fixtures of the migrants tests: an in-migrant from Zhengzhou living in village A1."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.core.idnumber import compose

from ..conftest import VILLAGE_A1

#: A county of Henan (郑州市中原区), outside the test county.
ORIGIN = "410102"
OTHER_COUNTY = "320582"  # 江苏省张家港市


def origin_id(birth: date, sex: str, seq: int = 5) -> str:
    return compose(ORIGIN, birth, (seq * 2 + (1 if sex == "M" else 0)) % 1000)


@pytest.fixture
def events():
    """Every migrant_event sent, as (kind, person_id, detail)."""
    from popreg.migrants.signals import migrant_event

    seen: list[tuple[str, int, dict]] = []

    def receiver(sender, kind, person, detail, **kwargs):
        seen.append((kind, person.pk, detail))

    migrant_event.connect(receiver, weak=False)
    yield seen
    migrant_event.disconnect(receiver)


@pytest.fixture
def migrant(people, actors):
    from popreg.migrants import actions

    return actions.register_in_migrant(
        actors["clerk_a1"], residence_unit_code=VILLAGE_A1, arrival_date=date(2024, 1, 10),
        origin_code=ORIGIN, reason="work", name="陈建国", sex="M", birth_date=date(1988, 6, 1),
        id_number=origin_id(date(1988, 6, 1), "M"), address="东关村5号", employer="东关砖厂",
        contact="13800000000",
    )
