"""The unpack stage: a job's input becomes items, one entry at a time, in order.

Nothing is unpacked in full. The reader runs on a thread of its own (every call on one
archive handle from the same thread); each entry is staged, prepared and recorded
together with the job's cursor in one transaction, so a restart resumes after the
last recorded entry. Reading waits while the job already has ``backlog_items`` files
on disk, or while writing the next entry (or copying a nested archive out to read
it) would take free space below the floor.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ferryman.archive.reader import ArchiveLimits, OpenOptions
from ferryman.config import Settings
from ferryman.engine import quarantine
from ferryman.engine.context import Context, Stopping
from ferryman.engine.deliver import sink_for
from ferryman.engine.events import (
    ItemRecorded,
    JobExpanded,
    JobFinished,
    JobProgress,
    JobResumed,
    JobWaiting,
)
from ferryman.engine.offline import offline_or
from ferryman.engine.prepare import Prepared, media_options, prepare, wanted
from ferryman.engine.read_run import Read, Run, RunLimits, entry_dest, read_run, stages_here
from ferryman.engine.retry import again_after
from ferryman.engine.space import never_fits, room_for
from ferryman.engine.stage import Staged, stage_entry
from ferryman.engine.workarea import job_work_dir, nested_scratch
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, Job, MediaKind
from ferryman.net import abort
from ferryman.sources.base import ReadOptions, SourceEntry
from ferryman.store.store import LeaseLost, NewItem

log = logging.getLogger(__name__)
T = TypeVar("T")
SYNC_THREADS = 4  # fsyncs of staged files at once: 4 took ~half the time of 1 here


class _Reader:
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


async def expand(ctx: Context, job: Job) -> None:
    """Read the job's input; a passing problem queues it again, a lasting one fails it."""
    try:
        await _expand(ctx, job)
        return
    except LeaseLost:
        raise
    except FerrymanError as error:
        exc = error
    except Exception as bug:  # counted like any retryable error, so it cannot loop forever
        log.exception("reading job %s failed unexpectedly", job.id)
        exc = FerrymanError.internal(bug)
    exc = await offline_or(ctx, exc)  # a remote folder on a phone with no network
    again = again_after(exc, job.attempts + 1, await ctx.settings())
    if again is None:
        await _input_failed(ctx, job, exc)
        return
    if again.counted:
        log.warning("reading job %s failed (%s); again in %.1fs", job.id, exc, again.delay)
    await ctx.store.job_retry(job.id, ctx.owner, exc, again.delay, count=again.counted)
    ctx.bus.publish(JobWaiting(job.id, reason=exc.code))


_PASSWORD = "archive.password_required"
# Met while staging one entry, these fail that entry alone; anything else stops the read
# (source.entry_gone: a remote folder's file went away after its listing was kept).
_FAILS_ENTRY = ("archive.entry_corrupt", "archive.limit_exceeded", "source.entry_gone")


def read_options(settings: Settings, job: Job) -> ReadOptions:
    """The job's passwords first, then the configured ones; limits from the settings."""
    limits = ArchiveLimits(**settings.archive.model_dump(exclude={"sevenzip"}))
    return ReadOptions(
        archive=OpenOptions(
            passwords=tuple(dict.fromkeys((*job.passwords, *settings.passwords))),
            limits=limits,
        ),
        scratch=nested_scratch(settings, job.id),
        network=settings.network,
        sevenzip=settings.archive.sevenzip,
        settings=settings,
    )


async def _expand(ctx: Context, job: Job) -> None:
    settings = await ctx.settings()
    reader = _Reader(ctx.stopping)
    try:
        try:
            source = ctx.sources.for_uri(job.source)
            await reader.step(source.inspect, job.source)
        except FerrymanError as exc:
            await _input_failed(ctx, job, exc)
            return
        work = job_work_dir(settings, job.id)
        await _warm_sink(ctx, job)
        await reader.call(functools.partial(work.mkdir, parents=True, exist_ok=True))
        # The job's recorded entries, its fetched copy and its memos: read side by side.
        known, fetched, memos = await asyncio.gather(
            ctx.store.known_seqs(job.id), ctx.store.fetched(job.id), ctx.store.source_memos(job.id)
        )
        waits = _RoomWaits(asyncio.get_running_loop())
        batch = _Batch(ctx, job)

        def make_room(size: int) -> None:
            """On the reading thread: a nested archive waits for room like an entry."""
            waits.wait(_wait_for_room(ctx, job, work, size, batch))

        memo = _Memo(ctx, job.id, memos, waits)
        options = dataclasses.replace(
            read_options(settings, job),
            make_room=make_room,
            fetched=Path(fetched.path) if fetched is not None and fetched.path else None,
            memo=memo,
        )
        opened = source.open(job.source, options)
        error: FerrymanError | None
        try:
            entries: Iterator[SourceEntry] = await reader.step(opened.__enter__)
        except FerrymanError as exc:  # encrypted names, a missing volume, no 7zz…
            error = exc
        else:
            try:
                async with _recorded_on_error(batch):
                    error = await _read_all(ctx, job, reader, entries, work, known, batch)
            finally:  # close the entries first: that removes a nested archive's copy
                waits.cancel()  # a cancelled step must not leave the thread waiting for room
                with contextlib.suppress(Exception, abort.Aborted):  # after a stop, too
                    await reader.call(getattr(entries, "close", _nothing))
                with contextlib.suppress(Exception, abort.Aborted):
                    await reader.call(opened.__exit__, None, None, None)
        await _conclude(ctx, job, error)
    finally:
        reader.close()


def _nothing() -> None:
    return None


class _RoomWaits:
    """Waits for room that the reading thread runs on the event loop, cancellable.

    When the unpack step is cancelled (the job cancelled, the lease lost) the loop
    task stops awaiting the thread, but the thread would still sit in a wait for
    room; ``cancel`` ends those waits, so the thread is free to close the reader.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._lock = threading.Lock()

    def wait(self, waited: Coroutine[Any, Any, None]) -> None:
        """Run ``waited`` on the loop and block this (non-loop) thread until it ends."""
        future = asyncio.run_coroutine_threadsafe(waited, self._loop)
        with self._lock:
            self._pending.add(future)
        try:
            future.result()
        finally:
            with self._lock:
                self._pending.discard(future)

    def cancel(self) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.cancel()


class _Memo:
    """The job's source memo: read once before reading starts, written through to the
    store from the reading thread (it blocks until the write is committed)."""

    def __init__(self, ctx: Context, job_id: int, known: dict[str, str], waits: _RoomWaits) -> None:
        self._ctx = ctx
        self._job_id = job_id
        self._known = dict(known)
        self._waits = waits

    def get(self, key: str) -> str | None:
        return self._known.get(key)

    def put(self, key: str, value: str) -> None:
        self._waits.wait(self._ctx.store.put_source_memo(self._job_id, key, value))
        self._known[key] = value


async def _warm_sink(ctx: Context, job: Job) -> None:
    """The job's sink may start what its first delivery needs (a login, connections)
    while the input is read; it does so in the background."""
    try:
        sink = await sink_for(ctx, job.dest)
    except Exception:  # a sink that cannot open: the delivery meets it again and says so
        return
    warm = getattr(sink, "warm", None)
    if warm is not None:
        warm()


async def _conclude(ctx: Context, job: Job, error: FerrymanError | None) -> None:
    """Reading stopped: at the end, at a password, or because the input broke."""
    if error is not None and error.code == _PASSWORD:
        tried = read_options(await ctx.settings(), job).archive.passwords
        if tried:  # a wrong password says so, not "required" as if none was given
            error = FerrymanError(
                "archive.password_wrong",
                f"none of the {len(tried)} password{'s' * (len(tried) != 1)} given"
                f" opened it ({error.message})",
            )
        # what was read goes out in partial albums meanwhile
        await ctx.store.need_password(job.id, ctx.owner, error, await _album_size(ctx, job))
        ctx.wakeup.notify()
        ctx.bus.publish(JobWaiting(job.id, reason=error.code))
        return
    if error is not None and not error.ends_input:  # see errors.ErrorSpec
        raise error
    if error is not None and not await ctx.store.known_seqs(job.id):
        await _input_failed(ctx, job, error)
        return
    if error is not None:
        await _keep_input(ctx, job, error)  # broken part-way: keep it for a look
    # the last, partial albums are sealed with it
    if await ctx.store.finish_expansion(job.id, ctx.owner, error, await _album_size(ctx, job)):
        ctx.wakeup.notify("deliver")
    ctx.read_ended.add(job.id)
    ctx.wakeup.notify("last")  # its albums may all be out already: the job ends now
    ctx.bus.publish(JobExpanded(job.id, error=error.code if error else None))


async def _album_size(ctx: Context, job: Job) -> int:
    return ctx.sinks.album_size(await ctx.settings(), job.dest)


@contextlib.asynccontextmanager
async def _recorded_on_error(batch: _Batch) -> AsyncIterator[None]:
    """An error that stops the read (it is retried) still records what was read before
    it. A stop or a lost lease writes nothing: the entries not yet recorded are read
    again (a cancel, being a BaseException, passes through too)."""
    try:
        yield
    except (Stopping, LeaseLost):
        raise
    except Exception:
        with contextlib.suppress(Exception):
            await batch.flush()
        raise


async def _read_all(
    ctx: Context,
    job: Job,
    reader: _Reader,
    entries: Iterator[SourceEntry],
    work: Path,
    known: set[int],
    batch: _Batch,
) -> FerrymanError | None:
    """Stage every new entry; returns the error that ended the input early, if any.

    The reading thread reads on in runs (``read_run``), staging the small entries that
    fit the room and backlog left when the run began; an entry it leaves is staged here,
    after what came before it is recorded and the wait for room is over. While the loop
    records one run, the next is already reading (when the first ended for its length
    alone): a stop drops what it staged, read again next time like an unrecorded batch."""
    steps: collections.deque[Read] = collections.deque()
    ahead: asyncio.Future[Run] | None = None

    async def start(before: Run | None) -> asyncio.Future[Run]:
        limits = await _run_limits(ctx, job, work, known, batch, before, reader.syncer)
        return asyncio.ensure_future(reader.step(read_run, entries, limits, _stage_and_prepare))

    try:
        while True:
            ctx.checkpoint()
            if not steps:
                run = await (ahead or await start(None))
                ahead = None
                steps.extend(run.steps)
                if run.more and READ_AHEAD:
                    ahead = await start(run)
            stop = await _take(ctx, job, reader, work, batch, steps.popleft())
            if stop is not None:
                return stop.error
    finally:
        if ahead is not None:
            _forget(ahead)


@dataclasses.dataclass(frozen=True, slots=True)
class _Stop:
    """The read ends: the input ended (``error`` None) or ``error`` ended it early."""

    error: FerrymanError | None


def _forget(run: asyncio.Future[Run]) -> None:
    """A run nobody will look at: its entries are read again next time."""
    run.cancel()  # the thread finishes the run; its outcome is dropped
    run.add_done_callback(lambda f: f.cancelled() or f.exception())


async def _take(
    ctx: Context, job: Job, reader: _Reader, work: Path, batch: _Batch, step: Read
) -> _Stop | None:
    """One step of the input into the batch; a ``_Stop`` when the read ends here."""
    entry = step.entry
    if entry is None:
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
            await _wait_for_room(ctx, job, work, size, batch)
        except FerrymanError as exc:
            if exc.code != "space.too_large":
                raise
            await batch.add(info.index, info.path, _failed(exc))
            return None  # reading past it costs no room
        send_all = settings.send_documents or entry.asked
        try:
            step.prepared = await reader.step(
                _stage_and_prepare,
                entry,
                info.path,
                entry_dest(work, entry),
                functools.partial(wanted, send_documents=send_all),
                send_all,
                media_options(settings, job.dest, ctx.sinks),
            )
        except FerrymanError as exc:
            step.failure = exc
    failure = step.failure
    if failure is not None:
        if failure.code == _PASSWORD:
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
    batch: _Batch,
    before: Run | None,
    syncer: Executor,
) -> RunLimits:
    """What the next run may stage without asking: the backlog's files as they stand
    now and the free-space floor (``_wait_for_room``'s own measures), and
    the ready entries that fill the first album; ``before``: a run whose entries the
    batch does not hold yet."""
    settings = await ctx.settings()
    album_size = ctx.sinks.album_size(settings, job.dest)
    staged = before.files if before is not None else 0
    ready = batch.ready() + (before.ready if before is not None else 0)
    return RunLimits(
        work=work,
        cursor=job.cursor,
        known=known,
        files=settings.backlog_items - await batch.on_disk() - staged,
        # Until this read's first batch is recorded: the first album goes out sooner.
        # Later ones leave as the loop meets them, the runs kept long (few hops).
        album=0 if batch.recorded else album_size - ready % album_size,
        floor=settings.space_floor,
        large=BATCH_LARGE,
        send_documents=settings.send_documents,
        options=media_options(settings, job.dest, ctx.sinks),
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
) -> Prepared:
    """On the reading thread: one hop for the entry's bytes and what is learned of them."""
    return prepare(_stage(entry, name, dest, keep, sync), send_all, options)


def _stage(
    entry: SourceEntry, name: str, dest: Path, keep: Any, sync: Callable[[int, Path], None] | None
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
    )


def _skipped(reason: str) -> Prepared:
    return Prepared(MediaKind.OTHER, ItemState.SKIPPED, None, None, 0, "", reason=reason)


def _failed(exc: FerrymanError) -> Prepared:
    return Prepared(
        MediaKind.OTHER, ItemState.FAILED, None, None, 0, "", reason=exc.code, error=exc
    )


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
# The next run of reading starts while the loop records the last, so reading and
# recording overlap; off, the reading thread waits for each run to be recorded.
READ_AHEAD = True
# How long reading waits for deliveries to free room before it records that it waits
# (which also lets partial albums go: the slow path, for a sink that takes its time).
BACKLOG_GRACE_SECONDS = 1.0


@dataclasses.dataclass
class _Batch:
    """Entries read but not yet recorded, and the job's load as last recorded."""

    ctx: Context
    job: Job
    entries: list[tuple[int, str, Prepared, bool]] = dataclasses.field(default_factory=list)
    since: float = 0.0  # when the first pending entry was added (monotonic)
    recorded_on_disk: int | None = None  # None: ask the store
    recorded: bool = False  # a batch of this read has been recorded

    async def add(self, index: int, path: str, prepared: Prepared, *, read: bool = False) -> None:
        """``read``: the entry was staged (a skipped or failed one was not): progress."""
        if not self.entries:
            self.since = time.monotonic()
        self.entries.append((index, path, prepared, read))
        urgent = prepared.state in (ItemState.CONVERT, ItemState.QUARANTINED)
        if (
            urgent
            or len(self.entries) >= BATCH_ENTRIES
            or time.monotonic() - self.since >= BATCH_SECONDS
            or await self._fills_an_album()
        ):
            await self.flush()

    async def _fills_an_album(self) -> bool:
        """The batch alone holds an album's worth of ready items: it goes now, so the
        first album leaves as soon as it can."""
        return self.ready() >= await _album_size(self.ctx, self.job)

    def ready(self) -> int:
        """Entries in the batch ready to deliver."""
        return sum(1 for _, _, p, _ in self.entries if p.state is ItemState.READY)

    async def on_disk(self) -> int:
        """The job's files in the work area, those not yet recorded included."""
        if self.recorded_on_disk is None:
            self.recorded_on_disk = await self.ctx.store.on_disk(self.job.id)
        pending = sum(1 for _, _, p, _ in self.entries if not p.state.terminal)
        return self.recorded_on_disk + pending

    def forget_load(self) -> None:
        """Deliveries may have freed room: ask the store next time."""
        self.recorded_on_disk = None

    async def flush(self) -> None:
        """Record the pending entries in one transaction, then tell whom it concerns."""
        if not self.entries:
            return
        ctx, job = self.ctx, self.job
        album_size = await _album_size(ctx, job)  # only full albums are sealed meanwhile
        if not self.entries:
            return  # a flush that ran while the album size was asked took them
        # Taken and handed to the store with no wait between: a flush from a nested
        # archive's wait for room cannot record later entries before these.
        pending, self.entries = self.entries, []
        try:
            recorded = await ctx.store.record_entries(
                job.id,
                ctx.owner,
                pending[-1][0] + 1,
                [_new_item(index, path, p) for index, path, p, _ in pending],
                album_size,
            )
        except Exception:
            # Not recorded: they go first in the next flush. Another flush (from a nested
            # archive's wait for room) must not move the cursor past them without them.
            self.entries[:0] = pending
            raise
        self.recorded = True
        self.recorded_on_disk = recorded.on_disk
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


async def _wait_for_room(ctx: Context, job: Job, work: Path, size: int, batch: _Batch) -> None:
    """Backpressure and the space guard: wait, showing why, until the entry may be written.

    What the batch holds is recorded before any wait: the albums it fills are what
    frees room. Raises ``space.too_large`` for an entry no amount of waiting could make
    room for.
    """
    waiting: str | None = None
    grace_until: float | None = None
    while True:
        ctx.checkpoint()
        mark = ctx.wakeup.mark("room")  # a delivery while we look is not missed
        settings = await ctx.settings()
        if await batch.on_disk() >= settings.backlog_items:
            reason: str | None = "backlog"
        elif not room_for(work, size, settings.space_floor):
            if never_fits(work, size):  # asked only when there is no room now
                if waiting is not None:
                    await ctx.store.set_wait(job.id, ctx.owner, None, blocked=False)
                raise FerrymanError(
                    "space.too_large",
                    f"{size} bytes: more than the whole disk holding the work area",
                )
            reason = "space.low"
        else:
            reason = None
        if reason is not None and batch.entries:
            await batch.flush()
            continue  # the count is the store's own now
        if reason == "backlog" and waiting is None:
            # Deliveries usually free room within moments: wait for them here first.
            # Telling the store (a wait, a seal, a resume) cost three commits per album.
            # First the store's own count (deliveries may have freed room since the
            # last batch), and only while an album is on its way: else nothing but
            # the partial albums that recording the wait lets go can free room.
            if grace_until is None:
                batch.forget_load()
                if await batch.on_disk() < settings.backlog_items:
                    continue
                in_flight = await ctx.store.albums_in_flight(job.id)
                grace_until = time.monotonic() + (BACKLOG_GRACE_SECONDS if in_flight else 0)
            left = grace_until - time.monotonic()
            if left > 0:
                await ctx.wakeup.wait(left, since=mark, topic="room")
                batch.forget_load()
                continue
        if reason != waiting:
            await ctx.store.set_wait(job.id, ctx.owner, reason, blocked=reason is not None)
            if reason is not None:
                ctx.bus.publish(JobWaiting(job.id, reason=reason))
                # Items on disk may now go out in partial albums: that is what frees room.
                await ctx.store.seal_albums(job.id, ctx.sinks.album_size(settings, job.dest))
                ctx.wakeup.notify()
            else:
                ctx.bus.publish(JobResumed(job.id))
            waiting = reason
        if reason is None:
            return
        pause = settings.space_recheck_seconds if reason == "space.low" else settings.poll_seconds
        await ctx.wakeup.wait(pause, since=mark, topic="room")
        batch.forget_load()


async def _keep_input(ctx: Context, job: Job, exc: FerrymanError) -> None:
    """Link (or copy) a broken archive into quarantine; the user's file stays where it is."""
    if not exc.code.startswith("archive."):
        return
    try:
        source = ctx.sources.for_uri(job.source).local_path(job.source)
    except FerrymanError:
        return
    if source is None:  # a fetched input: the copy in the work area
        fetched = await ctx.store.fetched(job.id)
        if fetched is None or fetched.path is None:
            return
        source = Path(fetched.path)
    settings = await ctx.settings()
    try:
        await asyncio.to_thread(
            quarantine.keep,
            settings.quarantine_dir,
            job.id,
            job.name,
            source,
            source.name,
            exc,
            move=False,
        )
    except OSError:
        log.warning("could not keep %s in quarantine", source, exc_info=True)


async def _input_failed(ctx: Context, job: Job, exc: FerrymanError) -> None:
    """The input itself is unusable: fail the job, keep a copy of a broken archive."""
    settings = await ctx.settings()
    await _keep_input(ctx, job, exc)
    await ctx.store.fail_job(job.id, exc, ctx.owner)
    await asyncio.to_thread(shutil.rmtree, job_work_dir(settings, job.id), True)
    ctx.bus.publish(JobFinished(job.id, state="failed", code=exc.code))
