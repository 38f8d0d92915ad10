"""A wake-up call for idle workers, so new work is picked up without waiting a poll."""

from __future__ import annotations

import asyncio
from collections import Counter

from ferryman.clock import SYSTEM, Clock

# An idle worker's unwoken looks grow apart, doubling from one poll to this many: a
# wake-up brings work at once, so the poll only finds what comes due by time alone (a
# retry, a flood wait's end, a watch's check), which a few seconds late does not
# matter. An idle `ferryman web` spent 2.8 % of a slow machine's core on its looks
# when each came every poll (docs/engine.md has the figures).
IDLE_POLLS = 8


def next_idle_wait(waited: float, poll: float, busy: bool) -> float:
    """An idle loop's next wait after one of ``waited`` seconds: one ``poll`` again once
    it was busy or woken (work is coming), else twice as long, up to ``IDLE_POLLS``."""
    return poll if busy else min(waited * 2, poll * IDLE_POLLS)


class Wakeup:
    """Many waiters, many notifiers; a notify wakes everyone waiting at that moment,
    and a waiter that passes the ``mark`` it took before looking for work also returns
    at once for a notify that came while it was busy (else that work would wait a
    whole poll: a delivered album's job finished half a second late).

    A notify may name topics (the stages whose work it made): then only waiters on
    those topics, and waiters on none, wake. Every idle worker of every stage claiming
    after each recorded batch or delivered album was a third of a small photo's cost.
    A notify naming no topic wakes everyone.
    """

    def __init__(self, clock: Clock = SYSTEM) -> None:
        self.clock = clock  # a wait's seconds are this clock's: a test moves it
        self._everyone = 0  # notifies that named no topic
        self._named: Counter[str | None] = Counter()  # per topic; None: any topic
        self._events: dict[str | None, asyncio.Event] = {}

    def notify(self, *topics: str) -> None:
        if topics:
            woken: tuple[str | None, ...] = (*topics, None)
            self._named.update(woken)
        else:
            self._everyone += 1
            woken = tuple(self._events)
        for topic in woken:
            event = self._events.pop(topic, None)
            if event is not None:
                event.set()

    def broadcasts(self) -> int:
        """How many notifies so far named no topic (a change may concern anyone)."""
        return self._everyone

    def mark(self, topic: str | None = None) -> int:
        """Take before looking for work; pass to ``wait`` afterwards (same topic)."""
        return self._everyone + self._named[topic]

    async def wait(
        self, seconds: float, since: int | None = None, topic: str | None = None
    ) -> None:
        """Return on the next notify for ``topic`` (any notify when None), or one since
        ``since``, or after ``seconds``."""
        if since is not None and since != self.mark(topic):
            return
        event = self._events.get(topic)
        if event is None:
            event = self._events[topic] = asyncio.Event()
        await self.clock.wait(event, seconds)

    async def idle(self, poll: float, gap: float, since: int, topic: str) -> float:
        """An idle worker's wait, ``gap`` seconds (at least one ``poll``, at most
        ``IDLE_POLLS``) or until a notify for ``topic`` since ``since``; returns the next
        gap: one poll after a notify (work is coming), else twice this one."""
        seconds = min(max(gap, poll), poll * IDLE_POLLS)
        await self.wait(seconds, since=since, topic=topic)
        return next_idle_wait(seconds, poll, busy=self.mark(topic) != since)
