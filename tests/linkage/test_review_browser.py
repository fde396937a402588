"""A county administrator runs dedup from the browser, watches the progress, and decides
a pair with a reason (the run is a job; tests run jobs inside the request)."""

from __future__ import annotations

from datetime import date

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from ..conftest import PASSWORD, VILLAGE_A1, VILLAGE_A2, make_id
from ..e2e.conftest import _fast_passwords, browser  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = [
    "刘洋",
    "陈静",
    "杨帆",
    "黄磊",
    "周敏",
    "吴昊",
    "徐丽",
    "孙强",
    "马超",
    "朱琳",
    "胡军",
    "郭颖",
    "何平",
    "高翔",
    "林芳",
    "罗刚",
    "郑爽",
    "梁宇",
    "谢婷",
    "宋健",
]


@pytest.fixture
def village(people, actors):
    from popreg.registry import actions as reg

    admin = actors["admin"]
    made = []
    for i, name in enumerate(NAMES):
        born = date(1960 + i, 1 + i % 12, 3 + i)
        sex = "M" if i % 2 else "F"
        made.append(
            reg.do_register_birth(
                admin,
                name=name,
                sex=sex,
                birth_date=born,
                id_number=make_id(born, sex, 40 + i),
                registered_unit_code=VILLAGE_A1 if i % 3 else VILLAGE_A2,
                household=None,
            )
        )
    # 孙强 registered a second time, without his ID number, in the same village.
    dup = reg.do_register_birth(
        admin,
        name="孙强",
        sex=made[7].sex,
        birth_date=made[7].birth_date,
        registered_unit_code=made[7].registered_unit_id,
    )
    return {"original": made[7], "duplicate": dup}


def test_run_watch_progress_and_decide(browser, village):  # noqa: F811
    b = browser
    b.open("/login/")
    b.css("#id_username").send_keys("admin")
    b.css("#id_password").send_keys(PASSWORD)
    b.submit("button[type=submit].primary", timeout=60)
    assert "/login/" not in b.driver.current_url
    b.open("/linkage/runs/")
    b.shot("runs")
    b.submit(
        "#start-form button[type=submit]", timeout=60
    )  # the county is the first unit in the list
    assert "/linkage/runs/" in b.driver.current_url
    WebDriverWait(b.driver, 120).until(lambda d: b.css("#state").text in ("已完成", "失败"))
    b.shot("run-done")
    assert b.css("#state").text == "已完成", b.text()
    assert b.css('[data-job-field="bar"]').get_attribute("value") == "100"  # the job component
    assert int(b.css("#n_new").text) >= 1
    b.submit("#done a", timeout=60)
    b.shot("queue")
    assert "孙强" in b.text()
    b.submit("#queue a.button", timeout=60)
    b.shot("pair")
    assert "字形相同" in b.text() and "日期相同" in b.text()
    b.click("#decide-form button[value=same_person]")  # no reason: the browser refuses
    assert b.css("#status").text == "待审核"
    b.css("#reason").send_keys("同名同出生日期，同村重复登记")
    b.submit("#decide-form button[value=same_person]", timeout=60)
    b.shot("decided")
    assert b.css("#status").text == "同一人"
