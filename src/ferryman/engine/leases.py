"""Heartbeats: a claimed row's lease is renewed while its step runs.

If a renewal finds the row owned by someone else (our lease expired and the work was
claimed again), the step is cancelled: two workers must never finish the same work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import Table

from ferryman.store import Store

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held(
    store: Store, table: Table, row_id: int, owner: str, seconds: float
) -> AsyncIterator[None]:
    """Renew the lease every third of its length; cancel the caller if it is lost."""
    worker = asyncio.current_task()
    assert worker is not None

    async def beat() -> None:
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                # shielded: a cancelled beat must not leave a transaction half-done
                ours = await asyncio.shield(store.renew(table, row_id, owner, seconds))
            except Exception:  # a missed beat is not a lost lease; try again
                log.warning("heartbeat for %s %s failed", table.name, row_id, exc_info=True)
                continue
            if not ours:
                log.warning("lost the lease on %s %s; stopping that step", table.name, row_id)
                worker.cancel()
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
