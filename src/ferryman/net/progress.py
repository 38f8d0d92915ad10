"""Download progress: bytes, total, speed over a sliding window, and the time left."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 5.0  # long enough to smooth bursts, short enough to follow a change
EMIT_EVERY_SECONDS = 0.25
# A speed needs this much real time between its samples: a local copy of a big file
# in a few milliseconds read as "6098.7 MB/s" on a delivering zip.
MIN_SPAN_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """One progress report. ``done`` falls back to zero only on a restart (counted)."""

    done: int
    total: int | None
    speed: float  # bytes per second over the last few seconds
    eta: float | None  # seconds left; None while the total or the speed is unknown
    restarts: int
    fraction: float | None = None  # the whole fetch's share done, when not done/total
    # (a link to media: several downloads, then the conversion, in one rising value)
    phase: str = "downloading"  # or "converting": ``speed`` is then media seconds a second

    @property
    def share(self) -> float | None:
        """The share done, 0..1, when known."""
        if self.fraction is not None:
            return self.fraction
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[DownloadProgress], None]


class SpeedMeter:
    """Bytes per second over the last ``window`` seconds of samples; 0 (not known)
    until they span ``MIN_SPAN_SECONDS`` of real time."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, done: int, now: float) -> None:
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # a restart: old samples describe other bytes
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()

    def speed(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 >= MIN_SPAN_SECONDS else 0.0


class ProgressReporter:
    """Calls the callback at most every ``EMIT_EVERY_SECONDS``, and always at the end."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._meter = SpeedMeter()
        self._last_emit = 0.0

    def update(self, done: int, total: int | None, restarts: int, *, force: bool = False) -> None:
        now = time.monotonic()
        self._meter.add(done, now)
        if self._callback is None or (not force and now - self._last_emit < EMIT_EVERY_SECONDS):
            return
        self._last_emit = now
        speed = self._meter.speed()
        eta = (total - done) / speed if total is not None and speed > 0 else None
        if total is not None and done >= total:
            eta = 0.0
        self._callback(DownloadProgress(done, total, speed, eta, restarts))
