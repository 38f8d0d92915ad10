"""The window of parts in flight that an upload may have: AIMD, shared by every upload.

It grows by one per acknowledged part until the first flood wait (slow start: a round
trip doubles it), then by one after a window's worth of acknowledged parts, and halves
on a flood wait; a wait holds every upload until it has passed. Several files upload
through one window, so it bounds the account's parts in flight (``telegram/upload.py``).
Below that, :class:`LinkEstimate` keeps the parts in flight near what the link carries in
a round trip: on a slow uplink a fixed window is a queue that every other request (an
album's ``uploadMedia`` and send) waits behind.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

GAIN = 2.0  # parts in flight up to twice the bandwidth-delay product (BBR's cwnd gain)
QUEUE = 0.5  # or up to the product plus this many seconds of the link's rate, if more
FLOOR = 4  # never fewer: a stalled event loop must not leave a slow link idle
RTT_SPAN = 30.0  # seconds a smallest round trip stands unconfirmed before it is measured again
NEAR = 1.25  # a round trip within this of the smallest confirms it (the link drained by itself)
BW_ROUNDS = 10  # the delivery rate is the best of this many smallest round trips' samples
BW_KEEP = 8  # samples kept however old: an idle spell does not forget the rate


class Window:
    """How many parts may be in flight: a fast start, then additive increase,
    multiplicative decrease (TCP's congestion window, counted in parts).

    Until the first flood wait it grows by one per acknowledged part (doubling each
    round trip) up to its ceiling: growing by one per window's worth of acknowledgements
    from the start took 188 MiB of a file to go from 16 to 32 parts, most of a 256 MiB
    upload at half the link. A flood wait halves it once per burst (answers to parts
    sent before the halving do not halve again), holds every new send until the wait is
    over, and from then on it grows by one per window of acknowledged parts. A premium
    flood wait (FLOOD_PREMIUM_WAIT: the account's upload speed cap) also lowers the
    ceiling for good, so the window never grows back into it.
    """

    def __init__(self, size: int, ceiling: int, link: LinkEstimate | None = None) -> None:
        self.link = link
        self.ceiling = max(1, ceiling)
        self.size = max(1, min(size, self.ceiling))
        self.in_flight = 0
        self.epoch = 0  # bumped on every halving
        self.fast = True  # growing by one per acknowledgement, until the first wait
        self._successes = 0
        self._holds = 0
        self._resume_at = 0.0
        self._waiting = Ranked()

    async def acquire(self, rank: int = 0) -> int:
        """Wait for a free slot (and the end of any wait); the epoch the send belongs to.
        A lower ``rank`` (an upload begun earlier) goes first (``Ranked``)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if (
                self._holds == 0
                and now >= self._resume_at
                and self.in_flight < self.limit
                and self._waiting.may_go(rank)
            ):
                break
            timeout = None
            if self._holds == 0 and now < self._resume_at:
                timeout = self._resume_at - now
            await self._waiting.wait(rank, timeout, self._wake)
        self.in_flight += 1
        if self.in_flight < self.limit:
            self._wake()  # a slot left: the next in line (woken one at a time)
        return self.epoch

    @property
    def limit(self) -> int:
        """Parts that may be in flight now: the AIMD size, or fewer if the link needs fewer."""
        if self.link is None:
            return self.size
        return max(1, min(self.size, self.link.parts()))

    def sending(self) -> Sent | None:
        """Note a part going out now (after :meth:`acquire`): for :meth:`delivered`."""
        if self.link is None:
            return None
        return self.link.sending(asyncio.get_running_loop().time(), self.in_flight <= 1)

    def delivered(self, sent: Sent | None, nbytes: int) -> None:
        """A part noted by :meth:`sending` was acknowledged: the link's estimate moves."""
        if self.link is not None and sent is not None:
            before = self.link.parts()
            self.link.delivered(sent, nbytes, asyncio.get_running_loop().time())
            if self.link.parts() > before:
                self._wake()

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def succeeded(self, sent_epoch: int) -> None:
        if sent_epoch != self.epoch:  # sent at the old width: says nothing about the new one
            return
        self._successes += 1
        if self.size < self.ceiling and (self.fast or self._successes >= self.size):
            self.size += 1
            self._successes = 0
            self._wake()

    def shrink(self, sent_epoch: int, *, premium: bool) -> None:
        if sent_epoch == self.epoch:
            self.size = max(1, self.size // 2)
            self.epoch += 1
            self._successes = 0
            self.fast = False
        if premium:
            self.ceiling = min(self.ceiling, self.size)

    def hold(self) -> None:
        """No new sends until :meth:`resume_after` or :meth:`unhold`."""
        self._holds += 1

    def resume_after(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + seconds)
        self.unhold()

    def unhold(self) -> None:
        """End a hold without a wait: Telegram will tell the next send what is left."""
        self._holds -= 1
        self._wake()

    def _wake(self) -> None:
        """Wake the first in line for each free slot; at a wait's end the first only
        (it sleeps until then, and the slot it takes wakes the next)."""
        if self._holds:
            return
        if self._resume_at and asyncio.get_running_loop().time() < self._resume_at:
            self._waiting.wake(1)
        else:
            self._waiting.wake(self.limit - self.in_flight)


class PartsInMemory:
    """Parts read and not yet acknowledged, over every upload sharing ``window``: at most
    its limit plus ``ahead``. A part is read only once it can soon go out.

    Each upload read its parts a few ahead and each of its senders held one while it
    waited for the window, so an album's ten photos (five parts each) were read whole
    at its start and sent at the link's pace: the phone trip's engine rose by ~30 MiB
    an album and fell as the uplink drained it (bench/results/memory.md)."""

    def __init__(self, window: Window, ahead: int) -> None:
        self.window = window
        self.ahead = ahead
        self.count = 0
        self._waiting = Ranked()

    @property
    def _free(self) -> int:
        return self.window.limit + self.ahead - self.count

    async def take(self, rank: int = 0) -> None:
        """Wait until one more part may be read, and count it; a lower ``rank`` first."""
        while self._free <= 0 or not self._waiting.may_go(rank):
            await self._waiting.wait(rank, None, self._wake)
        self.count += 1
        if self._free > 0:
            self._wake()

    def give(self, parts: int = 1) -> None:
        """Parts acknowledged, or given up on: others may be read."""
        self.count -= parts
        self._wake()

    def _wake(self) -> None:
        self._waiting.wake(self._free)


class Ranked:
    """Waiters in line by rank, then by arrival: an upload begun earlier goes first.

    With every upload's parts equal, two albums sent at once shared the link and were
    done together, late; the read, bounded to two albums' bytes, waited for room all that
    while with nothing staged behind them, and the uplink then idled for the read (the
    server's trip with the upload slower, 1.11x at 1 GiB). The first album going first
    frees its room an album's upload earlier. A later upload still takes what the earlier
    ones leave: nothing idles for the order. Woken one a slot, not all: each waiter
    checked every release was quadratic in the waiters."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = 0

    def may_go(self, rank: int) -> bool:
        """No one of a lower rank waits (a woken waiter is out of the line already)."""
        heap = self._heap
        while heap and heap[0][2].done():  # gone: timed out or cancelled
            heapq.heappop(heap)
        return not heap or rank <= heap[0][0]

    async def wait(self, rank: int, seconds: float | None, pass_on: Callable[[], None]) -> None:
        """Wait in line until woken (or for ``seconds``); a wake-up this waiter cannot
        use (it was cancelled) goes to ``pass_on``, to wake the next."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals += 1
        heapq.heappush(self._heap, (rank, self._arrivals, waiter))
        try:
            await asyncio.wait((waiter,), timeout=seconds)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                pass_on()
            raise
        finally:
            waiter.cancel()  # still in line if not woken: dropped when reached

    def wake(self, count: int) -> None:
        """Wake the first ``count`` in line."""
        heap = self._heap
        while count > 0 and heap:
            _, _, waiter = heapq.heappop(heap)
            if not waiter.done():
                waiter.set_result(None)
                count -= 1


@dataclass(frozen=True, slots=True)
class Sent:
    """What the link's counters were as a part went out (BBR's per-packet state)."""

    at: float
    delivered: int  # bytes acknowledged before it went
    delivered_at: float  # when the last of those was
    first_sent_at: float  # when the last acknowledged part had gone out
    probing: bool  # sent while the window was down to measure the round trip


class LinkEstimate:
    """The link's bandwidth-delay product, from acknowledgements (BBR's model, simplified).

    Each acknowledged part gives a delivery rate (bytes acknowledged between its send and
    its answer over that time) and a round trip; the link carries the best rate of the
    last few round trips times the smallest round trip. Parts in flight are held to
    ``GAIN`` times that or to that plus ``QUEUE`` seconds of the rate, whichever is more,
    so the queue ahead of any request is about a round trip or half a second, not a
    fixed window's worth (32 parts of 512 KiB are 8 s at 2 MB/s). The gain lets an
    unmeasured or idle-started link double its rate each round trip; the half second
    keeps a fast link's window full when a busy machine answers late (round trips far
    over the smallest, which the product alone would read as a slower link). No bound
    until a round trip comes back ``QUEUE`` over the smallest: a link the window does
    not overfill needs none. The smallest round trip, unseen (even nearly) for
    ``RTT_SPAN`` seconds, is measured again with the window at half the product for one
    round trip (the queue drained): a standing queue would otherwise grow the estimate
    it is made from.
    """

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self.rtt = math.inf  # the smallest round trip seen (seconds)
        self._rtt_at = 0.0  # when it was seen
        self._probe = False
        self._rates: deque[tuple[float, float]] = deque()  # (when, bytes a second)
        self._delivered = 0
        self._delivered_at = 0.0
        self._first_sent_at = 0.0
        self.queued = False  # a round trip came back QUEUE over the smallest: a queue formed

    @property
    def rate(self) -> float:
        return max((r for _, r in self._rates), default=0.0)

    def parts(self) -> int:
        """Parts that may be in flight: unbounded (the AIMD window rules) until a queue was
        seen: a link the window does not overfill needs no bound, and the first answers
        measure the window, not the link."""
        if not self.queued or not self._rates:
            return 1 << 30
        product = self.rate * self.rtt / self.part_size
        if self._probe:
            return max(1, int(product / 2))
        queue = self.rate * QUEUE / self.part_size
        return max(FLOOR, math.ceil(max(GAIN * product, product + queue)))

    def sending(self, now: float, idle: bool) -> Sent:
        if idle:  # nothing else in flight: the rate is measured from here, not the last answer
            self._delivered_at = self._first_sent_at = now
        return Sent(now, self._delivered, self._delivered_at, self._first_sent_at, self._probe)

    def delivered(self, sent: Sent, nbytes: int, now: float) -> None:
        self._delivered += nbytes
        self._delivered_at, self._first_sent_at = now, sent.at
        rtt = now - sent.at
        if (sent.probing and self._probe) or rtt <= self.rtt:  # a probe's: the queue drained
            self.rtt, self._rtt_at, self._probe = rtt, now, False
        elif rtt <= NEAR * self.rtt:
            self._rtt_at, self._probe = now, False
        elif now - self._rtt_at > RTT_SPAN:
            self._probe = True  # the smallest round trip is stale: drain and measure it
        interval = max(now - sent.delivered_at, sent.at - sent.first_sent_at)
        if interval > 0:
            self._rates.append((now, (self._delivered - sent.delivered) / interval))
        span = max(1.0, BW_ROUNDS * self.rtt)
        while len(self._rates) > BW_KEEP and now - self._rates[0][0] > span:
            self._rates.popleft()
        self.queued = self.queued or rtt > self.rtt + QUEUE
