"""A download whose size nobody knows (the server sends no Content-Length) in a real
browser (Debian's Chromium through Playwright): the card says the bytes so far, not a
"0 %" that never moves until the end. Skipped when no Chromium is installed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, chromium
from tests.support.httpserve import Link, serving
from tests.support.webserve import running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")

# Every text a card's phase and figures showed, with its bar's value, as drawn.
RECORD = """
window.seen = [];
new MutationObserver(() => {
  for (const card of document.querySelectorAll("li.job")) {
    const status = card.querySelector(".status"), detail = card.querySelector(".detail");
    const bar = card.querySelector("progress");
    if (status && detail && bar) window.seen.push(
      [status.textContent, detail.textContent, bar.hasAttribute("value")]);
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP)
        opened = context.new_page()
        opened.add_init_script(RECORD)
        yield opened
        context.close()


def test_a_download_of_unknown_size_shows_its_bytes_and_a_moving_bar(
    tmp_path: Path, page: Any
) -> None:
    blob = bytes(range(256)) * (4 * 1024 * 2)  # 2 MiB, about 10 s at 200 kB/s
    with (
        serving(Link(bandwidth=200_000)) as slow,
        running_web(tmp_path / "data") as web,
    ):
        slow.add("/stream.bin", blob, send_length=False)
        page.goto(web.base)
        page.get_by_role("textbox", name="Link").fill(slow.url("/stream.bin"))
        page.get_by_role("button", name="Start").click()
        item = page.get_by_role("listitem").first
        playwright_api.expect(item.locator(".detail")).to_contain_text(
            re.compile(r"\d(\.\d)? MB so far"), timeout=60_000
        )
        item.screenshot(path=str(tmp_path / "unknown-size.png"))  # to look at
        playwright_api.expect(item).to_have_attribute("data-status", "done", timeout=60_000)
        seen: list[list[Any]] = page.evaluate("window.seen")
    downloading = [(detail, valued) for status, detail, valued in seen if status == "downloading"]
    # Once bytes came, they are said, never a bare 0 % again; the bar moves to and fro
    # (no value) meanwhile.
    first = next(i for i, (d, _) in enumerate(downloading) if "so far" in d)
    assert not any(d.startswith("0%") for d, _ in downloading[first:]), downloading
    assert all(not valued for d, valued in downloading if "so far" in d), downloading
