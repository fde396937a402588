"""Actor.require / Actor.can over the one role table: role, county-wide scope, unit."""

from __future__ import annotations

import pytest
from django.utils import translation

from popreg.registry.access import Actor, system_actor
from popreg.registry.errors import JurisdictionError, PermissionDeniedError
from popreg.registry.policy import COUNTY_WIDE, ROLE_PERMISSIONS, Permission

COUNTY, TOWN, VILLAGE = "110105", "110105001", "110105001001"
ACTORS = {
    "village_clerk": Actor("c", "village_clerk", VILLAGE, VILLAGE),
    "township_officer": Actor("t", "township_officer", TOWN, TOWN + "000"),
    "county_admin": Actor("a", "county_admin", COUNTY, COUNTY + "000000"),
    "county_statistician": Actor("s", "county_statistician", COUNTY, COUNTY + "000000"),
    "auditor": Actor("u", "auditor", COUNTY, COUNTY + "000000"),
    "system": system_actor(),
}


@pytest.mark.parametrize("role", sorted(ACTORS))
@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
def test_can_follows_the_table_and_the_county_wide_rule(role, permission):
    actor = ACTORS[role]
    expected = permission in ROLE_PERMISSIONS[role] and (permission not in COUNTY_WIDE or len(actor.prefix) <= 6)
    assert actor.can(permission) is expected
    if expected:
        actor.require(permission)
    else:
        with pytest.raises(PermissionDeniedError):
            actor.require(permission)


def test_a_township_officer_never_gets_a_county_wide_permission_even_if_the_row_lists_it():
    officer = Actor("t", "county_admin", TOWN, TOWN + "000")  # a county role over a township
    assert officer.can(Permission.EDIT_REGISTRY)
    for permission in COUNTY_WIDE:
        assert not officer.can(permission)
        with pytest.raises(PermissionDeniedError, match="县级"):
            officer.require(permission)


@pytest.mark.django_db  # the refusal names the units, read from the registry
def test_unit_outside_the_jurisdiction_is_refused():
    clerk = ACTORS["village_clerk"]
    clerk.require(Permission.EDIT_REGISTRY, VILLAGE)
    assert not clerk.can(Permission.EDIT_REGISTRY, "110105002001")
    with pytest.raises(JurisdictionError):
        clerk.require(Permission.EDIT_REGISTRY, "110105002001")


def test_refusal_names_the_permission_in_both_languages_whatever_is_active():
    for lang in ("en", "zh-hans"):
        with translation.override(lang), pytest.raises(PermissionDeniedError) as err:
            ACTORS["auditor"].require(Permission.EDIT_REGISTRY)
        assert err.value.message_zh == "当前角色无权：办理户口事项、立户和更正"
        assert err.value.message_en == "your role may not: Register events, households and corrections"
        assert err.value.permission == Permission.EDIT_REGISTRY
