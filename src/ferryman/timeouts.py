"""Waits with a time limit that never lose a cancel.

``asyncio.wait_for`` before Python 3.12 returns the awaited result when a cancel comes
in the same turn as that result, and the cancel is lost: the cancelled task runs on. A
lease's heartbeat stopped that way went on renewing the lease for ever, and the step
that waited for it to stop never ended. ``asyncio.timeout`` counts cancels and keeps
them, so every wait with a limit goes through here.

A limit a test must see pass (a stop's grace, a flush's, a probe's) is timed by the
``Clock`` passed in (``ferryman.clock``); the machine's runs on the loop's own timer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from ferryman.clock import SYSTEM, Clock, SystemClock

T = TypeVar("T")


async def wait_set(event: asyncio.Event, seconds: float | None) -> bool:
    """True once ``event`` is set, False after ``seconds`` (None: no limit)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
            return True
    return False


async def within(awaitable: Awaitable[T], seconds: float | None, clock: Clock = SYSTEM) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``seconds`` of ``clock`` (it is
    cancelled)."""
    if seconds is None or isinstance(clock, SystemClock):
        async with asyncio.timeout(seconds):
            return await awaitable
    work = asyncio.ensure_future(awaitable)
    done = asyncio.Event()
    work.add_done_callback(lambda _: done.set())
    try:
        # the clock's wait keeps a cancel that comes with the result (as above)
        ended = await clock.wait(done, seconds)
    finally:
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if not ended:
        raise TimeoutError
    return work.result()
