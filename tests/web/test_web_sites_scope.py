"""``/api/v1/sites`` (and the page's sites panel) tell a person the sites of their own
jobs' links only: which sites someone used, and when, is theirs. An administrator sees
everyone's, and the lines of no person's jobs (the CLI's, an administrator's). Through
the real app on a store with accounts, signed in as each (httpx over ASGI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.links.health import record
from ferryman.store.memory.store import MemoryStore
from ferryman.web.server import web_app
from tests.support.clock import ManualClock
from tests.web.test_web_accounts import API, _client, _people, _signed_in


def _sites(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return {s["site"]: s for s in answer.json()["sites"]}


async def test_a_person_sees_the_sites_of_their_own_links_and_an_admin_all(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()
    await _people(store)
    ann, bob = await store.user_named("ann"), await store.user_named("bob")
    assert ann is not None and bob is not None
    clock = ManualClock()
    now = clock.now()
    data = settings.data_dir
    record(data, "youtube", None, now=now - 600, account=ann.id)
    record(data, "youtube", "source.bot_check", now=now - 300, account=ann.id)
    record(data, "vimeo", None, now=now - 200, account=bob.id)
    record(data, "dailymotion", None, now=now - 100)  # the CLI's: no person's
    try:
        async with web_app(settings, store, EventBus(), lambda: True, clock=clock) as served:
            seen: dict[str, dict[str, Any]] = {}
            pages: dict[str, str] = {}
            for name in ("ann", "bob", "root"):
                async with _client(served) as client:
                    await _signed_in(client, name)
                    seen[name] = _sites(await client.get(f"{API}/sites"))
                    pages[name] = (await client.get("/")).text
    finally:
        await store.close()
    assert set(seen["ann"]) == {"youtube"}
    assert seen["ann"]["youtube"]["total"] == 2
    assert seen["ann"]["youtube"]["failed"] == {"source.bot_check": 1}
    assert seen["ann"]["youtube"]["last_at"] == now - 300
    assert set(seen["bob"]) == {"vimeo"}
    assert set(seen["root"]) == {"youtube", "vimeo", "dailymotion"}
    # The page's panel is the same view: a person's shows no one else's sites.
    assert "youtube" in pages["ann"] and "vimeo" not in pages["ann"]
    assert "dailymotion" not in pages["ann"] and "dailymotion" not in pages["bob"]
    assert all(site in pages["root"] for site in ("youtube", "vimeo", "dailymotion"))
