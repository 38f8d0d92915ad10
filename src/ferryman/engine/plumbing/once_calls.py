"""A fetch's outside calls made once (``sources.base.OnceCalls``), on the store's claims
(``store/fetches/calls``): what the fetch stage hands a source in its ``FetchPlan``.

A claim holds for ``hold`` seconds and is renewed on the event loop every third of it
while the call is on its way, so a node killed mid-call lets another take it over
within ``hold``; a stall of the whole node (its loop too) longer than ``hold`` lets it
go as well, and the one that takes it over asks the service first. ``hold`` is longer
than the fetch's lease (at least ``MIN_HOLD``): the lease lost to a stall was the
reason for the claim. A lost lease cuts the step's sockets (``net.abort``): the add cut
so is ``dropped(unknown=True)``, its claim left to run out. The source calls from its
own thread; each call is run on the loop the stage runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from ferryman.clock import Clock
from ferryman.sources.base import CallClaim
from ferryman.store.fetches.calls import MADE, MINE
from ferryman.store.ports import FetchStore

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_HOLD = 60.0  # seconds a claim holds unrenewed, at least


def hold_for(lease_seconds: float) -> float:
    """How long a claim holds unrenewed: four leases, at least ``MIN_HOLD``."""
    return max(MIN_HOLD, 4 * lease_seconds)


class StoreCalls:
    """One job's outside calls, claimed in the store for ``owner``."""

    def __init__(
        self, store: FetchStore, job_id: int, owner: str, clock: Clock, hold: float
    ) -> None:
        self.store, self.job_id, self.owner = store, job_id, owner
        self.clock, self.hold = clock, hold
        self.loop = asyncio.get_running_loop()  # made on the stage's loop
        self._renewing: dict[str, asyncio.Task[None]] = {}

    def claim(self, key: str) -> CallClaim:
        return self._on_loop(self._claim(key))

    def made(self, key: str, value: str, *, replace: bool = False) -> str:
        return self._on_loop(self._made(key, value, replace))

    def dropped(self, key: str, *, unknown: bool = False) -> None:
        self._on_loop(self._dropped(key, unknown))

    async def _claim(self, key: str) -> CallClaim:
        found = await self.store.claim_call(self.job_id, key, self.owner, self.hold)
        if found.state == MINE and key not in self._renewing:
            self._renewing[key] = asyncio.create_task(self._renew(key))
        if found.state == MADE:
            return CallClaim(False, made=found.value)
        return CallClaim(found.state == MINE, taken_over=found.taken_over)

    async def _made(self, key: str, value: str, replace: bool) -> str:
        await self._stop(key)
        return await self.store.call_made(self.job_id, key, self.owner, value, replace=replace)

    async def _dropped(self, key: str, unknown: bool) -> None:
        await self._stop(key)
        await self.store.call_dropped(self.job_id, key, self.owner, unknown=unknown)

    async def _renew(self, key: str) -> None:
        """The claim pushed forward while the call is on its way (ends once it is not
        this owner's any more: made, or taken over after a stall)."""
        while True:
            await self.clock.sleep(self.hold / 3)
            try:
                found = await self.store.claim_call(self.job_id, key, self.owner, self.hold)
            except Exception as exc:  # the store away a moment: the next beat tries again
                log.warning("job %s: the claim of %s not renewed: %s", self.job_id, key, exc)
                continue
            if found.state != MINE:
                return

    async def _stop(self, key: str) -> None:
        task = self._renewing.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_loop(self, call: Coroutine[Any, Any, T]) -> T:
        """Blocking: ``call`` run on the stage's loop (from the source's thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            call.close()
            raise RuntimeError("OnceCalls are called from a source's thread, not its loop")
        return asyncio.run_coroutine_threadsafe(call, self.loop).result()
