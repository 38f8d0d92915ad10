"""A clock a test moves forward: the moment a lease lapses or a link expires comes when
the test says, not after a sleep a loaded machine stretches (``ferryman.clock``).

Time stands still until ``advance``; each sleeper (``sleep``, ``wait``) wakes at its
own deadline in order, and the loop runs between, so what a woken task does before
its next sleep happens at the time it would have. ``sleeping`` waits on the real
event that matters before an advance: that the code under test is waiting on the
clock at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import itertools
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ferryman.clock import SystemClock
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from ferryman.config import Settings

T = TypeVar("T")

START = 1_800_000_000.0  # 2027-01-15: a wall time far from any real one in a test's rows


class ManualClock:
    """``ferryman.clock.Clock`` whose time moves only by ``advance``. ``now`` and
    ``monotonic`` may be read from any thread; sleepers belong to one event loop."""

    def __init__(self, start: float = START) -> None:
        self._lock = threading.Lock()
        self._wall = start
        self._mono = 1_000.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), woken))
        await woken

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        if event.is_set():
            return True
        setting = asyncio.ensure_future(event.wait())
        timers = [] if seconds is None else [asyncio.ensure_future(self.sleep(seconds))]
        try:
            await asyncio.wait([setting, *timers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (setting, *timers):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return event.is_set()

    def sleeping(self) -> int:
        """How many sleepers wait on this clock now."""
        with self._lock:
            return sum(not woken.done() for _, _, woken in self._sleepers)

    async def until_sleeping(self, count: int = 1, what: str = "") -> None:
        """Wait (in real time) until at least ``count`` sleepers wait on this clock."""
        await eventually(lambda: self.sleeping() >= count, what or f"{count} sleeping on the clock")

    async def advance(self, seconds: float) -> None:
        """Move wall and monotonic time on by ``seconds``, waking each sleeper whose
        deadline passes at that deadline, in order, the loop run after each."""
        with self._lock:
            target = self._mono + seconds
        while True:
            with self._lock:
                if not self._sleepers or self._sleepers[0][0] > target:
                    break
                deadline, _, woken = heapq.heappop(self._sleepers)
                self._move_to(deadline)
            if not woken.done():
                woken.set_result(None)
                await _settle()
        with self._lock:
            self._move_to(target)
        await _settle()

    def set_wall(self, wall: float) -> None:
        """Move wall time alone (a clock set by hand); no sleeper wakes."""
        with self._lock:
            self._wall = wall

    def _move_to(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += mono - self._mono
            self._mono = mono


async def _settle() -> None:
    """Let woken tasks run up to their next wait (a few turns of the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def engine_idle(clock: ManualClock, settings: Settings) -> None:
    """An engine on ``clock`` is idle: each stage's workers, its housekeeper, heartbeat,
    notifier and watch notices all wait on the clock (a poll none of them will see end unless the
    clock moves). What a test adds now can only be found by a wake-up."""
    from ferryman.engine.pipeline import PIPELINE  # lazy: the clock alone imports little

    # each stage's workers; the housekeeper, the heartbeat, the notifier, the watch notices
    waiting = sum(stage.workers(settings) for stage in PIPELINE) + 4
    await clock.until_sleeping(waiting, "every worker of the engine waiting on the clock")


async def driven(
    clock: ManualClock,
    settings: Settings,
    check: Callable[[], Awaitable[T]] | Callable[[], T],
    what: str,
    *,
    step: float | None = None,
) -> T:
    """``check``'s first truthy value, the engine's clock moved on by ``step`` (a poll)
    each time every worker waits on it: the polls, rechecks and ends of a run that a
    real clock would bring, as fast as the engine takes them and never past its state
    (a worker still busy is waited for in real time, the clock standing still)."""
    from ferryman.engine.pipeline import PIPELINE  # lazy: the clock alone imports little

    waiting = sum(stage.workers(settings) for stage in PIPELINE) + 4
    every = settings.poll_seconds if step is None else step

    async def moved() -> T:
        result = check()
        found: T = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        if not found and clock.sleeping() >= waiting:
            await clock.advance(every)
        return found

    return await eventually(moved, what)


class JumpingClock(SystemClock):
    """The machine's time, flowing, that a test can jump forward (as Playwright's
    ``page.clock`` does a page's): for a server whose pace must go on in real time (its
    live views) while a link is made to outlive its expiry at once. A jump wakes no
    sleeper: only what compares times sees it."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return super().now() + self._offset

    def monotonic(self) -> float:
        return super().monotonic() + self._offset

    def jump(self, seconds: float) -> None:
        self._offset += seconds
