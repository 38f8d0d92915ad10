"""``net.own_thread``: a call that waits on a remote server runs beside the loop's shared
pool, never in it, and a stop still reaches it (the caller's context goes along)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ferryman.net import abort
from ferryman.net.own_thread import on_own_thread
from tests.support.waiting import WITHIN


async def test_a_call_runs_while_the_shared_pool_is_full() -> None:
    shared = ThreadPoolExecutor(2)
    asyncio.get_running_loop().set_default_executor(shared)
    held = threading.Event()
    try:
        busy = [asyncio.ensure_future(asyncio.to_thread(held.wait)) for _ in range(3)]
        name = await asyncio.wait_for(
            on_own_thread(lambda: threading.current_thread().name), WITHIN
        )  # before (to_thread): behind the pool's two held threads, for as long as they are
        assert name.startswith("ferryman-net-") and not any(task.done() for task in busy)
    finally:
        held.set()
        shared.shutdown(wait=True)


async def test_the_callers_abort_reaches_the_thread_and_what_it_raises_comes_back() -> None:
    cut = abort.Abort()
    token = abort.current.set(cut)
    try:
        assert await on_own_thread(abort.current.get) is cut  # a stop cuts its sockets
        cut.trigger()
        with pytest.raises(abort.Aborted):
            await on_own_thread(abort.check)
    finally:
        abort.current.reset(token)


async def test_a_cancelled_caller_stops_waiting_and_the_thread_ends_alone() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait()
        finished.set()
        return "late"

    waiting = asyncio.ensure_future(on_own_thread(slow))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    assert await asyncio.to_thread(finished.wait, WITHIN)  # its late result goes nowhere
