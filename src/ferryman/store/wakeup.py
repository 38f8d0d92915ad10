"""Wake a running engine from another process the moment work is added.

Without it an engine finds a job that `ferryman add` (or the web page, or a `resume`)
wrote from another process only at its next poll. With it:

- **SQLite:** the engine listens on a Unix datagram socket named after its database
  (Linux's abstract namespace: no file to clean up, no path-length limit; elsewhere a
  socket file beside the database). A writer sends one byte after its commit.
- **PostgreSQL:** a writer's transaction says ``NOTIFY ferryman_wake`` (delivered at
  commit, to every engine on every machine that ``LISTEN``s).

A wake-up is only a hint: a lost one costs one poll, never work. Sending never blocks and
never fails the write.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "ferryman_wake"


def sqlite_address(db_path: Path) -> str:
    """The socket address for the SQLite database at ``db_path``."""
    key = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:24]
    if sys.platform.startswith("linux"):
        return f"\0ferryman-wake-{key}"
    return str(db_path.with_name(db_path.name + ".wake"))


def send(address: str) -> None:
    """One datagram to an engine listening at ``address``; nothing if none listens."""
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.setblocking(False)
        sock.sendto(b"!", address)


class SqliteListener:
    """The engine's end: calls ``on_wake`` (on the event loop) for each datagram."""

    def __init__(self, address: str, on_wake: Callable[[], None]) -> None:
        self.address = address
        self.on_wake = on_wake
        self._sock: socket.socket | None = None

    async def start(self) -> bool:
        """Listen; False (and a debug line) when the address cannot be taken: polls do."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            if not self.address.startswith("\0"):
                with contextlib.suppress(FileNotFoundError):  # a stale one from a crash
                    os.unlink(self.address)
            sock.bind(self.address)
        except OSError as exc:
            sock.close()
            log.debug("no wake-up socket (%s); new work is found by polling", exc)
            return False
        import asyncio  # the engine's side only: `ferryman add` sends without an event loop

        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._read)
        self._sock = sock
        return True

    def _read(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(OSError):
            while self._sock.recv(64):
                pass
        self.on_wake()

    async def close(self) -> None:
        import asyncio  # lazy: start-up

        if self._sock is None:
            return
        asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        if not self.address.startswith("\0"):
            with contextlib.suppress(OSError):
                os.unlink(self.address)


def listener_for(url: Any, on_wake: Callable[[], None]) -> SqliteListener | PostgresListener:
    """The engine's end for the store at SQLAlchemy ``url``."""
    if url.get_backend_name() == "sqlite":
        return SqliteListener(sqlite_address(Path(url.database)), on_wake)
    query = dict(url.query)
    if "ssl" in query:  # asyncpg's connect(ssl=…) is sslmode in a DSN it parses itself
        query["sslmode"] = query.pop("ssl")
    for name in ("timeout", "connect_timeout"):  # a DSN has no word for it: the default
        query.pop(name, None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return PostgresListener(dsn, on_wake)


async def wake_engines(engine: Any) -> None:
    """Tell running engines that work was added (after the writer's commit)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database:
            send(sqlite_address(Path(url.database)))
        return
    from sqlalchemy import text  # lazy: start-up

    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"NOTIFY {CHANNEL}"))
    except Exception as exc:  # a hint only: the poll finds the work
        log.debug("NOTIFY failed: %s", exc)


class PostgresListener:
    """The engine's end on PostgreSQL: LISTEN on its own connection (asyncpg).

    The connection is watched like the pool's (``dead_peer``), and when it ends (the
    server restarted, a failover, a dead peer noticed) it is made again, 1 s, 2 s …
    30 s apart, for as long as the engine runs; once back, one wake-up makes the engine
    look for what was added while nobody listened.
    """

    RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)

    def __init__(self, dsn: str, on_wake: Callable[[], None]) -> None:
        self.dsn = dsn
        self.on_wake = on_wake
        self._conn: Any = None
        self._closed = False
        self._again: Any = None  # the task making the connection again

    async def start(self) -> bool:
        try:
            await self._listen()
        except Exception as exc:  # polls still find the work
            log.warning("cannot LISTEN for new work (%s); polling instead", exc)
            self._conn = None
            return False
        return True

    async def _listen(self) -> None:
        import asyncpg  # type: ignore[import-untyped]  # lazy: start-up

        from ferryman.store import dead_peer  # lazy: start-up

        conn = await asyncpg.connect(self.dsn)
        try:
            dead_peer.watch_asyncpg(conn)
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._ended)
        self._conn = conn

    def _notified(self, *_args: object) -> None:
        self.on_wake()

    def _ended(self, *_args: object) -> None:
        import asyncio  # lazy: start-up

        self._conn = None
        if self._closed or self._again is not None:
            return
        log.warning("the LISTEN connection ended; making it again (polls find work meanwhile)")
        self._again = asyncio.get_running_loop().create_task(self._reconnect(), name="listen")

    async def _reconnect(self) -> None:
        import asyncio  # lazy: start-up

        tries = 0
        try:
            while not self._closed:
                await asyncio.sleep(self.RETRY_S[min(tries, len(self.RETRY_S) - 1)])
                tries += 1
                try:
                    await self._listen()
                except Exception as exc:
                    log.debug("LISTEN again failed (%s); retrying", exc)
                    continue
                log.info("listening for new work again")
                self.on_wake()
                return
        finally:
            self._again = None

    @property
    def listening(self) -> bool:
        """Whether a LISTEN connection is open now."""
        return self._conn is not None and not self._conn.is_closed()

    async def close(self) -> None:
        self._closed = True
        if self._again is not None:
            self._again.cancel()
            self._again = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
