"""The job kinds of the statistics and campaigns apps: registered, and every stage and
label shown in Chinese (the catalogs of the stats and campaigns apps)."""

from __future__ import annotations

import pytest
from django.utils import translation

from popreg.registry.jobs import get_kind

KINDS = ["stats_refresh", "stats_dse", "reconciliation", "assessment", "field_list_pdf"]


@pytest.mark.parametrize("name", KINDS)
def test_stages_and_label_are_translated(name):
    kind = get_kind(name)
    with translation.override("zh-hans"):
        for text in [kind.label, *kind.stages.values()]:
            zh = translation.gettext(text)
            assert zh != text, f"{name}: no Chinese for {text!r}"
            assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


def test_refresh_refused_for_a_clerk_starts_nothing(db, county, users):
    from popreg.registry.access import actor_for
    from popreg.registry.errors import PermissionDeniedError
    from popreg.registry.job_models import Job
    from popreg.registry.jobs import start_job

    with pytest.raises(PermissionDeniedError):
        start_job(actor_for(users["clerk_a1"]), "stats_refresh")
    assert not Job.objects.exists()
