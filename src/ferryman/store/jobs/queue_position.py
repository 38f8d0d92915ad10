"""Fair turns between jobs: where a queued job stands in line (and why it waits), and
whether a read that must wait for room should let a job further behind be read first.

The claims' order itself (``base._BEHIND_FIRST``) puts the row furthest behind in its job
first; these queries read the same order back for people and for the unpack stage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, and_, bindparam, column, or_, select, text

from ferryman.model import JobState
from ferryman.store.fetches.sql import unfinished_fetch
from ferryman.store.jobs import queue_sql
from ferryman.store.schema import jobs
from ferryman.store.sql.base import StoreBase


def _readable(now: Any) -> list[Any]:
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
        in_fetch, reading, to_read = await self._snapshot(
            (_FETCH_LINE, now), (_BUSY_READS, {}), (_READ_LINE, now)
        )
        return queue_sql.places_of(
            [(r.job_id, r.state) for r in in_fetch], int(reading[0][0]), [r[0] for r in to_read]
        )

    async def read_waits_behind(self, job_id: int) -> bool:
        """Another job could be read now that is further behind than this one (fewer
        entries read at the same priority, or a higher priority): a read waiting for
        room gives it its turn rather than hold the unpack stage idle."""
        found = await self._read(_FURTHER_BEHIND, {"job_id": job_id, "now": self.clock()})
        return bool(found[0][0])

    async def give_way(self, job_id: int, owner: str) -> None:
        """Back in the queue, where its read resumes after the last recorded entry (as
        after a stop): not an attempt, no wait shown."""
        async with self._write() as conn:
            values = {
                "state": JobState.QUEUED.value,
                "owner": None,
                "lease_until": None,
                "wait_reason": None,
                "blocked": False,
                "updated_at": self.clock(),
            }
            await self._update_owned(conn, jobs, job_id, owner, values)


# ``queue_places``' reads: ``queue_sql``'s text, its columns named (``_read``'s rows).
_NOW = bindparam("now", type_=Float)
_FETCH_LINE = (
    text(queue_sql.FETCH_LINE)
    .bindparams(_NOW)
    .columns(column("job_id", Integer), column("state", String))
)
_BUSY_READS = text(queue_sql.BUSY_READS).columns(column("n", Integer))
_READ_LINE = text(queue_sql.READ_LINE).bindparams(_NOW).columns(column("id", Integer))

_ME = jobs.alias("me")
_JOB_ID = bindparam("job_id", type_=Integer)
# ``read_waits_behind``: a job other than ``job_id`` readable now, further behind.
_FURTHER_BEHIND = select(
    select(jobs.c.id)
    .where(
        *_readable(_NOW),
        jobs.c.id != _JOB_ID,
        _ME.c.id == _JOB_ID,
        or_(
            jobs.c.priority > _ME.c.priority,
            and_(jobs.c.priority == _ME.c.priority, jobs.c.cursor < _ME.c.cursor),
        ),
    )
    .exists()
)
