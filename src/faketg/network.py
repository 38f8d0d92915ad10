"""A bandwidth and latency model for the fake's connections.

Each connection is a pipe with its own rate (one TCP connection to a Telegram DC); all
connections share one link with its own cap. Bytes are serialised on both, so N
connections can go N times as fast until the link is full. Latency is one-way and is
paid on the way up and again on the way down (a round trip costs twice ``latency``); it
does not hold the pipe, so requests in flight on one connection overlap their waits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LinkModel:
    """``None`` rates mean unlimited; ``latency`` is one way, in seconds."""

    latency: float = 0.0
    conn_bytes_per_s: float | None = None
    link_bytes_per_s: float | None = None

    @classmethod
    def mbit(cls, latency_ms: float, conn_mbit: float | None, link_mbit: float | None) -> LinkModel:
        def rate(mbit: float | None) -> float | None:
            return None if mbit is None else mbit * 1_000_000 / 8

        return cls(latency_ms / 1000, rate(conn_mbit), rate(link_mbit))


@dataclass(slots=True)
class Pipe:
    """When this pipe is next free, per direction (loop time)."""

    up: float = 0.0
    down: float = 0.0


@dataclass(slots=True)
class Network:
    model: LinkModel = field(default_factory=LinkModel)
    link: Pipe = field(default_factory=Pipe)
    bytes_up: int = 0
    bytes_down: int = 0

    async def carry(
        self, pipe: Pipe, nbytes: int, *, up: bool, also: tuple[Pipe, float] | None = None
    ) -> None:
        """Wait as long as ``nbytes`` take through this connection and the shared link;
        ``also``: one more pipe they cross at its own rate (an account's cap)."""
        if up:
            self.bytes_up += nbytes
        else:
            self.bytes_down += nbytes
        m = self.model
        if (
            m.conn_bytes_per_s is None
            and m.link_bytes_per_s is None
            and m.latency <= 0
            and also is None
        ):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        end = now
        if also is not None:
            shared, rate = also
            start = max(now, shared.up if up else shared.down)
            end = start + nbytes / rate
            if up:
                shared.up = end
            else:
                shared.down = end
        if m.conn_bytes_per_s is not None:
            start = max(now, pipe.up if up else pipe.down)
            end = max(end, start + nbytes / m.conn_bytes_per_s)
        if m.link_bytes_per_s is not None:
            start = max(now, self.link.up if up else self.link.down)
            link_end = start + nbytes / m.link_bytes_per_s
            if up:
                self.link.up = link_end
            else:
                self.link.down = link_end
            end = max(end, link_end)
        if up:
            pipe.up = end
        else:
            pipe.down = end
        await asyncio.sleep(max(0.0, end - now) + m.latency)
