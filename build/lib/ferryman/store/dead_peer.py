"""Noticing a database server that vanished without a word, within a minute.

A connection to PostgreSQL across a network can lose its peer silently: the server's
machine powered off, a failover moved the address, a NAT forgot the flow. Nothing then
answers and nothing refuses, and Linux keeps retransmitting a statement for about 15
minutes (``tcp_retries2``) before it gives up; an idle connection (a pooled one, the
LISTEN one) waits forever. TCP's own watchmen shorten both, on the socket alone:

- ``TCP_USER_TIMEOUT``: data sent and unacknowledged for ``UNACKNOWLEDGED_MS`` ends
  the connection. A slow query is not affected: the server's kernel acknowledges the
  statement at once, however long the query then runs.
- keepalive: an idle connection is probed after ``IDLE_S`` seconds, every
  ``INTERVAL_S``, and ends after ``PROBES`` unanswered probes.

The statement then fails like any lost connection: the engine's loops retry, the pool
opens a new connection (pre-ping), and the work a frozen node held has long been
handed over by its leases.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

log = logging.getLogger(__name__)

UNACKNOWLEDGED_MS = 30_000
IDLE_S = 30
INTERVAL_S = 10
PROBES = 3


def watch(sock: Any) -> None:
    """Set the watchmen on a TCP socket (a Unix socket's peer cannot vanish: nothing)."""
    if sock is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", IDLE_S),
        ("TCP_KEEPINTVL", INTERVAL_S),
        ("TCP_KEEPCNT", PROBES),
        ("TCP_USER_TIMEOUT", UNACKNOWLEDGED_MS),
    ):
        if hasattr(socket, name):  # Linux (Termux too) has all four; others some
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError as exc:  # a platform that lists an option it does not take
            log.debug("socket option %s not set: %s", option, exc)


def watch_asyncpg(conn: Any) -> None:
    """Set the watchmen on an asyncpg connection's socket.

    asyncpg offers no keepalive settings and no public way to its socket; its transport
    is the one place. Should that attribute go, the connection works unwatched (the
    tests that read the options back fail, so it is noticed)."""
    transport = getattr(conn, "_transport", None)
    if transport is None:
        log.debug("asyncpg connection without a transport: no keepalive set")
        return
    watch(transport.get_extra_info("socket"))
