"""Uploads in line by the order they began (``window.Ranked``): of two files sent at
once over a slow link the first is done first, the second takes what it leaves."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from telethon.tl import functions

from faketg import FakeTelegram, LinkModel
from faketg.client import FakeDialer, logged_in_client
from ferryman.telegram.upload import Uploader
from ferryman.telegram.window import PartsInMemory, Window
from tests.support.waiting import eventually

PART = 64 * 1024


async def test_the_window_lets_an_upload_begun_earlier_go_first() -> None:
    window = Window(1, 1)
    await window.acquire(9)  # the one slot taken
    order: list[int] = []

    async def send(rank: int) -> None:
        await window.acquire(rank)
        order.append(rank)
        window.release()

    waiting = [asyncio.create_task(send(rank)) for rank in (3, 2, 3, 1)]
    await eventually(lambda: len(window._waiting._heap) == 4, "four waiting for the slot")
    window.release()
    await asyncio.gather(*waiting)
    assert order == [1, 2, 3, 3]


async def test_reads_ahead_go_to_the_upload_begun_earlier_first() -> None:
    window = Window(1, 1)
    parts = PartsInMemory(window, ahead=0)  # space for one part read and unacknowledged
    await parts.take(9)
    order: list[int] = []

    async def read(rank: int) -> None:
        await parts.take(rank)
        order.append(rank)
        parts.give()

    waiting = [asyncio.create_task(read(rank)) for rank in (2, 1)]
    await eventually(lambda: len(parts._waiting._heap) == 2, "two waiting to read")
    parts.give()
    await asyncio.gather(*waiting)
    assert order == [1, 2]


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    """A waiter woken and cancelled before it took its slot hands the wake-up on: the
    next in line is not left waiting for a release that never comes."""
    window = Window(1, 1)
    await window.acquire(9)
    first = asyncio.create_task(window.acquire(1))
    second = asyncio.create_task(window.acquire(2))
    await eventually(lambda: len(window._waiting._heap) == 2, "two waiting for the slot")
    window.release()  # wakes the first in line ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    async with asyncio.timeout(5):
        await second
    assert window.in_flight == 1


async def test_of_two_files_on_a_slow_link_the_one_begun_first_is_done_first(
    tmp_path: Path,
) -> None:
    """Two files of 16 parts at 1 MB/s, 4 parts in flight: sharing the window, both
    were done at about the same time (half the second's parts went before the first's
    last). In line, the first goes out whole first; the second takes what it leaves."""
    server = FakeTelegram(link=LinkModel(0.01, None, 1e6))
    me = server.add_user("Ann", phone="+15550001")
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    arrivals: list[int] = []
    handler = server.handlers[functions.upload.SaveFilePartRequest]

    async def noting(srv: FakeTelegram, call: object, req: object) -> object:
        arrivals.append(req.file_id)  # type: ignore[attr-defined]
        return await handler(srv, call, req)

    server.handlers[functions.upload.SaveFilePartRequest] = noting
    rng = random.Random(3)
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(rng.randbytes(16 * PART))
    second.write_bytes(rng.randbytes(16 * PART))
    try:
        uploader = Uploader(
            client, FakeDialer(server), connections=2, max_in_flight=4, part_size=PART
        )
        async with asyncio.timeout(60):
            a = asyncio.create_task(uploader.upload(first))
            await eventually(lambda: arrivals, "the first file's first part")
            b = asyncio.create_task(uploader.upload(second))
            ra, rb = await asyncio.gather(a, b)
        await uploader.close()
    finally:
        await client.disconnect()
    last_of_first = max(i for i, file_id in enumerate(arrivals) if file_id == ra.id)
    second_before = sum(1 for file_id in arrivals[:last_of_first] if file_id == rb.id)
    assert arrivals.count(ra.id) == arrivals.count(rb.id) == 16
    assert second_before <= 4, arrivals  # sharing the window: 7 of them (the old code)
