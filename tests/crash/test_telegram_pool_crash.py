"""SIGKILL an engine whose pool (a user and two bots) delivers one job: every photo still
arrives once, in the job's order, while one account is flood-waited mid-job.

As ``test_telegram_crash.py``: the engine runs in a child process and reaches the fake
here over TCP; a hook kills it right after a chosen account's send was handled, before
its answer leaves. Telegram knows a ``random_id`` per account, so the album posted
unanswered must go again through the same account (the fake answers a repeat with the
first send's messages) and never through another (which would post it twice).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg.accounts import flood_account
from faketg.server import Call
from tests.crash.test_telegram_crash import CHILD_LIMIT, World
from tests.support.forked import AsyncProcess
from tests.support.telegram_pool import log_in_as, senders, spread_to
from tests.support.waiting import child_ends

PHOTOS = 60  # six albums of ten


class PoolWorld(World):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.bot1 = self.server.add_user("Bot1", username="one_bot", bot=True)
        self.bot2 = self.server.add_user("Bot2", username="two_bot", bot=True)
        self.channel.admins |= {self.bot1.id, self.bot2.id}
        self.channel.members |= {self.bot1.id, self.bot2.id}

    async def start(self, photos: int = PHOTOS) -> None:
        await super().start(photos)  # the own session: Ann
        await log_in_as(self.settings, self.server, self.me)
        await log_in_as(self.settings, self.server, self.bot1, "bot1")
        await log_in_as(self.settings, self.server, self.bot2, "bot2")


class KillAfterSend:
    """An ``after_handle`` hook: SIGKILL the child right after ``account``'s n-th album
    was posted, before its answer leaves (every connection dropped at that instant)."""

    def __init__(self, world: PoolWorld, account_id: int, n: int = 1) -> None:
        self.world = world
        self.account_id = account_id
        self.left = n
        self.proc: AsyncProcess | None = None
        self.posted: list[int] = []  # the random_ids of the send it killed after

    def __call__(self, call: Call, request: Any, _result: Any) -> None:
        if self.proc is None or self.left <= 0 or call.account is None:
            return
        if call.account.id != self.account_id:
            return
        if not isinstance(request, functions.messages.SendMultiMediaRequest):
            return
        self.left -= 1
        if self.left == 0:
            self.posted = [m.random_id for m in request.multi_media]
            os.kill(self.proc.pid, signal.SIGKILL)
            self.world.server.drop_all()

    async def run(self) -> None:
        self.world.server.after_handle.append(self)
        try:
            self.proc = await self.world.spawn()
            code = await child_ends(self.proc, CHILD_LIMIT, "the child run ended")
        finally:
            self.world.server.after_handle.remove(self)
        assert code == -signal.SIGKILL, self.world.child_log()


@pytest.mark.slow
async def test_a_pool_delivers_in_order_once_across_kills_and_a_flood_wait(
    tmp_path: Path,
) -> None:
    w = PoolWorld(tmp_path)
    await w.start()
    # (account, random_ids, when on the fake's clock) of every album sent
    sends: list[tuple[int, list[int], float]] = []

    def record(call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, functions.messages.SendMultiMediaRequest) and call.account:
            ids = [m.random_id for m in request.multi_media]
            sends.append((call.account.id, ids, w.server.clock()))

    w.server.after_handle.append(record)
    try:
        # A bot's album is posted; the engine dies before it hears back. (The others'
        # albums held until bot1 took one: a slowly read job's albums all went through
        # the first free account, the own one.)
        first = KillAfterSend(w, w.bot1.id)
        async with spread_to(w.server, w.bot1, [w.me, w.bot2]):
            await first.run()
        assert first.posted, w.evidence()
        # Telegram now slows the user down for the rest of the job.
        flood_account(w.server, w.me, 300)
        flood_until, _ = w.server.caps.floods[w.me.id]  # as the fake holds it
        flood_began = len(sends)
        # The other bot's next album is posted; killed again before the answer.
        second = KillAfterSend(w, w.bot2.id)
        # (bot1's held until bot2 has an album: one it readied before the kill will do)
        async with spread_to(w.server, w.bot2, [w.bot1], since=0):
            await second.run()
        assert second.posted, w.evidence()
        await w.finish()  # the bots end the job: nothing waits out the 300 s
    finally:
        await w.close()

    await w.assert_every_photo_once()
    chat = [m for m in w.chat() if m.media is not None]
    assert [m.media.file.name for m in chat] == sorted(w.inputs), w.evidence()  # in order
    assert {w.bot1.id, w.bot2.id} <= set(senders(chat))
    # Each album posted unanswered went again through its own account, and only that one.
    for killed, account in ((first.posted, w.bot1.id), (second.posted, w.bot2.id)):
        repeats = [who for who, ids, _ in sends if set(ids) & set(killed)]
        assert repeats == [account, account], (repeats, w.evidence())
    # After its wait began the user posted nothing, and the job's last album went while
    # that wait still held, on the fake's own clock: nothing waited the 300 s out.
    after = sends[flood_began:]
    assert w.me.id not in [who for who, _, _ in after]
    assert after and max(at for _, _, at in after) < flood_until
