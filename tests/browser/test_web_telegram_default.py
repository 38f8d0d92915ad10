"""The form's Telegram chat as a person finds it, in Debian's Chromium against `ferryman
web` (Playwright): a person who linked a Telegram account finds the chat already at
that account (never ``me``, the server account's Saved Messages, which is refused them)
and a Start with it untouched sends there; a person who linked none reads how to link
one (``/link CODE``) where the chat would be; an administrator's starts at ``me``.
Screenshots of each kept in ``FERRYMAN_SCREENSHOTS`` (default /tmp/tgdefault-shots)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.store import Store
from tests.browser.test_web_accounts_page import WAIT, _add_people, _signed_in
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.webserve import running_web
from tests.web.test_web_forum_topics import TELEGRAM, logged_in_data

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/tgdefault-shots"))
ANN_TELEGRAM = 5_550_001  # the Telegram user Ann linked (as /link CODE would record)


async def _link(data: Path, name: str, telegram: int) -> None:
    settings = load_settings(None, {"data_dir": data})
    store = await Store.open(settings.database)
    try:
        user = await store.user_named(name)
        assert user is not None
        await store.update_user(user.id, tg_user_id=telegram)
    finally:
        await store.close()


def _jobs(page: Any) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = page.evaluate(
        'async () => (await (await fetch("/api/v1/jobs")).json()).jobs'
    )
    return answer


def test_a_persons_telegram_chat_starts_at_their_own_account(tmp_path: Path, browser: Any) -> None:
    # Playwright's loop runs on this thread: the store and the fake's log-in on another.
    with ThreadPoolExecutor(1) as other:
        data = other.submit(logged_in_data, tmp_path / "data").result()
        _add_people(data)
        other.submit(asyncio.run, _link(data, "ann", ANN_TELEGRAM)).result()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_web(data, **TELEGRAM) as web:
        ann = _signed_in(browser, web.base, "ann")
        ann.get_by_role("radio", name="Telegram", exact=True).check()
        chat = ann.get_by_role("textbox", name="Chat")
        expect(chat).to_have_value(str(ANN_TELEGRAM))
        expect(ann.locator("#chat-own")).to_have_text(
            f"{ANN_TELEGRAM} is your own Telegram account"
        )
        ann.locator("fieldset", has_text="Destination").screenshot(path=str(SHOTS / "linked.png"))
        ann.get_by_role("textbox", name="Link").fill("https://127.0.0.1:9/trip.zip")
        ann.get_by_role("button", name="Start").click()
        expect(ann.locator("#jobs li[data-job]")).to_have_count(1, timeout=WAIT)
        (job,) = _jobs(ann)
        assert job["dest"] == f"telegram:{ANN_TELEGRAM}", job

        bob = _signed_in(browser, web.base, "bob")
        unlinked = bob.locator("#telegram-unlinked")
        expect(unlinked).to_be_visible()
        expect(unlinked).to_contain_text("/link CODE")
        expect(bob.get_by_role("radio", name="Telegram", exact=True)).to_have_count(0)
        expect(bob.get_by_role("radio", name="To download, kept in Telegram")).to_have_count(1)
        expect(bob.get_by_role("button", name="Link Telegram")).to_be_visible(timeout=WAIT)
        bob.locator("fieldset", has_text="Destination").screenshot(path=str(SHOTS / "unlinked.png"))
        bob.screenshot(path=str(SHOTS / "unlinked-page.png"), full_page=True)

        root = _signed_in(browser, web.base, "root")
        root.get_by_role("radio", name="Telegram", exact=True).check()
        expect(root.get_by_role("textbox", name="Chat")).to_have_value("me")
        expect(root.locator("#chat-own")).to_have_count(0)
