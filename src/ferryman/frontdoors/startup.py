"""One start-up for every front door that runs the engine (``run``, ``demo``, the chat).

The order matters and was written three times before: the data dir's run lock (SQLite
only: PostgreSQL is made for several workers), the store, the engine (and the
half-built album folders a killed run left, swept), signal handlers that ask for a
graceful stop; and on the way out the handlers go and the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ferryman.clock import SYSTEM, Clock
from ferryman.config import Settings
from ferryman.engine.deliver import sweep_half_built
from ferryman.engine.plumbing import collector
from ferryman.engine.plumbing.children import prepare_children
from ferryman.engine.plumbing.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.frontdoors import quiet_start
from ferryman.store import Store

log = logging.getLogger(__name__)
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
LOCK_LOOK_SECONDS = 0.05  # between two tries of a lock a stopping ferryman still holds


@dataclass(frozen=True, slots=True)
class Running:
    store: Store
    engine: Engine
    signals: list[int] = field(default_factory=list)  # the stop signals received, in order


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    on_signal: Callable[[], None] | None = None,
    command: str = "run",
    lock_wait: float = 0.0,
    links_expected: bool = False,
    **engine_options: Any,
) -> AsyncIterator[Running]:
    """The store and an engine, ready to run; SIGTERM/SIGINT call ``on_signal``
    (default: the engine's graceful stop). Raises ``engine.locked`` when another
    process runs on this SQLite data dir (after ``lock_wait`` seconds: a ferryman that
    said it stopped still closes its store before its lock goes); ``command`` is what
    this one is called in such a refusal (``web``, ``serve``). ``links_expected``: people
    add links here (the page, the chat), so yt-dlp is made ready in the children's
    template (``links.warm``); a ``run`` decides that from its queue before this."""
    # The template's modules named; started by the first child, unless the front door
    # started it already (``ferryman run`` looks at the queue before it loads the engine).
    prepare_children(bool(settings.notify.urls), links=links_expected)
    collector.one_arena()  # before the store's and the engine's threads start
    with contextlib.ExitStack() as stack:
        sole = settings.database.startswith("sqlite")
        if sole:
            stack.push(await _taken(DataDirLock(settings.data_dir, command), lock_wait))  # entered
        store = await Store.open(settings.database)
        try:
            if sole:
                await _hand_back_a_dead_runs_work(store)
            engine = Engine(store, settings, **engine_options)
            swept = await sweep_half_built(engine.ctx)
            if swept:
                log.info("removed %d half-built album folder(s) a run before this one left", swept)
            stop = on_signal or engine.stop
            loop = asyncio.get_running_loop()
            # Only the main thread may take signals (an embedder may run us elsewhere).
            handled = _STOP_SIGNALS if threading.current_thread() is threading.main_thread() else ()
            started = Running(store, engine)

            def stopped_by(sig: int) -> None:
                started.signals.append(sig)  # Ctrl-C exits 130, as shells expect
                stop()

            for sig in handled:
                loop.add_signal_handler(sig, stopped_by, sig)
            # Freed memory handed back while the engine works (engine/plumbing/collector.py).
            unheard = engine.bus.subscribe(collector.HeapTrim().on_event)
            quiet_start.over()  # start-up is over: the collector's usual pace
            try:
                # Start-up's heap set aside from the collector while the engine runs
                # (engine/plumbing/collector.py): here, where the process is ours to tune.
                with collector.startup_set_aside():
                    yield started
            finally:
                unheard()
                for sig in handled:
                    loop.remove_signal_handler(sig)
        finally:
            await store.close()


async def _hand_back_a_dead_runs_work(store: Store) -> None:
    """With the data dir's lock ours, no other engine runs on this store: a lease in it
    is a run's that died (SIGKILL, a phone's reboot), and its work is claimable now,
    not when the lease lapses (``lease_seconds``: a restart sat silent that long)."""
    handed = await store.release(None)
    if handed:
        log.info("handed back %d unit(s) of work a run before this one held", handed)


async def _taken(lock: DataDirLock, wait: float, clock: Clock = SYSTEM) -> DataDirLock:
    """``lock`` once free, looking again for up to ``wait`` seconds: ``add --run`` takes
    over from a ferryman that marked itself stopped, whose process has yet to end."""
    deadline = clock.monotonic() + wait
    while True:
        try:
            return lock.__enter__()
        except FerrymanError as exc:
            if exc.code != "engine.locked" or clock.monotonic() >= deadline:
                raise
        await clock.sleep(LOCK_LOOK_SECONDS)
