"""``--then``: what a folder watch does with a person's own file once its job has
delivered it whole (deleted, or moved away), at the watch's looks.

Durability rule 5: a person's own input is never moved or removed before it is safe.
Here that is: the file's seen row names a job that ended done with every item of it
delivered (``watch_delivered``), and the file is still the content that was delivered
(its key read again, ``Tidying.after_delivery``). A job with a file failed, quarantined
or left out leaves all of its files where they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ferryman.config import Settings
from ferryman.sources.listers.base import Tidying, WatchEntry
from ferryman.store.ports import WatchStore
from ferryman.store.watches.sql import Watch, entry_key

log = logging.getLogger(__name__)


async def after_delivery(
    store: WatchStore,
    lister: Tidying,
    watch: Watch,
    entries: Sequence[WatchEntry],
    settings: Settings,
) -> list[str]:
    """Each listed entry whose job delivered it whole deleted or moved (on a thread),
    the seen rows asked about a batch at a time; what was done. A file that cannot be
    is left, with a log line: the watch goes on."""
    action = watch.after_delivery
    if action is None:
        return []
    size = settings.watch.batch_size
    said: list[str] = []
    for start in range(0, len(entries), size):
        chunk = {entry_key(e.id): e for e in entries[start : start + size]}
        for key in sorted(await store.watch_delivered(watch.id, chunk.keys())):
            entry = chunk[key]
            try:
                done = await asyncio.to_thread(lister.after_delivery, watch.source, entry, action)
            except OSError as exc:
                log.warning("watch %s: %s left where it is (%s)", watch.id, entry.title, exc)
                continue
            if done is not None:
                log.info("watch %s: %s, its job having delivered it", watch.id, done)
                said.append(done)
    return said
