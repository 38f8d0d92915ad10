"""The convert stage's row of the pipeline and its step: one deferred item converted
under its lease."""

from __future__ import annotations

from ferryman.engine.context import Context
from ferryman.engine.convert.step import convert
from ferryman.engine.plumbing.events import ItemConverting
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.stages import Stage, lease_seconds, steps
from ferryman.model import Item
from ferryman.store.claimed import Claimed


async def _convert(ctx: Context, item: Item) -> None:
    ctx.bus.publish(ItemConverting(item.job_id, item.id, path=item.source_path))
    lease = await lease_seconds(ctx)
    async with held(ctx.convert_store, Claimed.ITEM, item.id, ctx.owner, lease, clock=ctx.clock):
        await convert(ctx, item)


STAGE = Stage[Item](
    "convert",
    claims="an item deferred for a transcode, only while no deliverable work waits"
    " (claim_conversion)",
    woken_by="a batch that deferred an item; a deliverer that found no album next"
    " (the quiet moment); its poll",
    # A conversion that failed frees room and may let a partial album go (the full
    # round seals it): everyone, as conversions are few. Its own seal wakes deliver.
    wakes=(),
    workers=lambda settings: settings.concurrency.convert,
    open=steps(lambda ctx, lease: ctx.convert_store.claim_conversion(ctx.owner, lease), _convert),
)
