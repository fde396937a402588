"""The campaign pages in both languages: Chinese by default, English with the language cookie.

Data (unit, campaign and person names, item details written by the rules) stays Chinese in
both; the pages' own headings, labels, buttons, choice labels and messages change language.
"""

import re
from datetime import date
from pathlib import Path

import polib
import pytest
from django.utils import translation

import popreg.campaigns
from popreg.campaigns import actions, forms, views
from popreg.campaigns.models import RectificationItem, ResolveAction, SignOff
from popreg.campaigns.queries import item_type_labels
from popreg.campaigns.summary import summary_table
from popreg.registry.actions import CORRECTABLE

from ..conftest import VILLAGE_A1
from .conftest import advance_to

LOCALE = Path(popreg.campaigns.__file__).parent / "locale"
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
#: Data shown on the pages, Chinese in both languages.
DATA = ("2025年户口整顿", "东关村民委员会", "西关社区居民委员会", "柳树村民委员会", "城关镇", "北山乡", "示例县")


@pytest.fixture
def client_for(client, users):
    def login(name, lang=None):
        client.force_login(users[name])
        if lang:
            client.cookies["django_language"] = lang
        return client
    return login


@pytest.fixture
def pages(campaign, people, actors):
    """The campaign in its rectification phase with one item per kind of source: a death found
    at the door (resolved), a wrong name (open) and an adult without an ID number (open)."""
    from popreg.registry import actions as registry

    registry.do_register_birth(actors["admin"], name="赵六", sex="M", birth_date=date(1980, 1, 1),
                               registered_unit_code=VILLAGE_A1)
    admin = actors["admin"]
    advance_to(campaign, "verification", admin)
    actions.do_record_outcome(admin, campaign, people["mother"], outcome="died", event_date=date(2025, 10, 3))
    actions.do_record_outcome(admin, campaign, people["child"], outcome="field_wrong", field_name="name",
                              corrected_value="张伟")
    actions.do_generate_items(admin, campaign)
    advance_to(campaign, "rectification", admin)
    died = RectificationItem.objects.get(campaign=campaign, item_type="died")
    actions.do_resolve_item(admin, died, action="register_death", params={"date": date(2025, 10, 3)})
    wrong = RectificationItem.objects.get(campaign=campaign, item_type="field_wrong")
    base = f"/campaigns/{campaign.pk}"
    return {
        "index": "/campaigns/", "new": "/campaigns/new/", "detail": f"{base}/", "items": f"{base}/items/",
        "item": f"{base}/items/{wrong.pk}/", "resolved": f"{base}/items/{died.pk}/",
        "capture": f"{base}/villages/{VILLAGE_A1}/capture/", "upload": f"{base}/villages/{VILLAGE_A1}/upload/",
        "summary": f"{base}/summary/", "spot": f"{base}/villages/{VILLAGE_A1}/spot-check/",
    }


def own_text(page: str) -> list[str]:
    """The page's own headings, table heads, labels, buttons and description terms, with the
    select options (data) and the data names taken out."""
    main = page.split("<main", 1)[-1]
    main = re.sub(r"<select.*?</select>", "", main, flags=re.S)
    found = re.findall(r"<(h1|h2|th|dt|button|label)\b[^>]*>(.*?)</\1>", main, flags=re.S)
    texts = [re.sub(r"<[^>]+>", "", text) for _, text in found]
    for name in DATA:
        texts = [t.replace(name, "") for t in texts]
    return [t.strip() for t in texts if t.strip()]


def chinese_left(page: str) -> list[str]:
    return [t for t in own_text(page) if CJK.search(t)]


#: (page, English that must show, Chinese of the same page that must not show in English).
EXPECTED = [
    ("index", ["Household registration verification campaigns", "Start a verification campaign", "Schedule"],
     ["户口整顿 / 清查活动", "发起整顿活动", "标准时点"]),
    ("new", ["Start a verification campaign", "Door-to-door verification starts", "Random seed for sampling"],
     ["活动名称", "入户核对开始", "抽样随机种子", "保存"]),
    ("detail", ["Progress by unit", "Workbook (Excel)", "Current phase: Rectification", "1. Preparation",
                "open rectification items: 2"],
     ["各单位进度", "核对表Excel", "当前阶段", "准备", "未办结整改事项"]),
    ("items", ["Rectification items", "Door-to-door check: wrong information", "Required item missing",
               "Found automatically", "Open", "3 in all"],
     ["整改事项", "入户核对:信息有误", "必填项缺失", "自动发现", "待处理", "共 3 个"]),
    ("item", ["Rectification item", "Correct registered items", "Item to correct", "Reason for rejection",
              "Responsible officer"],
     ["整改措施", "更正登记项目", "驳回理由", "责任人", "返回本村事项列表"]),
    ("resolved", ["Resolved", "Deregister a death (registered event", "Handled by"],
     ["已整改", "死亡注销", "登记事件", "办理"]),
    ("capture", ["Door-to-door verification: 东关村民委员会", "Register a newly found person", "Wrong information",
                 "Recorded: Died", "Unregistered move-in"],
     ["入户核对：", "登记新发现人员", "信息有误", "已录入", "迁入未登记"]),
    ("upload", ["Upload workbook: 东关村民委员会", "Completed workbook (.xlsx)"],
     ["上传核对表", "填好的核对表"]),
    ("summary", ["2025年户口整顿: summary of the campaign", "Unit code", "Door-to-door check: died", "Total",
                 "Village (neighbourhood committee)", "Download Excel"],
     ["整顿情况汇总表", "单位代码", "入户核对:已死亡", "合计", "村(居)委会", "下载 Excel", "制表人"]),
]


def test_campaign_pages_in_english(client_for, pages):
    c = client_for("admin", "en")
    for name, english, chinese in EXPECTED:
        resp = c.get(pages[name])
        assert resp.status_code == 200, name
        page = resp.content.decode()
        assert '<html lang="en">' in page, name
        for text in english:
            assert text in page, (name, text)
        for text in chinese:
            assert text not in page, (name, text)
        assert not chinese_left(page), (name, chinese_left(page))


def test_campaign_pages_in_chinese_by_default(client_for, pages):
    c = client_for("admin")
    for name, english, chinese in EXPECTED:
        page = c.get(pages[name]).content.decode()
        assert '<html lang="zh-hans">' in page, name
        for text in chinese:
            assert text in page, (name, text)
        assert english[0] not in page, (name, english[0])
        assert own_text(page) and chinese_left(page), name


def test_summary_phase_pages_in_english(client_for, campaign, people, actors):
    advance_to(campaign, "summary", actors["admin"])
    c = client_for("admin", "en")
    spot = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/"
    page = c.get(spot).content.decode()
    assert "Acceptance spot check: 东关村民委员会" in page and "Draw the households" in page
    assert "验收抽查" not in page and not chinese_left(page)
    summary = c.get(f"/campaigns/{campaign.pk}/summary/").content.decode()
    assert "Sign off (village)" in summary and "Acceptance sign-off" in summary and "村级签字" not in summary
    assert not chinese_left(summary)
    # the Chinese page is unchanged
    assert "抽取抽查户" in client_for("admin", "zh-hans").get(spot).content.decode()


def test_messages_and_form_errors_follow_the_language(client_for, campaign, people, actors):
    c = client_for("admin", "en")
    page = c.post(f"/campaigns/{campaign.pk}/advance/", {"confirm": "yes"}, follow=True).content.decode()
    assert "The campaign is now in the “Door-to-door verification” phase." in page
    capture = f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/capture/"
    bad = c.post(f"{capture}{people['child'].pk}/", {"outcome": "died", "date": "2025-02-30"}).content.decode()
    assert "Enter a valid date as YYYY-MM-DD" in bad and "请填写有效日期" not in bad
    found = c.post(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/found/",
                   {"name": "张小花", "sex": "F", "birth_date": "2024-02-02", "kind": "birth"}, follow=True)
    assert "Newly found person 张小花 registered" in found.content.decode()
    # what the actions store stays Chinese whoever works in English: the item lists and the
    # printed tables show it
    c.post(f"{capture}{people['mother'].pk}/", {"outcome": "died", "date": "2025-10-03"})
    died = RectificationItem.objects.get(campaign=campaign, item_type="died")
    assert died.detail == "已死亡；2025-10-03"
    assert "Recorded: Died 2025-10-03" in c.get(capture).content.decode()

    c.cookies["django_language"] = "zh-hans"
    page = c.post(f"/campaigns/{campaign.pk}/advance/", {"confirm": "yes"}, follow=True).content.decode()
    assert "已进入“整改”阶段" in page
    bad = c.post(f"{capture}{people['child'].pk}/", {"outcome": "died", "date": "2025-02-30"}).content.decode()
    assert "请填写有效日期，格式 年-月-日（如 2025-11-01）" in bad and "Enter a valid date" not in bad


def test_sign_off_message_in_english(client_for, campaign, people, actors):
    admin = actors["admin"]
    advance_to(campaign, "verification", admin)
    for p in ("mother", "child"):  # the clerk's work, re-checked by the county
        actions.do_record_outcome(actors["clerk_a1"], campaign, people[p], outcome="confirmed")
    advance_to(campaign, "summary", admin)
    for s in actions.do_draw_spot_check(admin, campaign, VILLAGE_A1):
        actions.do_record_spot_check(admin, s, agrees=True)
    c = client_for("admin", "en")
    page = c.post(f"/campaigns/{campaign.pk}/sign-off/", {"unit": VILLAGE_A1, "level": "village"},
                  follow=True).content.decode()
    assert SignOff.objects.filter(unit_id=VILLAGE_A1).exists()
    assert "东关村民委员会: village level sign-off done" in page and "签字完成" not in page


def test_english_names_match_the_chinese_labels_they_stand_for():
    """The English names of correctable fields and item types (the choices have one label, see
    tests/registry/test_vocabulary.py) translate back to the Chinese the workbooks, printed
    tables and upload checks use."""
    with translation.override("zh-hans"):
        assert {k: str(v) for k, v in forms.CORRECTABLE_NAMES.items()} == CORRECTABLE
        assert views._type_labels() == item_type_labels()
        assert dict(actions.ACTION_LABELS) == {str(k): str(v) for k, v in ResolveAction.choices}
    with translation.override("en"):
        assert set(views._type_labels()) == set(item_type_labels())
        assert not [v for v in views._type_labels().values() if CJK.search(v)]


def test_summary_on_screen_is_the_printed_table_in_chinese(campaign, people, actors):
    admin = actors["admin"]
    advance_to(campaign, "verification", admin)
    actions.do_record_outcome(admin, campaign, people["mother"], outcome="died", event_date=date(2025, 10, 3))
    actions.do_record_outcome(admin, campaign, people["child"], outcome="confirmed")
    table = summary_table(campaign, admin)
    with translation.override("zh-hans"):
        header, rows = views._summary_screen(table)
        assert header == table.header()
        assert [values for _, values in rows] == [table.values(r) for r in table.rows]
    with translation.override("en"):
        header, rows = views._summary_screen(table)
        assert not [h for h in header if CJK.search(h)]
        assert len(header) == len(table.header()) and "Door-to-door check: died" in header


def test_no_other_catalog_overrides_a_campaign_string():
    """Django merges every app's catalog; a msgid another catalog translates differently would
    change the Chinese campaign pages."""
    po = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    with translation.override("zh-hans"):
        for e in po.translated_entries():
            if e.msgid_plural:
                got = translation.ngettext(e.msgid, e.msgid_plural, 1)
            elif e.msgctxt:
                got = translation.pgettext(e.msgctxt, e.msgid)
            else:
                got = translation.gettext(e.msgid)
            assert got == (e.msgstr_plural[0] if e.msgid_plural else e.msgstr), e.msgid
