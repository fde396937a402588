"""Headless Chromium driven by Selenium, for end-to-end tests against ``live_server``.

The browser is Debian's ``chromium`` with its ``chromium-driver`` (never downloaded): a
test using the ``browser`` fixture is skipped, with the reason, only when no Chromium
binary is installed.  Set ``POPREG_E2E_SCREENSHOTS=DIR`` to keep a screenshot of each step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=zh-CN",
)


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromedriver_binary() -> str | None:
    for candidate in (shutil.which("chromedriver"), "/usr/lib/chromium/chromedriver"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Browser:
    """A thin helper over the WebDriver: open a path, fill fields, take screenshots."""

    def __init__(self, driver, base_url: str, downloads: Path, shots: Path | None, prefix: str = "") -> None:
        self.driver = driver
        self.base_url = base_url
        self.downloads = downloads
        self.shots = shots
        self.prefix = prefix
        self.n = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def set_value(self, selector: str, value: str) -> None:
        """Set an input's value (date pickers do not take typed text reliably)."""
        self.driver.execute_script("arguments[0].value = arguments[1];", self.css(selector), value)

    def click(self, selector: str) -> None:
        el = self.css(selector)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()

    def submit(self, selector: str, timeout: float = 15) -> None:
        """Click something that loads a new page, and wait until the new page is there.

        The old page is marked with a script variable: the new page is there when the mark is
        gone and the document has loaded (element references to the old page are not used,
        Chromium answers them with different errors while the page is being replaced).
        """
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.execute_script("window.__popregOldPage = true;")
        self.click(selector)

        def loaded(driver) -> bool:
            try:
                return bool(driver.execute_script(
                    "return !window.__popregOldPage && document.readyState === 'complete';"))
            except WebDriverException:  # navigating right now
                return False

        WebDriverWait(self.driver, timeout).until(loaded)

    def text(self) -> str:
        return self.css("body").text

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.n += 1
            self.driver.save_screenshot(str(self.shots / f"{self.prefix}{self.n:02d}-{name}.png"))

    def wait_download(self, suffix: str, timeout: float = 20) -> Path:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            done = [p for p in self.downloads.iterdir() if p.name.endswith(suffix)]
            if done:
                return done[0]
            time.sleep(0.1)
        raise AssertionError(f"no {suffix} downloaded: {[p.name for p in self.downloads.iterdir()]}")


@pytest.fixture
def browser(live_server, tmp_path, request):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary installed (Debian: apt-get install chromium chromium-driver)")
    driver_path = chromedriver_binary()
    assert driver_path, "chromium is installed but chromedriver is not (Debian package chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch anything
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "safebrowsing.enabled": False, "intl.accept_languages": "zh-CN,zh",
    })
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    shots_env = os.environ.get("POPREG_E2E_SCREENSHOTS")
    shots = Path(shots_env) if shots_env else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    try:
        yield Browser(driver, live_server.url, downloads, shots, prefix=f"{request.node.name}-")
    finally:
        driver.quit()
