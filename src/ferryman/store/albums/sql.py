"""Album queries: ready items become albums; albums are claimed and delivered."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Row,
    bindparam,
    case,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ferryman.config.sections import ALBUM_WAIT_SECONDS
from ferryman.errors import FerrymanError
from ferryman.model import (
    Album,
    AlbumClaim,
    AlbumGroup,
    AlbumState,
    ItemState,
    Job,
    JobState,
    MediaKind,
    Plan,
    SinkWrite,
)
from ferryman.rules.sealing import ReadyItem, albums_to_seal, split_alone
from ferryman.store import sqlite_thread
from ferryman.store.notices.sql import JOB_WAITING, event_in
from ferryman.store.schema import albums, items, jobs
from ferryman.store.shared.rows import (
    Ended,
    LeaseLost,
    album_from_row,
    ended_item,
    item_from_row,
    job_from_row,
)
from ferryman.store.sinks.sql import put_in
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.sql.base import StoreBase
from ferryman.store.sqla_async import AsyncConnection

log = logging.getLogger(__name__)


class AlbumQueries(StoreBase):
    """Albums: sealing ready items in order, claiming, delivering, failing."""

    # -------------------------------------------------------------- albums

    async def seal_albums(
        self, job_id: int, album_size: int, *, wait: float = ALBUM_WAIT_SECONDS
    ) -> list[int]:
        """Group ready items, in archive order, into albums of at most ``album_size``
        (see ``seal_in``); the ids of the albums sealed. One hop on SQLite: begun, sealed
        and committed on its thread (the commit was a hop of its own, the housekeeper's
        look at every job the stages did not seal)."""
        return await self._transaction(seal, job_id, album_size, self.clock(), wait=wait)

    async def claim_album(self, owner: str, lease_seconds: float) -> Album | None:
        """The next sealed album with its items, read in the claim's own transaction."""
        claim = await self.claim_delivery(owner, lease_seconds)
        return claim.album if claim is not None else None

    async def claim_delivery(self, owner: str, lease_seconds: float) -> AlbumClaim | None:
        """The next sealed album with its items and what its delivery needs of its job."""
        claim = self._delivery_claim_args(owner, lease_seconds)
        return await self._transaction(_claim_delivery, *claim)

    def _delivery_claim_args(self, owner: str, lease_seconds: float) -> tuple[Any, dict[str, Any]]:
        return self._claim_args(
            albums,
            AlbumState.SEALED,
            AlbumState.DELIVERING,
            owner,
            lease_seconds,
            lambda: [self._job_runs(albums), ~_an_earlier_album_waits()],
        )

    async def album_count(self, job_id: int) -> int:
        """How many albums the job has (what captions count as its total)."""
        return int((await self._read(_ALBUM_COUNT, {"job_id": job_id}))[0][0] or 0)

    async def album_tally(self, job_id: int) -> tuple[int, int]:
        """The job's albums: how many are delivered, and how many there are."""
        delivered, count = (await self._read(_ALBUM_TALLY, {"job_id": job_id}))[0]
        return int(delivered or 0), int(count or 0)

    async def albums_no_one_delivers(self) -> list[tuple[Job, list[int]]]:
        """Each job with albums not delivered that no one delivers now, and their
        numbers: where a killed run may have left an album half-built."""
        found: dict[int, tuple[Job, list[int]]] = {}
        for row in await self._read(_UNHELD):
            found.setdefault(row.id, (job_from_row(row), []))[1].append(int(row.seq))
        return list(found.values())

    async def albums_in_flight(self, job_id: int) -> bool:
        """Whether an album of the job is sealed or being delivered (room will come)."""
        found = await self._read(statements.ALBUMS_IN_FLIGHT, {"job_id": job_id})
        return bool(found[0][0])

    async def album_delivered(
        self,
        album_id: int,
        owner: str,
        ref: str,
        *,
        ended: Mapping[int, Ended] | None = None,
        claim_next: float | None = None,
        hashes: Mapping[int, str] | None = None,
        then: Callable[[], None] | None = None,
        keep: SinkWrite | None = None,
    ) -> AlbumClaim | None:
        """The album is safe at its sink; ``ended`` items (id → state, error, kept file)
        did not go: quarantined, or failed. One transaction, so the job cannot end, and
        its work folder go, between the album's delivery and those items' record.
        ``hashes`` (item id → sha256): items staged unhashed, hashed as they were sent.
        ``keep``: the sink's records of its last request, written in it (``Delivered``).

        ``claim_next`` (a lease, in seconds): the same transaction claims the next album
        to deliver (``claim_delivery``), one commit less per album; None: nothing.
        ``then`` (blocking, raising nothing): once all that is committed, in the same
        hop on SQLite (the album's work files removed: no thread hop of their own)."""
        now = self.clock()
        params = {"album": album_id, "holder": owner, "delivered_ref": ref, "now": now}
        claim = None if claim_next is None else self._delivery_claim_args(owner, claim_next)
        return await self._transaction_then(
            then,
            _record_delivery,
            params,
            dict(ended or {}),
            claim,
            dict(hashes or {}),
            keep,
        )

    async def album_retry(
        self, album_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        extra = {"error_code": error.code, "error_message": error.message}
        await self._retry_later(
            albums, album_id, owner, AlbumState.SEALED.value, delay, extra, count=count
        )

    async def album_hand_back(self, album_id: int, owner: str) -> None:
        """An album claimed ahead, not sent, back in line as it was (untried): one of its
        job before it waits for a retry, and goes first (``_an_earlier_album_waits``)."""
        values = {"state": AlbumState.SEALED.value, "owner": None, "lease_until": None}
        async with self._write() as conn:
            with contextlib.suppress(LeaseLost):  # its lease already gone: in line anyway
                await self._update_owned(conn, albums, album_id, owner, values)

    async def album_waits_for_space(
        self, album_id: int, owner: str, job_id: int, error: FerrymanError, delay: float
    ) -> bool:
        """The destination is full: the album back in line in ``delay`` seconds,
        uncounted, and its job shows the wait (the code, and where and how much in its
        message, unless the job holds an error of its own) until an album goes out.
        Whether the wait is new: no album of the job waited for space before (a notice's
        event then, once, however often the job's shown wait is overwritten meanwhile
        by its reading's own, such as ``backlog``)."""
        now = self.clock()
        live = (JobState.QUEUED.value, JobState.READING.value, JobState.ACTIVE.value)
        async with self._write() as conn:
            before = (await conn.execute(_waiting_for(job_id, error.code))).first()
            values: dict[str, Any] = {"state": AlbumState.SEALED.value, "owner": None}
            values["lease_until"] = None
            values |= {"not_before": now + delay, "error_code": error.code}
            values["error_message"] = error.message
            await self._update_owned(conn, albums, album_id, owner, values)
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state.in_(live))
                .values(
                    wait_reason=error.code,
                    error_message=case(
                        (jobs.c.error_code.is_(None), error.message), else_=jobs.c.error_message
                    ),
                    updated_at=now,
                )
            )
            fresh = done.rowcount == 1 and before is None
            if fresh:
                await event_in(conn, JOB_WAITING, now, job_id=job_id, reason=error.code)
        return fresh

    async def end_space_wait(self, job_id: int, code: str) -> bool:
        """An album went out: the job no longer waits for space at its destination
        (``code``), unless another of its albums still does; whether it did."""
        async with self._write() as conn:
            if (await conn.execute(_waiting_for(job_id, code))).first() is not None:
                return False
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.wait_reason == code)
                .values(
                    wait_reason=None,
                    error_message=case(
                        (jobs.c.error_code.is_(None), None), else_=jobs.c.error_message
                    ),
                    updated_at=self.clock(),
                )
            )
        return done.rowcount == 1

    async def album_failed(self, album_id: int, owner: str, error: FerrymanError) -> None:
        now = self.clock()
        async with self._write() as conn:
            await conn.execute(
                update(albums)
                .where(albums.c.id == album_id, albums.c.owner == owner)
                .values(
                    state=AlbumState.FAILED.value,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                )
            )
            await conn.execute(
                update(items)
                .where(items.c.album_id == album_id)
                .values(
                    state=ItemState.FAILED.value,
                    error_code=error.code,
                    error_message=error.message,
                    updated_at=now,
                )
            )

    async def album_split(
        self,
        album_id: int,
        owner: str,
        error: FerrymanError,
        ended: Mapping[int, Ended] | None = None,
    ) -> list[int]:
        """A bug failed the album for good at a sink that vouches none of it went out.
        One transaction: the album fails with ``error``; its ``ended`` items end as given
        (the faulty file, once alone); every other item is sealed alone in a new album,
        numbered after the job's last (a new key at the sink, so nothing is taken for
        delivered), to be delivered in turn: the innocent go, the faulty one is found.
        The new albums' ids."""
        params = {"album": album_id, "holder": owner, "now": self.clock()}
        return await self._transaction(_split, params, error, dict(ended or {}))


def _split(
    conn: Connection, params: dict[str, Any], error: FerrymanError, ended: dict[int, Ended]
) -> list[int]:
    """``album_split``'s body (on SQLite's thread: one hop)."""
    album_id, now = params["album"], params["now"]
    row = conn.execute(
        update(albums)
        .where(albums.c.id == album_id, albums.c.owner == params["holder"])
        .values(
            state=AlbumState.FAILED.value,
            owner=None,
            lease_until=None,
            attempts=albums.c.attempts + 1,
            error_code=error.code,
            error_message=error.message,
        )
        .returning(albums.c.job_id, albums.c.grp, albums.c.priority)
    ).first()
    if row is None:
        raise LeaseLost(f"albums {album_id}")
    for item_id, (state, why, path) in ended.items():
        conn.execute(
            update(items)
            .where(items.c.id == item_id, items.c.album_id == album_id)
            .values(**ended_item(state, why, now, path))
        )
    rest = conn.execute(
        select(items.c.id)
        .where(items.c.album_id == album_id, items.c.state == ItemState.GROUPED.value)
        .order_by(items.c.seq)
    ).scalars()
    alone = split_alone(list(rest), ended)
    seq = conn.execute(statements.LAST_ALBUM_SEQ, {"job_id": row.job_id}).scalar_one() + 1
    group, job_id = AlbumGroup(row.grp), int(row.job_id)
    return [
        _insert_album(conn, job_id, seq + n, group, row.priority, [item_id], now)
        for n, item_id in enumerate(alone)
    ]


def _waiting_for(job_id: int, code: str) -> Any:
    """An album of the job not yet delivered whose last try met ``code``, if any."""
    undelivered = (AlbumState.SEALED.value, AlbumState.DELIVERING.value)
    return (
        select(albums.c.id)
        .where(
            albums.c.job_id == job_id,
            albums.c.error_code == code,
            albums.c.state.in_(undelivered),
        )
        .limit(1)
    )


_ALBUM_COUNT = select(func.count()).select_from(albums).where(albums.c.job_id == statements.JOB_ID)
_ALBUM_TALLY = select(
    func.count(case((albums.c.state == AlbumState.DELIVERED.value, 1))), func.count()
).where(albums.c.job_id == statements.JOB_ID)
# Jobs with albums not delivered that no one delivers now, row by album.
_UNHELD = (
    select(jobs, albums.c.seq)
    .join(albums, albums.c.job_id == jobs.c.id)
    .where(albums.c.state != AlbumState.DELIVERED.value, albums.c.owner.is_(None))
    .order_by(jobs.c.id, albums.c.seq)
)


# A full destination's wait (``engine/deliver/step.SINK_FULL``): a later, smaller album
# may fit meanwhile, so it holds no album back.
ROOM_WAIT = "sink.space_low"


def _an_earlier_album_waits() -> Any:
    """An album of the same job before it is back in line for later (a retry, a wait
    other than for room): it goes first, so the albums leave in the job's order (a chat
    reads top to bottom)."""
    earlier = albums.alias("earlier")
    return exists().where(
        earlier.c.job_id == albums.c.job_id,
        earlier.c.seq < albums.c.seq,
        earlier.c.state == AlbumState.SEALED.value,
        earlier.c.not_before > bindparam("claim_now", type_=Float),
        func.coalesce(earlier.c.error_code, "") != ROOM_WAIT,
    )


def _claim_delivery(conn: Connection, statement: Any, params: dict[str, Any]) -> AlbumClaim | None:
    """``claim_delivery``'s body: the album, its items, and what its delivery needs of its
    job, in the caller's transaction."""
    row = sqlite_direct.execute(conn, statement, params).first()
    if row is None:
        return None
    members = sqlite_direct.execute(conn, statements.ALBUM_ITEMS, {"album": row.id}).all()
    job = sqlite_direct.execute(conn, statements.DELIVERY_JOB, {"job_id": row.job_id}).one()
    return AlbumClaim(
        album_from_row(row, [item_from_row(r) for r in members]),
        job_from_row(job),
        albums=int(job.claim_albums),
        final=bool(job.read_done) and job.claim_open_items == 0,
        lease_until=float(row.lease_until),
    )


def _record_delivery(
    conn: Connection,
    params: dict[str, Any],
    ended: dict[int, Ended],
    claim: tuple[Any, dict[str, Any]] | None,
    hashes: dict[int, str] | None = None,
    keep: SinkWrite | None = None,
) -> AlbumClaim | None:
    """``album_delivered``'s body (on SQLite's thread: one hop)."""
    if sqlite_direct.execute(conn, statements.ALBUM_DELIVERED, params).rowcount != 1:
        raise LeaseLost(f"albums {params['album']}")
    if keep is not None:
        put_in(conn, keep, params["now"])
    sqlite_direct.execute(conn, statements.ITEMS_DELIVERED, {**params, "ended": list(ended)})
    if hashes:
        conn.execute(
            update(items)
            .where(
                items.c.id == bindparam("item"),
                items.c.album_id == params["album"],
                items.c.sha256.is_(None),
            )
            .values(sha256=bindparam("digest")),
            [{"item": k, "digest": v} for k, v in hashes.items()],
        )
    for item_id, (state, error, path) in ended.items():
        conn.execute(
            update(items)
            .where(items.c.id == item_id, items.c.album_id == params["album"])
            .values(**ended_item(state, error, params["now"], path))
        )
    if claim is None:
        return None
    try:  # a savepoint: a claim that fails never undoes the record before it
        with sqlite_direct.savepoint(conn):
            return _claim_delivery(conn, *claim)
    except Exception:
        log.exception("claiming the next album failed; the worker claims anew")
        return None


async def seal_in(
    conn: AsyncConnection,
    job_id: int,
    album_size: int,
    now: float,
    job_row: Row[Any] | None = None,
    *,
    wait: float = ALBUM_WAIT_SECONDS,
) -> list[int]:
    """``seal`` in the caller's transaction, in one hop to SQLite's thread."""
    return await sqlite_thread.run_sync(conn, seal, job_id, album_size, now, job_row, wait=wait)


def seal(
    conn: Connection,
    job_id: int,
    album_size: int,
    now: float,
    job_row: Row[Any] | None = None,
    *,
    wait: float = ALBUM_WAIT_SECONDS,
) -> list[int]:
    """Group ready items, in archive order, into albums of at most ``album_size``, inside
    the caller's transaction (the unpack stage seals with the entries it records).

    ``rules.sealing.albums_to_seal`` decides: an album's members in archive order among
    the items ready or still converting, full albums at once, a partial one when the
    input is read (or reading is blocked), an album holding a conversion waiting for it
    up to ``wait`` seconds after its other items are ready. ``job_row``: the job as this
    transaction already locked and read it.
    """
    job = {"job_id": job_id}
    if job_row is None:
        job_row = sqlite_direct.execute(conn, statements.JOB_FOR_SEAL, job).first()
    if job_row is None or job_row.state in (JobState.CANCELLED.value, JobState.FAILED.value):
        return []
    found = [
        ReadyItem(
            r.id,
            MediaKind(r.kind),
            Plan(r.plan) if r.plan else None,
            r.source_path,
            since=float(r.updated_at),
            pending=r.state != ItemState.READY.value,
        )
        for r in sqlite_direct.execute(conn, statements.SEAL_ITEMS, job).all()
    ]
    if all(it.pending for it in found):
        return []
    chosen = albums_to_seal(
        found,
        album_size,
        read_done=bool(job_row.read_done),
        blocked=bool(job_row.blocked),
        now=now,
        wait=wait,
    )
    if not chosen:
        return []
    next_seq = int(sqlite_direct.execute(conn, statements.LAST_ALBUM_SEQ, job).scalar_one()) + 1
    return [
        _insert_album(conn, job_id, next_seq + n, group, job_row.priority, ids, now)
        for n, (group, ids) in enumerate(chosen)
    ]


def _insert_album(
    conn: Connection,
    job_id: int,
    seq: int,
    group: AlbumGroup,
    priority: int,
    ids: Sequence[int],
    now: float,
) -> int:
    values = {
        "job_id": job_id,
        "seq": seq,
        "grp": group.value,
        "state": AlbumState.SEALED.value,
        "priority": priority,
        "created_at": now,
        "attempts": 0,
        "not_before": 0.0,
    }
    album_id = sqlite_direct.execute(conn, statements.INSERT_ALBUM, values).scalar_one()
    grouped = {"ids": list(ids), "album": album_id, "now": now}
    sqlite_direct.execute(conn, statements.GROUP_ITEMS, grouped)
    return int(album_id)
