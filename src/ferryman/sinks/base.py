"""The sink seam: what every destination kind implements, and the registry that picks one.

A job's ``dest`` is ``scheme:target`` (``library:/srv/photos``, ``telegram:@name``). A
*kind* owns everything about its scheme: parsing the target, the media policy (and so
the caption limit), the largest album it takes, a cheap offline readiness check made
when a job is added, and opening the *sink* that delivers albums. The engine asks the
registry and knows no kind by name; a new destination is one module plus its
registration (``default_sinks().with_kind(...)``).

A sink receives a whole album and must be idempotent: delivering an album it already
has (a crash struck after it wrote, before the store recorded it) returns the same
result and writes nothing twice.

Import-light on purpose: ``ferryman status`` and ``add`` load this, so a kind imports
its network client only when it opens a sink.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Album, Item, Job

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.media.policy import Policy
    from ferryman.store import Store


@dataclass(frozen=True, slots=True)
class Delivery:
    """One album to deliver, with everything a sink needs to render it."""

    job: Job
    album: Album
    caption: str
    # The job's input as people may see it (no user info, no token: the source's
    # ``describe``); what a sink writes where others read it (a manifest) names this.
    source: str = ""

    @property
    def key(self) -> str:
        """Stable across retries and restarts: the sink's idempotency key."""
        return f"job-{self.job.id}/album-{self.album.seq}"


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a sink did with an album: where it went, and the items it refused for good.

    ``refused`` (item id → why) is moved to quarantine by the engine before the album
    is recorded. A sink must return the same refused set when asked again after a
    crash, so it derives it from what it stored, never from memory.
    """

    ref: str
    refused: Mapping[int, FerrymanError] = field(default_factory=dict)


class Sink(Protocol):
    async def deliver(self, delivery: Delivery) -> Delivered:
        """Deliver the album (exactly once) and say where it went and what was refused."""
        ...


class Closeable(Protocol):
    async def close(self) -> None: ...


_C = TypeVar("_C", bound=Closeable)


class SinkResources:
    """What the sinks of one engine share (one Telegram connection, say): each made by
    its kind on first use and closed when the engine closes.

    ``settings`` are the engine's base settings; ``dialer`` is the network seam a test
    passes to ``Engine(..., dialer=...)`` (None: the real network).
    """

    def __init__(self, settings: Settings, dialer: Any = None) -> None:
        self.settings = settings
        self.dialer = dialer
        self._made: dict[str, Closeable] = {}

    def get(self, key: str, make: Callable[[], _C]) -> _C:
        """The resource under ``key``, made by ``make`` the first time it is asked for."""
        if key not in self._made:
            self._made[key] = make()
        return cast(_C, self._made[key])

    async def close(self) -> None:
        made, self._made = self._made, {}
        for resource in made.values():
            await resource.close()


@dataclass(frozen=True, slots=True)
class SinkEnv:
    """What opening a sink may use: the settings now, the store, the media policy of
    the job (its caption limit among them) and the engine's shared resources."""

    settings: Settings
    store: Store
    policy: Policy
    resources: SinkResources


class SinkKind(Protocol):
    """One kind of destination, named by its scheme. Every method but ``open`` is
    cheap and offline (no network, no heavy imports): front doors call them."""

    scheme: str
    description: str  # the forms it takes, for help texts: "telegram:me, telegram:@name"
    album_max: int | None  # the largest album it takes; None: no limit of its own

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

    async def preflight(self, settings: Settings, resources: SinkResources) -> list[FerrymanError]:
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
        return "; ".join(kind.description for kind in self._kinds)

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


# What a file with no suffix is called by what its bytes are (the probe's container),
# so a gallery or a player opens it: a photo from a link that named it `IMG_0042`.
_SUFFIX_OF_CONTAINER = {
    "jpeg": ".jpg",
    "mpo": ".jpg",
    "png": ".png",
    "webp": ".webp",
    "gif": ".gif",
    "heif": ".heic",
    "avif": ".avif",
    "tiff": ".tif",
    "bmp": ".bmp",
    "mov": ".mp4",  # ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2"
    "matroska": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "wav": ".wav",
    "flac": ".flac",
}


def delivered_name(item: Item, part: int | None) -> str:
    """The source's name; a converted file gets its new suffix, a split part its number,
    a name without a suffix the one its bytes call for."""
    base = safe_name(Path(item.source_path).name, f"item-{item.seq}")
    if item.work_path and Path(item.work_path).suffix.lower() != Path(base).suffix.lower():
        base = f"{Path(base).stem}{Path(item.work_path).suffix}"  # converted: new container
    if not Path(base).suffix and item.media is not None and item.media.container:
        base += _SUFFIX_OF_CONTAINER.get(item.media.container.split(",")[0].lower(), "")
    if part is not None:
        base = f"{Path(base).stem}.part{part}{Path(base).suffix}"
    return base
