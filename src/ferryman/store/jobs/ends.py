"""Housekeeping of ended jobs: finishing jobs whose items are all terminal, with their
items' code, and settling ended jobs whose work folders can go.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import (
    Float,
    String,
    and_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ferryman.errors import FerrymanError
from ferryman.model import (
    AlbumState,
    ItemState,
    JobState,
)
from ferryman.rules.outcomes import OUTCOME_STATES, ItemFact, job_outcome
from ferryman.store.notices.sql import JOB_ENDED, record_event
from ferryman.store.schema import (
    albums,
    items,
    jobs,
)
from ferryman.store.shared.rows import (
    TERMINAL_STATES,
)
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.sql.base import StoreBase, store_summary


class JobEndQueries(StoreBase):
    """How a job ends (its summary, its code) and when its folder can go."""

    async def finish_jobs(self) -> list[int]:
        """End every job read to its end whose items are all terminal; returns the ids of those
        this call ended (several nodes' housekeepers look at once: each job is ended once).

        Looked for on a read first: this runs in every housekeeping round, and a write
        transaction would wait for (and hold up) the stages' writes."""
        if not await self._read(statements.FINISHABLE_JOBS):
            return []
        return await self._transaction(_finish_in, self.clock())

    async def housekeeping_state(self) -> HousekeepingState:
        """A housekeeping round's reads, in one connection (one hop on SQLite): is a job
        ready to end (``finish_jobs`` then ends it), and is everything idle (watches
        first, as ``watches_idle`` and ``idle`` are asked). Three connections a round
        were a tenth of the pipeline benchmark's connections, each closed in a task."""
        finishable, watches, busy = await self._snapshot(
            (statements.FINISHABLE_JOBS, {}),
            (statements.WATCHES_BUSY, {"now": self.clock()}),
            (statements.BUSY_JOBS, {}),
        )
        return HousekeepingState(bool(finishable), int(watches[0][0]) == 0 and int(busy[0][0]) == 0)

    async def settle_ended(self, job_ids: Collection[int], grace: float) -> list[int]:
        """Of ``job_ids``, the ended jobs no step works on any more: their work folders
        can go. "No more" means nothing of the job is leased and it ended ``grace``
        seconds ago (a lease's length: by then every heartbeat has stopped its step).

        A cancel lets the album being delivered finish. If that delivery failed (or a
        restart handed it back), its items are cancelled now, whether or not a folder
        is left, and every settled cancelled job's summary counts what went out.
        """
        now = self.clock()
        candidates = list(job_ids)
        found = await self._read(_SETTLEABLE, {"job_ids": candidates, "ended_by": now - grace})
        cancelled = [job_id for job_id, state in found if state == JobState.CANCELLED.value]
        if cancelled:
            await self._settle_cancelled(cancelled, now - grace)
        wanted = set(candidates)
        return [job_id for job_id, _ in found if job_id in wanted]

    async def _settle_cancelled(self, job_ids: list[int], ended_by: float) -> None:
        now = self.clock()
        async with self._write() as conn:
            # Checked again under lock: a retry in between makes the job live again.
            still = (
                (
                    await conn.execute(
                        select(jobs.c.id)
                        .where(jobs.c.id.in_(job_ids), *_quiet(ended_by))
                        .where(jobs.c.state == JobState.CANCELLED.value)
                        .with_for_update()
                    )
                )
                .scalars()
                .all()
            )
            if not still:
                return
            strays = await conn.execute(
                update(items)
                .where(
                    items.c.job_id.in_(still),
                    items.c.state.not_in(TERMINAL_STATES),
                    items.c.owner.is_(None),
                )
                .values(state=ItemState.CANCELLED.value, reason="job.cancelled", updated_at=now)
            )
            if strays.rowcount:
                await conn.execute(
                    update(albums)
                    .where(albums.c.job_id.in_(still), albums.c.state == AlbumState.SEALED.value)
                    .values(state=AlbumState.FAILED.value, error_code="job.cancelled")
                )
            for job_id in still:  # an album delivered after the cancel counts
                await self._store_summary(conn, job_id, now)


def _quiet(ended_by: Any) -> list[Any]:
    """Conditions on ``jobs``: ended by ``ended_by`` and nothing of it leased."""
    ended = [JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value]
    busy_album = exists().where(albums.c.job_id == jobs.c.id, albums.c.owner.is_not(None))
    busy_item = exists().where(items.c.job_id == jobs.c.id, items.c.owner.is_not(None))
    return [
        jobs.c.state.in_(ended),
        jobs.c.owner.is_(None),
        jobs.c.finished_at <= ended_by,
        ~busy_album,
        ~busy_item,
    ]


# ``settle_ended``'s look: the given jobs, and cancelled ones with a stray item.
_SETTLEABLE = select(jobs.c.id, jobs.c.state).where(
    # The cheap terms first: this runs on every housekeeping round.
    or_(
        jobs.c.id.in_(bindparam("job_ids", expanding=True)),
        and_(
            jobs.c.state == JobState.CANCELLED.value,
            exists().where(items.c.job_id == jobs.c.id, items.c.state.not_in(TERMINAL_STATES)),
        ),
    ),
    *_quiet(bindparam("ended_by", type_=Float)),
)


def _finish_in(conn: Connection, now: float) -> list[int]:
    """``finish_jobs``' write, in one transaction (on SQLite, whole on its thread: six
    statements a job ended, each one hop while the writer's connection was held)."""
    finished: list[int] = []
    for job_id, error_code in sqlite_direct.execute(conn, statements.FINISHABLE_JOBS, {}).all():
        facts = [] if error_code else _item_facts(conn, job_id)
        outcome = job_outcome(error_code, facts)
        params = {"job_id": job_id, "state": outcome.state.value, "now": now}
        if outcome.error_code is None:
            ended = sqlite_direct.execute(conn, _END, params)
        else:
            failed = {"code": outcome.error_code, "message": outcome.error_message}
            ended = sqlite_direct.execute(conn, _END_WITH_ERROR, params | failed)
        if ended.rowcount != 1:
            continue  # ended once, by that node: no second summary, no second event
        store_summary(conn, job_id, now)
        record_event(conn, JOB_ENDED, now, job_id=job_id, status=outcome.state.value)
        finished.append(job_id)
    return finished


# A job's end, built once (each was built and run through SQLAlchemy at every job's end):
# only while it is still active (another node's housekeeper may have ended it meanwhile).
_END = (
    update(jobs)
    .where(jobs.c.id == statements.JOB_ID, jobs.c.state == JobState.ACTIVE.value)
    .values(
        state=bindparam("state", type_=String),
        finished_at=statements.NOW,
        updated_at=statements.NOW,
    )
)
_END_WITH_ERROR = _END.values(
    error_code=bindparam("code", type_=String), error_message=bindparam("message", type_=String)
)


def _item_facts(conn: Connection, job_id: int) -> list[ItemFact]:
    """What ``job_outcome`` reads of a finishing job's ended items."""
    found = sqlite_direct.execute(conn, _OUTCOME_ITEMS, {"job_id": job_id})
    return [ItemFact(ItemState(state), *rest) for state, *rest in found.all()]


_OUTCOME_ITEMS = select(
    items.c.state, items.c.error_code, items.c.reason, items.c.error_message
).where(items.c.job_id == statements.JOB_ID, items.c.state.in_([s.value for s in OUTCOME_STATES]))


def ended_columns(state: JobState, error: FerrymanError, now: float) -> dict[str, Any]:
    """The columns of a job that ends now, for the reason ``error`` gives."""
    return {
        "state": state.value,
        "owner": None,
        "lease_until": None,
        "error_code": error.code,
        "error_message": error.message,
        "finished_at": now,
        "updated_at": now,
        "blocked": False,
        "wait_reason": None,
    }


class HousekeepingState(NamedTuple):
    """What a housekeeping round reads before it writes anything."""

    finishable: bool  # a job is ready to end
    idle: bool  # no watch due or checking, and no job that could still make progress
