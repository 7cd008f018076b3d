"""A headless system Chromium driven by playwright, for looking at the HTML pages the way a reader
does: the browser tests and the screenshot in the docs use it. Nothing here downloads a browser;
it uses the first Chromium found on the machine (``DELBENCH_CHROMIUM``, else ``chromium``,
``chromium-browser``, ``google-chrome`` on PATH). Needs playwright, from the ``dev`` extra."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

ENV = "DELBENCH_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium executable, or None when the machine has none."""
    given = os.environ.get(ENV)
    if given:
        return given if Path(given).is_file() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def page(executable: str, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh page in a headless Chromium that may load only ``file:`` and ``data:`` URLs: a page
    that tries to reach the network fails to load that resource (and logs a console error)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                          else route.abort())
            yield context.new_page()
        finally:
            browser.close()


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 900, full_page: bool = False) -> Path:
    """Open ``html`` and save what the browser shows as ``png``."""
    from delbench.store.atomic import atomic_path

    executable = find_chromium()
    if executable is None:
        raise SystemExit(f"no Chromium found: install the chromium package or set {ENV}")
    with page(executable, width, height) as p, atomic_path(png) as tmp:
        p.goto(Path(html).resolve().as_uri())
        p.wait_for_load_state("load")
        p.screenshot(path=str(tmp), full_page=full_page, type="png")
    return png


if __name__ == "__main__":  # python -m delbench.report.browser PAGE.html OUT.png
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m delbench.report.browser PAGE.html OUT.png")
    print(screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
