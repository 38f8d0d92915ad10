"""Which sites work now, in Debian's Chromium against `ferryman web`: the page's panel
shows yt-dlp's version and age and, per site, the last day's links as their downloads
ended (``links/health``'s record): how many came, which codes the others failed with,
and whether the latest came; ``/api/v1/sites`` and ``/healthz`` give the same figures.
Looked at in light and dark at 1280 and 390 px."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from ferryman.links.health import record
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE
from tests.support.webserve import WebServer, running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/sites-panel-shots"))
WAIT = 60_000  # ms: a loaded machine is slow
VERSION = metadata.version("yt-dlp")


def _age() -> int:
    released = date(*(int(p) for p in VERSION.split(".")[:3]))
    return (datetime.now(UTC).date() - released).days


@pytest.fixture(scope="module")
def now() -> float:
    """When the records were made: the page counts their age from its own render."""
    return time.time()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, now: float) -> Iterator[WebServer]:
    """Links as the fetch stage records them: youtube fails lately, vimeo works, an
    hour-old generic link came, and a link two days old is past the record's day."""
    data = tmp_path_factory.mktemp("sites") / "data"
    for n in range(5):
        record(data, "Youtube", None, now=now - 3000 + n)
    for n, code in enumerate(("source.bot_check", "source.bot_check", "source.changed")):
        record(data, "youtube", code, now=now - 600 + n)
    record(data, "vimeo", "source.not_found", now=now - 900)
    record(data, "vimeo", None, now=now - 120)
    record(data, "generic", None, now=now - 3600)
    record(data, "dailymotion", None, now=now - 2 * 86400)
    with running_web(data) as server:
        yield server


def test_the_api_and_healthz_say_which_sites_work_and_how_old_yt_dlp_is(web: WebServer) -> None:
    with web.client() as api:
        answer = api.get("/api/v1/sites")
        health = api.get("/healthz").json()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["yt_dlp"]["version"] == VERSION
    assert body["yt_dlp"]["age_days"] in (_age(), _age() + 1)  # a midnight between
    assert body["yt_dlp"]["update"] == "ferryman update"
    sites = {s["site"]: s for s in body["sites"]}
    assert [s["site"] for s in body["sites"]] == ["youtube", "vimeo", "generic"]
    assert sites["youtube"]["total"] == 8 and sites["youtube"]["fetched"] == 5
    assert sites["youtube"]["failed"] == {"source.bot_check": 2, "source.changed": 1}
    assert sites["youtube"]["last_code"] == "source.changed"
    assert sites["vimeo"]["last_code"] is None and sites["vimeo"]["fetched"] == 1
    assert health == {"status": "ok", "yt_dlp": body["yt_dlp"]}


def _latest(at: float, rendered: tuple[float, float], then: str) -> re.Pattern[str]:
    """What the server, rendering the page at some moment of ``rendered``, says of a
    record made at ``at`` ("latest N min ago: …"): 10 min old when made, it was older by
    the time the module's web and the tests before were done on a loaded machine (the
    page said 11 at load 30, and the test failed)."""
    low, high = (round((moment - at) / 60) for moment in rendered)
    said = "|".join(f"latest {minutes} min ago: " for minutes in range(low, high + 1))
    return re.compile(f"({said}){re.escape(then)}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_shows_which_sites_work_now(
    web: WebServer, browser: Any, scheme: str, now: float
) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    page = context.new_page()
    try:
        asked = time.time()
        page.goto(web.base)  # the page as the server renders it, with the ages then
        rendered = (asked, time.time())
        panel = page.locator("#sites-panel")
        expect(panel.locator("summary")).to_contain_text(
            f"Which sites work now · yt-dlp {VERSION}", timeout=WAIT
        )
        panel.locator("summary").click()
        youtube = panel.locator("li[data-site=youtube]")
        expect(youtube).to_have_attribute("data-works", "no")
        expect(youtube).to_contain_text("5 of 8 came")
        expect(youtube).to_contain_text("2× source.bot_check, 1× source.changed")
        expect(youtube).to_contain_text(_latest(now - 600 + 2, rendered, "failed (source.changed)"))
        vimeo = panel.locator("li[data-site=vimeo]")
        expect(vimeo).to_have_attribute("data-works", "yes")
        expect(vimeo).to_contain_text(_latest(now - 120, rendered, "came"))
        expect(panel.locator("li[data-site=generic]")).to_contain_text("none failed")
        expect(panel.locator("li[data-site=dailymotion]")).to_have_count(0)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(viewport)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{label}: the page scrolls sideways"
            fits = panel.evaluate("p => p.scrollWidth <= p.clientWidth")
            assert fits, f"{label}: the panel's rows run past its edge"
            panel.screenshot(path=str(SHOTS / f"sites-{scheme}-{label}.png"))
    finally:
        context.close()


def test_with_no_links_yet_the_panel_says_so(tmp_path: Path) -> None:
    with running_web(tmp_path / "data") as server, server.client() as api:
        page = api.get("/").text
        sites = api.get("/api/v1/sites").json()
    assert sites["sites"] == []
    assert "No links in the last day." in page and f"yt-dlp {VERSION}" in page
