"""A conversion waits only for work that can move now, never for another job's download.

Deferred conversion lets photos and playable videos go out first. It once counted a
job whose input was still downloading (or whose download waited out a retry's backoff)
as "a job to read": a local VP9 clip beside a slow link was read at once, but its
encode began only when the unrelated download ended, and beside a dead link only
when its retries ran out.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import (
    Event,
    ItemConverting,
    JobFetched,
    JobFinished,
    JobReadDone,
)
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.samples import make_photo_set, make_tar
from ferryman.store import Store
from ferryman.store.store import NewItem
from tests.media.test_media_probe_plan import write_video
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import eventually

SLOW_BYTES = 2_000_000  # 40 s at 50 kB/s: far longer than any wait below
PACE = 50_000.0  # bytes per second


def _closed_port() -> int:
    """A loopback port nothing listens on: a connection there is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _deferred(seq: int) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"v{seq}.webm",
        kind=MediaKind.VIDEO,
        state=ItemState.CONVERT,
        plan=Plan.TRANSCODE,
    )


async def test_a_download_queued_running_or_backing_off_holds_no_conversion(
    store: Store,
) -> None:
    """Store level, both stores: a job whose fetch is queued, running or waiting out a
    backoff is not a job to read; once its input is in, its reading holds conversions."""
    link = await store.add_job(source="https://h/big.bin", name="big", dest="library:", fetch=True)
    clip = await store.add_job(source="/clip", name="clip", dest="library:")
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == clip.id  # the link is not readable yet
    await store.record_entry(clip.id, "r", 1, _deferred(0))
    await store.record_entry(clip.id, "r", 2, _deferred(1))
    await store.record_entry(clip.id, "r", 3, _deferred(2))
    await store.finish_expansion(clip.id, "r")
    # Queued, not yet fetched (before: the link's job counted as a job to read).
    assert await _converts(store) == clip.id
    fetch = await store.claim_fetch("f", 30)  # downloading now
    assert fetch is not None and fetch.job_id == link.id
    assert await _converts(store) == clip.id
    refused = FerrymanError("source.io", "connection refused")
    await store.fetch_retry(fetch.id, "f", refused, 60.0)  # backing off for a minute
    assert await _converts(store) == clip.id
    # Its input is here: the job can be read now, and its reading goes first.
    again = await store.claim_fetch("f", 30)
    assert again is None  # still backing off
    await _fetch_now(store, fetch.id)
    assert await store.claim_conversion("c", 30) is None


async def test_a_job_read_as_it_streams_from_a_server_holds_no_conversion(store: Store) -> None:
    """A tar read as it downloads (a zip by Range too) is a download in progress: its
    read comes at the network's pace, and an encode beside it waits for nothing."""
    link = await store.add_job(source="https://h/t.tar", name="t", dest="library:", fetch=True)
    clip = await store.add_job(source="/clip", name="clip", dest="library:")
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == clip.id
    await store.record_entry(clip.id, "r", 1, _deferred(0))
    await store.record_entry(clip.id, "r", 2, _deferred(1))
    await store.finish_expansion(clip.id, "r")
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None
    await store.fetch_done(fetch.id, "f", None, None)  # read in place: nothing stored
    assert await _converts(store) == clip.id  # queued to be read as it streams
    reading = await store.claim_job("r", 30)
    assert reading is not None and reading.id == link.id
    assert await _converts(store) == clip.id  # being read as it streams
    photo = NewItem(
        seq=0, source_path="p.jpg", kind=MediaKind.PHOTO, state=ItemState.READY, plan=Plan.AS_IS
    )
    await store.record_entry(link.id, "r", 1, photo)
    assert await _converts(store) == clip.id  # its album fills as the stream goes on
    await store.set_wait(link.id, "r", "backlog", blocked=True)  # its partial album goes
    assert await store.claim_conversion("c", 30) is None


async def _converts(store: Store) -> int | None:
    """The job of the conversion claimed now (handed back at once), if one is."""
    item = await store.claim_conversion("c", 30)
    if item is None:
        return None
    await store.item_retry(item.id, "c", FerrymanError("media.convert_failed", "again"), 0.0)
    return item.job_id


async def _fetch_now(store: Store, fetch_id: int) -> None:
    """The backoff is over and the fetch ends: the input is on disk."""
    from sqlalchemy import update

    from ferryman.store.schema import fetches

    async with store.engine.begin() as conn:
        await conn.execute(update(fetches).where(fetches.c.id == fetch_id).values(not_before=0))
    claimed = await store.claim_fetch("f", 30)
    assert claimed is not None and claimed.id == fetch_id
    await store.fetch_done(fetch_id, "f", "/work/big.bin", SLOW_BYTES)


@pytest.mark.parametrize("beside", ["slow download", "dead link"])
async def test_a_local_clip_is_encoded_while_another_job_downloads(
    beside: str, tmp_path: Path, settings: Settings
) -> None:
    """Through the engine: the clip's encode starts as soon as it is read, while the
    other job still downloads at 50 kB/s, or still retries a refused connection."""
    clip = write_video(tmp_path / "long.webm", fmt="webm", vcodec="libvpx-vp9", acodec=None)
    seen: list[tuple[float, Event]] = []
    store = await Store.open(settings.database)
    with serving() as server:
        url = _beside(beside, server)
        engine = Engine(store, settings)
        engine.bus.subscribe(lambda event: seen.append((time.monotonic(), event)))
        running = asyncio.create_task(engine.run())
        try:
            other = await intake.add_source(store, url, settings=settings)
            engine.ctx.wakeup.notify()
            # The other job is under way first: bytes arriving, or a first try refused.
            if beside == "dead link":
                await eventually(store.fetch_errors, "the dead link's first try failed")
            else:
                await eventually(lambda: server.served["/big.bin"] > 0, "the download began")
            local = await intake.add_source(store, clip, settings=settings)
            engine.ctx.wakeup.notify()
            started = await eventually(
                lambda: _when(seen, ItemConverting, local.id),
                "the clip's encode started",
                within=15,  # before: 40 s (the download) or ~30 s (the retries)
            )
            read = _when(seen, JobReadDone, local.id)
            assert read is not None and read <= started
            # The other job has not moved on: still downloading, or still retrying.
            assert _when(seen, JobFetched, other.id) is None
            assert _when(seen, JobFinished, other.id) is None
            print(f"{beside}: encode began {started - read:.2f} s after the clip was read")
        finally:
            engine.stop()
            await asyncio.wait_for(running, 30)
            await store.close()


def _beside(beside: str, server: FaultServer) -> str:
    """The other job's link: a file sent at 50 kB/s, or a port that refuses."""
    if beside == "dead link":
        return f"http://127.0.0.1:{_closed_port()}/gone.mp4"
    server.add("/big.bin", b"\x00" * SLOW_BYTES, faults=Faults(trickle=PACE))
    return server.url("/big.bin")


async def test_a_clip_in_a_tar_read_as_it_streams_is_encoded_before_the_stream_ends(
    tmp_path: Path, settings: Settings
) -> None:
    """One tar read as it downloads at 50 kB/s: two photos (their album still filling),
    the VP9 clip, then 2 MB more. The clip's encode starts while the rest streams in,
    not when the read ends."""
    photos = make_photo_set(tmp_path / "p", 2, size=(64, 48))
    (tmp_path / "v").mkdir()
    clip = write_video(tmp_path / "v" / "long.webm", fmt="webm", vcodec="libvpx-vp9", acodec=None)
    filler = tmp_path / "filler.bin"
    filler.write_bytes(random.Random(7).randbytes(SLOW_BYTES))
    tar = make_tar(tmp_path / "trip.tar", [(f"trip/{p.name}", p) for p in [*photos, clip, filler]])
    seen: list[tuple[float, Event]] = []
    store = await Store.open(settings.database)
    with serving() as server:
        server.add("/trip.tar", tar.read_bytes(), content_type="application/x-tar")
        server.resources["/trip.tar"].faults.trickle = PACE
        engine = Engine(store, settings)
        engine.bus.subscribe(lambda event: seen.append((time.monotonic(), event)))
        job = await intake.add_source(store, server.url("/trip.tar"), settings=settings)
        running = asyncio.create_task(engine.run())
        try:
            await eventually(
                lambda: _when(seen, ItemConverting, job.id),
                "the clip's encode started",
                within=15,  # before: when the read ended, 40 s in
            )
            fetched = _when(seen, JobFetched, job.id)
            assert fetched is not None  # read in place: the stream is the job's read
            assert _when(seen, JobReadDone, job.id) is None  # still streaming
            assert server.served["/trip.tar"] < SLOW_BYTES
        finally:
            engine.stop()
            await asyncio.wait_for(running, 30)
            await store.close()


def _when(seen: list[tuple[float, Event]], kind: type[Event], job_id: int) -> float | None:
    """When the bus first told ``kind`` of ``job_id``."""
    return next(
        (at for at, event in seen if isinstance(event, kind) and event.job_id == job_id), None
    )
