"""The one clock: every decision that depends on time reads it here, so a test moves it.

A lease's renewal, a poll's wait, a signed link's expiry, a session's end, a rate
limit's window: each asks a ``Clock`` passed in, never ``time`` or ``asyncio.sleep``
itself, and a test hands in a clock it advances (``tests/support/clock.py``) instead
of sleeping past the moment. ``time-machine`` and ``freezegun`` patch the process's
time for tests only and leave ``asyncio``'s waits on the real one; ``looptime`` fakes
the loop's time but not the wall's. A small protocol covers both, and the run time
uses ``SystemClock`` (``tests/unit/test_clock_reads.py`` keeps direct reads out of
``src``).

Wall time (``now``: seconds since the epoch) is what is stored and signed; monotonic
time (``monotonic``) is what in-process intervals are measured in, as a wall clock may
jump.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    """What the engine, the page and the store know of time."""

    def now(self) -> float:
        """Wall time, seconds since the epoch: what is stored, signed and shown."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps back: intervals within this process."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock."""

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        """True once ``event`` is set, False after ``seconds`` of this clock (None: no
        limit). A cancel while waiting is never lost (``ferryman.timeouts``)."""


class SystemClock:
    """The machine's clocks and the event loop's timers: the clock every run uses."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        # asyncio.timeout keeps a cancel that comes with the event (ferryman.timeouts)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
                return True
        return False


SYSTEM: Clock = SystemClock()  # holds no state: the default where none is passed
