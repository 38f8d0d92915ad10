"""A row a MeTube user reads at a glance (issue 60, item 6), in Debian's Chromium against
`ferryman web`: its size and when it ended on the row, where it went and when it was added
in its details, Remove saying what it keeps (a library's files stay, a link's go),
"Retry selected" only for what can be retried, and a library's raw text never on a card."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.errors import FerrymanError
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.browser.test_web_page_list import _card, _shots, _upload
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.webserve import running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

RAW = (
    "youtu.be: HTTPSConnection(host='youtu.be', port=443): Failed to resolve 'youtu.be'"
    " ([Errno -2] Name or service not known)"
)


def _seed(data: Path) -> tuple[int, int]:
    """A link job failed with a library's raw text, and a library job failed plainly."""

    async def seed() -> tuple[int, int]:
        store = await Store.open(load_settings(None, {"data_dir": data}).database)
        try:
            raw = await store.add_job(
                source="https://youtu.be/x", name="clip", dest="link:",
                error=FerrymanError("source.host_unknown", RAW),
            )  # fmt: skip
            plain = await store.add_job(
                source="file:///in/a.zip", name="album", dest="library:",
                error=FerrymanError("archive.unreadable", "a.zip is not a zip"),
            )  # fmt: skip
            return raw.id, plain.id
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as other:  # Playwright's loop holds this thread
        return other.submit(asyncio.run, seed()).result()


def test_rows_say_size_time_place_and_what_remove_keeps(tmp_path: Path, page: Any) -> None:
    data = tmp_path / "data"
    raw_job, library_job = _seed(data)
    (photo,) = make_photo_set(tmp_path / "in", 1, start_seed=5)
    with running_web(data) as web:
        done = _upload(web, photo)
        web.wait_for(done, ("done",), within=60)
        page.goto(web.base)
        card = _card(page, done)
        expect(card).to_have_attribute("data-status", "done")
        # The row: what it came to and when, not "100%".
        expect(card.locator(".detail")).to_have_text(re.compile(r"^\d+ kB · \S+"))
        card.get_by_role("button", name=f"Details of {photo.stem}").click()
        where = card.locator(".where")
        expect(where).to_contain_text("to a download link")
        expect(where).to_contain_text("added ")
        expect(where).to_contain_text("ended ")

        # The raw text is under Details only; the card says it in words.
        raw = _card(page, raw_job)
        note = raw.locator(".error").first
        expect(note).to_contain_text("The link's server was not found.")
        said = note.evaluate("e => e.firstChild.textContent")
        assert "Errno" not in said and "HTTPSConnection" not in said, said
        raw.locator("summary", has_text="Details").click()
        expect(raw.locator("pre.said")).to_have_text(RAW)

        # Remove says what stays: the library's files; a link's go with it.
        asked: list[str] = []

        def answer(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", answer)
        _card(page, library_job).get_by_role("button", name="Remove").click()
        raw.get_by_role("button", name="Remove").click()
        expect(_card(page, library_job)).to_have_count(1)  # dismissed: nothing went
        assert asked == [
            "Remove “album” from the list? Its files stay in the library.",
            "Remove “clip” from the list? Its download links and their files go too.",
        ], asked
        title = _card(page, library_job).get_by_role("button", name="Remove").get_attribute("title")
        assert title == "Forget this job: its files stay in the library"

        # "Retry selected" only when something selected can be retried.
        retry = page.locator("#picked-retry")
        card.get_by_label(f"Select {photo.stem}").check()
        expect(page.locator("#picked")).to_be_visible()
        expect(retry).to_be_hidden()  # a whole done job: nothing to retry
        raw.get_by_label("Select clip").check()
        expect(retry).to_be_visible()
        _shots(page, "rows")  # no row wider than a phone's screen, light and dark
