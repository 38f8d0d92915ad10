"""``fsutil.write_whole``: a cancelled caller goes on only once its write on a thread has
ended (a cancelled Telegram download appended its last chunk after the next fetch had
measured the file: that chunk was asked for twice, seen once in a fresh-clone run)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ferryman.fsutil import write_whole


async def test_a_cancel_waits_for_the_write_under_way_then_goes_on() -> None:
    started, go = threading.Event(), threading.Event()
    written: list[bytes] = []

    def write(data: bytes) -> int:
        started.set()
        go.wait(30)
        written.append(data)
        return len(data)

    task = asyncio.create_task(write_whole(write, b"chunk"))
    await asyncio.to_thread(started.wait, 30)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()  # twice: still waits
    await asyncio.sleep(0)
    assert not task.done() and written == []
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert written == [b"chunk"]  # ended before the cancel went on


async def test_a_write_answers_and_fails_as_it_would() -> None:
    assert await write_whole(len, b"abc") == 3

    def broken() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        await write_whole(broken)
