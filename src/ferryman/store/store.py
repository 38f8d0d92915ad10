"""The store: every state change is one transaction; work is claimed with leases.

One class assembled from query modules by concern: a job's reading (``jobs``), what
it reads (``entries``), what a person does to it (``job_actions``), how it ends
(``job_ends``), the dashboard's counts (``figures``), ``albums``, ``items``,
``fetches``, ``nodes``, ``runtime``, the chat's inbox, ``watches``, ``notices``,
``turns``; ``base`` holds the claim and lease machinery they share. Sinks get
``sink_state``, not this.
"""

from __future__ import annotations

import time

from ferryman.store.accounts import AccountQueries
from ferryman.store.albums import AlbumQueries
from ferryman.store.connect import create_engines
from ferryman.store.entries import EntryQueries
from ferryman.store.fetches import FetchQueries
from ferryman.store.figures import FigureQueries
from ferryman.store.items import ItemQueries
from ferryman.store.job_actions import JobActionQueries
from ferryman.store.job_ends import JobEndQueries
from ferryman.store.jobs import JobQueries
from ferryman.store.nodes import NodeQueries
from ferryman.store.notices import NoticeQueries
from ferryman.store.rows import Clock, LeaseLost, NewItem, summarise, summarise_items
from ferryman.store.runtime import RuntimeQueries
from ferryman.store.sink_state import StoredSinkState
from ferryman.store.telegram_inbox import TelegramInboxQueries
from ferryman.store.turns import TurnQueries
from ferryman.store.watches import WatchQueries

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
    NodeQueries,
    RuntimeQueries,
    TelegramInboxQueries,
    WatchQueries,
    NoticeQueries,
    TurnQueries,
    AccountQueries,
):
    """Async access to jobs, items, albums and runtime settings."""

    @classmethod
    async def open(cls, url: str, clock: Clock = time.time) -> Store:
        writer, reader = await create_engines(url)
        return cls(writer, clock, reader)

    def sink_state(self, sink: str) -> StoredSinkState:
        """All the sink ``sink`` may keep here (``sinks.base.SinkState``): a sink is
        given this, never the store."""
        return StoredSinkState(self.engine, self.reader, self.clock, sink)
