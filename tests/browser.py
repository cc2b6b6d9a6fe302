"""A headless Chromium for the tests that need a real browser (JupyterLab, slide decks).

A plain module the browser tests import, not a test file. Playwright (a ``dev`` dependency) drives
Debian's ``chromium`` (``.ci/run`` installs it when it is absent); Playwright's own browser
download is not used, so nothing is fetched at test time. Where no Chromium can be found the
tests are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium",
                       "/usr/bin/chromium-browser")
"""Where Debian / Ubuntu put the Chromium binary (``MMLIB_CHROMIUM`` overrides)."""

LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
"""Flags that make Chromium run as root in a container without a display or GPU."""


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when none is installed."""
    override = os.environ.get("MMLIB_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    return found


@contextmanager
def browser_or_skip() -> Iterator[Any]:
    """Yield a Playwright ``Browser`` (Chromium, headless); skip the test when there is none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it is a dev dependency: "
                    "python -m pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it): looked "
                    f"for {', '.join(CHROMIUM_CANDIDATES)} and MMLIB_CHROMIUM")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
