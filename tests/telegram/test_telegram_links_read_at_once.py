"""Many t.me photo links read at once: the read stage's worker that claimed a job whose
input was fetched as one small file reads more such jobs beside it
(``engine.read.READS_AT_ONCE``), so 200 links' photos no longer wait for each other's
store round trips one job after another."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

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

LINKS = 5
HELD_UNTIL = 3  # jobs whose entries are being recorded before any is


async def test_photo_links_are_read_more_at_once_than_the_read_workers(
    tmp_path: Path, store: Store
) -> None:
    """Five photo links and one read worker (the default): each job's first record is
    held until three jobs are recording at once (one worker reading one job at a time
    never gets there), then all five reach the library byte for byte, each done."""
    async with world_at(tmp_path) as w:
        photos = [p.read_bytes() for p in make_photo_set(tmp_path / "photos", LINKS)]
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
        record = store.record_entries
        recording: set[int] = set()
        enough = asyncio.Event()
        timed_out = False

        async def held(job_id: int, *args: Any, **kwargs: Any) -> Any:
            nonlocal timed_out
            recording.add(job_id)
            if len(recording) >= HELD_UNTIL:
                enough.set()
            try:
                await asyncio.wait_for(enough.wait(), 15)
            except TimeoutError:  # one at a time: let them go, and say so below
                timed_out = True
                enough.set()
            return await record(job_id, *args, **kwargs)

        store.record_entries = held  # type: ignore[method-assign]
        assert w.settings.concurrency.read == 1
        engine = Engine(store, w.settings, dialer=FakeDialer(w.server))
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        assert not timed_out and len(recording) == LINKS
        for job in jobs:
            assert (await store.get_job(job.id)).state is JobState.DONE
        got = sorted(e["disk_sha256"] for e in library_files(w.settings.library))
        assert got == sorted(hashlib.sha256(p).hexdigest() for p in photos)
