"""Accounts join and leave a running engine's pool, through the real client and the fake.

A finished ``telegram login --as NAME`` (its session and flags written) joins the pool
of an engine that runs already, from the next job on; a logout leaves it. An album whose
sends an account may have sent stays that account's: it waits for its login rather than
going through another (Telegram knows a ``random_id`` per account).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from faketg.accounts import cap_mbit
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.resources import Shared
from ferryman.samples import make_zip
from ferryman.sinks.base import Delivery
from ferryman.sinks.telegram_accounts import choose
from ferryman.store import Store
from ferryman.telegram.account import forget
from ferryman.telegram.accounts import AccountPool, session_of
from ferryman.telegram.hub import account_hub
from tests.store.test_store import _expanded_job
from tests.support.telegram_pool import log_in_as, senders
from tests.support.waiting import eventually
from tests.telegram.test_telegram_pool import Pool
from tests.telegram.test_telegram_sink import photos, telegram_state


def log_out(pool: Pool, name: str) -> None:
    """What ``telegram logout --as NAME`` leaves: no session, no flags."""
    session = session_of(pool.settings, name)
    session.unlink()
    forget(session)


async def deliver(w: Pool, store: Store, key: str, n: int) -> list[int]:
    """A job of ``n`` photos added to the running engine; who posted each of them."""
    zipped = make_zip(w.tmp / f"{key}.zip", photos(w.tmp / key, n))
    job = await intake.add_source(store, zipped, dest="telegram:@dest")

    async def ended() -> bool:
        return (await store.get_job(job.id)).state is JobState.DONE

    await eventually(ended, f"job {job.id} done", within=60)
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    return senders(chat[-n:])


async def test_a_login_joins_a_running_engines_pool_and_a_logout_leaves_it(
    tmp_path: Path,
) -> None:
    w = Pool(tmp_path)
    await log_in_as(w.settings, w.server, w.me)
    await log_in_as(w.settings, w.server, w.bot1, "bot1")
    for account in (w.me, w.bot1, w.bot2):
        cap_mbit(w.server, account, 100000)
    store = await w.store()
    engine = w.engine(store)
    running = asyncio.create_task(engine.run())
    try:
        async with w.spread_to(w.bot1):
            first = await deliver(w, store, "a", 40)
        assert w.bot2.id not in first and w.bot1.id in first
        await log_in_as(w.settings, w.server, w.bot2, "bot2")  # the engine runs on
        async with w.spread_to(w.bot2):
            second = await deliver(w, store, "b", 60)
        assert w.bot2.id in second, second  # joined without a restart
        log_out(w, "bot1")
        third = await deliver(w, store, "c", 40)
        assert w.bot1.id not in third and set(third) <= {w.me.id, w.bot2.id}, third
    finally:
        engine.stop()
        await running
        await store.close()
    chat = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert len(chat) == 140  # every photo once
    names = [m.media.file.name for m in chat]
    assert names == [f"p{i:02d}.jpg" for n in (40, 60, 40) for i in range(n)]  # in order


async def test_an_album_tried_through_an_account_that_left_waits_for_its_login(
    tmp_path: Path,
) -> None:
    w = Pool(tmp_path)
    await w.log_in_all()
    shared = Shared(w.settings)
    pool = AccountPool(shared)
    assert [m.name for m in pool.members] == ["ferryman", "bot1", "bot2"]
    bot1 = pool.member("bot1")
    assert bot1 is not None
    store = await w.store()
    try:
        state = telegram_state(store)
        # Two albums: one whose send went out through bot1 unanswered (tried), one
        # planned through the own account of the pool, nothing tried yet.
        tried, planned = [await album_of(store) for _ in range(2)]
        sends = await state.plan_sends(*slots(tried), account="bot1", pooled=True)
        await state.mark_tried(sends)
        await state.plan_sends(*slots(planned), account=None, pooled=True)

        log_out(w, "bot1")
        assert pool.refresh()
        assert [m.name for m in pool.members] == ["ferryman", "bot2"]
        assert account_hub(shared, "bot1") is not bot1.hub  # a new login: a new client
        assert not pool.refresh()  # the folder did not change: nothing read again
        with pytest.raises(FerrymanError) as refused:
            await choose(pool, state, tried, CHAT, set(), time.time())
        assert refused.value.code == "telegram.not_logged_in"  # not through another

        # The pool shrinks to the own account: the planned album goes through it as
        # one account's would, and its sends are bound to it as they go out.
        log_out(w, "bot2")
        assert pool.refresh() and not pool.several
        attempt = await choose(pool, state, planned, CHAT, set(), time.time())
        assert attempt.member.own and not attempt.pooled
        attempt.sends = await state.sends(*slots(planned)[:2])
        await attempt.before_send()
        await log_in_as(w.settings, w.server, w.bot1, "bot1")
        await log_in_as(w.settings, w.server, w.bot2, "bot2")
        assert pool.refresh()
        assert [m.name for m in pool.members] == ["ferryman", "bot1", "bot2"]
        # Bound: never moved to an account that joined since, even were the own one
        # to give way (which an album whose send may have gone never does).
        again = await choose(pool, state, planned, CHAT, {"ferryman"}, time.time())
        assert again.member.own
        again = await choose(pool, state, tried, CHAT, set(), time.time())
        assert again.member.name == "bot1"  # logged in again: its album repeats through it
    finally:
        await store.close()
        await pool.close()
        await shared.close()


CHAT = "@dest"


async def album_of(store: Store) -> Delivery:
    """A sealed album of three photos, claimed for delivery (what ``choose`` reads)."""
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("deliverer", 30)
    assert album is not None and album.job_id == job_id
    return cast(Delivery, SimpleNamespace(job=SimpleNamespace(id=job_id), album=album, caption=""))


def slots(d: Delivery) -> tuple[int, int, list[tuple[int, int]]]:
    return d.job.id, d.album.id, [(it.id, 0) for it in d.album.items]
