"""What every stage needs: the store, the bus, settings as they are *now*, the owner id,
the registries of sources and destinations, and the resources their sinks share."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ferryman.config import Settings, with_runtime
from ferryman.device.conditions import Device
from ferryman.engine.plumbing.events import EventBus
from ferryman.engine.plumbing.wakeup import Wakeup
from ferryman.media.box import Decoder, MediaBox
from ferryman.resources import Shared
from ferryman.sinks.base import SinkKind, SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store import Store
from ferryman.store.ports import (
    ConvertStore,
    DeliverStore,
    FetchStore,
    NoticeStore,
    ReadStore,
    SinkStates,
    WatchStore,
)

log = logging.getLogger(__name__)


class Stopping(BaseException):
    """Raised at a checkpoint once a graceful stop was asked for: leave, write nothing more.

    A BaseException, so the ``except Exception`` of a step never mistakes it for a failure.
    """


@dataclass
class Context:
    store: Store
    bus: EventBus
    base_settings: Settings
    owner: str
    wakeup: Wakeup = field(default_factory=Wakeup)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    dialer: Any = None  # the network seam sinks use (None: the real network)
    sources: SourceRegistry = field(default_factory=default_sources)
    sinks: SinkRegistry = field(default_factory=default_sinks)
    device: Device = field(default_factory=Device)  # Wi-Fi and battery, for downloads
    resources: Shared = field(init=False)
    # Where the stages decode untrusted media: confined workers (``media.box``).
    media_box: Decoder = field(default_factory=MediaBox)
    draining: bool = False  # `ferryman drain NODE`: finish what is held, claim nothing new
    # Set by a nudge from another process (an add, a drain): the heartbeat goes at once,
    # so a drain is heard in a moment instead of at the next beat.
    nudged: asyncio.Event = field(default_factory=asyncio.Event)
    # Jobs this process has finished reading: after the last album it knows of, such a
    # job may end, and the housekeeper is told at once (the "last" wake-up topic).
    read_ended: set[int] = field(default_factory=set)
    # Removals of work files left to run beside the next steps (``tidy_later``).
    _tidying: set[asyncio.Task[None]] = field(default_factory=set)
    _kinds: dict[int, SinkKind] = field(default_factory=dict)
    _cached: Settings | None = None
    _cached_at: float = 0.0
    _unreadable: bool = False  # the last read of the runtime settings failed
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.resources = Shared(self.base_settings, self.dialer)

    # Each stage's view of the store: its module names only its own (store/ports).
    @property
    def fetch_store(self) -> FetchStore:
        return self.store

    @property
    def read_store(self) -> ReadStore:
        return self.store

    @property
    def convert_store(self) -> ConvertStore:
        return self.store

    @property
    def deliver_store(self) -> DeliverStore:
        return self.store

    @property
    def watch_store(self) -> WatchStore:
        return self.store

    @property
    def notice_store(self) -> NoticeStore:
        return self.store

    @property
    def sink_states(self) -> SinkStates:
        return self.store

    def checkpoint(self) -> None:
        """A safe place to stop: nothing half-written depends on going on from here."""
        if self.stopping.is_set():
            raise Stopping

    async def settings(self) -> Settings:
        """Base settings with the store's runtime overrides, re-read at most once a second.

        While the store cannot be read (a database across a network that went away), the
        last settings read stand: every loop of the engine asks for settings, and a
        raise here would end each loop for good while the process lived on, silent.
        """
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached_at > 1.0:
                try:
                    fresh = with_runtime(self.base_settings, await self.store.runtime_settings())
                except Exception as exc:
                    if self._cached is None:
                        raise
                    # The whole trace once per outage, then a line a second.
                    log.warning(
                        "runtime settings unreadable; the last ones stand (%s)",
                        exc,
                        exc_info=not self._unreadable,
                    )
                    self._unreadable = True
                    self._cached_at = now  # asked again in a second, not at every call
                    return self._cached
                self._cached, self._cached_at, self._unreadable = fresh, now, False
            return self._cached

    async def album_size(self, job_id: int) -> int:
        """A job's album size now: the setting, within what its destination takes."""
        kind = self._kinds.get(job_id)
        if kind is None:  # a job's destination never changes: resolved once per job
            kind = self._kinds[job_id] = self.sinks.kind((await self.store.get_job(job_id)).dest)
        return kind.album_size(await self.settings())

    def tidy_later(self, remove: Callable[[], None]) -> None:
        """``remove`` (blocking: a staged 1 GiB copy's unlink took 0.1-1.7 s here) on a
        thread, beside the step that asked: its worker claims its next unit at once, and
        an engine's stop waits for it beside its own last commits (``tidied``)."""
        task = asyncio.ensure_future(asyncio.to_thread(remove))
        self._tidying.add(task)
        task.add_done_callback(self._tidying.discard)

    async def tidied(self) -> None:
        """Every removal ``tidy_later`` started is done (its errors are the remover's)."""
        while self._tidying:
            await asyncio.gather(*self._tidying, return_exceptions=True)

    async def close(self) -> None:
        """Close what the sinks opened (connections); the engine is done with them."""
        await self.resources.close()
        await asyncio.to_thread(self.media_box.close)
