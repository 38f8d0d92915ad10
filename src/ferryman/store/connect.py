"""Opening the database: SQLite (WAL, one writer at a time) or PostgreSQL.

SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so a writer waits for the
lock (busy_timeout) instead of failing when a read transaction tries to upgrade.

PostgreSQL: the server ends a session that sits inside a transaction with nothing to
do for ``IDLE_IN_TRANSACTION_MS`` (the node across the network froze or lost its link
mid-transaction): its locks go with it, so the other nodes' housekeeping, which
updates the same rows, does not wait on it for the hours TCP can take to notice.
The engine never holds a transaction open while it waits on anything but the
database, so a live node never comes near that bound. The node's own end notices a
server that vanished within a minute too (``dead_peer``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ferryman.errors import FerrymanError
from ferryman.store import dead_peer, migrate, sqlite_file, sqlite_thread
from ferryman.store.sqla_async import AsyncEngine, create_async_engine

IDLE_IN_TRANSACTION_MS = 60_000
READERS = 8  # SQLite's reading connections (WAL: they never wait for the writer)

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def normalise_url(url: str) -> str:
    """Accept ``postgresql://…`` or ``sqlite:///…`` and pick the async driver."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None and parsed.drivername not in _ASYNC_DRIVERS.values():
        raise FerrymanError(
            "config.invalid",
            f"database_url scheme '{parsed.drivername}' is not supported: use sqlite or postgresql",
        )
    if driver is None:
        return url
    if driver.startswith("postgresql"):
        parsed = _asyncpg_query(parsed)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


# The libpq spellings a provider's connection string carries (``?sslmode=require``),
# as asyncpg's connect() names them: SQLAlchemy hands the URL's query to it as is.
_LIBPQ_NAMES = {"sslmode": "ssl", "connect_timeout": "timeout"}


def _asyncpg_query(parsed: URL) -> URL:
    query = dict(parsed.query)
    for libpq, asyncpg in _LIBPQ_NAMES.items():
        if libpq in query and asyncpg not in query:
            query[asyncpg] = query.pop(libpq)
    return parsed.set(query=query)


def _connect_args(parsed: URL, shown: str) -> tuple[URL, dict[str, Any]]:
    """asyncpg's connect() arguments: what the URL's query gives as text that it takes
    typed (the connect timeout in seconds, the application's name), and the session
    settings every connection asks for."""
    query = dict(parsed.query)
    server_settings = {"idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS)}
    args: dict[str, Any] = {"server_settings": server_settings}
    if "application_name" in query:
        server_settings["application_name"] = str(query.pop("application_name"))
    if "timeout" in query:
        given = query.pop("timeout")
        try:
            args["timeout"] = float(str(given))
        except ValueError:
            raise FerrymanError(
                "config.invalid",
                f"database_url {shown}: connect_timeout must be a number of seconds, not {given}",
            ) from None
    return parsed.set(query=query), args


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" hook below owns transactions
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a phone reboot is a power loss
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _watch_peer(dbapi_conn: Any, _record: Any) -> None:
    dead_peer.watch_asyncpg(getattr(dbapi_conn, "driver_connection", None))


def _sqlite_begin(conn: Any) -> None:
    sqlite_thread.begin(conn, "BEGIN IMMEDIATE")


def _sqlite_begin_read(conn: Any) -> None:
    sqlite_thread.begin(conn, "BEGIN")  # deferred: a WAL reader never waits for the writer


def _sqlite_engine(url: str, **pool: Any) -> AsyncEngine:
    """SQLite through ``sqlite_thread``: one thread hop per statement, not four."""
    return create_async_engine(
        url, module=sqlite_thread.dbapi(), connect_args={"timeout": 30}, **pool
    )


async def create_engines(url: str) -> tuple[AsyncEngine, AsyncEngine]:
    """A writing engine (schema migrated) and one for reads; the same one on PostgreSQL."""
    engine = await create_engine(url)
    if engine.dialect.name != "sqlite":
        return engine, engine
    parsed = make_url(url)
    in_file = bool(parsed.database) and parsed.database != ":memory:"
    # Readers kept open, as many as read at once: beyond the pool's five, each read
    # opened a connection of its own (a thread started, sqlite3.connect, four pragmas:
    # six hops) and closed it after, ~300 times in a links row of 200 photos (the loop
    # blocked on every thread's start). Past ``READERS`` at once, a read waits its turn.
    pool = {"pool_size": READERS, "max_overflow": 0} if in_file else {}
    reader = _sqlite_engine(normalise_url(url), **pool)
    event.listen(reader.sync_engine, "connect", _sqlite_pragmas)
    event.listen(reader.sync_engine, "begin", _sqlite_begin_read)
    return engine, reader


async def create_engine(url: str) -> AsyncEngine:
    """An engine with the schema migrated to the newest version.

    Raises ``config.invalid`` for a ``database_url`` that cannot be parsed or that the
    server refuses (no such database, role or password), ``store.unreachable`` for a
    server that cannot be reached; both name the URL, its password masked. A damaged
    SQLite file is ``store.corrupt`` (``sqlite_file``), found before SQLite writes to it.
    """
    try:
        shown = make_url(url).render_as_string(hide_password=True)  # as the user wrote it
        url = normalise_url(url)
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise FerrymanError("config.invalid", f"database_url: not a database URL ({exc})") from None
    store_file: Path | None = None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            store_file = Path(parsed.database)
            try:  # looked at before SQLite opens it and writes over it; made whole if new
                await asyncio.to_thread(_check_or_make, store_file)
            except OSError as exc:
                raise FerrymanError(
                    "config.invalid", f"database_url {shown}: cannot make its folder ({exc})"
                ) from exc
        # One writing connection: SQLite lets one writer in at a time anyway, and a
        # writer kept out by another connection of this process sleeps in SQLite's busy
        # handler (1, 2, 5, 10 … ms) where the pool's queue wakes it the moment the
        # connection is free. Other processes still wait on the lock (busy_timeout).
        in_file = bool(parsed.database) and parsed.database != ":memory:"
        pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if in_file else {}
        engine = _sqlite_engine(url, **pool)  # in memory: one shared connection already
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        parsed, connect_args = _connect_args(parsed, shown)
        engine = create_async_engine(
            parsed, pool_size=5, max_overflow=5, pool_pre_ping=True, connect_args=connect_args
        )
        event.listen(engine.sync_engine, "connect", _watch_peer)
    connected = False
    try:
        async with engine.connect() as conn:
            connected = True
            if store_file is not None:
                found = await conn.run_sync(_quick_check)
                if found is not None:
                    raise sqlite_file.corrupt(store_file, found)
            await conn.run_sync(migrate.migrate)  # its own transaction (and lock on PostgreSQL)
    except (OSError, DBAPIError) as exc:
        await engine.dispose()
        if store_file is not None and sqlite_file.is_damage(exc):
            raise sqlite_file.corrupt(store_file, str(getattr(exc, "orig", exc))) from None
        if connected:
            raise
        raise _connect_error(shown, exc) from exc
    except FerrymanError:
        await engine.dispose()
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # ?sslmode=…, a port not a number
        await engine.dispose()
        if connected:
            raise
        raise FerrymanError(
            "config.invalid", f"database_url {shown}: the driver cannot use it ({exc})"
        ) from exc
    return engine


def _check_or_make(path: Path) -> None:
    sqlite_file.check(path)
    sqlite_file.make_whole(path)


def _quick_check(conn: Connection) -> str | None:
    """``PRAGMA quick_check`` on the DB-API connection (no transaction begun)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute("PRAGMA quick_check(1)")
        return sqlite_file.quick_check_finding(cursor.fetchone())
    finally:
        cursor.close()


def _connect_error(shown: str, exc: OSError | DBAPIError) -> FerrymanError:
    """Why no connection could be made: the server out of reach, or it said no."""
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    told = str(cause).strip() or type(cause).__name__
    name = type(cause).__name__.lower()
    if "ssl" in told.lower() or "ssl" in name:  # the server takes none, or its certificate
        return FerrymanError(
            "config.invalid",
            f"database_url {shown}: SSL failed ({told}); for a server without SSL,"
            " sslmode=disable (or leave it out), else turn SSL on at the server",
        )
    if isinstance(cause, OSError) or "connect" in name or "timeout" in name:
        return FerrymanError(
            "store.unreachable", f"database_url {shown}: cannot reach the database ({told})"
        )
    return FerrymanError(  # no such database or role, a wrong password, a bad option
        "config.invalid", f"database_url {shown}: the database refused it ({told})"
    )
