"""SQLite through ``store.sqlite_thread``: one hop per statement, and nothing unsafe skipped.

The engines are the store's own (``connect.create_engines``: WAL, ``BEGIN IMMEDIATE``,
the pragmas) on a real database file; a plain ``sqlite3`` connection plays another
process holding or wanting the write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import engine as asyncio_engine

from ferryman.store import sqlite_thread
from ferryman.store.connect import create_engines
from tests.support.waiting import eventually


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many calls the connections' threads are inside now: a statement that waits
    on another's lock stays inside (the wait itself, in SQLite, is not observable). A
    sleep guessed how long a loaded machine takes to get it there."""
    count = [0]
    original = sqlite_thread.Connection._call

    def counted(self: sqlite_thread.Connection, call: Any) -> Any:
        def entered() -> Any:
            count[0] += 1
            try:
                return call()
            finally:
                count[0] -= 1

        return original(self, entered)

    monkeypatch.setattr(sqlite_thread.Connection, "_call", counted)
    return count


class Sent:
    """The calls sent to the connections' threads, numbered in order, and the order in
    which they (and the tasks a test watches) ended: that a task waited for a call is
    read here, not guessed from a window in which it did not end."""

    def __init__(self) -> None:
        self.count = 0
        self.ended: list[str] = []

    def watch(self, task: asyncio.Future[Any], name: str) -> None:
        task.add_done_callback(lambda _: self.ended.append(name))

    def before(self, first: str, then: str) -> bool:
        return self.ended.index(first) < self.ended.index(then)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, inside: list[int]) -> Sent:
    record = Sent()
    original = sqlite_thread.Connection._call

    def numbered(self: sqlite_thread.Connection, call: Any) -> Any:
        future = original(self, call)
        record.count += 1
        record.watch(future, f"call {record.count}")
        return future

    monkeypatch.setattr(sqlite_thread.Connection, "_call", numbered)
    return record


async def _loop_turns(count: int = 50) -> None:
    """Turns of the loop: what can go on without a thread, a timer or a socket has gone
    on after them. A way out that did not wait for the connection's thread runs on the
    loop alone (the thread is held by another's lock), so these turns show it whatever
    the machine's load: not a window in real time."""
    for _ in range(count):
        await asyncio.sleep(0)


async def _engines(tmp_path: Path) -> Any:
    engine, reader = await create_engines(f"sqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    return engine, reader


def _can_write(path: Path, wait: float) -> bool:
    """Whether another connection gets the write lock within ``wait`` seconds."""
    other = sqlite3.connect(path, timeout=wait, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_transaction_costs_one_hop_per_statement_and_one_for_the_commit(
    tmp_path: Path, hops: list[int]
) -> None:
    engine, reader = await _engines(tmp_path)
    try:
        hops[0] = 0
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b')"))
            rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).all()
        assert [r.name for r in rows] == ["a", "b"]
        assert hops[0] == 3  # BEGIN rides with the INSERT; no ROLLBACK after the COMMIT

        hops[0] = 0
        async with engine.begin():
            pass
        assert hops[0] == 0  # a transaction that did nothing sends nothing

        async with reader.connect() as conn:  # a read: BEGIN with it, one ROLLBACK to end
            await conn.execute(text("SELECT 1"))  # the reader's first connection opens
        hops[0] = 0
        async with reader.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2
        assert hops[0] == 2
    finally:
        await engine.dispose()
        await reader.dispose()


@pytest.mark.parametrize("whole", [False, True], ids=["statement-by-statement", "run_sync"])
async def test_a_failed_statement_rolls_its_transaction_back(tmp_path: Path, whole: bool) -> None:
    """So does one in a function ``run_sync`` runs on the connection's thread: it raises
    as SQLAlchemy does, and the connection is usable after."""
    engine, reader = await _engines(tmp_path)

    async def insert(conn: Any, names: list[str]) -> None:
        if whole:
            await sqlite_thread.run_sync(conn, _insert_names, names)
            return
        for name in names:
            await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": name})

    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await insert(conn, ["x", "w", "x"])
        async with engine.begin() as conn:  # the connection is usable, the lock free
            await insert(conn, ["y"])
        async with reader.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
        assert names == ["y"]
        assert _can_write(tmp_path / "db.sqlite", 1.0)
    finally:
        await engine.dispose()
        await reader.dispose()


async def test_a_cancelled_statement_still_in_flight_is_rolled_back_after_it_runs(
    tmp_path: Path, inside: list[int], sent: Sent
) -> None:
    """The statement waits for another process's lock; its waiter is cancelled; the
    statement then runs and opens a transaction. SQLAlchemy closes the connection on the
    way out: the close waits its turn behind the statement, and the transaction ends."""
    engine, reader = await _engines(tmp_path)
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:

        async def write() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('late')"))

        task = asyncio.create_task(write())
        await eventually(lambda: inside[0], "the INSERT's BEGIN IMMEDIATE on the holder")
        assert not task.done()
        statement = sent.count
        task.cancel()
        sent.watch(task, "task")
        # The way out's first call (its ROLLBACK) is queued behind the statement ...
        await eventually(lambda: sent.count > statement or task.done(), "the way out's call")
        assert not task.done()
        holder.execute("ROLLBACK")  # the INSERT gets the lock and runs, then the ROLLBACK
        with pytest.raises(asyncio.CancelledError):
            await task
        # ... and the task ended only once it was done (no window waited out).
        assert sent.before(f"call {statement + 1}", "task"), sent.ended

        assert await asyncio.to_thread(_can_write, path, 5.0), "the write lock was kept"
        async with reader.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
        assert names == []  # the cancelled transaction did not commit
        async with engine.begin() as conn:  # and the pool's connections still work
            await conn.execute(text("INSERT INTO t (name) VALUES ('next')"))
    finally:
        holder.close()
        await engine.dispose()
        await reader.dispose()


def _insert_names(conn: Connection, names: list[str]) -> tuple[str, list[str]]:
    """A transaction's body as the store writes its hot ones: SQLAlchemy's sync API."""
    for name in names:
        conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": name})
    rows = conn.execute(text("SELECT name FROM t ORDER BY id")).scalars().all()
    return threading.current_thread().name, list(rows)


async def test_run_sync_runs_a_whole_transaction_on_the_connection_thread_in_one_hop(
    tmp_path: Path, hops: list[int]
) -> None:
    engine, reader = await _engines(tmp_path)
    try:
        hops[0] = 0
        async with engine.begin() as conn:
            where, names = await sqlite_thread.run_sync(conn, _insert_names, ["a", "b", "c"])
        assert where == "ferryman-sqlite"  # never the event loop's thread
        assert names == ["a", "b", "c"]
        assert hops[0] == 2  # the body (four statements and the BEGIN) and the COMMIT
        async with reader.connect() as conn:
            stored = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
        assert stored == ["a", "b", "c"]  # committed
    finally:
        await engine.dispose()
        await reader.dispose()


async def test_a_transaction_commits_where_it_ran_in_one_hop(
    tmp_path: Path, hops: list[int]
) -> None:
    """``transaction``: the body and its commit in one hop, committed for other
    connections to see, the write lock free after; a body that raises commits nothing."""
    engine, reader = await _engines(tmp_path)
    try:
        hops[0] = 0
        where, names = await sqlite_thread.transaction(engine, _insert_names, ["a", "b"])
        assert (where, names) == ("ferryman-sqlite", ["a", "b"])
        assert hops[0] == 1  # the body, the BEGIN and the COMMIT together
        assert _can_write(tmp_path / "db.sqlite", 1.0)  # committed: the lock is free
        with pytest.raises(IntegrityError):
            await sqlite_thread.transaction(engine, _insert_names, ["c", "a"])
        other = sqlite3.connect(tmp_path / "db.sqlite")
        try:
            stored = [r[0] for r in other.execute("SELECT name FROM t ORDER BY id")]
        finally:
            other.close()
        assert stored == ["a", "b"]  # the failed one left nothing ("c" rolled back)
        hops[0] = 0
        async with engine.begin() as conn:  # the connection is usable as before
            await conn.execute(text("INSERT INTO t (name) VALUES ('d')"))
        assert hops[0] == 2
    finally:
        await engine.dispose()
        await reader.dispose()


async def test_a_transaction_makes_no_greenlet_on_the_loop_for_its_begin_and_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``transaction`` on SQLite: the loop makes SQLAlchemy greenlets for the connection
    taken and given back only (the BEGIN, the body and the COMMIT run on SQLite's
    thread: each greenlet on the loop cost some 25 µs); one that fails likewise."""
    engine, reader = await _engines(tmp_path)
    spawned: list[str] = []
    original = asyncio_engine.greenlet_spawn

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        spawned.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio_engine, "greenlet_spawn", counted)
    try:
        await sqlite_thread.transaction(engine, _insert_names, ["a", "b"])
        assert spawned == ["connect", "close"]
        spawned.clear()
        with pytest.raises(IntegrityError):
            await sqlite_thread.transaction(engine, _insert_names, ["c", "a"])
        assert spawned == ["connect", "close"]
        assert _can_write(tmp_path / "db.sqlite", 1.0)  # rolled back: the lock is free
    finally:
        await engine.dispose()
        await reader.dispose()


async def test_a_cancelled_run_sync_is_waited_for_before_the_connection_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: list[int]
) -> None:
    """The body waits on another process's lock when its caller is cancelled: the caller
    waits for the body to end (the connection is the body's until then), then the
    transaction is rolled back and nothing of it is kept."""
    engine, reader = await _engines(tmp_path)
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    order: list[str] = []
    rollback = sqlite_thread.Connection.rollback

    async def noted_rollback(self: sqlite_thread.Connection) -> None:
        order.append("rollback")
        await rollback(self)

    def body(conn: Connection) -> None:
        try:
            _insert_names(conn, ["late"])
        finally:
            order.append("body ended")

    monkeypatch.setattr(sqlite_thread.Connection, "rollback", noted_rollback)
    try:

        async def write() -> None:
            async with engine.begin() as conn:
                await sqlite_thread.run_sync(conn, body)

        task = asyncio.create_task(write())
        await eventually(lambda: inside[0], "the body's BEGIN IMMEDIATE on the holder")
        task.cancel()
        await _loop_turns()
        assert not task.done() and order == []  # still waiting for the body: no way out yet
        holder.execute("ROLLBACK")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(_can_write, path, 5.0), "the write lock was kept"
        async with reader.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
        assert names == []
        assert order[:2] == ["body ended", "rollback"]  # SQLAlchemy's way out came after
    finally:
        holder.close()
        await engine.dispose()
        await reader.dispose()


async def test_a_rollback_is_not_skipped_while_a_statement_is_in_flight(
    tmp_path: Path, inside: list[int], sent: Sent
) -> None:
    """The driver alone: a statement whose waiter was cancelled may still open a
    transaction, so "no transaction open" is not yet known and the ROLLBACK is sent."""
    engine, reader = await _engines(tmp_path)  # the table
    await engine.dispose()
    await reader.dispose()
    path = tmp_path / "db.sqlite"
    conn = await sqlite_thread.connect(path, timeout=30, isolation_level=None)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert conn.hold_begin("BEGIN IMMEDIATE", None)
        statement = asyncio.ensure_future(
            conn.run(lambda db: db.execute("INSERT INTO t (name) VALUES ('late')"))
        )
        await eventually(lambda: inside[0], "the INSERT waiting on the holder's lock")
        statement.cancel()
        before = sent.count
        rollback = asyncio.create_task(conn.rollback())
        sent.watch(rollback, "rollback")
        # Sent to the thread (queued behind the statement), not skipped: a skipped one
        # sends nothing and is done at its first step (no window waited out).
        await eventually(lambda: sent.count > before or rollback.done(), "the ROLLBACK's call")
        assert not rollback.done()
        holder.execute("ROLLBACK")
        await asyncio.wait_for(rollback, 10)
        assert sent.before(f"call {before + 1}", "rollback"), sent.ended
        assert await asyncio.to_thread(_can_write, path, 2.0)
        assert holder.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        holder.close()
        await conn.close()


async def test_each_connection_thread_ends_when_the_engine_is_disposed(tmp_path: Path) -> None:
    def ours() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "ferryman-sqlite"}

    before = ours()
    engine, reader = await _engines(tmp_path)
    async with reader.connect() as conn:
        await conn.execute(text("SELECT 1"))
    assert len(ours() - before) >= 2
    await engine.dispose()
    await reader.dispose()
    for thread in ours() - before:
        await asyncio.to_thread(thread.join, 5)
    assert not ours() - before


async def test_an_in_memory_database_opens(tmp_path: Path) -> None:
    engine, reader = await create_engines("sqlite:///:memory:")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        await engine.dispose()
        await reader.dispose()


async def test_a_connection_that_cannot_open_leaves_no_thread(tmp_path: Path) -> None:
    def ours() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "ferryman-sqlite"}

    before = ours()
    for _ in range(3):
        with pytest.raises(sqlite3.OperationalError):
            await sqlite_thread.connect(tmp_path / "no" / "such" / "dir" / "x.db")
    for thread in ours() - before:
        await asyncio.to_thread(thread.join, 5)
    assert not ours() - before


async def test_readers_stay_open_however_many_read_at_once(tmp_path: Path) -> None:
    """Forty reads at once, twice: the reader's connections are opened once and kept
    (at most ``READERS``; a read past them waits its turn). Beyond the pool's five, each
    read opened a connection of its own (a thread started, sqlite3.connect, four pragmas)
    and closed it after: ~300 in a links row of 200 photos."""
    from sqlalchemy import event

    from ferryman.store.connect import READERS

    engine, reader = await _engines(tmp_path)
    opened: list[object] = []
    event.listen(reader.sync_engine, "connect", lambda conn, _record: opened.append(conn))

    async def read(n: int) -> int:
        async with reader.connect() as conn:
            found = await conn.execute(text("SELECT :n"), {"n": n})
            return int(found.scalar_one())

    try:
        for _ in range(2):
            assert await asyncio.gather(*(read(n) for n in range(40))) == list(range(40))
        assert 1 <= len(opened) <= READERS
        assert reader.sync_engine.pool.checkedin() == len(opened)  # none closed
    finally:
        await engine.dispose()
        await reader.dispose()
