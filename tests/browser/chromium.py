"""Headless Chromium for the browser tests and the README's screenshots (Debian's chromium and chromium-driver)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("B2S_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("B2S_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW = (1280, 900)


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return ""


def chromium_start(*, width: int = WINDOW[0], height: int = WINDOW[1]) -> Any:
    """A headless Chromium at ``width`` x ``height`` CSS pixels (also used by docs/screenshots.py)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_window_size(width, height)
    return driver
