"""The engine's pipeline in one place, as beets' importer lists its stages: each stage,
the unit of work it claims, whom a finished step wakes and what wakes it. ``runner``
starts a pool of workers for each entry of ``PIPELINE`` and runs the loops beside them.

Work enters at intake (``engine/ops/intake``, not a stage: a front door's ``add`` or a
watch's check): an input becomes a job, and a fetch when it is downloaded first, in one
transaction, and running engines are nudged. Then::

    fetch ──> unpack ──┬──────────────> deliver ──> housekeeper: the job ends ──> notifier
                       └──> convert ──> deliver
    watch ──> intake (its new entries become jobs)

A worker claims one unit with a lease (the store's claims), keeps the lease alive while
its step runs (``leases.held``) and, when the step ends, notifies the topics in
``wakes``. An idle worker waits on its stage's own topic (its name) or a notify naming
none (a control, a nudge from another process), and looks again after
``poll_seconds`` anyway. Topics that name no stage: ``room`` (a read waiting for its
backlog to drain or for free space, ``engine/read/room``), ``keeper`` (the housekeeper) and
``last`` (a job's last album went or its read ended: the housekeeper ends the job
without its gap).

Beside the stages, ``runner`` runs the housekeeper (woken by ``keeper`` and ``last``:
reaps expired leases, seals what the stages did not, ends finished jobs, tidies ended
jobs' folders), the notifier (hears the bus, claims its own outbox rows:
``engine/notify``) and the node's heartbeat (every third of a lease or on a nudge; it
learns of a drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ferryman.engine import convert, deliver, fetch, read
from ferryman.engine.context import Context, Stopping
from ferryman.engine.plumbing.events import ItemConverting, JobResumed, JobStarted
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.stages import (
    NOTHING_NEXT,
    NothingNext,
    Pool,
    Stage,
    lease_seconds,
    steps,
)
from ferryman.model import AlbumClaim, Item, Job
from ferryman.net import abort
from ferryman.store.fetches import Fetch
from ferryman.store.schema import fetches, items, jobs
from ferryman.store.watches import Watch

# The stages' shape is plumbing's (a stage's package defines its own): named here too.
__all__ = [
    "NOTHING_NEXT",
    "PIPELINE",
    "STAGES",
    "TOPICS",
    "NothingNext",
    "Pool",
    "Stage",
    "lease_seconds",
]
log = logging.getLogger(__name__)
T = TypeVar("T")


async def until_stopped(ctx: Context, step: Awaitable[T]) -> T:
    """A step that may be cut anywhere (a download keeps its part and record), so a
    stop need not wait for a checkpoint: a stalled server held a stop up for
    ``runner.STOP_GRACE_SECONDS``. What it runs on threads (a zip's directory read in
    place) is cut too (``net.abort``). Raises ``Stopping`` when the stop came first."""
    cut = abort.Abort()

    async def within() -> T:
        abort.current.set(cut)  # this task's context, which its threads copy
        return await step

    work = asyncio.ensure_future(within())
    stop = asyncio.ensure_future(ctx.stopping.wait())
    try:
        await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not work.done():
            cut.trigger()
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if work.cancelled() and ctx.stopping.is_set():
        raise Stopping
    return work.result()


# ------------------------------------------------------------------ the steps


async def _fetch(ctx: Context, claimed: Fetch) -> None:
    """One fetch; or, of a source whose fetches share its connections (``Pooled``:
    Telegram's), up to its ``fetches_at_once``: more of its schemes are claimed as
    long as they are queued, each settled as it ends, so 200 links go 48 at a time
    through one pool instead of one a worker."""
    at_once, schemes = await fetch.pooled(ctx, claimed)
    lease = await lease_seconds(ctx)
    await _grouped(
        ctx,
        "fetch",
        _fetch_one(ctx, claimed, lease),
        at_once,
        lambda room: ctx.fetch_store.claim_fetches(ctx.owner, lease, room, schemes),
        lambda more: _fetch_one(ctx, more, lease),
    )


async def _grouped(
    ctx: Context,
    name: str,
    first: Awaitable[None],
    at_once: int,
    claim: Callable[[int], Awaitable[list[T]]],
    one: Callable[[T], Awaitable[None]],
) -> None:
    """``first``, and beside it more units claimed by ``claim`` (up to the room it is
    given, in one transaction) while fewer than ``at_once`` run (none once the engine
    stops or drains), each run by ``one`` and ended on its own; returns when all have
    ended. With room for more, a wake-up of
    the stage (its ``name``) or its poll looks again before any unit ends: a read
    held long must not keep the jobs fetched meanwhile waiting."""
    running = {asyncio.ensure_future(first)}
    stopped = False
    looking: asyncio.Future[None] | None = None
    try:
        while running:
            mark = ctx.wakeup.mark(name)
            while len(running) < at_once and not (ctx.stopping.is_set() or ctx.draining):
                more = await claim(at_once - len(running))
                running.update(asyncio.ensure_future(one(unit)) for unit in more)
                if not more:
                    poll = (await ctx.settings()).poll_seconds
                    looking = asyncio.ensure_future(ctx.wakeup.wait(poll, since=mark, topic=name))
                    break
            waits = running if looking is None else {*running, looking}
            ended, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            running -= ended
            for task in ended - {looking}:
                stopped |= _ended(task, name)
            if looking is not None:
                looking.cancel()
                looking = None
    finally:
        if looking is not None:
            looking.cancel()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    if stopped:
        raise Stopping


def _ended(task: asyncio.Future[None], name: str) -> bool:
    """Whether a unit of a group ended by the engine's stop; its other ends are told
    as the worker tells a step's (``runner._work``)."""
    if task.cancelled():
        log.warning("%s: lost the lease on a unit of a group; moving on", name)
        return False
    exc = task.exception()
    if isinstance(exc, Stopping):
        return True
    if exc is not None:
        log.error("%s: step failed; its lease will expire and it runs again", name, exc_info=exc)
    return False


async def _fetch_one(ctx: Context, claimed: Fetch, lease: float) -> None:
    try:
        async with held(ctx.fetch_store, fetches, claimed.id, ctx.owner, lease, ctx.wakeup):
            outcome = await until_stopped(ctx, fetch.fetch(ctx, claimed))
        await fetch.settle(ctx, claimed, outcome)
        ctx.wakeup.notify("unpack", "keeper")  # as its stage's step ends (the group goes on)
    except asyncio.CancelledError:
        if not ctx.stopping.is_set():  # the lease was taken: a cancel, most likely
            await fetch.drop_if_cancelled(ctx, claimed)
        raise


async def _unpack(ctx: Context, job: Job) -> None:
    """One job's read; or, of a job whose input was fetched as one small file, up to
    ``read.READS_AT_ONCE`` such jobs read at once (more claimed while they are queued,
    at most ``read.READS_A_GROUP`` in all, then the next claim is in the queue's order
    again), each ended on its own: 200 links' photos read one after another waited on
    each read's store round trips in turn."""
    lease = await lease_seconds(ctx)
    at_once = await read.reads_at_once(ctx, job)
    claimed = 1

    async def claim(room: int) -> list[Job]:
        nonlocal claimed
        room = min(room, read.READS_A_GROUP - claimed)
        more = await ctx.read_store.claim_jobs(ctx.owner, lease, room, small=True) if room else []
        claimed += len(more)
        return more

    await _grouped(
        ctx,
        "unpack",
        _unpack_one(ctx, job, lease),
        at_once,
        claim,
        lambda more: _unpack_one(ctx, more, lease),
    )


async def _unpack_one(ctx: Context, job: Job, lease: float) -> None:
    if job.resumed:  # a turn given, a retry, a restart: the read goes on, once started
        ctx.bus.publish(JobResumed(job.id))
    else:
        shown = ctx.sources.describe(job.source)  # a link's token never reaches a log
        ctx.bus.publish(JobStarted(job.id, source=shown))
    async with held(ctx.read_store, jobs, job.id, ctx.owner, lease):
        await read.expand(ctx, job)
    ctx.wakeup.notify("deliver", "convert", "keeper")  # as its stage's step ends


async def _convert(ctx: Context, item: Item) -> None:
    ctx.bus.publish(ItemConverting(item.job_id, item.id, path=item.source_path))
    async with held(ctx.convert_store, items, item.id, ctx.owner, await lease_seconds(ctx)):
        await convert.convert(ctx, item)


async def _watch(ctx: Context, claimed: Watch) -> None:
    """Check a due watch (``engine/watch/check``): its new entries become jobs."""
    from ferryman.engine.ops.intake import entry_job  # lazy: start-up
    from ferryman.engine.watch import Checker  # lazy: start-up
    from ferryman.sources.listers.base import WatchEntry  # lazy: start-up
    from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

    async def cut(listing: Awaitable[list[WatchEntry]]) -> list[WatchEntry]:
        return await until_stopped(ctx, listing)

    checker = Checker(
        ctx.watch_store,
        ctx.sources,
        ctx.sinks,
        default_listers(ctx.resources),
        ctx.device,
        ctx.owner,
        enter=entry_job,
        cut=cut,
        publish=ctx.bus.publish,
        stopping=ctx.stopping,
    )
    await checker.check(claimed, await ctx.settings())


# ------------------------------------------------------------------ the list

PIPELINE: tuple[Stage[Fetch] | Stage[Job] | Stage[AlbumClaim] | Stage[Item] | Stage[Watch], ...]
PIPELINE = (
    Stage[Fetch](
        "fetch",
        claims="a queued fetch of a running job: its input, downloaded first (claim_fetch);"
        " t.me links, which share one pool of connections (`Pooled`), several at once a worker",
        woken_by="intake (an add, a watch's check, a nudge from another process), a retry",
        wakes=("unpack", "keeper"),  # the job's input is here; or the fetch failed it
        workers=lambda settings: settings.concurrency.fetch,
        open=steps(lambda ctx, lease: ctx.fetch_store.claim_fetch(ctx.owner, lease), _fetch),
    ),
    Stage[Job](
        "unpack",
        claims="a queued, unpaused job whose fetch (if any) is done, highest priority first"
        " (claim_job); read entry by entry, recorded with its cursor; jobs fetched as one"
        " small file, several at once a worker",
        woken_by="a fetch that ended, intake, a password or a retry (a notify for everyone)",
        wakes=("deliver", "convert", "keeper"),  # albums sealed, conversions deferred
        workers=lambda settings: settings.concurrency.unpack,
        open=steps(lambda ctx, lease: ctx.read_store.claim_job(ctx.owner, lease), _unpack),
    ),
    deliver.STAGE,
    Stage[Item](
        "convert",
        claims="an item deferred for a transcode, only while no deliverable work waits"
        " (claim_conversion)",
        woken_by="a batch that deferred an item; then its poll finds the quiet moment",
        # A conversion that failed frees room and may let a partial album go (the full
        # round seals it): everyone, as conversions are few. Its own seal wakes deliver.
        wakes=(),
        workers=lambda settings: settings.concurrency.convert,
        open=steps(
            lambda ctx, lease: ctx.convert_store.claim_conversion(ctx.owner, lease), _convert
        ),
    ),
    Stage[Watch](
        "watch",
        claims="a due, unpaused watch (claim_watch); its new entries go through intake",
        woken_by="its poll (a watch falls due by the clock); a watch just added (a nudge);"
        " a watched folder's change notice (engine/watch/notified)",
        wakes=(),  # a check made jobs (or none): rare, so everyone looks
        workers=lambda settings: 1,
        open=steps(lambda ctx, lease: ctx.watch_store.claim_watch(ctx.owner, lease), _watch),
    ),
)

STAGES = tuple(stage.name for stage in PIPELINE)  # every engine runs each (≥ 1 worker)
# Every wake-up topic: the stages' own, and those that name no stage (see above).
TOPICS = (*STAGES, "room", "keeper", "last")


def draw() -> str:
    """The pipeline as docs/architecture.md shows it: the flow from this module's
    docstring, then one row per stage of ``PIPELINE``. ``python -m
    ferryman.engine.pipeline`` prints it; tests/test_architecture_doc.py checks that the
    doc's copy is this, so the two cannot drift apart."""
    doc = __doc__ or ""
    flow = doc[doc.index("::\n\n") + 4 :].split("\n\n")[0]
    rows = [
        "| stage | claims | woken by | wakes when a step ends |",
        "| --- | --- | --- | --- |",
    ]
    for stage in PIPELINE:
        wakes = ", ".join(stage.wakes) or "everyone"
        rows.append(f"| `{stage.name}` | {stage.claims} | {stage.woken_by} | {wakes} |")
    lines = [line.removeprefix("    ") for line in flow.splitlines()]
    return "\n".join(["```", *lines, "```", "", *rows]) + "\n"


if __name__ == "__main__":
    print(draw(), end="")
