"""A verification campaign run end to end in headless Chromium, as a county administrator:
log in, create the campaign, download a village workbook, fill it, upload it, see the
items, resolve one, watch the summary table change, spot-check and sign off."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from popreg.campaigns.models import Campaign, RectificationItem, SignOff
from popreg.registry.models import Person

from ..conftest import COUNTY, PASSWORD, VILLAGE_A1

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _summary_row(b, code: str) -> list[str]:
    b.open(b.summary_path)
    row = b.css(f'#summary tr[data-unit="{code}"]')
    return [td.text for td in row.find_elements("css selector", "td")]


def _fill_workbook(path, outcomes: dict[str, tuple[str, str | None]]) -> bytes:
    """Fill the 核对结果 (I) and 日期 (L) columns by the printed name (C)."""
    wb = load_workbook(path)
    ws = wb["核对名单"]
    assert ws.cell(1, 9).value == "核对结果" and ws.cell(1, 12).value.startswith("日期")
    for r in range(2, ws.max_row + 1):
        name = ws.cell(r, 3).value
        if name in outcomes:
            ws.cell(r, 9).value, ws.cell(r, 12).value = outcomes[name]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_campaign_end_to_end(browser, people, tmp_path):
    b = browser
    # log in
    b.open("/login/")
    b.css("#id_username").send_keys("admin")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary")
    assert "/login/" not in b.driver.current_url

    # create the campaign
    b.open("/campaigns/")
    b.submit("#new-campaign")
    b.css("#id_name").clear()
    b.css("#id_name").send_keys("2025年户口整顿")
    b.click(f'input[name="scope_codes"][value="{COUNTY}"]')
    b.set_value("#id_reference_moment", "2025-11-01T00:00")
    for field, value in {
        "preparation_start": "2025-09-01", "preparation_end": "2025-09-30",
        "verification_start": "2025-10-01", "verification_end": "2025-10-31",
        "rectification_start": "2025-11-01", "rectification_end": "2025-11-30",
        "summary_start": "2025-12-01", "summary_end": "2025-12-15",
    }.items():
        b.set_value(f"#id_{field}", value)
    b.css("#id_spot_check_households").clear()
    b.css("#id_spot_check_households").send_keys("1")
    b.shot("create-form")
    b.submit("form.entry button[type=submit]")
    campaign = Campaign.objects.get()
    assert b.driver.current_url.endswith(f"/campaigns/{campaign.pk}/")
    assert "2025年户口整顿" in b.text() and "东关村民委员会" in b.text()
    b.summary_path = f"/campaigns/{campaign.pk}/summary/"
    b.shot("campaign")

    # download the village workbook
    b.click(f'#progress tr[data-unit="{VILLAGE_A1}"] a.dl-workbook')
    downloaded = b.wait_download(".xlsx")

    # door to door: the mother has died, the child is confirmed
    b.submit("#advance")  # preparation -> verification: asks first, on its own page
    b.submit("#confirm-advance")
    assert "入户核对" in b.css(".phases li.current").text
    # the web form for the same outcomes works on a tablet: big touch targets
    b.driver.set_window_size(820, 1180)
    b.open(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/capture/")
    targets = b.all(".person-card .choices label")
    assert len(targets) == 2 * 6 and min(t.size["height"] for t in targets) >= 44
    b.shot("capture-tablet")
    b.driver.execute_script("document.getElementById('found').scrollIntoView();")
    b.shot("capture-found-person")
    b.driver.set_window_size(1280, 1000)
    b.open(f"/campaigns/{campaign.pk}/")
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(_fill_workbook(downloaded, {"王秀英": ("已死亡", "2025-10-03"),
                                                   "張偉": ("核实无误", None)}))

    # upload it and see the items
    b.submit(f'#progress tr[data-unit="{VILLAGE_A1}"] a.upload-link')
    b.css("#id_file").send_keys(str(filled))
    b.submit("#upload-submit")
    assert "/items/" in b.driver.current_url, b.text()
    item = RectificationItem.objects.get(campaign=campaign, person=people["mother"])
    row = b.css(f'#items tr[data-item="{item.pk}"]')
    assert "已死亡" in row.text and "王秀英" in row.text and "待处理" in row.text
    b.shot("items")
    before = _summary_row(b, VILLAGE_A1)
    header = [th.text for th in b.all("#summary thead th")]
    fixed, outstanding = header.index("已整改"), header.index("未办结")
    assert (before[fixed], before[outstanding]) == ("0", "1")
    b.shot("summary-before")

    # resolve: the death is registered through the registry action
    b.open(f"/campaigns/{campaign.pk}/")
    b.submit("#advance")  # verification -> rectification: asks first, on its own page
    assert "柳树村民委员会：1 人未核对" in b.css("#unfinished").text  # named, with what is left
    b.shot("advance-confirm")
    b.submit("#confirm-advance")
    b.open(f"/campaigns/{campaign.pk}/items/{item.pk}/")
    assert b.css("#id_action").get_attribute("value") == "register_death"
    assert b.css("#id_date").get_attribute("value") == "2025-10-03"
    b.shot("item")
    b.submit("#resolve")
    assert "已整改" in b.css("#item-status").text
    assert Person.objects.get(pk=people["mother"].pk).status == "deceased"
    after = _summary_row(b, VILLAGE_A1)
    assert (after[fixed], after[outstanding]) == ("1", "0")
    b.shot("summary-after")

    # acceptance: spot check the village, then sign off
    b.open(f"/campaigns/{campaign.pk}/")
    b.submit("#advance")  # rectification -> summary: asks first, on its own page
    b.submit("#confirm-advance")
    # the admin uploaded the village's results, so the township re-checks them
    b.submit(f'#progress tr[data-unit="{VILLAGE_A1}"] a.spot-link')
    b.driver.delete_all_cookies()
    b.open("/login/")
    b.css("#id_username").send_keys("officer_a")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary")
    b.open(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/spot-check/")
    b.submit("#draw")
    b.click('input[name="agrees"][value="1"]')
    b.submit(".person-card form button[type=submit]")
    assert "抽查通过" in b.css("#spot-result").text
    b.shot("spot-check")
    b.open(b.summary_path)
    b.submit(f'#summary tr[data-unit="{VILLAGE_A1}"] button.sign-village')
    assert re.search("东关村民委员会 村级签字完成", b.text())
    assert SignOff.objects.filter(campaign=campaign, unit_id=VILLAGE_A1, level="village").exists()
    assert "村级" in _summary_row(b, VILLAGE_A1)[-2]
    b.shot("signed")


def test_bad_upload_is_reported_row_by_row(browser, people, actors, tmp_path):
    from popreg.campaigns import actions
    from popreg.campaigns.fieldlists import build_field_workbook
    from popreg.campaigns.models import FieldOutcome
    from popreg.campaigns.queries import campaign_info, field_list_persons, village_info
    from popreg.registry.models import AdminUnit

    from ..campaigns.conftest import DATES
    from ..campaigns.test_upload import fill

    campaign = actions.do_create_campaign(actors["admin"], name="2025年户口整顿", scope_codes=[COUNTY],
                                          reference_moment=datetime(2025, 11, 1), dates=DATES)
    actions.do_advance_phase(actors["admin"], campaign)

    village = AdminUnit.objects.select_related("parent__parent").get(code=VILLAGE_A1)
    data = build_field_workbook(village_info(village), field_list_persons(campaign, VILLAGE_A1),
                                campaign_info(campaign))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(fill(data, {people["mother"].pk: ("已死亡", None, None, "2025-02-30"),
                                people["child"].pk: ("核实无误", None, None, None)}))
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("clerk_a1")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary")
    b.open(f"/campaigns/{campaign.pk}/villages/{VILLAGE_A1}/upload/")
    b.css("#id_file").send_keys(str(bad))
    b.submit("#upload-submit")
    report = b.css("#upload-report").text
    assert "文件未录入" in report and "核对名单 第2行“L”列" in report and "不存在" in report
    assert not FieldOutcome.objects.exists()
    b.shot("upload-refused")
