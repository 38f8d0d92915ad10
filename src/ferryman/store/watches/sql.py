"""Watches: sources checked on a schedule, and what each has seen.

Exactly once rests on one transaction per batch of new entries: the jobs a batch makes
and the ``watch_seen`` rows that name them are written together, and only while the
checker still holds the watch's lease; the check's last transaction also writes the
watch's next check. A check that dies halfway keeps the batches it wrote (the next one
lists again and finds the rest new); two checkers cannot both hold the lease, and
should one write after losing it, its transaction fails (``LeaseLost``) before
anything lands. The seen rows' primary key is the last guard.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Row, String, bindparam, delete, insert, select, update

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, Job, JobState
from ferryman.store import sqlite_thread
from ferryman.store.notices.sql import WATCH_FAILING, WATCH_FOUND, event_in
from ferryman.store.schema import items, jobs, watch_seen, watches
from ferryman.store.sql import statements
from ferryman.store.sql.base import StoreBase
from ferryman.store.sqla_async import AsyncConnection
from ferryman.store.watches.records import WatchJob, entry_key, seen_in

__all__ = ["CHECKING", "IDLE", "Made", "Watch", "WatchJob", "WatchQueries", "entry_key"]

IDLE, CHECKING = "idle", statements.WATCH_CHECKING


@dataclass(frozen=True, slots=True)
class Watch:
    """One watch as the store keeps it (``watch list`` shows these)."""

    id: int
    kind: str
    source: str
    dest: str
    profile: str | None  # the output profile's token (``links.profile``), or None
    every_seconds: float
    window: str | None
    since: str
    match: str | None
    skip_match: str | None
    min_duration: float | None
    max_duration: float | None
    paused: bool
    primed: bool
    next_check_at: float
    last_check_at: float | None
    last_ok_at: float | None
    last_code: str | None
    last_message: str | None
    failures: int
    found: int
    created_at: float
    owner: str | None = None
    lease_until: float | None = None
    notify: str | None = None  # where its notices (and its jobs') go: URLs, "none"; None: settings
    after_delivery: str | None = None  # a folder's file once delivered: delete, move:DIR


def _watch(row: Row[Any]) -> Watch:
    return Watch(
        id=row.id,
        kind=row.kind,
        source=row.source,
        dest=row.dest,
        profile=row.profile,
        every_seconds=row.every_seconds,
        window=row.window,
        since=row.since,
        match=row.match,
        skip_match=row.skip_match,
        min_duration=row.min_duration,
        max_duration=row.max_duration,
        paused=bool(row.paused),
        primed=bool(row.primed),
        next_check_at=row.next_check_at,
        last_check_at=row.last_check_at,
        last_ok_at=row.last_ok_at,
        last_code=row.last_code,
        last_message=row.last_message,
        failures=row.failures,
        found=row.found,
        created_at=row.created_at,
        owner=row.owner,
        lease_until=row.lease_until,
        notify=row.notify,
        after_delivery=row.after_delivery,
    )


@dataclass(frozen=True, slots=True)
class Made:
    """What a check's record wrote: each new entry's job (None: marked seen only)."""

    jobs: list[tuple[str, Job | None]]  # (entry id, its job)


def _not_found(watch_id: int) -> FerrymanError:
    return FerrymanError("watch.not_found", f"there is no watch {watch_id}")


class WatchQueries(StoreBase):
    async def add_watch(self, **values: Any) -> Watch:
        """Record a watch; its first check is due at ``next_check_at`` (given)."""
        now = self.clock()
        row_values = {
            "state": IDLE,
            "paused": False,
            "priority": 0,
            "primed": False,
            "failures": 0,
            "found": 0,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "not_before": 0.0,
            **values,
        }
        async with self._write() as conn:
            row = (
                await conn.execute(insert(watches).values(**row_values).returning(*watches.c))
            ).one()
        await self.wake_engines()
        return _watch(row)

    async def get_watch(self, watch_id: int) -> Watch:
        found = await self._read(_WATCH, {"watch_id": watch_id})
        if not found:
            raise _not_found(watch_id)
        return _watch(found[0])

    async def list_watches(self) -> list[Watch]:
        return [_watch(r) for r in await self._read(_WATCHES)]

    async def watch_seen_rows(self, watch_id: int) -> list[tuple[str, int | None]]:
        """(entry id, job id) of everything the watch has seen, in the order seen."""
        found = await self._read(_SEEN_ROWS, {"watch_id": watch_id})
        return [(r.entry_id, r.job_id) for r in found]

    async def set_watch_paused(self, watch_id: int, paused: bool) -> Watch:
        """Pause (no checks) or resume (due at once) a watch."""
        now = self.clock()
        values: dict[str, Any] = {"paused": paused, "updated_at": now}
        if not paused:
            values |= {"next_check_at": now, "failures": 0}
        async with self._write() as conn:
            done = await conn.execute(
                update(watches).where(watches.c.id == watch_id).values(**values)
            )
            if done.rowcount != 1:
                raise _not_found(watch_id)
        if not paused:
            await self.wake_engines()
        return await self.get_watch(watch_id)

    async def remove_watch(self, watch_id: int) -> None:
        """Forget a watch and what it saw; the jobs it made stay."""
        async with self._write() as conn:
            await conn.execute(delete(watch_seen).where(watch_seen.c.watch_id == watch_id))
            done = await conn.execute(delete(watches).where(watches.c.id == watch_id))
            if done.rowcount != 1:
                raise _not_found(watch_id)

    async def claim_watch(
        self, owner: str, lease_seconds: float, watch_id: int | None = None
    ) -> Watch | None:
        """A due, unpaused watch nobody checks now (or, with ``watch_id``, that one
        whenever it is due: ``watch check ID``), leased to ``owner``."""
        if watch_id is None:
            if await self._none_ready(watches, IDLE):
                return None
            row = await self._claim(
                watches,
                IDLE,
                CHECKING,
                owner,
                lease_seconds,
                lambda: [
                    watches.c.paused.is_(False),
                    watches.c.next_check_at <= bindparam("claim_now"),
                ],
            )
            return _watch(row) if row is not None else None
        now = self.clock()
        async with self._write() as conn:
            row = (
                await conn.execute(
                    update(watches)
                    .where(watches.c.id == watch_id, watches.c.state == IDLE)
                    .values(state=CHECKING, owner=owner, lease_until=now + lease_seconds)
                    .returning(*watches.c)
                )
            ).first()
            if row is None:
                await self._exists(conn, watch_id)
        return _watch(row) if row is not None else None

    async def _exists(self, conn: AsyncConnection, watch_id: int) -> None:
        found = await conn.execute(select(watches.c.id).where(watches.c.id == watch_id))
        if found.first() is None:
            raise _not_found(watch_id)

    async def watch_seen_among(self, watch_id: int, keys: Collection[str]) -> set[str]:
        """Which of ``keys`` (``entry_key``) the watch has seen: a check asks batch by
        batch rather than holding every key of a long-watched source at once."""
        if not keys:
            return set()
        found = await self._read(_SEEN_AMONG, {"watch_id": watch_id, "keys": list(keys)})
        return {key for (key,) in found}

    async def watch_delivered(self, watch_id: int, keys: Collection[str]) -> dict[str, int]:
        """Which of ``keys`` the watch saw with a job that ended done, every item of it
        delivered, and that job: a folder's file may then be moved or deleted once its
        destination holds it (``after_delivery``), never before and never when any of
        its job failed, was quarantined or left out."""
        if not keys:
            return {}
        found = await self._read(_DELIVERED_AMONG, {"watch_id": watch_id, "keys": list(keys)})
        return {key: job_id for key, job_id in found}

    async def watch_recorded(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        *,
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made:
        """One batch of a check's new entries (their jobs, fetch and seen rows) in a short
        transaction of its own, while ``owner`` holds the lease: a source with thousands
        of new entries is taken in batch by batch, the store free between them, and a
        check cut between batches keeps what it recorded (the seen rows are its place).
        The batch's new entries become one job named ``name`` (``seen_in``)."""
        now = self.clock()
        async with self._write() as conn:
            await self._update_owned(conn, watches, watch_id, owner, {"updated_at": now})
            made, _ = await sqlite_thread.run_sync(conn, seen_in, watch_id, new, now, name, peers)
        if any(job is not None for _, job in made):
            await self.wake_engines()
        return Made(made)

    async def watch_checked(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        next_at: float,
        *,
        message: str | None = None,
        primed: bool = True,
        in_notice: Sequence[tuple[int, str]] = (),
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made:
        """Record a successful check, in one transaction while ``owner`` holds the
        lease: each new entry's job (its fetch row too) and its seen row, then the
        watch's next check. An entry seen meanwhile is left alone; an entry whose input
        is already a job to the same place (its dedupe key) is marked seen with that job;
        the others become one job named ``name`` (``seen_in``; ``peers``: watches of the
        same source to the same place, whose jobs an entry may already be in).
        ``in_notice``: (job, title) of entries the check made part of jobs in earlier batches
        (``watch_recorded``), told in this check's one notice; ``primed`` False: a
        first check carried over to the next pass (its ``--since`` still applies)."""
        now = self.clock()
        async with self._write() as conn:
            await self._update_owned(
                conn,
                watches,
                watch_id,
                owner,
                {
                    "state": IDLE,
                    "owner": None,
                    "lease_until": None,
                    "primed": primed,
                    "next_check_at": next_at,
                    "last_check_at": now,
                    "last_ok_at": now,
                    "last_code": None,
                    "last_message": message,
                    "failures": 0,
                    "attempts": 0,
                    "updated_at": now,
                },
            )
            made, in_notice_now = await sqlite_thread.run_sync(
                conn, seen_in, watch_id, new, now, name, peers
            )
            in_notice = [*in_notice, *in_notice_now]
            if in_notice:  # one notice for the check: its job(s), its entries' titles
                jobs_made = tuple(dict.fromkeys(job for job, _ in in_notice))
                titles = tuple(title for _, title in in_notice)
                await event_in(
                    conn, WATCH_FOUND, now, watch_id=watch_id, jobs=jobs_made, titles=titles
                )
        if any(job is not None for _, job in made):
            await self.wake_engines()
        return Made(made)

    async def watch_failed(
        self,
        watch_id: int,
        owner: str,
        error: FerrymanError,
        next_at: float,
        *,
        count: bool = True,
    ) -> None:
        """The check could not list the source (or waits on the device): nothing seen
        changes, the next check is at ``next_at``; ``count`` adds to the failures in a
        row that the backoff grows with (a device wait does not)."""
        now = self.clock()
        values: dict[str, Any] = {
            "state": IDLE,
            "owner": None,
            "lease_until": None,
            "next_check_at": next_at,
            "last_check_at": now,
            "last_code": error.code,
            "last_message": error.message,
            "updated_at": now,
        }
        if count:
            values["failures"] = watches.c.failures + 1
        async with self._write() as conn:
            before = await conn.execute(select(watches.c.failures).where(watches.c.id == watch_id))
            fine_until_now = before.scalar() == 0
            await self._update_owned(conn, watches, watch_id, owner, values)
            if count and fine_until_now:  # said once, when a watch that was fine fails
                await event_in(
                    conn,
                    WATCH_FAILING,
                    now,
                    watch_id=watch_id,
                    code=error.code,
                    message=error.message,
                    next_at=next_at,
                )

    async def watch_moved(self, watch_id: int, owner: str, next_at: float) -> None:
        """Not checked now (outside its window): the next check is at ``next_at``."""
        values = {"state": IDLE, "owner": None, "lease_until": None, "next_check_at": next_at}
        async with self._write() as conn:
            await self._update_owned(conn, watches, watch_id, owner, values)

    async def watch_due(self, watch_id: int, at: float) -> bool:
        """Look at an idle, unpaused watch no later than ``at`` (its source said it
        changed: a folder's change notice); whether it was moved sooner. Its window and
        the device still decide at the check, as for any look."""
        async with self._write() as conn:
            done = await conn.execute(
                update(watches)
                .where(
                    watches.c.id == watch_id,
                    watches.c.state == IDLE,
                    watches.c.paused.is_(False),
                    watches.c.next_check_at > at,
                )
                .values(next_check_at=at)
            )
        return done.rowcount == 1

    async def watches_idle(self) -> bool:
        """No watch is due or being checked (``run --until-idle`` checks due ones once)."""
        found = await self._read(statements.WATCHES_BUSY, {"now": self.clock()})  # one hop
        return int(found[0][0]) == 0


_WATCH_ID = bindparam("watch_id", type_=Integer)
_KEYS = bindparam("keys", type_=String, expanding=True)
_WATCH = select(watches).where(watches.c.id == _WATCH_ID)
_WATCHES = select(watches).order_by(watches.c.id)
_SEEN_ROWS = (
    select(watch_seen.c.entry_id, watch_seen.c.job_id)
    .where(watch_seen.c.watch_id == _WATCH_ID)
    .order_by(watch_seen.c.seen_at, watch_seen.c.entry_id)
)
_SEEN_AMONG = select(watch_seen.c.entry_key).where(
    watch_seen.c.watch_id == _WATCH_ID, watch_seen.c.entry_key.in_(_KEYS)
)
# Of the keys, those seen with a job that ended done, every item of it delivered.
_DELIVERED_AMONG = (
    select(watch_seen.c.entry_key, watch_seen.c.job_id)
    .join(jobs, jobs.c.id == watch_seen.c.job_id)
    .where(
        watch_seen.c.watch_id == _WATCH_ID,
        watch_seen.c.entry_key.in_(_KEYS),
        jobs.c.state == JobState.DONE.value,
        ~select(items.c.id)
        .where(items.c.job_id == jobs.c.id, items.c.state != ItemState.DELIVERED.value)
        .exists(),
    )
)
