"""Big files uploaded while they are staged, through a pool: the album that holds them
goes through the account that uploaded them, so nothing is uploaded twice.

An upload is its account's own (another account would upload the file again): a job's
uploads ahead go through one account of the pool (``telegram/early_pool``), and
``choose`` routes the album to it while it is free.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from telethon.tl import functions

from faketg.client import FakeDialer
from ferryman.engine.ops import intake
from ferryman.engine.read.stage import AHEAD_BYTES
from ferryman.model import ItemState
from ferryman.resources import Shared
from ferryman.sinks.base import Delivery
from ferryman.sinks.telegram_accounts import choose
from ferryman.telegram.accounts import AccountPool
from ferryman.telegram.early_pool import PoolEarlyUploads
from tests.store.test_store import _expanded_job
from tests.support.telegram_pool import senders
from tests.telegram.test_telegram_pool import Pool
from tests.telegram.test_telegram_sink import telegram_state

PART = 512 * 1024
CHAT = "@dest"


async def test_an_album_goes_through_the_account_that_uploaded_its_file_ahead(
    tmp_path: Path,
) -> None:
    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    shared = Shared(w.settings, FakeDialer(w.server))
    pool = AccountPool(shared)
    store = await w.store()
    try:
        job_id = await _expanded_job(store, 1)
        album = await store.claim_album("deliverer", 30)
        assert album is not None
        big = tmp_path / "big.pdf"
        big.write_bytes(b"%PDF-1.4\n" + os.urandom(AHEAD_BYTES + 777))
        album.items[0].work_path = str(big)
        delivery = cast(
            Delivery, SimpleNamespace(job=SimpleNamespace(id=job_id), album=album, caption="")
        )
        own, bot1 = pool.own, pool.member("bot1")
        assert bot1 is not None
        own.busy = 1  # the own account delivers another album as the job is staged
        ahead = PoolEarlyUploads(pool, CHAT, time.time, asyncio.get_running_loop())
        file = ahead.start(big, big.stat().st_size)
        assert file is not None
        ahead.begin_whole(file, big)
        assert bot1.hub.early_uploads().holds(big)
        assert not own.hub.early_uploads().holds(big)
        own.busy = 0  # every account free: the pool alone would hand it the own one
        attempt = await choose(pool, telegram_state(store), delivery, CHAT, set(), time.time())
        assert attempt.member is bot1  # where its file is
        assert attempt.pool is None  # not queued behind the pool's other albums
        uploaded = await bot1.hub.early_uploads().take(big)
        assert uploaded is not None  # there to take: not uploaded again
    finally:
        await store.close()
        await pool.close()
        await shared.close()


async def test_a_pools_big_files_are_uploaded_once_and_sent_by_their_uploader(
    tmp_path: Path,
) -> None:
    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    parts: list[int] = []  # who sent each big file part

    def note(call: Any, request: Any, _result: Any) -> None:
        if isinstance(request, functions.upload.SaveBigFilePartRequest):
            parts.append(call.account.id)

    w.server.after_handle.append(note)
    folder = tmp_path / "in"
    folder.mkdir()
    sizes = [AHEAD_BYTES + 3 * PART + 777, AHEAD_BYTES + PART + 5]
    for i, size in enumerate(sizes):
        (folder / f"big{i}.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(size - 9))
    store = await w.store()
    try:
        job = await intake.add_source(store, folder, dest="telegram:@dest")
        await w.run(store)
        items = await store.job_items(job.id)
        assert {it.state for it in items} == {ItemState.DELIVERED}
    finally:
        await store.close()
    sent = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.file.name for m in sent] == ["big0.pdf", "big1.pdf"]  # once each
    assert len(parts) == sum(-(-s // PART) for s in sizes)  # each part once: none again
    (poster,) = set(senders(sent))
    assert set(parts) == {poster}  # sent by the account that uploaded them
