"""Bounded windows over a remote file whose reader says what it reads next (a zip read
in place: each entry, from its local header to the next entry, and those after it).
Blocking: it runs on the engine's reading thread, inside ``RangeFile``.

What the server sends is what was asked for: a GET of the rest of the file let the
kernel's buffers (and the server's) take in megabytes the reader never used, and a
process killed then had been sent them all (ten kills cost 3x a 10 MB zip). Here each
GET stays inside one entry and no more than ``ahead`` bytes past the reader are asked
for, so what a restart loses is the entry it was on (read again from its start,
but for a big stored one, resumed where its staged part was last made durable) and the
read-ahead.

The network is kept busy all the same: the windows ahead of the reader (the rest of
this entry, the next entries) are asked for by a helper thread, each on its own
connection, while the reader reads, so their bytes come in meanwhile. A request per
entry asked for after each one made a 20 ms link idle between entries (``python -m
bench network`` took 2.2x as long), one asked for on the reading thread held it for the
answer's round trip, and a read-ahead of one entry left the link idle while the reader
was held by a commit or a probe.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from ferryman.errors import FerrymanError
from ferryman.net.streamfile import StreamFile

# How far past the reader windows are asked for: this share of the file, within these
# bounds. A reader held for a while (a commit, a probe) leaves the link idle once what
# was asked for is in, and a kill costs as much again: a 10 MB zip 156 KiB, 256 MiB
# 4 MiB (1 MiB left ``python -m bench network`` ~30% slower), 512 MiB and more 8 MiB.
# Sized by a reader's pace and an answer's wait instead, it grew on a loaded machine's
# loopback to cost 1.44x a 10 MB zip over ten kills.
AHEAD_LEAST = 64 << 10
AHEAD_MOST = 8 << 20
AHEAD_SHARE = 64
# While the reader is in an extent longer than ``ahead`` (a big entry, read on through a
# kill: ``engine/read/resume.py``), no more than this is asked past it: the reader is
# held at an entry's end (a probe, a commit) once per that many bytes, so the link idles
# little, and what a kill costs is what was asked ahead (8 MiB of each kill made ten cost
# 1.13x a 512 MB zip of 50 MB entries). It bounds such a read to 2 MiB a round trip
# (100 Mbit/s needs 250 KB over 20 ms; 50 ms allows 40 MB/s).
INSIDE = 2 << 20
# A window is at least this long (a zip entry's head: the zip backend's first read is
# 64 KiB), and so many are open at most (one GET, one connection each).
PEEK = 68 << 10
MOST_WINDOWS = 8

Extent = tuple[int, int]  # start, end (exclusive)


class Windows:
    """The reader's extent (``want``) and the ones it reads after, read through GETs
    that each stay inside one extent: the one read first in ``_queue``, those behind it
    asked for ahead, up to ``ahead`` bytes past the reader (at most ``MOST_WINDOWS``)."""

    def __init__(self, opener: Callable[[int, int], StreamFile], size: int) -> None:
        self._opener = opener  # a GET of start..end, not yet sent
        self.size = size
        self.ahead = max(AHEAD_LEAST, min(AHEAD_MOST, size // AHEAD_SHARE))
        self.requests = 0
        self._extents: list[Extent] = []  # the reader's extent, then those after it
        self._queue: collections.deque[_Window] = collections.deque()
        self._helper: ThreadPoolExecutor | None = None  # asks ahead, off the reader's way

    def want(self, extent: Extent, after: Sequence[Extent] = ()) -> None:
        """The reader reads ``extent`` next, then (likely) those ``after``. Windows
        asked for ahead of it for something else (an entry the engine skips, the rest
        of one it left at its head) are dropped."""
        self._extents = [(s, min(e, self.size)) for s, e in (extent, *after) if s < self.size]
        while self._queue and self._queue[0].stream.tell() != extent[0]:
            self._queue.popleft().close(self)

    def readinto(self, pos: int, buffer: memoryview) -> int | None:
        """Bytes of the extent at ``pos``, or None: ``pos`` lies outside it, or the
        window failed for good (an expired link, a changed file), and the caller asks by
        range (which renews a link or says what changed)."""
        if not self._extents or not self._extents[0][0] <= pos < self._extents[0][1]:
            return None
        while self._queue and self._queue[0].stream.tell() >= self._queue[0].stream.end:
            self._queue.popleft().close(self)  # read to its end
        if self._queue and self._queue[0].stream.tell() != pos:
            self.close()  # a seek elsewhere: what was asked for ahead is not wanted
        if not self._queue:  # asked for here: the reader waits for it anyway
            end = min(self._extents[0][1], pos + PEEK + self._ahead())
            self._queue.append(_Window(self._opener(pos, end), None))
        window = self._queue[0]
        try:
            window.settle()
            got = window.stream.readinto(buffer[: window.stream.end - pos])
        except FerrymanError:
            self.close()
            return None
        self._fill(pos + got)
        return got

    def _fill(self, pos: int) -> None:
        """Windows asked for ahead until ``ahead`` bytes past ``pos`` are (each inside
        one extent, ``PEEK`` long at least, ``MOST_WINDOWS`` at most)."""
        asked = self._queue[-1].stream.end if self._queue else pos
        ahead = self._ahead()
        while asked - pos < ahead and len(self._queue) < MOST_WINDOWS:
            span = self._span(asked, pos + ahead)
            if span is None:
                return
            stream = self._opener(*span)
            if self._helper is None:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="ferryman-ahead")
            # The reading thread's context goes along: a stop cuts the request (net.abort).
            opening = self._helper.submit(contextvars.copy_context().run, stream.open_now)
            self._queue.append(_Window(stream, opening))
            asked = span[1]

    def _ahead(self) -> int:
        """How far past the reader to ask: ``ahead``, or ``INSIDE`` while the reader's
        extent is longer than ``ahead``."""
        if self._extents and self._extents[0][1] - self._extents[0][0] > self.ahead:
            return min(self.ahead, INSIDE)
        return self.ahead

    def _span(self, since: int, until: int) -> Extent | None:
        """The next window at or after ``since``: inside one extent, up to ``until``."""
        for start, end in self._extents:
            if since < end:
                first = max(since, start)
                return first, min(end, max(until, first + PEEK))
        return None

    def close(self) -> None:
        try:
            while self._queue:
                self._queue.popleft().close(self)
        finally:
            if self._helper is not None:
                self._helper.shutdown()
                self._helper = None


@dataclasses.dataclass
class _Window:
    """One GET inside one extent, and its asking on the helper thread (None: asked, or
    to be asked by its first read)."""

    stream: StreamFile
    opening: Future[None] | None

    def settle(self) -> None:
        """Its answer is in (or its failure, met again when it is read); a stop met
        there is raised here."""
        opening, self.opening = self.opening, None
        if opening is not None:
            opening.result()

    def close(self, windows: Windows) -> None:
        """Closed once asked: what it had not sent yet is not taken."""
        try:
            self.settle()
        finally:
            windows.requests += self.stream.requests
            self.stream.close()
