"""The notices' outbox: written when an event happens, sent by the engine's notifier.

A notice is one row per target URL. The notifier claims due rows with a lease (like
every other claimed unit of work; ``reap`` hands back those of a node that died), and
on a failed delivery hands them back with a growing wait, or gives up after the tries
it is allowed. A job's end may go out in a digest: claiming one such row also claims the
others for the same URL that fall due within the digest's window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from ferryman.store.base import StoreBase
from ferryman.store.schema import jobs, notices

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    kind: str
    url: str
    job_id: int | None
    watch_id: int | None
    digest: bool
    payload: dict[str, Any]
    state: str
    attempts: int
    error_message: str | None
    created_at: float
    sent_at: float | None


def _notice(row: Any) -> Notice:
    return Notice(
        id=row.id,
        kind=row.kind,
        url=row.url,
        job_id=row.job_id,
        watch_id=row.watch_id,
        digest=bool(row.digest),
        payload=json.loads(row.payload),
        state=row.state,
        attempts=row.attempts,
        error_message=row.error_message,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


class NoticeQueries(StoreBase):
    async def add_notices(
        self,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        job_id: int | None = None,
        watch_id: int | None = None,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int]:
        """One queued notice per URL, due after ``delay`` seconds (a digest's window)."""
        now = self.clock()
        made: list[int] = []
        async with self.engine.begin() as conn:
            for url in urls:
                row = await conn.execute(
                    insert(notices)
                    .values(
                        kind=kind,
                        url=url,
                        job_id=job_id,
                        watch_id=watch_id,
                        digest=1 if digest else 0,
                        payload=json.dumps(payload),
                        state=QUEUED,
                        priority=0,
                        created_at=now,
                        attempts=0,
                        not_before=now + delay,
                    )
                    .returning(notices.c.id)
                )
                made.append(row.scalar_one())
        return made

    async def claim_notices(
        self, owner: str, lease_seconds: float, digest_seconds: float
    ) -> list[Notice]:
        """The first due notice, with (for a job's end) the other job ends to the same
        URL due within ``digest_seconds`` from now; [] when none is due."""
        async with self.engine.begin() as conn:
            first = await self._claim_in(conn, notices, QUEUED, SENDING, owner, lease_seconds)
            if first is None:
                return []
            claimed = [_notice(first)]
            if first.digest and digest_seconds > 0:
                now = self.clock()
                more = (
                    update(notices)
                    .where(
                        notices.c.state == QUEUED,
                        notices.c.digest == 1,
                        notices.c.url == first.url,
                        notices.c.not_before <= now + digest_seconds,
                    )
                    .values(state=SENDING, owner=owner, lease_until=now + lease_seconds)
                    .returning(*notices.c)
                )
                claimed += [_notice(r) for r in (await conn.execute(more)).all()]
            return sorted(claimed, key=lambda n: n.id)

    async def notices_sent(self, ids: Sequence[int], owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.id.in_(ids), notices.c.owner == owner)
                .values(state=SENT, sent_at=self.clock(), owner=None, lease_until=None)
            )

    async def notices_failed(
        self,
        ids: Sequence[int],
        owner: str,
        message: str,
        delay: float,
        *,
        give_up: bool,
        count: bool = True,
    ) -> None:
        """A delivery failed: due again after ``delay``, or given up (``failed``).
        ``count=False``: not tried, only handed back (its error kept)."""
        values: dict[str, Any] = {
            "state": FAILED if give_up else QUEUED,
            "not_before": self.clock() + delay,
            "owner": None,
            "lease_until": None,
        }
        if count:
            values |= {"error_message": message[:2000], "attempts": notices.c.attempts + 1}
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.id.in_(ids), notices.c.owner == owner)
                .values(**values)
            )

    async def notices_due_now(self, within: float) -> int:
        """Job ends waiting out a digest's window (never tried) are due now: a stopping
        engine sends them instead of leaving them to the next run."""
        now = self.clock()
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(notices)
                .where(
                    notices.c.state == QUEUED,
                    notices.c.digest == 1,
                    notices.c.attempts == 0,
                    notices.c.not_before <= now + within,
                )
                .values(not_before=now)
            )
            return done.rowcount

    async def list_notices(self, state: str | None = None) -> list[Notice]:
        query = select(notices).order_by(notices.c.id)
        if state is not None:
            query = query.where(notices.c.state == state)
        async with self.reader.connect() as conn:
            return [_notice(r) for r in (await conn.execute(query)).all()]

    async def job_notify(self, job_id: int) -> str | None:
        """The job's own notice targets (``--notify``), or None: the settings'."""
        async with self.reader.connect() as conn:
            found = await conn.execute(select(jobs.c.notify).where(jobs.c.id == job_id))
            value: str | None = found.scalar()
            return value

    async def forget_sent_notices(self, before: float) -> int:
        """Sent notices older than ``before`` go (the outbox is not a history)."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                delete(notices).where(notices.c.state == SENT, notices.c.sent_at < before)
            )
            return done.rowcount
