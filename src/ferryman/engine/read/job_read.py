"""One job's read as one object: the reading thread's runs of staged entries, taken one
step at a time into the batch, a failed entry failing alone.

The meaning is in ``JobRead.take`` (what one step of the input becomes); the speed-up
machinery stays beside it: runs (``read_run``: many small entries staged in one hop,
their fsyncs in a pool), read-ahead (``run``: the next run reads while the last is
recorded), batches (``entry_batch``) and early uploads (``staging.early_upload``).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import functools
from collections.abc import Iterator
from pathlib import Path

from ferryman.engine.context import Context
from ferryman.engine.plumbing import quarantine
from ferryman.engine.read.entry_batch import BATCH_LARGE, EntryBatch
from ferryman.engine.read.prepare import Prepared
from ferryman.engine.read.read_run import Read, Run, RunLimits, fsync_close, read_run
from ferryman.engine.read.reading_thread import ReadingThread
from ferryman.engine.read.stage import StartEarlyUpload, write_failed
from ferryman.engine.read.staging import (
    StageRequest,
    early_upload,
    entry_dest,
    stage_and_prepare,
    stages_here,
)
from ferryman.engine.read.write_wait import LoopWaits, wait_until_writable
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, Job, MediaKind
from ferryman.sources.base import SourceEntry

# The next run of reading starts while the loop records the last, so reading and
# recording overlap; off, the reading thread waits for each run to be recorded.
READ_WHILE_RECORDING = True

PASSWORD_REQUIRED = "archive.password_required"


@dataclasses.dataclass(frozen=True, slots=True)
class Stop:
    """The read ends: the input ended (``error`` None) or ``error`` ended it early."""

    error: FerrymanError | None


@dataclasses.dataclass(slots=True)
class JobRead:
    """A job's read: its context, reading thread, entries, work folder, the entries
    recorded out of order before (``known``), its batch (and route), the sink's offer
    to upload a big entry while it is written (``early``, ``stage.StartEarlyUpload``) and the
    waits for room its reading thread makes (``waits``: none, no copy waits for room)."""

    ctx: Context
    job: Job
    reader: ReadingThread
    entries: Iterator[SourceEntry]
    work: Path
    known: set[int]
    batch: EntryBatch
    early: StartEarlyUpload | None = None
    waits: LoopWaits | None = None

    async def run(self) -> FerrymanError | None:
        """Stage every new entry; returns the error that ended the input early, if any.

        The reading thread reads on in runs (``read_run``), staging the small entries
        that fit the room and backlog left when the run began; an entry it leaves is
        staged here, after what came before it is recorded and the wait for room is
        over. While one run is recorded, the next is already reading (when the first
        ended for its length alone): a stop drops what it staged, read again next time
        like an unrecorded batch. Not beside the run that fills the read's first album:
        that album is recorded and sealed with the loop to itself (reading beside it
        made the record about 3x slower on a loaded 2-core machine), and the next run
        starts after it."""
        steps: collections.deque[Read] = collections.deque()
        ahead: tuple[int, asyncio.Future[Run]] | None = None  # (its album limit, the run)
        try:
            while True:
                self.ctx.checkpoint()
                if not steps:
                    album, running = ahead or await self._start(None)
                    ahead = None
                    run = await running
                    steps.extend(run.steps)
                    first_album = album > 0 and run.ready >= album
                    if run.more and READ_WHILE_RECORDING and not first_album:
                        ahead = await self._start(run)
                stop = await self.take(steps.popleft())
                if stop is not None:
                    return stop.error
        finally:
            if ahead is not None:
                _forget(ahead[1])

    async def _start(self, before: Run | None) -> tuple[int, asyncio.Future[Run]]:
        """The next run, reading on the thread: (its album limit, the run)."""
        limits = await self.limits(before)
        running = asyncio.ensure_future(self.reader.step(read_run, self.entries, limits))
        return limits.album, running

    async def take(self, step: Read) -> Stop | None:
        """One step of the input into the batch; a ``Stop`` when the read ends here."""
        batch = self.batch
        entry = step.entry
        if entry is None:
            batch.ended = True
            await batch.flush(last=step.error is None)
            return Stop(step.error)
        info = entry.info
        if entry.error is not None:  # a nested archive that could not be read
            await batch.add(info.index, info.path, _failed(entry.error))
            return None
        if not stages_here(entry):
            reason = entry.skip or f"unsupported_{info.type}"
            await batch.add(info.index, info.path, skipped(reason))
            return None
        if step.prepared is None and step.failure is None:
            failed = await self._stage_here(step, entry)
            if failed is not None:
                await batch.add(info.index, info.path, _failed(failed))
                return None  # reading past it costs no room
        failure = step.failure
        if failure is not None:
            return await self._failed_entry(entry, failure)
        prepared = step.prepared
        assert prepared is not None
        if prepared.state is ItemState.QUARANTINED and prepared.work_path is not None:
            await self._quarantine(entry, prepared)
        await batch.add(info.index, info.path, prepared, read=True)
        return None

    async def _stage_here(self, step: Read, entry: SourceEntry) -> FerrymanError | None:
        """An entry the run left to the loop, staged once there is room; its
        ``space.too_large`` (no disk could ever hold it), returned to record."""
        size = entry.info.size or 0
        if entry.info.size is None or size >= BATCH_LARGE:
            await self.batch.flush()  # reading it may take a while: what came before goes
        try:
            await wait_until_writable(
                self.ctx, self.job, self.work, size, self.batch, give_way=True
            )
        except FerrymanError as exc:
            if exc.code != "space.too_large":
                raise
            return exc
        settings = await self.ctx.settings()
        options = self.batch.route.options
        dest = entry_dest(self.work, entry)
        synced = _HandedSync(self.reader)
        request = StageRequest.of(
            entry,
            self.work,
            send_documents=settings.send_documents or options.every_file,
            options=options,
            sync=synced.take,
            early=early_upload(self.early, entry, dest, options),
            wait_to_write=self.wait_to_write if self.waits is not None else None,
        )
        try:
            step.prepared = await self.reader.step(stage_and_prepare, request)
            await synced.done()
        except FerrymanError as exc:
            step.prepared, step.failure = None, exc
        except OSError as exc:  # the staged file could not be made durable
            step.prepared, step.failure = None, write_failed(dest, exc)
            if request.early is not None:
                request.early.failed()
        except BaseException:  # a stop, a lost lease (a cancel): the thread may write on
            if request.early is not None:
                request.early.failed()
            raise
        return None

    def wait_to_write(self, files: int, size: int) -> None:
        """On the reading thread, inside an entry's preparation: a copy is about to be made
        beside the staged file (neither counted yet): wait for room for both as an entry
        waits to be read, the albums before it going out meanwhile."""
        assert self.waits is not None
        wait = wait_until_writable(self.ctx, self.job, self.work, size, self.batch, files=files)
        self.waits.wait(wait)

    async def _failed_entry(self, entry: SourceEntry, failure: FerrymanError) -> Stop | None:
        """Staging ``entry`` raised: a password stops the read (the entry is read again
        once one arrives); a code that fails one entry (the registry's ``one_entry``) is
        recorded, and ends the read too when it ends the input; any other stops it."""
        batch = self.batch
        if failure.code == PASSWORD_REQUIRED:
            await batch.flush()
            return Stop(failure)
        if not failure.one_entry:
            raise failure
        await batch.add(entry.info.index, entry.info.path, _failed(failure))
        if failure.ends_input:  # a limit concerns the whole input, wherever it trips
            await batch.flush()
            return Stop(failure)
        return None

    async def _quarantine(self, entry: SourceEntry, prepared: Prepared) -> None:
        """A staged file that cannot be delivered is kept aside, its reason beside it."""
        assert prepared.error is not None and prepared.work_path is not None
        settings = await self.ctx.settings()
        dest = entry_dest(self.work, entry)
        path = entry.info.path
        prepared.error = quarantine.in_input_terms(prepared.error, dest, path)
        keep = functools.partial(
            quarantine.keep,
            settings.quarantine_dir,
            self.job.id,
            self.job.name,
            src=prepared.work_path,
            label=path,
            error=prepared.error,
            move=True,
            unique=f"{entry.info.index:06d}",
        )
        prepared.work_path = await asyncio.to_thread(keep)

    async def limits(self, before: Run | None) -> RunLimits:
        """What the next run may stage without asking: the backlog's files as they stand
        now and the free-space floor (``wait_until_writable``'s own measures), and the ready
        entries that fill the first album; ``before``: a run whose entries the batch does
        not hold yet."""
        settings = await self.ctx.settings()
        batch = self.batch
        album_size = batch.route.album_size(settings)
        staged = before.files if before is not None else 0
        staged_bytes = before.bytes if before is not None else 0
        ready = batch.ready() + (before.ready if before is not None else 0)
        backlog = await batch.on_disk()
        return RunLimits(
            work=self.work,
            cursor=self.job.cursor,
            known=self.known,
            files=batch.items_bound(settings) - backlog.items - staged,
            bytes=settings.backlog_bytes - backlog.bytes - staged_bytes,
            # Until this read's first batch is recorded: the first album goes out sooner.
            # Later ones leave as the loop meets them, the runs kept long (few hops).
            album=0 if batch.recorded else album_size - ready % album_size,
            floor=settings.space_floor,
            large=BATCH_LARGE,
            send_documents=settings.send_documents or batch.route.options.every_file,
            options=batch.route.options,
            syncer=self.reader.syncer,
            at_risk=batch.at_risk,
        )


class _HandedSync:
    """A big entry's fsync handed to the reading thread's pool: the reading thread
    returns once the file is linked or written, so its upload ahead starts then (a
    person's 1 GiB file just saved took 0.5-1.9 s to fsync here, before its first part
    went); the entry counts (is recorded) only once ``done``."""

    def __init__(self, reader: ReadingThread) -> None:
        self._reader = reader
        self._future: concurrent.futures.Future[None] | None = None

    def take(self, fd: int, _path: Path) -> None:
        """On the reading thread: fsync ``fd`` and close it, in the pool."""
        try:
            self._future = self._reader.syncer.submit(fsync_close, fd)
        except RuntimeError:  # the pool is shut down (a read stopped): sync here
            fsync_close(fd)

    async def done(self) -> None:
        """The fsync handed over is done (``OSError`` if it failed)."""
        if self._future is not None:
            await asyncio.wrap_future(self._future)


def _forget(run: asyncio.Future[Run]) -> None:
    """A run nobody will look at: its entries are read again next time."""
    run.cancel()  # the thread finishes the run; its outcome is dropped
    run.add_done_callback(lambda f: f.cancelled() or f.exception())


def skipped(reason: str) -> Prepared:
    """An entry recorded without being staged (not a file, or skipped by its source)."""
    return Prepared(
        kind=MediaKind.OTHER,
        state=ItemState.SKIPPED,
        plan=None,
        work_path=None,
        size=0,
        sha256="",
        reason=reason,
    )


def _failed(exc: FerrymanError) -> Prepared:
    return Prepared(
        kind=MediaKind.OTHER,
        state=ItemState.FAILED,
        plan=None,
        work_path=None,
        size=0,
        sha256="",
        reason=exc.code,
        error=exc,
    )
