"""Albums pipelined: the next albums are prepared at their sink while this one is sent.

A sink with a ``prepare`` step (Telegram: upload the files, turn them into media
references, plan the ``random_id``s; nothing sent) lets the deliver stage claim the
next albums once the current one is prepared and prepare them in the background while
the current album's sends and record take their round trips. Their sends still wait for
their own turn (``deliver``), so albums leave in the order they did. Up to ``LOOKAHEAD``
albums are claimed ahead: one album's preparation is two round trips in a row (its
parts, then ``uploadMedia``) against its send's one, so with one ahead the sends waited
for preparations. Their files are in the work area already (sealed), so nothing more is
read or kept than without it. A crash or stop leaves the albums claimed: leases are
handed back as for any claim, and their stored media references are used when they are
delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from ferryman.engine.context import Context
from ferryman.engine.plumbing.destination import resolve
from ferryman.engine.plumbing.leases import held
from ferryman.model import AlbumClaim
from ferryman.store.claimed import Claimed

log = logging.getLogger(__name__)

LOOKAHEAD = 3  # albums claimed ahead of the one being sent, at most
# An album made ready at its sink ahead of its turn: the hashes taken (``step.prepare``).
Prepare = Callable[[Context, AlbumClaim], Awaitable[Mapping[int, str]]]


class Lookahead:
    """The albums claimed ahead and their preparations under way, for one engine."""

    def __init__(self, ctx: Context, prepare: Prepare) -> None:
        self.ctx = ctx
        self._prepare_one = prepare
        self._preparing: dict[int, asyncio.Task[Mapping[int, str]]] = {}
        self._taken: dict[int, asyncio.Event] = {}  # set once its delivery takes it
        self._unhandled: dict[int, AlbumClaim] = {}
        self._queued: list[AlbumClaim] = []  # claimed ahead, in order, not handed on yet
        self._depth = LOOKAHEAD  # albums claimed ahead at most (a sink may ask for more)

    async def place(self, album_id: int, lease: float) -> Place:
        """One album's delivery: its preparation ahead awaited (``prepared``), and what
        it claims ahead, handed on if the delivery fails."""
        return Place(self, lease, await self.prepared(album_id))

    async def next_in_line(self, lease: float) -> AlbumClaim | None:
        """Claim albums ahead (starting their preparation) until ``LOOKAHEAD`` (or what the
        last album's sink prepares at once) wait behind the one handed on, and hand on
        the first of them: the album to deliver next."""
        await self.fill(lease)
        return self._queued.pop(0) if self._queued else None

    async def fill(self, lease: float) -> None:
        """Claim albums ahead until the queue holds its depth or none is left to claim."""
        while len(self._queued) < self._depth and await self.claim_next(lease) is not None:
            pass

    async def feed(self, lease: float, stop: asyncio.Event) -> None:
        """Until ``stop``: claim albums ahead as they are sealed (a read's batches wake
        it), so they are prepared while the album being delivered goes. A pool of
        accounts: its first album takes an account's upload, the others would idle.
        Never cancelled inside a claim (a claim done but not queued would wait out
        its lease): ``stop`` is looked at between claims."""
        wakeup = self.ctx.wakeup
        while not stop.is_set():
            mark = wakeup.mark("deliver")
            await self.fill(lease)
            if stop.is_set() or len(self._queued) >= self._depth:
                return
            woken = asyncio.ensure_future(wakeup.wait(lease, since=mark, topic="deliver"))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((woken, stopped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                stopped.cancel()

    async def claim_next(self, lease: float) -> AlbumClaim | None:
        """Claim the next album to deliver and start preparing it (not on a drained or
        stopping node); None when there is none or the claim failed."""
        if self.ctx.run.draining or self.ctx.stopping.is_set():
            return None
        try:
            claim = await self.ctx.deliver_store.claim_delivery(self.ctx.owner, lease)
        except Exception:
            log.exception("deliver: claiming the next album ahead failed")
            return None
        if claim is None:
            return None
        album_id = claim.album.id
        with contextlib.suppress(Exception):  # a destination that fails says so in turn
            at_once = (await resolve(self.ctx, claim.job.dest)).sink().prepares_at_once
            self._depth = max(LOOKAHEAD, at_once)
        self._let_go(album_id)  # claimed again (its lease was lost): the old one ends
        old = self._preparing.pop(album_id, None)
        if old is not None:
            old.cancel()
        taken = self._taken[album_id] = asyncio.Event()
        self._preparing[album_id] = asyncio.create_task(
            self._prepare(claim, lease, taken), name=f"prepare-album-{album_id}"
        )
        self._queued.append(claim)
        return claim

    async def hand_back(self, job_id: int, seq: int) -> list[AlbumClaim]:
        """The albums of ``job_id`` after ``seq`` claimed ahead and not handed on, taken
        out of the look-ahead (their preparations stopped): the album ``seq`` failed,
        and they must not leave before it (the caller puts them back in line)."""
        behind = [
            c
            for c in [*self._queued, *self._unhandled.values()]
            if c.album.job_id == job_id and c.album.seq > seq
        ]
        ids = {c.album.id for c in behind}
        self._queued = [c for c in self._queued if c.album.id not in ids]
        tasks = [self._preparing.pop(i) for i in ids if i in self._preparing]
        for album_id in ids:
            self._unhandled.pop(album_id, None)
            self._taken.pop(album_id, None)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return behind

    def hand_on(self, claim: AlbumClaim) -> None:
        """The delivery that claimed ``claim`` ahead failed before handing it on. Its
        claim is no longer held: taken by the next worker's claim, or, on a drained node
        that claims nothing, let lapse for another node (as before the look-ahead)."""
        self._unhandled[claim.album.id] = claim
        self._let_go(claim.album.id)

    def _let_go(self, album_id: int) -> None:
        """The album's preparation ahead stops holding its claim (its delivery holds it
        now, or nobody: the lease then lapses)."""
        taken = self._taken.pop(album_id, None)
        if taken is not None:
            taken.set()

    def take_unhandled(self) -> AlbumClaim | None:
        """An album claimed ahead whose delivery never began (the one before it failed
        unexpectedly, or handed none on): the worker's next album, rather than left to
        its lease."""
        for album_id in list(self._unhandled):
            return self._unhandled.pop(album_id)
        return self._queued.pop(0) if self._queued else None

    async def prepared(self, album_id: int) -> Mapping[int, str] | None:
        """Wait for the album's preparation, if one was started: the hashes it took
        (item id → sha256); None when it was not prepared ahead. A failed one is only
        logged (None): the delivery does it again and handles its failure (a wait it
        recorded, a refusal) as its own."""
        self._unhandled.pop(album_id, None)
        self._queued = [c for c in self._queued if c.album.id != album_id]
        task = self._preparing.pop(album_id, None)
        self._let_go(album_id)  # the delivery holds its claim from here
        if task is None:
            return None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            # Its lease was lost, or the engine stops: done in turn. Unless this waiter
            # was cancelled too in the same moment; that cancel must not be lost.
            if task.cancelled() and (me is None or not me.cancelling()):
                return None
            raise
        except Exception as exc:
            log.info("deliver: preparing album %s ahead failed (%s); done in turn", album_id, exc)
            return None

    async def close(self) -> None:
        """Stop every preparation under way (the engine stops)."""
        tasks = list(self._preparing.values())
        self._preparing.clear()
        self._taken.clear()
        self._unhandled.clear()
        self._queued.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _prepare(
        self, claim: AlbumClaim, lease: float, taken: asyncio.Event
    ) -> Mapping[int, str]:
        """Prepare the album, its claim held until its delivery takes it (``taken``):
        prepared, it may wait its turn longer than a lease (sends trail the uploads on a
        starved engine), and a lease let lapse there was reaped, the album claimed and
        prepared again, or skipped by its delivery ("taken back") behind the next."""
        store, owner = self.ctx.deliver_store, self.ctx.owner
        failed: Exception | None = None
        async with held(store, Claimed.ALBUM, claim.album.id, owner, lease, clock=self.ctx.clock):
            try:
                hashes = await self._prepare_one(self.ctx, claim)
            except Exception as exc:  # its delivery does it again, in turn
                failed = exc
            await taken.wait()
        if failed is not None:
            raise failed
        return hashes


class Place:
    """One album's place in the look-ahead. ``prepared``: the hashes its preparation
    ahead took (item id → sha256), None when it was not prepared ahead (then it is
    prepared as it is sent). What it claims ahead: if the delivery ends in an exception
    (not the failures it records itself), the claim goes to the next worker's claim
    instead of waiting out its lease."""

    def __init__(
        self, lookahead: Lookahead, lease: float, prepared: Mapping[int, str] | None
    ) -> None:
        self._lookahead = lookahead
        self._lease = lease
        self.prepared = prepared
        self._claimed: list[AlbumClaim] = []
        self._soon: asyncio.Task[AlbumClaim | None] | None = None

    def claim_soon(self) -> None:
        """Begin the claim of the album to deliver next, beside what follows (its
        album's send: awaited before it, the claims were store transactions in a row
        before every send); once. ``claimed`` waits for it."""
        if self._soon is None:
            self._soon = asyncio.create_task(self.claim())

    async def claimed(self) -> AlbumClaim | None:
        """The album ``claim_soon``'s claim took (None: none, or none was begun). Never
        cancelled inside the claim: one done but not handed on would wait out its lease.
        A claim that failed was logged and is none (``Lookahead.claim_next``)."""
        if self._soon is None:
            return None
        await asyncio.wait([self._soon])
        return self._soon.result()

    async def feed(self, stop: asyncio.Event) -> None:
        await self._lookahead.feed(self._lease, stop)

    async def claim(self) -> AlbumClaim | None:
        claim = await self._lookahead.next_in_line(self._lease)
        if claim is not None:
            self._claimed.append(claim)
        return claim

    def abandoned(self) -> None:
        for claim in self._claimed:
            self._lookahead.hand_on(claim)
        self._claimed.clear()
