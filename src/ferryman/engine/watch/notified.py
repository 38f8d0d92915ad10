"""Change notices that wake a watch early: a watched folder's (``Notifying`` listers),
followed for as long as the engine runs and the watch is there and unpaused.

A notice only moves the watch's next look to now (``watch_due``) and wakes the watch
stage; the check itself is the same as at any look (its window, the Wi-Fi and battery
rules, a file still being written left for later), and the watch's ``--every`` poll
still runs, finding what a platform does not report. The list of watches followed is
read again on a wake-up (a watch added, paused, removed: the store's wake-up), at most
once a second, and every ``REFRESH_SECONDS`` besides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ferryman.config import Settings
from ferryman.engine.plumbing.wakeup import Wakeup
from ferryman.sources.listers.base import ListerRegistry, Notifying
from ferryman.store.ports import WatchStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0
CALM_SECONDS = 1.0  # the list is read at most this often, however often the engine wakes


class FolderChanges:
    """Follows the change notices of the watches whose source gives them."""

    def __init__(
        self,
        store: WatchStore,
        listers: Callable[[], ListerRegistry],
        wakeup: Wakeup,
        stopping: asyncio.Event,
        settings: Callable[[], Awaitable[Settings]],
    ) -> None:
        self.store = store
        self.make_listers = listers  # made once a watch is there: a run of photos alone
        self.listers: ListerRegistry | None = None  # imports no lister (yt-dlp, Telethon)
        self.wakeup = wakeup
        self.stopping = stopping
        self.settings = settings
        self.followed: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self.armed: set[int] = set()  # watches whose notices are on now

    async def run(self) -> None:
        try:
            while not self.stopping.is_set():
                mark = self.wakeup.mark("watch")
                try:
                    self._follow(await self._wanted())
                except Exception:
                    log.exception("watch notices: the watches could not be read; trying again")
                await self.wakeup.wait(REFRESH_SECONDS, since=mark, topic="watch")
                await self.wakeup.clock.wait(self.stopping, CALM_SECONDS)
        finally:
            tasks = [task for _, task in self.followed.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.followed.clear()

    async def _wanted(self) -> dict[int, tuple[str, Notifying]]:
        """The unpaused watches whose kind gives change notices: id → (source, kind)."""
        if not (await self.settings()).watch.folder_events:
            return {}
        wanted: dict[int, tuple[str, Notifying]] = {}
        for watch in await self.store.list_watches():
            if watch.paused:
                continue
            if self.listers is None:
                self.listers = self.make_listers()
            try:
                lister = self.listers.get(watch.kind)
            except Exception:  # a kind this version does not know: its checks say so
                continue
            if isinstance(lister, Notifying):
                wanted[watch.id] = (watch.source, lister)
        return wanted

    def _follow(self, wanted: dict[int, tuple[str, Notifying]]) -> None:
        for watch_id, (source, task) in list(self.followed.items()):
            if watch_id not in wanted or wanted[watch_id][0] != source:
                task.cancel()
                del self.followed[watch_id]
        for watch_id, (source, lister) in wanted.items():
            if watch_id not in self.followed:
                task = asyncio.create_task(
                    self._notices(watch_id, source, lister), name=f"watch-{watch_id}-notices"
                )
                self.followed[watch_id] = (source, task)

    async def _notices(self, watch_id: int, source: str, lister: Notifying) -> None:
        """Each batch of changes moves the watch's next look to now and wakes the stage;
        a task that ends (no notices here) is not started again until the watch changes."""
        try:
            async for changed in lister.changes(source):
                self.armed.add(watch_id)
                if changed and await self.store.watch_due(watch_id, self.store.clock()):
                    log.debug("watch %s: %d changed; looking now", watch_id, len(changed))
                    self.wakeup.notify("watch")
        except Exception:
            log.exception("watch %s: change notices ended; it is looked at every period", watch_id)
        finally:
            self.armed.discard(watch_id)
