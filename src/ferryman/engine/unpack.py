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
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import shutil
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ferryman.archive.reader import ArchiveLimits, EntryType, OpenOptions
from ferryman.config import Settings
from ferryman.engine import quarantine
from ferryman.engine.context import Context
from ferryman.engine.prepare import Prepared, media_options, prepare, wanted
from ferryman.engine.retry import again_after
from ferryman.engine.space import never_fits, room_for
from ferryman.engine.stage import Staged, stage_entry
from ferryman.engine.workarea import job_work_dir, nested_scratch
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import ItemState, Job, MediaKind
from ferryman.sources.base import ReadOptions, SourceEntry
from ferryman.store.store import LeaseLost, NewItem

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Reader:
    """Runs every blocking call on one thread, so the archive handle never changes hands."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferryman-read")

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


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
    again = again_after(exc, job.attempts + 1, await ctx.settings())
    if again is None:
        await _input_failed(ctx, job, exc)
        return
    if again.counted:
        log.warning("reading job %s failed (%s); again in %.1fs", job.id, exc, again.delay)
    await ctx.store.job_retry(job.id, ctx.owner, exc, again.delay, count=again.counted)
    ctx.bus.emit("job.waiting", job.id, reason=exc.code)


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
    reader = _Reader()
    try:
        try:
            source = ctx.sources.for_uri(job.source)
            await reader.call(source.inspect, job.source)
        except FerrymanError as exc:
            await _input_failed(ctx, job, exc)
            return
        work = job_work_dir(settings, job.id)
        await reader.call(functools.partial(work.mkdir, parents=True, exist_ok=True))
        known = await ctx.store.known_seqs(job.id)
        waits = _RoomWaits(asyncio.get_running_loop())

        def make_room(size: int) -> None:
            """On the reading thread: a nested archive waits for room like an entry."""
            waits.wait(_wait_for_room(ctx, job, work, size, None))

        fetched = await ctx.store.fetched(job.id)
        memo = _Memo(ctx, job.id, await ctx.store.source_memos(job.id), waits)
        options = dataclasses.replace(
            read_options(settings, job),
            make_room=make_room,
            fetched=Path(fetched.path) if fetched is not None and fetched.path else None,
            memo=memo,
        )
        opened = source.open(job.source, options)
        error: FerrymanError | None
        try:
            entries: Iterator[SourceEntry] = await reader.call(opened.__enter__)
        except FerrymanError as exc:  # encrypted names, a missing volume, no 7zz…
            error = exc
        else:
            try:
                error = await _read_all(ctx, job, reader, entries, work, known)
            finally:  # close the entries first: that removes a nested archive's copy
                waits.cancel()  # a cancelled step must not leave the thread waiting for room
                with contextlib.suppress(Exception):
                    await reader.call(getattr(entries, "close", _nothing))
                with contextlib.suppress(Exception):
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
        await ctx.store.need_password(job.id, ctx.owner, error)
        ctx.wakeup.notify()  # what was read may go out in partial albums meanwhile
        ctx.bus.emit("job.waiting", job.id, reason=error.code)
        return
    if error is not None and not error.ends_input:  # see errors.ErrorSpec
        raise error
    if error is not None and not await ctx.store.known_seqs(job.id):
        await _input_failed(ctx, job, error)
        return
    if error is not None:
        await _keep_input(ctx, job, error)  # broken part-way: keep it for a look
    await ctx.store.finish_expansion(job.id, ctx.owner, error)
    ctx.bus.emit("job.expanded", job.id, error=error.code if error else None)


async def _read_all(
    ctx: Context,
    job: Job,
    reader: _Reader,
    entries: Iterator[SourceEntry],
    work: Path,
    known: set[int],
) -> FerrymanError | None:
    """Stage every new entry; returns the error that ended the input early, if any."""
    on_disk: int | None = None  # as of the last recorded entry; None: ask the store
    while True:
        ctx.checkpoint()
        try:
            entry: SourceEntry | None = await reader.call(next, entries, None)
        except FerrymanError as exc:
            return exc
        if entry is None:
            return None
        info = entry.info
        if info.index < job.cursor or info.index in known:
            continue  # handled before a restart: read past it without writing
        if entry.error is not None:  # a nested archive that could not be read
            on_disk = await _record(ctx, job, info.index, info.path, _failed(entry.error))
            continue
        if entry.skip is not None or info.type is not EntryType.FILE:
            reason = entry.skip or f"unsupported_{info.type}"
            on_disk = await _record(ctx, job, info.index, info.path, _skipped(reason))
            continue
        try:
            await _wait_for_room(ctx, job, work, info.size or 0, on_disk)
        except FerrymanError as exc:
            if exc.code != "space.too_large":
                raise
            on_disk = await _record(ctx, job, info.index, info.path, _failed(exc))
            continue  # reading past it costs no room
        settings = await ctx.settings()
        send_all = settings.send_documents or entry.asked
        dest = work / f"{info.index:06d}-{safe_name(Path(info.path).name)}"
        try:
            staged = await reader.call(
                _stage,
                entry,
                info.path,
                dest,
                functools.partial(wanted, send_documents=send_all),
            )
        except FerrymanError as exc:
            if exc.code == _PASSWORD:
                return exc  # this entry is read again once a password arrives
            if exc.code not in _FAILS_ENTRY:
                raise
            on_disk = await _record(ctx, job, info.index, info.path, _failed(exc))
            if exc.code == "archive.limit_exceeded":
                return exc
            continue
        options = media_options(settings, job.dest, ctx.sinks)
        prepared = await asyncio.to_thread(prepare, staged, send_all, options)
        if prepared.state is ItemState.QUARANTINED and prepared.work_path is not None:
            assert prepared.error is not None
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
        on_disk = await _record(ctx, job, info.index, info.path, prepared)
        ctx.bus.emit("job.progress", job.id, entry=info.index, path=info.path)


def _stage(entry: SourceEntry, name: str, dest: Path, keep: Any) -> Staged:
    return stage_entry(
        entry.read_blocks(),
        name,
        dest,
        keep,
        stop_unwanted=entry.over_network,  # its bytes are not fetched for nothing
        unread_size=entry.info.size,
        link_from=entry.local_file,
        known_sha256=entry.local_sha256,
    )


def _skipped(reason: str) -> Prepared:
    return Prepared(MediaKind.OTHER, ItemState.SKIPPED, None, None, 0, "", reason=reason)


def _failed(exc: FerrymanError) -> Prepared:
    return Prepared(
        MediaKind.OTHER, ItemState.FAILED, None, None, 0, "", reason=exc.code, error=exc
    )


async def _record(ctx: Context, job: Job, index: int, path: str, p: Prepared) -> int:
    """Record the entry; returns how many of the job's files are in the work area now."""
    recorded = await ctx.store.record_entry(
        job.id,
        ctx.owner,
        index + 1,
        NewItem(
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
        ),
    )
    item = recorded.item
    ctx.bus.emit(
        "item.recorded",
        job.id,
        item.id,
        state=item.state.value,
        kind=item.kind.value,
        path=path,
        reason=item.reason,
    )
    settings = await ctx.settings()
    # Only a full album can be sealed while reading goes on; partial ones wait for the end.
    album_size = ctx.sinks.album_size(settings, job.dest)
    if item.state is ItemState.READY and recorded.ready >= album_size:
        if await ctx.store.seal_albums(job.id, album_size):
            ctx.wakeup.notify()
    elif item.state is ItemState.CONVERT:
        ctx.wakeup.notify()
    return recorded.on_disk


def _s(path: Path | None) -> str | None:
    return str(path) if path is not None else None


async def _wait_for_room(
    ctx: Context, job: Job, work: Path, size: int, on_disk: int | None
) -> None:
    """Backpressure and the space guard: wait, showing why, until the entry may be written.

    Raises ``space.too_large`` for an entry no amount of waiting could make room for.
    """
    waiting: str | None = None
    while True:
        ctx.checkpoint()
        settings = await ctx.settings()
        if on_disk is None:
            on_disk = await ctx.store.on_disk(job.id)
        if on_disk >= settings.backlog_items:
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
        if reason != waiting:
            await ctx.store.set_wait(job.id, ctx.owner, reason, blocked=reason is not None)
            if reason is not None:
                ctx.bus.emit("job.waiting", job.id, reason=reason)
                # Items on disk may now go out in partial albums: that is what frees room.
                await ctx.store.seal_albums(job.id, ctx.sinks.album_size(settings, job.dest))
                ctx.wakeup.notify()
            else:
                ctx.bus.emit("job.resumed", job.id)
            waiting = reason
        if reason is None:
            return
        pause = settings.space_recheck_seconds if reason == "space.low" else settings.poll_seconds
        await ctx.wakeup.wait(pause)
        on_disk = None  # deliveries may have freed room meanwhile


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
    ctx.bus.emit("job.finished", job.id, state="failed", code=exc.code)
