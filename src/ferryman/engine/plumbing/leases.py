"""Heartbeats: a claimed row's lease is renewed while its step runs.

If a renewal finds the row owned by someone else (our lease expired and the work was
claimed again), the step is cancelled: two workers must never finish the same work (a
warning: a stall that long is a fault). One owned by none (a cancel took it back) stops
the step too, said at info: it was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ferryman.clock import SYSTEM, Clock
from ferryman.engine.plumbing.wakeup import Wakeup
from ferryman.store.claimed import Claimed
from ferryman.store.ports import Leaseholder

log = logging.getLogger(__name__)

_LEASES = "leases"  # the heartbeats' topic: no stage notifies it, broadcasts reach it
WOKEN_GAP = 0.5  # seconds between renewals at least, however often the engine is woken


class Beat:
    """A running heartbeat; ``stop`` ends it before the step ends (its record clears the
    owner, and a renewal after it would take that for a lost lease)."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def held(
    store: Leaseholder,
    kind: Claimed,
    row_id: int,
    owner: str,
    seconds: float,
    wakeup: Wakeup | None = None,
    clock: Clock = SYSTEM,
) -> AsyncIterator[Beat]:
    """Renew the lease every third of its length; cancel the caller if it is lost.

    With ``wakeup``, a wake-up renews at once too (at most every ``WOKEN_GAP``): a
    ``/cancel`` in this process takes the lease away and wakes the engine, so a long step (a
    download) stops within a moment instead of a third of a lease later.
    """
    worker = asyncio.current_task()
    assert worker is not None

    async def beat() -> None:
        while True:
            if wakeup is None:
                await clock.sleep(seconds / 3)
            else:
                # Broadcasts only (a control, another process's wake-up), and one that came
                # during the gap counts (a cancel right after the claim went unheard for
                # a third of a lease); the stages' own notifies name their topics.
                mark = wakeup.mark(_LEASES)
                await wakeup.clock.sleep(WOKEN_GAP)
                await wakeup.wait(max(0.0, seconds / 3 - WOKEN_GAP), since=mark, topic=_LEASES)
            try:
                # shielded: a cancelled beat must not leave a transaction half-done
                ours = await asyncio.shield(store.renew(kind, row_id, owner, seconds))
            except Exception:  # a missed beat is not a lost lease; try again
                log.warning("heartbeat for %s %s failed", kind.value, row_id, exc_info=True)
                continue
            if ours is None:  # a cancel (or a remove) took it back: asked for, no fault
                log.info("%s %s was let go (cancelled); stopping that step", kind.value, row_id)
                worker.cancel()
                return
            if not ours:
                log.warning("lost the lease on %s %s; stopping that step", kind.value, row_id)
                worker.cancel()
                return

    running = Beat(asyncio.create_task(beat()))
    try:
        yield running
    finally:
        await running.stop()
