"""The fetch stage: a fetch-first input (a link) is brought into the job's work area.

Claimed work with a lease and a heartbeat like every stage, with its own concurrency
(``concurrency.fetch``, one on a phone), so a long download never holds up reading
the inputs that are already here. The source does the fetching (``Fetching.fetch``):
what a crash or a stop left in the folder is resumed. A passing problem puts the
fetch back with a backoff; waits for disk room or a server's Retry-After are not
counted as attempts; anything else fails the job with its code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.archive.suffixes import file_job_name
from ferryman.config import NetworkSettings
from ferryman.engine.context import Context
from ferryman.engine.plumbing import chosen
from ferryman.engine.plumbing.events import (
    WAIT_LOGGED,
    JobFetched,
    JobFetching,
    JobFinished,
    JobWaiting,
)
from ferryman.engine.plumbing.offline import offline_or
from ferryman.engine.plumbing.once_calls import StoreCalls, hold_for
from ferryman.engine.plumbing.personal import person_of
from ferryman.engine.plumbing.retry import again_after
from ferryman.engine.plumbing.space import fits_above_floor, never_fits
from ferryman.engine.plumbing.workarea import job_work_dir, kept_fetch_dir, set_aside, take_back
from ferryman.errors import FerrymanError
from ferryman.net import partfile
from ferryman.net.progress import DownloadProgress
from ferryman.sources.base import Fetched, Fetching, FetchPlan, Pooled
from ferryman.store.fetches.sql import Fetch, InputName
from ferryman.store.store import LeaseLost

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

FETCH_NOTE = "fetch.note"  # the source memo holding what the fetch says of its result


async def fetch(ctx: Context, claimed: Fetch) -> Fetched | FerrymanError:
    """Fetch one claimed input: what it gave, or the error to settle it with. The
    caller records it with ``settle`` once its heartbeat has stopped (a woken beat
    would otherwise see the lease it just gave back and cancel the finished step)."""
    job = await ctx.fetch_store.get_job(claimed.job_id)
    settings = await ctx.settings()
    folder = job_work_dir(settings, job.id) / "fetch"

    async def wait_to_write(size: int) -> None:
        if fits_above_floor(folder, size, settings.space_floor):
            return
        if never_fits(folder, size):
            raise FerrymanError(
                "space.too_large", f"{size} bytes: more than the whole disk of the work area"
            )
        raise FerrymanError("space.low", f"{size} more bytes would go below space_floor")

    def progress(p: DownloadProgress) -> None:
        ctx.bus.publish(
            JobFetching(
                job.id,
                run=job.run,  # reported on after a cancel, until the heartbeat sees it
                done=p.done,
                total=p.total,
                speed=p.speed,
                eta=p.eta,
                fraction=p.share,
                phase=p.phase,
            )
        )

    try:
        waiting = await ctx.device.check(settings.network.wifi_only, settings.power.min_battery)
        if waiting is not None:
            raise waiting  # not on Wi-Fi, or the battery is low: wait, uncounted
        source = ctx.sources.for_uri(job.source)
        if not isinstance(source, Fetching):
            raise FerrymanError("engine.internal", f"{job.source}: its source fetches nothing")
        # A retry after a cancel goes on from the partial download set aside then; the
        # folder made and what it holds already, in the same hop to a thread.
        kept = kept_fetch_dir(settings, job.id)
        done, total = await asyncio.to_thread(_folder_ready, kept, folder)
        plan = FetchPlan(
            folder=folder,
            network=settings.network,
            retry=settings.retry,
            client=lambda: _client(settings.network),
            wait_to_write=wait_to_write,
            on_progress=progress,
            settings=settings,
            shared=ctx.resources,
            person=await person_of(ctx.fetch_store, job.account),  # whose cookies, rclone.conf
            # A debrid add made once, whichever node's worker makes it (a lost lease)
            once=StoreCalls(
                ctx.fetch_store, job.id, ctx.owner, ctx.clock, hold_for(settings.lease_seconds)
            ),
        )
        # A fetch tried again goes on from its part: not back to 0 %. Asked again after a
        # wait with nothing held (a debrid service still downloading the torrent), it says
        # nothing: "downloading 0%" at every recheck was a progress stuck at 0 %.
        if done or not claimed.error_message:
            ctx.bus.publish(
                JobFetching(
                    job.id,
                    run=job.run,
                    done=done,
                    total=total,
                    speed=0.0,
                    eta=None,
                    fraction=(done / total if total else None) if done else 0.0,
                )
            )
        got = await source.fetch(job.source, plan)
    except LeaseLost:
        raise
    except FerrymanError as exc:
        return await offline_or(ctx, exc)
    except OSError as exc:
        return FerrymanError("source.io", str(exc))
    except Exception as bug:
        log.exception("fetching job %s failed unexpectedly", job.id)
        return FerrymanError.internal(bug)
    return got


def _folder_ready(kept: Path, folder: Path) -> tuple[int, int | None]:
    """Blocking: the fetch's folder, with the part a cancelled try set aside taken back
    (``take_back``), made; what it holds already (``partfile.held``)."""
    take_back(kept, folder)
    folder.mkdir(parents=True, exist_ok=True)
    return partfile.held(folder)


async def pooled(ctx: Context, claimed: Fetch) -> tuple[int, tuple[str, ...]]:
    """How many fetches one worker runs at once beside ``claimed``, and of which schemes:
    its source's ``fetches_at_once`` if its fetches share its connections (``Pooled``),
    else one (and none other: a download of its own holds a worker)."""
    job = await ctx.fetch_store.get_job(claimed.job_id)
    try:
        source = ctx.sources.for_uri(job.source)
    except FerrymanError:
        return 1, ()  # the fetch itself says so, with its code
    if not isinstance(source, Pooled) or (await ctx.settings()).concurrency.fetch <= 1:
        return 1, ()  # one download at a time (a phone): one
    return max(1, source.fetches_at_once), source.schemes


async def settle(ctx: Context, claimed: Fetch, outcome: Fetched | FerrymanError) -> None:
    """Record what ``fetch`` gave: done (the read stage may claim the job), or
    retried later, or the job failed."""
    if isinstance(outcome, FerrymanError):
        await _failed(ctx, claimed, outcome)
        return
    got, job_id = outcome, claimed.job_id
    path = str(got.path) if got.path is not None else None  # None: read in place
    # Named as the fetch is done, in its transaction: the read stage may claim the job
    # at once, and reads it under the name it has then (a link's one file takes it).
    # The note is kept for the job's report.
    named = InputName(file_job_name(got.name), got.variant, got.source_end) if got.name else None
    note = (FETCH_NOTE, got.note) if got.note else None
    held = await ctx.fetch_store.fetch_done(
        claimed.id, ctx.owner, path, got.size, hold=chosen.HOLD, named=named, note=note
    )
    if held:
        log.info("job %s is held until its entries are chosen", job_id)
    ctx.bus.publish(
        JobFetched(job_id, size=got.size, name=got.name, note=got.note, in_place=path is None)
    )
    # No broadcast: the worker wakes the read and the housekeeper. One woke every idle
    # worker, the housekeeper's full round and every fetch's heartbeat: 200 links made
    # some 600 claims and renewals for nothing, in the way of the reads.


async def drop_if_cancelled(ctx: Context, claimed: Fetch) -> None:
    """The partial download of a cancelled job leaves its work folder as soon as its
    fetch has stopped (the step that wrote it is over), set aside for a retry to go on
    from (``workarea.kept_fetch_dir``; a remove deletes it). A fetch whose lease went
    elsewhere keeps its folder: the new owner resumes it."""
    found = await ctx.fetch_store.fetched(claimed.job_id)
    if found is not None and found.state == "cancelled":
        settings = await ctx.settings()
        folder = job_work_dir(settings, claimed.job_id) / "fetch"
        await asyncio.to_thread(set_aside, folder, kept_fetch_dir(settings, claimed.job_id))


@contextlib.asynccontextmanager
async def _client(network: NetworkSettings) -> AsyncIterator[httpx.AsyncClient]:
    # lazy: start-up (httpx and the egress guard: a source that asks for a client loads
    # them; an engine with files, archives or no fetch at all never does)
    from ferryman.net.http import make_client

    async with make_client(network) as client:
        yield client


async def _failed(ctx: Context, claimed: Fetch, exc: FerrymanError) -> None:
    again = again_after(exc, claimed.attempts + 1, await ctx.settings())
    if again is None:
        log.info("fetch of job %s failed for good: %s", claimed.job_id, exc)  # the run says it
        job_id = await ctx.fetch_store.fetch_failed(claimed.id, ctx.owner, exc)
        ctx.bus.publish(JobFinished(job_id, state="failed", code=exc.code))
        return
    # Marked: a front door that shows the job's waits (``frontdoors/progress``) says
    # these words in its own line, and keeps this one out of the same stream.
    said = {WAIT_LOGGED: claimed.job_id}
    log.warning("fetch of job %s: %s; again in %.1fs", claimed.job_id, exc, again.delay, extra=said)
    await ctx.fetch_store.fetch_retry(claimed.id, ctx.owner, exc, again.delay, count=again.counted)
    wait = JobWaiting(claimed.job_id, reason=exc.code, message=exc.message, again_in=again.delay)
    ctx.bus.publish(wait)
