"""The numbered stream the live job views travel on (``/api/v1/events``).

``Stream`` numbers every view it sends (``seq``) and keeps the last few thousand, so a
client that reconnects with the last number it saw gets exactly what it missed. Its
``epoch`` changes when the server restarts: a client with another epoch, or one too far
behind, gets a ``snapshot`` of every job instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ferryman.timeouts import wait_set


@dataclass(frozen=True, slots=True)
class Sent:
    """A message as every client gets it: its number, its job, its JSON made once."""

    seq: int
    job_id: int | None
    text: str
    account: int | None = None  # whose job: only they and administrators get it


BATCH_SECONDS = 0.05  # a busy client gets a frame at most this often, with all that came
# The fan-out's budget: frames a second to all the clients woken together. Each costs
# the event loop the engine runs on 0.1-0.3 ms (waking the client, its send through
# ASGI, a socket write, a WebSocket's deflate of the view), all in one burst at each
# wake-up, in which the engine's own threads (the store's, the media workers) wait for
# the GIL. Past BATCH_SECONDS x this many clients they are woken less often (1,000 of
# them: every 4 s), each frame carrying each job's newest view. Measured (bench
# web-subscribers, 1,000 WebSocket clients): at 1,000 a second a 100-photo job took 4x
# its time with none; at 250, 1.5x.
FRAMES_A_SECOND = 250
FRAME_MESSAGES = 500  # at most in one frame: a client that reads slowly is sent the rest next


Audience = int | None  # the job its clients watch; None: clients watching more


def pace(clients: int, budget: float = FRAMES_A_SECOND) -> float:
    """Seconds between two wake-ups of ``clients`` watching the same thing."""
    return max(BATCH_SECONDS, clients / budget)


class Stream:
    """Numbered messages, the last ``keep`` of them kept for clients that reconnect.
    Each is turned into JSON once, however many clients it goes to.

    Clients wait in audiences: those watching one job (woken by its messages only), and
    the rest (``None``: woken by every message). An audience is woken at most every
    ``pace(its size)`` seconds, so the cost of telling it is bounded whatever the
    number of clients: the engine shares this event loop, and 1,000 clients woken for
    each of a job's views took 4 s of a 1.5 s job's time."""

    def __init__(self, keep: int = 5000, budget: float = FRAMES_A_SECOND) -> None:
        self._budget = budget  # frames a second to one audience (``pace``)
        self.epoch = f"{int(time.time() * 1000):x}"
        self._seq = 0
        self._kept: deque[Sent] = deque(maxlen=keep)
        self._job_seq: dict[int, int] = {}  # each job's newest message
        self._waiting: dict[Audience, asyncio.Event] = {}  # set, and replaced, at a ring
        self._members: Counter[Audience] = Counter()  # clients in each (``joined``)
        self._rung_seq: dict[Audience, int] = {}  # the newest message it was woken for
        self._rung_at: dict[Audience, float] = {}  # when it was last woken (loop time)
        self._due: set[Audience] = set()  # audiences with messages since their last ring
        self._later: dict[Audience, asyncio.TimerHandle] = {}  # paced rings to come
        self._ringing = False
        self.clients = 0
        self.closed = False  # the server is stopping: every client's loop ends

    def close(self) -> None:
        """End every event stream now (the server stops): waiters wake, loops see
        ``closed`` and return, so uvicorn's graceful stop has no open stream to wait
        for (a browser tab held a stop for 13 s, a client that answers pings forever)."""
        self.closed = True
        for later in self._later.values():
            later.cancel()
        self._later.clear()
        waiting, self._waiting = self._waiting, {}
        for event in waiting.values():
            event.set()

    def wake(self) -> None:
        """Wake every waiting client now (``accounts.held``: a credential ended): each
        looks whether it is still wanted before its next frame."""
        waiting, self._waiting = self._waiting, {}
        for event in waiting.values():
            event.set()

    @property
    def seq(self) -> int:
        return self._seq

    def publish(self, message: dict[str, Any]) -> None:
        self._seq += 1
        full = {"seq": self._seq, "epoch": self.epoch, **message}
        job = message.get("job", {}).get("id")
        account = message.get("job", {}).get("account")
        self._kept.append(Sent(self._seq, job, json.dumps(full), account))
        self._due.add(None)
        if job is not None:
            self._job_seq[job] = self._seq
            self._due.add(job)
        if not self._ringing:  # one wake-up for all published in one go
            self._ringing = True
            asyncio.get_running_loop().call_soon(self._ring)

    def _ring(self) -> None:
        """Wake each audience with new messages now, or when its pace allows."""
        self._ringing = False
        loop = asyncio.get_running_loop()
        now = loop.time()
        due, self._due = self._due, set()
        for audience in due:
            if audience in self._later:
                continue  # a ring is set: it tells what came meanwhile
            wait = self._rung_at.get(audience, -math.inf) + self._pace(audience) - now
            if wait <= 0 or audience not in self._waiting:  # none waits: nothing to pace
                self._ring_now(audience, now)
            else:
                self._later[audience] = loop.call_later(wait, self._ring_later, audience)

    def _ring_later(self, audience: Audience) -> None:
        del self._later[audience]
        self._ring_now(audience, asyncio.get_running_loop().time())

    def _ring_now(self, audience: Audience, now: float) -> None:
        self._rung_seq[audience] = self._seq if audience is None else self._job_seq[audience]
        event = self._waiting.pop(audience, None)
        if event is not None:
            self._rung_at[audience] = now
            event.set()

    def since(self, seq: int, epoch: str | None) -> list[Sent] | None:
        """What came after ``seq``; None when that cannot be told (another epoch, or
        older than what is kept): the client needs a snapshot."""
        if epoch != self.epoch or seq > self._seq or seq < 0:
            return None
        if seq == self._seq:
            return []
        first = self._kept[0].seq if self._kept else self._seq + 1
        if first > seq + 1:
            return None
        return list(itertools.islice(self._kept, seq + 1 - first, None))

    @contextlib.contextmanager
    def joined(self, jobs: set[int] | None) -> Iterator[None]:
        """A client watching ``jobs`` is counted in its audience while it is connected
        (waiting or sending): its size sets the pace."""
        audience = _audience(jobs)
        self._members[audience] += 1
        try:
            yield
        finally:
            self._members[audience] -= 1
            if not self._members[audience]:
                del self._members[audience]

    def pace_for(self, jobs: set[int] | None) -> float:
        return self._pace(_audience(jobs))

    def _pace(self, audience: Audience) -> float:
        return pace(self._members[audience], self._budget)

    def behind(self, seq: int, jobs: set[int] | None = None) -> bool:
        """Whether the audience of ``jobs`` was woken for a message after ``seq`` (the
        client was sending then: it missed that wake-up)."""
        return self._rung_seq.get(_audience(jobs), 0) > seq

    async def wait_after(self, seq: int, within: float, jobs: set[int] | None = None) -> None:
        """Return when the client's audience was woken for a message after ``seq``
        (about its job, when a client watches a single job), or after ``within``
        seconds; at once when the stream is closed."""
        if self.closed or self.behind(seq, jobs):
            return
        audience = _audience(jobs)
        changed = self._waiting.get(audience)
        if changed is None:  # many waiters share one event: no lock, no task each
            changed = self._waiting[audience] = asyncio.Event()
        await wait_set(changed, within)


def _audience(jobs: set[int] | None) -> Audience:
    return next(iter(jobs)) if jobs is not None and len(jobs) == 1 else None


def latest(messages: list[Sent]) -> list[Sent]:
    """Each job's newest message only: a job's message carries its whole view, so an
    older one in the same frame says nothing the newer does not."""
    newest = {m.job_id: m.seq for m in messages if m.job_id is not None}
    return [m for m in messages if m.job_id is None or newest[m.job_id] == m.seq]


def wanted(sent: Sent, jobs: set[int] | None) -> bool:
    return jobs is None or sent.job_id in jobs
