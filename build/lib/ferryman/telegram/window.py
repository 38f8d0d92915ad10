"""The window of parts in flight that an upload may have: AIMD, shared by every upload.

It grows by one per acknowledged part until the first flood wait (slow start: a round
trip doubles it), then by one after a window's worth of acknowledged parts, and halves
on a flood wait; a wait holds every upload until it has passed. Several files upload
through one window, so it bounds the account's parts in flight (``telegram/upload.py``).
"""

from __future__ import annotations

import asyncio


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

    def __init__(self, size: int, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.size = max(1, min(size, self.ceiling))
        self.in_flight = 0
        self.epoch = 0  # bumped on every halving
        self.fast = True  # growing by one per acknowledgement, until the first wait
        self._successes = 0
        self._holds = 0
        self._resume_at = 0.0
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> int:
        """Wait for a free slot (and the end of any wait); the epoch the send belongs to."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self._holds == 0 and now >= self._resume_at and self.in_flight < self.size:
                break
            timeout = None
            if self._holds == 0 and now < self._resume_at:
                timeout = self._resume_at - now
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait((waiter,), timeout=timeout)
            finally:
                self._waiters.remove(waiter)
        self.in_flight += 1
        return self.epoch

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
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
