"""A stop cuts the reading thread's network work even between two steps.

A tar streamed from a link is downloaded by a pump thread of its own (it copies the
reading thread's context, ``archive.box.stream``), which goes on between steps. The
cut came only with a step the stop found in flight: a stop between two steps left the
pump in a stalled ``recv`` holding the stream's lock, the closing call waited on it,
and `ferryman run` did not end after Ctrl-C (CI, under load)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from ferryman.engine.read.reading_thread import ReadingThread
from ferryman.net import abort


async def test_a_stop_between_steps_cuts_a_thread_started_by_an_earlier_step() -> None:
    stopping = asyncio.Event()
    reader = ReadingThread(stopping)
    cut = threading.Event()

    def pump() -> None:  # as archive.box.stream's pump: the step's context, its own thread
        try:
            abort.pause(600)  # a recv on a stalled server, as far as a stop can tell
        except abort.Aborted:
            cut.set()

    def start_pump() -> threading.Thread:
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(pump,), daemon=True)
        thread.start()
        return thread

    try:
        thread = await reader.step(start_pump)  # the step ends; its pump goes on
        assert thread.is_alive()
        stopping.set()  # no step in flight now
        # the closing call that follows a stop: the pump was cut before it
        assert await asyncio.wait_for(reader.call(cut.wait, 30), 30), "the pump was not cut"
        checked = await reader.call(lambda: abort.current.get())
        assert checked is not None and checked.triggered  # no new request after a stop
    finally:
        reader.close()
