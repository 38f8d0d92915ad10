"""Waits with a time limit that never lose a cancel.

``asyncio.wait_for`` before Python 3.12 returns the awaited result when a cancel comes
in the same turn as that result, and the cancel is lost: the cancelled task runs on. A
lease's heartbeat stopped that way went on renewing the lease for ever, and the step
that waited for it to stop never ended. ``asyncio.timeout`` counts cancels and keeps
them, so every wait with a limit goes through here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, seconds: float | None) -> bool:
    """True once ``event`` is set, False after ``seconds`` (None: no limit)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
            return True
    return False


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """``awaitable``'s result, or ``TimeoutError`` after ``seconds`` (it is cancelled)."""
    async with asyncio.timeout(seconds):
        return await awaitable
