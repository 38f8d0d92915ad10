"""Wait for a condition in tests: poll until it holds, or fail saying what never came.

A fixed sleep is either too short under load (the test fails by chance) or too long
everywhere else; a hand-rolled ``for _ in range(200)`` loop that falls through
silently fails later, at an assertion that no longer says what was awaited.

A check that walks files the system under test is moving (a library's ``.0002.partial``
folder renamed into place between ``rglob`` listing it and opening it) may meet a path
already gone: ``FileNotFoundError`` out of a check counts as "not yet", and is the last
thing seen if the wait fails (steady set 11: the SIGTERM crash test's ``rglob`` raised
it and ended the test, where the next poll would have found album 2).

``within`` is a hang detector, not a speed bound (speed lives in ``bench/`` and the
``timing`` mark): it counts seconds of a machine whose cores are free, so on a machine
loaded past its cores each wall second counts for the share of a core a process gets
there (at load 40 on 2 cores, a twentieth: down to ``MIN_SHARE``). A hang still ends the
wait, later; a slow machine no longer fails a test that was only waiting its turn.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")

WITHIN = 30.0  # generous: a loaded CI machine is slow, and a pass returns at once
EVERY = 0.02
MIN_SHARE = 1 / 20  # a budget stretches at most this much under load: a hang still ends


def core_share() -> float:
    """The share of a core a busy process gets now: 1 while the load (the last minute's
    average of runnable processes) is within the cores, else cores / load."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    return 1.0 if load <= cores else max(MIN_SHARE, cores / load)


class Budget:
    """``within`` seconds of an unloaded machine, spent as wall time goes by at the share
    of a core the machine's load leaves (see the module's docstring)."""

    def __init__(
        self,
        within: float,
        share: Callable[[], float] = core_share,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.within = within
        self._share, self._clock = share, clock
        self._left = within
        self._began = self._last = clock()

    def spent(self) -> bool:
        now = self._clock()
        self._left -= (now - self._last) * self._share()
        self._last = now
        return self._left < 0

    def said(self, what: str) -> str:
        wall = self._clock() - self._began
        return f"not within {self.within:g} s ({wall:.0f} s of wall at that load): {what}"


def _seen(found: object) -> str:
    """The last value a wait saw; a path gone, with its path (``repr`` drops it)."""
    return str(found) if isinstance(found, FileNotFoundError) else repr(found)


def eventually_sync(
    check: Callable[[], T], what: str, *, within: float = WITHIN, every: float = EVERY
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` (and the last value seen) after ``within``
    seconds. The check runs once more after the deadline, so a slow poll never fails a
    condition that holds.
    """
    budget = Budget(within)
    while True:
        expired = budget.spent()
        try:
            found: T | FileNotFoundError = check()
        except FileNotFoundError as gone:  # a path moved under the walk: not yet
            found = gone
        if found and not isinstance(found, FileNotFoundError):
            return found
        if expired:
            raise AssertionError(f"{budget.said(what)} (last seen: {_seen(found)})")
        time.sleep(every)


async def eventually(
    check: Callable[[], Awaitable[T]] | Callable[[], T],
    what: str,
    *,
    within: float = WITHIN,
    every: float = EVERY,
) -> T:
    """``eventually_sync`` for the event loop: ``check`` may be plain or a coroutine."""
    budget = Budget(within)
    while True:
        expired = budget.spent()
        try:
            result = check()
            found: T | FileNotFoundError = await result if inspect.isawaitable(result) else result
        except FileNotFoundError as gone:  # a path moved under the walk: not yet
            found = gone
        if found and not isinstance(found, FileNotFoundError):
            return found
        if expired:
            raise AssertionError(f"{budget.said(what)} (last seen: {_seen(found)})")
        await asyncio.sleep(every)


class Child(Protocol):
    """A child process as asyncio answers it (or ``forked.AsyncForked``)."""

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


async def child_ends(proc: Child, within: float, what: str) -> int:
    """The child's exit code once it ends; past ``within`` (a :class:`Budget`) it is
    killed, so that it does not go on loading the machine, and the wait fails."""
    budget = Budget(within)
    waiting = asyncio.ensure_future(proc.wait())
    try:
        while not budget.spent():
            done, _ = await asyncio.wait({waiting}, timeout=0.5)
            if done:
                return waiting.result()
        if waiting.done():
            return waiting.result()
        proc.kill()
        await proc.wait()
        raise AssertionError(budget.said(what))
    finally:
        waiting.cancel()
