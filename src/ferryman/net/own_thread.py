"""Blocking network work on a thread of its own, not on the event loop's shared pool.

``asyncio.to_thread`` runs on the loop's default executor, a handful of threads (cores
+ 4) that every quick blocking call of the process shares: the web API's link check
and ``understand``, a watch's entries understood, a download's writes. A call that waits
on a remote server holds its thread as long as the server takes: a zip's central
directory read by Range from an origin trickling a few bytes a second held one for
minutes, and a watch's batch probes several at once, so the pool filled and
``POST /api/v1/jobs`` got no answer. Such a call gets a thread of its own here; how
many run at once is bounded by whoever calls (the fetch workers, a batch's window).

The caller's context goes along (``net.abort.current``: a stop still cuts the
thread's sockets). A cancelled caller stops waiting at once; the thread ends when its
call does (a stop cuts it). The thread is a daemon: a process exits without waiting
for a read from a stalled server, which has nothing to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its waiter was cancelled
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def on_own_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on a new thread, in a copy of the caller's context."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome: tuple[bool, Any] = (True, context.run(fn, *args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, future, *outcome)

    name = f"ferryman-net-{getattr(fn, '__name__', 'call')}"
    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
