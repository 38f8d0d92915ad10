"""Job queries: adding and naming a job, claiming it for reading, and the reader's
waits and ends (the other job concerns: ``entries``, ``job_actions``, ``figures``,
``job_ends``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ferryman.config.sections import ALBUM_WAIT_SECONDS
from ferryman.errors import FerrymanError
from ferryman.model import (
    Job,
    JobState,
)
from ferryman.naming import free_job_name
from ferryman.store.albums.sql import seal_in
from ferryman.store.entries.sql import read_ended
from ferryman.store.fetches.sql import InputName, name_in, small_input, unfinished_fetch
from ferryman.store.jobs.ends import ended_columns
from ferryman.store.jobs.new import NewJob
from ferryman.store.jobs.waited import wait_began, wait_ended
from ferryman.store.jobs.writer import add_job_in, holders
from ferryman.store.notices.sql import ASKS, JOB_ENDED, JOB_WAITING, event_in
from ferryman.store.schema import (
    jobs,
)
from ferryman.store.shared.rows import (
    job_from_row,
    place_values,
    same_place_bound,
)
from ferryman.store.sql import statements
from ferryman.store.sql.base import StoreBase

_NAMES_IN_PLACE = select(jobs.c.name).where(same_place_bound(jobs.c.dest))  # place_values
_HOLDER = holders([bindparam("dedupe_key", type_=String)])
_ALL_JOBS = select(jobs).order_by(jobs.c.id)
_LIVE_DESTS = (
    select(jobs.c.dest)
    .where(
        jobs.c.state.not_in([JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value]),
        jobs.c.paused.is_(False),
    )
    .distinct()
)


class JobQueries(StoreBase):
    """Jobs: adding, naming, claiming for reading, the reader's waits and ends."""

    async def add_job(
        self,
        *,
        source: str,
        name: str,
        dest: str,
        priority: int = 0,
        password: str | None = None,
        dedupe_key: str | None = None,
        error: FerrymanError | None = None,
        fetch: bool = False,
        notify: str | None = None,
        memos: dict[str, str] | None = None,
        account: int | None = None,
    ) -> Job:
        """Record a job (``store.new_job``, as the light store does); a job whose input is
        already known to be bad is stored failed.
        ``fetch``: its input is downloaded first (a ``fetches`` row, in the same
        transaction), and the unpack stage waits for that. ``memos``: source memos it
        starts with (the entries a person chose), in the same transaction, so no read
        of the job can start without them."""
        new = NewJob(
            source=source,
            name=name,
            dest=dest,
            priority=priority,
            password=password,
            dedupe_key=dedupe_key,
            error=error,
            fetch=fetch,
            notify=notify,
            memos=memos or {},
            account=account,
        )
        try:
            return await self._transaction(add_job_in, new, self.clock())
        except IntegrityError:
            if dedupe_key is None:
                raise
            # Another node or process added the same input between the check and the
            # insert (PostgreSQL's read committed): the duplicate it is, not a crash.
            found = await self._read(_HOLDER, {"dedupe_key": dedupe_key})
            held = f"job {found[0].job_id}" if found else "a job being added"
            raise FerrymanError("source.duplicate", f"already {held}") from None

    async def unique_name(self, base: str, dest: str) -> str:
        """A library folder name no other job with this destination uses."""
        found = await self._read(_NAMES_IN_PLACE, place_values(dest))
        return free_job_name(base, {name for (name,) in found})

    async def name_from_input(
        self, job_id: int, base: str, variant: str = "", source_end: str = ""
    ) -> str | None:
        """Name the job after what its fetch found (a server's file name, a video's
        title, an archive's one top folder) instead of what it was added by, while
        nothing of it has been sealed: its albums then all go under the one name. The
        new name is unique among the destination's jobs as at the add
        (``naming.free_job_name``: ``variant``, how this result differs, where a job
        whose source ends with ``source_end``, another output of the same link, has the name).
        Returns it, or None when the job kept its name."""
        named = InputName(base, variant, source_end)
        return await self._transaction(name_in, job_id, named, self.clock())

    async def get_job(self, job_id: int) -> Job:
        found = await self._read(statements.GET_JOB, {"job_id": job_id})
        if not found:
            raise FerrymanError("job.not_found", f"there is no job {job_id}")
        return job_from_row(found[0])

    async def list_jobs(self) -> list[Job]:
        return [job_from_row(r) for r in await self._read(_ALL_JOBS)]

    async def claim_job(self, owner: str, lease_seconds: float, small: bool = False) -> Job | None:
        """A queued job for the unpack stage, highest priority first; ``resumed`` when its
        read was claimed before in this run (``read_claims``). ``small``:
        only a job whose input was fetched as one small file (``fetches.small_input``)."""
        claimed = await self.claim_jobs(owner, lease_seconds, 1, small=small)
        return claimed[0] if claimed else None

    async def claim_jobs(
        self, owner: str, lease_seconds: float, limit: int, small: bool = False
    ) -> list[Job]:
        """Up to ``limit`` jobs as ``claim_job`` takes them, in its order, in one
        transaction: a read of several small jobs at once claims them with one commit."""
        now = self.clock()

        def where() -> list[Any]:
            ready = [jobs.c.paused.is_(False), ~unfinished_fetch()]
            return [*ready, small_input()] if small else ready

        rows = await self._claim_many(
            jobs,
            JobState.QUEUED,
            JobState.READING,
            owner,
            lease_seconds,
            limit,
            where,
            started=True,
            now=now,
            variant="small" if small else "",
        )
        claimed = []
        for row in rows:
            job = job_from_row(row)
            job.resumed = row.read_claims > 1  # not a clock reading: one may stand still
            claimed.append(job)
        return claimed

    async def finish_expansion(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError | None = None,
        album_size: int | None = None,
        *,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> list[int]:
        """Every entry is an item now (or the input broke part-way: ``error``). With
        ``album_size`` the last, partial albums are sealed in the same transaction (the
        lease ends with it: nothing of the job is the reader's to write afterwards).
        Returns the albums sealed."""
        values = read_ended(self.clock())
        if error is not None:
            values |= {"error_code": error.code, "error_message": error.message}
        async with self._write() as conn:
            await self._update_owned(conn, jobs, job_id, owner, values)
            if album_size is None:
                return []
            return await seal_in(conn, job_id, album_size, self.clock(), wait=wait)

    async def fail_job(self, job_id: int, error: FerrymanError, owner: str) -> None:
        """The whole input is unusable: the job ends now with the error's code."""
        now = self.clock()
        async with self._write() as conn:
            values = ended_columns(JobState.FAILED, error, now) | {"read_done": True}
            await self._update_owned(conn, jobs, job_id, owner, values)
            await self._store_summary(conn, job_id, now)
            await event_in(conn, JOB_ENDED, now, job_id=job_id, status=JobState.FAILED.value)

    async def job_retry(
        self, job_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        """Reading hit a passing problem: queue the job again after ``delay`` seconds
        (a wait on the person, such as room on the disk, is a notice's event)."""
        now = self.clock()
        async with self._write() as conn:
            values = {
                "state": JobState.QUEUED.value,
                "owner": None,
                "lease_until": None,
                "attempts": jobs.c.attempts + (1 if count else 0),
                "not_before": now + delay,
                "wait_reason": error.code,
                "blocked": False,
                "updated_at": now,
            }
            await self._update_owned(conn, jobs, job_id, owner, values)
            if error.code.startswith(ASKS):
                await event_in(conn, JOB_WAITING, now, job_id=job_id, reason=error.code)

    async def need_password(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError,
        album_size: int | None = None,
        *,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> list[int]:
        """Reading stopped at an entry no known password opens: wait for one, keep the rest.

        Blocked, so items already read still go out in partial albums meanwhile (sealed
        in the same transaction with ``album_size``). Returns the albums sealed.
        """
        values = {
            "state": JobState.NEEDS_PASSWORD.value,
            "owner": None,
            "lease_until": None,
            "wait_reason": error.code,
            "error_message": error.message,
            "blocked": True,
            "updated_at": self.clock(),
        }
        async with self._write() as conn:
            await self._update_owned(conn, jobs, job_id, owner, values)
            await event_in(conn, JOB_WAITING, self.clock(), job_id=job_id, reason=error.code)
            await wait_began(conn, job_id, self.clock())
            if album_size is None:
                return []
            return await seal_in(conn, job_id, album_size, self.clock(), wait=wait)

    async def set_wait(self, job_id: int, owner: str, reason: str | None, blocked: bool) -> None:
        """Unpack is waiting (for space, for deliveries): show why, and allow partial albums."""
        now = self.clock()
        async with self._write() as conn:
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.owner == owner)
                .values(wait_reason=reason, blocked=blocked, updated_at=now)
            )
            if done.rowcount == 1 and reason is not None and reason.startswith(ASKS):
                await event_in(conn, JOB_WAITING, now, job_id=job_id, reason=reason)
                await wait_began(conn, job_id, now)
            elif done.rowcount == 1 and reason is None:
                await wait_ended(conn, job_id, now)

    async def on_disk(self, job_id: int) -> int:
        """The files this job's items still hold in the work area (``backlog``)."""
        return (await self.backlog(job_id))[0]

    async def backlog(self, job_id: int) -> tuple[int, int]:
        """The files this job's items still hold in the work area, and their bytes
        (``model.held``: an original kept beside its copy counts too)."""
        _, count, size = (await self._read(statements.JOB_LOAD, {"job_id": job_id}))[0]
        return int(count), int(size)

    async def active_jobs(self) -> dict[int, bool]:
        """Jobs that may have items to seal, each with whether it has ready items now,
        read on the reader: the housekeeper seals only those (one write transaction on
        the one writer for every active job each full round, ~200 in a links row of 200
        photos, found nothing the stages had not sealed). An item made ready just after
        is the next round's, or its stage's own seal."""
        found = await self._read(statements.ACTIVE_JOBS)
        return {int(job_id): bool(ready) for job_id, ready in found}

    async def live_dests(self) -> list[str]:
        """The destinations of jobs not ended nor paused: the sinks a starting engine
        will deliver to, which may log in and open connections at once."""
        return [dest for (dest,) in await self._read(_LIVE_DESTS)]

    async def idle(self) -> bool:
        """No job is left that could still make progress (``run --until-idle``).

        A job waiting for a password counts as idle once nothing of it is in flight.
        """
        return bool((await self._read(statements.BUSY_JOBS))[0][0] == 0)  # one hop
