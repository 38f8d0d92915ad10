"""A byte range of a file kept in Telegram, read block by block through several accounts.

A file is read in 1 MiB blocks (``upload.getFile`` at offsets that are multiples of the
limit: Telegram's rule, ``faketg/handlers/downloads.check_window``), the first MiB of a
range in 128 KiB pieces so that its first bytes come without a whole block's wait. Each
account (``Reader``) has its own connections to its data centre (``SenderPool``) and
carries up to ``in_flight`` blocks at once; Telegram caps each account's speed, so the
accounts' speeds add up. A file kept on another DC is read through the account's
connections there, and a CDN redirect is followed, every part checked
(``telegram/dcs``). Blocks come back in any order and leave in order: at most the window
of blocks in flight (all readers' ``in_flight`` together) is held in memory, nothing is
written to disk. A stale file reference is renewed once for all blocks that saw it
(``refresh``: the message fetched again); a dropped connection is replaced and the block
asked again, by any reader; a reader that cannot read the file at all (not a member of
the chat any more) leaves the rest to the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from telethon import errors as tg

from ferryman.errors import FerrymanError
from ferryman.telegram.dcs import FileWay
from ferryman.telegram.errors import from_telethon
from ferryman.telegram.pool import SenderPool

log = logging.getLogger(__name__)

BLOCK = 1024 * 1024  # the largest request Telegram serves
HEAD = 128 * 1024  # the first MiB of a range is asked in pieces this big
IN_FLIGHT = 4  # blocks a reader (one account) carries at once
TRIES = 4  # per block, across readers, before the range fails
RETRY_PAUSE = 0.2  # seconds before asking again after a dropped connection

Refresh = Callable[[], Awaitable[Any]]  # a fresh location (new file reference)


@dataclass(eq=False, slots=True)
class Reader:
    """One account's way to the file: its client, its connections, its location."""

    name: str
    client: Any
    pool: SenderPool
    location: Any  # InputDocumentFileLocation
    refresh: Refresh | None = None
    in_flight: int = IN_FLIGHT
    blocks: int = 0  # blocks this reader brought (for the figures)
    failed: BaseException | None = field(default=None, repr=False)  # left the file
    way: FileWay | None = field(default=None, repr=False)  # its DC or CDN (``dcs``)
    _renew: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def block(self, offset: int, limit: int = BLOCK) -> bytes:
        """The ``limit`` bytes at ``offset`` (fewer at the end)."""
        location = self.location
        if self.way is None:
            self.way = FileWay(self.client, self.pool)
        try:
            return await self.way.part(location, offset, limit)
        except tg.FileReferenceExpiredError:
            await self._renewed(location)
            raise

    async def _renewed(self, stale: Any) -> None:
        if self.refresh is None:
            raise FerrymanError("telegram.download_failed", "the file reference expired")
        async with self._renew:
            if self.location is stale:
                self.location = await self.refresh()


def pieces_of(start: int, end: int) -> list[tuple[int, int]]:
    """The requests (offset, limit) that hold bytes ``start``..``end`` (inclusive): the
    first MiB in ``HEAD`` pieces (the first bytes come as soon as one small piece has
    crossed an account's cap, not a whole block: a player's seek), then whole blocks.
    Each within one 1 MiB block, its offset a multiple of its limit (Telegram's rules)."""
    pieces = []
    at = start // HEAD * HEAD
    head_end = (at // BLOCK + 1) * BLOCK
    while at <= end and at < head_end:
        pieces.append((at, HEAD))
        at += HEAD
    while at <= end:
        pieces.append((at, BLOCK))
        at += BLOCK
    return pieces


async def read_range(
    readers: list[Reader], size: int, start: int, end: int
) -> AsyncGenerator[bytes, None]:
    """Bytes ``start``..``end`` (inclusive) of a file of ``size`` bytes, in order."""
    if not readers:
        raise FerrymanError("telegram.download_failed", "no account can read this file")
    if not 0 <= start <= end < size:
        raise ValueError(f"range {start}-{end} outside 0-{size - 1}")
    run = _Run(readers, pieces_of(start, end), size)
    most = max(max(1, r.in_flight) for r in readers)
    workers = [  # in turns: the first pieces go one to each account
        asyncio.create_task(run.work(r), name=f"tg-stream-{r.name}-{n}")
        for n in range(most)
        for r in readers
        if n < max(1, r.in_flight)
    ]
    try:
        for number, (offset, _limit) in enumerate(run.pieces):
            data = await run.take(number)
            yield data[max(0, start - offset) : min(len(data), end + 1 - offset)]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


class _Run:
    """The pieces of one range: asked by the readers' workers, taken in order."""

    def __init__(self, readers: list[Reader], pieces: list[tuple[int, int]], size: int) -> None:
        self.readers = readers
        self.pieces = pieces
        self.size = size
        self.window = sum(max(1, r.in_flight) for r in readers)
        self.ready: dict[int, asyncio.Future[bytes]] = {}
        self.todo: list[int] = list(range(len(pieces)))  # asked again after a failure: first
        self.tries: dict[int, int] = {}
        self.taken = 0  # the next piece the consumer takes
        self.changed = asyncio.Condition()

    def _future(self, number: int) -> asyncio.Future[bytes]:
        if number not in self.ready:
            self.ready[number] = asyncio.get_running_loop().create_future()
        return self.ready[number]

    def _fail(self, numbers: Iterable[int], error: BaseException) -> None:
        for number in numbers:
            future = self._future(number)
            if not future.done():
                future.set_exception(error)

    async def take(self, number: int) -> bytes:
        try:
            return await self._future(number)
        finally:
            self.ready.pop(number, None)
            async with self.changed:
                self.taken = number + 1
                self.changed.notify_all()

    async def _next(self) -> int | None:
        """The next piece to ask, within the window ahead of the consumer."""
        async with self.changed:
            await self.changed.wait_for(
                lambda: not self.todo or self.todo[0] < self.taken + self.window
            )
            return self.todo.pop(0) if self.todo else None

    async def work(self, reader: Reader) -> None:
        while reader.failed is None and (number := await self._next()) is not None:
            offset, limit = self.pieces[number]
            try:
                data = await reader.block(offset, limit)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                await self._failed(reader, number, exc)
                continue
            expected = min(limit, self.size - offset)
            if len(data) != expected:
                said = f"Telegram sent {len(data)} bytes at offset {offset}, expected {expected}"
                self._fail([number], FerrymanError("telegram.download_failed", said))
                return
            reader.blocks += 1
            future = self._future(number)
            if not future.done():
                future.set_result(data)

    async def _failed(self, reader: Reader, number: int, exc: BaseException) -> None:
        """Ask ``number`` again (first), or fail it when no try or reader is left."""
        passing = isinstance(exc, TimeoutError | ConnectionError | OSError)
        passing = passing or isinstance(exc, tg.FileReferenceExpiredError)
        if not passing:  # this account cannot read the file: the others go on
            reader.failed = exc
            log.info("a stream's reader %s left: %s", reader.name, exc)
        self.tries[number] = self.tries.get(number, 0) + 1
        alive = [r for r in self.readers if r.failed is None]
        error = from_telethon(exc)
        if not alive:  # nobody is left to ask the rest either
            self._fail([number, *self.todo], error)
            return
        if self.tries[number] >= TRIES:
            self._fail([number], error)
            return
        if passing and not isinstance(exc, tg.FileReferenceExpiredError):
            await asyncio.sleep(RETRY_PAUSE * self.tries[number])
        async with self.changed:
            self.todo.insert(0, number)
            self.changed.notify_all()
