"""The read stage's step: a job's input becomes items, one entry at a time, in order.

Nothing is unpacked in full. The reader runs on a thread of its own (every call on one
archive handle from the same thread); each entry is staged, prepared and recorded
together with the job's cursor in one transaction, so a restart resumes after the
last recorded entry. Reading waits while the job already has ``backlog_items`` files
on disk (fewer for an input streamed from a server to a sink that bounds it by albums,
``SinkKind.backlog_albums``), or the next entry would take their bytes past
``backlog_bytes``, or while writing the next entry (or copying a nested archive out to
read it) would take free space below the floor.

The parts: ``job_read`` (one job's read: what each step of the input becomes),
``staging`` (one entry staged and prepared), ``read_run`` and ``reading_thread`` (the
runs on the reading thread), ``entry_batch`` (recording entries in batches), ``write_wait``
(the waits for room), ``bad_input`` (an input that cannot be read).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from ferryman.archive.box.reader import BoxPool
from ferryman.archive.reader import ArchiveLimits, OpenOptions
from ferryman.config import Settings
from ferryman.engine.context import Context, Stopping
from ferryman.engine.plumbing import chosen
from ferryman.engine.plumbing.destination import resolve, warm
from ferryman.engine.plumbing.events import WAIT_LOGGED, JobFetching, JobReadDone, JobWaiting
from ferryman.engine.plumbing.offline import offline_or
from ferryman.engine.plumbing.retry import again_after
from ferryman.engine.plumbing.workarea import job_work_dir, nested_scratch
from ferryman.engine.read.bad_input import input_failed, keep_input
from ferryman.engine.read.entry_batch import EntryBatch, at_risk
from ferryman.engine.read.folder_name import FolderName, zip_names
from ferryman.engine.read.job_read import PASSWORD_REQUIRED, JobRead
from ferryman.engine.read.reading_thread import ReadingThread
from ferryman.engine.read.write_wait import GaveWay, LoopWaits, wait_until_writable
from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.net import abort
from ferryman.net.progress import DownloadProgress
from ferryman.sources.base import Fetching, KeptLast, ReadOptions, Source, SourceEntry
from ferryman.store.fetches.sql import is_small
from ferryman.store.store import LeaseLost

log = logging.getLogger(__name__)

# Jobs whose input was fetched as one small file (``store.fetches.SMALL_INPUT``) are read
# this many at once by one worker, and at most READS_A_GROUP in a row before the next
# claim goes by the queue's order again (a job of higher priority waits no longer).
READS_AT_ONCE = 8
READS_A_GROUP = 64


async def reads_at_once(ctx: Context, job: Job) -> int:
    """How many jobs the worker that claimed ``job`` reads at once: ``READS_AT_ONCE`` when
    its input was fetched as one small file (others like it are read beside it, each a
    few store round trips), else one (an archive, a folder, a big file: read alone, as
    ``concurrency.read`` says)."""
    try:
        fetches = isinstance(ctx.sources.for_uri(job.source), Fetching)
    except FerrymanError:
        return 1  # its read says so, with its code
    if not fetches:  # a local input: not even a look at the store
        return 1
    return READS_AT_ONCE if is_small(await ctx.read_store.fetched(job.id)) else 1


async def read_job(ctx: Context, job: Job) -> None:
    """Read the job's input; a passing problem queues it again, a lasting one fails it."""
    try:
        await _read_job(ctx, job)
        return
    except GaveWay:
        log.info("job %s gives way: a job further behind is read first", job.id)
        await ctx.read_store.give_way(job.id, ctx.owner)
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
        await input_failed(ctx, job, exc)
        return
    if again.counted:  # marked: see fetch.step._failed
        said = {WAIT_LOGGED: job.id}
        log.warning(
            "reading job %s failed (%s); again in %.1fs", job.id, exc, again.delay, extra=said
        )
    await ctx.read_store.job_retry(job.id, ctx.owner, exc, again.delay, count=again.counted)
    ctx.bus.publish(JobWaiting(job.id, reason=exc.code, message=exc.message, again_in=again.delay))


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
        job_name=job.name,
        kept=KeptLast(),  # the job's read's: a .tgz Takeout set indexed once for its parts
    )


def _indexing(
    ctx: Context, job: Job, loop: asyncio.AbstractEventLoop
) -> Callable[[DownloadProgress], None]:
    """A .tgz Takeout read through to index it, before its first entry (minutes for a
    big part), told as the reading phase's figures (share, speed, time left), from the
    reading thread to the loop's bus: the job's reading does not sit without a figure."""

    def told(p: DownloadProgress) -> None:
        # "reading": ``engine/ops/phases.READING`` (a stage imports no operation)
        event = JobFetching(
            job.id, p.done, p.total, speed=p.speed, eta=p.eta, fraction=p.share, phase="reading"
        )
        loop.call_soon_threadsafe(ctx.bus.publish, event)

    return told


async def _read_job(ctx: Context, job: Job) -> None:
    settings = await ctx.settings()
    reader = ReadingThread(ctx.stopping)
    box = BoxPool()  # libarchive's children, kept from one archive of the job to the next
    batch: EntryBatch | None = None
    try:
        # The job's recorded entries, its fetched copy and its memos are read while the
        # input is looked at and its work folder made (one hop to the reading thread).
        work = job_work_dir(settings, job.id)
        reads = asyncio.gather(
            ctx.read_store.known_seqs(job.id),
            ctx.read_store.fetched(job.id),
            ctx.read_store.source_memos(job.id),
        )
        try:
            source = ctx.sources.for_uri(job.source)
            await reader.step(_look_at, source, job.source, work)
            route = await resolve(ctx, job.dest, job.account)  # once: every step of the read
        except BaseException as exc:
            await _settled(reads)
            if not isinstance(exc, FerrymanError):
                raise
            await input_failed(ctx, job, exc)
            return
        sink = warm(route)
        early = sink.early_upload_starter() if sink is not None else None
        known, fetched, memos = await reads
        waits = LoopWaits(asyncio.get_running_loop())
        fetched_path = Path(fetched.path) if fetched is not None and fetched.path else None
        local = source.local_path(job.source) or fetched_path
        streamed = local is None
        risk = at_risk(fetched.size if fetched is not None else None) if streamed else None
        batch = EntryBatch(ctx, job, route, streamed=streamed, at_risk=risk)
        if not known and route.kind.albums_grow:  # a fresh job: its first file goes alone
            batch.growing = 1
        if not known:  # its name is chosen beside the read, before its first record
            batch.naming = asyncio.ensure_future(_choose_name(batch, local))

        def wait_to_write(size: int) -> None:
            """On the reading thread: a nested archive waits for room like an entry."""
            waits.wait(wait_until_writable(ctx, job, work, size, batch))

        memo = _Memo(ctx, job.id, memos, waits)
        plain = read_options(settings, job)
        options = dataclasses.replace(
            plain,
            archive=dataclasses.replace(plain.archive, box=box),
            wait_to_write=wait_to_write,
            indexing=_indexing(ctx, job, asyncio.get_running_loop()),
            fetched=Path(fetched.path) if fetched is not None and fetched.path else None,
            memo=memo,
        )
        opened = source.open(job.source, options)
        error: FerrymanError | None
        try:
            entries: Iterator[SourceEntry] = await reader.step(opened.__enter__)
            entries = chosen.only_chosen(entries, memos.get(chosen.MEMO))
        except FerrymanError as exc:  # encrypted names, a missing volume, no 7zz…
            error = exc
        else:
            try:
                async with _recorded_on_error(batch):
                    read = JobRead(
                        ctx,
                        job,
                        reader,
                        entries,
                        work=work,
                        known=known,
                        batch=batch,
                        early=early,
                        waits=waits,
                    )
                    error = await read.run()
            finally:  # close the entries first: that removes a nested archive's copy
                waits.cancel()  # a cancelled step must not leave the thread waiting for room
                close = getattr(entries, "close", None)  # a plain iterator has none: no hop
                if close is not None:
                    with contextlib.suppress(Exception, abort.Aborted):  # after a stop, too
                        await reader.call(close)
                with contextlib.suppress(Exception, abort.Aborted):
                    await reader.call(opened.__exit__, None, None, None)
        await _conclude(ctx, job, error, batch)
    finally:
        reader.close()
        if box.holds():  # its children end (blocking); else closed here, with no hop
            await asyncio.to_thread(box.close)
        else:
            box.close()
        if batch is not None:  # an input with no entries, a read that failed: its end
            with contextlib.suppress(Exception):
                await batch.named()


def _folder_or_zip_names(local: Path | None) -> tuple[bool, list[str] | None]:
    """Blocking, in one hop (two were): whether the input is a folder, else its
    ``zip_names``."""
    if local is not None and local.is_dir():
        return True, None
    return False, zip_names(local)


def _look_at(source: Source, uri: str, work: Path) -> None:
    """On the reading thread: the input is there and readable; the work folder made."""
    source.inspect(uri)
    work.mkdir(parents=True, exist_ok=True)


async def _settled(reads: Awaitable[object]) -> None:
    """Reads nobody will use, awaited so that none is left running or unheard."""
    with contextlib.suppress(Exception):
        await reads


async def _choose_name(batch: EntryBatch, local: Path | None) -> None:
    """How the job may be named after its input's one folder (``engine/read/folder_name``),
    worked out on a thread of its own while the input opens and its first entries are
    read: a zip's directory and the renaming commit were in the
    first album's way. Named at once when the directory says; else the rule is left
    for the first batch."""
    folder, names = await asyncio.to_thread(_folder_or_zip_names, local)
    if folder:
        return  # a folder's job is named after the folder already
    rule = FolderName(names)
    early = rule.from_listing()
    if early is not None:
        await batch.name_from_folder(early)
    else:
        batch.folder_name = rule


class _Memo:
    """The job's source memo: read once before reading starts, written through to the
    store from the reading thread (it blocks until the write is committed)."""

    def __init__(self, ctx: Context, job_id: int, known: dict[str, str], waits: LoopWaits) -> None:
        self._ctx = ctx
        self._job_id = job_id
        self._known = dict(known)
        self._waits = waits

    def get(self, key: str) -> str | None:
        return self._known.get(key)

    def put(self, key: str, value: str) -> None:
        self._waits.wait(self._ctx.read_store.put_source_memo(self._job_id, key, value))
        self._known[key] = value


async def _conclude(ctx: Context, job: Job, error: FerrymanError | None, batch: EntryBatch) -> None:
    """Reading stopped: at the end, at a password, or because the input broke."""
    if error is not None and error.code == PASSWORD_REQUIRED:
        tried = read_options(await ctx.settings(), job).archive.passwords
        if tried:  # a wrong password says so, not "required" as if none was given
            error = FerrymanError(
                "archive.password_wrong",
                f"none of the {len(tried)} password{'s' * (len(tried) != 1)} given"
                f" opened it ({error.message})",
            )
        # what was read goes out in partial albums meanwhile
        await ctx.read_store.need_password(
            job.id, ctx.owner, error, await batch.album_size(), wait=await ctx.album_wait()
        )
        ctx.wakeup.notify()
        ctx.bus.publish(JobWaiting(job.id, reason=error.code, message=error.message))
        return
    if error is not None and not error.ends_input:  # see errors.ErrorSpec
        raise error
    if error is not None and not await ctx.read_store.known_seqs(job.id):
        await input_failed(ctx, job, error)
        return
    if error is not None:
        await keep_input(ctx, job, error)  # broken part-way: keep it for a look
    # the last, partial albums are sealed with it (or were, with its last entries)
    if not batch.finished and await ctx.read_store.finish_expansion(
        job.id, ctx.owner, error, await batch.album_size(), wait=await ctx.album_wait()
    ):
        ctx.wakeup.notify("deliver")
    ctx.run.read_ended.add(job.id)
    ctx.wakeup.notify("last")  # its albums may all be out already: the job ends now
    ctx.bus.publish(JobReadDone(job.id, error=error.code if error else None))


@contextlib.asynccontextmanager
async def _recorded_on_error(batch: EntryBatch) -> AsyncIterator[None]:
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
