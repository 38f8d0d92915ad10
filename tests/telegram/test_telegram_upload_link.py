"""Parts in flight sized to the link (``LinkEstimate``): a slow uplink's queue stays
about a round trip long, a fast one's window still fills it."""

from __future__ import annotations

import heapq
import random
from pathlib import Path

from faketg import FakeTelegram, LinkModel
from faketg.client import FakeDialer, logged_in_client
from ferryman.telegram.upload import DEFAULT_IN_FLIGHT, Uploader
from ferryman.telegram.window import FLOOR, RTT_SPAN, LinkEstimate, Sent

PART = 512 * 1024


class Link:
    """A modelled link, in simulated time: parts queue for one FIFO at ``rate`` bytes a
    second, then ``latency`` each way; a part goes whenever the estimate (and the
    window's ceiling) lets it."""

    def __init__(
        self, rate: float, latency: float, late: float = 0.0, fixed: int | None = None
    ) -> None:
        self.rate, self.latency = rate, latency
        self.late, self.fixed = late, fixed  # answers up to ``late`` s late; a fixed window
        self.rng = random.Random(7)
        self.estimate = LinkEstimate(PART)
        self.now = self.free = 0.0
        self.answers: list[tuple[float, int, Sent]] = []
        self.in_flight = self.sent = 0
        self.limits: list[tuple[float, int]] = []

    def run(self, until: float) -> None:
        while self.now < until:
            while self.in_flight < (self.fixed or min(DEFAULT_IN_FLIGHT, self.estimate.parts())):
                self.in_flight += 1
                stamp = self.estimate.sending(self.now, self.in_flight <= 1)
                self.free = max(self.free, self.now) + PART / self.rate
                self.sent += 1
                answered = self.free + 2 * self.latency + self.rng.uniform(0, self.late)
                heapq.heappush(self.answers, (answered, self.sent, stamp))
            self.now, _, stamp = heapq.heappop(self.answers)
            self.in_flight -= 1
            self.estimate.delivered(stamp, PART, self.now)
            self.limits.append((self.now, self.estimate.parts()))

    def queued(self) -> float:
        """Seconds a request sent now waits for the parts ahead of it on the link."""
        return max(0.0, self.free - self.now)


def test_a_slow_link_holds_about_a_round_trip_of_parts() -> None:
    # 1.4 MB/s, 50 ms one way (the trip bench's server row at 128 MiB): a part is 0.37 s
    # on the wire, so the link needs under two in flight; 32 would queue 11 s.
    link = Link(1.4e6, 0.05)
    link.run(60.0)
    late = [limit for at, limit in link.limits if at > 5.0]
    assert max(late) <= FLOOR + 1
    assert link.queued() < 2.0
    assert link.sent * PART / link.now > 0.97 * 1.4e6  # the link kept busy


def test_a_fast_link_still_fills_the_window() -> None:
    # 800 Mbit/s, 50 ms one way (the telegram bench): ~27 parts in flight fill it.
    link = Link(100e6, 0.05)
    link.run(20.0)
    late = [limit for at, limit in link.limits if at > 1.0]
    full = sum(1 for limit in late if limit >= DEFAULT_IN_FLIGHT)
    assert full > 0.9 * len(late)  # the rest: a round trip's probe every RTT_SPAN, at half
    assert link.sent * PART / link.now > 0.95 * 100e6


def test_a_busy_machine_answering_late_does_not_starve_a_fast_link() -> None:
    # Answers up to 0.8 s late (a loaded event loop): round trips average four times the
    # smallest, read as a queue, and twice the product alone would shrink the window
    # round after round; the half second of queue keeps it as busy as the fixed 32.
    adaptive = Link(100e6, 0.05, late=0.8)
    adaptive.run(20.0)
    fixed = Link(100e6, 0.05, late=0.8, fixed=DEFAULT_IN_FLIGHT)
    fixed.run(20.0)
    assert adaptive.estimate.queued
    assert adaptive.sent / adaptive.now > 0.95 * fixed.sent / fixed.now


def test_the_smallest_round_trip_is_measured_again_with_the_queue_drained() -> None:
    link = Link(4e6, 0.05)
    link.run(RTT_SPAN / 2)
    link.latency = 0.2  # the route got longer: a stale estimate would starve the link
    link.run(6 * RTT_SPAN)
    assert link.estimate.rtt > 0.4
    recent = [n for at, n in link.limits if at > 5 * RTT_SPAN]
    rate_then = sum(1 for at, _ in link.limits if at > 5 * RTT_SPAN) * PART / RTT_SPAN
    assert rate_then > 0.9 * 4e6, recent


async def test_a_second_file_on_a_slow_link_keeps_few_parts_in_flight(tmp_path: Path) -> None:
    # 64 KiB parts at 0.5 MB/s, 20 ms one way: a part is 0.13 s on the wire, the link
    # needs about 1.3 in flight. The fixed window let a second file out 16 at once (the
    # first file's acknowledgements had grown it), all of them queued ahead of any
    # other request.
    server = FakeTelegram(link=LinkModel(0.02, None, 0.5e6))
    me = server.add_user("Ann", phone="+15550001")
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    try:
        uploader = Uploader(client, FakeDialer(server), part_size=64 * 1024)
        rng = random.Random(1)
        first, second = tmp_path / "a.bin", tmp_path / "b.bin"
        first.write_bytes(rng.randbytes(8 * 64 * 1024))
        second.write_bytes(rng.randbytes(16 * 64 * 1024))
        await uploader.upload(first)
        await uploader.upload(second)
        stats = uploader.last_stats
        await uploader.close()
    finally:
        await client.disconnect()
    assert stats is not None and stats.parts == 16
    assert stats.max_in_flight <= 2 * FLOOR
