"""The browser tests' Chromium: one browser a module, a fresh light desktop page a test
(a file that wants another page, a phone or dark, defines its own ``page``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import DESKTOP, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    opened = context.new_page()
    yield opened
    context.close()
