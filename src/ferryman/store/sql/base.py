"""The store's foundation: connection, clock, claims, leases, reaping.

Claims use one query on both engines: ``UPDATE … WHERE id = (SELECT id … LIMIT 1
FOR UPDATE SKIP LOCKED) RETURNING …``. PostgreSQL skips rows another worker holds;
SQLite runs one writer at a time (``BEGIN IMMEDIATE``), so the sub-select cannot race.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    BindParameter,
    Float,
    FromClause,
    Integer,
    Row,
    String,
    Table,
    bindparam,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ferryman.clock import SYSTEM
from ferryman.model import (
    AlbumState,
    ItemState,
    JobState,
)
from ferryman.store import sqlite_thread
from ferryman.store.claimed import Claimed
from ferryman.store.jobs import fair_share
from ferryman.store.schema import albums, fetches, items, jobs, nodes, notices, watches
from ferryman.store.shared.rows import (
    Clock,
    LeaseLost,
    item_from_row,
    summarise,
)
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.sql.access import Access
from ferryman.store.sqla_async import AsyncConnection, AsyncEngine
from ferryman.store.wakeup import wake_engines

# What a worker holds (busy) and where it goes back to (ready), per claimable table.
_BUSY_TO_READY = (
    (jobs, JobState.READING.value, JobState.QUEUED.value),
    (albums, AlbumState.DELIVERING.value, AlbumState.SEALED.value),
    (items, ItemState.CONVERTING.value, ItemState.CONVERT.value),
    (fetches, "fetching", "queued"),
    (watches, "checking", "idle"),
    (notices, "sending", "queued"),
)


def _back_to_ready(which: Callable[[Table], Any]) -> list[Any]:
    """Each claimable kind's busy rows where ``which`` holds, back to ready, unowned (the
    one hand-back ``reap`` and ``release`` both make)."""
    return [
        update(table)
        .where(table.c.state == busy, which(table))
        .values(state=ready, owner=None, lease_until=None)
        for table, busy, ready in _BUSY_TO_READY
    ]


# Rows whose lease ended before ``reap_now``: built once, asked every housekeeping round.
_REAP = tuple(_back_to_ready(lambda t: t.c.lease_until < bindparam("reap_now", type_=Float)))


def _reap_rows(conn: Connection, now: float) -> int:
    return sum(sqlite_direct.execute(conn, each, {"reap_now": now}).rowcount for each in _REAP)


CLAIMED_IN = {
    Claimed.JOB: jobs,
    Claimed.FETCH: fetches,
    Claimed.ALBUM: albums,
    Claimed.ITEM: items,
    Claimed.WATCH: watches,
    Claimed.NOTICE: notices,
}


class StoreBase(Access):
    """The lease machinery every query module uses, on the ways in of ``Access``."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock = SYSTEM.now, reader: AsyncEngine | None = None
    ) -> None:
        super().__init__(engine, clock, reader)
        self._claims: dict[tuple[str, str, str, bool, str, bool], Any] = {}  # see _claim
        self._ready_looks: dict[tuple[str, str], Any] = {}  # see _none_ready

    async def wake_engines(self) -> None:
        """Tell running engines (other processes, other machines) that work was added:
        they take it now instead of at their next poll (see ``store.wake_engines``)."""

        await wake_engines(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()

    # ------------------------------------------------------- leases, claims

    async def _retry_later(
        self,
        table: Table,
        row_id: int,
        holder: str,
        ready: str,
        delay: float,
        extra: dict[str, Any],
        *,
        count: bool = True,
    ) -> None:
        """Hand a claimed row back to the queue, claimable again after ``delay`` seconds."""
        async with self.engine.begin() as conn:
            await self._update_owned(
                conn,
                table,
                row_id,
                holder,
                {
                    "state": ready,
                    "owner": None,
                    "lease_until": None,
                    "attempts": table.c.attempts + (1 if count else 0),
                    "not_before": self.clock() + delay,
                    **extra,
                },
            )

    async def _hand_back_in(self, conn: AsyncConnection, which: Callable[[Table], Any]) -> int:
        """Every claimable kind of row, from busy back to ready, where ``which`` holds."""
        moved = 0
        for statement in _back_to_ready(which):
            moved += (await conn.execute(statement)).rowcount
        return moved

    async def _update_owned(
        self, conn: AsyncConnection, table: Table, row_id: int, holder: str, values: dict[str, Any]
    ) -> None:
        """Write only while ``holder`` still holds the row's lease; else raise LeaseLost."""
        done = await conn.execute(
            update(table).where(table.c.id == row_id, table.c.owner == holder).values(**values)
        )
        if done.rowcount != 1:
            raise LeaseLost(f"{table.name} {row_id}")

    def _job_runs(self, table: FromClause) -> Any:
        """The row's job is neither paused nor ended (waiting for a password counts as
        running: what was read before the password was needed still goes out).
        """
        return exists().where(
            jobs.c.id == table.c.job_id,
            jobs.c.paused.is_(False),
            jobs.c.state.in_(
                [
                    JobState.QUEUED.value,
                    JobState.READING.value,
                    JobState.ACTIVE.value,
                    JobState.NEEDS_PASSWORD.value,
                ]
            ),
        )

    async def _claim(
        self,
        table: Table,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        where: Callable[[], Iterable[Any]] = tuple,
        started: bool = False,
        now: float | None = None,
        variant: str = "",
    ) -> Row[Any] | None:
        """Claim the first claimable row (see ``_claim_in``), in a transaction of its own:
        on SQLite one hop (the statement, then the commit, were two, SQLite's one writer
        held while the loop came back between them)."""
        statement, params = self._claim_args(
            table, ready, busy, owner, lease_seconds, where, started, now, variant
        )
        return await sqlite_thread.transaction(self.engine, _claimed_one, statement, params)

    async def _claim_in(
        self,
        conn: AsyncConnection,
        table: Table,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        where: Callable[[], Iterable[Any]] = tuple,
        started: bool = False,
        now: float | None = None,
        variant: str = "",
    ) -> Row[Any] | None:
        """Claim the first claimable row. Each kind of claim's statement is built once
        per store (its time is a parameter): building and keying it anew cost more than
        running it, and idle workers claim often. ``where`` makes the extra conditions
        (built once; use ``bindparam("claim_now")`` for the time); ``variant`` names
        another kind of claim of the same rows (other conditions, its own statement)."""
        statement, params = self._claim_args(
            table, ready, busy, owner, lease_seconds, where, started, now, variant
        )
        return (await conn.execute(statement, params)).first()

    async def _none_ready(self, table: Table, ready: str) -> bool:
        """Whether no row of ``table`` is in the ``ready`` state, read on the reader: the
        claims of an idle stage (a conversion, a watch, looked for after every read) need
        not queue on the one writer behind the busy stages' commits when nothing waits.
        A row made ready just after is the next wake-up's or poll's, as it would be if
        the claim had run a moment earlier. Always False on a store of one engine
        (PostgreSQL: claims skip locked rows, no writer to queue on)."""
        if not self._reads_apart:
            return False
        key = (table.name, ready)
        statement = self._ready_looks.get(key)
        if statement is None:  # built once per kind, as the claims are
            look = select(table.c.id).where(table.c.state == ready).limit(1)
            statement = self._ready_looks[key] = look
        return not await self._read(statement, {})

    async def _claim_many(
        self,
        table: Table,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        limit: int,
        where: Callable[[], Iterable[Any]] = tuple,
        started: bool = False,
        now: float | None = None,
        variant: str = "",
    ) -> list[Row[Any]]:
        """Up to ``limit`` claimable rows in one transaction, in the claims' order:
        a worker that runs several units at once takes them with one commit, not one each.
        A job's or a fetch's claim first looks whether two people's rows wait, in the same
        hop, and then shares between them fairly (``fair_share``)."""
        many = limit > 1
        args = (table, ready, busy, owner, lease_seconds, where, started, now)
        statement, params = self._claim_args(*args, variant, many=many)
        gate = fair_share.GATES.get(table.name)
        people = statement
        if gate is not None:
            people, _ = self._claim_args(*args, variant + fair_share.PEOPLE, many=many)
        if many:
            params |= {"claim_limit": limit}
        claim = (gate, statement, people, params, many)
        rows = await sqlite_thread.transaction(self.engine, _claim_rows, *claim)
        if not many:
            return rows
        order = _BEHIND_FIRST.get(table.name)

        def rank(row: Row[Any]) -> tuple[Any, ...]:
            return (-row.priority, row._mapping[order] if order else 0, row.id)

        return sorted(rows, key=rank)

    def _claim_args(
        self,
        table: Table,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        where: Callable[[], Iterable[Any]] = tuple,
        started: bool = False,
        now: float | None = None,
        variant: str = "",
        many: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """The claim's statement (built once per kind) and its parameters for ``now``
        (the clock's time unless given); ``many``: of up to ``claim_limit`` rows."""
        key = (table.name, ready, busy, started, variant, many)
        statement = self._claims.get(key)
        if statement is None:
            people = variant.endswith(fair_share.PEOPLE)
            statement = _claim_statement(table, ready, busy, where, started, many, people)
            self._claims[key] = statement
        now = self.clock() if now is None else now
        params = {"claim_now": now, "claim_owner": owner, "claim_until": now + lease_seconds}
        return statement, params

    async def renew(
        self, kind: Claimed, row_id: int, owner: str, lease_seconds: float
    ) -> bool | None:
        """Heartbeat: push the lease forward; False means another worker has it now,
        None that none does (a cancel took it back, the row is gone)."""
        table = CLAIMED_IN[kind]
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(table)
                .where(table.c.id == row_id, table.c.owner == owner)
                .values(lease_until=self.clock() + lease_seconds)
            )
            if done.rowcount == 1:
                return True
            found = await conn.execute(select(table.c.owner).where(table.c.id == row_id))
            return None if found.scalar_one_or_none() is None else False

    async def reap(self) -> int:
        """Give expired leases' work back to the queue; returns how many rows moved.
        Every housekeeping round asks, so on SQLite it is one hop of ``sqlite_direct``
        statements (six statements through SQLAlchemy's execution were six hops)."""
        return await sqlite_thread.transaction(self.engine, _reap_rows, self.clock())

    async def release(self, owner: str | None, *, stopped: bool = False) -> int:
        """Hand back everything ``owner`` holds (a graceful stop): claimable at once.
        ``None``: every holder's (the data dir's lock shows none of them runs now).
        ``stopped``: ``owner``'s run is recorded as stopped too: a stop's last writes
        are one commit (three were, one after another, after its last step)."""

        def held(table: Table) -> Any:
            return table.c.owner.is_not(None) if owner is None else table.c.owner == owner

        async with self.engine.begin() as conn:
            # before the hand-back clears the owner
            await conn.execute(
                update(jobs).where(held(jobs)).values(blocked=False, wait_reason=None)
            )
            moved = await self._hand_back_in(conn, held)
            if stopped and owner is not None:
                await conn.execute(
                    update(nodes).where(nodes.c.owner == owner).values(stopped_at=self.clock())
                )
        return moved

    async def _store_summary(self, conn: AsyncConnection, job_id: int, now: float) -> None:
        await conn.run_sync(store_summary, job_id, now)


def store_summary(conn: Connection, job_id: int, now: float) -> None:
    """The job's report (``summarise``) of its row and items, stored in its row."""
    job = sqlite_direct.execute(conn, statements.GET_JOB, {"job_id": job_id}).one()
    found = sqlite_direct.execute(conn, _JOB_ITEMS, {"job_id": job_id}).all()
    summary = summarise(job, [item_from_row(r) for r in found], now)
    sqlite_direct.execute(conn, _SUMMARY, {"job_id": job_id, "to": json.dumps(summary)})


_JOB_ITEMS = select(items).where(items.c.job_id == statements.JOB_ID).order_by(items.c.seq)
_SUMMARY = (
    update(jobs).where(jobs.c.id == statements.JOB_ID).values(summary=bindparam("to", type_=String))
)


# Fair turns across jobs: among rows of equal priority, the one furthest behind in its own
# job goes first (an album's or item's place in its job, a job's read so far), then the
# oldest. A job's next album is its seq-th, so a one-album link goes before the 41st
# album of a 500-photo archive added earlier, and two jobs level with each other take
# turns; within a job the order stays its own (seq follows id).
_BEHIND_FIRST = {"albums": "seq", "items": "seq", "jobs": "cursor"}


def _behind_first(table: Table) -> list[Any]:
    column = _BEHIND_FIRST.get(table.name)
    return [] if column is None else [table.c[column]]


def claim_pick(
    table: Table,
    ready: str,
    where: Callable[[], Iterable[Any]] = tuple,
    many: bool = False,
    people: bool = False,
) -> Any:
    """The first claimable row's id (``many``: the first ``claim_limit``), in the
    claims' order: a ``*_claim`` index on (state, priority DESC, turn, id) reads it
    without sorting (schema step 11)."""
    now: BindParameter[float] = bindparam("claim_now", type_=Float)
    picked, person = select(table.c.id), list[Any]()
    if people:  # several people's rows wait: the one with fewest under way first (``fair_share``)
        picked, person = fair_share.joined(picked, table)
    return (
        picked.where(table.c.state == ready, table.c.not_before <= now, *where())
        .order_by(table.c.priority.desc(), *person, *_behind_first(table), table.c.id)
        .limit(bindparam("claim_limit", type_=Integer) if many else 1)
        .with_for_update(skip_locked=True, of=table)
    )


def _claim_rows(
    conn: Connection, gate: Any, plain: Any, people: Any, params: dict[str, Any], many: bool
) -> list[Any]:
    """A claim's rows: ``people``'s statement when ``gate`` finds two people's rows
    waiting, else ``plain``'s (the claim index's order, read no further than needed)."""
    several = gate is not None and fair_share.several(sqlite_direct.execute(conn, gate, {}).one())
    found = sqlite_direct.execute(conn, people if several else plain, params)
    if many:
        return list(found.all())
    first = found.first()
    return [] if first is None else [first]


def _claimed_one(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    """A claim's statement (on SQLite's thread, through ``sqlite_direct``): the row or None."""
    return sqlite_direct.execute(conn, statement, params).first()


def _claim_statement(
    table: Table,
    ready: str,
    busy: str,
    where: Callable[[], Iterable[Any]],
    started: bool,
    many: bool = False,
    people: bool = False,
) -> Any:
    """``UPDATE … WHERE id = (the first claimable row) RETURNING …`` (``many``: ``id IN``
    the first ``claim_limit``), with the time, the owner and the lease's end as
    parameters."""
    now: BindParameter[float] = bindparam("claim_now", type_=Float)
    picked = claim_pick(table, ready, where, many, people)
    chosen = table.c.id.in_(picked) if many else table.c.id == picked.scalar_subquery()
    values: dict[str, Any] = {
        "state": busy,
        "owner": bindparam("claim_owner", type_=String),
        "lease_until": bindparam("claim_until", type_=Float),
    }
    if started:  # a job: remember when it first started, forget why it last waited
        values["started_at"] = func.coalesce(table.c.started_at, now)
        values["read_claims"] = table.c.read_claims + 1  # past 1: resumed
        values["wait_reason"] = None
        values["blocked"] = False
    return update(table).where(chosen).values(**values).returning(*table.c)
