"""The fetch stage's ``OnceCalls`` (``engine/plumbing/once_calls``): a claim renewed on
the stage's loop while the source's thread makes its call, so another node keeps
waiting however long the call takes; the renewal ends with the call; and a call from
the loop itself is refused (it would wait for itself)."""

from __future__ import annotations

import asyncio

import pytest

from ferryman.engine.plumbing.once_calls import StoreCalls, hold_for
from ferryman.store.fetches.calls import HELD, MINE
from ferryman.store.memory.store import MemoryStore
from tests.support.clock import ManualClock

KEY = "debrid.item"


async def test_a_claim_is_renewed_while_its_call_is_on_its_way_and_no_longer_after() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock.now)
    job = (await store.add_job(source="magnet:?x", name="a", dest="library:", fetch=True)).id
    calls = StoreCalls(store, job, "a:1:x", clock, 60)
    start = clock.now()
    claim = await asyncio.to_thread(calls.claim, KEY)  # as the source's thread asks
    assert claim.mine and claim.made is None and not claim.taken_over
    for beat in range(1, 7):  # two minutes on the way: twice the hold, renewed each third
        await clock.advance(20)
        other = await store.claim_call(job, KEY, "b:2:y", 60)
        assert (other.state, other.until) == (HELD, start + 20 * beat + 60)
    assert await asyncio.to_thread(calls.made, KEY, '{"item": "1"}') == '{"item": "1"}'
    assert clock.sleeping() == 0  # the renewal ended with the call
    again = await asyncio.to_thread(calls.claim, KEY)
    assert (again.mine, again.made) == (False, '{"item": "1"}')


async def test_a_dropped_call_frees_the_claim_at_once() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock.now)
    job = (await store.add_job(source="magnet:?y", name="a", dest="library:", fetch=True)).id
    calls = StoreCalls(store, job, "a:1:x", clock, 60)
    assert (await asyncio.to_thread(calls.claim, KEY)).mine
    await asyncio.to_thread(calls.dropped, KEY)
    assert clock.sleeping() == 0
    assert (await store.claim_call(job, KEY, "b:2:y", 60)).state == MINE


async def test_a_call_from_the_loop_itself_is_refused() -> None:
    calls = StoreCalls(MemoryStore(), 1, "a:1:x", ManualClock(), 60)
    with pytest.raises(RuntimeError, match="thread"):
        calls.claim(KEY)


def test_a_claim_holds_longer_than_the_lease_it_outlives() -> None:
    assert hold_for(1.0) == 60.0
    assert hold_for(30.0) == 120.0
