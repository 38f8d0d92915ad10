"""A wake-up call for idle workers, so new work is picked up without waiting a poll."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Many waiters, many notifiers; a notify wakes everyone waiting at that moment,
    and a waiter that passes the ``mark`` it took before looking for work also returns
    at once for a notify that came while it was busy (else that work would wait a
    whole poll: a delivered album's job finished half a second late)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._count = 0

    def notify(self) -> None:
        self._count += 1
        self._event.set()
        self._event = asyncio.Event()

    def mark(self) -> int:
        """Take before looking for work; pass to ``wait`` afterwards."""
        return self._count

    async def wait(self, seconds: float, since: int | None = None) -> None:
        """Return on the next notify (or one since ``since``), or after ``seconds``."""
        if since is not None and since != self._count:
            return
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
