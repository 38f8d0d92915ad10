"""A file's parts in order, read in a thread a few ahead of the senders (``upload.py``).

Apart from the uploader so that each stays one concern: here reading (a whole file, or
one still being written: ``Growing``), the MD5 and a caller's digest taken as it reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import IO, Any, Protocol

from ferryman.errors import FerrymanError
from ferryman.telegram.window import PartsInMemory

READ_AHEAD = 4  # parts read and waiting for a free slot in the window, over all uploads


class Growing(Protocol):
    """A file still being written elsewhere: how far it is (``telegram/early_upload.py``)."""

    size: int  # as declared: the upload names this many bytes' parts

    async def reached(self, end: int) -> None:
        """Wait until the first ``end`` bytes are written; raise if they never will be."""
        ...

    async def complete(self) -> None:
        """Wait until the file is written whole, ``size`` bytes; raise if it is not."""
        ...


class Parts:
    """The file's parts in order, read in a thread a few ahead of the senders.

    The MD5 (small files only) and a caller's ``digest`` are taken as the parts are read,
    so the file is read once; its size and mtime must not move while it is read. With
    ``growing`` the file is the descriptor ``fd``, read as its writer gets ahead; with
    ``offset`` the ``size`` bytes from there (a window of the file: a piece cut by bytes).
    """

    def __init__(
        self,
        path: Path,
        size: int,
        part_size: int,
        *,
        md5: bool,
        digest: Any = None,
        fd: int = -1,
        growing: Growing | None = None,
        in_memory: PartsInMemory | None = None,
        rank: int = 0,
        offset: int = 0,
    ) -> None:
        self.path = path
        self.offset = offset
        self._in_memory = in_memory
        self.rank = rank  # the upload's place in line for reads and the window (``Ranked``)
        self.holding = 0  # parts read under ``in_memory`` and not given back
        self._fd = fd
        self._growing = growing
        self.size = size
        self.part_size = part_size
        self.count = -(-size // part_size)
        self._md5 = hashlib.md5() if md5 else None
        self._digest = digest
        self._opened = (-1, -1)  # (size, mtime_ns) when opened
        self._read_bytes = 0
        self._queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(READ_AHEAD)
        self._handed = 0

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest() if self._md5 is not None else ""

    async def take(self) -> tuple[int, bytes] | None:
        """The next part to send, or None once every part has been handed out."""
        if self._handed >= self.count:
            return None
        self._handed += 1
        return await self._queue.get()

    async def _may_read(self) -> None:
        if self._in_memory is not None:
            await self._in_memory.take(self.rank)
            self.holding += 1

    def sent(self, parts: int = 1) -> None:
        """``parts`` read were acknowledged or given up on (all held: at the end)."""
        if self._in_memory is not None and parts:
            self.holding -= parts
            self._in_memory.give(parts)

    async def run(self) -> None:
        if self._growing is not None:
            await self._run_growing(self._growing)
            return
        if self.count == 1:  # a photo: opened, read, checked and closed in one hop
            await self._may_read()
            await self._queue.put((0, await asyncio.to_thread(self._whole)))
            return
        try:
            fh, self._opened = await asyncio.to_thread(_open, self.path, self.offset)
        except OSError as exc:
            raise source_error(self.path, exc) from exc
        try:
            for index in range(self.count):
                want = min(self.part_size, self.size - index * self.part_size)
                await self._may_read()
                data = await asyncio.to_thread(self._read, fh, want)
                await self._queue.put((index, data))
        finally:
            await asyncio.to_thread(fh.close)

    async def _run_growing(self, growing: Growing) -> None:
        """Each part once its writer has written it; the file whole at the end."""
        for index in range(self.count):
            offset = index * self.part_size
            want = min(self.part_size, self.size - offset)
            await growing.reached(offset + want)
            await self._may_read()
            data = await asyncio.to_thread(self._pread, offset, want)
            await self._queue.put((index, data))
        await growing.complete()

    def _whole(self) -> bytes:
        """A one-part file, on a thread: a hop to open it, one to read and one to close
        were three wake-ups of a thread a photo, each a trip through the scheduler on a
        loaded machine (py-spy of the Telegram pool's bench, 2026-11-29)."""
        try:
            fh, self._opened = _open(self.path, self.offset)
        except OSError as exc:
            raise source_error(self.path, exc) from exc
        with fh:
            return self._read(fh, self.size)

    def _pread(self, offset: int, want: int) -> bytes:
        try:
            data = os.pread(self._fd, want, offset)
        except OSError as exc:
            raise source_error(self.path, exc) from exc
        if len(data) != want:
            raise FerrymanError("source.io", f"{self.path} shrank while it was being uploaded")
        self._hash(data)
        return data

    def _hash(self, data: bytes) -> None:
        if self._md5 is not None:
            self._md5.update(data)
        if self._digest is not None:
            self._digest.update(data)

    def _read(self, fh: IO[bytes], want: int) -> bytes:
        """The next ``want`` bytes; after the last, the file (size, mtime) must still be
        as it was opened: the bytes hashed are then the bytes sent."""
        try:
            data = fh.read(want)
            self._read_bytes += len(data)
            moved = self._read_bytes >= self.size and _stamp(fh) != self._opened
        except OSError as exc:
            raise source_error(self.path, exc) from exc
        if len(data) != want:
            raise FerrymanError("source.io", f"{self.path} shrank while it was being uploaded")
        if moved:
            raise FerrymanError("source.io", f"{self.path} changed while it was being uploaded")
        self._hash(data)
        return data


def _open(path: Path, offset: int) -> tuple[IO[bytes], tuple[int, int]]:
    fh = path.open("rb")
    try:
        fh.seek(offset)
    except BaseException:
        fh.close()
        raise
    return fh, _stamp(fh)


def _stamp(fh: IO[bytes]) -> tuple[int, int]:
    st = os.fstat(fh.fileno())
    return st.st_size, st.st_mtime_ns


def source_error(path: Path, exc: OSError) -> FerrymanError:
    if isinstance(exc, FileNotFoundError):
        return FerrymanError("source.not_found", f"{path} does not exist")
    if isinstance(exc, PermissionError):
        return FerrymanError("source.unreadable", f"{path} is not readable: {exc}")
    return FerrymanError("source.io", f"reading {path} failed: {exc}")
