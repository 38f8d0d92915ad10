"""Fair turns between jobs: where a queued job stands in line (and why it waits), and
whether a read that must wait for room should let a job further behind be read first.

The claims' order itself (``base._BEHIND_FIRST``) puts the row furthest behind in its job
first; these queries read the same order back for people and for the unpack stage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, text

from ferryman.model import JobState
from ferryman.store.fetches.sql import unfinished_fetch
from ferryman.store.jobs import queue_sql
from ferryman.store.schema import jobs
from ferryman.store.sql.base import StoreBase


def _readable(now: float) -> list[Any]:
    """A queued job the unpack stage could claim now (``claim_job``'s conditions)."""
    return [
        jobs.c.state == JobState.QUEUED.value,
        jobs.c.paused.is_(False),
        jobs.c.not_before <= now,
        ~unfinished_fetch(),
    ]


class QueuePlaceQueries(StoreBase):
    """Places in line, and a read giving way to a job further behind."""

    async def queue_places(self) -> dict[int, dict[str, Any]]:
        """Per queued job that waits only for its turn: ``{"reason": "downloads" or
        "reading", "ahead": N}`` (``queue_sql.places_of``). A job waiting for something else
        (a retry's pause, a pause, Wi-Fi) has its own reason and no place until that
        wait is over. The SQL is ``store/jobs/queue_sql``'s, which the light store runs too."""
        now = {"now": self.clock()}
        async with self.reader.connect() as conn:
            in_fetch = (await conn.execute(text(queue_sql.FETCH_LINE), now)).all()
            reading = int((await conn.execute(text(queue_sql.BUSY_READS))).scalar_one())
            to_read = list((await conn.execute(text(queue_sql.READ_LINE), now)).scalars())
        return queue_sql.places_of([(r.job_id, r.state) for r in in_fetch], reading, to_read)

    async def read_waits_behind(self, job_id: int) -> bool:
        """Another job could be read now that is further behind than this one (fewer
        entries read at the same priority, or a higher priority): a read waiting for
        room gives it its turn rather than hold the unpack stage idle."""
        me = jobs.alias("me")
        query = select(
            select(jobs.c.id)
            .where(
                *_readable(self.clock()),
                jobs.c.id != job_id,
                me.c.id == job_id,
                or_(
                    jobs.c.priority > me.c.priority,
                    and_(jobs.c.priority == me.c.priority, jobs.c.cursor < me.c.cursor),
                ),
            )
            .exists()
        )
        async with self.reader.connect() as conn:
            return bool((await conn.execute(query)).scalar())

    async def give_way(self, job_id: int, owner: str) -> None:
        """Back in the queue, where its read resumes after the last recorded entry (as
        after a stop): not an attempt, no wait shown."""
        async with self.engine.begin() as conn:
            values = {
                "state": JobState.QUEUED.value,
                "owner": None,
                "lease_until": None,
                "wait_reason": None,
                "blocked": False,
                "updated_at": self.clock(),
            }
            await self._update_owned(conn, jobs, job_id, owner, values)
