"""What a sink keeps in the store (``sinks.base.SinkState``), and nothing else of it.

One object per sink, scoped to its scheme: generic rows in ``sink_records`` (keyed by
sink, job and key, removed with their job, album or item by ``ON DELETE CASCADE``) and
``sink_waits``. A sink that keeps state therefore needs no table, migration or store
method of its own, and removing a job names no sink.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Insert, Integer, String, bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from ferryman.model import SinkRecord, SinkWrite, UploadBook
from ferryman.store.schema import sink_records, sink_waits
from ferryman.store.shared.rows import Clock
from ferryman.store.sinks.uploads import SinkUploads
from ferryman.store.sql import sqlite_direct
from ferryman.store.sqla_async import AsyncEngine


class KeptForSink(UploadBook, Protocol):
    """``sinks.base.SinkState`` as the store names it (the store imports no sink): what
    both stores hand a sink, the SQL one (``StoredSinkState``) and the memory one."""

    sink: str

    def now(self) -> float: ...
    async def records(
        self, job_id: int, *, album_id: int | None = None, item_id: int | None = None
    ) -> list[SinkRecord]: ...
    async def claim(self, job_id: int, records: Sequence[SinkRecord]) -> list[SinkRecord]: ...
    async def put(
        self, job_id: int, records: Sequence[SinkRecord] = (), *, forget: Sequence[str] = ()
    ) -> None: ...
    async def wait_until(self, scopes: Sequence[str]) -> float: ...
    async def set_wait(self, scope: str, not_before: float, reason: str) -> None: ...


class StoredSinkState(SinkUploads):
    """``SinkState`` on the store's engines for the sink ``sink`` (its big uploads under
    way in ``SinkUploads``)."""

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine, clock: Clock, sink: str) -> None:
        super().__init__(engine, clock, reader)
        self.sink = sink

    def now(self) -> float:
        return self.clock()

    # ------------------------------------------------------------- records

    async def records(
        self, job_id: int, *, album_id: int | None = None, item_id: int | None = None
    ) -> list[SinkRecord]:
        query = _RECORDS[album_id is not None, item_id is not None]
        params = {"sink": self.sink, "job_id": job_id, "album_id": album_id, "item_id": item_id}
        rows = await self._read(query, {k: v for k, v in params.items() if v is not None})
        # Sorted here: an ORDER BY key made SQLite walk the job's records by primary key
        # instead of the album's or item's index.
        return sorted((_record(row) for row in rows), key=lambda r: r.key)

    async def claim(self, job_id: int, records: Sequence[SinkRecord]) -> list[SinkRecord]:
        if not records:
            return []
        keys = [r.key for r in records]
        rows = await self._transaction(_claim, self._rows(job_id, records), self.sink, job_id, keys)
        stored = {row.key: _record(row) for row in rows}
        return [stored[key] for key in keys]

    async def put(
        self, job_id: int, records: Sequence[SinkRecord] = (), *, forget: Sequence[str] = ()
    ) -> None:
        gone = sorted({*forget, *(r.key for r in records)})
        if gone or records:
            await self._transaction(_put, self.sink, job_id, gone, self._rows(job_id, records))

    def _rows(self, job_id: int, records: Sequence[SinkRecord]) -> list[dict[str, Any]]:
        return _rows_of(self.sink, job_id, records, self.clock())

    # --------------------------------------------------------------- waits

    async def wait_until(self, scopes: Sequence[str]) -> float:
        found = await self._read(_WAITS, {"sink": self.sink, "scopes": list(scopes)})
        return max((not_before for (not_before,) in found), default=0.0)

    async def set_wait(self, scope: str, not_before: float, reason: str) -> None:
        row = {
            "sink": self.sink,
            "scope": scope,
            "not_before": not_before,
            "reason": reason,
            "updated_at": self.clock(),
        }
        await self._transaction(_set_wait, row)


_SINK = bindparam("sink", type_=String)
_OF_JOB = select(sink_records).where(
    sink_records.c.sink == _SINK, sink_records.c.job_id == bindparam("job_id", type_=Integer)
)
_OF_ALBUM = sink_records.c.album_id == bindparam("album_id", type_=Integer)
_OF_ITEM = sink_records.c.item_id == bindparam("item_id", type_=Integer)
# ``records``' reads, built once, by (an album given, an item given).
_RECORDS = {
    (False, False): _OF_JOB,
    (True, False): _OF_JOB.where(_OF_ALBUM),
    (False, True): _OF_JOB.where(_OF_ITEM),
    (True, True): _OF_JOB.where(_OF_ALBUM, _OF_ITEM),
}
_WAITS = select(sink_waits.c.not_before).where(
    sink_waits.c.sink == _SINK, sink_waits.c.scope.in_(bindparam("scopes", expanding=True))
)


_OF_KEYS = sink_records.c.key.in_(bindparam("keys", expanding=True))
_CLAIMED = _OF_JOB.where(_OF_KEYS)
_FORGET = delete(sink_records).where(
    sink_records.c.sink == _SINK,
    sink_records.c.job_id == bindparam("job_id", type_=Integer),
    _OF_KEYS,
)
_INSERT = insert(sink_records)
_WAIT_GONE = delete(sink_waits).where(
    sink_waits.c.sink == _SINK, sink_waits.c.scope == bindparam("scope", type_=String)
)
_WAIT_NEW = insert(sink_waits)


# Every write of this module is one transaction through ``Access._transaction``: on
# SQLite begun, run and committed in one hop on the connection's thread, its statements
# (the constants above, their plans kept by ``sql/sqlite_direct``) on sqlite3 itself.
# Through SQLAlchemy's execution, ``put`` alone was a third of the engine's store time in
# the Telegram pool's bench (~4 ms of GIL time a call at a load of 18; 2026-11-29).


def _claim(
    conn: Connection, rows: list[dict[str, Any]], sink: str, job_id: int, keys: list[str]
) -> list[Any]:
    sqlite_direct.execute(conn, _insert_new(conn.dialect.name), rows)
    found = sqlite_direct.execute(conn, _CLAIMED, {"sink": sink, "job_id": job_id, "keys": keys})
    return list(found.all())


def _put(
    conn: Connection, sink: str, job_id: int, gone: list[str], rows: list[dict[str, Any]]
) -> None:
    if gone:
        sqlite_direct.execute(conn, _FORGET, {"sink": sink, "job_id": job_id, "keys": gone})
    if rows:
        sqlite_direct.execute(conn, _INSERT, rows)


def put_in(conn: Connection, write: SinkWrite, now: float) -> None:
    """``put`` of ``write``'s records in the caller's transaction (an album's record of
    delivery: ``albums/sql``)."""
    rows = _rows_of(write.sink, write.job_id, write.records, now)
    _put(conn, write.sink, write.job_id, sorted({r.key for r in write.records}), rows)


def _rows_of(
    sink: str, job_id: int, records: Sequence[SinkRecord], now: float
) -> list[dict[str, Any]]:
    return [
        {
            "sink": sink,
            "job_id": job_id,
            "key": r.key,
            "album_id": r.album_id,
            "item_id": r.item_id,
            "value": json.dumps(r.value, sort_keys=True, separators=(",", ":")),
            "updated_at": now,
        }
        for r in records
    ]


def _set_wait(conn: Connection, row: dict[str, Any]) -> None:
    sqlite_direct.execute(conn, _WAIT_GONE, {"sink": row["sink"], "scope": row["scope"]})
    sqlite_direct.execute(conn, _WAIT_NEW, row)


@functools.cache
def _insert_new(dialect: str) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` in the dialect ``dialect``, built once (its
    plan is kept by the statement): a key already stored keeps its first value, whoever
    wrote it."""
    keys = [sink_records.c.job_id, sink_records.c.sink, sink_records.c.key]
    # The dialects load here, the one in use only: on SQLite, PostgreSQL's and its
    # drivers' modules were ~50 ms of every engine's start.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(sink_records).on_conflict_do_nothing(index_elements=keys)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(sink_records).on_conflict_do_nothing(index_elements=keys)


def _record(row: Any) -> SinkRecord:
    return SinkRecord(row.key, json.loads(row.value), row.album_id, row.item_id)
