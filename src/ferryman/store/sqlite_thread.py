"""SQLite for SQLAlchemy's asyncio engine, one thread hop per statement.

SQLAlchemy's ``sqlite+aiosqlite`` dialect drives aiosqlite, which sends every call to
its thread and back: a statement is four round trips (open a cursor, execute, fetch,
close), a transaction two more (``BEGIN``, the pool's ``ROLLBACK`` after ``COMMIT``).
Each round trip wakes the other thread and then the event loop (a futex, a write to the
loop's self-pipe, a GIL hand-over), and the pipeline made some ten of them per item: the
hops, not SQLite, were most of its per-item cost.

This module keeps aiosqlite's dialect and adapter classes (passed to
``create_async_engine`` as ``module=``) and replaces only the connection under them:

- a statement is one hop: the cursor is opened, executed, drained and closed on the
  connection's thread, and its rows, description, row count and last row id come back
  together; ``fetchall`` and ``close`` then need no hop;
- a ``BEGIN`` is held back and sent with the next statement (a transaction that ends
  without one sends nothing);
- a ``ROLLBACK`` outside a transaction (the pool's reset after a commit) is skipped.

SQLite itself still runs on a thread of its own, never on the event loop: a statement may
wait up to the busy timeout for another process's write lock, and a commit fsyncs.

``run_sync`` goes further for the store's hottest transactions: a function of
SQLAlchemy's synchronous ``Connection`` runs whole on the connection's thread, each of its
statements executed there without a hop, so a transaction of seven statements costs one
hop and its commit instead of eight. On other engines it is SQLAlchemy's ``run_sync``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from queue import SimpleQueue
from typing import Any, Concatenate, ParamSpec, TypeVar

import greenlet  # type: ignore[import-untyped]
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.util.concurrency import await_

from ferryman.store.sqla_async import AsyncConnection, AsyncEngine

T = TypeVar("T")
P = ParamSpec("P")

# What aiosqlite exports and SQLAlchemy's adapter reads off the driver module.
DatabaseError = sqlite3.DatabaseError
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError
NotSupportedError = sqlite3.NotSupportedError
OperationalError = sqlite3.OperationalError
ProgrammingError = sqlite3.ProgrammingError
sqlite_version = sqlite3.sqlite_version
sqlite_version_info = sqlite3.sqlite_version_info
__version__ = "ferryman"

# A call for the connection's thread, and where its outcome goes (None: nobody waits).
_Job = tuple[Callable[[], Any], "asyncio.Future[Any] | None", "asyncio.AbstractEventLoop | None"]


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its waiter was cancelled
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _serve(queue: SimpleQueue[_Job | None]) -> None:
    """The connection's thread: run each call, hand its outcome to the caller's loop."""
    while (job := queue.get()) is not None:
        call, future, loop = job
        try:
            outcome: tuple[bool, Any] = (True, call())
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = (False, exc)
        if future is None or loop is None:
            continue
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, future, *outcome)


class Cursor:
    """A finished statement's outcome: every row already fetched, nothing left open."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: collections.deque[Any] = collections.deque()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, operation: str, parameters: Any = None) -> Cursor:
        if self._connection.hold_begin(operation, parameters):
            return self
        args = (operation,) if parameters is None else (operation, parameters)
        await self._connection.run(lambda db: self._run(db.cursor(), "execute", args))
        return self

    async def executemany(self, operation: str, parameters: Sequence[Any]) -> Cursor:
        await self._connection.run(
            lambda db: self._run(db.cursor(), "executemany", (operation, parameters))
        )
        return self

    def _run(self, cursor: sqlite3.Cursor, method: str, args: tuple[Any, ...]) -> None:
        """On the connection's thread: the statement, its rows, then the cursor closed."""
        try:
            getattr(cursor, method)(*args)
            self.description = cursor.description
            self._rows = collections.deque(cursor.fetchall() if cursor.description else ())
            self.rowcount = cursor.rowcount
            self.lastrowid = cursor.lastrowid
        finally:
            cursor.close()

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        taken = list(self._rows)
        self._rows.clear()
        return taken

    async def close(self) -> None:
        self._rows.clear()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


class Connection:
    """One sqlite3 connection, living on a thread of its own."""

    def __init__(self, database: str, kwargs: dict[str, Any]) -> None:
        self._database = database
        self._kwargs = kwargs
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread = threading.Thread(
            target=_serve, args=(self._queue,), name="ferryman-sqlite", daemon=True
        )
        self._db: sqlite3.Connection | None = None
        self._begin: str | None = None  # a BEGIN not sent yet
        # Written on the connection's thread only, after each call: whether SQLite is in
        # a transaction, and the number of the last call finished. ``_sent`` is written
        # on the loop's side only. A call still in flight (its waiter cancelled, say) may
        # open a transaction yet: until it is done, nothing is skipped.
        self._in_transaction = False
        self._sent = 0
        self._done = 0

    def on_its_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> Connection:
        self._thread.start()
        try:
            self._db = await self._call(lambda: sqlite3.connect(self._database, **self._kwargs))
        except BaseException:  # no connection: its thread ends (a cancel too)
            self._queue.put(None)
            raise
        return self

    def _call(self, call: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._sent += 1
        number = self._sent

        def numbered() -> T:
            try:
                return call()
            finally:
                self._done = number

        self._queue.put((numbered, future, loop))
        return future

    def _settled(self) -> bool:
        """No transaction open and no call in flight that could open one."""
        return self._done == self._sent and not self._in_transaction

    async def run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """``call(db)`` on the connection's thread, after any held-back ``BEGIN``; called
        on that thread (within ``run_here``), at once."""
        db = self._db
        if db is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        begin, self._begin = self._begin, None

        def work() -> T:
            try:
                if begin is not None:
                    db.execute(begin)
                return call(db)
            finally:
                self._in_transaction = db.in_transaction

        if threading.get_ident() == self._thread.ident:
            return work()
        return await self._call(work)

    def here(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """``call(db)`` now, on the connection's thread (``sql/sqlite_direct``), after any
        held-back ``BEGIN``, as ``run`` does there."""
        db = self._db
        if db is None or not self.on_its_thread():
            raise sqlite3.ProgrammingError("here is for the open connection's own thread")
        begin, self._begin = self._begin, None
        try:
            if begin is not None:
                db.execute(begin)
            return call(db)
        finally:
            self._in_transaction = db.in_transaction

    async def run_here(self, call: Callable[[], T]) -> T:
        """``call()`` on the connection's thread, where this connection's statements run
        at once. The caller waits for it even when cancelled: nothing else may touch the
        connection while ``call`` uses it."""
        if self._db is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        future = self._call(call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await asyncio.wait({future})
            raise

    def hold_begin(self, operation: str, parameters: Any) -> bool:
        """Keep a plain ``BEGIN …`` to send with the next statement; True if kept."""
        if parameters or not operation.lstrip().upper().startswith("BEGIN"):
            return False
        if self._begin is not None:
            return False  # let SQLite say what a second BEGIN means
        self._begin = operation
        return True

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def commit(self) -> None:
        if self._settled():
            # Nothing open: a BEGIN held back that nothing followed, or a transaction
            # already committed where it ran (``transaction``). No hop.
            self._begin = None
            return
        await self.run(lambda db: db.commit())

    def commit_here(self) -> None:
        """On the connection's thread, inside ``run_here``: commit now."""
        db = self._db
        if db is None or threading.get_ident() != self._thread.ident:
            raise sqlite3.ProgrammingError("commit_here is for the connection's own thread")
        try:
            db.commit()
        finally:
            self._in_transaction = db.in_transaction

    async def rollback(self) -> None:
        settled = self._settled()
        self._begin = None
        if not settled:
            await self.run(lambda db: db.rollback())

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        await self.run(lambda db: db.create_function(*args, **kwargs))

    async def set_isolation_level(self, value: str | None) -> None:
        def apply(db: sqlite3.Connection) -> None:
            db.isolation_level = value  # type: ignore[assignment]  # sqlite3 checks it

        await self.run(apply)

    @property
    def isolation_level(self) -> str | None:
        return None if self._db is None else self._db.isolation_level

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                await self._call(db.close)
            finally:
                self._queue.put(None)

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate, e.g. from garbage collection)."""
        db, self._db = self._db, None
        if db is not None and self._thread.is_alive():
            self._queue.put((db.close, None, None))
            self._queue.put(None)


def connect(database: Any, **kwargs: Any) -> Connection:
    """aiosqlite's ``connect``: an awaitable connection (keyword arguments go to sqlite3)."""
    kwargs.pop("iter_chunk_size", None)
    kwargs.pop("loop", None)
    if isinstance(database, bytes):
        database = database.decode()
    return Connection(str(database), kwargs)


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite adapter on a ``Connection`` of this module."""

    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        try:
            await_(self._connection.set_isolation_level(value))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        if self._connection.is_open:
            AsyncAdapt_dbapi_connection.rollback(self)

    def commit(self) -> None:
        if self._connection.is_open:
            AsyncAdapt_dbapi_connection.commit(self)


class ThreadDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module to give ``create_async_engine(…, module=…)``."""

    def connect(self, *arg: Any, **kw: Any) -> _AdaptedConnection:
        kw.pop("async_creator_fn", None)
        return _AdaptedConnection(self, await_(connect(*arg, **kw)))


def begin(conn: Any, statement: str) -> None:
    """Open a transaction from SQLAlchemy's ``begin`` event: held back for the first
    statement, without the cost of executing a statement through SQLAlchemy."""
    driver = conn.connection.driver_connection
    if not (isinstance(driver, Connection) and driver.hold_begin(statement, None)):
        conn.exec_driver_sql(statement)


class _Here(greenlet.greenlet):  # type: ignore[misc]  # greenlet ships no stubs for this
    """Where SQLAlchemy's ``await_`` may hand over an awaitable (it looks for this mark)."""

    __sqlalchemy_greenlet_provider__ = True


def _finish(step: Awaitable[Any]) -> Any:
    """Run an awaitable of this module's connection, on its thread, to its end: every
    one finishes without suspending there (``Connection.run`` calls at once)."""
    coroutine = step.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a statement waited on the connection's own thread")


def _drive(call: Callable[[], T]) -> T:
    """On the connection's thread: ``call`` in a greenlet SQLAlchemy can ``await_`` from,
    each awaitable it hands over finished here (as ``greenlet_spawn`` does on a loop)."""
    here = _Here(call, greenlet.getcurrent())
    result = here.switch()
    while not here.dead:
        try:
            value = _finish(result)
        except BaseException:
            result = here.throw(*sys.exc_info())
        else:
            result = here.switch(value)
    return result  # type: ignore[no-any-return]


async def run_sync(
    conn: AsyncConnection,
    fn: Callable[Concatenate[SyncConnection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``fn(connection, …)`` in ``conn``'s transaction: whole on the SQLite connection's
    thread when ``conn`` is one of this module's, else through SQLAlchemy's ``run_sync``."""
    sync = conn.sync_connection
    driver = sync.connection.driver_connection if sync is not None else None
    if isinstance(driver, Connection):
        assert sync is not None
        return await driver.run_here(lambda: _drive(lambda: fn(sync, *args, **kwargs)))
    return await conn.run_sync(fn, *args, **kwargs)


async def transaction(
    engine: AsyncEngine,
    fn: Callable[Concatenate[SyncConnection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``fn(connection, …)`` as a transaction of its own on ``engine``, committed. On
    SQLite the transaction is begun, run and committed on the connection's thread, in
    one hop (one per transaction instead of two, one wake-up of the loop less, and two
    of SQLAlchemy's greenlets on the loop less). Elsewhere ``run_sync`` in a
    ``begin()`` block."""
    async with engine.connect() as conn:
        sync = conn.sync_connection
        driver = sync.connection.driver_connection if sync is not None else None
        if not isinstance(driver, Connection):
            async with conn.begin():
                return await conn.run_sync(fn, *args, **kwargs)
        assert sync is not None
        begun = sync

        def whole() -> T:
            # Begun, run and committed (or rolled back) on the connection's thread: the
            # loop makes no greenlet of its own for the BEGIN and the COMMIT.
            with begun.begin():
                return fn(begun, *args, **kwargs)

        return await driver.run_here(lambda: _drive(whole))


async def transaction_then(
    engine: AsyncEngine,
    then: Callable[[], None] | None,
    fn: Callable[Concatenate[SyncConnection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``transaction``, then ``then()`` (blocking, raising nothing) once it is committed:
    on SQLite in the same hop, right after the commit (a delivered album's work files
    removed without a thread hop of their own); elsewhere on a thread after the commit.
    Not run when the transaction fails."""
    if then is None:
        return await transaction(engine, fn, *args, **kwargs)
    after, done_here = then, True

    def and_then(sync: SyncConnection, /, *a: P.args, **k: P.kwargs) -> T:
        nonlocal done_here
        result = fn(sync, *a, **k)
        driver = sync.connection.driver_connection
        if isinstance(driver, Connection) and driver.on_its_thread():
            driver.commit_here()  # committed first: ``then`` may count on it
            after()
        else:
            done_here = False
        return result

    result = await transaction(engine, and_then, *args, **kwargs)
    if not done_here:
        await asyncio.to_thread(after)
    return result


def dbapi() -> ThreadDBAPI:
    """A fresh DBAPI object for one engine (it holds no connections itself)."""
    return ThreadDBAPI(sys.modules[__name__], sqlite3)
