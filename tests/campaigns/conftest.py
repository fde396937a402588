"""Campaign fixtures on the tiny county of tests/conftest.py."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ..conftest import COUNTY

DATES = {
    "preparation_start": date(2025, 9, 1), "preparation_end": date(2025, 9, 30),
    "verification_start": date(2025, 10, 1), "verification_end": date(2025, 10, 31),
    "rectification_start": date(2025, 11, 1), "rectification_end": date(2025, 11, 30),
    "summary_start": date(2025, 12, 1), "summary_end": date(2025, 12, 15),
}


@pytest.fixture
def campaign(people, actors):
    from popreg.campaigns import actions

    return actions.do_create_campaign(
        actors["admin"], name="2025年户口整顿", scope_codes=[COUNTY],
        reference_moment=datetime(2025, 11, 1), dates=DATES, spot_check_households=2,
        error_threshold=0.05, seed=7,
    )


def advance_to(campaign, phase, actor):
    from popreg.campaigns import actions

    campaign.refresh_from_db()
    while campaign.phase != phase:
        actions.do_advance_phase(actor, campaign)
        campaign.refresh_from_db()
    return campaign


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The shared fixtures create six users; a fast hasher keeps these tests quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
