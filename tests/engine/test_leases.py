"""A step's heartbeat (``engine/plumbing/leases.held``) on a clock the test moves: a
claim taken back by a cancel stops the step with an info line, a claim another worker
took once the lease ran out stops it with a warning (a fault worth a journal's eye)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ferryman.engine.plumbing.leases import held
from ferryman.store.claimed import Claimed
from ferryman.store.memory.store import MemoryStore
from tests.support.clock import ManualClock

LEASE = 30.0


async def _held_until_stopped(store: MemoryStore, clock: ManualClock, fetch: int) -> None:
    async with held(store, Claimed.FETCH, fetch, "f", LEASE, clock=clock):
        await asyncio.Event().wait()  # the step: a download that never ends by itself


@pytest.mark.parametrize("taken_by", ["a cancel", "another worker"])
async def test_a_step_whose_claim_is_gone_stops_and_says_why_at_the_right_level(
    caplog: pytest.LogCaptureFixture, taken_by: str
) -> None:
    clock = ManualClock()  # the heartbeat's sleeps
    wall = [clock.now()]  # the store's time: moved alone, while the heartbeat sleeps
    store = MemoryStore(clock=lambda: wall[0])
    try:
        job = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
        fetch = await store.claim_fetch("f", LEASE)
        assert fetch is not None
        step = asyncio.create_task(_held_until_stopped(store, clock, fetch.id))
        await clock.until_sleeping(1, "the heartbeat")
        await clock.advance(LEASE / 3)  # a beat: still ours, renewed
        await clock.until_sleeping(1, "the next heartbeat")
        assert not step.done()
        if taken_by == "a cancel":
            await store.cancel(job.id)
        else:
            wall[0] += 2 * LEASE  # a stall past the lease: another takes the work
            await store.reap()
            assert await store.claim_fetch("g", LEASE) is not None
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ferryman.engine.plumbing.leases"):
            await clock.advance(LEASE / 3)
            with pytest.raises(asyncio.CancelledError):
                await step
        said = [(r.levelno, r.getMessage()) for r in caplog.records]
        if taken_by == "a cancel":
            assert said == [
                (logging.INFO, f"fetch {fetch.id} was let go (cancelled); stopping that step")
            ]
        else:
            assert said == [
                (logging.WARNING, f"lost the lease on fetch {fetch.id}; stopping that step")
            ]
    finally:
        await store.close()
