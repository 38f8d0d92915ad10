"""Progress from media timestamps: rising fractions, throttled, always ending at 1.0.

Every encoder reports through this, so a job's bar moves the same way whatever runs
(a child process forwards each report over a pipe; ~20 a second is plenty).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

PROGRESS_INTERVAL = 0.05  # seconds between progress reports (at most ~20 per second)


class Progress:
    """Turns decoded timestamps into rising fractions, throttled to ``PROGRESS_INTERVAL``."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._duration = 0.0
        self._sent = 0.0
        self._at = 0.0

    def start(self, duration: float | None) -> None:
        self._duration = duration or 0.0

    def update(self, seconds: float) -> None:
        if self._callback is None or self._duration <= 0:
            return
        fraction = min(1.0, max(0.0, seconds / self._duration))
        now = time.monotonic()
        if fraction > self._sent and now - self._at >= PROGRESS_INTERVAL:
            self._sent, self._at = fraction, now
            self._callback(fraction)

    def done(self) -> None:
        if self._callback is not None and self._sent < 1.0:
            self._sent = 1.0
            self._callback(1.0)


PACE_WINDOW = 5.0  # seconds of reports a conversion's speed is judged over


class Pace:
    """A conversion's own speed and time left, from how fast its share done rises.

    Speed is seconds of media made per second of work (``duration`` known), time left
    the rest at the recent rate; both None until two reports a moment apart exist (a
    resumed encode starts part-way: the rate counts from its first report, not 0)."""

    def __init__(self, duration: float | None) -> None:
        self._duration = duration if duration and duration > 0 else None
        self._samples: deque[tuple[float, float]] = deque()

    def at(self, fraction: float, now: float) -> tuple[float | None, float | None]:
        """Take a report in; (speed, seconds left) as known now."""
        self._samples.append((now, fraction))
        while len(self._samples) > 2 and now - self._samples[1][0] >= PACE_WINDOW:
            self._samples.popleft()
        (t0, f0), (t1, f1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2 or f1 <= f0:
            return None, (0.0 if fraction >= 1.0 else None)
        rate = (f1 - f0) / (t1 - t0)  # share per second
        speed = rate * self._duration if self._duration is not None else None
        return speed, max(0.0, (1.0 - fraction) / rate)
