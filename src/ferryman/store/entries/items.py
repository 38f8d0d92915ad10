"""Item queries: conversions are claimed only when no deliverable work waits."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BindParameter,
    Float,
    FromClause,
    Integer,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)

from ferryman.errors import FerrymanError
from ferryman.model import (
    ENCODED_PLANS,
    AlbumState,
    Item,
    ItemState,
    JobState,
)
from ferryman.store.fetches.sql import input_over_network
from ferryman.store.schema import albums, items, jobs, segments
from ferryman.store.shared.rows import (
    LeaseLost,
    NewItem,
    ended_item,
    item_from_row,
)
from ferryman.store.sql import statements
from ferryman.store.sql.base import StoreBase


def _filling_at_network_pace(ready: FromClause) -> Any:
    """``ready``'s item waits in an album still filling from a read at the network's
    pace: it moves when more entries arrive, not now (a read waiting for room is
    ``blocked``, and its partial albums go at once)."""
    return exists().where(
        jobs.c.id == ready.c.job_id,
        jobs.c.read_done.is_(False),
        jobs.c.blocked.is_(False),
        input_over_network(),
    )


class ItemQueries(StoreBase):
    """Items: deferred conversions and their outcomes."""

    # --------------------------------------------------------------- items

    async def claim_conversion(self, owner: str, lease_seconds: float) -> Item | None:
        """A deferred item, but only while no deliverable work waits anywhere."""
        if await self._none_ready(items, ItemState.CONVERT):
            return None
        row = await self._claim(
            items,
            ItemState.CONVERT,
            ItemState.CONVERTING,
            owner,
            lease_seconds,
            lambda: [self._job_runs(items), ~self._deliverable_work()],
        )
        return item_from_row(row) if row is not None else None

    def _deliverable_work(self) -> Any:
        """Anything that could move before a conversion: an album being delivered or
        ready, an item ready for an album, a job read (or readable) at the disk's
        pace. A job whose input is still downloading, waits out a retry's backoff, or
        is read as it streams from a server is none of these (nor are its items that
        wait for the album they fill): counted, a local clip's encode waited for an
        unrelated download's end (or a dead link's last retry), with the converter
        idle all along. Nor are the ready items of a job with a conversion to come: their
        album may wait for it (``rules.sealing``), and counted, that wait held the very
        conversion it waits for."""
        now: BindParameter[float] = bindparam("claim_now", type_=Float)
        ready = items.alias("ready_items")
        encoding = items.alias("encoding_items")
        return or_(
            exists().where(
                albums.c.state == AlbumState.DELIVERING.value,
            ),
            exists().where(
                albums.c.state == AlbumState.SEALED.value,
                albums.c.not_before <= now,
                self._job_runs(albums),
            ),
            # an alias, so this never correlates to the item being claimed; converted items
            # waiting for their group's other conversions are not work that could move
            exists().where(
                ready.c.state == ItemState.READY.value,
                ready.c.plan.not_in([p.value for p in ENCODED_PLANS]),
                self._job_runs(ready),
                ~_filling_at_network_pace(ready),
                ~exists().where(
                    encoding.c.job_id == ready.c.job_id,
                    encoding.c.state.in_([ItemState.CONVERT.value, ItemState.CONVERTING.value]),
                ),
            ),
            exists().where(
                jobs.c.state.in_([JobState.QUEUED.value, JobState.READING.value]),
                jobs.c.paused.is_(False),
                jobs.c.blocked.is_(False),
                jobs.c.not_before <= now,
                ~input_over_network(),
            ),
        )

    async def item_ready(self, item_id: int, owner: str, fixed: NewItem, action: str) -> None:
        """A conversion finished: the item carries ``fixed``'s files from now on."""
        async with self._write() as conn:
            actions_row = await conn.execute(
                select(items.c.actions).where(items.c.id == item_id, items.c.owner == owner)
            )
            found = actions_row.first()
            if found is None:
                raise LeaseLost(f"item {item_id}")
            actions = [*json.loads(found.actions or "[]"), action, *fixed.actions]
            columns = fixed.media_columns()
            columns.pop("source_size")  # as read from the input: set once, never changed
            columns.pop("work_seconds")  # added to, below
            await conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    **columns,
                    work_seconds=items.c.work_seconds + fixed.work_seconds,
                    state=fixed.state.value,
                    kind=fixed.kind.value,
                    reason=fixed.reason,
                    actions=json.dumps(actions),
                    owner=None,
                    lease_until=None,
                    error_code=None,
                    error_message=None,
                    updated_at=self.clock(),
                )
            )

    async def part_done(self, item_id: int, owner: str, part: int) -> None:
        """Record one finished part of a resumable transcode (its file is already safe).

        Recorded only while ``owner`` holds the item, so a worker that lost its lease
        cannot vouch for files another worker may be rewriting. A part reported again
        (its file was lost and redone) counts up ``reports``.
        """
        now = self.clock()
        async with self._write() as conn:
            await self._update_owned(conn, items, item_id, owner, {"updated_at": now})
            again = await conn.execute(
                update(segments)
                .where(segments.c.item_id == item_id, segments.c.part == part)
                .values(reports=segments.c.reports + 1, updated_at=now)
            )
            if again.rowcount == 0:
                await conn.execute(
                    insert(segments).values(
                        item_id=item_id, part=part, reports=1, created_at=now, updated_at=now
                    )
                )

    async def forget_parts(self, item_id: int, owner: str) -> None:
        """Drop an item's recorded parts (they failed to join): the next attempt starts over."""
        async with self._write() as conn:
            await self._update_owned(conn, items, item_id, owner, {"updated_at": self.clock()})
            await conn.execute(delete(segments).where(segments.c.item_id == item_id))

    async def part_history(self, item_id: int) -> dict[int, int]:
        """Each recorded part of an item's transcode (what a restart need not redo) and
        how often it was reported done."""
        found = await self._read(_PARTS, {"item_id": item_id})
        return {row.part: row.reports for row in found}

    async def item_retry(
        self, item_id: int, owner: str, error: FerrymanError, delay: float
    ) -> None:
        extra = {
            "error_code": error.code,
            "error_message": error.message,
            "updated_at": self.clock(),
        }
        await self._retry_later(items, item_id, owner, ItemState.CONVERT.value, delay, extra)

    async def item_final(
        self,
        item_id: int,
        state: ItemState,
        error: FerrymanError,
        *,
        owner: str | None = None,
        work_path: str | None = None,
    ) -> None:
        """End an item that cannot be delivered (quarantined or failed), with its reason."""
        cond = [items.c.id == item_id] + ([items.c.owner == owner] if owner else [])
        async with self._write() as conn:
            await conn.execute(
                update(items)
                .where(*cond)
                .values(**ended_item(state, error, self.clock(), work_path))
            )

    async def job_items(self, job_id: int) -> list[Item]:
        return [item_from_row(r) for r in await self._read(_JOB_ITEMS, {"job_id": job_id})]

    async def work_paths(self) -> set[str]:
        """Files the store still needs in the work area (any non-terminal item's)."""
        found = await self._read(_LIVE_ITEMS)
        return {p for row in found for p in item_from_row(row).work_files}


_PARTS = select(segments.c.part, segments.c.reports).where(
    segments.c.item_id == bindparam("item_id", type_=Integer)
)
_JOB_ITEMS = select(items).where(items.c.job_id == statements.JOB_ID).order_by(items.c.seq)
_LIVE_ITEMS = select(items).where(items.c.state.in_([s.value for s in ItemState if not s.terminal]))
