"""The source seam: what every input kind implements, and the registry that picks one.

A job's ``source`` is a URI (``file:///home/ann/holiday.zip``; ``http(s):``, ``dav(s):``,
``torbox:`` and platform links come as new modules). The registry turns what a person
typed into such a URI and finds the source for it; the engine asks that source to
inspect the input (a name, a size if known, a dedupe identity) and to open it as one
stream of ``SourceEntry`` with stable indexes, which is all the engine knows of inputs.

Every call but ``recognise`` and ``describe`` may block (disk, network): the engine makes
them on its reading thread, never on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ferryman.archive.reader import EntryInfo, OpenOptions, Resumable
from ferryman.config import NetworkSettings, Retry, Settings
from ferryman.errors import FerrymanError
from ferryman.fsutil import Held
from ferryman.model import PhotoFacts
from ferryman.urls import shown

if TYPE_CHECKING:  # httpx and the downloader load only when something is fetched
    import httpx

    from ferryman.links.profile import Profile
    from ferryman.net.progress import DownloadProgress, ProgressCallback
    from ferryman.resources import Shared


class Access(StrEnum):
    """How a source's bytes are read: in place (a local file or folder), or fetched
    first into the job's work area by the engine's fetch stage (claimed, leased,
    resumable work with its own concurrency), then read from there."""

    IN_PLACE = "in_place"
    FETCH = "fetch"


@dataclass(frozen=True, slots=True)
class Inspection:
    """What a source says of an input before reading it.

    ``name``: what the job is called (``holiday.tar.gz`` → ``holiday``); ``ident``: the
    same input gives the same ident (the dedupe key is made from it); ``size`` when
    known.
    """

    name: str
    ident: str
    size: int | None = None


class SourceMemo(Protocol):
    """What a source remembers of one input between runs, kept in the store: a WebDAV
    walk's listing, so a restart reads the same entries in the same order (indexes
    stay stable) whatever the server shows meanwhile. Blocking: call it from the
    reading thread, never from the event loop."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class KeptLast:
    """The last value one job's read worked out, under the key it was worked out for
    (the last ``.tgz`` Takeout set indexed: a watch's job reads each part as an input of
    its own, and each would read the set through again). Made per job read, shared by
    its inputs (``ReadOptions.kept``); many reading threads may ask at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[object, object] | None = None

    def get(self, key: object) -> object | None:
        with self._lock:
            return self._kept[1] if self._kept is not None and self._kept[0] == key else None

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._kept = (key, value)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read an input: archive passwords and limits, 7zz, a scratch folder.

    ``scratch`` holds a nested archive while it is read (zip and 7z need to seek);
    without one, a temporary folder serves for the duration of ``iter_local``.
    ``wait_to_write(size)`` is called on the reading thread before a nested archive of
    ``size`` bytes is copied there: it may block until there is room, or raise.
    """

    archive: OpenOptions = field(default_factory=OpenOptions)
    scratch: Path | None = None
    sevenzip: Path | None = None
    wait_to_write: Callable[[int], None] | None = field(default=None, compare=False)
    fetched: Path | None = None  # what the fetch stage brought, for a fetch-first source
    memo: SourceMemo | None = field(default=None, compare=False)
    network: NetworkSettings | None = None  # for sources that read over the network
    settings: Settings | None = field(default=None, compare=False, repr=False)  # logins, keys
    job_name: str | None = None  # what the job is called: a link's one made file takes it
    # A watch's input of a ``batch:`` job, which indexes a Google Takeout's parts among
    # its inputs together: a part is read as itself, no gap in its set refused.
    part_alone: bool = False
    kept: KeptLast | None = field(default=None, compare=False)  # the job's read's, shared
    # Called on the reading thread as a .tgz Takeout is read through to index it, before
    # its first entry (minutes for a big part): the job's reading shows its progress.
    indexing: ProgressCallback | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One entry of a source; ``blocks`` produces its bytes on demand.

    ``skip`` (a reason) or ``error`` mark an entry to be recorded without reading it.
    ``over_network``: its bytes are fetched as they are read (a zip entry read by
    Range), so an entry whose first bytes show it unwanted is left there, not read to
    its end; local bytes are read through (hashed, and metered by the archive guard).
    ``asked``: the person asked for this very file (a link converter's MP3): it is
    delivered whatever its kind, as if ``send_documents`` were on.
    """

    info: EntryInfo
    blocks: Callable[[], Iterator[bytes]] = field(repr=False, compare=False)
    skip: str | None = None
    error: FerrymanError | None = None
    over_network: bool = False
    asked: bool = False
    # The entry is this whole file, on this machine and the job's own (the fetch stage
    # made it): staging may hard-link it instead of writing a copy, and, when the maker
    # hashed it (``local_sha256``), not even read it again.
    local_file: Path | None = None
    local_sha256: str | None = None
    # A file of the person's own (a local input): (size, mtime_ns) as listed. Staging
    # hard-links it where the disk allows and checks, once it has hashed it, that
    # neither changed; the work area then costs no second copy.
    local_seen: tuple[int, int] | None = None
    # That file opened once (``fsutil.Held``): ``blocks`` reads it, staging links or
    # copies this very handle, never the name again (a name swapped for a link after
    # the listing reaches nothing outside the input).
    local_held: Held | None = field(default=None, repr=False, compare=False)
    # What a sidecar beside it says (a Google Takeout's JSON, ``sources/takeout``): its
    # time, place and description, joined to the item's media facts once it is probed.
    facts: PhotoFacts | None = None
    # Its bytes can be read on from the middle (a stored zip entry): staging keeps what
    # a killed run wrote of it and asks only for the rest (``engine/read/resume.py``).
    resume: Resumable | None = field(default=None, repr=False, compare=False)

    def read_blocks(self) -> Iterator[bytes]:
        return self.blocks()


@dataclass(frozen=True, slots=True)
class CallClaim:
    """What ``OnceCalls.claim`` found: ``mine`` (make the call; ``taken_over``: another's
    claim ran out, so its call may have reached the service: ask the service first),
    else ``made`` (the result whoever made it kept) or, None, another is making it now."""

    mine: bool
    made: str | None = None
    taken_over: bool = False


class OnceCalls(Protocol):
    """A job's outside calls that must be made once whichever worker, on whichever node
    sharing the store, makes them (a debrid service's add of a magnet): claimed in the
    store before, the result kept there after (``store/fetches/calls``). A worker whose
    fetch lease was lost while its call was on the way, and the one that took the fetch
    over (another node, another fetch folder), would each make it. Blocking: called
    from the source's own thread, never the event loop's."""

    def claim(self, key: str) -> CallClaim: ...
    def made(self, key: str, value: str, *, replace: bool = False) -> str:
        """Keep ``value`` (the first kept stays, unless ``replace``): returns what is kept."""
        ...

    def dropped(self, key: str, *, unknown: bool = False) -> None:
        """The call failed: the claim ends. ``unknown``: it may have reached the service
        (cut, unanswered): the claim runs out first, nobody's (every worker waits)."""
        ...


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What the engine's fetch stage hands a fetch-first source: where to write (one
    folder per input; what a crash left there is resumed), the network and retry
    settings, an HTTP client factory, the engine's hooks for disk room (may wait or
    raise ``space.low`` / ``space.too_large``) and progress, and its shared resources."""

    folder: Path
    network: NetworkSettings
    retry: Retry
    client: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
    wait_to_write: Callable[[int], Awaitable[None]] | None = None
    on_progress: Callable[[DownloadProgress], None] | None = None
    settings: Settings | None = field(default=None, compare=False, repr=False)  # logins, keys
    shared: Shared | None = field(default=None, compare=False, repr=False)
    person: int | None = None  # whose cookies.txt and rclone.conf; None: the server's
    # Fetched alone, not with the other parts of its set (a split archive's volumes,
    # a Takeout's parts) beside it: a ``batch:`` job's input, its set's parts its own.
    alone: bool = False
    # The store's claims of calls made once (a debrid add); None: this worker alone.
    once: OnceCalls | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched input: the local file the source then reads (None: nothing was
    stored, the source reads the input where it is), its size and name."""

    path: Path | None
    size: int | None
    name: str
    note: str = ""  # what a person is told of it ("asked 1080p; best available 720p")
    # How this result differs from another output of the same input (a link's output,
    # "720p, mute"), and how the sources of that input's jobs end (the link): the job
    # is named with it only where two outputs of one link would share a name.
    variant: str = ""
    source_end: str = ""


class Source(Protocol):
    """One kind of input, named by its URI schemes."""

    schemes: tuple[str, ...]
    description: str  # the forms it takes, for help texts and ``doctor``
    access: Access

    @property
    def shown_as(self) -> str | None:
        """What it reads as people name it (``http(s):// links``), for ``readable``;
        empty: never typed (reached through another source); None: its schemes say it."""
        ...

    def recognise(self, raw: str) -> str | None:
        """This source's URI for what a person typed, or None if it is not for us."""
        ...

    def describe(self, uri: str) -> str:
        """The input as a person would name it (a path, a URL without secrets)."""
        ...

    def local_path(self, uri: str) -> Path | None:
        """A file on this machine holding the input (a broken archive is kept in
        quarantine from it), or None."""
        ...

    def inspect(self, uri: str) -> Inspection:
        """Name, identity and size; raises a coded error (``source.not_found`` …)."""
        ...

    def open(self, uri: str, options: ReadOptions) -> AbstractContextManager[Iterator[SourceEntry]]:
        """The input's entries, in a stable order, each with a stable ``info.index``."""
        ...


@runtime_checkable
class Fetching(Source, Protocol):
    """A source whose input is fetched before it is read (``Access.FETCH``)."""

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        """Bring the input into ``plan.folder``, resuming what is there; coded errors."""
        ...


@runtime_checkable
class Pooled(Fetching, Protocol):
    """A fetch-first source whose fetches share its own connections and requests in
    flight (Telegram's pool): one more at once costs the network nothing the pool does
    not bound, and a small one is mostly round trips. A fetch worker that claimed one
    claims more of its schemes while fewer than ``fetches_at_once`` of them run."""

    fetches_at_once: int


@runtime_checkable
class Addressed(Source, Protocol):
    """A source whose URI wraps the web address it is fetched from (``media:PROFILE:URL``):
    that address is what a front door checks against private networks."""

    def address(self, uri: str) -> str:
        """The URL the input is fetched from."""
        ...


@runtime_checkable
class Ready(Source, Protocol):
    """A source that needs something set up first (a debrid key, a Telegram login): an
    input of it is refused when it is added (nothing recorded), not failed at its run.
    Offline and cheap: the settings alone are looked at."""

    def check_ready(self, settings: Settings, uri: str) -> None:
        """Raise a coded FerrymanError (its ``step``: set it up, then add it again)."""
        ...


@runtime_checkable
class Profiled(Source, Protocol):
    """A source whose inputs can be made into another output (a link to media: audio, a
    quality): the profile travels inside the URI it returns."""

    def with_profile(self, uri: str, profile: Profile | None, fresh: bool) -> str | None:
        """``uri`` carrying ``profile`` (``fresh``: past the result cache); None when this
        input takes no profile (a direct link asked with ``fresh`` alone stays itself)."""
        ...


class SourceRegistry:
    """The sources an engine and its front doors know, by scheme. Immutable: a test or
    an embedder adds one with ``with_source`` and passes the new registry along."""

    def __init__(
        self,
        sources: tuple[Source, ...] = (),
        batch: Callable[[SourceRegistry], Source] | None = None,
    ) -> None:
        """``batch``: makes the source of a ``batch:`` URI (several inputs, each read by
        this registry's sources: ``sources/batch``), handed in by ``builtin``."""
        self._sources = sources
        self._batch = batch
        self._by_scheme = {scheme: source for source in sources for scheme in source.schemes}

    def with_source(self, source: Source) -> SourceRegistry:
        """A registry that also knows ``source`` (checked first when recognising)."""
        rest = tuple(s for s in self._sources if not set(s.schemes) & set(source.schemes))
        return SourceRegistry((source, *rest), self._batch)

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self._by_scheme)

    def forms(self) -> list[str]:
        """What each source reads, as a person types it (``doctor``, help texts)."""
        return [source.description for source in self._sources]

    def readable(self) -> str:
        """What these sources read, as people name it (``http(s):// links``, not the
        internal ``media`` or ``tg``): a source's ``shown_as`` if it has one (empty:
        not typed by people), else its schemes."""
        shown: list[str] = []
        files_first = sorted(self._sources, key=lambda source: "file" not in source.schemes)
        for source in files_first:
            said = source.shown_as
            if said is None:
                said = ", ".join(f"{scheme}:" for scheme in source.schemes)
            if said and said not in shown:
                shown.append(said)
        return ", ".join(shown) or "nothing"

    def for_uri(self, uri: str) -> Source:
        scheme, sep, _ = uri.partition(":")
        source = self._by_scheme.get(scheme.lower()) if sep else None
        if source is None and sep and scheme == "batch" and self._batch is not None:
            return self._batch(self)  # several inputs, each read by ours
        if source is None:
            raise FerrymanError(
                "source.unsupported",
                f"no source reads '{uri}'; ferryman reads {self.readable()}",
            )
        return source

    def to_uri(self, raw: str) -> str:
        """What a person typed (a path, a URI, a link) as a source URI. Total: a source
        whose parsing raises (``ValueError``, ``UnicodeError``: a bad port, a bracket,
        a name IDNA refuses) refuses the input with ``source.invalid``, never a crash."""
        for source in self._sources:
            try:
                uri = source.recognise(raw)
            except (ValueError, UnicodeError) as exc:
                raise FerrymanError(
                    "source.invalid", f"{shown(raw)}: not a well-formed input ({exc})"
                ) from None
            if uri is not None:
                return uri
        raise FerrymanError(
            "source.unsupported",
            f"'{raw}' is not an input ferryman can read; it reads {self.readable()}",
        )

    def describe(self, uri: str) -> str:
        try:
            return self.for_uri(uri).describe(uri)
        except FerrymanError:
            return uri

    def remote_uri(self, raw: str) -> str:
        """What a remote client (the web API) typed, as a URI: only an input that is not
        a file on this machine (``link.invalid`` else: those come as uploads)."""
        try:
            uri = self.to_uri(raw)
            local = self.for_uri(uri).local_path(uri) is not None
        except FerrymanError as exc:
            if exc.code != "source.unsupported":
                raise
            local = True
        if local:
            raise FerrymanError(
                "link.invalid",
                "give a link or upload the file; paths on the server are not taken from the web",
            )
        return uri

    def address(self, uri: str) -> str:
        """The web address ``uri`` is fetched from (checked against private networks):
        the URI itself unless its source wraps one (``Addressed``)."""
        source = self.for_uri(uri)
        return source.address(uri) if isinstance(source, Addressed) else uri

    def with_profile(self, uri: str, profile: Profile | None, fresh: bool) -> str | None:
        """``uri`` carrying an output profile, if its source takes one (``Profiled``)."""
        source = self.for_uri(uri)
        return source.with_profile(uri, profile, fresh) if isinstance(source, Profiled) else None
