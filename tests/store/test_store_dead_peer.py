"""A PostgreSQL server that vanishes without a word is noticed, and left behind.

Across a network a server can go silent (its machine off, a failover, a cable): nothing
answers, nothing refuses. Without help, Linux retransmits a statement for about 15
minutes and an idle connection waits forever. These tests pull a real cable (a network
namespace's link) under a real connection, and end the LISTEN connection the way a
server restart does.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ferryman.store import dead_peer
from tests.conftest import PG_DSN
from tests.support import netns
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres


def _need_pg() -> str:
    if not PG_DSN:
        pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
    return PG_DSN


def _watched(sock: socket.socket) -> tuple[int, int, int]:
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    )


async def test_every_connection_to_postgresql_is_watched() -> None:
    """The pool's connections and the LISTEN one carry keepalive and a user timeout."""
    from sqlalchemy.engine import make_url

    from ferryman.store.connect import create_engine, normalise_url
    from ferryman.store.wakeup import PostgresListener, listener_for

    url = _need_pg()
    if "@127.0.0.1" not in url and "@localhost" not in url:
        pytest.skip("the options are set on TCP connections; this DSN may be a socket")
    wanted = (1, dead_peer.IDLE_S, dead_peer.UNACKNOWLEDGED_MS)
    engine = await create_engine(url)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert _watched(driver._transport.get_extra_info("socket")) == wanted
    finally:
        await engine.dispose()
    listener = listener_for(make_url(normalise_url(url)), lambda: None)
    assert isinstance(listener, PostgresListener)
    try:
        assert await listener.start()
        assert _watched(listener._conn._transport.get_extra_info("socket")) == wanted
    finally:
        await listener.close()


async def test_the_listen_connection_comes_back_after_the_server_ends_it() -> None:
    """A server restart ends the LISTEN connection; wake-ups must not stop for good."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from ferryman.store.connect import create_engine, normalise_url
    from ferryman.store.wakeup import PostgresListener, listener_for, wake_engines

    url = _need_pg()
    wake_ups: list[float] = []
    listener = listener_for(make_url(normalise_url(url)), lambda: wake_ups.append(time.monotonic()))
    assert isinstance(listener, PostgresListener)
    listener.RETRY_S = (0.2,)
    engine = await create_engine(url)
    try:
        assert await listener.start()
        pid = listener._conn.get_server_pid()
        async with engine.begin() as conn:  # what a restart does to every session
            ended = await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert ended
        await eventually(  # back, and one wake-up for the gap
            lambda: listener.listening and wake_ups, "the LISTEN connection back", within=10
        )
        assert listener._conn.get_server_pid() != pid
        before = len(wake_ups)
        await wake_engines(engine)  # another process adds work: this engine hears it again
        await eventually(lambda: len(wake_ups) > before, "a NOTIFY after the restart", within=5)
    finally:
        await listener.close()
        await engine.dispose()
    assert not listener.listening


_CLIENT = """
import asyncio, os, sys, time
from sqlalchemy import text
from ferryman.store import dead_peer
from ferryman.store.connect import create_engine
from tests.support.waiting import eventually

dead_peer.UNACKNOWLEDGED_MS = int(sys.argv[2])


async def main():
    engine = await create_engine(sys.argv[1])
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        print("ready", flush=True)
        sys.stdin.readline()  # the cable is pulled now
        started = time.monotonic()
        try:
            await conn.execute(text("SELECT 1"))
            print("answered", flush=True)
        except Exception as exc:
            print(f"failed {time.monotonic() - started:.1f} {type(exc).__name__}", flush=True)
    sys.stdin.readline()  # the cable is back; the route may take a moment (as the
    # engine's loops do, try again: the host may answer "unreachable" for a few seconds)
    async def again():
        try:
            async with engine.connect() as conn:
                return await conn.scalar(text('SELECT 41 + 1'))
        except Exception:  # OSError, or the driver's wrapping of it
            return None

    print(f"again {await eventually(again, 'the server again', within=30, every=0.5)}", flush=True)
    os._exit(0)


asyncio.run(main())
"""


@pytest.fixture
def network() -> Iterator[netns.Network]:
    with netns.network_or_skip("a pulled cable") as net:
        yield net


def _line(process: subprocess.Popen[str], within: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], within)
    assert ready, f"no answer within {within} s"
    return process.stdout.readline().strip()


@pytest.mark.slow
def test_a_statement_on_a_pulled_cable_fails_in_seconds_and_the_store_goes_on(
    network: netns.Network,
) -> None:
    """The statement fails after the unacknowledged bound (2 s here, 30 s in use), not
    the kernel's 15 minutes; with the cable back, the pool opens a new connection."""
    url = _need_pg()
    network.add("node")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [*network.prefix("node"), sys.executable, "-c", _CLIENT, network.reach(url), "2000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None
    try:
        assert _line(process, 30) == "ready"
        network.cut("node")
        process.stdin.write("go\n")
        process.stdin.flush()
        said = _line(process, 20).split()  # unwatched, nothing for ~15 minutes
        assert said[0] == "failed" and float(said[1]) < 10, said
        network.mend("node")
        process.stdin.write("go\n")
        process.stdin.flush()
        assert _line(process, 40) == "again 42"
    finally:
        process.kill()
        process.wait()
