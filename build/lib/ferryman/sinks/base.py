"""The sink seam: what every destination kind implements, and the registry that picks one.

A job's ``dest`` is ``scheme:target`` (``library:/srv/photos``, ``telegram:@name``). A
*kind* owns everything about its scheme: parsing the target, the media policy (and so
the caption limit), the largest album it takes, a cheap offline readiness check made
when a job is added, and opening the *sink* that delivers albums. The engine asks the
registry and knows no kind by name; a new destination is one module plus its
registration (``default_sinks().with_kind(...)``).

A sink receives a whole album and must be idempotent: delivering an album it already
has (a crash struck after it wrote, before the store recorded it) returns the same
result and writes nothing twice. What it must remember for that it keeps through its
``SinkState`` (records per job, server waits), never the store: a sink that keeps state
needs no table or migration of its own.

Import-light on purpose: ``ferryman status`` and ``add`` load this, so a kind imports
its network client only when it opens a sink.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ferryman.errors import FerrymanError
from ferryman.model import Album, Job, SinkRecord
from ferryman.resources import Shared

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.media.policy import Policy


@dataclass(frozen=True, slots=True)
class Delivery:
    """One album to deliver, with everything a sink needs to render it."""

    job: Job
    album: Album
    caption: str
    # The job's input as people may see it (no user info, no token: the source's
    # ``describe``); what a sink writes where others read it (a manifest) names this.
    source: str = ""
    # Told (bytes sent, bytes in all) as the album's files go, from any thread: the
    # delivering phase's speed and time left. None: nobody asked.
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """Stable across retries and restarts: the sink's idempotency key."""
        return f"job-{self.job.id}/album-{self.album.seq}"

    def tally(self, sizes: Mapping[Any, int]) -> Tally:
        """A counter of this album's bytes sent (its files' ``sizes``, by a key of the
        sink's choosing), told to ``progress``."""
        return Tally(self.progress, sizes)


def size_of(path: Path) -> int:
    """A file's size for a tally; 0 when it is gone (the send says why, not this)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Tally:
    """An album's bytes sent, summed over its files (several may go at once): each
    file says how far it is by its key."""

    def __init__(self, progress: Callable[[int, int], None] | None, sizes: Mapping[Any, int]):
        self._progress = progress
        self._sizes = dict(sizes)
        self._total = sum(self._sizes.values())
        self._sent: dict[Any, int] = {}

    def sent(self, key: object, done: int) -> None:
        """File ``key`` has ``done`` bytes sent."""
        if self._progress is None:
            return
        self._sent[key] = done
        self._progress(min(sum(self._sent.values()), self._total), self._total)

    def whole(self, key: object) -> None:
        """File ``key`` is there in full (sent now, or before)."""
        self.sent(key, self._sizes.get(key, 0))


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a sink did with an album: where it went, and the items it refused for good.

    ``refused`` (item id → why) is moved to quarantine by the engine before the album
    is recorded. A sink must return the same refused set when asked again after a
    crash, so it derives it from what it stored, never from memory.

    ``hashes`` (item id → sha256): items staged unhashed (``Item.sha256`` None) that
    the sink hashed as it read them; the engine hashes the rest before the record.
    Only a sink with ``hashes_as_it_reads`` set is handed such items unhashed.
    """

    ref: str
    refused: Mapping[int, FerrymanError] = field(default_factory=dict)
    hashes: Mapping[int, str] = field(default_factory=dict)


class Sink(Protocol):
    async def deliver(self, delivery: Delivery) -> Delivered:
        """Deliver the album (exactly once) and say where it went and what was refused."""
        ...


class SinkState(Protocol):
    """All a sink may read and write of the store, scoped to its own scheme: records of
    its own per job (``SinkRecord``: a key, a JSON value, the album or item it is
    about) and waits its server imposed. The engine gives each sink its own; removing a
    job, album or item removes their records, so the store names no sink and a sink
    that keeps state needs no table or migration of its own."""

    def now(self) -> float:
        """The store's clock, which waits are kept in."""
        ...

    async def records(
        self, job_id: int, *, album_id: int | None = None, item_id: int | None = None
    ) -> list[SinkRecord]:
        """The job's records (only the album's or the item's, if named), by key."""
        ...

    async def claim(self, job_id: int, records: Sequence[SinkRecord]) -> list[SinkRecord]:
        """Store those of ``records`` whose key is new, in one transaction, and return
        the stored record for each key, in order: what was written first wins, so a
        repeat after a crash gets what the first attempt chose (Telegram's random_ids)."""
        ...

    async def put(
        self, job_id: int, records: Sequence[SinkRecord] = (), *, forget: Sequence[str] = ()
    ) -> None:
        """Write ``records`` (replacing those of the same key) and drop the keys in
        ``forget``, in one transaction."""
        ...

    async def wait_until(self, scopes: Sequence[str]) -> float:
        """The latest ``not_before`` among these scopes (0 when none is set)."""
        ...

    async def set_wait(self, scope: str, not_before: float, reason: str) -> None:
        """No request to ``scope`` before ``not_before`` (the store's clock), across restarts."""
        ...


@dataclass(frozen=True, slots=True)
class SinkEnv:
    """What opening a sink may use: the settings now, its own state in the store (never
    the store itself), the media policy of the job (its caption limit among them) and
    the engine's shared resources."""

    settings: Settings
    state: SinkState
    policy: Policy
    resources: Shared


class SinkKind(Protocol):
    """One kind of destination, named by its scheme. Every method but ``open`` is
    cheap and offline (no network, no heavy imports): front doors call them."""

    scheme: str
    description: str  # the forms it takes, for help texts: "telegram:me, telegram:@name"
    album_max: int | None  # the largest album it takes; None: no limit of its own
    # What a remote client (the web API) may name: None, no target (a library's folder
    # is this server's business, not a client's), else the target it gets when it names
    # none (``me``), and it may name another (a chat).
    client_target: str | None

    def parse(self, target: str) -> str:
        """The target (after ``scheme:``) made canonical; ``sink.unknown`` if malformed."""
        ...

    def shorthand(self, value: str) -> str | None:
        """A full destination for a bare value a person typed in a chat (``@name``), or
        None when the value is not of this kind."""
        ...

    def policy(self, settings: Settings) -> Policy:
        """What media this destination accepts (sizes, formats, caption length)."""
        ...

    def check_ready(self, settings: Settings, target: str) -> None:
        """Raise a coded error if delivery cannot work yet (not configured, not logged
        in), so a job is refused when added instead of failing every album later."""
        ...

    def open(self, target: str, env: SinkEnv) -> Sink:
        """The sink delivering to ``target``; may import what the network needs."""
        ...


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    target: str

    @property
    def text(self) -> str:
        """``scheme:target`` as a job keeps it (a library's folder made absolute where
        it was named, not where a run later starts)."""
        return f"{self.scheme}:{self.target}"


class SinkRegistry:
    """The destination kinds an engine and its front doors know, by scheme. Immutable:
    a test or an embedder adds one with ``with_kind`` and passes the new registry."""

    def __init__(self, kinds: tuple[SinkKind, ...] = ()) -> None:
        self._kinds = kinds
        self._by_scheme = {kind.scheme: kind for kind in kinds}

    def with_kind(self, kind: SinkKind) -> SinkRegistry:
        """A registry that also knows ``kind`` (replacing one of the same scheme)."""
        rest = tuple(k for k in self._kinds if k.scheme != kind.scheme)
        return SinkRegistry((*rest, kind))

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self._by_scheme)

    async def preflight(self, settings: Settings, resources: Shared) -> list[FerrymanError]:
        """What each kind with a ``preflight(settings, resources)`` coroutine finds wrong
        with its remote end at start (the results bucket, say): a wrong key is said once,
        at start, not album by album after each one's retries."""
        found: list[FerrymanError] = []
        for kind in self._kinds:
            check = getattr(kind, "preflight", None)
            if check is None:
                continue
            try:
                await check(settings, resources)
            except FerrymanError as exc:
                found.append(exc)
        return found

    def describe(self) -> str:
        """Every form a destination takes, for ``--help`` and error messages."""
        return "; ".join(self.forms())

    def forms(self) -> list[str]:
        """Each kind's forms (``doctor``)."""
        return [kind.description for kind in self._kinds]

    def kind(self, dest: str) -> SinkKind:
        scheme, sep, _ = dest.partition(":")
        kind = self._by_scheme.get(scheme) if sep else None
        if kind is None:
            meant = f" (did you mean {dest}:?)" if not sep and dest in self._by_scheme else ""
            raise FerrymanError(
                "sink.unknown",
                f"destination '{dest}' is not known{meant}; use {self.describe()}",
            )
        return kind

    def parse(self, dest: str) -> Destination:
        """Check a destination now (``sink.unknown`` names what is wrong), not at delivery."""
        kind = self.kind(dest)
        return Destination(kind.scheme, kind.parse(dest.partition(":")[2]))

    def for_client(self, scheme: str, target: str | None) -> str:
        """The destination a remote client (the web API) asks for by kind, and target if
        the kind takes one from a client; ``request.invalid`` names what is wrong."""
        kind = self._by_scheme.get(scheme)
        if kind is None:
            raise FerrymanError(
                "request.invalid",
                f"deliver.to '{scheme}' is not a destination; use {', '.join(self.schemes)}",
            )
        if target and kind.client_target is None:
            takes = [k.scheme for k in self._kinds if k.client_target is not None]
            raise FerrymanError("request.invalid", f"chat is for deliver.to = {' or '.join(takes)}")
        return f"{scheme}:{target or kind.client_target or ''}"

    def expand(self, value: str) -> str:
        """A destination typed in a chat: ``scheme:…`` as is, else a kind's shorthand
        (``@name`` → ``telegram:@name``); unknown values are returned for ``parse`` to
        refuse with its message."""
        scheme, sep, _ = value.partition(":")
        if sep and scheme in self._by_scheme:
            return value
        for kind in self._kinds:
            full = kind.shorthand(value)
            if full is not None:
                return full
        return value

    def policy(self, settings: Settings, dest: str) -> Policy:
        return self.kind(dest).policy(settings)

    def album_size(self, settings: Settings, dest: str) -> int:
        """The album size of a job: the setting, within what its destination takes."""
        most = self.kind(dest).album_max
        return settings.album_size if most is None else min(settings.album_size, most)

    def check_ready(self, settings: Settings, dest: str) -> None:
        found = self.parse(dest)
        self._by_scheme[found.scheme].check_ready(settings, found.target)

    def open(self, dest: str, env: SinkEnv) -> Sink:
        found = self.parse(dest)
        return self._by_scheme[found.scheme].open(found.target, env)
