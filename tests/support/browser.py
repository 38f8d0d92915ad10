"""Debian's Chromium driven by Playwright, for the page tests: no browser download (the
machine cannot fetch one); a test skips where /usr/bin/chromium is missing."""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import core_share, eventually_sync

CHROMIUM = os.environ.get("FERRYMAN_TEST_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
EXPECT_SECONDS = 5.0  # Playwright's own default
NEEDS_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium at " + CHROMIUM
)
# Chromium's headless mode is the whole browser, a window with its toolbar for each
# context: each window made the address bar's suggestion popups (two WebUI pages,
# chrome://omnibox-popup.top-chrome/, a renderer of their own) and a spare renderer for
# a next navigation elsewhere, none of which a test uses. Without them a context and its
# page of the app cost 0.5 CPU-s of Chromium, not 1.4 (docs/testing.md, issue 83).
UNUSED_FEATURES = (
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
    "WebUIOmniboxFullPopup",
    "SpareRendererForSitePerProcess",
)


@functools.cache
def playwright_disabled_features() -> tuple[str, ...] | None:
    """The features Playwright turns off itself (``--disable-features=…``, from its
    driver's source): Chromium keeps the last ``--disable-features`` it is given, so a
    list of our own must carry Playwright's too. None where it is not found."""
    import playwright

    lib = Path(playwright.__file__).parent / "driver" / "package" / "lib"
    for path in (lib / "coreBundle.js", lib / "server" / "chromium" / "chromiumSwitches.js"):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        listed = re.search(r"disabledFeatures\s*=\s*\[(.*?)\]", text, re.S)
        if listed:  # an array of names, commented
            return tuple(re.findall(r"[\"']([\w.-]+)[\"']", re.sub(r"//[^\n]*", "", listed[1])))
        inline = re.search(r"[\"']--disable-features=([\w.,-]+)[\"']", text)
        if inline:  # older drivers: one string
            return tuple(inline[1].split(","))
    return None


def launch_args() -> list[str]:
    """Chromium's arguments: the features no test uses off, beside Playwright's own."""
    theirs = playwright_disabled_features()
    if theirs is None:
        warnings.warn(
            "Playwright's --disable-features list was not found in its driver: Chromium runs"
            " with the address bar's popups (tests/support/browser.py)",
            stacklevel=2,
        )
        return ["--no-sandbox"]
    return ["--no-sandbox", "--disable-features=" + ",".join((*theirs, *UNUSED_FEATURES))]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Chromium, closed after (the test skips without Playwright)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's expect() waits 5 s: of an unloaded machine, as the tests' own waits
    # count (tests/support/waiting.py), so a loaded machine stretches it.
    sync_api.expect.set_options(timeout=EXPECT_SECONDS / core_share() * 1000)
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=launch_args())
        try:
            yield launched
        finally:
            launched.close()


class Confirms:
    """A page's confirm dialogs answered in turn by one handler, each answer waited for.

    Why not ``page.once("dialog", …)`` before each click: a click that opens no dialog
    (or a dialog handled late) leaves two once-handlers to meet the next dialog; the
    first answers it, and the dialog after finds none and is dismissed by Playwright (a
    removal's card stayed: steady set 13). Here a dialog past the answers given is
    dismissed, and :meth:`wait` says which answers were used when they were not all.
    """

    def __init__(self, page: Any) -> None:
        self._page = page
        self._answers: list[str] = []
        self.answered: list[str] = []
        page.on("dialog", self._answer)

    def give(self, *answers: str) -> None:
        """The next dialogs' answers, in order: ``accept`` or ``dismiss``."""
        self._answers.extend(answers)

    def wait(self) -> None:
        """Until every answer given was used (each look lets Playwright deliver the
        events it holds: a dialog's handler runs as its event is handled)."""
        want = len(self.answered) + len(self._answers)
        try:
            eventually_sync(
                lambda: self._page.evaluate("1") == 1 and len(self.answered) >= want,
                "the page's confirms answered",
            )
        except AssertionError as late:
            raise AssertionError(f"{late}; answered so far: {self.answered}") from None

    def _answer(self, dialog: Any) -> None:
        how = self._answers.pop(0) if self._answers else "dismiss"
        self.answered.append(how)
        dialog.accept() if how == "accept" else dialog.dismiss()
