"""Each job's bar as the page showed it, kept in the store so a restarted server starts
each bar there (a bar only rises, also across a restart).

Kept in the job's ``progress.shown`` memo, and only where the store's own figures would
show less (a download cut short, a cancel mid-download): at once when the job stops
moving (it may stay there), at most every ``SAVE_EVERY`` seconds while it moves, and
when the server stops.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import TYPE_CHECKING

from ferryman.clock import SYSTEM, Clock
from ferryman.model import Job, JobState

if TYPE_CHECKING:
    from ferryman.store.ports import ShownBars

log = logging.getLogger(__name__)

SHOWN_MEMO = "progress.shown"  # the job's memo holding the bar as last shown
SAVE_EVERY = 1.0  # seconds between saves of a moving job's bar


class KeptProgress:
    """The bars as shown: read once, saved as they rise."""

    def __init__(self, store: ShownBars, clock: Clock = SYSTEM) -> None:
        self.store = store
        self._clock = clock
        self._read: dict[int, float] | None = None
        self._saved: dict[int, float] = {}
        self._due: dict[int, tuple[float, float]] = {}  # job → (value, save at)
        self._at: dict[int, float] = {}  # job → when last saved (monotonic)

    async def before(self, job_id: int) -> float:
        """What the job's bar showed before this process (all read at the first ask)."""
        if self._read is None:
            try:
                raw = await self.store.memos_named(SHOWN_MEMO)
            except Exception:
                log.exception("reading the progress shown before failed")
                raw = {}
            read = {}
            for job, text in raw.items():
                with contextlib.suppress(ValueError):
                    read[job] = float(text)
            self._read = read
            for job, value in read.items():
                self._saved.setdefault(job, value)
        return self._read.get(job_id, 0.0)

    def keep(self, job: Job, shown: float) -> bool:
        """Save ``shown`` if it rose; whether a save is now due (the caller's loop saves)."""
        value = round(shown, 4)
        if job.state is JobState.DONE or value <= self._saved.get(job.id, 0.0):
            return False
        still = job.state.terminal or job.paused or job.wait_reason is not None
        at = self._at.get(job.id, -math.inf) + (0.0 if still else SAVE_EVERY)
        self._due[job.id] = (value, at)
        return True

    def deadlines(self) -> list[float]:
        """When the saves waiting are due (monotonic)."""
        return [at for _, at in self._due.values()]

    async def save(self, *, all_due: bool = False) -> None:
        """Save the bars that are due (``all_due``: every one waiting)."""
        now = self._clock.monotonic()
        due = [(j, v) for j, (v, at) in self._due.items() if all_due or at <= now]
        for job_id, value in due:
            self._due.pop(job_id, None)
            self._at[job_id] = now
            try:
                await self.store.put_source_memo(job_id, SHOWN_MEMO, f"{value:.4f}")
            except Exception as exc:  # removed meanwhile, or the store hiccuped: next rise
                log.debug("saving job %d's progress shown failed: %s", job_id, exc)
                continue
            self._saved[job_id] = value

    def reset(self, job_id: int) -> None:
        """The job runs again (a retry): its bar starts from 0, here and after a restart."""
        if self._read is not None:
            self._read.pop(job_id, None)
        self._saved[job_id] = 0.0
        self._due[job_id] = (0.0, self._clock.monotonic())

    def forget(self, job_id: int) -> None:
        for kept in (self._saved, self._due, self._at):
            kept.pop(job_id, None)
