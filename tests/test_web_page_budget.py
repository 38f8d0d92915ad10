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
from tests.browser import DESKTOP, NEEDS_CHROMIUM, chromium
from tests.webserve import running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium() as browser:
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
        playwright_api.expect(cards).to_have_count(40, timeout=30_000)
        for box in page.get_by_role("checkbox", name=re.compile("^Select ")).all():
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
