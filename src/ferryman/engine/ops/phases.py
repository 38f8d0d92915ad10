"""What a job is doing now, with that phase's own speed and time left: one place for
the page, the run's bars and the chat's status messages.

Each stage reports in its own unit: a download and a delivery (an upload, a copy) in
bytes per second, a conversion in seconds of media made per second ("2.5× real
time"). A figure belongs to the phase that reported it: when the phase changes, the
last phase's speed and time left go (a conversion never shows the download's
9.2 MB/s and "0 s left"), and a phase that reported no figures shows none.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    AlbumFailed,
    AlbumSending,
    AlbumWaiting,
    Event,
    ItemConverted,
    ItemConverting,
    ItemProgress,
    JobFetched,
    JobFetching,
    JobFinished,
    JobProgress,
    JobReadDone,
    JobResumed,
    JobStarted,
    JobWaiting,
)
from ferryman.model import Job, JobState

DOWNLOADING = "downloading"
CONVERTING = "converting"
DELIVERING = "delivering"
READING = "reading"
WAITING = "waiting"

BYTES = "B/s"  # a download's, a delivery's speed
REALTIME = "x"  # a conversion's: seconds of media made per second


@dataclass(frozen=True, slots=True)
class Figures:
    """One phase of one job: its name and, where known, its own speed and time left."""

    phase: str
    speed: float | None = None  # in ``unit``; None: not known (never a stale one)
    unit: str = BYTES
    eta: float | None = None  # seconds left of this phase
    fraction: float | None = None  # this phase's share done (a fetch's: the whole fetch)
    done: int | None = None  # bytes, where the phase counts them
    total: int | None = None

    def note(self) -> str:
        """Speed and time left as a person reads them ("2.1 MB/s, 40 s left"); empty
        when neither is known."""
        parts = []
        if self.phase == DOWNLOADING and self.total is None and self.done and not self.fraction:
            # A size nobody knows (no Content-Length): the bytes so far are what moves.
            parts.append(f"{bytes_text(self.done)} so far")
        if self.speed is not None and self.speed > 0:
            parts.append(speed_text(self.speed, self.unit))
        if self.eta is not None:
            parts.append(eta_text(self.eta))
        return ", ".join(parts)

    def line(self) -> str:
        """The phase with its figures: "converting (2.5× real time, 12 s left)"."""
        note = self.note()
        return f"{self.phase} ({note})" if note else self.phase


def speed_text(speed: float, unit: str) -> str:
    if unit == REALTIME:
        return f"{speed:.1f}× real time"
    if speed >= 1e6:
        return f"{speed / 1e6:.1f} MB/s"
    return f"{speed / 1e3:.0f} kB/s"


def bytes_text(size: int) -> str:
    """As the page says a size (``app.js``'s ``size``): "1.1 MB", "16 kB"."""
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    if size >= 1e6:
        return f"{size / 1e6:.1f} MB"
    return f"{max(1, round(size / 1e3))} kB"


def eta_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s left"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min left"
    return f"{seconds / 3600:.1f} h left"


_BARE: dict[type[Event], str] = {  # events that set a phase with no figures of its own
    JobStarted: READING,
    JobProgress: READING,
    JobResumed: READING,
    JobFetched: READING,
    JobReadDone: DELIVERING,
    ItemConverting: CONVERTING,
    ItemConverted: DELIVERING,
    AlbumDelivered: DELIVERING,
    AlbumFailed: DELIVERING,
    JobWaiting: WAITING,
    AlbumWaiting: WAITING,
}


def figures_of(event: Event, before: Figures | None = None) -> Figures | None:
    """The figures ``event`` says its job has now (None: it says nothing of a phase).

    ``before``: the job's figures until now; a progress report of the same phase that
    lacks a figure keeps none (a retried download's first report has no speed yet), and
    a fetch's share done never goes back within its phase."""
    if isinstance(event, JobFetching):
        unit = REALTIME if event.phase == CONVERTING else BYTES
        fraction = event.fraction
        if before is not None and before.phase == event.phase and before.fraction is not None:
            fraction = before.fraction if fraction is None else max(fraction, before.fraction)
        speed = event.speed if event.speed > 0 else None
        return Figures(event.phase, speed, unit, event.eta, fraction, event.done, event.total)
    if isinstance(event, ItemProgress):
        return Figures(CONVERTING, event.speed, REALTIME, event.eta, event.fraction)
    if isinstance(event, AlbumSending):
        speed = event.speed if event.speed > 0 else None
        fraction = event.done / event.total if event.total else None
        return Figures(DELIVERING, speed, BYTES, event.eta, fraction, event.done, event.total)
    phase = _BARE.get(type(event))
    return Figures(phase) if phase is not None else None


def phase_of(job: Job, figures: Figures | None) -> str:
    """The phase a job's view shows: its state where that says it all (ended, waiting
    for a password, paused, waiting), else the phase its run reported last."""
    if job.state.terminal:
        return job.state.value
    if job.state is JobState.NEEDS_PASSWORD:
        return "needs_password"
    if job.paused:
        return "paused"
    if job.wait_reason:
        return "waiting"
    return figures.phase if figures is not None else "queued"


class Runs:
    """Each job's current run, as far as it is known: from the runs its events name and
    from the store (``Job.run``, which a retry raises). A cancelled run's download goes
    on reporting until its heartbeat sees the cancel; a retry meanwhile starts the next
    run, and those late reports, of an earlier run, are not the job's figures."""

    def __init__(self) -> None:
        self._runs: dict[int, int] = {}

    def current(self, job_id: int) -> int | None:
        return self._runs.get(job_id)

    def late(self, job_id: int, run: int | None) -> bool:
        """Whether ``run`` is earlier than the job's current one (untold: never late)."""
        known = self._runs.get(job_id)
        return run is not None and known is not None and run < known

    def moved_on(self, job_id: int, run: int | None) -> bool:
        """Take ``run`` as the job's current one if it is later; whether it replaced an
        earlier known run (what was kept of the job then belongs to that one)."""
        known = self._runs.get(job_id)
        if run is None or (known is not None and run <= known):
            return False
        self._runs[job_id] = run
        return known is not None

    def forget(self, job_id: int) -> None:
        self._runs.pop(job_id, None)


class Phases:
    """Each job's current phase and figures, told by the bus (quick: no I/O), of its
    current run only (``Runs``)."""

    def __init__(self) -> None:
        self._jobs: dict[int, Figures] = {}
        self._runs = Runs()

    def late(self, event: Event) -> bool:
        """Whether ``event`` is a late report of an earlier run of its job."""
        return event.job_id is not None and self._runs.late(event.job_id, event.run)

    def run_is(self, job_id: int, run: int) -> None:
        """The store says the job is in ``run`` now (a retry elsewhere, heard of no
        other way): the figures of an earlier run go."""
        if self._runs.moved_on(job_id, run):
            self._jobs.pop(job_id, None)

    def on_event(self, event: Event) -> Figures | None:
        """Take ``event`` in; the job's figures after it (None: not a job's event). A late
        report of an earlier run changes nothing."""
        job = event.job_id
        if job is None:
            return None
        if self._runs.late(job, event.run):
            return self._jobs.get(job)
        if event.run is not None:
            self.run_is(job, event.run)
        if isinstance(event, JobFinished):
            return self._jobs.pop(job, None)
        found = figures_of(event, self._jobs.get(job))
        if found is not None:
            self._jobs[job] = found
        return self._jobs.get(job)

    def get(self, job_id: int) -> Figures | None:
        return self._jobs.get(job_id)
