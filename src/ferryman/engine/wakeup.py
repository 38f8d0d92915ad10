"""A wake-up call for idle workers, so new work is picked up without waiting a poll."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Many waiters, many notifiers; a notify wakes everyone waiting at that moment."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Return on the next notify, or after ``seconds`` at the latest."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
