"""Uploading a file to Telegram with many parts in flight over several connections.

Telethon's ``upload_file`` waits for each 512 KiB part before sending the next, on one
connection, so a round trip per part caps the speed (telegram-upload measured 4.6 MiB/s
that way against 48 MiB/s with ten parts in flight). Here parts go out in parallel over
a pool of extra connections, as many at once as an AIMD window allows: it grows by one
per acknowledged part until the first flood wait (a round trip doubles it), then by one
after a window's worth of acknowledged parts, and halves on a flood wait, so a healthy
link fills up within a round trip and a server that pushes back gets less. Several
files may upload at once (an album's photos are one part each, so one file at a time
leaves one part in flight): they share the window and the connections, so the window
bounds the whole account's parts in flight, and a flood wait holds every one of them.

Rules kept (core.telegram.org/api/files): every part but the last is ``part_size``;
files up to 10 MB go as ``saveFilePart`` + ``InputFile`` with the MD5 of the whole file,
bigger ones as ``saveBigFilePart`` + ``InputFileBig``; each upload has a fresh random
``file_id``. The file is read part by part in a thread, a few parts ahead of the network
over all uploads at once (``window.PartsInMemory``), so memory stays near the parts in flight
whatever the files' sizes and however many upload together; one begun earlier goes
first (``window.Ranked``), later ones take what it leaves of the link.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.model import UploadBook
from ferryman.model import Window as Piece
from ferryman.telegram.client import Dialer
from ferryman.telegram.errors import TelegramWait, from_telethon
from ferryman.telegram.pool import SenderPool
from ferryman.telegram.resume import Changed, Resume
from ferryman.telegram.upload_parts import READ_AHEAD, Growing, Parts, source_error
from ferryman.telegram.window import LinkEstimate, PartsInMemory, Window

SMALL_FILE_MAX = 10 * 1024 * 1024  # above this, saveBigFilePart and InputFileBig
MAX_PART = 512 * 1024
# 8 connections x 4 parts: at 50 ms one way and 100 Mbit/s a connection, a round trip
# plus a part's own 42 ms on the wire needs ~27 parts in flight to fill 800 Mbit/s. The
# ceiling: a slower link's estimate holds fewer in flight (``telegram/window.py``).
DEFAULT_IN_FLIGHT = 32
PART_RETRIES = 5  # per part, for server errors and for dropped connections each

Progress = Callable[[int, int], None]
OnWait = Callable[[TelegramWait], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class UploadStats:
    """How one upload went: for logs, and for tuning the defaults against real links."""

    parts: int
    resent_parts: int  # part requests sent again (dropped connection, server error, wait)
    connections: int  # distinct connections that carried parts
    max_in_flight: int  # most part requests awaiting their answer at once
    waits: int  # flood waits answered
    seconds: float
    resumed_parts: int = 0  # not sent: Telegram held them from an earlier run (``resume``)


@dataclass(slots=True)
class _Job:
    """One upload in progress."""

    parts: Parts
    file_id: int
    big: bool
    progress: Progress | None
    on_sent: Callable[[], None] | None = None  # once every part went (not acknowledged yet)
    submitted: int = 0  # parts sent (or found sent before) at least once
    sent_bytes: int = 0
    resent: int = 0
    waits: int = 0
    serials: set[int] = field(default_factory=set)
    in_flight: int = 0  # this file's parts awaiting their answer
    peak: int = 0
    held: int = 0  # window holds of waits given up on, released once the job is over
    resume: Resume | None = None  # a big file's record in the store (``telegram/resume``)
    resumed: int = 0  # parts not sent: Telegram held them from an earlier run

    def request(self, index: int, data: bytes) -> Any:
        if self.big:
            return functions.upload.SaveBigFilePartRequest(
                self.file_id, index, self.parts.count, data
            )
        return functions.upload.SaveFilePartRequest(self.file_id, index, data)


class Uploader:
    """Uploads files over extra connections opened with ``dialer``, several at once if asked.

    Concurrent uploads share one window and one pool of connections. The window and its
    ceiling carry over from one upload to the next: a server that pushed back on the last
    file is not hit at full width again on the next one.
    """

    def __init__(
        self,
        client: Any,
        dialer: Dialer,
        *,
        connections: int = 8,
        max_in_flight: int = DEFAULT_IN_FLIGHT,
        part_size: int = MAX_PART,
        max_inline_wait: float = 30.0,
        on_wait: OnWait | None = None,
        retry_delay: float = 0.25,
        book: UploadBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``book``: where big uploads are recorded so that they resume after a crash
        (the hub sets it once a sink hands it its state); ``clock``: the wall clock the
        records' ages are measured in."""
        if connections < 1 or max_in_flight < 1:
            raise ValueError("connections and max_in_flight must be at least 1")
        if part_size <= 0 or part_size % 1024 or MAX_PART % part_size:
            raise ValueError("part_size must be a multiple of 1 KiB that divides 512 KiB")
        self._pool = SenderPool(client, dialer, connections)
        self._part_size = part_size
        self._max_inline_wait = max_inline_wait
        self._on_wait = on_wait
        self._retry_delay = retry_delay  # before the first retry of a server error, doubling
        self.book = book
        self._clock = clock
        self._client = client
        self._window = Window(
            min(max_in_flight, 2 * connections), max_in_flight, LinkEstimate(part_size)
        )
        self._in_memory = PartsInMemory(self._window, READ_AHEAD)
        self._begun = 0  # uploads begun: each one's rank (the earlier first)
        self._last_stats: UploadStats | None = None

    @property
    def last_stats(self) -> UploadStats | None:
        """How the last upload to end went (also one that failed)."""
        return self._last_stats

    @property
    def window(self) -> int:
        """Parts that may be in flight now, over all uploads."""
        return self._window.size

    def warm(self) -> None:
        """Open the extra connections now, before the first upload needs them."""
        self._pool.warm()

    async def close(self) -> None:
        """Disconnect the extra connections; the client's own stays as it is."""
        await self._pool.close()

    async def upload(
        self,
        path: Path,
        *,
        name: str | None = None,
        progress: Progress | None = None,
        digest: Any = None,
        sent: Callable[[], None] | None = None,
        window: Piece | None = None,
    ) -> Any:
        """Upload ``path``; the ``InputFile`` or ``InputFileBig`` naming the parts sent.
        ``window``: only these bytes of it (a piece of a file cut by bytes, read in
        place), its resume record keyed by the window (the same on every run).

        ``digest`` (a ``hashlib`` object) is fed the file's bytes in order as they are
        read: the whole file once the upload returns. ``sent``: called once every part
        has gone out, a round trip before the last is acknowledged (a pool's account
        then starts its next album's parts, queued behind these at its cap, not after
        a round trip of nothing sent).

        Raises :class:`TelegramWait` for a flood wait longer than ``max_inline_wait``
        (after ``on_wait``), or the mapped :class:`FerrymanError` once retries run out.
        """
        try:
            stat, where = await asyncio.to_thread(_stat_where, path)
        except OSError as exc:
            raise source_error(path, exc) from exc
        offset, size = (0, stat.st_size) if window is None else (window.offset, window.length)
        if window is not None:
            if offset + size > stat.st_size:
                raise FerrymanError("source.io", f"{path} shrank: its piece is past its end")
            where = f"{where}@{offset}+{size}"
        if size == 0:
            raise FerrymanError("source.empty", f"{path} is empty; Telegram takes no such file")
        big = size > SMALL_FILE_MAX
        parts = Parts(
            path,
            size,
            self._part_size,
            offset=offset,
            md5=not big,
            digest=digest,
            in_memory=self._in_memory,
            rank=self._rank(),
        )
        resume = None
        if big and self.book is not None:
            resume = await Resume.open(
                self.book,
                str(self._client.session.auth_key.key_id),
                where,
                size,
                self._part_size,
                self._clock,
                lambda: secrets.randbits(63),
            )
        name = name if name is not None else path.name
        return await self._upload(parts, big, name, progress, resume, sent)

    async def upload_growing(
        self,
        fd: int,
        growing: Growing,
        *,
        name: str,
        progress: Progress | None = None,
        digest: Any = None,
    ) -> Any:
        """Upload the file open as ``fd`` while it is written: each part is read once its
        writer is past it, and the upload ends once the file is whole (``growing``).
        As :meth:`upload` otherwise; ``fd`` stays open (the caller's)."""
        size = growing.size
        if size <= 0:
            raise FerrymanError("source.empty", f"{name} is empty; Telegram takes no such file")
        big = size > SMALL_FILE_MAX
        parts = Parts(
            Path(name),
            size,
            self._part_size,
            md5=not big,
            digest=digest,
            fd=fd,
            growing=growing,
            in_memory=self._in_memory,
            rank=self._rank(),
        )
        return await self._upload(parts, big, name, progress)

    def _rank(self) -> int:
        self._begun += 1
        return self._begun

    async def _upload(
        self,
        parts: Parts,
        big: bool,
        file_name: str,
        progress: Progress | None,
        resume: Resume | None = None,
        sent: Callable[[], None] | None = None,
    ) -> Any:
        file_id = resume.file_id if resume is not None else secrets.randbits(63)
        job = _Job(parts, file_id, big, progress, sent, resume=resume)
        started = asyncio.get_running_loop().time()
        try:
            await self._run(job)
        except Changed as exc:  # never finished with another file's parts: anew next time
            assert resume is not None
            await resume.close(keep=False)
            raise FerrymanError("source.io", f"{exc}; it is uploaded anew") from exc
        except BaseException:
            if resume is not None:  # what Telegram acknowledged stays for the next run
                await asyncio.shield(resume.close(keep=True))
            raise
        else:
            if resume is not None:
                await resume.close(keep=False)
        finally:
            self._last_stats = UploadStats(
                parts=parts.count,
                resent_parts=job.resent,
                connections=len(job.serials),
                max_in_flight=job.peak,
                waits=job.waits,
                seconds=asyncio.get_running_loop().time() - started,
                resumed_parts=job.resumed,
            )
        if big:
            return types.InputFileBig(job.file_id, parts.count, file_name)
        return types.InputFile(job.file_id, parts.count, file_name, parts.md5_hex)

    async def _run(self, job: _Job) -> None:
        """Read and send until every part is acknowledged; the first failure ends it all."""
        tasks = {asyncio.create_task(job.parts.run())}
        tasks.update(
            asyncio.create_task(self._worker(job))
            for _ in range(min(self._window.ceiling, job.parts.count))
        )
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            job.parts.sent(job.parts.holding)  # read and never acknowledged: failed, cancelled
            # Holds of waits given up on last until this upload sent its last part; the
            # others (and the next upload) go on, and Telegram tells them what is left.
            for _ in range(job.held):
                self._window.unhold()
            job.held = 0

    async def _worker(self, job: _Job) -> None:
        resume = job.resume
        while (part := await job.parts.take()) is not None:
            index, data = part
            if resume is not None and resume.sent_before(index, data):
                job.resumed += 1
                _submitted(job)
                job.sent_bytes += len(data)
                if job.progress is not None:
                    job.progress(job.sent_bytes, job.parts.size)
            else:
                await self._deliver(job, index, data)
                if resume is not None:
                    resume.acknowledged(index, data)
            job.parts.sent()

    async def _deliver(self, job: _Job, index: int, data: bytes) -> None:
        """Send one part until it is acknowledged (never again after that)."""
        request = job.request(index, data)
        window = self._window
        server_failures = 0
        connection_failures = 0
        sent = False
        while True:
            epoch = await window.acquire(job.parts.rank)
            try:
                lane, sender = await self._pool.acquire()
            except BaseException:
                window.release()
                raise
            job.serials.add(lane.serial)
            stamp = window.sending()
            if sent:
                job.resent += 1
            else:
                _submitted(job)
            sent = True
            job.in_flight += 1
            job.peak = max(job.peak, job.in_flight)
            error: Exception | None = None
            try:
                await _send(sender, request)
            except Exception as exc:  # sorted below, once the slot is given back
                error = exc
            finally:
                job.in_flight -= 1
                self._pool.release(lane)
                window.release()
            if error is None:
                window.succeeded(epoch)
                window.delivered(stamp, len(data))
                job.sent_bytes += len(data)
                if job.progress is not None:
                    job.progress(job.sent_bytes, job.parts.size)
                return
            if self._pool.closed:  # whatever the sender raised as it was torn down
                raise FerrymanError(
                    "telegram.connection", "the upload connections were closed"
                ) from error
            if isinstance(error, OSError):  # ConnectionError, a timeout: a new connection
                self._pool.broken(lane, sender)
                connection_failures += 1
                if connection_failures > PART_RETRIES:
                    raise from_telethon(error) from error
                continue
            mapped = from_telethon(error)
            if isinstance(mapped, TelegramWait):
                if not await self._flood_wait(job, mapped, epoch):
                    raise mapped from error
            elif mapped.code == "telegram.server" and server_failures < PART_RETRIES:
                await asyncio.sleep(self._retry_delay * 2**server_failures)
                server_failures += 1
            else:
                raise mapped from error

    async def _flood_wait(self, job: _Job, wait: TelegramWait, epoch: int) -> bool:
        """Halve the window and hold every send for the wait; False if it is too long.

        On False the hold stays until this upload has stopped (see :meth:`_run`), so none
        of its own parts goes out after it gave up.
        """
        job.waits += 1
        window = self._window
        window.hold()  # nothing new goes out while on_wait runs
        try:
            window.shrink(epoch, premium=wait.premium)
            if self._on_wait is not None:
                await self._on_wait(wait)
        except BaseException:
            window.unhold()
            raise
        if wait.seconds > self._max_inline_wait:
            job.held += 1
            return False
        window.resume_after(wait.seconds)
        return True


def _submitted(job: _Job) -> None:
    """One more part gone for the first time: the last one tells ``on_sent``."""
    job.submitted += 1
    if job.submitted == job.parts.count and job.on_sent is not None:
        job.on_sent()


def _stat_where(path: Path) -> tuple[os.stat_result, str]:
    """The file's stat and absolute path (its key in the upload records)."""
    return path.stat(), os.path.abspath(path)


async def _send(sender: Any, request: Any) -> Any:
    """One request on one sender, its RPC errors as Telethon's exception classes.

    The sender itself is awaited rather than ``client._call``: that one sleeps 2 s and
    retries on server errors (then raises a bare ValueError) and may sleep flood waits
    itself, where the window has to see each of them. A future the sender cancels as it
    disconnects is a dropped connection, not a cancellation of this upload.
    """
    future = sender.send(request)
    try:
        return await future
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if future.cancelled() and task is not None and not task.cancelling():
            raise ConnectionError("the connection closed with the request in flight") from None
        raise
