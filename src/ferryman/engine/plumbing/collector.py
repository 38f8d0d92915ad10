"""The garbage collector while an engine runs: what start-up made is set aside; and the
memory the engine frees, handed back to the system while it works (``HeapTrim``).

CPython walks its oldest generation in full every so often, and after start-up that
generation holds nearly the whole heap: modules, SQLAlchemy's schema and compiled
statements, Pydantic's models, none of which will ever be garbage. A run that makes a
few hundred short-lived objects per entry (rows, parameters, events) triggers those
walks again and again. ``gc.freeze()`` moves everything alive at the start out of the
collector's sight (it is still freed by reference counting as usual); what the run
makes is collected as before (less CPU and wall time in ``python -m bench pipeline``,
which sets it aside as ``ferryman run`` does: bench/results/pipeline.md).

Used where a front door runs the engine (``frontdoors.startup.running``: ``run``, the
chat, the web, the demo), not inside ``Engine.run``: the collector is the whole
process's, and only its entry point knows it owns the process. Not thawed when the run
ends: the process ends with it, and a process whose owner set a heap aside before (a
test runner, a fork server's child) keeps it so. Asking whether one was
(``gc.get_freeze_count()``) walks every object set aside: 12 ms of a forked command's
170 (``ferryman run --until-idle``, nothing queued). Start-up objects that later become
cyclic garbage stay until the process ends; start-up makes few that die.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator

from ferryman.archive.allocator import give_back_freed, one_heap
from ferryman.engine.plumbing.events import Event

# Seconds between two hand-backs at most (~3 ms each, on a thread).
GIVE_BACK_EVERY = 1.0


def one_arena() -> None:
    """The C heap shared by every thread of the engine (``archive.allocator.one_heap``)."""
    one_heap()


@contextlib.contextmanager
def startup_set_aside(*, thaw: bool = False) -> Iterator[None]:
    """Freeze the heap as it is now: for the rest of the process, or with ``thaw`` for
    the block (a benchmark that runs engines one after another in one process)."""
    gc.freeze()
    try:
        yield
    finally:
        if thaw:
            gc.unfreeze()


class HeapTrim:
    """Hands what the engine freed back to the system (``archive.allocator``): at most
    once every ``every`` seconds, and only while the engine's events come, so an idle
    engine is never woken for it.

    The C heap keeps freed blocks (an upload's parts, a picture's pixels) for reuse: the
    phone trip's engine grew from ~120 to ~225 MiB PSS over the trip; with a hand-back
    a second it swings between ~130 and ~190 (bench/results/memory.md). Once an album
    was not enough: what the next album's work freed after it stayed. An entry point's
    choice (the process is its own), subscribed to the engine's bus."""

    def __init__(self, every: float = GIVE_BACK_EVERY) -> None:
        self.every = every
        self.given = 0  # hand-backs done
        self._next = 0.0
        self._running: asyncio.Future[None] | None = None

    def on_event(self, _event: Event) -> None:
        now = time.monotonic()
        if now < self._next or (self._running is not None and not self._running.done()):
            return
        self._next = now + self.every
        self._running = asyncio.get_running_loop().run_in_executor(None, give_back_freed)
        self.given += 1
