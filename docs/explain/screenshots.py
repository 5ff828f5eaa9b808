"""Screenshots of the interactive lessons for the README: `python docs/explain/screenshots.py` from the repo root.

Opens the gallery's stride-2, padding-1 lesson (docs/explain/site) in Debian's Chromium through Playwright,
hovers ∂L/∂X₂₂ in the input-gradient figure, and saves that figure in English and Arabic at desktop width and
the English page's top at 375 px (a phone); and the top of conv.ar.html (the article's example in Arabic).
"""

import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
SHOTS = [
    ("conv-stride2-padding1.html", "page.en.png", 1000),
    ("conv-stride2-padding1.ar.html", "page.ar.png", 1000),
    ("conv-stride2-padding1.html", "page.en.375.png", 375),
]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
    for page_name, shot, width in SHOTS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((HERE / "site" / page_name).as_uri())
        widget = page.locator('[data-widget="grad_x"]')
        widget.locator('[data-tensor="dX"][data-index="2,2"]').last.hover()
        widget.screenshot(path=HERE / shot)
        page.close()
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto((HERE / "conv.ar.html").as_uri())
    page.screenshot(path=HERE / "conv.ar.html.png")
    browser.close()
