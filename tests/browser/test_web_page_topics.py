"""The page's Telegram choice offers a forum group's topic per folder (issue 82, item 1),
in Debian's Chromium against `ferryman web`: Telegram chosen, a forum group's id typed,
"A topic per folder" ticked, Start (or Watch it, in the form of a watch); the job (the
watch) goes to ``telegram:-100…/topics``; "To download, kept in Telegram" to
``link:telegram``. Found by role and label as a person would. One
`ferryman web` (on a data folder logged in to the fake) and one Chromium for all tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import NEEDS_CHROMIUM
from tests.support.httpserve import serving
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web
from tests.watch.test_watch_feed import serve_feed
from tests.web.test_web_forum_topics import FORUM, TELEGRAM, logged_in_data

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/topics-shots"))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = logged_in_data(tmp_path_factory.mktemp("topics") / "data")
    with running_web(data, **TELEGRAM) as server:
        yield server


def test_the_page_sends_to_a_forum_groups_topic_per_folder(web: WebServer, page: Any) -> None:
    with web.client() as client:
        before = {job["id"] for job in client.get("/api/v1/jobs").json()["jobs"]}
    page.goto(web.base)
    topics = page.get_by_role("checkbox", name="A topic per folder (a forum group)")
    playwright_api.expect(topics).to_be_hidden()  # Telegram's own choice, shown with it
    page.get_by_role("radio", name="Telegram", exact=True).check()
    page.get_by_role("textbox", name="Chat").fill(FORUM)
    topics.check()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "topics.png"))
    page.get_by_role("textbox", name="Link").fill("https://127.0.0.1:9/trip.zip")
    page.get_by_role("button", name="Start").click()
    playwright_api.expect(page.get_by_role("listitem").first).to_be_visible(timeout=30_000)
    with web.client() as client:
        jobs = client.get("/api/v1/jobs").json()["jobs"]
    (job,) = [job for job in jobs if job["id"] not in before]
    assert job["dest"] == f"telegram:{FORUM}/topics", job


def test_a_watch_added_on_the_page_goes_to_a_forum_groups_topic_per_folder(
    tmp_path: Path, web: WebServer, page: Any
) -> None:
    with serving() as feed:
        serve_feed(feed, tmp_path, ["ep1"])
        page.goto(web.base)
        page.get_by_role("radio", name="Watches").check()
        page.get_by_role("button", name="Add a watch").click()
        form = page.locator("#watch-form")
        form.get_by_label("Feed, folder or channel").fill(feed.url("/feed.xml"))
        form.get_by_label("Telegram", exact=True).check()
        form.get_by_label("Chat").fill(FORUM)
        form.get_by_label("A topic per folder (a forum group)").check()
        form.get_by_role("button", name="Watch it").click()
        playwright_api.expect(form).to_have_count(0, timeout=30_000)  # closed once added
        with web.client() as client:
            (watch,) = client.get("/api/v1/watches").json()["watches"]
        assert watch["dest"] == f"telegram:{FORUM}/topics", watch


def test_the_page_sends_a_job_to_download_links_kept_in_telegram(web: WebServer, page: Any) -> None:
    """The form's "To download, kept in Telegram" (issue 82, item 3) adds a job bound for
    ``link:telegram``, through the same form and API as the other choices."""
    with web.client() as client:
        before = {job["id"] for job in client.get("/api/v1/jobs").json()["jobs"]}
    page.goto(web.base)
    page.get_by_role("radio", name="To download, kept in Telegram").check()
    playwright_api.expect(page.get_by_role("textbox", name="Chat")).to_be_hidden()
    page.get_by_role("textbox", name="Link").fill("https://127.0.0.1:9/big.zip")
    page.get_by_role("button", name="Start").click()
    # The module's server holds the jobs of the tests before: a card on the page says
    # nothing of this one (a run read the list before the form's POST had landed).
    with web.client() as client:

        def added() -> list[dict[str, Any]]:
            jobs = client.get("/api/v1/jobs").json()["jobs"]
            return [job for job in jobs if job["id"] not in before]

        (job,) = eventually_sync(added, "the form's job", within=30)
    assert job["dest"] == "link:telegram", job
