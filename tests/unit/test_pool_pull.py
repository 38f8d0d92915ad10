"""The pool's accounts pull albums (``AccountPool.take``): a big album late in the job
starts first, beside the small ones; none is readied behind a big upload."""

from __future__ import annotations

import asyncio
from typing import Any

from ferryman.telegram.accounts import AccountPool, Member, Ticket

MB = 1_000_000


def pool_of(*names: str) -> AccountPool:
    pool = AccountPool.__new__(AccountPool)  # no hubs: only the pulling is under test
    pool.members = [
        Member(n, hub=None, premium=False, bot=True, own=i == 0) for i, n in enumerate(names)
    ]  # type: ignore[arg-type]
    pool._tickets = []
    pool._changed = asyncio.Event()
    return pool


def ticket(pool: AccountPool, seq: int, size: int) -> Ticket:
    return Ticket((1, seq), size, frozenset(m.name for m in pool.members))


async def pulled(pool: AccountPool, tickets: list[Ticket]) -> dict[int, str]:
    """Every ticket waiting at once; which account took which (by seq)."""
    tasks = {t.order[1]: asyncio.ensure_future(pool.take(t)) for t in tickets}
    for _ in range(10):  # every wake-up that follows a take
        await asyncio.sleep(0)
    taken = {seq: task.result().name for seq, task in tasks.items() if task.done()}
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    return taken


async def test_a_big_album_late_in_the_job_is_pulled_before_the_small_ones_ahead() -> None:
    pool = pool_of("a", "b", "c", "d")
    small = [ticket(pool, seq, 2 * MB) for seq in range(1, 30)]
    big = ticket(pool, 30, 14 * MB)
    taken = await pulled(pool, [*small, big])
    assert 30 in taken  # started now, not at its turn
    # the others took the first small ones, in the job's order
    assert sorted(s for s in taken if s != 30)[:3] == [1, 2, 3]


async def test_no_album_is_readied_behind_a_big_upload() -> None:
    pool = pool_of("a", "b")
    big = ticket(pool, 1, 14 * MB)
    assert (await pool.take(big)).name == "a"
    taken: dict[int, Any] = await pulled(pool, [ticket(pool, s, 2 * MB) for s in range(2, 9)])
    assert set(taken.values()) == {"b"}  # "a" uploads the big one alone
