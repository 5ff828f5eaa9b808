"""Headless Chromium through Playwright, for the tests of pages and pictures with scripts or SVG.

Debian's chromium is used (``executable_path``), so no browser is downloaded. The page's
console errors and uncaught exceptions are collected in a list the test checks.
"""

from __future__ import annotations

import contextlib
import shutil

import pytest


@contextlib.contextmanager
def chromium_page(width: int = 1200, height: int = 900):
    """Yield ``(page, errors)``: a fresh page and the console errors and uncaught exceptions it reports."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (the test extra)", exc_type=ImportError
    )
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium package)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()
