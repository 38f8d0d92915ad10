"""The page's Watches panel in a real browser (Playwright, Debian's Chromium) against
`ferryman web` on loopback, with a feed served on loopback: add a watch, see it listed
with its next look, pause and resume it, check it now (a new entry becomes a job, and
its `watch_found` notice reaches a signed webhook: the check goes through the store,
the engine sends it), a second watch that fails (its error and next step on the card),
remove with a confirm. Screenshots at 1280 and 390 px go to FERRYMAN_SCREENSHOTS."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_notify import SECRET, receiving, signed_right
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE, Confirms, chromium
from tests.support.httpserve import serving
from tests.support.waiting import eventually_sync
from tests.support.webserve import running_web
from tests.watch.test_watch_feed import serve_feed

pytestmark = [
    pytest.mark.slow,
    NEEDS_CHROMIUM,
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LOOK = 30_000  # ms: what waits on the engine's look (a loaded machine is slow)


@pytest.fixture
def page() -> Any:
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
        yield context.new_page()
        context.close()


def _add(page: Any, source: str, every: str) -> Any:
    page.get_by_role("button", name="Add a watch").click()
    form = page.locator("#watch-form")
    form.get_by_label("Feed, folder or channel").fill(source)
    form.get_by_label("Look every").select_option(label=every)
    form.get_by_label("Library").check()
    form.get_by_role("button", name="Watch it").click()
    expect(form).to_have_count(0, timeout=LOOK)  # closed once added
    return page.locator("#watches li.watch").filter(has_text=source)


def test_the_watches_panel_adds_lists_checks_pauses_and_removes(tmp_path: Path, page: Any) -> None:
    shots = Path(os.environ.get("FERRYMAN_SCREENSHOTS", str(tmp_path)))
    with receiving() as hook, serving() as feed:
        serve_feed(feed, tmp_path, ["ep1"])
        feed.add("/other.xml", feed.resources["/feed.xml"].data)
        env = {
            "FERRYMAN_NOTIFY__URLS": json.dumps([f"ferryman://127.0.0.1:{hook.port}/w"]),
            "FERRYMAN_NOTIFY__WEBHOOK_SECRET": SECRET,
            "FERRYMAN_NOTIFY__DIGEST_SECONDS": "0",
        }
        with running_web(tmp_path / "data", **env) as web:
            broken: list[str] = []
            page.on("pageerror", lambda error: broken.append(str(error)))
            page.goto(web.base)
            page.get_by_role("radio", name="Watches").check()  # their own view (a tab)
            expect(page.get_by_text("No watches yet.")).to_be_visible()
            # Add: listed with its state, period, and (after its first look) the next one.
            card = _add(page, feed.url("/feed.xml"), "day")
            expect(card).to_contain_text("to the library")
            expect(card).to_contain_text("every day")
            expect(card).to_contain_text(
                re.compile(r"Last look .* · next .+ \(in 2\d h\)"), timeout=LOOK
            )
            expect(page.get_by_text("No watches yet.")).to_be_hidden()
            # The first look (only what is new from now on) made no job.
            expect(card).to_contain_text("0 jobs made")
            # Pause and resume.
            card.get_by_role("button", name="Pause").click()
            expect(card.locator(".status")).to_have_text("paused")
            expect(card).to_contain_text("no look until resumed")
            card.get_by_role("button", name="Resume").click()
            expect(card.locator(".status")).not_to_have_text("paused")
            expect(card.get_by_role("button", name="Pause")).to_be_visible()
            # Resumed: it looks again at once, then every day.
            looked_again = re.compile(r"less than a minute ago\) · next .+ \(in 2\d h\)")
            expect(card).to_contain_text(looked_again, timeout=LOOK)
            # Check now: a new entry in the feed becomes a job, said on the card.
            serve_feed(feed, tmp_path, ["ep1", "ep2"])
            card.get_by_role("button", name="Check now").click()
            expect(card.get_by_role("status")).to_have_text(
                "Found 1 new: Episode ep2.", timeout=LOOK
            )
            expect(card).to_contain_text("1 job made", timeout=LOOK)
            job = page.locator("#jobs li.job").filter(has_text="drops")  # named after the feed
            expect(job).to_have_attribute("data-status", "done", timeout=120_000)
            # ... and the engine sent its notice, signed.
            found = eventually_sync(
                lambda: [
                    (h, b) for _, h, b in list(hook.got) if h["X-Ferryman-Event"] == "watch_found"
                ],
                "the watch_found notice",
            )
            ((headers, body),) = found
            assert signed_right(headers, body)
            assert json.loads(body)["watch"]["titles"] == ["Episode ep2"]
            # A second watch that fails: its state, code, message and next step.
            page.get_by_role("button", name="Add a watch").click()
            form = page.locator("#watch-form")
            form.get_by_label("Make").select_option("audio")  # the job form's choices
            expect(form.get_by_label("Format")).to_be_visible()
            page.set_viewport_size(PHONE)
            form.screenshot(path=str(shots / "watch-form-390.png"))
            page.set_viewport_size(DESKTOP)
            form.get_by_role("button", name="Cancel").click()
            other = _add(page, feed.url("/other.xml"), "hour")
            expect(other).to_contain_text("every 1 h")
            expect(other).to_contain_text(re.compile(r"· next .+ \(in (59|60) min\)"), timeout=LOOK)
            del feed.resources["/other.xml"]
            other.get_by_role("button", name="Check now").click()
            expect(other.locator(".status")).to_have_text("failing", timeout=LOOK)
            expect(other.locator("p.error").first).to_contain_text("source.")
            # Words first: the code is folded under Details; buttons name their watch.
            expect(other.locator("p.error code").first).to_be_hidden()
            expect(other.locator("p.error summary").first).to_have_text("Details")
            named = other.get_by_role("button", name=re.compile(r"^Check now http:"))
            expect(named).to_be_visible()
            expect(other.locator("p.error .next").first).not_to_be_empty()
            expect(other.get_by_role("status")).to_contain_text("it failed")
            assert not re.search(r"`ferryman|--[a-z]", other.inner_text())  # page words
            page.screenshot(path=str(shots / "watches-1280.png"), full_page=True)
            page.set_viewport_size(PHONE)
            page.screenshot(path=str(shots / "watches-390.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.emulate_media(color_scheme="light")  # the system's light theme too
            page.screenshot(path=str(shots / "watches-390-light.png"), full_page=True)
            page.emulate_media(color_scheme="dark")
            page.set_viewport_size(DESKTOP)
            # Remove, after a confirm: dismissed keeps it, accepted removes it.
            confirms = Confirms(page)  # one handler, each answer waited for
            confirms.give("dismiss")
            other.get_by_role("button", name="Remove").click()
            confirms.wait()
            expect(other).to_have_count(1)
            confirms.give("accept")
            other.get_by_role("button", name="Remove").click()
            confirms.wait()
            expect(other).to_have_count(0)
            with web.client() as client:
                listed = client.get("/api/v1/watches").json()["watches"]
            assert [w["source"] for w in listed] == [feed.url("/feed.xml")]
            page.reload()  # the panel is the store's, not the page's memory
            expect(page.locator("#watches li.watch")).to_have_count(1)
            assert broken == []  # no script error on the way
