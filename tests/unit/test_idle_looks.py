"""An idle engine's looks for work grow apart (``Wakeup.idle``): one poll, doubling up to
``IDLE_POLLS``, back to one at a notify. A wake-up brings new work; the poll only finds
what comes due by time alone, so an engine with nothing to do (a phone left running)
stops claiming twenty times a second for nothing. All on a ``ManualClock``."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

from ferryman.config import Settings
from ferryman.engine import deliver
from ferryman.engine.pipeline import PIPELINE
from ferryman.engine.plumbing.stages import NOTHING_NEXT, NothingNext
from ferryman.engine.plumbing.wakeup import IDLE_POLLS, Wakeup
from ferryman.engine.runner import Engine
from ferryman.store.memory.store import MemoryStore
from tests.support.clock import ManualClock, engine_idle
from tests.support.waiting import eventually

POLL = 0.5
STAGE_CLAIMS = ("fetch", "job", "delivery", "conversion", "watch")  # a look of each stage


async def test_an_idle_wait_doubles_up_to_its_cap_and_a_notify_brings_it_back() -> None:
    clock = ManualClock()
    wakeup = Wakeup(clock)
    ended: list[float] = []  # how long each wait lasted
    gaps: list[float] = []  # the next gap each returned
    gap = 0.0

    async def timed(gap: float) -> float:
        start = clock.monotonic()
        after = await wakeup.idle(POLL, gap, wakeup.mark("read"), "read")
        ended.append(clock.monotonic() - start)
        return after

    for _ in range(6):
        waiting = asyncio.create_task(timed(gap))
        await clock.until_sleeping()
        await clock.advance(POLL * IDLE_POLLS)  # the sleeper wakes at its own deadline
        gap = await waiting
        gaps.append(gap)
    assert ended == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # one poll, doubling, up to 8 polls
    assert gaps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]

    # A notify for the topic ends a long wait at once, and the next one is one poll.
    waiting = asyncio.create_task(wakeup.idle(POLL, gap, wakeup.mark("read"), "read"))
    await clock.until_sleeping()
    wakeup.notify("read")
    assert await waiting == POLL
    # One for another stage's topic does not.
    waiting = asyncio.create_task(wakeup.idle(POLL, 4.0, wakeup.mark("read"), "read"))
    await clock.until_sleeping()
    wakeup.notify("deliver")
    await asyncio.sleep(0)
    assert not waiting.done()
    await clock.advance(4.0)
    assert await waiting == 4.0
    # A notify that came while the worker looked (since its mark): no wait at all.
    mark = wakeup.mark("read")
    wakeup.notify()
    before = clock.monotonic()
    assert await wakeup.idle(POLL, 4.0, mark, "read") == POLL
    assert clock.monotonic() == before


class CountingStore(MemoryStore):
    """The memory store, counting each claim and housekeeping look by its method."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name.startswith("claim_") or name == "housekeeping_state":
            calls: Counter[str] = super().__getattribute__("calls")

            async def counted(*args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return await found(*args, **kwargs)

            return counted
        return found


async def test_an_idle_engine_looks_ever_less_often_until_a_wake_up(settings: Settings) -> None:
    shipped = settings.model_copy(update={"poll_seconds": POLL})
    clock = ManualClock()
    store = CountingStore()
    engine = Engine(store, shipped, clock=clock)
    running = asyncio.create_task(engine.run())
    try:
        await engine_idle(clock, shipped)
        workers = sum(stage.workers(shipped) for stage in PIPELINE)
        store.calls.clear()
        span = 60.0
        for _ in range(int(span / POLL)):  # in steps of a poll, as time passes
            await clock.advance(POLL)
            await engine_idle(clock, shipped)  # a round's thread hop ended (its folders)
        # A look every poll was 120 a worker in this minute (the notifier's 60, one a
        # second); growing apart, each worker looks at 0.5, 1.5, 3.5, 7.5 s and then
        # every 4 s: 17; the notifier at 1, 3, 7, 15 s, then every 8 s: 9.
        looks = span / (POLL * IDLE_POLLS) + 5
        fetchers = shipped.concurrency.fetch
        readers = shipped.concurrency.read
        assert 10 * readers <= store.calls["claim_job"] <= readers * looks
        assert 10 * fetchers <= store.calls["claim_fetch"] <= fetchers * looks
        assert 10 <= store.calls["claim_watch"] <= looks
        assert 10 * shipped.concurrency.deliver <= store.calls["claim_delivery"]
        assert store.calls["claim_delivery"] <= shipped.concurrency.deliver * looks
        assert 10 <= store.calls["housekeeping_state"] <= looks
        assert 5 <= store.calls["claim_notices"] <= span / IDLE_POLLS + 5

        # A wake-up for everyone: each worker looks at once, and again a poll later.
        def looked() -> int:
            return sum(store.calls[f"claim_{unit}"] for unit in STAGE_CLAIMS)

        await engine_idle(clock, shipped)
        store.calls.clear()
        engine.ctx.wakeup.notify()
        await eventually(lambda: looked() == workers, "every worker looked once")
        await engine_idle(clock, shipped)
        assert looked() == workers
        await clock.advance(POLL)
        await eventually(lambda: looked() == 2 * workers, "every worker looked again")
    finally:
        engine.stop()
        await running


@dataclasses.dataclass
class _DryRun:
    """A deliver stage's run that hands one album and then finds none next."""

    units: list[int]

    async def claim(self, lease: float) -> int | None:
        return self.units.pop() if self.units else None

    async def step(self, unit: int) -> NothingNext:
        return NOTHING_NEXT

    async def close(self) -> None:
        return None


async def test_a_deliverer_that_finds_no_album_next_wakes_the_conversions(
    settings: Settings,
) -> None:
    """Conversions wait for the moment nothing deliverable is left; a deliverer whose
    chained claim found none tells them, not their poll (which may be 8 polls away)."""
    clock = ManualClock()
    engine = Engine(MemoryStore(), settings, clock=clock)
    dry = _DryRun([7])
    stage = dataclasses.replace(deliver.STAGE, open=lambda ctx: dry)
    convert_mark = engine.ctx.wakeup.mark("convert")
    woken = asyncio.create_task(engine.ctx.wakeup.wait(3600, since=convert_mark, topic="convert"))
    worker = asyncio.create_task(engine._work(stage, dry))
    try:
        await asyncio.wait_for(woken, 30)  # no clock moved: only the notify ends it
        assert dry.units == []
    finally:
        engine.stop()
        await worker
