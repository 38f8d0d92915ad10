"""The reading thread: every blocking call of one read on one thread (an archive handle
never changes hands), a stop cutting the call short, and a pool that fsyncs what it
staged, several files at once (``read_run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from ferryman.engine.context import Stopping
from ferryman.net import abort

SYNC_THREADS = 4  # fsyncs of staged files at once: 4 took ~half the time of 1 here

P = ParamSpec("P")
T = TypeVar("T")


class ReadingThread:
    """Runs every blocking call on one thread, and owns the fsync pool.

    ``step`` is a call that a stop cuts short: the thread's network reads, retry pauses
    and staging end at once (``net.abort``), and the step leaves with ``Stopping``. A
    stalled server held a stop (and the process's exit) for minutes.

    The cut comes with the stop itself, not with the step it finds: a tar streamed from
    a link is downloaded by a pump thread of its own (``archive.box.stream``) between
    steps too, and a stop that came between two steps left the pump in a stalled
    ``recv`` holding the stream's lock, so the closing call waited on it for minutes
    (and the process's exit on that call)."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferryman-read")
        self.syncer = ThreadPoolExecutor(
            max_workers=SYNC_THREADS, thread_name_prefix="ferryman-sync"
        )
        self._stopping = stopping
        self._abort = abort.Abort()
        self._cutter = asyncio.ensure_future(self._cut_on_stop())

    async def _cut_on_stop(self) -> None:
        await self._stopping.wait()
        self._abort.trigger()

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` on the reading thread, with this read's abort as its own."""
        bound = functools.partial(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        done: T = await loop.run_in_executor(self._pool, abort.run_with, self._abort, bound)
        return done

    async def step(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call``, cut short by a stop (``Stopping``)."""
        work = asyncio.ensure_future(self.call(fn, *args, **kwargs))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not work.done():
            self._abort.trigger()
            with contextlib.suppress(BaseException):  # what it says no longer matters
                await work
            raise Stopping
        return work.result()

    def close(self) -> None:
        self._cutter.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.syncer.shutdown(wait=False)  # a run still reading waits for its own fsyncs
