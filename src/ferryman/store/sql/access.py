"""The one way a query module reaches the database: a read (``_read``), reads that
must agree (``_snapshot``), a write (``_write``), and a write run whole on SQLite's
thread (``_transaction``, ``_transaction_then``). Each chooses its fast path inside,
so a module reads as the plain path: the statement and its parameters. Nothing outside
``store/sql/`` opens a connection or a transaction itself
(``tests/unit/test_store_ways_in.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ferryman.clock import SYSTEM
from ferryman.store import sqlite_thread
from ferryman.store.shared.rows import Clock
from ferryman.store.sql import sqlite_direct

P = ParamSpec("P")
T = TypeVar("T")
Read = tuple[Any, Mapping[str, Any]]  # a statement (a module's constant) and its parameters


class Access:
    """The engines and the clock, and the ways to them every query module takes."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock = SYSTEM.now, reader: AsyncEngine | None = None
    ) -> None:
        self.engine = engine
        # Reads need no write lock: on SQLite they get an engine that begins deferred.
        self.reader = reader or engine
        self.clock = clock

    @property
    def _reads_apart(self) -> bool:
        """Reads have an engine of their own (SQLite's deferred reader): a look there
        first spares the one writer when it finds nothing to write."""
        return self.reader is not self.engine

    async def _read(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The one way a read reaches the reader, and where it chooses its fast path: on
        SQLite, begun, read and ended in one hop on the connection's thread (two hops
        were ~2,000 in a links row of 200 photos), the statement run on sqlite3 itself
        (``sqlite_direct``, its plan kept by the statement: so it is built once, a
        module's constant, its values bound parameters); elsewhere through SQLAlchemy."""
        return await sqlite_thread.transaction(self.reader, _read_rows, statement, params or {})

    async def _snapshot(self, *reads: Read) -> list[list[Any]]:
        """Reads that must agree with each other (one read transaction: one snapshot),
        each as ``_read`` runs it, their rows in the same order; one hop on SQLite."""
        return await sqlite_thread.transaction(self.reader, _read_each, reads)

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction (``async with self._write() as conn``), committed at the
        block's end: statements built per call, or a write that awaits between them."""
        return self.engine.begin()

    async def _transaction(
        self,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``fn(connection, …)`` as a write transaction of its own, committed: on SQLite
        begun, run and committed in one hop on the connection's thread, where
        ``sqlite_direct.execute`` runs a module's constant statements on sqlite3 itself
        (``sqlite_thread.transaction``)."""
        return await sqlite_thread.transaction(self.engine, fn, *args, **kwargs)

    async def _transaction_then(
        self,
        then: Callable[[], None] | None,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``_transaction``, then ``then()`` (blocking, raising nothing) once committed: on
        SQLite in the same hop (``sqlite_thread.transaction_then``)."""
        return await sqlite_thread.transaction_then(self.engine, then, fn, *args, **kwargs)


def _read_rows(conn: Connection, statement: Any, params: Mapping[str, Any]) -> list[Any]:
    """A statement's rows through ``sqlite_direct``."""
    return list(sqlite_direct.execute(conn, statement, params).all())


def _read_each(conn: Connection, reads: tuple[Read, ...]) -> list[list[Any]]:
    return [list(sqlite_direct.execute(conn, s, p).all()) for s, p in reads]
