"""Uploads ahead of delivery: a big file's parts go out while staging still writes it.

A 1 GiB archive entry used to be written whole to the work area, and only then was its
album claimed and the file uploaded: the copy (5-10 s on a loaded machine) and the
upload ran in series. Here the reading thread tells an ``GrowingFile`` how far it has
written, and an upload on the engine's own ``Uploader`` (same window, same
connections) reads each part once it is written. Only parts go out (``saveBigFilePart``,
``saveFilePart``): no message is sent before the entry is staged and its album sealed,
so the exactly-once rules (``random_id``s stored before a send) do not change. A
person's own big file, linked into the work area whole (``GrowingFile.linked``), goes up
the same way from the moment it is linked: its record, its album's sealing and claim
and the delivery's plan no longer stand before its first part.

The finished upload (the ``InputFile``'s id and parts, the MD5 and SHA-256 of the bytes
read) is kept in memory, in ``EarlyUploads``, by the staged file's path and identity
(device, inode, size, mtime). The delivery takes it instead of uploading again; it
finds nothing (and uploads as before) when staging failed, the file is not the one
written (another staging, a converted file), the upload failed, or the process died.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from telethon.tl import types

from ferryman.errors import FerrymanError
from ferryman.telegram.upload import Progress, Uploader

log = logging.getLogger(__name__)

AT_ONCE = 2  # uploads ahead under way at once; another big entry is uploaded as before
KEPT = 8  # finished uploads kept for their delivery; the oldest untaken goes first

Identity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


def _identity(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True, slots=True)
class Uploaded:
    """An upload made ahead: what the delivery needs to name it, and the file's hash."""

    handle: Any  # InputFile / InputFileBig
    sha256: str
    identity: Identity

    def named(self, name: str) -> Any:
        """The handle under the name the delivery gives the file."""
        h = self.handle
        if isinstance(h, types.InputFileBig):
            return types.InputFileBig(h.id, h.parts, name)
        return types.InputFile(h.id, h.parts, name, h.md5_checksum)


class Owner(Protocol):
    """Who begins a growing file's upload: an account's ``EarlyUploads``, or the pool's
    ``telegram/early_pool.PoolEarlyUploads`` (which picks the account first)."""

    loop: asyncio.AbstractEventLoop

    def begin(self, file: GrowingFile, fd: int) -> None: ...

    def begin_whole(self, file: GrowingFile, path: Path) -> None: ...

    def drop(self, file: GrowingFile) -> None: ...


class GrowingFile:
    """One file as it is written: told from the writing thread, awaited on the loop.

    The writing thread's calls hop to the loop (``call_soon_threadsafe``) and never
    raise; once the upload is gone (``dead``) they do nothing.
    """

    def __init__(self, owner: Owner, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.dead = False
        self._owner = owner
        self._loop = owner.loop
        self._written = 0
        self._ended: int | None = None
        self._failed = False
        self._changed = asyncio.Event()

    # ------------------------------------------------ the writing thread (stage.EarlyUpload)

    def attach(self, fd: int) -> None:
        if not self._tell(self._owner.begin, self, fd):
            os.close(fd)

    def wrote(self, total: int) -> None:
        self._tell(self._advance, total)

    def ended(self, total: int) -> None:
        self._tell(self._end, total)

    def linked(self, path: Path) -> None:
        self._tell(self._owner.begin_whole, self, path)

    def failed(self) -> None:
        # Told even once the upload is done: a finished upload of it is dropped too.
        try:
            self._loop.call_soon_threadsafe(self._fail)
        except RuntimeError:  # the loop is closed: nothing is kept
            self.dead = True

    def _tell(self, fn: Callable[..., None], *args: Any) -> bool:
        if self.dead:
            return False
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the engine is gone
            self.dead = True
            return False
        return True

    # ------------------------------------------------ the loop (upload.Growing)

    def _advance(self, total: int) -> None:
        self._written = total
        self._changed.set()

    def _end(self, total: int) -> None:
        self._written = total
        self._ended = total
        self._changed.set()

    def _fail(self) -> None:
        self._failed = True
        self._changed.set()
        self._owner.drop(self)

    async def reached(self, end: int) -> None:
        while self._written < end:
            self._check()
            self._changed.clear()
            await self._changed.wait()
        self._check()

    async def complete(self) -> None:
        while self._ended is None:
            self._check()
            self._changed.clear()
            await self._changed.wait()
        self._check()

    def _check(self) -> None:
        if self._failed:
            raise FerrymanError("source.io", f"{self.path.name} was not staged; uploaded later")
        if self._ended is not None and self._ended != self.size:
            raise FerrymanError(
                "source.io",
                f"{self.path.name} has {self._ended} bytes, not the {self.size} declared",
            )


@dataclass(slots=True)
class _Entry:
    file: GrowingFile
    task: asyncio.Task[Uploaded]
    progress: Progress | None = None  # the delivery's, once it waits for this upload

    def tell(self, done: int, size: int) -> None:
        if self.progress is not None:
            self.progress(done, size)


class EarlyUploads:
    """The engine's uploads ahead of delivery, by the staged file's final path.

    Bounded: ``AT_ONCE`` under way (their parts share the window with the deliveries'
    own uploads), ``KEPT`` finished ones waiting for their delivery.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, uploader: Callable[[], Awaitable[Uploader]]
    ):
        self.loop = loop
        self._uploader = uploader
        self._entries: dict[Path, _Entry] = {}

    def start(self, path: Path, size: int) -> GrowingFile | None:
        """From the writing thread: a file to tell of its growth, or None when enough
        uploads are under way already (a racy count: ``begin`` decides)."""
        if self.loop.is_closed() or self._running() >= AT_ONCE:
            return None
        return GrowingFile(self, path, size)

    def _running(self) -> int:
        return sum(1 for e in list(self._entries.values()) if not e.task.done())

    def running(self) -> int:
        """Uploads ahead under way (on the loop)."""
        return self._running()

    def holds(self, path: Path) -> bool:
        """An upload ahead of ``path`` is under way or kept for its delivery."""
        return path in self._entries

    def begin(self, file: GrowingFile, fd: int) -> None:
        """On the loop: the file exists (``fd`` is read-only on it); upload it, if a
        slot is free."""
        if file.dead or self._running() >= AT_ONCE:
            file.dead = True
            os.close(fd)
            return
        self._track(file, self.loop.create_task(self._upload(file, fd)))

    def _track(self, file: GrowingFile, task: asyncio.Task[Uploaded]) -> None:
        old = self._entries.pop(file.path, None)
        if old is not None:
            self._cancel(old)
        entry = _Entry(file, task)
        task.set_name(f"upload ahead {file.path.name}")
        self._entries[file.path] = entry
        entry.task.add_done_callback(lambda task: self._settled(file, task))
        self._trim()

    def begin_whole(self, file: GrowingFile, path: Path) -> None:
        """On the loop: the file is whole at ``path`` already (a person's own, linked
        unread); upload it as a delivery would, if a slot is free."""
        if file.dead or self._running() >= AT_ONCE:
            file.dead = True
            return
        self._track(file, self.loop.create_task(self._upload_whole(file, path)))

    async def _upload_whole(self, file: GrowingFile, path: Path) -> Uploaded:
        """The upload a delivery would make, and the identity of the file before it: the
        upload refuses a file whose size or mtime moves as it reads it, and ``take``
        one that is not, or no longer, the one found before."""
        entry = self._entries.get(file.path)
        try:
            before = _identity(await asyncio.to_thread(os.stat, path))
            uploader = await self._uploader()
            digest = hashlib.sha256()
            handle = await uploader.upload(
                path, progress=entry.tell if entry is not None else None, digest=digest
            )
            return Uploaded(handle, digest.hexdigest(), before)
        finally:
            file.dead = True

    async def _upload(self, file: GrowingFile, fd: int) -> Uploaded:
        entry = self._entries.get(file.path)
        try:
            uploader = await self._uploader()
            digest = hashlib.sha256()
            handle = await uploader.upload_growing(
                fd,
                file,
                name=file.path.name,
                progress=entry.tell if entry is not None else None,
                digest=digest,
            )
            st = await asyncio.to_thread(os.fstat, fd)
            return Uploaded(handle, digest.hexdigest(), _identity(st))
        finally:
            file.dead = True
            os.close(fd)

    def _settled(self, file: GrowingFile, task: asyncio.Task[Uploaded]) -> None:
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.info("upload ahead of %s dropped: %s", file.path.name, task.exception())
            entry = self._entries.get(file.path)
            if entry is not None and entry.task is task:
                del self._entries[file.path]

    def drop(self, file: GrowingFile) -> None:
        """Its staging failed, or the delivery will send another file: stop and forget."""
        file.dead = True
        entry = self._entries.get(file.path)
        if entry is not None and entry.file is file:
            del self._entries[file.path]
            self._cancel(entry)

    def _trim(self) -> None:
        done = [p for p, e in self._entries.items() if e.task.done()]
        for path in done[: max(0, len(self._entries) - KEPT)]:
            del self._entries[path]

    def _cancel(self, entry: _Entry) -> None:
        entry.file.dead = True
        entry.task.cancel()

    async def take(self, path: Path, progress: Progress | None = None) -> Uploaded | None:
        """The upload made ahead of ``path``'s delivery, once it is done; None if there
        is none, it failed, or ``path`` is not the file it read (then: upload it)."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        entry.progress = progress
        try:
            uploaded = await asyncio.shield(entry.task)
        except asyncio.CancelledError:
            if entry.task.cancelled():
                return None
            raise  # the delivery was cancelled: the upload stays for the next one
        except Exception:
            return None
        finally:
            entry.progress = None
        if self._entries.get(path) is entry:
            del self._entries[path]
        try:
            st = await asyncio.to_thread(os.stat, path)
        except OSError:
            return None
        if _identity(st) != uploaded.identity:
            return None
        return uploaded

    async def close(self) -> None:
        entries = list(self._entries.values())
        self._entries.clear()
        for entry in entries:
            self._cancel(entry)
        await asyncio.gather(*(e.task for e in entries), return_exceptions=True)
