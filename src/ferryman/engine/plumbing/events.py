"""One in-process bus for state changes and progress; front doors subscribe to it.

Every kind of event is a class here, with typed fields: the engine publishes
instances, and a consumer matches on the class (``isinstance`` or ``match``), so mypy
catches a misspelt kind or a renamed field. ``Event`` is the union of them all.

An event's ``kind`` (``job_finished``) is snake case, never dotted: error codes own the
dotted namespace (``job.cancelled``, ``job.waiting_for_password``), and a line that
says ``job_waiting`` is never mistaken for one. Events stay in this process (the web's
live views are job snapshots, read from the store when the engine runs elsewhere), so
nothing here is serialised.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

log = logging.getLogger(__name__)

# A log record's attribute (``extra``) naming the job whose wait it tells, with the
# words a ``JobWaiting`` carries too: a front door that prints the event can leave the
# record out of the same stream (``frontdoors/progress``), a log file keeps both.
WAIT_LOGGED = "ferryman_job_waiting"


@dataclass(frozen=True, slots=True)
class _Base:
    """What every event has: when it happened, and its kind's name (for a log line)."""

    kind: ClassVar[str]
    at: float = field(default_factory=time.time, kw_only=True, compare=False)

    @property
    def job_id(self) -> int | None:
        """The job it concerns; None for the engine's own events."""
        return None

    @property
    def item_id(self) -> int | None:
        """The item it concerns; None unless it is an item's event."""
        return None

    @property
    def run(self) -> int | None:
        """The run of its job that sent it (``Job.run``); None: not told."""
        return None

    def details(self) -> Iterator[tuple[str, object]]:
        """Its own fields (not the job, the item, the run or the time), in declared order."""
        for f in dataclasses.fields(self):
            if f.name not in ("at", "job_id", "item_id", "run"):
                yield f.name, getattr(self, f.name)


@dataclass(frozen=True, slots=True)
class JobEvent(_Base):
    """Something happened to a job."""

    # field(): the base's property is not a default (dataclasses look it up by getattr)
    job_id: int = field()  # narrows the base's property
    # The progress reports name their run: one from a run cancelled before a retry, late
    # (its step stops at its next heartbeat), is not the retried job's (``phases.Runs``).
    run: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class ItemEvent(JobEvent):
    """Something happened to one item of a job."""

    item_id: int = field()  # narrows the base's property


# ---------------------------------------------------------------- the engine


@dataclass(frozen=True, slots=True)
class EngineStarted(_Base):
    kind: ClassVar[str] = "engine_started"
    owner: str
    node: str


@dataclass(frozen=True, slots=True)
class EngineStopped(_Base):
    kind: ClassVar[str] = "engine_stopped"
    released: int  # claims handed back


@dataclass(frozen=True, slots=True)
class EngineWarning(_Base):
    """A destination's start-up check found something wrong (work goes on)."""

    kind: ClassVar[str] = "engine_warning"
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class EngineDraining(_Base):
    """This node was drained (``draining``) or may take work again."""

    kind: ClassVar[str] = "engine_draining"
    draining: bool


# ---------------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class JobStarted(JobEvent):
    """The read stage began reading the job's input."""

    kind: ClassVar[str] = "job_started"
    source: str  # as shown: a link's token never reaches a log


@dataclass(frozen=True, slots=True)
class JobFetching(JobEvent):
    """A download's (or a link converter's) progress.

    ``phase`` says what the fetch does now: ``downloading`` (``speed`` in bytes per
    second) or, for a link to media once its files are in, ``converting`` (``speed``:
    seconds of media made per second, 0 when the length is unknown)."""

    kind: ClassVar[str] = "job_fetching"
    done: int
    total: int | None
    speed: float
    eta: float | None  # seconds left
    fraction: float | None  # the whole fetch's share done, when known
    phase: str = "downloading"


@dataclass(frozen=True, slots=True)
class JobFetched(JobEvent):
    kind: ClassVar[str] = "job_fetched"
    size: int | None
    name: str | None
    note: str | None
    in_place: bool  # read where it lies (a zip by Range, a streamed tar): nothing stored


@dataclass(frozen=True, slots=True)
class JobProgress(JobEvent):
    """An entry was read and recorded."""

    kind: ClassVar[str] = "job_progress"
    entry: int
    path: str


@dataclass(frozen=True, slots=True)
class JobWaiting(JobEvent):
    """The job waits (room, a password, the network, a retry): ``reason`` is a code,
    ``message`` its words (what the service said, where the room is short), ``again_in``
    the seconds until it looks again by itself (None: when something else happens, a
    password given, a delivery that frees room)."""

    kind: ClassVar[str] = "job_waiting"
    reason: str
    message: str | None = None
    again_in: float | None = None


@dataclass(frozen=True, slots=True)
class JobResumed(JobEvent):
    kind: ClassVar[str] = "job_resumed"


@dataclass(frozen=True, slots=True)
class JobReadDone(JobEvent):
    """The input was read to its end (``error``: the code that cut it short)."""

    kind: ClassVar[str] = "job_read_done"
    error: str | None


@dataclass(frozen=True, slots=True)
class JobFinished(JobEvent):
    kind: ClassVar[str] = "job_finished"
    state: str  # a JobState value
    code: str | None = None


# --------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True)
class ItemRecorded(ItemEvent):
    kind: ClassVar[str] = "item_recorded"
    state: str  # an ItemState value
    media: str  # a MediaKind value
    path: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class ItemConverting(ItemEvent):
    kind: ClassVar[str] = "item_converting"
    path: str


@dataclass(frozen=True, slots=True)
class ItemProgress(ItemEvent):
    """A conversion's share done, from the encoder's position in the media; ``speed``:
    seconds of media made per second, ``eta``: seconds left (None until known)."""

    kind: ClassVar[str] = "item_progress"
    stage: str
    fraction: float
    speed: float | None = None
    eta: float | None = None


@dataclass(frozen=True, slots=True)
class ItemConverted(ItemEvent):
    kind: ClassVar[str] = "item_converted"
    seconds: float


@dataclass(frozen=True, slots=True)
class ItemQuarantined(ItemEvent):
    kind: ClassVar[str] = "item_quarantined"
    code: str


# -------------------------------------------------------------------- albums


@dataclass(frozen=True, slots=True)
class AlbumDelivered(JobEvent):
    kind: ClassVar[str] = "album_delivered"
    album: int  # its seq in the job
    items: int
    ref: str


@dataclass(frozen=True, slots=True)
class AlbumSending(JobEvent):
    """An album's bytes on their way to the destination (an upload, a copy)."""

    kind: ClassVar[str] = "album_sending"
    album: int  # its seq in the job
    done: int  # bytes sent of the album's files
    total: int
    speed: float  # bytes per second
    eta: float | None  # seconds left


@dataclass(frozen=True, slots=True)
class AlbumWaiting(JobEvent):
    """The destination said: not before ``seconds`` (uncounted)."""

    kind: ClassVar[str] = "album_waiting"
    album: int
    seconds: float


@dataclass(frozen=True, slots=True)
class AlbumFailed(JobEvent):
    kind: ClassVar[str] = "album_failed"
    album: int
    code: str


# ------------------------------------------------------------------- watches


@dataclass(frozen=True, slots=True)
class WatchFound(_Base):
    """A check found new entries (``titles``: theirs, in the order made) and made them
    part of ``jobs`` (one job a look, more only where some were already in jobs)."""

    kind: ClassVar[str] = "watch_found"
    watch_id: int
    source: str  # as shown: a link's token never reaches a notice
    dest: str
    jobs: tuple[int, ...]
    titles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WatchFailing(_Base):
    """A watch that was fine could not be checked (said once, not at every retry)."""

    kind: ClassVar[str] = "watch_failing"
    watch_id: int
    source: str
    code: str
    message: str
    next_at: float


Event = (
    EngineStarted
    | EngineStopped
    | EngineWarning
    | EngineDraining
    | JobStarted
    | JobFetching
    | JobFetched
    | JobProgress
    | JobWaiting
    | JobResumed
    | JobReadDone
    | JobFinished
    | ItemRecorded
    | ItemConverting
    | ItemProgress
    | ItemConverted
    | ItemQuarantined
    | AlbumDelivered
    | AlbumSending
    | AlbumWaiting
    | AlbumFailed
    | WatchFound
    | WatchFailing
)
"""Every event the engine publishes."""

Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out: subscribers must be quick (render, enqueue), never block."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it again."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken renderer must not stop the engine
                log.exception("event subscriber failed on %s", event.kind)
