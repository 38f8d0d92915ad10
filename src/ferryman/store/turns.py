"""Fair turns between jobs: where a queued job stands in line (and why it waits), and
whether a read that must wait for room should let a job further behind be read first.

The claims' order itself (``base._TURNS``) puts the row furthest behind in its job
first; these queries read the same order back for people and for the unpack stage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select

from ferryman.model import JobState
from ferryman.store.base import StoreBase
from ferryman.store.fetches import FETCHING, QUEUED, unfinished_fetch
from ferryman.store.schema import fetches, jobs

DOWNLOADS, READING = "downloads", "reading"


def _readable(now: float) -> list[Any]:
    """A queued job the unpack stage could claim now (``claim_job``'s conditions)."""
    return [
        jobs.c.state == JobState.QUEUED.value,
        jobs.c.paused.is_(False),
        jobs.c.not_before <= now,
        ~unfinished_fetch(),
    ]


class TurnQueries(StoreBase):
    """Places in line, and the unpack stage's turn-taking."""

    async def queue_places(self) -> dict[int, dict[str, Any]]:
        """Per queued job that waits only for its turn: ``{"reason": "downloads" or
        "reading", "ahead": N}``, N being the units in progress in that stage plus those
        before it in line (claim order). A job waiting for something else (a retry's
        pause, a pause, Wi-Fi) has its own reason and no place until that wait is over."""
        now = self.clock()
        fetch_line = (
            select(fetches.c.job_id, fetches.c.state)
            .join(jobs, jobs.c.id == fetches.c.job_id)
            .where(
                jobs.c.paused.is_(False),
                jobs.c.state == JobState.QUEUED.value,
                or_(
                    fetches.c.state == FETCHING,
                    and_(fetches.c.state == QUEUED, fetches.c.not_before <= now),
                ),
            )
            .order_by(fetches.c.priority.desc(), fetches.c.id)
        )
        busy_reads = select(func.count()).where(jobs.c.state == JobState.EXPANDING.value)
        read_line = (
            select(jobs.c.id)
            .where(*_readable(now))
            .order_by(jobs.c.priority.desc(), jobs.c.cursor, jobs.c.id)
        )
        async with self.reader.connect() as conn:
            in_fetch = (await conn.execute(fetch_line)).all()
            reading = int((await conn.execute(busy_reads)).scalar_one())
            to_read = list((await conn.execute(read_line)).scalars())
        places: dict[int, dict[str, Any]] = {}
        downloading = sum(1 for row in in_fetch if row.state == FETCHING)
        for place, row in enumerate(r for r in in_fetch if r.state == QUEUED):
            places[row.job_id] = {"reason": DOWNLOADS, "ahead": downloading + place}
        for place, job_id in enumerate(to_read):
            places[job_id] = {"reason": READING, "ahead": reading + place}
        return places

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

    async def give_turn(self, job_id: int, owner: str) -> None:
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
