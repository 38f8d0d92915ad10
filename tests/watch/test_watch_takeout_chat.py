"""A Google Takeout's parts posted to a Telegram channel at different looks of a chat
watch (the real Telethon client against the fake Telegram): each part is held until
no part of its set has come for ``watch.takeout_quiet_seconds``
(``engine/watch/takeout_hold``), then the set is one job, every photo's date and place
right and each photo stored once. A chat is read on from its last message: a text post
after part 2 moves the reading past both held parts, which the store's record puts
back. Every look is a new engine (a restart); the quiet time runs on the store's
injected clock. The generated export of ``tests/engine/test_takeout``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faketg import FakeTelegram
from faketg.client import FakeDialer
from faketg.people import channel_posts, stored_document
from faketg.state import Account, Channel
from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.engine.watch.takeout_hold import recorded
from ferryman.store import Store
from tests.engine.test_takeout import check_library, takeout
from tests.support.contract import memory_store
from tests.support.telegram_helpers import log_in, tg_settings
from tests.watch.test_watch_takeout_remote import QUIET, Later

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _post(server: FakeTelegram, poster: Account, channel: Channel, part: Path) -> int:
    """A part posted as a document (as a phone shares a download), its caption none."""
    media = stored_document(server, poster, part.read_bytes(), part.name, "application/zip")
    [message] = channel_posts(server, poster, channel, [("", media)])
    return message.id


async def _look(store: Store, settings: Settings, server: FakeTelegram) -> None:
    """An engine run until idle: the watch's look if it is due, and the jobs made."""
    engine = Engine(store, settings, dialer=FakeDialer(server))
    try:
        await asyncio.wait_for(engine.run(until_idle=True), 120)
    finally:
        await engine.ctx.resources.close()


async def test_a_chat_watch_makes_one_job_of_parts_posted_at_different_looks(
    store: Store, tmp_path: Path
) -> None:
    server = FakeTelegram()
    me = server.add_user("Ann", username="ann_phone")
    poster = server.add_user("Poster", username="poster")
    news = server.add_channel("News", username="newsroom", admins=[poster])
    settings = tg_settings(
        tmp_path,
        watch={"settle_seconds": 0.0, "takeout_quiet_seconds": QUIET},
        media={"segment_seconds": 2, "library_convert": False},  # originals kept
        library_layout="{source}/{path}/{name}",
    )
    await log_in(settings, server, me)
    zips, content = takeout(tmp_path / "made-export")
    store.clock = clock = Later()
    _post(server, poster, news, zips[0])
    watch = await store.add_watch(
        kind="telegram",
        source="https://t.me/newsroom",
        dest="library:",
        every_seconds=86_400.0,
        since="all",
        next_check_at=0.0,
    )
    await _look(store, settings, server)
    assert await store.list_jobs() == []  # held: its next part may be on its way
    held = recorded(ident for ident, _ in await store.watch_seen_rows(watch.id))
    assert [h.entry.name for h in held.values()] == [zips[0].name]

    clock.now += 300.0  # five minutes on: part 2, then a text post
    _post(server, poster, news, zips[1])
    [said] = channel_posts(server, poster, news, [("that was all of it", None)])
    await store.set_watch_paused(watch.id, False)  # due now
    await _look(store, settings, server)
    assert await store.list_jobs() == []
    rows = await store.watch_seen_rows(watch.id)
    assert [i for i, _ in rows if i.endswith(f"/{said.id}")]  # the reading moved past it
    again = recorded(ident for ident, _ in rows)
    assert sorted(h.entry.name or "" for h in again.values()) == [z.name for z in zips]
    assert {i: h.at for i, h in again.items() if i in held} == {i: h.at for i, h in held.items()}

    clock.now += QUIET  # quiet since part 2: the look lists nothing new, the record does
    await store.set_watch_paused(watch.id, False)
    await _look(store, settings, server)
    jobs = await store.list_jobs()
    assert len(jobs) == 1 and jobs[0].state.value == "done", jobs
    check_library(settings.library, content)  # 100 % of dates and places, each once
    assert recorded(i for i, _ in await store.watch_seen_rows(watch.id)) == {}  # records gone
    await store.set_watch_paused(watch.id, False)
    await _look(store, settings, server)
    assert len(await store.list_jobs()) == 1  # taken once
