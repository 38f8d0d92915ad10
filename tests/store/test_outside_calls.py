"""A fetch's outside call made once (``store/fetches/calls``), on SQLite, PostgreSQL and
the memory store, by two nodes' stores on one database: claimed by one, held while it
is renewed, taken over once it runs out, its first result kept; on PostgreSQL two
nodes claiming at the same moment, one of them gets it."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from ferryman.store.fetches.calls import CLAIM, HELD, MADE, MINE, OutsideCall
from tests.support.clock import ManualClock
from tests.support.two_nodes import Stores, nodes

__all__ = ["nodes"]

KEY = "debrid.item"


async def _job(store: Stores) -> int:
    source = f"https://example.invalid/{secrets.token_hex(8)}.zip"  # its own, on a kept database
    return (await store.add_job(source=source, name="a", dest="library:", fetch=True)).id


async def test_a_call_is_held_while_renewed_then_taken_over_its_first_result_kept(
    nodes: tuple[Stores, Stores, ManualClock],
) -> None:
    one, two, clock = nodes
    job = await _job(one)
    start = clock.now()
    assert await one.claim_call(job, KEY, "a", 60) == OutsideCall(MINE)
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(HELD, until=start + 60)
    await clock.advance(30)
    assert (await one.claim_call(job, KEY, "a", 60)).state == MINE  # renewed: until +90
    await clock.advance(40)
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(HELD, until=start + 90)
    await clock.advance(21)  # a's claim ran out: b takes it over
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(MINE, taken_over=True)
    # a's call came back late: its result is the first kept; b's claim is b's own still
    assert await one.call_made(job, KEY, "a", "A") == "A"
    assert KEY + CLAIM in await two.source_memos(job)
    assert await two.call_made(job, KEY, "b", "B") == "A"  # the first result stays
    assert KEY + CLAIM not in await two.source_memos(job)
    assert await two.claim_call(job, KEY, "c", 60) == OutsideCall(MADE, value="A")
    assert await one.call_made(job, KEY, "a", "A2", replace=True) == "A2"  # a new id, kept


async def test_a_dropped_claim_is_free_at_once_and_only_its_owner_drops_it(
    nodes: tuple[Stores, Stores, ManualClock],
) -> None:
    one, two, _ = nodes
    job = await _job(one)
    assert (await one.claim_call(job, KEY, "a", 60)).state == MINE
    await two.call_dropped(job, KEY, "b")  # not b's: nothing
    assert (await two.claim_call(job, KEY, "b", 60)).state == HELD
    await one.call_dropped(job, KEY, "a")
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(MINE)


@pytest.mark.parametrize(
    "nodes", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_nodes_claiming_at_once_one_gets_it(
    nodes: tuple[Stores, Stores, ManualClock],
) -> None:
    """Each claim locks the job's row first: claims of one job take turns, so of many at
    once across two engines exactly one is its owner's."""
    one, two, _ = nodes
    for _ in range(5):
        job = await _job(one)
        claims = [(one if n % 2 else two).claim_call(job, KEY, f"node{n}", 60) for n in range(8)]
        found = await asyncio.gather(*claims)
        assert [f.state for f in found].count(MINE) == 1
        assert {f.state for f in found} == {MINE, HELD}


async def test_a_call_cut_mid_way_holds_everyone_off_until_its_claim_runs_out(
    nodes: tuple[Stores, Stores, ManualClock],
) -> None:
    """Its request may still be carried out by the service: nobody adds, its own worker
    neither, until the claim runs out; then the one that takes it over asks first."""
    one, two, clock = nodes
    job = await _job(one)
    start = clock.now()
    assert (await one.claim_call(job, KEY, "a", 60)).state == MINE
    await one.call_dropped(job, KEY, "a", unknown=True)
    assert await one.claim_call(job, KEY, "a", 60) == OutsideCall(HELD, until=start + 60)
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(HELD, until=start + 60)
    await clock.advance(61)
    assert await two.claim_call(job, KEY, "b", 60) == OutsideCall(MINE, taken_over=True)
