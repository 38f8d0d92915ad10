"""Extra connections to the account's DC, opened on demand and shared by transfers
(and, through :meth:`SenderPool.at`, to the other DCs and CDNs its downloads reach).

One MTProto connection carries one TCP stream: parts queue behind each other on it, so
parallel transfers spread their requests over several. Connections open lazily (only as
many as the parts in flight need), stay open between transfers, and one that drops is
replaced in the background while the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from telethon.tl import functions

from ferryman.errors import FerrymanError
from ferryman.telegram.client import Dialer
from ferryman.telegram.errors import from_telethon
from ferryman.telegram.plain_parts import plain_parts

OPEN_TRIES = 5
OPEN_BACKOFF = 0.1  # seconds before the second try, doubling after each failure


@dataclass(eq=False, slots=True)
class Lane:
    """One connection slot: its sender once open, and the requests it carries now."""

    sender: Any = None
    serial: int = 0  # which opened sender this is (a reopened one gets a new serial)
    load: int = 0
    opening: asyncio.Task[None] | None = field(default=None, repr=False)


class SenderPool:
    """Up to ``limit`` senders from ``dialer``, each request sent on the least busy."""

    def __init__(self, client: Any, dialer: Dialer, limit: int) -> None:
        if limit < 1:
            raise ValueError("a pool needs at least one connection")
        self._client = client
        self._dialer = dialer
        self._limit = limit
        self._lanes: list[Lane] = []
        self._serials = itertools.count(1)
        self._closed = False
        self._elsewhere: dict[tuple[int, bool], SenderPool] = {}  # (dc, cdn) -> its pool

    def at(self, dc_id: int, *, cdn: bool = False) -> SenderPool:
        """The account's connections to another data centre (a CDN's, with ``cdn``), as
        many as this pool's: opened on first use (``telegram/dcs``), kept, closed with it."""
        key = (dc_id, cdn)
        if key not in self._elsewhere:
            dialer = DcDialer(self._dialer, dc_id, cdn=cdn)
            self._elsewhere[key] = SenderPool(self._client, dialer, self._limit)
        return self._elsewhere[key]

    @property
    def closed(self) -> bool:
        return self._closed

    async def acquire(self) -> tuple[Lane, Any]:
        """The least busy connection and its sender, opening another if all are busy.

        Counts as one request on the lane until :meth:`release`. A closed pool opens
        nothing more: an upload still running when its hub let go of the client (a
        login check that failed) ends instead of dialling connections nobody closes.
        """
        if self._closed:
            raise FerrymanError("telegram.connection", "the upload connections were closed")
        lane = min(self._lanes, key=lambda c: (c.load, c.opening is not None), default=None)
        if lane is None or (lane.load > 0 and len(self._lanes) < self._limit):
            lane = Lane()
            self._lanes.append(lane)
            self._start_open(lane, None)
        lane.load += 1
        try:
            while lane.opening is not None:  # shared: every waiter sees the same outcome
                await asyncio.shield(lane.opening)
        except BaseException as exc:
            lane.load -= 1
            task = asyncio.current_task()
            ours = task is None or task.cancelling() > 0
            if isinstance(exc, asyncio.CancelledError) and self._closed and not ours:
                # the opening was cancelled by close(), not this request: a closed pool
                raise FerrymanError(
                    "telegram.connection", "the upload connections were closed"
                ) from None
            raise
        if self._closed or lane.sender is None:
            # close() ran while this request waited on the opening (which had finished):
            # its sender is disconnected and gone, not a sender to send on
            lane.load -= 1
            raise FerrymanError("telegram.connection", "the upload connections were closed")
        return lane, lane.sender

    def release(self, lane: Lane) -> None:
        lane.load -= 1

    def warm(self) -> None:
        """Start opening every connection now (none waits for it): a job that will upload
        soon has them open by its first part instead of paying their handshakes then."""
        while len(self._lanes) < self._limit:
            lane = Lane()
            self._lanes.append(lane)
            self._start_open(lane, None)

    def broken(self, lane: Lane, sender: Any) -> None:
        """``sender`` failed on ``lane``: replace it, once, however many requests saw it."""
        if lane.sender is not sender or lane.opening is not None:
            return
        lane.sender = None
        self._start_open(lane, sender)

    def _start_open(self, lane: Lane, old: Any) -> None:
        lane.opening = asyncio.create_task(self._open(lane, old))
        lane.opening.add_done_callback(_retrieve)

    async def _open(self, lane: Lane, old: Any) -> None:
        try:
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.disconnect()
            delay = OPEN_BACKOFF
            for attempt in range(OPEN_TRIES):
                try:
                    lane.sender = await self._dialer.open_sender(self._client)
                except OSError as exc:  # ConnectionError and TimeoutError among them
                    if attempt == OPEN_TRIES - 1:
                        raise from_telethon(exc) from exc
                    await asyncio.sleep(delay)
                    delay *= 2
                else:
                    plain_parts(lane.sender)  # media parts skip Telethon's gzip attempt
                    lane.serial = next(self._serials)
                    return
        except BaseException:
            if lane in self._lanes:  # a later acquire opens a fresh one
                self._lanes.remove(lane)
            raise
        finally:
            lane.opening = None

    async def close(self) -> None:
        """Disconnect every sender this pool opened; it opens no more."""
        self._closed = True
        others, self._elsewhere = list(self._elsewhere.values()), {}
        for other in others:
            await other.close()
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            if lane.opening is not None:
                lane.opening.cancel()
                with contextlib.suppress(BaseException):
                    await lane.opening
            if lane.sender is not None:
                with contextlib.suppress(Exception):
                    await lane.sender.disconnect()
                lane.sender = None


class ClientPool:
    """One :class:`SenderPool` for whichever client is current: the downloads of a
    running engine share its connections (a file's fetch opens none of its own), and a
    client replaced since (a reconnect) gets a fresh pool, the old one closed.

    Files fetched at once (an album's, a watch's look of several) also share ``gate``,
    the requests in flight, and ``big``, the turns of files too big to wait in memory:
    however many are fetched together, the chunks held stay those of a few files."""

    def __init__(self, dialer: Dialer, limit: int, *, in_flight: int = 1, big: int = 1) -> None:
        self._dialer = dialer
        self._limit = limit
        self.gate = asyncio.Semaphore(max(1, in_flight))
        self.big = asyncio.Semaphore(max(1, big))
        self.dialogs = asyncio.Lock()  # one reading of the dialogs for links fetched at once
        self._client: Any = None
        self._pool: SenderPool | None = None
        self._old: list[SenderPool] = []

    def pool(self, client: Any) -> SenderPool:
        if self._pool is None or self._client is not client:
            if self._pool is not None:
                self._old.append(self._pool)  # closed with this one: it may still carry parts
            self._client, self._pool = client, SenderPool(client, self._dialer, self._limit)
        return self._pool

    async def close(self) -> None:
        pools, self._old = [*self._old, self._pool], []
        self._pool = self._client = None
        for pool in pools:
            if pool is not None:
                await pool.close()


class DcDialer:
    """Connections to another data centre (a CDN's, with ``cdn``) for one account: the
    first with a new key, logged in there (not on a CDN: nobody logs in there); the
    others with the same key."""

    def __init__(self, base: Dialer, dc_id: int, *, cdn: bool = False) -> None:
        self.base = base
        self.dc_id = dc_id
        self.cdn = cdn
        self._key: Any = None
        self._first = asyncio.Lock()

    def install(self, client: Any) -> None:
        return None

    async def open_dc_sender(
        self, client: Any, dc_id: int, auth_key: Any, *, cdn: bool = False
    ) -> Any:
        return await self.base.open_dc_sender(client, dc_id, auth_key, cdn=cdn)

    async def open_sender(self, client: Any) -> Any:
        async with self._first:  # the others wait for the first one's key
            if self._key is None:
                sender = await self.base.open_dc_sender(client, self.dc_id, None, cdn=self.cdn)
                try:
                    if not self.cdn:
                        await _log_in(client, sender, self.dc_id)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await sender.disconnect()
                    raise
                self._key = sender.auth_key
                return sender
        return await self.base.open_dc_sender(client, self.dc_id, self._key, cdn=self.cdn)


async def _log_in(client: Any, sender: Any, dc_id: int) -> None:
    auth = await client(functions.auth.ExportAuthorizationRequest(dc_id))
    request = functions.auth.ImportAuthorizationRequest(id=auth.id, bytes=auth.bytes)
    await client._call(sender, request, flood_sleep_threshold=0)


def _retrieve(task: asyncio.Task[None]) -> None:
    """A reopen nobody waits for may fail unseen; its waiters (if any) get the error."""
    if not task.cancelled():
        task.exception()
