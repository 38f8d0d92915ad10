"""The store: every state change is one transaction; work is claimed with leases.

One class assembled from query modules by concern: a job's reading (``jobs``), what
it reads (``entries``), what a person does to it (``job_actions``), how it ends
(``job_ends``), the dashboard's counts (``figures``), ``albums``, ``items``,
``fetches`` (and ``calls``: a fetch's outside calls made once), ``nodes``, ``runtime``,
the chat's inbox, ``watches``, ``notices``, ``turns``; ``sql/base`` holds the claim and
lease machinery they share. Sinks get ``sink_state``, not this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ferryman.clock import SYSTEM
from ferryman.store.accounts.sql import AccountQueries
from ferryman.store.albums.sql import AlbumQueries
from ferryman.store.chat.sql import TelegramInboxQueries
from ferryman.store.connect import create_engines
from ferryman.store.entries.items import ItemQueries
from ferryman.store.entries.sql import EntryQueries
from ferryman.store.fetches.calls import OutsideCallQueries
from ferryman.store.fetches.sql import FetchQueries
from ferryman.store.jobs.actions import JobActionQueries
from ferryman.store.jobs.ends import JobEndQueries
from ferryman.store.jobs.figures import FigureQueries
from ferryman.store.jobs.queue_position import QueuePlaceQueries
from ferryman.store.jobs.sql import JobQueries
from ferryman.store.nodes.sql import NodeQueries
from ferryman.store.notices.sql import NoticeQueries
from ferryman.store.runtime import RuntimeQueries
from ferryman.store.shared.rows import Clock, LeaseLost, NewItem, summarise, summarise_items
from ferryman.store.sinks.sql import StoredSinkState
from ferryman.store.wakeup import PostgresListener, SqliteListener, listener_for
from ferryman.store.watches.sql import WatchQueries

__all__ = ["LeaseLost", "NewItem", "Store", "summarise", "summarise_items"]


class Store(
    JobQueries,
    EntryQueries,
    JobActionQueries,
    JobEndQueries,
    FigureQueries,
    AlbumQueries,
    ItemQueries,
    FetchQueries,
    OutsideCallQueries,
    NodeQueries,
    RuntimeQueries,
    TelegramInboxQueries,
    WatchQueries,
    NoticeQueries,
    QueuePlaceQueries,
    AccountQueries,
):
    """Async access to jobs, items, albums and runtime settings."""

    @classmethod
    async def open(cls, url: str, clock: Clock = SYSTEM.now) -> Store:
        writer, reader = await create_engines(url)
        return cls(writer, clock, reader)

    def sink_state(self, sink: str) -> StoredSinkState:
        """All the sink ``sink`` may keep here (``sinks.base.SinkState``): a sink is
        given this, never the store."""
        return StoredSinkState(self.engine, self.reader, self.clock, sink)

    def listener(self, on_wake: Callable[[], None]) -> SqliteListener | PostgresListener:
        """Wake-ups from other processes: a datagram on SQLite, LISTEN on PostgreSQL."""
        return listener_for(self.engine.url, on_wake)


if TYPE_CHECKING:  # mypy proves the SQL store is what the engine takes
    from ferryman.store.engine_store import EngineStore

    _ENGINE: EngineStore = Store.__new__(Store)  # never run: a type the checker reads
