"""Progress from media timestamps: rising fractions, throttled, always ending at 1.0.

Every encoder reports through this, so a job's bar moves the same way whatever runs
(a child process forwards each report over a pipe; ~20 a second is plenty).
"""

from __future__ import annotations

import time
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
