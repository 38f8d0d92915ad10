"""The read stage's row of the pipeline (``read``) and its step: one job's read, or a
group of small fetched ones read at once."""

from __future__ import annotations

from ferryman.engine.context import Context
from ferryman.engine.plumbing.events import JobResumed, JobStarted
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.stages import Stage, grouped, lease_seconds, steps
from ferryman.engine.read.step import READS_A_GROUP, read_job, reads_at_once
from ferryman.model import Job
from ferryman.store.claimed import Claimed


async def _read(ctx: Context, job: Job) -> None:
    """One job's read; or, of a job whose input was fetched as one small file, up to
    ``READS_AT_ONCE`` such jobs read at once (more claimed while they are queued,
    at most ``READS_A_GROUP`` in all, then the next claim is in the queue's order
    again), each ended on its own: 200 links' photos read one after another waited on
    each read's store round trips in turn."""
    lease = await lease_seconds(ctx)
    at_once = await reads_at_once(ctx, job)
    claimed = 1

    async def claim(free: int) -> list[Job]:
        nonlocal claimed
        free = min(free, READS_A_GROUP - claimed)
        more = await ctx.read_store.claim_jobs(ctx.owner, lease, free, small=True) if free else []
        claimed += len(more)
        return more

    await grouped(
        ctx,
        "read",
        _read_one(ctx, job, lease),
        at_once=at_once,
        claim=claim,
        one=lambda more: _read_one(ctx, more, lease),
    )


async def _read_one(ctx: Context, job: Job, lease: float) -> None:
    if job.resumed:  # a turn given, a retry, a restart: the read goes on, once started
        ctx.bus.publish(JobResumed(job.id))
    else:
        shown = ctx.sources.describe(job.source)  # a link's token never reaches a log
        ctx.bus.publish(JobStarted(job.id, source=shown))
    async with held(ctx.read_store, Claimed.JOB, job.id, ctx.owner, lease, clock=ctx.clock):
        await read_job(ctx, job)
    ctx.wakeup.notify("deliver", "convert", "housekeeper")  # as its stage's step ends


STAGE = Stage[Job](
    "read",
    claims="a queued, unpaused job whose fetch (if any) is done, highest priority first"
    " (claim_job); read entry by entry, recorded with its cursor; jobs fetched as one"
    " small file, several at once a worker",
    woken_by="a fetch that ended, intake, a password or a retry (a notify for everyone)",
    wakes=("deliver", "convert", "housekeeper"),  # albums sealed, conversions deferred
    workers=lambda settings: settings.concurrency.read,
    open=steps(lambda ctx, lease: ctx.read_store.claim_job(ctx.owner, lease), _read),
)
