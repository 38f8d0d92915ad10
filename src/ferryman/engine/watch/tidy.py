"""``--then``: what a folder watch does with a person's own file once its job has
delivered it whole (deleted, or moved away), at the watch's looks.

Durability rule 5: a person's own input is never moved or removed before it is safe.
Here that is: the file's seen row names a job that ended done with every item of it
delivered (``watch_delivered``), the file is still the content that was delivered (its
key read again, ``Tidying.after_delivery``), and the destination holds its bytes, read
back at that moment (``SinkKind.holds``: a library's file, its size and sha256 against
the person's), not the store's word. A job with a file failed, quarantined or left out
leaves all of its files where they are, and so does one whose file the library lacks.
A kill at any moment leaves the file in the folder, or in the folder and the library.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.sinks.base import SinkRegistry
from ferryman.sources.listers.base import Lister, RemoteTidying, Tidying, WatchEntry
from ferryman.store.ports import WatchStore
from ferryman.store.watches.sql import Watch, entry_key

log = logging.getLogger(__name__)


async def after_delivery(
    store: WatchStore,
    lister: Lister,
    watch: Watch,
    entries: Sequence[WatchEntry],
    settings: Settings,
    sinks: SinkRegistry,
) -> list[str]:
    """Each listed entry whose job delivered it whole deleted or moved (on a thread),
    the seen rows asked about a batch at a time; what was done. A file that cannot be
    is left, with a log line: the watch goes on."""
    action = watch.after_delivery
    if action is None or not isinstance(lister, (Tidying, RemoteTidying)):
        return []  # nothing asked, or a kind of source whose entries are not files
    size = settings.watch.batch_size
    said: list[str] = []
    for start in range(0, len(entries), size):
        chunk = {entry_key(e.id): e for e in entries[start : start + size]}
        delivered = await store.watch_delivered(watch.id, chunk.keys())
        for key in sorted(delivered):
            entry = chunk[key]
            try:
                job = await store.get_job(delivered[key])
                found = sinks.parse(job.dest)
                kept = sinks.kind(job.dest).holds(settings, found.target, job)
            except (FerrymanError, KeyError) as exc:  # its job or destination gone
                log.warning("watch %s: %s left where it is (%s)", watch.id, entry.title, exc)
                continue
            try:
                if isinstance(lister, RemoteTidying):  # on the remote, through the loop
                    done = await lister.tidy_after(watch.source, entry, action, kept, settings)
                else:
                    done = await asyncio.to_thread(
                        lister.after_delivery, watch.source, entry, action, kept
                    )
            except (OSError, FerrymanError) as exc:
                log.warning("watch %s: %s left where it is (%s)", watch.id, entry.title, exc)
                continue
            if done is not None:
                log.info("watch %s: %s, its job having delivered it", watch.id, done)
                said.append(done)
    return said
