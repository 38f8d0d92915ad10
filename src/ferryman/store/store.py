"""The store: every state change is one transaction; work is claimed with leases.

One class assembled from query modules by concern: ``jobs``, ``albums``, ``items``,
``fetches``, ``nodes``, ``runtime``, Telegram's, ``watches``, ``notices``; ``base`` holds
the claim and lease machinery they share.
"""

from __future__ import annotations

import time

from ferryman.store.albums import AlbumQueries
from ferryman.store.connect import create_engines
from ferryman.store.fetches import FetchQueries
from ferryman.store.items import ItemQueries
from ferryman.store.jobs import JobQueries
from ferryman.store.nodes import NodeQueries
from ferryman.store.notices import NoticeQueries
from ferryman.store.rows import Clock, LeaseLost, NewItem, summarise, summarise_items
from ferryman.store.runtime import RuntimeQueries
from ferryman.store.telegram import TelegramQueries
from ferryman.store.telegram_inbox import TelegramInboxQueries
from ferryman.store.watches import WatchQueries

__all__ = ["LeaseLost", "NewItem", "Store", "summarise", "summarise_items"]


class Store(
    JobQueries,
    AlbumQueries,
    ItemQueries,
    FetchQueries,
    NodeQueries,
    RuntimeQueries,
    TelegramQueries,
    TelegramInboxQueries,
    WatchQueries,
    NoticeQueries,
):
    """Async access to jobs, items, albums and runtime settings."""

    @classmethod
    async def open(cls, url: str, clock: Clock = time.time) -> Store:
        writer, reader = await create_engines(url)
        return cls(writer, clock, reader)
