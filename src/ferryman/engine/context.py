"""What every stage needs: the store, the bus, settings as they are *now*, the owner id."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ferryman.config import Settings, with_runtime
from ferryman.engine.events import EventBus
from ferryman.engine.wakeup import Wakeup
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store import Store
from ferryman.telegram.hub import TelegramHub


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
    dialer: Any = None  # the Telegram network seam (None: the real network)
    sources: SourceRegistry = field(default_factory=default_sources)
    _telegram: TelegramHub | None = None
    _cached: Settings | None = None
    _cached_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def checkpoint(self) -> None:
        """A safe place to stop: nothing half-written depends on going on from here."""
        if self.stopping.is_set():
            raise Stopping

    async def settings(self) -> Settings:
        """Base settings with the store's runtime overrides, re-read at most once a second."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached_at > 1.0:
                self._cached = with_runtime(self.base_settings, await self.store.runtime_settings())
                self._cached_at = now
            return self._cached

    def telegram(self) -> TelegramHub:
        """The engine's one Telegram connection, opened on first use."""
        if self._telegram is None:
            self._telegram = TelegramHub(self.base_settings, self.dialer)
        return self._telegram

    async def close(self) -> None:
        if self._telegram is not None:
            await self._telegram.close()
            self._telegram = None
