"""The Telegram pool's figures per account on the page, in Debian's Chromium against
`ferryman web`: an administrator (the open loopback page) sees each account's albums,
upload speed, waits and give-ways, which one waits and for how long, and what the pool
does not share (``me``, private chats); the API gives the same, as ``status -v`` and
``/metrics`` do. Looked at in light and dark at 1280 and 390 px."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE
from tests.support.webserve import WebServer, running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/pool-panel-shots"))
WAIT = 60_000  # ms: a loaded machine is slow

# As the engine writes them (``telegram/accounts.AccountPool.noted``).
FIGURES = {
    "ferryman": {
        "albums": 12,
        "bytes": 30_000_000,
        "seconds": 24.0,
        "waits": 1,
        "refused": 0,
        "waiting_until": 0.0,
        "bot": False,
        "premium": True,
        "own": True,
    },
    "helper_bot_with_a_long_name": {
        "albums": 9,
        "bytes": 22_500_000,
        "seconds": 18.0,
        "waits": 2,
        "refused": 3,
        "waiting_until": 0.0,
        "bot": True,
        "premium": False,
        "own": False,
    },
    "second": {
        "albums": 0,
        "bytes": 0,
        "seconds": 0.0,
        "waits": 0,
        "refused": 0,
        "waiting_until": 0.0,
        "bot": False,
        "premium": False,
        "own": False,
    },
}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("pool") / "data"
    figures = json.loads(json.dumps(FIGURES))
    figures["helper_bot_with_a_long_name"]["waiting_until"] = time.time() + 600
    (data / "telegram").mkdir(parents=True)
    (data / "telegram" / "pool-figures.json").write_text(json.dumps(figures))
    with running_web(data) as server:
        yield server


def test_the_api_gives_each_accounts_figures(web: WebServer) -> None:
    with web.client() as api:
        answer = api.get("/api/v1/telegram/accounts")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = {a["name"]: a for a in body["accounts"]}
    assert list(rows) == ["ferryman", "helper_bot_with_a_long_name", "second"]
    assert rows["ferryman"]["own"] and rows["ferryman"]["premium"]
    assert rows["ferryman"]["bytes_per_second"] == pytest.approx(1_250_000)
    assert 500 < rows["helper_bot_with_a_long_name"]["waiting_seconds"] <= 600
    assert rows["second"]["waiting_seconds"] == 0
    assert "telegram:me and private chats go through ferryman alone" in body["note"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_administrator_sees_each_account_on_the_page(
    web: WebServer, browser: Any, scheme: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(web.base)
        panel = page.locator("#pool-panel")
        expect(panel).to_be_visible(timeout=WAIT)
        expect(panel.locator("summary")).to_contain_text("3 accounts, 21 albums")
        panel.locator("summary").click()
        own = panel.locator("li[data-account=ferryman]")
        expect(own).to_contain_text("12 albums")
        expect(own).to_contain_text("1.3 MB/s uploading")
        expect(own).to_contain_text("own account · Premium")
        expect(own).to_contain_text("waited 1×")
        bot = panel.locator("li[data-account=helper_bot_with_a_long_name]")
        expect(bot).to_contain_text("gave way 3×")
        expect(bot.locator(".waiting")).to_contain_text(re.compile(r"wait: (9|10) min"))
        expect(panel.locator("li[data-account=second]")).to_contain_text("no upload yet")
        expect(page.locator("#pool-note")).to_contain_text("go through ferryman alone")
        SHOTS.mkdir(parents=True, exist_ok=True)
        for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(viewport)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{label}: the page scrolls sideways"
            fits = panel.evaluate("p => p.scrollWidth <= p.clientWidth")
            assert fits, f"{label}: the panel's rows run past its edge"
            panel.screenshot(path=str(SHOTS / f"pool-{scheme}-{label}.png"))
    finally:
        context.close()


def test_without_figures_the_page_has_no_panel_and_asks_nothing(tmp_path: Path) -> None:
    """No engine figures yet (or not an administrator): no panel, no request of its own
    (a low rate limit's budget is the person's)."""
    with running_web(tmp_path / "data") as server, server.client() as api:
        page = api.get("/").text
    assert "pool-panel" not in page and "pool.js" not in page
