"""Many t.me links fetched at once: a fetch worker that claimed one Telegram link claims
more (``sources.base.Pooled``: their requests share one connection pool), so a list of
photo links is not fetched ``concurrency.fetch`` at a time, two round trips each."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telethon.tl import functions

from faketg import LinkModel
from faketg.client import FakeDialer
from faketg.people import channel_posts, stored_photo
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files
from tests.telegram.test_telegram_links import world_at

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

LINKS = 6
WORKERS = 2  # concurrency.fetch
HELD_UNTIL = 5  # files whose first request is in before any is answered


async def test_links_are_fetched_more_at_once_than_the_fetch_workers(
    tmp_path: Path, store: Store
) -> None:
    """Six photo links with two fetch workers: every file's request is held until five
    files have asked (two workers alone never get there), then all six reach the
    library byte for byte, one job each, each done. The channel, new to the account,
    is learnt by one reading of its dialogs, not one for each link fetched at once."""
    await _held_until(tmp_path, store, LINKS, HELD_UNTIL)


async def test_two_workers_fetch_more_than_sixteen_small_links_at_once(
    tmp_path: Path, store: Store
) -> None:
    """A photo's fetch is mostly round trips and its settle's commit, and its requests
    share the pool's window: two workers run more than 8 each (17 files ask before any
    is answered; with 8 a worker, 16 did and the rest waited for an answer)."""
    await _held_until(tmp_path, store, 18, 17)


async def _held_until(tmp_path: Path, store: Store, links: int, held_until: int) -> None:
    async with world_at(tmp_path, link=LinkModel(latency=0.05)) as w:  # fetches overlap
        photos = [p.read_bytes() for p in make_photo_set(tmp_path / "photos", links)]
        posted = [
            channel_posts(
                w.server, w.poster, w.private, [("", stored_photo(w.server, w.poster, p))]
            )
            for p in photos
        ]
        jobs = [
            await intake.add_source(store, f"https://t.me/c/{w.private.id}/{message.id}")
            for [message] in posted
        ]
        handle: Callable[[Any, Any], Any] = w.server.handle
        asking: set[int] = set()
        enough = asyncio.Event()

        async def held(call: Any, request: Any) -> Any:
            if isinstance(request, functions.upload.GetFileRequest):
                asking.add(request.location.id)
                if len(asking) >= held_until:
                    enough.set()
                await asyncio.wait_for(enough.wait(), 30)
            return await handle(call, request)

        w.server.handle = held  # type: ignore[method-assign]
        concurrency = w.settings.concurrency.model_copy(update={"fetch": WORKERS})
        settings = w.settings.model_copy(update={"concurrency": concurrency})
        engine = Engine(store, settings, dialer=FakeDialer(w.server))
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        assert len(asking) == links
        assert w.server.stats.requests["GetDialogsRequest"] == 1
        for job in jobs:
            assert (await store.get_job(job.id)).state is JobState.DONE
        got = sorted(e["disk_sha256"] for e in library_files(settings.library))
        assert got == sorted(hashlib.sha256(p).hexdigest() for p in photos)
