"""The fetch stage's row of the pipeline and its step: one fetch, or a group of them
that share a source's connections."""

from __future__ import annotations

import asyncio

from ferryman.engine.context import Context
from ferryman.engine.fetch.step import drop_if_cancelled, fetch, pooled, settle
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.stages import Stage, grouped, lease_seconds, steps, until_stopped
from ferryman.store.claimed import Claimed
from ferryman.store.fetches.sql import Fetch


async def _fetch(ctx: Context, claimed: Fetch) -> None:
    """One fetch; or, of a source whose fetches share its connections (``Pooled``:
    Telegram's), up to its ``fetches_at_once``: more of its schemes are claimed as
    long as they are queued, each settled as it ends, so 200 links go 48 at a time
    through one pool instead of one a worker."""
    at_once, schemes = await pooled(ctx, claimed)
    lease = await lease_seconds(ctx)
    await grouped(
        ctx,
        "fetch",
        _fetch_one(ctx, claimed, lease),
        at_once=at_once,
        claim=lambda free: ctx.fetch_store.claim_fetches(ctx.owner, lease, free, schemes),
        one=lambda more: _fetch_one(ctx, more, lease),
    )


async def _fetch_one(ctx: Context, claimed: Fetch, lease: float) -> None:
    try:
        async with held(ctx.fetch_store, Claimed.FETCH, claimed.id, ctx.owner, lease, ctx.wakeup):
            outcome = await until_stopped(ctx, fetch(ctx, claimed))
        await settle(ctx, claimed, outcome)
        ctx.wakeup.notify("read", "housekeeper")  # as its stage's step ends (the group goes on)
    except asyncio.CancelledError:
        if not ctx.stopping.is_set():  # the lease was taken: a cancel, most likely
            await drop_if_cancelled(ctx, claimed)
        raise


STAGE = Stage[Fetch](
    "fetch",
    claims="a queued fetch of a running job: its input, downloaded first (claim_fetch);"
    " t.me links, which share one pool of connections (`Pooled`), several at once a worker",
    woken_by="intake (an add, a watch's check, a wake-up from another process), a retry",
    wakes=("read", "housekeeper"),  # the job's input is here; or the fetch failed it
    workers=lambda settings: settings.concurrency.fetch,
    open=steps(lambda ctx, lease: ctx.fetch_store.claim_fetch(ctx.owner, lease), _fetch),
)
