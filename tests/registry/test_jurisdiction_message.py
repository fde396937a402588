"""A refusal for a unit outside the jurisdiction names the unit and the user's own
jurisdiction by name (the code in brackets), in Chinese and in English, and says who can
do it instead."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.registry.errors import JurisdictionError

from ..conftest import VILLAGE_A1, VILLAGE_B1


def test_outside_unit_is_named_with_its_code(actors):
    from popreg.registry import actions

    with pytest.raises(JurisdictionError) as refused:
        actions.do_register_birth(actors["clerk_a1"], name="赵六", sex="M", birth_date=date(2020, 1, 1),
                                  registered_unit_code=VILLAGE_B1)
    err = refused.value
    assert f"柳树村民委员会（{VILLAGE_B1}）" in err.message_zh
    assert f"东关村民委员会（{VILLAGE_A1}）" in err.message_zh and "乡镇或县级用户" in err.message_zh
    assert f"柳树村民委员会 ({VILLAGE_B1}) is outside your jurisdiction" in err.message_en
    assert "township or of the county" in err.message_en


def test_a_code_that_names_no_unit_is_still_shown(actors, county):
    with pytest.raises(JurisdictionError) as refused:
        actors["clerk_a1"].check_unit("999999999999")
    assert "单位 999999999999" in refused.value.message_zh and "unit 999999999999" in refused.value.message_en
