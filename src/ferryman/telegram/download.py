"""Downloading a file from Telegram into a partial file that a restart goes on from.

Several 1 MiB ``upload.getFile`` requests are in flight at once (``IN_FLIGHT``, about
three a connection: one connection alone carries a chunk per round trip, a fraction of
the link), spread over the connections of a :class:`SenderPool`, but bytes reach the
file strictly in order: a chunk that arrives early waits in memory (at most a small
window of them). Several files fetched at once (an album's) may share one ``gate``: their
requests together stay within it. So the partial file's length is always a clean prefix,
and a restart goes on from that length rounded down to a whole chunk. A stale file
reference is renewed by fetching the message again; a dropped connection is replaced
and the chunk asked again.

A file kept in another data centre (``FILE_MIGRATE``) is read the same way through the
account's connections there, and a CDN redirect is followed, each part checked against
its hash (``telegram/dcs``): nothing unchecked reaches the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telethon import errors as tg

from ferryman.errors import FerrymanError
from ferryman.fsutil import make_durable, write_whole
from ferryman.telegram.dcs import FileWay
from ferryman.telegram.errors import from_telethon
from ferryman.telegram.pool import SenderPool

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024  # the largest request Telegram serves, and the resume granularity
CONNECTIONS = 8  # a download's connections (as many as the uploader's)
IN_FLIGHT = 24  # requests at once: three a connection cover a round trip's wait
TRIES = 4  # per chunk, across connections, before the download is given up for now
RETRY_PAUSE = 0.2  # seconds before asking again after a dropped connection

Refresh = Callable[[], Awaitable[Any]]  # a fresh file location (new file reference)
Progress = Callable[[int], None]  # bytes on disk so far


def resume_point(path: Path, size: int) -> int:
    """Bytes of ``path`` kept for a resume: whole chunks, or the whole file if complete.

    Blocking (file system): run it in a thread.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        have = path.stat().st_size
    except FileNotFoundError:
        return 0
    keep = size if have >= size else have // CHUNK * CHUNK
    if keep != have:
        os.truncate(path, keep)
    return keep


def _append(path: Path, *data: bytes) -> None:
    with open(path, "ab") as handle:
        for block in data:
            handle.write(block)


class Download:
    """One file: ``location`` of ``size`` bytes into ``path``."""

    def __init__(
        self,
        client: Any,
        pool: SenderPool,
        location: Any,
        size: int,
        path: Path,
        *,
        in_flight: int = IN_FLIGHT,
        refresh: Refresh | None = None,
        on_progress: Progress | None = None,
        gate: asyncio.Semaphore | None = None,
        durable: bool = True,
    ) -> None:
        self.client = client
        self.pool = pool
        self.location = location
        self.size = size
        self.path = path
        self.way = FileWay(client, pool)  # the DC that keeps the file, or its CDN (``dcs``)
        self.in_flight = max(1, in_flight)
        self.refresh = refresh
        self.on_progress = on_progress or (lambda _n: None)
        self.gate = gate or asyncio.Semaphore(self.in_flight)
        self.durable = durable  # False: the caller fsyncs the file as it finishes it
        self.written = 0
        self._next = 0
        self._ready: dict[int, bytes] = {}
        self._flushed = asyncio.Condition()
        self._write = asyncio.Lock()
        self._renew = asyncio.Lock()

    async def run(self) -> None:
        self.written = self._next = await asyncio.to_thread(resume_point, self.path, self.size)
        self.on_progress(self.written)
        if self.written < self.size:
            await self._parallel()
        if self.durable:
            await asyncio.to_thread(make_durable, [self.path])  # the job will name this file

    # ------------------------------------------------------------ parallel

    async def _parallel(self) -> None:
        chunks = -(-(self.size - self.written) // CHUNK)
        workers = [
            asyncio.create_task(self._worker(), name=f"download-{n}")
            for n in range(min(self.in_flight, chunks))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if self.written != self.size:  # every chunk came: one was never written
            raise FerrymanError(
                "telegram.download_failed", f"wrote {self.written} of {self.size} bytes"
            )

    def _has_space(self) -> bool:
        """Another chunk may be asked for: those asked past what is written stay within
        two windows' worth (or nothing is left to ask)."""
        return self._next >= self.size or self._next < self.written + 2 * self.in_flight * CHUNK

    async def _worker(self) -> None:
        while True:
            async with self._flushed:
                await self._flushed.wait_for(self._has_space)
                if self._next >= self.size:
                    return
                offset = self._next
                self._next += CHUNK
            async with self.gate:
                data = await self._fetch(offset)
            expected = min(CHUNK, self.size - offset)
            if len(data) != expected:
                raise FerrymanError(
                    "telegram.download_failed",
                    f"Telegram sent {len(data)} bytes at offset {offset}, expected {expected}",
                )
            self._ready[offset] = data
            if not self._write.locked():  # else the write under way takes it after its own
                await self._flush()

    async def _flush(self) -> None:
        """The chunks ready in order from ``written`` on, in one write (one thread hop:
        on a busy machine a hop a chunk held the window shut while requests waited).
        One worker writes; the others ask for their next chunks meanwhile, and what
        they bring is taken by this loop once its write is done."""
        async with self._write:
            while self.written in self._ready:
                run, at = [], self.written
                while at in self._ready:
                    run.append(self._ready.pop(at))
                    at += len(run[-1])
                await write_whole(_append, self.path, *run)
                self.written = at
                self.on_progress(self.written)
        async with self._flushed:
            self._flushed.notify_all()

    async def _fetch(self, offset: int) -> bytes:
        last: BaseException | None = None
        for attempt in range(TRIES):
            location = self.location
            try:
                return await self.way.part(location, offset, CHUNK)
            except tg.FileReferenceExpiredError as exc:
                last = exc
                await self._renew_reference(location)
            except (TimeoutError, ConnectionError, OSError) as exc:
                last = exc  # the connection was replaced (``dcs._ask``)
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
            except FerrymanError:
                raise
            except Exception as exc:
                raise from_telethon(exc) from exc
        assert last is not None
        raise from_telethon(last) from last

    async def _renew_reference(self, stale: Any) -> None:
        """Fetch the message again, once for all chunks that saw the same stale reference."""
        if self.refresh is None:
            raise FerrymanError("telegram.download_failed", "the file reference expired")
        async with self._renew:
            if self.location is stale:
                self.location = await self.refresh()
