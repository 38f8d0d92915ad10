"""Wait for a condition in tests: poll until it holds, or fail saying what never came.

A fixed sleep is either too short under load (the test fails by chance) or too long
everywhere else; a hand-rolled ``for _ in range(200)`` loop that falls through
silently fails later, at an assertion that no longer says what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

WITHIN = 30.0  # generous: a loaded CI machine is slow, and a pass returns at once
EVERY = 0.02


def eventually_sync(
    check: Callable[[], T], what: str, *, within: float = WITHIN, every: float = EVERY
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` (and the last value seen) after ``within``
    seconds. The check runs once more after the deadline, so a slow poll never fails a
    condition that holds.
    """
    deadline = time.monotonic() + within
    while True:
        expired = time.monotonic() > deadline
        found = check()
        if found:
            return found
        if expired:
            raise AssertionError(f"not within {within:g} s: {what} (last seen: {found!r})")
        time.sleep(every)


async def eventually(
    check: Callable[[], Awaitable[T]] | Callable[[], T],
    what: str,
    *,
    within: float = WITHIN,
    every: float = EVERY,
) -> T:
    """``eventually_sync`` for the event loop: ``check`` may be plain or a coroutine."""
    deadline = time.monotonic() + within
    while True:
        expired = time.monotonic() > deadline
        result = check()
        found = await result if inspect.isawaitable(result) else result
        if found:
            return found
        if expired:
            raise AssertionError(f"not within {within:g} s: {what} (last seen: {found!r})")
        await asyncio.sleep(every)
