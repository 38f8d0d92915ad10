"""Job queries: from `add` to `done`, and what a person can do to a job."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from ferryman.errors import FerrymanError
from ferryman.model import (
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
)
from ferryman.store import hot, sqlite_thread
from ferryman.store.albums import seal, seal_in
from ferryman.store.base import StoreBase
from ferryman.store.fetches import unfinished_fetch
from ferryman.store.rows import (
    TERMINAL_STATES,
    LeaseLost,
    NewItem,
    Recorded,
    RecordedBatch,
    decode_passwords,
    item_from_row,
    job_from_row,
    new_fetch_values,
    new_job_values,
)
from ferryman.store.schema import (
    albums,
    fetches,
    items,
    jobs,
    segments,
    source_memos,
    tg_inbox,
    tg_media,
    tg_sends,
    tg_status,
)


class JobQueries(StoreBase):
    """Jobs: adding, claiming for reading, the cursor, waiting, ending, control."""

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
    ) -> Job:
        """Record a job; a job whose input is already known to be bad is stored failed.
        ``fetch``: its input is downloaded first (a ``fetches`` row, in the same
        transaction), and the unpack stage waits for that."""
        now = self.clock()
        values = new_job_values(
            source=source,
            name=name,
            dest=dest,
            priority=priority,
            password=password,
            dedupe_key=dedupe_key,
            error=error,
            now=now,
            notify=notify,
        )
        async with self.engine.begin() as conn:
            if dedupe_key is not None:
                found = await conn.execute(select(jobs.c.id).where(jobs.c.dedupe_key == dedupe_key))
                existing = found.scalar()
                if existing is not None:
                    raise FerrymanError("source.duplicate", f"already job {existing}")
            row = (await conn.execute(insert(jobs).values(**values).returning(*jobs.c))).one()
            job = job_from_row(row)
            if error is not None:
                await self._store_summary(conn, job.id, now)
            elif fetch:
                await conn.execute(insert(fetches).values(new_fetch_values(job.id, priority, now)))
        return job

    async def unique_name(self, base: str, dest: str) -> str:
        """A library folder name no other job with this destination uses."""
        async with self.reader.connect() as conn:
            taken = set(
                (await conn.execute(select(jobs.c.name).where(jobs.c.dest == dest))).scalars()
            )
        name, n = base, 2
        while name in taken:
            name = f"{base} ({n})"
            n += 1
        return name

    async def name_from_input(self, job_id: int, base: str) -> str | None:
        """Name the job after what its fetch found (a server's file name, a video's
        title) instead of the link it was added by, while nothing of it has been sealed:
        its albums then all go under the one name. The new name is unique among the
        destination's jobs as at the add. Returns it, or None when the job kept its name."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(jobs.c.name, jobs.c.dest).where(jobs.c.id == job_id))
            ).first()
            if row is None or row.name == base:
                return None
            if (await conn.execute(select(albums.c.id).where(albums.c.job_id == job_id))).first():
                return None
            taken = set(
                (
                    await conn.execute(
                        select(jobs.c.name).where(jobs.c.dest == row.dest, jobs.c.id != job_id)
                    )
                ).scalars()
            )
            name, n = base, 2
            while name in taken:
                name = f"{base} ({n})"
                n += 1
            if name == row.name:
                return None
            await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(name=name, updated_at=self.clock())
            )
        return name

    async def get_job(self, job_id: int) -> Job:
        async with self.reader.connect() as conn:
            row = (await conn.execute(hot.GET_JOB, {"job_id": job_id})).first()
        if row is None:
            raise FerrymanError("job.not_found", f"there is no job {job_id}")
        return job_from_row(row)

    async def list_jobs(self) -> list[Job]:
        async with self.reader.connect() as conn:
            rows = (await conn.execute(select(jobs).order_by(jobs.c.id))).all()
        return [job_from_row(r) for r in rows]

    async def item_counts(self) -> dict[int, dict[str, int]]:
        """Per job: how many items are in each state."""
        query = select(items.c.job_id, items.c.state, func.count()).group_by(
            items.c.job_id, items.c.state
        )
        counts: dict[int, dict[str, int]] = {}
        async with self.reader.connect() as conn:
            for job_id, state, n in (await conn.execute(query)).all():
                counts.setdefault(job_id, {})[state] = n
        return counts

    async def figures(self) -> dict[str, Any]:
        """What ``/metrics`` reports from the store: items by state and failure code,
        bytes fetched, read from inputs and delivered, jobs by source scheme and state."""
        by_item = select(
            items.c.state,
            items.c.error_code,
            func.count(),
            func.coalesce(func.sum(items.c.source_size), 0),
            func.coalesce(func.sum(items.c.size), 0),
        ).group_by(items.c.state, items.c.error_code)
        fetched = select(func.coalesce(func.sum(fetches.c.size), 0)).where(
            fetches.c.state == "done"
        )
        by_job = select(jobs.c.source, jobs.c.state)
        async with self.reader.connect() as conn:
            item_rows = (await conn.execute(by_item)).all()
            fetched_bytes = int((await conn.execute(fetched)).scalar_one())
            job_rows = (await conn.execute(by_job)).all()
        failed: dict[str, int] = {}
        states: dict[str, int] = {}
        read = delivered = 0
        for state, code, n, source_size, size in item_rows:
            states[state] = states.get(state, 0) + n
            read += int(source_size)
            if state == ItemState.DELIVERED.value:
                delivered += int(size)
            if state in (ItemState.FAILED.value, ItemState.QUARANTINED.value) and code:
                failed[code] = failed.get(code, 0) + n
        sources: dict[tuple[str, str], int] = {}
        for source, state in job_rows:
            scheme = source.split(":", 1)[0] if ":" in source else "file"
            sources[(scheme, state)] = sources.get((scheme, state), 0) + 1
        return {
            "items": states,
            "failed_by_code": failed,
            "bytes_fetched": fetched_bytes,
            "bytes_read": read,
            "bytes_delivered": delivered,
            "jobs_by_source": sources,
        }

    async def claim_job(self, owner: str, lease_seconds: float) -> Job | None:
        """A queued job for the unpack stage, highest priority first."""
        row = await self._claim(
            jobs,
            JobState.QUEUED,
            JobState.EXPANDING,
            owner,
            lease_seconds,
            lambda: [jobs.c.paused.is_(False), ~unfinished_fetch()],
            started=True,
        )
        return job_from_row(row) if row is not None else None

    async def known_seqs(self, job_id: int) -> set[int]:
        async with self.reader.connect() as conn:
            found = await conn.execute(select(items.c.seq).where(items.c.job_id == job_id))
            return set(found.scalars())

    async def record_entry(self, job_id: int, owner: str, cursor: int, new: NewItem) -> Recorded:
        """Insert the item and move the job's cursor past it, in one transaction."""
        batch = await self.record_entries(job_id, owner, cursor, [new])
        return Recorded(batch.items[0], batch.ready, batch.on_disk)

    async def record_entries(
        self,
        job_id: int,
        owner: str,
        cursor: int,
        new: Sequence[NewItem],
        album_size: int | None = None,
    ) -> RecordedBatch:
        """Insert the items and move the job's cursor past them, in one transaction.

        With ``album_size``, the albums they fill are sealed in the same transaction. A
        batch of entries costs one commit (a WAL fsync on SQLite) instead of two per
        entry; a crash before it leaves the cursor before them, so they are read again.
        """
        now = self.clock()
        async with self.engine.begin() as conn:
            return await sqlite_thread.run_sync(
                conn, _record, job_id, owner, cursor, new, album_size, now
            )

    async def finish_expansion(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError | None = None,
        album_size: int | None = None,
    ) -> list[int]:
        """Every entry is an item now (or the input broke part-way: ``error``). With
        ``album_size`` the last, partial albums are sealed in the same transaction (the
        lease ends with it: nothing of the job is the reader's to write afterwards).
        Returns the albums sealed."""
        values: dict[str, Any] = {
            "state": JobState.ACTIVE.value,
            "expanded": True,
            "owner": None,
            "lease_until": None,
            "blocked": False,
            "wait_reason": None,
            "updated_at": self.clock(),
        }
        if error is not None:
            values |= {"error_code": error.code, "error_message": error.message}
        async with self.engine.begin() as conn:
            await self._update_owned(conn, jobs, job_id, owner, values)
            if album_size is None:
                return []
            return await seal_in(conn, job_id, album_size, self.clock())

    async def fail_job(self, job_id: int, error: FerrymanError, owner: str) -> None:
        """The whole input is unusable: the job ends now with the error's code."""
        now = self.clock()
        async with self.engine.begin() as conn:
            values = _ended(JobState.FAILED, error, now) | {"expanded": True}
            await self._update_owned(conn, jobs, job_id, owner, values)
            await self._store_summary(conn, job_id, now)

    async def job_retry(
        self, job_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        """Reading hit a passing problem: queue the job again after ``delay`` seconds."""
        extra = {"wait_reason": error.code, "blocked": False, "updated_at": self.clock()}
        await self._retry_later(
            jobs, job_id, owner, JobState.QUEUED.value, delay, extra, count=count
        )

    async def need_password(
        self, job_id: int, owner: str, error: FerrymanError, album_size: int | None = None
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
        async with self.engine.begin() as conn:
            await self._update_owned(conn, jobs, job_id, owner, values)
            if album_size is None:
                return []
            return await seal_in(conn, job_id, album_size, self.clock())

    async def add_password(self, job_id: int, password: str) -> Job:
        """Add a password to the job's list; a job waiting for one is queued again."""
        now = self.clock()
        async with self.engine.begin() as conn:
            row = await _locked_job(conn, job_id)
            known = list(decode_passwords(row.password))
            waits = row.state == JobState.NEEDS_PASSWORD.value
            if password in known and waits:
                raise FerrymanError(
                    "archive.password_wrong",
                    f"job {job_id} was given this password before, and it did not open it",
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
            done = await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(**values).returning(*jobs.c)
            )
            return job_from_row(done.one())

    async def set_wait(self, job_id: int, owner: str, reason: str | None, blocked: bool) -> None:
        """Unpack is waiting (for space, for deliveries): show why, and allow partial albums."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.owner == owner)
                .values(wait_reason=reason, blocked=blocked, updated_at=self.clock())
            )

    async def on_disk(self, job_id: int) -> int:
        """Items of this job whose files still occupy the work area."""
        live = [s.value for s in ItemState if not s.terminal]
        async with self.reader.connect() as conn:
            found = await conn.execute(
                select(func.count()).where(items.c.job_id == job_id, items.c.state.in_(live))
            )
            return int(found.scalar() or 0)

    # ------------------------------------------------------- job lifecycle

    async def finish_jobs(self) -> list[int]:
        """End every expanded job whose items are all terminal; returns the ids of those
        this call ended (several nodes' housekeepers look at once: each job is ended once).

        Looked for on a read first: this runs in every housekeeping round, and a write
        transaction would wait for (and hold up) the stages' writes."""
        async with self.reader.connect() as conn:
            if (await conn.execute(hot.FINISHABLE_JOBS)).first() is None:
                return []
        now = self.clock()
        finished: list[int] = []
        async with self.engine.begin() as conn:
            ready = (await conn.execute(hot.FINISHABLE_JOBS)).all()
            for job_id, error_code in ready:
                values: dict[str, Any] = {"finished_at": now, "updated_at": now}
                failure = None if error_code else await _item_failures(conn, job_id)
                if failure is not None:
                    values |= failure
                else:
                    values["state"] = (JobState.FAILED if error_code else JobState.DONE).value
                ended = await conn.execute(
                    update(jobs)  # another node's housekeeper may have ended it meanwhile
                    .where(jobs.c.id == job_id, jobs.c.state == JobState.ACTIVE.value)
                    .values(**values)
                )
                if ended.rowcount != 1:
                    continue  # ended once, by that node: no second summary, no second event
                await self._store_summary(conn, job_id, now)
                finished.append(job_id)
        return finished

    async def set_paused(self, job_id: int, paused: bool) -> Job:
        """Raises ``job.already_ended``: an ended job has nothing left to pause."""
        async with self.engine.begin() as conn:
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
        async with self.engine.begin() as conn:
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
                .values(**_ended(JobState.CANCELLED, error, now))
            )
            await self._store_summary(conn, job_id, now)
        return paths

    async def retry(self, job_id: int) -> Job:
        """Run an ended job again: what was delivered or skipped stays; the rest is redone."""
        now = self.clock()
        keep = [ItemState.DELIVERED.value, ItemState.SKIPPED.value]
        async with self.engine.begin() as conn:
            job = await _locked_job(conn, job_id)
            if not JobState(job.state).terminal:
                raise _not_ended(job_id, job.state, "retried")
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
                        expanded=False,
                        error_code=None,
                        error_message=None,
                        finished_at=None,
                        summary=None,
                        attempts=0,
                        not_before=0.0,
                        paused=False,
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
        async with self.engine.begin() as conn:
            row = await _locked_job(conn, job_id)
            if not JobState(row.state).terminal:
                raise _not_ended(job_id, row.state, "removed; cancel it first")
            its_items = select(items.c.id).where(items.c.job_id == job_id)
            its_albums = select(albums.c.id).where(albums.c.job_id == job_id)
            await conn.execute(delete(segments).where(segments.c.item_id.in_(its_items)))
            await conn.execute(delete(tg_media).where(tg_media.c.item_id.in_(its_items)))
            await conn.execute(
                delete(tg_sends).where(
                    or_(tg_sends.c.album_id.in_(its_albums), tg_sends.c.item_id.in_(its_items))
                )
            )
            await conn.execute(delete(tg_status).where(tg_status.c.job_id == job_id))
            await conn.execute(delete(tg_inbox).where(tg_inbox.c.job_id == job_id))
            await conn.execute(delete(fetches).where(fetches.c.job_id == job_id))
            await conn.execute(delete(source_memos).where(source_memos.c.job_id == job_id))
            await conn.execute(delete(items).where(items.c.job_id == job_id))
            await conn.execute(delete(albums).where(albums.c.job_id == job_id))
            await conn.execute(delete(jobs).where(jobs.c.id == job_id))
        return job_from_row(row)

    async def active_jobs(self) -> list[int]:
        """Jobs that may have items to seal."""
        async with self.reader.connect() as conn:
            return list((await conn.execute(hot.ACTIVE_JOBS)).scalars())

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
        stray = exists().where(items.c.job_id == jobs.c.id, items.c.state.not_in(TERMINAL_STATES))
        query = select(jobs.c.id, jobs.c.state).where(
            # The cheap terms first: this runs on every housekeeping round.
            or_(
                jobs.c.id.in_(candidates),
                and_(jobs.c.state == JobState.CANCELLED.value, stray),
            ),
            *self._quiet(now - grace),
        )
        async with self.reader.connect() as conn:
            found = (await conn.execute(query)).all()
        cancelled = [job_id for job_id, state in found if state == JobState.CANCELLED.value]
        if cancelled:
            await self._settle_cancelled(cancelled, now - grace)
        wanted = set(candidates)
        return [job_id for job_id, _ in found if job_id in wanted]

    def _quiet(self, ended_by: float) -> list[Any]:
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

    async def _settle_cancelled(self, job_ids: list[int], ended_by: float) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            # Checked again under lock: a retry in between makes the job live again.
            still = (
                (
                    await conn.execute(
                        select(jobs.c.id)
                        .where(jobs.c.id.in_(job_ids), *self._quiet(ended_by))
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

    async def idle(self) -> bool:
        """No job is left that could still make progress (``run --until-idle``).

        A job waiting for a password counts as idle once nothing of it is in flight.
        """
        async with self.reader.connect() as conn:
            found = await conn.execute(hot.BUSY_JOBS)
            return found.scalar_one() == 0


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


def _not_ended(job_id: int, state: str, verb: str) -> FerrymanError:
    """A job that has not ended yet: waiting for a password has its own code."""
    if state == JobState.NEEDS_PASSWORD.value:
        return FerrymanError(
            "job.waiting_for_password",
            f"job {job_id} waits for a password; only ended jobs can be {verb}",
        )
    return FerrymanError("job.not_ended", f"job {job_id} is {state}; only ended jobs can be {verb}")


async def _item_failures(conn: AsyncConnection, job_id: int) -> dict[str, Any] | None:
    """The columns that say a finishing job's items failed, or None when none did.

    Nothing delivered: the job failed, with its items' most common code. Some
    delivered: the job is done, and still carries that code and the failed count, so
    it does not look like a clean run. Nothing delivered and nothing failed (an empty
    input, or one of files that are not media): done, with ``source.nothing_delivered``
    saying so (a wrong input looked like a clean run).
    """
    found = await conn.execute(
        select(items.c.state, items.c.error_code, items.c.reason, items.c.error_message).where(
            items.c.job_id == job_id,
            items.c.state.in_(
                [
                    ItemState.FAILED.value,
                    ItemState.DELIVERED.value,
                    ItemState.SKIPPED.value,
                    ItemState.QUARANTINED.value,
                ]
            ),
        )
    )
    delivered = 0
    codes: dict[str, int] = {}
    first: dict[str, str] = {}
    left_out: dict[str, int] = {}
    for state, code, reason, message in found.all():
        if state == ItemState.DELIVERED.value:
            delivered += 1
            continue
        if state != ItemState.FAILED.value:
            why = f"{state} ({reason or code or 'no reason'})"
            left_out[why] = left_out.get(why, 0) + 1
            continue
        key = code or reason or "engine.internal"
        codes[key] = codes.get(key, 0) + 1
        first.setdefault(key, message or key)
    if not codes:
        if delivered:
            return None
        found_none = ", ".join(f"{n} {why}" for why, n in sorted(left_out.items()))
        return {
            "state": JobState.DONE.value,
            "error_code": "source.nothing_delivered",
            "error_message": "nothing was delivered: "
            + (f"no photo or video in it ({found_none})" if left_out else "it holds no files"),
        }
    code = max(codes, key=lambda c: codes[c])
    failed = sum(codes.values())
    return {
        "state": (JobState.DONE if delivered else JobState.FAILED).value,
        "error_code": code,
        "error_message": f"{failed} failed, {delivered} delivered: {first[code]}",
    }


def _ended(state: JobState, error: FerrymanError, now: float) -> dict[str, Any]:
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


def _record(
    conn: Connection,
    job_id: int,
    owner: str,
    cursor: int,
    new: Sequence[NewItem],
    album_size: int | None,
    now: float,
) -> RecordedBatch:
    """``record_entries``' transaction, whole (on SQLite's thread: one hop)."""
    params = {"job_id": job_id, "holder": owner, "to": cursor, "now": now}
    job = conn.execute(hot.ADVANCE, params).first()  # locked for sealing on PostgreSQL
    if job is None:
        raise LeaseLost(f"job {job_id}")
    ids: dict[int, int] = {}
    if new:
        found = conn.execute(
            hot.INSERT_ITEMS, [_item_values(job_id, n, job.priority, now) for n in new]
        )
        ids = {row.seq: row.id for row in found}
    ready, on_disk = conn.execute(hot.JOB_LOAD, {"job_id": job_id}).one()
    sealed: list[int] = []
    if album_size is not None and ready >= album_size:
        sealed = seal(conn, job_id, album_size, now, job)
    return RecordedBatch(
        tuple(_recorded_item(job_id, ids[n.seq], n) for n in sorted(new, key=_by_seq)),
        int(ready),
        int(on_disk),
        tuple(sealed),
    )


def _by_seq(new: NewItem) -> int:
    return new.seq


def _recorded_item(job_id: int, item_id: int, new: NewItem) -> Item:
    """The item as its row now reads, built from what was written rather than read back
    (reading back meant parsing each row's JSON again: a tenth of the recording's time)."""
    return Item(
        id=item_id,
        job_id=job_id,
        seq=new.seq,
        source_path=new.source_path,
        kind=new.kind,
        state=new.state,
        size=new.size,
        sha256=new.sha256,
        work_path=new.work_path,
        plan=new.plan,
        reason=new.reason,
        error_code=new.error_code,
        attempts=0,
        album_id=None,
        media=new.media,
        actions=list(new.actions),
        error_message=new.error_message,
        original_path=new.original_path,
        thumb_path=new.thumb_path,
        parts=list(new.parts),
        source_size=new.source_size,
        work_seconds=new.work_seconds,
    )


def _item_values(job_id: int, new: NewItem, priority: int, now: float) -> dict[str, Any]:
    """An ``items`` row for an entry just read."""
    return {
        "job_id": job_id,
        "seq": new.seq,
        "source_path": new.source_path,
        "kind": new.kind.value,
        "state": new.state.value,
        "reason": new.reason,
        "error_code": new.error_code,
        "error_message": new.error_message,
        "actions": json.dumps(list(new.actions)),
        **new.media_columns(),
        "priority": priority,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "not_before": 0.0,
    }
