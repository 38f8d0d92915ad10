"""The deliver stage as one object per engine: it claims albums, sends each (``step``),
owns the look-ahead (``lookahead``: the next albums prepared while one is sent) and
chains the next claim into an album's record."""

from __future__ import annotations

import logging

from ferryman.engine.context import Context
from ferryman.engine.deliver import step
from ferryman.engine.deliver.lookahead import Lookahead
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.stages import NOTHING_NEXT, NothingNext, Stage, lease_seconds
from ferryman.model import AlbumClaim
from ferryman.store.claimed import Claimed

log = logging.getLogger(__name__)


class Delivering:
    """One engine's deliver stage, shared by its workers (``stages.Worker``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lookahead = Lookahead(ctx, step.prepare)

    async def claim(self, lease: float) -> AlbumClaim | None:
        """An album claimed ahead whose turn never came first (its delivery before failed
        unexpectedly), else the next sealed album."""
        unhandled = self.lookahead.take_unhandled()
        if unhandled is not None:
            return unhandled
        return await self.ctx.deliver_store.claim_delivery(self.ctx.owner, lease)

    async def step(self, claim: AlbumClaim) -> AlbumClaim | NothingNext | None:
        """Deliver the album; the next one, claimed ahead while it was sent, or as it
        is recorded (not while draining: a drained node takes nothing new)."""
        ctx = self.ctx
        lease = await lease_seconds(ctx)
        store, owner, album_id = ctx.deliver_store, ctx.owner, claim.album.id
        # Prepared (uploaded) ahead while the album before it was sent, if it was.
        place = await self.lookahead.place(album_id, lease)
        # Claimed a while ago (the album before it took long to tidy): renewed before
        # anything is sent, or left to whoever has it now.
        stale = claim.lease_until - store.clock() < lease / 2
        if stale and not await store.renew(Claimed.ALBUM, album_id, owner, lease):
            log.warning("deliver: album %s was taken back before it went", album_id)
            return None
        try:
            async with held(store, Claimed.ALBUM, album_id, owner, lease, clock=ctx.clock) as beat:
                sent = await step.send(ctx, claim, place)
                after: AlbumClaim | NothingNext | None = sent.next_claim
                if sent.done is not None:
                    ended = await step.keep_refused(ctx, claim, sent.done)
                    # Asked now, not at the claim: a drain may come during a delivery.
                    chain = not ctx.run.draining and sent.next_claim is None
                    # The heartbeat ends before the record: a renewal after it would
                    # find the album no longer ours and cancel this step.
                    await beat.stop()
                    chained = await step.record(ctx, claim, sent, ended, chain=chain)
                    if chain:  # none claimed ahead: the record's own claim, if any
                        after = NOTHING_NEXT if chained is None else chained
        except BaseException:
            place.abandoned()
            raise
        if sent.goes_again:  # failed, back in line: those claimed ahead wait behind it
            after = await self._behind_a_failure(claim, after)
        self._wake_if_last(claim)  # also after a failure: the job may end failed
        return after

    async def _behind_a_failure(
        self, claim: AlbumClaim, after: AlbumClaim | NothingNext | None
    ) -> AlbumClaim | NothingNext | None:
        """The albums of the failed album's job claimed ahead go back in line, so none
        leaves before it: the store's claim holds them there while it waits for its retry
        (a job's albums leave in its order). What the worker takes next, unless one of them."""
        job_id, seq = claim.album.job_id, claim.album.seq
        behind = await self.lookahead.hand_back(job_id, seq)
        if isinstance(after, AlbumClaim) and after.album.job_id == job_id and after.album.seq > seq:
            behind.append(after)
            after = None
        for ahead in behind:
            await self.ctx.deliver_store.album_hand_back(ahead.album.id, self.ctx.owner)
        return after

    def _wake_if_last(self, claim: AlbumClaim) -> None:
        """The job may end with this album: the housekeeper looks at once."""
        read = claim.final or claim.album.job_id in self.ctx.run.read_ended
        if read and claim.album.seq >= claim.albums:  # the last it knew of
            self.ctx.wakeup.notify("last", "housekeeper")

    async def close(self) -> None:
        """Every preparation ahead under way stops (the engine stops)."""
        await self.lookahead.close()


STAGE = Stage[AlbumClaim](
    "deliver",
    claims="a sealed album, in order, with its items and its job (claim_delivery);"
    " the next one chained in its record's transaction, or claimed ahead once this"
    " one is prepared at a sink that prepares (engine/deliver/lookahead)",
    woken_by="a batch, a read's end, a password wait, a conversion or the housekeeper"
    " that sealed albums",
    # "backlog": a read waiting for deliveries to free its backlog. Not "convert":
    # conversions wait until nothing deliverable is left (a claim after every album
    # cost a tenth of a photo's time); a worker that found no album next tells them.
    wakes=("backlog", "housekeeper"),
    workers=lambda settings: settings.concurrency.deliver,
    open=Delivering,
    dry_wakes=("convert",),
)
