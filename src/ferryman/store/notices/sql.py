"""The notices' outbox: written when an event happens, sent by the engine's notifier.

A notice starts as an *event row* (``event_in``), written in the very transaction of
the state change it tells of (a job's end, a wait on the person, a watch's check), so a
crash can neither lose it nor leave one for a change that did not commit. An event row
has no URL yet: the notifier makes it into the notices proper (``prepare_event``: one
row per target URL, with the title, body and view) in one transaction that deletes the
event row, so each event becomes notices once, whichever node prepares it.

The notifier claims due notices with a lease (like every other claimed unit of work;
``reap`` hands back those of a node that died), and on a failed delivery hands them
back with a growing wait, or gives up after the tries it is allowed. A job's end may go
out in a digest: claiming one such row also claims the others for the same URL that
fall due within the digest's window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from ferryman.error_codes import ASKS as ASKS  # re-exported: the waits that make a notice
from ferryman.store.schema import jobs, notices
from ferryman.store.sql import sqlite_direct
from ferryman.store.sql.base import StoreBase

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
EVENT_URL = ""  # an event row's URL: not a notice yet, never claimed for sending
# The events a notice tells of (an event row's kind).
JOB_ENDED, JOB_WAITING = "job_ended", "job_waiting"
WATCH_FOUND, WATCH_FAILING = "watch_found", "watch_failing"


async def event_in(
    conn: AsyncConnection,
    kind: str,
    now: float,
    *,
    job_id: int | None = None,
    watch_id: int | None = None,
    **facts: Any,
) -> None:
    """Record, in the caller's transaction (the state change's own), that ``kind``
    happened: the notifier makes notices of it. ``facts``: what only the moment knows
    (a wait's reason, a check's jobs and titles); the job's view is read when prepared."""
    await conn.run_sync(record_event, kind, now, job_id=job_id, watch_id=watch_id, **facts)


def record_event(
    conn: Connection,
    /,
    kind: str,
    now: float,
    *,
    job_id: int | None = None,
    watch_id: int | None = None,
    **facts: Any,
) -> None:
    """``event_in`` on a synchronous connection (a transaction run whole on SQLite's
    thread: ``sqlite_thread.transaction``)."""
    row = {
        "kind": kind,
        "url": EVENT_URL,
        "job_id": job_id,
        "watch_id": watch_id,
        "digest": 0,
        "payload": json.dumps({"at": now, **facts}),
        "state": QUEUED,
        "priority": 0,
        "created_at": now,
        "attempts": 0,
        "not_before": now,
    }
    sqlite_direct.execute(conn, _AN_EVENT, row)


async def _insert_notices(
    conn: AsyncConnection,
    now: float,
    kind: str,
    urls: Sequence[str],
    payload: dict[str, Any],
    job_id: int | None,
    watch_id: int | None,
    digest: bool,
    delay: float,
) -> list[int]:
    made: list[int] = []
    for url in urls:
        row = await conn.execute(
            insert(notices)
            .values(
                kind=kind,
                url=url,
                job_id=job_id,
                watch_id=watch_id,
                digest=1 if digest else 0,
                payload=json.dumps(payload),
                state=QUEUED,
                priority=0,
                created_at=now,
                attempts=0,
                not_before=now + delay,
            )
            .returning(notices.c.id)
        )
        made.append(row.scalar_one())
    return made


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    kind: str
    url: str
    job_id: int | None
    watch_id: int | None
    digest: bool
    payload: dict[str, Any]
    state: str
    attempts: int
    error_message: str | None
    created_at: float
    sent_at: float | None


def _notice(row: Any) -> Notice:
    return Notice(
        id=row.id,
        kind=row.kind,
        url=row.url,
        job_id=row.job_id,
        watch_id=row.watch_id,
        digest=bool(row.digest),
        payload=json.loads(row.payload),
        state=row.state,
        attempts=row.attempts,
        error_message=row.error_message,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


class NoticeQueries(StoreBase):
    async def add_notices(
        self,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        job_id: int | None = None,
        watch_id: int | None = None,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int]:
        """One queued notice per URL, due after ``delay`` seconds (a digest's window)."""
        async with self._write() as conn:
            return await _insert_notices(
                conn, self.clock(), kind, urls, payload, job_id, watch_id, digest, delay
            )

    async def notice_events(self, limit: int = 100) -> list[Notice]:
        """Event rows not yet made into notices, oldest first."""
        return [_notice(r) for r in await self._read(_EVENTS, {"limit": limit})]

    async def prepare_event(
        self,
        event_id: int,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int] | None:
        """The event row becomes its notices (none: ``urls`` empty), in one transaction;
        None when another notifier prepared it first (nothing written)."""
        async with self._write() as conn:
            taken = await conn.execute(
                delete(notices)
                .where(notices.c.id == event_id, notices.c.url == EVENT_URL)
                .returning(notices.c.job_id, notices.c.watch_id)
            )
            row = taken.first()
            if row is None:
                return None
            return await _insert_notices(
                conn, self.clock(), kind, urls, payload, row.job_id, row.watch_id, digest, delay
            )

    async def drop_events(self, event_ids: Sequence[int]) -> int:
        """Event rows that make no notice (no target) go, all in one transaction (one
        each was a commit per job ended); those another notifier prepared first are
        not touched. Returns how many went."""
        return await self._transaction(_drop, list(event_ids))  # one hop

    async def claim_notices(
        self, owner: str, lease_seconds: float, digest_seconds: float
    ) -> list[Notice]:
        """The first due notice, with (for a job's end) the other job ends to the same
        URL due within ``digest_seconds`` from now; [] when none is due. On SQLite, read
        first on the reader: with no notice queued (no target: the usual case) the
        notifier's round after every job's end took a write on the one writer, behind
        the stages' commits, for nothing. A notice queued just after is the next round's,
        as if this claim had run a moment earlier."""
        if self._reads_apart and not await self._read(_A_QUEUED_NOTICE):
            return []
        async with self._write() as conn:
            first = await self._claim_in(
                conn, notices, QUEUED, SENDING, owner, lease_seconds, _not_an_event
            )
            if first is None:
                return []
            claimed = [_notice(first)]
            if first.digest and digest_seconds > 0:
                now = self.clock()
                more = (
                    update(notices)
                    .where(
                        notices.c.state == QUEUED,
                        notices.c.digest == 1,
                        notices.c.url == first.url,
                        notices.c.not_before <= now + digest_seconds,
                    )
                    .values(state=SENDING, owner=owner, lease_until=now + lease_seconds)
                    .returning(*notices.c)
                )
                claimed += [_notice(r) for r in (await conn.execute(more)).all()]
            return sorted(claimed, key=lambda n: n.id)

    async def notices_sent(self, ids: Sequence[int], owner: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.id.in_(ids), notices.c.owner == owner)
                .values(state=SENT, sent_at=self.clock(), owner=None, lease_until=None)
            )

    async def notices_failed(
        self,
        ids: Sequence[int],
        owner: str,
        message: str,
        delay: float,
        *,
        give_up: bool,
        count: bool = True,
    ) -> None:
        """A delivery failed: due again after ``delay``, or given up (``failed``).
        ``count=False``: not tried, only handed back (its error kept)."""
        values: dict[str, Any] = {
            "state": FAILED if give_up else QUEUED,
            "not_before": self.clock() + delay,
            "owner": None,
            "lease_until": None,
        }
        if count:
            values |= {"error_message": message[:2000], "attempts": notices.c.attempts + 1}
        async with self._write() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.id.in_(ids), notices.c.owner == owner)
                .values(**values)
            )

    async def notices_due_now(self, within: float) -> int:
        """Job ends waiting out a digest's window (never tried) are due now: a stopping
        engine sends them instead of leaving them to the next run."""
        now = self.clock()
        async with self._write() as conn:
            done = await conn.execute(
                update(notices)
                .where(
                    notices.c.state == QUEUED,
                    notices.c.digest == 1,
                    notices.c.attempts == 0,
                    notices.c.not_before <= now + within,
                )
                .values(not_before=now)
            )
            return done.rowcount

    async def list_notices(self, state: str | None = None) -> list[Notice]:
        """The notices (not the events still to be made into notices)."""
        if state is None:
            found = await self._read(_NOTICES)
        else:
            found = await self._read(_NOTICES_IN, {"state": state})
        return [_notice(r) for r in found]

    async def job_notify(self, job_id: int) -> str | None:
        """The job's own notice targets (``--notify``), or None: the settings'."""
        found = await self._read(_JOB_NOTIFY, {"job_id": job_id})
        value: str | None = found[0][0] if found else None
        return value

    async def forget_sent_notices(self, before: float) -> int:
        """Sent notices older than ``before`` go (the outbox is not a history)."""
        async with self._write() as conn:
            done = await conn.execute(
                delete(notices).where(notices.c.state == SENT, notices.c.sent_at < before)
            )
            return done.rowcount


_AN_EVENT = insert(notices)
_NOTICES = select(notices).where(notices.c.url != EVENT_URL).order_by(notices.c.id)
_NOTICES_IN = _NOTICES.where(notices.c.state == bindparam("state", type_=String))
_EVENTS = (
    select(notices)  # the state first: the claim's index finds them
    .where(notices.c.state == QUEUED, notices.c.url == EVENT_URL)
    .order_by(notices.c.id)
    .limit(bindparam("limit", type_=Integer))
)
_JOB_NOTIFY = select(jobs.c.notify).where(jobs.c.id == bindparam("job_id", type_=Integer))
_A_QUEUED_NOTICE = (
    select(notices.c.id).where(notices.c.state == QUEUED, notices.c.url != EVENT_URL).limit(1)
)


def _drop(conn: Connection, event_ids: list[int]) -> int:
    """``drop_events``' transaction (on SQLite's thread: one hop, two before)."""
    gone = conn.execute(
        delete(notices).where(notices.c.id.in_(event_ids), notices.c.url == EVENT_URL)
    )
    return int(gone.rowcount or 0)


def _not_an_event() -> tuple[Any, ...]:
    return (notices.c.url != EVENT_URL,)
