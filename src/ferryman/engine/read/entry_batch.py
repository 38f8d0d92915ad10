"""Batch recording: entries read but not yet recorded, written with the job's cursor and
the albums they fill in one transaction, then announced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.plumbing.destination import Route
from ferryman.engine.plumbing.events import ItemRecorded, JobProgress
from ferryman.engine.read.folder_name import FolderName
from ferryman.engine.read.prepare import Prepared
from ferryman.fsutil import safe_name
from ferryman.model import ItemState, Job
from ferryman.store.store import NewItem

log = logging.getLogger(__name__)

# Entries are recorded in batches: one transaction holds several entries' items, the
# job's cursor past them and the albums they fill (a commit per entry was most of the
# cost of a small photo). A batch goes to the store once it holds BATCH_ENTRIES entries,
# an album's worth of ready items, or its first entry has waited BATCH_SECONDS; before
# a large entry (or one of unknown size) is read; before reading waits for room; when
# an entry needs prompt handling (a conversion, a quarantined file); and when reading
# stops. Entries not yet recorded when the process dies are read again: the cursor has
# not moved past them.
BATCH_ENTRIES = 64
BATCH_SECONDS = 0.25
BATCH_LARGE = 4 * 1024 * 1024
# An input read where it lies on a server (a zip by Range) goes to the store once its
# pending entries hold this share of the input's bytes (within the bounds below): a
# process killed then is sent them again after its restart. An album's worth of photos
# pending was up to 2 MB of a 10 MB zip sent again at each of ten kills (issue 83: at
# most 1.3x the zip in all). A share, not a fixed size: a commit (and the end of a run
# of reading) at each 1.2 MB photo of a 256 MiB zip held a 20 ms link idle each time
# (`python -m bench network` 46 s, not 39); so at most ~128 commits an input.
AT_RISK_SHARE = 128
AT_RISK_LEAST = 128 * 1024
AT_RISK_MOST = 8 * 1024 * 1024


def at_risk(size: int | None) -> int:
    """The pending bytes of an input of ``size`` read where it lies that go to the store."""
    return max(AT_RISK_LEAST, min(AT_RISK_MOST, (size or 0) // AT_RISK_SHARE))


@dataclasses.dataclass(frozen=True, slots=True)
class Backlog:
    """A job's files in the work area, still to be delivered, and their bytes: an item's
    own file and what it holds beside it (``model.held``: an original kept beside its
    copy, a split video's parts)."""

    items: int  # files
    bytes: int

    def full(
        self, settings: Settings, size: int = 0, items: int | None = None, files: int = 1
    ) -> bool:
        """Reading waits before ``files`` files of ``size`` bytes (an entry; or an entry
        and a copy about to be made of it): they would take the files past ``items``
        (default ``backlog_items``) or their bytes past ``backlog_bytes``. What is larger
        than that goes alone, once the backlog is empty: else it would never go."""
        most = settings.backlog_items if items is None else items
        over = self.items + files > most or self.bytes + size > settings.backlog_bytes
        return self.items > 0 and over


@dataclasses.dataclass
class EntryBatch:
    """Entries read but not yet recorded, and the job's load as last recorded."""

    ctx: Context
    job: Job
    route: Route  # its destination, resolved when the read began
    entries: list[tuple[int, str, Prepared, bool]] = dataclasses.field(default_factory=list)
    since: float = 0.0  # when the first pending entry was added (monotonic)
    recorded_on_disk: Backlog | None = None  # None: ask the store
    recorded: bool = False  # a batch of this read has been recorded
    folder_name: FolderName | None = None  # a first read's first batch may name the job
    ended: bool = False  # the input's last entry is in the batch
    # The read ended with the last flush, in its transaction (the input ended cleanly):
    # ``step._conclude`` writes no end of its own.
    finished: bool = False
    streamed: bool = False  # the input is read where it lies on a server (no local copy)
    at_risk: int | None = None  # its pending bytes that go to the store (``at_risk``)
    # How the job is named, worked out as the read starts (``step``): every flush
    # waits for it, so the name is in before the first album is sealed.
    naming: asyncio.Future[None] | None = None
    # The next album's size while a fresh job's albums grow (``SinkKind.albums_grow``:
    # 1, then doubled with each album sealed, until the album size); None: the album size.
    growing: int | None = None

    async def add(self, index: int, path: str, prepared: Prepared, *, read: bool = False) -> None:
        """``read``: the entry was staged (a skipped or failed one was not): progress."""
        if not self.entries:
            self.since = self.ctx.clock.monotonic()
        self.entries.append((index, path, prepared, read))
        urgent = prepared.state in (ItemState.CONVERT, ItemState.QUARANTINED)
        if (
            urgent
            or len(self.entries) >= BATCH_ENTRIES
            or self.ctx.clock.monotonic() - self.since >= BATCH_SECONDS
            or (self.at_risk is not None and self._pending_bytes() >= self.at_risk)
            or await self._fills_an_album()
        ):
            await self.flush()

    def _pending_bytes(self) -> int:
        """The bytes of the pending entries that were read (their source's, else their
        own): what a restart would read again."""
        return sum(p.source_size or p.size for _, _, p, read in self.entries if read)

    async def _fills_an_album(self) -> bool:
        """The batch alone holds an album's worth of ready items: it goes now, so the
        first album leaves as soon as it can."""
        return self.ready() >= await self.album_size()

    async def album_size(self) -> int:
        """The job's album size now (the setting may change while it is read); smaller
        while its first albums grow."""
        size = self.route.album_size(await self.ctx.settings())
        if self.growing is not None and self.growing < size:
            return self.growing
        self.growing = None
        return size

    def items_bound(self, settings: Settings) -> int:
        """Files of the job the work area may hold before reading waits: the setting,
        or fewer when the input streams from a server and its sink bounds that
        (``backlog_albums``: Telegram's uplink is slower than many downlinks)."""
        albums = self.route.kind.backlog_albums if self.streamed else None
        try:  # a pool of accounts sends that many albums side by side: each is fed
            senders = max(1, self.route.sink().senders)
        except Exception:  # a destination no longer usable: its delivery says so
            senders = 1
        most = settings.backlog_items * senders
        if albums is None:
            return most
        return min(most, albums * senders * self.route.album_size(settings))

    def ready(self) -> int:
        """Entries in the batch ready to deliver."""
        return sum(1 for _, _, p, _ in self.entries if p.state is ItemState.READY)

    async def on_disk(self) -> Backlog:
        """The job's files in the work area, those not yet recorded included."""
        if self.recorded_on_disk is None:
            self.recorded_on_disk = Backlog(*await self.ctx.read_store.backlog(self.job.id))
        pending = [p.held() for _, _, p, _ in self.entries]
        recorded = self.recorded_on_disk
        files, size = sum(f for f, _ in pending), sum(b for _, b in pending)
        return Backlog(recorded.items + files, recorded.bytes + size)

    def forget_load(self) -> None:
        """Deliveries may have freed room: ask the store next time."""
        self.recorded_on_disk = None

    async def named(self) -> None:
        """The early naming is over: every flush waits for it (one that began while
        another waited too). Its error is raised by those waiting when it failed; a
        flush cancelled meanwhile leaves it to finish (a transaction is not cut)."""
        naming = self.naming
        if naming is None:
            return
        try:
            await asyncio.shield(naming)
        finally:
            if naming.done():
                self.naming = None

    async def name_from_folder(self, folder: str) -> None:
        """The job is called after its input's one folder (``engine/read/folder_name.py``),
        before its first album is sealed: every album goes under the one name."""
        base = safe_name(strip_archive_suffixes(folder).strip() or folder, "job")
        named = await self.ctx.read_store.name_from_input(self.job.id, base)
        if named:
            log.info("job %s is named %r, as its input's one folder", self.job.id, named)
            self.job = dataclasses.replace(self.job, name=named)

    async def flush(self, *, last: bool = False) -> None:
        """Record the pending entries in one transaction, then tell whom it concerns.
        ``last``: the input ended cleanly with them; the read ends in that transaction."""
        if not self.entries:
            return
        ctx, job = self.ctx, self.job
        album_size = await self.album_size()  # only full albums are sealed meanwhile
        await self.named()  # the job's name is in before its first album is sealed
        if not self.entries:
            return  # a flush that ran while the album size was asked took them
        # Taken and handed to the store with no wait between: a flush from a nested
        # archive's wait for room cannot record later entries before these.
        pending, self.entries = self.entries, []
        if self.folder_name is not None:
            kept = [path for _, path, p, _ in pending if p.state is not ItemState.SKIPPED]
            folder = self.folder_name.chosen(kept, ended=self.ended)
            self.folder_name = None
            if folder is not None:
                await self.name_from_folder(folder)
        try:
            recorded = await ctx.read_store.record_entries(
                job.id,
                ctx.owner,
                pending[-1][0] + 1,
                [_new_item(index, path, p) for index, path, p, _ in pending],
                album_size,
                last=last,
                wait=await ctx.album_wait(),
            )
        except Exception:
            # Not recorded: they go first in the next flush. Another flush (from a nested
            # archive's wait for room) must not move the cursor past them without them.
            self.entries[:0] = pending
            raise
        self.recorded = True
        self.finished = last
        if self.growing is not None and recorded.sealed:
            self.growing <<= len(recorded.sealed)
        self.recorded_on_disk = Backlog(recorded.on_disk, recorded.on_disk_bytes)
        for (index, path, _, read), item in zip(pending, recorded.items, strict=True):
            ctx.bus.publish(
                ItemRecorded(
                    job.id,
                    item.id,
                    state=item.state.value,
                    media=item.kind.value,
                    path=path,
                    reason=item.reason,
                )
            )
            if read:
                ctx.bus.publish(JobProgress(job.id, entry=index, path=path))
        if recorded.sealed:
            ctx.wakeup.notify("deliver")
        if any(p.state is ItemState.CONVERT for _, _, p, _ in pending):
            ctx.wakeup.notify("convert")


def _new_item(index: int, path: str, p: Prepared) -> NewItem:
    return NewItem(
        seq=index,
        source_path=path,
        kind=p.kind,
        state=p.state,
        size=p.size,
        sha256=p.sha256 or None,
        work_path=_s(p.work_path),  # skipped entries are never written: None
        original_path=_s(p.original_path),
        plan=p.plan,
        reason=p.reason,
        error_code=p.error.code if p.error else None,
        error_message=p.error.message if p.error else None,
        media=p.media,
        actions=tuple(p.actions),
        thumb_path=_s(p.thumb_path),
        parts=tuple(str(part) for part in p.parts),
        source_size=p.source_size,
        work_seconds=p.seconds,
    )


def _s(path: Path | None) -> str | None:
    return str(path) if path is not None else None
