"""Statistics pages (dashboards, dual-system estimate, assessment, monthly reconciliation):
Chinese by default, English with the language cookie.

Data (unit names, rule set names, item details) stays as entered; the checks name the
pages' own headings, labels and messages.  The stats catalog must also win over the other
parts' catalogs for its own msgids, or a Chinese page would change under it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

import popreg
from popreg.core.dse import ASSUMPTIONS, ASSUMPTIONS_ZH
from popreg.stats.dashboard import RANK_KEYS

from ..bilingual import check_bilingual, get_page
from .handmade import UNITS
from .test_assessment import RULES
from .test_assessment_views import site  # noqa: F401  (shared fixture)
from .test_dashboard_views import (  # noqa: F401  (shared fixtures)
    dash,
    fast_password_hasher,
    home,
    login,
    snap,
    stats_home,
    units,
)
from .test_reconciliation import LINKS
from .test_reconciliation_items import loaded  # noqa: F401  (shared fixture)

LOCALE = Path(popreg.__file__).parent / "stats" / "locale"


def test_dashboard_page(login, units, dash):  # noqa: F811
    client = login("statistician")
    county = units["county"]
    check_bilingual(client, f"/stats/units/{county.code}/",
           ["Overview", "Registered population (reference moment)", "Registered population at the end of",
            "Sex ratio at birth (95% interval)", "Comparison and ranking by township",
            "Indicators by year (Registered population)", "Population at start of year",
            "Refresh the statistics snapshot", "Total fertility rate"],
           ["统计概览", "户籍人口（标准时点）", "年末户籍人口", "出生人口性别比（95%区间）",
            "比较与排名", "历年指标（户籍人口）", "年初人口", "刷新统计快照", "总和生育率"])
    page = get_page(client, f"/stats/units/{county.code}/", english=True)
    assert county.name in page  # data stays as it is
    assert '<span class="tag">county</span>' in page
    data = json.loads(re.search(r'id="stats-data" type="application/json">(.*?)</script>', page).group(1))
    assert data["labels"]["srb"] == "Sex ratio at birth" and data["labels"]["male"] == "Male"
    assert data["comparison"]["label"] == "Population at year end"
    page = get_page(client, f"/stats/units/{county.code}/", english=False)
    data = json.loads(re.search(r'id="stats-data" type="application/json">(.*?)</script>', page).group(1))
    assert data["labels"]["srb"] == "出生人口性别比" and data["comparison"]["label"] == "年末人口"


def test_dse_page(login, units):  # noqa: F811
    client = login("statistician")
    url = f"/stats/units/{units['county'].code}/dse/"
    check_bilingual(client, url,
           ["birth under-registration (dual-system estimate)", "Assumptions of the estimate",
            "Registered births n1", "95% interval", "(total)"],
           ["出生漏报估计（双系统估计）", "估计的前提假设", "登记出生 n1", "95% 区间", "（合计）"])
    # the assumptions: English alone in English; Chinese with the English beside it in Chinese
    page = get_page(client, url, english=True)
    assert all(en in page for en in ASSUMPTIONS) and not any(zh in page for zh in ASSUMPTIONS_ZH)
    page = get_page(client, url, english=False)
    assert all(en in page and zh in page for zh, en in zip(ASSUMPTIONS_ZH, ASSUMPTIONS, strict=True))


def test_messages_and_refusals_follow_the_language(login, home, settings, tmp_path):  # noqa: F811
    clerk = login("clerk")
    clerk.cookies["django_language"] = "en"
    page = clerk.post("/stats/refresh/").content.decode()
    assert "your role may not: Refresh the statistics snapshot" in page
    clerk.cookies.pop("django_language")
    page = clerk.post("/stats/refresh/").content.decode()
    assert "当前角色无权" in page and "刷新统计快照" in page
    settings.POPREG_HOME = tmp_path  # no snapshot: the page that asks for one
    check_bilingual(clerk, "/stats/", ["Population statistics", "Ask the county statistics staff"],
           ["人口统计", "请联系县级统计人员生成统计快照"])


def test_assessment_pages(site, client, django_user_model):  # noqa: F811
    from popreg.registry.models import Assignment

    user = django_user_model.objects.create_user("admin", password="pw-123456")
    Assignment.objects.create(user=user, role="county_admin", unit_id=UNITS[0][0])
    client.force_login(user)
    client.cookies["django_language"] = "en"
    r = client.post("/stats/assessment/rules/", {"definition": json.dumps(RULES, ensure_ascii=False)}, follow=True)
    assert "Rule set saved: " in r.content.decode()
    from popreg.stats.models import RuleSetVersion

    params = {"snapshot": "2025-11-01", "year": 2024, "level": "village",
              "rules": RuleSetVersion.objects.get().pk, "lagging": 10}
    from popreg.registry.job_models import Job

    client.post("/stats/assessment/", params)
    check_bilingual(client, Job.objects.get(kind="assessment").result_url,
           ["Annual assessment · ranking · lagging units", "Vetoed: Crude death rate (‰)", "Maximum score",
            "Lagging units (bottom 10.0 percent of each group)", "Scorecards", "version 2",
            "This is a veto rule: failing it vetoes the whole scorecard."],
           ["年度考核 · 排名 · 后进名单", "一票否决：粗死亡率（‰）", "满分", "后进单位（每组后 10.0%）",
            "考核评分", "第2版", "此项为一票否决项：未达标则整个考核被否决。"])
    check_bilingual(client, "/stats/assessment/rules/",
           ["Assessment rules (saved as versions, never changed)",
            "Rate of natural increase (‰): target 0–400, 50 points",
            "Crude death rate (‰): target ≤ 0, 10 points, veto rule", "Preview every unit's score"],
           ["考核规则（按版本保存，不可修改）", "自然增长率（‰）：目标 0–400，50 分",
            "粗死亡率（‰）：目标 ≤ 0，10 分，一票否决", "预览各单位得分"])
    check_bilingual(client, "/stats/assessment/targets/", ["Targets for 2024", "No targets for this year yet"],
           ["2024 年度目标", "该年度尚无目标"], year=2024)


def test_reconciliation_page(loaded, client, monkeypatch):  # noqa: F811
    from django.contrib.auth import get_user_model

    from popreg.registry.job_models import Job
    from popreg.registry.models import Assignment

    monkeypatch.setattr("popreg.stats.jobs.link_sources", lambda path: LINKS)
    user = get_user_model().objects.create_user("officer_a", password="pw-123456")
    Assignment.objects.create(user=user, role="township_officer", unit_id="411000001000")
    client.force_login(user)
    client.cookies["django_language"] = "en"
    params = {"month": "2024-05", "snapshot": "", "level": "village"}
    client.post("/stats/reconciliation/", {**params, "action": "compare"})
    result_url = Job.objects.get(kind="reconciliation").result_url
    r = client.post(result_url, follow=True)
    assert "Items to verify created: 2 (0 already there)" in r.content.decode()
    check_bilingual(client, result_url,
           ["births and deaths against their sources", "Accuracy rate = reported ÷ verified × 100%",
            "Items to verify", "birth · registry only", "to verify", "Settled"],
           ["出生死亡来源比对", "统计求实率 = 登记数 ÷ 核实数 × 100%", "待核实事项", "出生 · 仅登记", "已处理"])
    page = get_page(client, "/stats/reconciliation/", english=True, **{**params, "snapshot": "nope"})
    assert "The chosen snapshot does not exist." in page


def _entries(language):
    return [e for e in polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po")) if e.msgstr]


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_no_other_catalog_overrides_a_stats_string(language):
    """Django merges every app's catalog; an earlier one wins for a shared msgid."""
    entries = _entries(language)
    assert len(entries) > 10
    with translation.override("zh-hans" if language == "zh_Hans" else "en"):
        wrong = {
            (e.msgctxt, e.msgid): got
            for e in entries
            if (got := translation.pgettext(e.msgctxt, e.msgid) if e.msgctxt else translation.gettext(e.msgid))
            != e.msgstr
        }
    assert not wrong, f"another catalog translates these differently; use another msgid or a context: {wrong}"


def test_ranked_indicator_headings_are_the_engine_labels():
    from popreg.stats.views import RANK_LABELS

    assert list(RANK_LABELS) == list(RANK_KEYS)
    with translation.override("zh-hans"):
        assert {k: str(v) for k, v in RANK_LABELS.items()} == {k: zh for k, (zh, _en) in RANK_KEYS.items()}
