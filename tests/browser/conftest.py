"""A headless Chromium driven by Selenium against pytest-django's live server, 1280x900 like an operator's laptop.

Chromium and its driver come from Debian's packages (``apt-get install chromium chromium-driver``; CI installs
them). Where they are absent the browser tests skip, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connections
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sync.config import config
from sync.seeds import seeds_all_apply
from tests.browser.chromium import WINDOW, browser_missing, chromium_start

PASSWORD = "browser-test-password-4711"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    reason = browser_missing()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    # The live server's request threads use the test's in-memory SQLite connection (pytest-django hands it
    # over) and close it after each request; Django's own LiveServerTestCase allows that sharing, so do we.
    shared = [conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()]
    for conn in shared:
        conn.inc_thread_sharing()
    driver = chromium_start()
    # The window size includes the browser's frame; the page itself must be 1280 CSS pixels wide.
    inner = driver.execute_script("return window.innerWidth")
    if inner != WINDOW[0]:
        driver.set_window_size(WINDOW[0] + (WINDOW[0] - inner), WINDOW[1])
    yield driver
    driver.quit()
    for conn in shared:
        conn.dec_thread_sharing()


@pytest.fixture
def operator(django_user_model, transactional_db) -> Any:
    # A transactional test starts from what the previous one flushed: the seeded configuration first.
    seeds_all_apply(django_apps)
    config.invalidate()
    return django_user_model.objects.create_superuser("operator", "operator@example.com", PASSWORD)


@pytest.fixture
def signed_in(chromium, live_server, operator) -> Iterator[Callable[[str], Any]]:
    """``open(path)``: the page at ``path`` in the browser, signed in as a superuser."""
    chromium.delete_all_cookies()
    chromium.get(live_server.url + "/admin/login/")
    chromium.find_element(By.NAME, "username").send_keys(operator.username)
    chromium.find_element(By.NAME, "password").send_keys(PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(chromium, 15).until(lambda driver: "/admin/login/" not in driver.current_url)

    def open_page(path: str) -> Any:
        chromium.get(live_server.url + path)
        return chromium

    yield open_page
    # Off the live server before the test's database goes: no late request (a favicon) hits it in between.
    chromium.get("about:blank")
