"""The page under a low rate limit, in Chromium: an upload of several 8 MiB pieces
goes through (its pieces are outside the budget, where they died at 429), and
"Remove selected" on many jobs is one request, not one per job."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.errors import FerrymanError
from ferryman.store import Store
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM
from tests.support.webserve import running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh context a test in the module's Chromium (``conftest.py``): a launch
    is about 1.6 CPU-seconds, and a context isolates what a test leaves behind."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def _api_requests(page: Any) -> list[str]:
    """Every API request the page makes, as ``METHOD path``."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: (
            seen.append(f"{r.method} {r.url.split('/api/v1', 1)[1]}")
            if "/api/v1/" in r.url and r.resource_type != "websocket"
            else None
        ),
    )
    return seen


def test_an_upload_of_five_pieces_goes_through_under_six_requests_a_minute(
    tmp_path: Path, page: Any
) -> None:
    """33 MiB: five pieces. Loading the page, starting the upload and the job take
    about five requests; the five pieces on top (and their recoveries) met the limit."""
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        out.truncate(4 * 8 * 1024 * 1024 + 1024 * 1024)
    requests = _api_requests(page)
    with running_web(tmp_path / "data", FERRYMAN_WEB__RATE_LIMIT="6") as web:
        page.goto(web.base)
        page.locator("#files").set_input_files(str(big))
        page.get_by_role("button", name="Start").click()
        card = page.locator("#jobs li.job")
        playwright_api.expect(card).to_have_count(1, timeout=60_000)
        playwright_api.expect(card.first).to_contain_text("big.bin")
        playwright_api.expect(page.locator("#form-error")).to_have_text("")
        pieces = [r for r in requests if r.startswith("PUT /uploads/")]
        assert len(pieces) == 5, requests
        assert not [r for r in requests if r.startswith("POST /uploads")][1:], requests


async def _failed_jobs(database: str, count: int) -> None:
    store = await Store.open(database)
    try:
        broken = FerrymanError("archive.unreadable", "not a zip")
        for n in range(count):
            await store.add_job(
                source=f"file:///in/{n}.zip", name=f"{n}.zip", dest="link:", error=broken
            )
    finally:
        await store.close()


def test_remove_selected_on_forty_jobs_is_one_request_under_ten_a_minute(
    tmp_path: Path, page: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(None, {"data_dir": data})
    with ThreadPoolExecutor(1) as aside:  # Playwright's loop runs in this thread
        aside.submit(asyncio.run, _failed_jobs(settings.database, 40)).result()
    requests = _api_requests(page)
    with running_web(data, FERRYMAN_WEB__RATE_LIMIT="10") as web:
        page.goto(web.base)
        cards = page.locator("#jobs li.job")
        # The server draws the first paint without checkboxes; the script's rows have them.
        boxes = page.get_by_role("checkbox", name=re.compile("^Select "))
        playwright_api.expect(boxes).to_have_count(40, timeout=30_000)
        for box in boxes.all():
            box.check()
        playwright_api.expect(page.locator("#picked")).to_contain_text("40 selected")
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Remove selected").click()
        playwright_api.expect(cards).to_have_count(0, timeout=30_000)
        playwright_api.expect(page.locator("#form-error")).to_have_text("")
        assert [r for r in requests if r.startswith(("POST /jobs", "DELETE /jobs"))] == [
            "POST /jobs/bulk"
        ], requests
        with web.client() as api:
            assert api.get("/api/v1/jobs").json()["jobs"] == []


def _watch_upload_state(page: Any) -> None:
    page.evaluate(
        """() => { window.said = []; const box = document.getElementById("upload-state");
        new MutationObserver(() => window.said.push(box.textContent))
          .observe(box, { childList: true, characterData: true, subtree: true }); }"""
    )


def test_a_piece_answered_429_waits_what_retry_after_says_and_goes_on(
    tmp_path: Path, page: Any
) -> None:
    """A proxy (or an older server) answers a piece 429 with Retry-After: 2: the page
    says "waiting N s", then sends that piece again (it gave the upload up)."""
    big = tmp_path / "two.bin"
    with big.open("wb") as out:
        out.truncate(8 * 1024 * 1024 + 4096)
    limited: list[str] = []

    def once_429(route: Any) -> None:
        if route.request.method == "PUT" and not limited:
            limited.append(route.request.headers.get("content-range", ""))
            body = '{"error": {"code": "rate.limited", "message": "slow down", "next": ""}}'
            route.fulfill(
                status=429,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body=body,
            )
        else:
            route.continue_()

    requests = _api_requests(page)
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        page.route("**/api/v1/uploads/*", once_429)
        _watch_upload_state(page)
        page.locator("#files").set_input_files(str(big))
        page.get_by_role("button", name="Start").click()
        card = page.locator("#jobs li.job")
        playwright_api.expect(card).to_have_count(1, timeout=60_000)
        playwright_api.expect(page.locator("#form-error")).to_have_text("")
        said: list[str] = page.evaluate("window.said")
        assert any("waiting 2 s" in t for t in said), said
        assert any("waiting 1 s" in t for t in said), said
        pieces = [r for r in requests if r.startswith("PUT /uploads/")]
        assert len(pieces) == 3, requests  # the first piece twice, then the second
        assert limited == [f"bytes 0-{8 * 1024 * 1024 - 1}/{big.stat().st_size}"]


def test_start_again_with_the_same_file_goes_on_from_the_last_piece(
    tmp_path: Path, page: Any
) -> None:
    """The page is reloaded after the first of three pieces: choosing the same file
    and Start again asks where its upload stands and sends only the rest."""
    big = tmp_path / "three.bin"
    with big.open("wb") as out:
        out.truncate(2 * 8 * 1024 * 1024 + 4096)
    ranges: list[str] = []
    page.on(
        "request",
        lambda r: (
            ranges.append(r.headers.get("content-range", ""))
            if r.method == "PUT" and "/api/v1/uploads/" in r.url
            else None
        ),
    )
    requests = _api_requests(page)
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(  # slow enough that the reload lands mid-file
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 4e6},
        )
        page.locator("#files").set_input_files(str(big))
        with page.expect_response(lambda r: r.request.method == "PUT" and r.ok, timeout=60_000):
            page.get_by_role("button", name="Start").click()
        page.reload()
        before = len(ranges)  # the first piece and perhaps the one the reload cut
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        page.locator("#files").set_input_files(str(big))
        page.get_by_role("button", name="Start").click()
        card = page.locator("#jobs li.job")
        playwright_api.expect(card).to_have_count(1, timeout=60_000)
        playwright_api.expect(card.first).to_contain_text("three.bin")
        assert len([r for r in requests if r.startswith("POST /uploads")]) == 1, requests
        piece = 8 * 1024 * 1024
        size = big.stat().st_size
        assert ranges[0] == f"bytes 0-{piece - 1}/{size}", ranges
        # After the reload: on from where the server stands (past the first piece;
        # what the cut piece had sent is kept, even when the browser did not report
        # the cut request), to the end.
        after = ranges[before:]
        assert after, ranges
        resumed = int(after[0].split()[1].split("-")[0])
        assert resumed >= piece and after[-1].endswith(f"-{size - 1}/{size}"), ranges
        # Only what the reload cut is sent twice: never the first piece again.
        assert ranges.count(f"bytes 0-{piece - 1}/{size}") == 1, ranges
        with web.client() as api:
            (job,) = api.get("/api/v1/jobs").json()["jobs"]
            assert job["name"].startswith("three")
