"""The clocks: the system one waits on the loop's timers; the test one only when moved."""

from __future__ import annotations

import asyncio

import pytest

from ferryman.clock import SYSTEM, Clock
from ferryman.timeouts import within
from ferryman.web.accounts.book import RECHECK_SECONDS, AccountBook
from tests.support.clock import ManualClock


async def test_a_sleeper_wakes_at_its_deadline_and_not_before() -> None:
    clock = ManualClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.monotonic())

    start = clock.monotonic()
    tasks = [asyncio.create_task(sleeper(s)) for s in (5.0, 1.0, 3.0)]
    await clock.until_sleeping(3)
    await clock.advance(0.9)
    assert woke == []
    await clock.advance(2.1)  # to 3.0: the 1 s and the 3 s sleeper, each at its own time
    assert woke == [start + 1.0, start + 3.0]
    await clock.advance(10.0)
    assert woke == [start + 1.0, start + 3.0, start + 5.0]
    assert clock.monotonic() == start + 13.0
    await asyncio.gather(*tasks)


async def test_wall_time_moves_with_the_monotonic_one() -> None:
    clock = ManualClock(start=100.0)
    await clock.advance(2.5)
    assert clock.now() == 102.5
    clock.set_wall(50.0)  # a wall clock set back; the monotonic one is not
    assert clock.now() == 50.0 and clock.monotonic() == 1_002.5


async def test_a_wait_ends_on_its_event_or_its_timeout() -> None:
    clock = ManualClock()
    event = asyncio.Event()
    waiting = asyncio.create_task(clock.wait(event, 10.0))
    await clock.until_sleeping()
    await clock.advance(9.0)
    assert not waiting.done()
    await clock.advance(1.0)
    assert await waiting is False
    set_later = asyncio.create_task(clock.wait(event, 10.0))
    await clock.until_sleeping()
    event.set()
    assert await set_later is True
    assert clock.sleeping() == 0  # the timer of a wait that ended is gone


async def test_a_cancelled_sleeper_is_skipped() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(1.0))
    await clock.until_sleeping()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert clock.sleeping() == 0
    await clock.advance(2.0)  # nothing to wake: no error
    assert task.cancelled()


async def test_the_system_clock_waits_on_real_time() -> None:
    clock: Clock = SYSTEM
    event = asyncio.Event()
    assert await clock.wait(event, 0.01) is False
    event.set()
    assert await clock.wait(event, None) is True
    before = clock.monotonic()
    await clock.sleep(0.01)
    assert clock.monotonic() > before and clock.now() > 1.7e9


async def test_within_times_out_on_the_clock_passed_in() -> None:
    clock = ManualClock()
    never = asyncio.Event()
    limited = asyncio.create_task(within(never.wait(), 5.0, clock))
    await clock.until_sleeping(1)
    await clock.advance(4.9)
    assert not limited.done()  # real time passed meanwhile: only the clock's counts
    await clock.advance(0.1)
    assert limited.done()  # at the clock's moment, not the loop's
    with pytest.raises(TimeoutError):
        await limited


async def test_within_on_a_clock_returns_the_result_and_keeps_a_cancel() -> None:
    clock = ManualClock()

    async def done() -> str:
        return "done"

    assert await within(done(), 1.0, clock) == "done"
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    limited = asyncio.create_task(within(forever(), 1.0, clock))
    await started.wait()
    limited.cancel()
    with pytest.raises(asyncio.CancelledError):
        await limited
    assert clock.sleeping() == 0  # its timer went with it


class _Users:
    def __init__(self) -> None:
        self.rows: list[str] = []
        self.reads = 0

    async def users(self) -> list[str]:
        self.reads += 1
        return self.rows


async def test_the_account_book_reads_again_after_its_clock_moves() -> None:
    clock = ManualClock()
    store, book = _Users(), AccountBook(clock=clock)
    assert await book.active(store) is False
    store.rows.append("ann")  # added by `ferryman user add` in another process
    await clock.advance(RECHECK_SECONDS)
    assert await book.active(store) is False and store.reads == 1  # not yet: within it
    await clock.advance(0.1)
    assert await book.active(store) is True and store.reads == 2
