"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver.

``scripts/browser-deps`` installs both (``apt-get install chromium
chromium-driver``) and Selenium comes with the test extra; where any of them is
missing, :func:`browser_or_skip` skips the test and says which
(FRAGSTORE_REQUIRE_BROWSER=1: fails it). The paths can
be changed with FRAGSTORE_CHROMIUM and FRAGSTORE_CHROMEDRIVER. Chromium runs
with a fresh profile and without its background network traffic (the test
machines have no network beyond the package registries).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("FRAGSTORE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FRAGSTORE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--lang=en-US", "--hide-scrollbars", "--force-device-scale-factor=1")


def missing() -> str | None:
    """Why no browser can be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the test extra has it)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing: run scripts/browser-deps (apt-get install chromium chromium-driver)"
    return None


class Browser:
    """A Chrome WebDriver with its own profile directory, removed on quit."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="fragstore-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        self.driver: Any = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(60)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def browser_or_skip(width: int = 1280, height: int = 900) -> Browser:
    """A browser, or the test skipped saying what is missing (failed instead
    with FRAGSTORE_REQUIRE_BROWSER=1)."""
    why = missing()
    if why is not None:
        if os.environ.get("FRAGSTORE_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return Browser(width, height)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """The first truthy value of ``condition()``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # the page is being replaced: try again
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last!r})" if last else ""))
