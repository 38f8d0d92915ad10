"""What every stage needs: the store, the bus, settings as they are *now*, the owner id,
the registries of sources and destinations, and the resources their sinks share; fixed
for an engine's life (a frozen dataclass). What the engine learns as it runs (a drain,
the jobs read to their end) is its run state apart (``RunState``, ``Context.run``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ferryman.clock import SYSTEM, Clock
from ferryman.config import Settings, with_runtime
from ferryman.device.conditions import Device
from ferryman.engine.plumbing.events import EventBus
from ferryman.engine.plumbing.wakeup import Wakeup
from ferryman.media.box.pool import Decoder, MediaBox
from ferryman.resources import Shared
from ferryman.sinks.base import SinkKind, SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store.engine_store import EngineStore, People, WatchPeople
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
class RunState:
    """What an engine learns as it runs, shared by its loops and stages: the one
    mutable part of the context (its services beside it never change)."""

    draining: bool = False  # `ferryman drain NODE`: finish what is held, claim nothing new
    # Jobs this process has finished reading: after the last album it knows of, such a
    # job may end, and the housekeeper is told at once (the "last" wake-up topic).
    read_ended: set[int] = field(default_factory=set)
    # A job's destination kind, resolved once per job (a job's destination never changes).
    kinds: dict[int, SinkKind] = field(default_factory=dict)
    # Removals of work files left to run beside the next steps (``tidy_later``).
    tidying: set[asyncio.Task[None]] = field(default_factory=set)


class _LiveSettings:
    """The settings as they are now: base settings with the store's runtime overrides,
    re-read at most once a second (``Context.settings``)."""

    def __init__(self) -> None:
        self.cached: Settings | None = None
        self.at = 0.0
        self.unreadable = False  # the last read of the runtime settings failed
        self.lock = asyncio.Lock()


@dataclass(frozen=True)
class Context:
    """The engine's services, fixed for its life, and its run state (``run``)."""

    store: EngineStore  # the SQL Store or the memory one: every stage runs on either
    bus: EventBus
    base_settings: Settings
    owner: str
    wakeup: Wakeup = field(init=False)  # on ``clock``
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # The network seam sinks use (None: the real network); a Telegram ``Dialer`` in
    # tests, which the engine hands on to the sinks' shared resources without naming.
    dialer: object = None
    sources: SourceRegistry = field(default_factory=default_sources)
    sinks: SinkRegistry = field(default_factory=default_sinks)
    device: Device = field(default_factory=Device)  # Wi-Fi and battery, for downloads
    # Where the stages decode untrusted media: confined workers (``media.box.pool``).
    media_box: Decoder = field(default_factory=MediaBox)
    # Every wait, lease and poll of the engine (a test's moves forward); the store's
    # ``clock`` should be its ``now`` (``ferryman.clock``).
    clock: Clock = SYSTEM
    # Set by a wake-up from another process (an add, a drain): the heartbeat goes at once,
    # so a drain is heard in a moment instead of at the next beat.
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    run: RunState = field(default_factory=RunState)
    resources: Shared = field(init=False)
    _live: _LiveSettings = field(init=False, default_factory=_LiveSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wakeup", Wakeup(self.clock))
        object.__setattr__(self, "resources", Shared(self.base_settings, self.dialer, self.clock))

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

    @property
    def watch_people(self) -> WatchPeople:
        return self.store

    @property
    def people(self) -> People:
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
        live = self._live
        async with live.lock:
            now = self.clock.monotonic()
            if live.cached is None or now - live.at > 1.0:
                try:
                    fresh = with_runtime(self.base_settings, await self.store.runtime_settings())
                except Exception as exc:
                    if live.cached is None:
                        raise
                    # The whole trace once per outage, then a line a second.
                    log.warning(
                        "runtime settings unreadable; the last ones stand (%s)",
                        exc,
                        exc_info=not live.unreadable,
                    )
                    live.unreadable = True
                    live.at = now  # asked again in a second, not at every call
                    return live.cached
                live.cached, live.at, live.unreadable = fresh, now, False
            return live.cached

    async def album_size(self, job_id: int) -> int:
        """A job's album size now: the setting, within what its destination takes."""
        kind = self.run.kinds.get(job_id)
        if kind is None:  # a job's destination never changes: resolved once per job
            kind = self.run.kinds[job_id] = self.sinks.kind((await self.store.get_job(job_id)).dest)
        return kind.album_size(await self.settings())

    async def album_wait(self) -> float:
        """How long an album waits for a conversion of its own (``rules.sealing``): the
        setting now, so a change reaches the next seal."""
        return (await self.settings()).convert.album_wait_seconds

    def tidy_later(self, remove: Callable[[], None]) -> None:
        """``remove`` (blocking: a staged 1 GiB copy's unlink took 0.1-1.7 s here) on a
        thread, beside the step that asked: its worker claims its next unit at once, and
        an engine's stop waits for it beside its own last commits (``tidied``)."""
        task = asyncio.ensure_future(asyncio.to_thread(remove))
        self.run.tidying.add(task)
        task.add_done_callback(self.run.tidying.discard)

    async def tidied(self) -> None:
        """Every removal ``tidy_later`` started is done (its errors are the remover's)."""
        while self.run.tidying:
            await asyncio.gather(*self.run.tidying, return_exceptions=True)

    async def close(self) -> None:
        """Close what the sinks opened (connections); the engine is done with them."""
        await self.resources.close()
        await asyncio.to_thread(self.media_box.close)
