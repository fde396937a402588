import pytest

LOCALE = "django.middleware.locale.LocaleMiddleware"
CHINESE_FIRST = "popreg.web.middleware.ChineseFirstLocaleMiddleware"


@pytest.fixture
def chinese_first(settings):
    settings.MIDDLEWARE = [CHINESE_FIRST if m == LOCALE else m for m in settings.MIDDLEWARE]


def test_an_english_browser_still_gets_chinese(client, county, chinese_first):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page and "登录" in page


def test_the_language_switch_still_works(client, county, chinese_first):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in page and "Log in" in page
