"""Debian's Chromium driven by Playwright, for the page tests: no browser download (the
machine cannot fetch one); a test skips where /usr/bin/chromium is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import core_share

CHROMIUM = os.environ.get("FERRYMAN_TEST_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
EXPECT_SECONDS = 5.0  # Playwright's own default
NEEDS_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium at " + CHROMIUM
)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Chromium, closed after (the test skips without Playwright)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's expect() waits 5 s: of an unloaded machine, as the tests' own waits
    # count (tests/support/waiting.py), so a loaded machine stretches it.
    sync_api.expect.set_options(timeout=EXPECT_SECONDS / core_share() * 1000)
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
