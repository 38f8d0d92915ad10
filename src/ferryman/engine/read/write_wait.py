"""Waits for room: backpressure (the job's backlog of files on disk) and the free-space
floor, run on the loop for the reading thread and cancellable with the step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.plumbing.events import JobResumed, JobWaiting
from ferryman.engine.plumbing.space import fits_above_floor, never_fits
from ferryman.engine.read.entry_batch import EntryBatch
from ferryman.errors import FerrymanError
from ferryman.model import Job

# How long reading waits for deliveries to free room before it records that it waits
# (which also lets partial albums go: the slow path, for a sink that takes its time).
BACKLOG_GRACE_SECONDS = 1.0


class LoopWaits:
    """Waits for room that the reading thread runs on the event loop, cancellable.

    When the read step is cancelled (the job cancelled, the lease lost) the loop
    task stops awaiting the thread, but the thread would still sit in a wait for
    room; ``cancel`` ends those waits, so the thread is free to close the reader.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    def wait(self, waited: Coroutine[object, object, None]) -> None:
        """Run ``waited`` on the loop and block this (non-loop) thread until it ends."""
        future = asyncio.run_coroutine_threadsafe(waited, self._loop)
        with self._lock:
            self._pending.add(future)
        try:
            future.result()
        finally:
            with self._lock:
                self._pending.discard(future)

    def cancel(self) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.cancel()


class GaveWay(Exception):
    """The read waits for room while a job further behind waits to be read: it goes
    back in the queue (resumed after its last recorded entry) and the other goes first."""


async def wait_until_writable(
    ctx: Context,
    job: Job,
    work: Path,
    size: int,
    batch: EntryBatch,
    *,
    give_way: bool = False,
    files: int = 1,
) -> None:
    """Backpressure and the space guard: wait, showing why, until the entry may be written
    (``files``: 2 once staged, for it and a copy about to be made of it, ``size`` their bytes).

    What the batch holds is recorded before any wait: the albums it fills are what
    frees room. Raises ``space.too_large`` for an entry no amount of waiting could make
    room for. ``give_way`` (between entries, not inside a source's own read): a wait
    for deliveries, once recorded, lets a job further behind be read (``GaveWay``).
    """
    waiting: str | None = None
    grace_until: float | None = None
    while True:
        ctx.checkpoint()
        mark = ctx.wakeup.mark("backlog")  # a delivery while we look is not missed
        settings = await ctx.settings()
        if (await batch.on_disk()).full(settings, size, batch.items_bound(settings), files):
            reason: str | None = "backlog"
        elif not fits_above_floor(work, size, settings.space_floor):
            if never_fits(work, size):  # asked only when there is no room now
                if waiting is not None:
                    await ctx.read_store.set_wait(job.id, ctx.owner, None, blocked=False)
                raise FerrymanError(
                    "space.too_large",
                    f"{size} bytes: more than the whole disk holding the work area",
                )
            reason = "space.low"
        else:
            reason = None
        if reason is not None and batch.entries:
            await batch.flush()
            continue  # the count is the store's own now
        if reason == "backlog" and waiting is None:
            # Deliveries usually free room within moments: wait for them here first.
            # Telling the store (a wait, a seal, a resume) cost three commits per album.
            # First the store's own count (deliveries may have freed room since the
            # last batch), and only while an album is on its way: else nothing but
            # the partial albums that recording the wait lets go can free room.
            if grace_until is None:
                batch.forget_load()
                bound = batch.items_bound(settings)
                if not (await batch.on_disk()).full(settings, size, bound, files):
                    continue
                in_flight = await ctx.read_store.albums_in_flight(job.id)
                grace_until = ctx.clock.monotonic() + (BACKLOG_GRACE_SECONDS if in_flight else 0)
            left = grace_until - ctx.clock.monotonic()
            if left > 0:
                await ctx.wakeup.wait(left, since=mark, topic="backlog")
                batch.forget_load()
                continue
        if reason != waiting:
            await ctx.read_store.set_wait(job.id, ctx.owner, reason, blocked=reason is not None)
            if reason is not None:
                ctx.bus.publish(_waiting(job.id, reason, settings))
                # Items on disk may now go out in partial albums: that is what frees room.
                await ctx.read_store.seal_albums(
                    job.id,
                    batch.route.album_size(settings),
                    wait=settings.convert.album_wait_seconds,
                )
                ctx.wakeup.notify()
            else:
                ctx.bus.publish(JobResumed(job.id))
            waiting = reason
        if reason is None:
            return
        if reason == "backlog" and give_way and await ctx.read_store.read_waits_behind(job.id):
            raise GaveWay
        pause = settings.space_recheck_seconds if reason == "space.low" else settings.poll_seconds
        await ctx.wakeup.wait(pause, since=mark, topic="backlog")
        batch.forget_load()


def _waiting(job: int, reason: str, settings: Settings) -> JobWaiting:
    """The wait's event, with its words (and, short of room, when it looks again)."""
    if reason == "space.low":
        words = "writing the next file would leave the work area's disk below space_floor"
        return JobWaiting(
            job, reason=reason, message=words, again_in=settings.space_recheck_seconds
        )
    words = "the work area holds all it may until deliveries free room"
    return JobWaiting(job, reason=reason, message=words)
