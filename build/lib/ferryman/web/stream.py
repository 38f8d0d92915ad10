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
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Sent:
    """A message as every client gets it: its number, its job, its JSON made once."""

    seq: int
    job_id: int | None
    text: str


class Stream:
    """Numbered messages, the last ``keep`` of them kept for clients that reconnect.
    Each is turned into JSON once, however many clients it goes to."""

    def __init__(self, keep: int = 5000) -> None:
        self.epoch = f"{int(time.time() * 1000):x}"
        self._seq = 0
        self._kept: deque[Sent] = deque(maxlen=keep)
        self._changed = asyncio.Event()  # set, and replaced, when messages came
        self._job_changed: dict[int, asyncio.Event] = {}  # the same, for one job's
        self._job_seq: dict[int, int] = {}  # each job's newest message
        self._rung: set[int] = set()  # jobs with messages since the last wake-up
        self._ringing = False
        self.clients = 0
        self.closed = False  # the server is stopping: every client's loop ends

    def close(self) -> None:
        """End every event stream now (the server stops): waiters wake, loops see
        ``closed`` and return, so uvicorn's graceful stop has no open stream to wait
        for (a browser tab held a stop for 13 s, a client that answers pings forever)."""
        self.closed = True
        rung, self._changed = self._changed, asyncio.Event()
        rung.set()
        for event in self._job_changed.values():
            event.set()
        self._job_changed.clear()

    @property
    def seq(self) -> int:
        return self._seq

    def publish(self, message: dict[str, Any]) -> None:
        self._seq += 1
        full = {"seq": self._seq, "epoch": self.epoch, **message}
        job = message.get("job", {}).get("id")
        self._kept.append(Sent(self._seq, job, json.dumps(full)))
        if job is not None:
            self._job_seq[job] = self._seq
            self._rung.add(job)
        if not self._ringing:  # one wake-up for all published in one go
            self._ringing = True
            asyncio.get_running_loop().call_soon(self._ring)

    def _ring(self) -> None:
        self._ringing = False
        rung, self._changed = self._changed, asyncio.Event()
        rung.set()
        jobs, self._rung = self._rung, set()
        for job in jobs:
            event = self._job_changed.pop(job, None)
            if event is not None:
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

    def newer(self, seq: int, jobs: set[int] | None = None) -> bool:
        """Whether a message after ``seq`` is there (about one of ``jobs``, if few)."""
        if jobs is not None and len(jobs) == 1:
            return self._job_seq.get(next(iter(jobs)), 0) > seq
        return self._seq > seq

    async def wait_after(self, seq: int, within: float, jobs: set[int] | None = None) -> None:
        """Return when a message after ``seq`` is there (about one of ``jobs``, when a
        client watches a single job: it is not woken for every other job's), or after
        ``within`` seconds; at once when the stream is closed."""
        if self.closed or self.newer(seq, jobs):
            return
        if jobs is not None and len(jobs) == 1:
            changed = self._job_changed.setdefault(next(iter(jobs)), asyncio.Event())
        else:
            changed = self._changed  # many waiters share one event: no lock, no task each
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await changed.wait()


def wanted(sent: Sent, jobs: set[int] | None) -> bool:
    return jobs is None or sent.job_id in jobs
