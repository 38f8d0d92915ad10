"""Telegram delivery state: media references, planned sends with their ``random_id``s, waits.

The order of writes is what makes a send exactly-once: ``random_id``s are stored before
the first request, message ids after the answer. A crash in between repeats the send
with the same ``random_id``s, and Telegram answers with the first send's messages.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from ferryman.store.base import StoreBase
from ferryman.store.schema import tg_media, tg_sends, tg_waits


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """One message of an album: which file, under which ``random_id``, and what came of it."""

    album_id: int
    slot: int
    item_id: int
    part: int
    random_id: int
    state: str  # pending | sent | dropped
    message_id: int | None


@dataclass(frozen=True, slots=True)
class MediaRef:
    media: str  # base64 of the TL InputMedia
    family: str  # visual | document | audio


def new_random_id() -> int:
    """A nonzero signed 64-bit id, as MTProto's ``random_id`` is."""
    while True:
        value = secrets.randbits(64) - 2**63
        if value:
            return value


class TelegramQueries(StoreBase):
    # ------------------------------------------------------------- media refs

    async def tg_media(self, item_id: int) -> dict[int, MediaRef]:
        async with self.reader.connect() as conn:
            rows = (await conn.execute(select(tg_media).where(tg_media.c.item_id == item_id))).all()
        return {r.part: MediaRef(r.media, r.family) for r in rows}

    async def tg_media_put(self, item_id: int, part: int, ref: MediaRef) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(tg_media).where(tg_media.c.item_id == item_id, tg_media.c.part == part)
            )
            await conn.execute(
                insert(tg_media).values(
                    item_id=item_id,
                    part=part,
                    media=ref.media,
                    family=ref.family,
                    created_at=self.clock(),
                )
            )

    async def tg_media_forget(self, item_id: int, part: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(tg_media).where(tg_media.c.item_id == item_id, tg_media.c.part == part)
            )

    # ------------------------------------------------------------------ sends

    async def tg_plan_sends(
        self, album_id: int, slots: Sequence[tuple[int, int]]
    ) -> list[PlannedSend]:
        """The album's sends, creating (once) a ``random_id`` for each (item, part) slot."""
        async with self.engine.begin() as conn:
            have = {
                r.slot
                for r in (
                    await conn.execute(
                        select(tg_sends.c.slot).where(tg_sends.c.album_id == album_id)
                    )
                ).all()
            }
            now = self.clock()
            for slot, (item_id, part) in enumerate(slots):
                if slot in have:
                    continue
                await conn.execute(
                    insert(tg_sends).values(
                        album_id=album_id,
                        slot=slot,
                        item_id=item_id,
                        part=part,
                        random_id=new_random_id(),
                        state="pending",
                        updated_at=now,
                    )
                )
        return await self.tg_sends(album_id)

    async def tg_sends(self, album_id: int) -> list[PlannedSend]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(tg_sends)
                    .where(tg_sends.c.album_id == album_id)
                    .order_by(tg_sends.c.slot)
                )
            ).all()
        return [
            PlannedSend(r.album_id, r.slot, r.item_id, r.part, r.random_id, r.state, r.message_id)
            for r in rows
        ]

    async def tg_sent(self, album_id: int, message_ids: dict[int, int], peer: str) -> None:
        """Record the messages Telegram made, by slot, in one transaction."""
        now = self.clock()
        async with self.engine.begin() as conn:
            for slot, message_id in message_ids.items():
                await conn.execute(
                    update(tg_sends)
                    .where(tg_sends.c.album_id == album_id, tg_sends.c.slot == slot)
                    .values(state="sent", message_id=message_id, peer=peer, updated_at=now)
                )

    async def tg_drop(self, album_id: int, slot: int, item_id: int, part: int) -> None:
        """Telegram refused this file in any form: the album goes on without it, and its
        media reference (if one was made) goes with it."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(tg_media).where(tg_media.c.item_id == item_id, tg_media.c.part == part)
            )
            await conn.execute(
                update(tg_sends)
                .where(tg_sends.c.album_id == album_id, tg_sends.c.slot == slot)
                .values(state="dropped", updated_at=self.clock())
            )

    async def tg_messages(self, item_id: int) -> list[int]:
        """The message ids an item became (several for a split video)."""
        async with self.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(tg_sends.c.message_id)
                    .where(tg_sends.c.item_id == item_id, tg_sends.c.state == "sent")
                    .order_by(tg_sends.c.part)
                )
            ).all()
        return [int(r.message_id) for r in rows]

    # ------------------------------------------------------------------ waits

    async def tg_wait_until(self, scopes: Sequence[str]) -> float:
        """The latest ``not_before`` among these scopes (0 when none is set)."""
        async with self.engine.connect() as conn:
            found = (
                (
                    await conn.execute(
                        select(tg_waits.c.not_before).where(tg_waits.c.scope.in_(list(scopes)))
                    )
                )
                .scalars()
                .all()
            )
        return max(found, default=0.0)

    async def tg_wait_set(self, scope: str, not_before: float, reason: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(tg_waits).where(tg_waits.c.scope == scope))
            await conn.execute(
                insert(tg_waits).values(
                    scope=scope, not_before=not_before, reason=reason, updated_at=self.clock()
                )
            )
