"""The dual-system estimate page in Chinese shows each assumption in Chinese with its
English wording beside it on purpose: that English is marked as English (``lang="en"``),
so screen readers read it as English and the every-page language check skips it, and the
Chinese list itself holds no English word; the command named in the note on clerical
links is marked as a command (``<code>``)."""

from __future__ import annotations

import re

from popreg.core.dse import ASSUMPTIONS

from ..bilingual import get_page
from ..web.test_every_page_language import offenders, visible_text
from .test_dashboard_views import (  # noqa: F401  (shared fixtures)
    dash,
    fast_password_hasher,
    home,
    login,
    snap,
    stats_home,
    units,
)


def test_the_english_beside_the_chinese_assumptions_is_marked_english(login, units):  # noqa: F811
    client = login("statistician")
    page = get_page(client, f"/stats/units/{units['county'].code}/dse/", english=False)
    listed = re.search(r'<section class="card" id="assumptions">.*?(<ol>.*?</ol>)', page, re.S)
    assert listed is not None
    items = listed.group(1)
    for en in ASSUMPTIONS:
        assert re.search(rf'<span[^>]*\blang="en"[^>]*>/ {re.escape(en)}</span>', items), en
    assert offenders(visible_text(items), chinese=True, own_words=set()) == []
    # the command named in the note on clerical links is shown as a command
    note = re.search(r'<p class="hint" id="links-note">.*?</p>', page, re.S)
    assert note is not None and "<code>popreg match</code>" in note.group(0)
    assert offenders(visible_text(note.group(0)), chinese=True, own_words=set()) == []
