"""What the engine keeps for sources: the fetch stage's claimed work (one row per job whose
input is downloaded before it is read; the unpack stage claims such a job only once its
fetch is done), and what a source remembers of an input between runs (``source_memos``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Row, String, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.naming import free_job_name
from ferryman.store.notices.sql import ASKS, JOB_ENDED, JOB_WAITING, event_in
from ferryman.store.schema import albums, fetches, jobs, source_memos
from ferryman.store.shared.rows import LeaseLost, place_values, same_place_bound
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.sql.base import StoreBase

QUEUED, FETCHING, DONE, FAILED, CANCELLED = "queued", "fetching", "done", "failed", "cancelled"


# A job's reads, built once (``StoreBase._read``).
_FETCHED = select(fetches).where(fetches.c.job_id == statements.JOB_ID)
_MEMOS = select(source_memos.c.key, source_memos.c.value).where(
    source_memos.c.job_id == statements.JOB_ID
)
# The stage's and the page's reads, built once.
_FETCHING_JOBS = select(fetches.c.job_id).where(fetches.c.state == FETCHING)
_ERRORS = select(fetches.c.job_id, fetches.c.error_message).where(
    fetches.c.error_message.is_not(None)
)
_DOWNLOADED = select(fetches.c.job_id).where(fetches.c.state == DONE, fetches.c.path.is_not(None))
_MEMOS_NAMED = select(source_memos.c.job_id, source_memos.c.value).where(
    source_memos.c.key == bindparam("key", type_=String)
)


@dataclass(frozen=True, slots=True)
class Fetch:
    id: int
    job_id: int
    state: str
    attempts: int
    path: str | None
    size: int | None
    error_message: str | None = None  # what the last try said (a wait's reason, in words)


@dataclass(frozen=True, slots=True)
class InputName:
    """What a fetch found its input calls itself (a server's file name, a video's
    title): ``base``, how this result differs from another output of the same link
    (``variant``) and how that link's jobs' sources end (``source_end``); see ``name_in``."""

    base: str
    variant: str = ""
    source_end: str = ""


def _fetch(row: Row[Any]) -> Fetch:
    return Fetch(row.id, row.job_id, row.state, row.attempts, row.path, row.size, row.error_message)


def unfinished_fetch() -> Any:
    """A condition on ``jobs``: the job's input is still being fetched (or waits to be)."""
    return (
        select(fetches.c.id).where(fetches.c.job_id == jobs.c.id, fetches.c.state != DONE).exists()
    )


# A job whose input was fetched whole as one file this small is read beside other such
# jobs (``claim_job(small=True)``): its read is a few store round trips and one staged
# file, so 200 links' photos read one after another waited on those trips in turn.
SMALL_INPUT = 4 * 1024 * 1024


def small_input() -> Any:
    """A condition on ``jobs``: its input was fetched whole, one file of at most
    ``SMALL_INPUT`` bytes."""
    return (
        select(fetches.c.id)
        .where(
            fetches.c.job_id == jobs.c.id,
            fetches.c.state == DONE,
            fetches.c.path.is_not(None),
            fetches.c.size <= SMALL_INPUT,
        )
        .exists()
    )


def is_small(fetch: Fetch | None) -> bool:
    """``small_input``, of a fetch read back."""
    return (
        fetch is not None
        and fetch.state == DONE
        and fetch.path is not None
        and fetch.size is not None
        and fetch.size <= SMALL_INPUT
    )


def input_over_network() -> Any:
    """A condition on ``jobs``: its input comes at the network's pace, not the disk's:
    still fetched (or waiting to be, a retry's backoff too), or read where it lies on a
    server (a zip by Range, a streamed tar). No conversion waits for such a job."""
    away = or_(fetches.c.state != DONE, fetches.c.path.is_(None))
    return select(fetches.c.id).where(fetches.c.job_id == jobs.c.id, away).exists()


class FetchQueries(StoreBase):
    async def claim_fetch(
        self, owner: str, lease_seconds: float, schemes: tuple[str, ...] = ()
    ) -> Fetch | None:
        """A queued fetch of a running (not paused, not ended) job, highest priority
        first; with ``schemes``, only of a job whose source has one of them (the fetches
        that share one source's connections: ``sources.base.Pooled``)."""
        claimed = await self.claim_fetches(owner, lease_seconds, 1, schemes)
        return claimed[0] if claimed else None

    async def claim_fetches(
        self, owner: str, lease_seconds: float, limit: int, schemes: tuple[str, ...] = ()
    ) -> list[Fetch]:
        """Up to ``limit`` fetches as ``claim_fetch`` takes them, in one transaction: a
        worker running several pooled fetches at once claims them with one commit."""

        def where() -> list[Any]:
            runs = [self._job_runs(fetches)]
            if not schemes:
                return runs
            theirs = or_(*(jobs.c.source.startswith(f"{scheme}:") for scheme in schemes))
            return [*runs, select(jobs.c.id).where(jobs.c.id == fetches.c.job_id, theirs).exists()]

        variant = ",".join(schemes)
        rows = await self._claim_many(
            fetches, QUEUED, FETCHING, owner, lease_seconds, limit, where, variant=variant
        )
        return [_fetch(row) for row in rows]

    async def fetching_jobs(self) -> set[int]:
        """Jobs whose input is being fetched now (``status`` shows them as such)."""
        return {job_id for (job_id,) in await self._read(_FETCHING_JOBS)}

    async def fetch_errors(self) -> dict[int, str]:
        """Per job, the last error of its fetch (a wait between tries says why)."""
        return {job_id: message for job_id, message in await self._read(_ERRORS)}

    async def downloaded_jobs(self) -> set[int]:
        """Jobs whose input was downloaded whole (not read in place): the page's bar
        counts their download as done after a restart, when no event said so."""
        return {job_id for (job_id,) in await self._read(_DOWNLOADED)}

    async def fetched(self, job_id: int) -> Fetch | None:
        found = await self._read(_FETCHED, {"job_id": job_id})
        return _fetch(found[0]) if found else None

    async def fetch_done(
        self,
        fetch_id: int,
        owner: str,
        path: str | None,
        size: int | None,
        hold: str | None = None,
        *,
        named: InputName | None = None,
        note: tuple[str, str] | None = None,
    ) -> bool:
        """The input is on disk (or, ``path`` None, is read where it is): the unpack
        stage may claim its job now; unless it has a memo named ``hold`` (its entries
        are to be chosen first): then it is paused, waiting for ``hold``. In the same
        transaction, the job is named after its input (``named``: see ``name_in``) and
        ``note`` (a memo's key and value: what the fetch says of its result) is kept,
        so a crash or a lost lease leaves all of it or none (one transaction a fetch
        instead of three). Returns whether it was held."""
        return await self._transaction(
            _fetch_done_in,
            fetch_id,
            owner,
            path,
            size,
            hold,
            named,
            note,
            self.clock(),
        )

    async def hold_asked(self, job_id: int, hold: str, asked: bool) -> bool:
        """Ask (or no longer ask) for the job to be held after its fetch (``fetch_done``'s
        ``hold``): only while its fetch has not ended. Returns whether it was in time."""
        now = self.clock()
        async with self._write() as conn:
            found = await conn.execute(
                select(fetches.c.state).where(fetches.c.job_id == job_id, fetches.c.state != DONE)
            )
            if found.first() is None:
                return False
            mine = (source_memos.c.job_id == job_id) & (source_memos.c.key == hold)
            await conn.execute(delete(source_memos).where(mine))
            if asked:
                await conn.execute(
                    insert(source_memos).values(job_id=job_id, key=hold, value="", updated_at=now)
                )
        return True

    async def hold_ended(self, job_id: int, hold: str, memos: dict[str, str]) -> None:
        """A job held after its fetch goes on, with ``memos`` (the entries chosen): one
        transaction, so its read never starts without them."""
        now = self.clock()
        async with self._write() as conn:
            await conn.execute(
                delete(source_memos).where(
                    source_memos.c.job_id == job_id,
                    source_memos.c.key.in_([hold, *memos]),
                )
            )
            for key, value in memos.items():
                await conn.execute(
                    insert(source_memos).values(job_id=job_id, key=key, value=value, updated_at=now)
                )
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.wait_reason == hold)
                .values(paused=False, wait_reason=None, updated_at=now)
            )

    async def fetch_retry(
        self,
        fetch_id: int,
        owner: str,
        error: FerrymanError,
        delay: float,
        *,
        count: bool = True,
    ) -> None:
        """Back in the queue after ``delay``; the job shows why it waits (``error.code``).
        A wait a server or the device imposed is not counted as an attempt."""
        now = self.clock()
        async with self._write() as conn:
            values: dict[str, Any] = {
                "state": QUEUED,
                "owner": None,
                "lease_until": None,
                "not_before": now + delay,
                "error_code": error.code,
                "error_message": error.message,
                "updated_at": now,
            }
            if count:
                values["attempts"] = fetches.c.attempts + 1
            await self._update_owned(conn, fetches, fetch_id, owner, values)
            job_id = select(fetches.c.job_id).where(fetches.c.id == fetch_id).scalar_subquery()
            waits = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(wait_reason=error.code, updated_at=now)
                .returning(jobs.c.id)
            )
            waiting = waits.scalar()
            if waiting is not None and error.code.startswith(ASKS):
                await event_in(conn, JOB_WAITING, now, job_id=waiting, reason=error.code)

    async def fetch_failed(self, fetch_id: int, owner: str, error: FerrymanError) -> int:
        """The input cannot be fetched: the fetch and its job end failed; returns the job."""
        now = self.clock()
        async with self._write() as conn:
            row = (await conn.execute(select(fetches).where(fetches.c.id == fetch_id))).one()
            values = {
                "state": FAILED,
                "owner": None,
                "lease_until": None,
                "error_code": error.code,
                "error_message": error.message,
                "updated_at": now,
            }
            await self._update_owned(conn, fetches, fetch_id, owner, values)
            ended = await conn.execute(
                update(jobs)
                .where(jobs.c.id == row.job_id, jobs.c.state.not_in(_ENDED))
                .values(
                    state=JobState.FAILED.value,
                    error_code=error.code,
                    error_message=error.message,
                    read_done=True,
                    finished_at=now,
                    updated_at=now,
                    blocked=False,
                    wait_reason=None,
                    summary=None,
                )
            )
            await self._store_summary(conn, row.job_id, now)
            if ended.rowcount == 1:  # not ended (cancelled) before: a notice's event
                await event_in(conn, JOB_ENDED, now, job_id=row.job_id, status="failed")
        return int(row.job_id)

    # ------------------------------------------------ what a source remembers

    async def source_memos(self, job_id: int) -> dict[str, str]:
        found = await self._read(_MEMOS, {"job_id": job_id})
        return {key: value for key, value in found}

    async def memos_named(self, key: str) -> dict[int, str]:
        """Every job's memo under ``key`` (one read for all: the page's bars as shown)."""
        found = await self._read(_MEMOS_NAMED, {"key": key})
        return {int(job_id): value for job_id, value in found}

    async def put_source_memo(self, job_id: int, key: str, value: str) -> None:
        """Remember ``value`` for the job's source (written once; a second put replaces)."""
        now = self.clock()
        async with self._write() as conn:
            await conn.execute(
                delete(source_memos).where(
                    source_memos.c.job_id == job_id, source_memos.c.key == key
                )
            )
            await conn.execute(
                insert(source_memos).values(job_id=job_id, key=key, value=value, updated_at=now)
            )


_ENDED = [s.value for s in JobState if s.terminal]


def name_in(conn: Connection, job_id: int, named: InputName, now: float) -> str | None:
    """Name the job after what its fetch found instead of what it was added by, while
    nothing of it has been sealed: its albums then all go under the one name. The new
    name is unique among the destination's jobs as at the add (``naming.free_job_name``:
    ``named.variant`` where a job whose source ends with ``named.source_end``, another output
    of the same link, has the name). Returns it, or None when the job kept its name."""
    row = sqlite_direct.execute(conn, _NAME_AND_PLACE, {"job_id": job_id}).first()
    if row is None or row.name == named.base:
        return None
    if sqlite_direct.execute(conn, _AN_ALBUM, {"job_id": job_id}).first():
        return None
    place = {"job_id": job_id, **place_values(row.dest)}  # ``rows.same_place``
    others = sqlite_direct.execute(conn, _OTHERS_THERE, place).all()
    end = named.source_end
    siblings = [o.name for o in others if end and o.source.endswith(end)]
    name = free_job_name(named.base, [o.name for o in others], named.variant, siblings=siblings)
    if name == row.name:
        return None
    sqlite_direct.execute(conn, _RENAME, {"job_id": job_id, "to": name, "now": now})
    return name


# ``fetch_done``'s statements, built once (``sql/statements``): its transaction runs whole on
# SQLite's thread, one hop where each statement was one (ten for a link's photo, on the
# one writer's connection, which no other transaction could use meanwhile).
_FETCH_ID = bindparam("fetch_id", type_=Integer)
_KEY = bindparam("key", type_=String)
_JOB_OF_FETCH = select(fetches.c.job_id).where(fetches.c.id == _FETCH_ID)
_DROP_MEMO = delete(source_memos).where(
    source_memos.c.job_id == statements.JOB_ID, source_memos.c.key == _KEY
)
_PUT_MEMO = insert(source_memos)
_HAS_MEMO = select(source_memos.c.key).where(
    source_memos.c.job_id == statements.JOB_ID, source_memos.c.key == _KEY
)
_DONE = (
    update(fetches)
    .where(fetches.c.id == _FETCH_ID, fetches.c.owner == bindparam("holder", type_=String))
    .values(
        state=DONE,
        path=bindparam("to_path", type_=String),
        size=bindparam("to_size", type_=Integer),
        owner=None,
        lease_until=None,
        error_code=None,
        error_message=None,
        updated_at=statements.NOW,
    )
)
_GOES_ON = (
    update(jobs)
    .where(jobs.c.id == statements.JOB_ID)
    .values(wait_reason=None, blocked=False, updated_at=statements.NOW)
)
_HELD = (
    update(jobs)
    .where(jobs.c.id == statements.JOB_ID)
    .values(wait_reason=_KEY, blocked=False, paused=True, updated_at=statements.NOW)
)
_NAME_AND_PLACE = select(jobs.c.name, jobs.c.dest).where(jobs.c.id == statements.JOB_ID)
_AN_ALBUM = select(albums.c.id).where(albums.c.job_id == statements.JOB_ID)
_OTHERS_THERE = select(jobs.c.name, jobs.c.source).where(
    same_place_bound(jobs.c.dest), jobs.c.id != statements.JOB_ID
)
_RENAME = (
    update(jobs)
    .where(jobs.c.id == statements.JOB_ID)
    .values(name=bindparam("to", type_=String), updated_at=statements.NOW)
)


def _fetch_done_in(
    conn: Connection,
    fetch_id: int,
    owner: str,
    path: str | None,
    size: int | None,
    hold: str | None,
    named: InputName | None,
    note: tuple[str, str] | None,
    now: float,
) -> bool:
    """``FetchQueries.fetch_done``'s body, in ``conn``'s transaction."""
    found = sqlite_direct.execute(conn, _JOB_OF_FETCH, {"fetch_id": fetch_id}).first()
    job_id = None if found is None else int(found.job_id)
    if note is not None and job_id is not None:
        key, value = note
        sqlite_direct.execute(conn, _DROP_MEMO, {"job_id": job_id, "key": key})
        memo = {"job_id": job_id, "key": key, "value": value, "updated_at": now}
        sqlite_direct.execute(conn, _PUT_MEMO, memo)
    held = (
        hold is not None
        and job_id is not None
        and sqlite_direct.execute(conn, _HAS_MEMO, {"job_id": job_id, "key": hold}).first()
        is not None
    )
    done = {"fetch_id": fetch_id, "holder": owner, "to_path": path, "to_size": size, "now": now}
    if sqlite_direct.execute(conn, _DONE, done).rowcount != 1:
        raise LeaseLost(f"{fetches.name} {fetch_id}")
    assert job_id is not None  # the row was there: its lease was held
    if named is not None:
        name_in(conn, job_id, named, now)
    if held:
        sqlite_direct.execute(conn, _HELD, {"job_id": job_id, "key": hold, "now": now})
    else:
        sqlite_direct.execute(conn, _GOES_ON, {"job_id": job_id, "now": now})
    return held
