"""Item queries: conversions are claimed only when no deliverable work waits."""

from __future__ import annotations

import json

from sqlalchemy import (
    exists,
    or_,
    select,
    update,
)

from ferryman.errors import FerrymanError
from ferryman.model import (
    AlbumState,
    Item,
    ItemState,
    JobState,
    MediaInfo,
)
from ferryman.store.base import StoreBase
from ferryman.store.rows import (
    LeaseLost,
    item_from_row,
)
from ferryman.store.schema import albums, items, jobs


class ItemQueries(StoreBase):
    """Items: deferred conversions and their outcomes."""

    # --------------------------------------------------------------- items

    async def claim_conversion(self, owner: str, lease_seconds: float) -> Item | None:
        """A deferred item, but only while no deliverable work waits anywhere."""
        now = self.clock()
        ready = items.alias("ready_items")
        busy = or_(
            exists().where(
                albums.c.state == AlbumState.DELIVERING.value,
            ),
            exists().where(
                albums.c.state == AlbumState.SEALED.value,
                albums.c.not_before <= now,
                self._job_runs(albums),
            ),
            # an alias, so this never correlates to the item being claimed
            exists().where(ready.c.state == ItemState.READY.value, self._job_runs(ready)),
            exists().where(
                jobs.c.state.in_([JobState.QUEUED.value, JobState.EXPANDING.value]),
                jobs.c.paused.is_(False),
                jobs.c.blocked.is_(False),
                jobs.c.not_before <= now,
            ),
        )
        row = await self._claim(
            items,
            ItemState.CONVERT,
            ItemState.CONVERTING,
            owner,
            lease_seconds,
            [self._job_runs(items), ~busy],
        )
        return item_from_row(row) if row is not None else None

    async def item_ready(
        self,
        item_id: int,
        owner: str,
        *,
        work_path: str,
        size: int,
        sha256: str,
        media: MediaInfo | None,
        action: str,
        original_path: str | None,
    ) -> None:
        """A conversion finished: the item carries its new file from now on."""
        async with self.engine.begin() as conn:
            actions_row = await conn.execute(
                select(items.c.actions).where(items.c.id == item_id, items.c.owner == owner)
            )
            found = actions_row.first()
            if found is None:
                raise LeaseLost(f"item {item_id}")
            actions = [*json.loads(found.actions or "[]"), action]
            await conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    state=ItemState.READY.value,
                    work_path=work_path,
                    original_path=original_path,
                    size=size,
                    sha256=sha256,
                    media=json.dumps(media.to_json()) if media else None,
                    actions=json.dumps(actions),
                    owner=None,
                    lease_until=None,
                    error_code=None,
                    error_message=None,
                    updated_at=self.clock(),
                )
            )

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
        async with self.engine.begin() as conn:
            await conn.execute(
                update(items)
                .where(*cond)
                .values(
                    state=state.value,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                    reason=error.code,
                    work_path=work_path,
                    updated_at=self.clock(),
                )
            )

    async def job_items(self, job_id: int) -> list[Item]:
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(items).where(items.c.job_id == job_id).order_by(items.c.seq)
                )
            ).all()
        return [item_from_row(r) for r in rows]

    async def work_paths(self) -> set[str]:
        """Files the store still needs in the work area (any non-terminal item's)."""
        live = [s.value for s in ItemState if not s.terminal]
        async with self.reader.connect() as conn:
            found = await conn.execute(
                select(items.c.work_path).where(
                    items.c.state.in_(live), items.c.work_path.is_not(None)
                )
            )
            return {p for p in found.scalars() if p}
