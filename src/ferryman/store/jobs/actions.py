"""What a person does to a job: a password, pause, cancel, retry, remove."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Row,
    delete,
    or_,
    select,
    update,
)

from ferryman.errors import FerrymanError
from ferryman.model import (
    AlbumState,
    ItemState,
    Job,
    JobState,
)
from ferryman.store.jobs.ends import ended_columns
from ferryman.store.jobs.waited import wait_ended
from ferryman.store.schema import (
    albums,
    fetches,
    items,
    jobs,
    segments,
    source_memos,
    tg_inbox,
    tg_status,
)
from ferryman.store.shared.rows import (
    TERMINAL_STATES,
    decode_passwords,
    item_from_row,
    job_from_row,
)
from ferryman.store.sql.base import StoreBase
from ferryman.store.sqla_async import AsyncConnection


class JobActionQueries(StoreBase):
    """A person's actions on a job, each one transaction under the job's row lock."""

    async def add_password(self, job_id: int, password: str) -> Job:
        """Add a password to the job's list; a job waiting for one is queued again."""
        now = self.clock()
        async with self._write() as conn:
            row = await _locked_job(conn, job_id)
            known = list(decode_passwords(row.password))
            waits = row.state == JobState.NEEDS_PASSWORD.value
            if password in known and waits:
                raise FerrymanError(
                    "archive.password_wrong",
                    "this job was given this password before, and it did not open it",
                )
            if password not in known:
                known.append(password)
            values: dict[str, Any] = {"password": json.dumps(known), "updated_at": now}
            if waits:
                values |= {
                    "state": JobState.QUEUED.value,
                    "wait_reason": None,
                    "error_message": None,
                    "blocked": False,
                    "not_before": 0.0,
                }
            if waits:
                await wait_ended(conn, job_id, now)
            done = await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(**values).returning(*jobs.c)
            )
            return job_from_row(done.one())

    async def set_paused(self, job_id: int, paused: bool) -> Job:
        """Raises ``job.already_ended``: an ended job has nothing left to pause."""
        async with self._write() as conn:
            job = await _locked_job(conn, job_id)
            if JobState(job.state).terminal:
                verb = "paused" if paused else "resumed"
                raise _already_ended(job_id, job.state, verb)
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(paused=paused, updated_at=self.clock())
                .returning(*jobs.c)
            )
            return job_from_row(done.one())

    async def cancel(self, job_id: int) -> list[str]:
        """End the job now; returns the work files its undelivered items leave behind.

        Raises ``job.already_ended`` for a job that has ended: nothing would change.
        """
        now = self.clock()
        error = FerrymanError("job.cancelled", "cancelled on request")
        async with self._write() as conn:
            job = await _locked_job(conn, job_id)
            if JobState(job.state).terminal:
                raise _already_ended(job_id, job.state, "cancelled")
            in_flight = select(albums.c.id).where(
                albums.c.job_id == job_id, albums.c.state == AlbumState.DELIVERING.value
            )
            leftovers = await conn.execute(
                select(items).where(
                    items.c.job_id == job_id,
                    items.c.state.not_in(TERMINAL_STATES),
                    or_(items.c.album_id.is_(None), items.c.album_id.not_in(in_flight)),
                )
            )
            paths = [p for row in leftovers.all() for p in item_from_row(row).work_files]
            await conn.execute(
                update(items)
                .where(
                    items.c.job_id == job_id,
                    items.c.state.not_in(TERMINAL_STATES),
                    or_(items.c.album_id.is_(None), items.c.album_id.not_in(in_flight)),
                )
                .values(
                    state=ItemState.CANCELLED.value,
                    reason=error.code,
                    owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            await conn.execute(
                update(albums)
                .where(albums.c.job_id == job_id, albums.c.state == AlbumState.SEALED.value)
                .values(state=AlbumState.FAILED.value, error_code=error.code)
            )
            await conn.execute(  # a download in flight loses its lease: its step stops
                update(fetches)
                .where(fetches.c.job_id == job_id, fetches.c.state.in_(["queued", "fetching"]))
                .values(state="cancelled", owner=None, lease_until=None, updated_at=now)
            )
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(**ended_columns(JobState.CANCELLED, error, now))
            )
            await self._store_summary(conn, job_id, now)
        return paths

    async def retry(self, job_id: int) -> Job:
        """Run an ended job again: what was delivered or skipped stays; the rest is redone."""
        now = self.clock()
        keep = [ItemState.DELIVERED.value, ItemState.SKIPPED.value]
        async with self._write() as conn:
            job = await _locked_job(conn, job_id)
            if not JobState(job.state).terminal:
                raise not_ended(job_id, job.state, "retried")
            redo = select(items.c.id).where(items.c.job_id == job_id, items.c.state.not_in(keep))
            await conn.execute(delete(segments).where(segments.c.item_id.in_(redo)))
            await conn.execute(  # the work folder (and what was fetched) went with the end
                update(fetches)
                .where(fetches.c.job_id == job_id)
                .values(
                    state="queued",
                    path=None,
                    size=None,
                    attempts=0,
                    not_before=0.0,
                    error_code=None,
                    error_message=None,
                    owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            await conn.execute(
                delete(items).where(items.c.job_id == job_id, items.c.state.not_in(keep))
            )
            await conn.execute(
                delete(albums).where(
                    albums.c.job_id == job_id, albums.c.state != AlbumState.DELIVERED.value
                )
            )
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        state=JobState.QUEUED.value,
                        cursor=0,
                        read_done=False,
                        error_code=None,
                        error_message=None,
                        finished_at=None,
                        summary=None,
                        attempts=0,
                        not_before=0.0,
                        paused=False,
                        started_at=None,  # a new run: it starts (JobStarted) again
                        read_claims=0,
                        run=jobs.c.run + 1,  # its progress is told apart from the last run's
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                )
            ).one()
        return job_from_row(row)

    async def remove_job(self, job_id: int) -> Job:
        """Forget an ended job: its rows in every table that refers to it, in one
        transaction. Returns the job as it was, so the caller can delete its files
        (work files of items left are under the job's work folder).

        Raises ``job.not_ended`` (or ``job.waiting_for_password``) for a job that has
        not ended: a step may be working on it; cancel it first.
        """
        async with self._write() as conn:
            row = await _locked_job(conn, job_id)
            if not JobState(row.state).terminal:
                raise not_ended(job_id, row.state, "removed; cancel it first")
            its_items = select(items.c.id).where(items.c.job_id == job_id)
            await conn.execute(delete(segments).where(segments.c.item_id.in_(its_items)))
            # What sinks kept of it (sink_records) and its inputs' dedupe keys (job_inputs,
            # so they can be added again) go by ON DELETE CASCADE.
            await conn.execute(delete(tg_status).where(tg_status.c.job_id == job_id))
            await conn.execute(delete(tg_inbox).where(tg_inbox.c.job_id == job_id))
            await conn.execute(delete(fetches).where(fetches.c.job_id == job_id))
            await conn.execute(delete(source_memos).where(source_memos.c.job_id == job_id))
            await conn.execute(delete(items).where(items.c.job_id == job_id))
            await conn.execute(delete(albums).where(albums.c.job_id == job_id))
            await conn.execute(delete(jobs).where(jobs.c.id == job_id))
        return job_from_row(row)


async def _locked_job(conn: AsyncConnection, job_id: int) -> Row[Any]:
    """The job's row, locked for this transaction; a missing job is job.not_found."""
    found = await conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())
    row = found.first()
    if row is None:
        raise FerrymanError("job.not_found", f"there is no job {job_id}")
    return row


def _already_ended(job_id: int, state: str, verb: str) -> FerrymanError:
    return FerrymanError(
        "job.already_ended", f"job {job_id} has ended ({state}); it cannot be {verb}"
    )


def not_ended(job_id: int, state: str, verb: str) -> FerrymanError:
    """A job that has not ended yet: waiting for a password has its own code (both
    stores say it alike)."""
    if state == JobState.NEEDS_PASSWORD.value:
        return FerrymanError(
            "job.waiting_for_password",
            f"job {job_id} waits for a password; only ended jobs can be {verb}",
        )
    return FerrymanError("job.not_ended", f"job {job_id} is {state}; only ended jobs can be {verb}")
