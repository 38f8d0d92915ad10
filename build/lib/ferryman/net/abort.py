"""Cutting a reading thread's network work short when the engine stops.

Reading over the network runs on worker threads (a zip read in place, a WebDAV
folder, a Torbox item), where a stalled server blocks a ``recv`` for up to
``stall_seconds`` and retries sleep between attempts; a thread cannot be cancelled, so
a stop waited for all of that and the process could not exit for minutes. An ``Abort``
set in the thread's context (``current``) is triggered from the event loop: it shuts
the sockets its requests connected (a blocked ``recv`` returns at once), refuses new
requests, ends retry pauses, and raises ``Aborted`` where the thread next looks
(``check``, between the blocks it stages). A ContextVar, not an argument, so every
client made on such a thread takes part without each source passing it along.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class Aborted(BaseException):
    """The work was cut short by a stop. A BaseException, so that no ``except
    Exception`` on the way takes it for a failure to record or to retry."""


class Abort:
    """One step's switch, shared by the loop (``trigger``) and its threads (the rest)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    @property
    def triggered(self) -> bool:
        return self._event.is_set()

    def trigger(self) -> None:
        """From any thread: cut what is in flight, refuse what comes next."""
        with self._lock:
            self._event.set()
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._event.is_set():
                self._sockets.add(sock)
                return
        with contextlib.suppress(OSError):  # connected as the stop came
            sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        if self._event.is_set():
            raise Aborted

    def pause(self, seconds: float) -> None:
        """``time.sleep`` that a trigger ends early (then ``Aborted``)."""
        if self._event.wait(seconds):
            raise Aborted


current: contextvars.ContextVar[Abort | None] = contextvars.ContextVar(
    "ferryman_abort", default=None
)


def check() -> None:
    """Raise ``Aborted`` if this thread's work was cut short; free when it was not."""
    abort = current.get()
    if abort is not None:
        abort.check()


def pause(seconds: float) -> None:
    """Sleep ``seconds``, unless this thread's work is cut short meanwhile."""
    abort = current.get()
    if abort is None:
        time.sleep(seconds)
    else:
        abort.pause(seconds)


def checked(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """``blocks``, looking for a stop before each one (staging a 4 GB entry takes a
    while even from a local disk)."""
    abort = current.get()
    for block in blocks:
        if abort is not None:
            abort.check()
        yield block


def run_with(abort: Abort, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with ``abort`` as this thread's ``current`` (for an executor)."""
    token = current.set(abort)
    try:
        return fn(*args)
    finally:
        current.reset(token)


def on_request(request: httpx.Request) -> None:
    """An httpx request hook: no new request once cut short, and every connection
    the request makes is watched (httpcore's trace says when one is made)."""
    abort = current.get()
    if abort is None:
        return
    abort.check()
    traced = request.extensions.get("trace")

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                abort.watch(sock)
        if traced is not None:
            traced(event, info)

    request.extensions["trace"] = trace
