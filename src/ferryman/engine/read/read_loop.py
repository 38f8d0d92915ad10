"""The read loop: the reading thread's runs of staged entries, taken one step at a time
into the batch, a failed entry failing alone, the next run read while the last is
recorded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ferryman.engine.context import Context, Stopping
from ferryman.engine.plumbing import quarantine
from ferryman.engine.read.entry_batch import BATCH_LARGE, EntryBatch
from ferryman.engine.read.prepare import (
    Prepared,
    internal,
    prepare,
    wanted,
)
from ferryman.engine.read.read_run import Read, Run, RunLimits, entry_dest, read_run, stages_here
from ferryman.engine.read.room import wait_for_room
from ferryman.engine.read.stage import AHEAD_BYTES, Ahead, Staged, StartAhead, stage_entry
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, Job, MediaKind
from ferryman.net import abort
from ferryman.sources.base import SourceEntry

SYNC_THREADS = 4  # fsyncs of staged files at once: 4 took ~half the time of 1 here
# The next run of reading starts while the loop records the last, so reading and
# recording overlap; off, the reading thread waits for each run to be recorded.
READ_AHEAD = True


PASSWORD_REQUIRED = "archive.password_required"
# Met while staging one entry, these fail that entry alone; anything else stops the read
# (source.entry_gone: a remote folder's file went away after its listing was kept).
# entry.internal: an unexpected exception while it was staged (``prepare.entry_fault``).
_FAILS_ENTRY = (
    "archive.entry_corrupt",
    "archive.limit_exceeded",
    "source.entry_gone",
    "entry.internal",
)


class ReadingThread:
    """Runs every blocking call on one thread, so the archive handle never changes hands;
    and a few threads that fsync what it staged, several at once (see ``read_run``).

    ``step`` is a call that a stop cuts short: the thread's network reads, retry pauses
    and staging end at once (``net.abort``), and the step leaves with ``Stopping``. A
    stalled server held a stop (and the process's exit) for minutes."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferryman-read")
        self.syncer = ThreadPoolExecutor(
            max_workers=SYNC_THREADS, thread_name_prefix="ferryman-sync"
        )
        self._stopping = stopping
        self._abort = abort.Abort()

    async def call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, abort.run_with, self._abort, fn, *args)

    async def step(self, fn: Any, *args: Any) -> Any:
        work = asyncio.ensure_future(self.call(fn, *args))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not work.done():
            self._abort.trigger()
            with contextlib.suppress(BaseException):  # what it says no longer matters
                await work
            raise Stopping
        return work.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.syncer.shutdown(wait=False)  # a run still reading waits for its own fsyncs


async def read_all(
    ctx: Context,
    job: Job,
    reader: ReadingThread,
    entries: Iterator[SourceEntry],
    work: Path,
    known: set[int],
    batch: EntryBatch,
    *,
    upload_ahead: StartAhead | None = None,
) -> FerrymanError | None:
    """Stage every new entry; returns the error that ended the input early, if any.

    The reading thread reads on in runs (``read_run``), staging the small entries that
    fit the room and backlog left when the run began; an entry it leaves is staged here,
    after what came before it is recorded and the wait for room is over. While the loop
    records one run, the next is already reading (when the first ended for its length
    alone): a stop drops what it staged, read again next time like an unrecorded batch.
    Not beside the run that fills the read's first album: that album is recorded and
    sealed with the loop to itself (reading beside it made the record about 3x slower
    on this loaded 2-core machine), and the next run starts after it. ``upload_ahead``: the
    sink's offer to upload a big entry while it is written (``stage.StartAhead``)."""
    steps: collections.deque[Read] = collections.deque()
    ahead: tuple[int, asyncio.Future[Run]] | None = None  # (its album limit, the run)

    async def start(before: Run | None) -> tuple[int, asyncio.Future[Run]]:
        limits = await _run_limits(ctx, job, work, known, batch, before, reader.syncer)
        run = reader.step(read_run, entries, limits, _stage_and_prepare)
        return limits.album, asyncio.ensure_future(run)

    try:
        while True:
            ctx.checkpoint()
            if not steps:
                album, running = ahead or await start(None)
                ahead = None
                run = await running
                steps.extend(run.steps)
                first_album = album > 0 and run.ready >= album
                if run.more and READ_AHEAD and not first_album:
                    ahead = await start(run)
            stop = await _take(ctx, job, reader, work, batch, steps.popleft(), upload_ahead)
            if stop is not None:
                return stop.error
    finally:
        if ahead is not None:
            _forget(ahead[1])


@dataclasses.dataclass(frozen=True, slots=True)
class _Stop:
    """The read ends: the input ended (``error`` None) or ``error`` ended it early."""

    error: FerrymanError | None


def _forget(run: asyncio.Future[Run]) -> None:
    """A run nobody will look at: its entries are read again next time."""
    run.cancel()  # the thread finishes the run; its outcome is dropped
    run.add_done_callback(lambda f: f.cancelled() or f.exception())


async def _take(
    ctx: Context,
    job: Job,
    reader: ReadingThread,
    work: Path,
    batch: EntryBatch,
    step: Read,
    upload_ahead: StartAhead | None = None,
) -> _Stop | None:
    """One step of the input into the batch; a ``_Stop`` when the read ends here."""
    entry = step.entry
    if entry is None:
        batch.ended = True
        await batch.flush()
        return _Stop(step.error)
    info = entry.info
    if entry.error is not None:  # a nested archive that could not be read
        await batch.add(info.index, info.path, _failed(entry.error))
        return None
    if not stages_here(entry):
        reason = entry.skip or f"unsupported_{info.type}"
        await batch.add(info.index, info.path, _skipped(reason))
        return None
    settings = await ctx.settings()
    if step.prepared is None and step.failure is None:
        size = info.size or 0
        if info.size is None or size >= BATCH_LARGE:
            await batch.flush()  # reading it may take a while: what came before goes now
        try:
            await wait_for_room(ctx, job, work, size, batch, give_turn=True)
        except FerrymanError as exc:
            if exc.code != "space.too_large":
                raise
            await batch.add(info.index, info.path, _failed(exc))
            return None  # reading past it costs no room
        send_all = settings.send_documents or entry.asked
        options = batch.route.options
        dest = entry_dest(work, entry)
        ahead = _ahead(upload_ahead, entry, dest, options)
        try:
            step.prepared = await reader.step(
                _stage_and_prepare,
                entry,
                info.path,
                dest,
                functools.partial(wanted, send_documents=send_all),
                send_all,
                options,
                None,
                ahead,
            )
        except FerrymanError as exc:
            step.failure = exc
        except BaseException:  # a stop, a lost lease (a cancel): the thread may write on
            if ahead is not None:
                ahead.failed()
            raise
    failure = step.failure
    if failure is not None:
        if failure.code == PASSWORD_REQUIRED:
            await batch.flush()
            return _Stop(failure)  # this entry is read again once a password arrives
        if failure.code not in _FAILS_ENTRY:
            raise failure
        await batch.add(info.index, info.path, _failed(failure))
        if failure.code == "archive.limit_exceeded":
            await batch.flush()
            return _Stop(failure)
        return None
    prepared = step.prepared
    assert prepared is not None
    if prepared.state is ItemState.QUARANTINED and prepared.work_path is not None:
        assert prepared.error is not None
        dest = entry_dest(work, entry)
        prepared.error = quarantine.in_input_terms(prepared.error, dest, info.path)
        kept = await asyncio.to_thread(
            quarantine.keep,
            settings.quarantine_dir,
            job.id,
            job.name,
            prepared.work_path,
            info.path,
            prepared.error,
            move=True,
            unique=f"{info.index:06d}",
        )
        prepared.work_path = kept
    await batch.add(info.index, info.path, prepared, read=True)
    return None


async def _run_limits(
    ctx: Context,
    job: Job,
    work: Path,
    known: set[int],
    batch: EntryBatch,
    before: Run | None,
    syncer: Executor,
) -> RunLimits:
    """What the next run may stage without asking: the backlog's files as they stand
    now and the free-space floor (``wait_for_room``'s own measures), and
    the ready entries that fill the first album; ``before``: a run whose entries the
    batch does not hold yet."""
    settings = await ctx.settings()
    album_size = batch.route.album_size(settings)
    staged = before.files if before is not None else 0
    staged_bytes = before.bytes if before is not None else 0
    ready = batch.ready() + (before.ready if before is not None else 0)
    backlog = await batch.on_disk()
    return RunLimits(
        work=work,
        cursor=job.cursor,
        known=known,
        files=batch.items_bound(settings) - backlog.items - staged,
        bytes=settings.backlog_bytes - backlog.bytes - staged_bytes,
        # Until this read's first batch is recorded: the first album goes out sooner.
        # Later ones leave as the loop meets them, the runs kept long (few hops).
        album=0 if batch.recorded else album_size - ready % album_size,
        floor=settings.space_floor,
        large=BATCH_LARGE,
        send_documents=settings.send_documents,
        options=batch.route.options,
        syncer=syncer,
    )


def _stage_and_prepare(
    entry: SourceEntry,
    name: str,
    dest: Path,
    keep: Any,
    send_all: bool,
    options: Any,
    sync: Callable[[int, Path], None] | None = None,
    ahead: Ahead | None = None,
) -> Prepared:
    """On the reading thread: one hop for the entry's bytes and what is learned of them.

    ``ahead``: the entry's upload while it is written (``_ahead``), failed unless the
    staged file is the one delivered."""
    try:
        try:
            staged = _stage(
                entry, name, dest, keep, sync, hash_later=options.hashed_on_delivery, ahead=ahead
            )
        except FerrymanError:
            raise
        except OSError:
            raise  # reading the source or writing the disk: the machine's, retried as before
        except Exception as bug:  # one entry's fault (a sniffer's, a decoder's bug) fails it
            raise internal(name, bug) from bug
        prepared = prepare(staged, send_all, options)  # never raises for one entry's fault
    except BaseException:
        if ahead is not None:
            ahead.failed()
        raise
    if ahead is not None and not _sent_as_staged(prepared, staged):
        ahead.failed()
    return prepared


def _ahead(
    upload_ahead: StartAhead | None, entry: SourceEntry, dest: Path, options: Any
) -> Ahead | None:
    """An upload while it is written, for an entry of ``AHEAD_BYTES`` or more of a size
    declared up front, bound for a sink that reads it whole as it delivers it."""
    size = entry.info.size
    if (
        upload_ahead is None
        or not options.hashed_on_delivery
        or entry.local_file is not None
        or size is None
        or size < AHEAD_BYTES
    ):
        return None
    return upload_ahead(dest, size)


def _sent_as_staged(prepared: Prepared, staged: Staged) -> bool:
    """The delivery will upload the staged file itself (not converted, split, dropped)."""
    return (
        prepared.state is ItemState.READY
        and prepared.work_path == staged.path
        and not prepared.parts
    )


def _stage(
    entry: SourceEntry,
    name: str,
    dest: Path,
    keep: Any,
    sync: Callable[[int, Path], None] | None,
    *,
    hash_later: bool = False,
    ahead: Ahead | None = None,
) -> Staged:
    return stage_entry(
        abort.checked(entry.read_blocks()),
        name,
        dest,
        keep,
        stop_unwanted=entry.over_network,  # its bytes are not fetched for nothing
        unread_size=entry.info.size,
        link_from=entry.local_file,
        known_sha256=entry.local_sha256,
        seen=entry.local_seen,
        sync=sync,
        hash_later=hash_later,
        ahead=ahead,
    )


def _skipped(reason: str) -> Prepared:
    return Prepared(MediaKind.OTHER, ItemState.SKIPPED, None, None, 0, "", reason=reason)


def _failed(exc: FerrymanError) -> Prepared:
    return Prepared(
        MediaKind.OTHER, ItemState.FAILED, None, None, 0, "", reason=exc.code, error=exc
    )
