"""The sink seam: what every destination kind implements, and the registry that picks one.

A job's ``dest`` is ``scheme:target`` (``library:/srv/photos``, ``telegram:@name``), maybe
with delivery options after ``?`` (``sinks/options.py``). A *kind* owns everything about
its scheme: parsing the target, the media policy (and so the caption limit), the largest
album it takes, a cheap offline readiness check made when a job is added, and opening
the *sink* that delivers albums. The engine asks the
registry and knows no kind by name; a new destination is one module plus its
registration (``default_sinks().with_kind(...)``). ``SinkKind`` and ``Sink`` below are
the whole contract, declared once: what a kind and a sink must write, and every
optional behaviour with its default, which does nothing.

A sink receives a whole album and must be idempotent: delivering an album it already
has (a crash struck after it wrote, before the store recorded it) returns the same
result and writes nothing twice. What it must remember for that it keeps through its
``SinkState`` (records per job, server waits), never the store: a sink that keeps state
needs no table or migration of its own.

Import-light on purpose: ``ferryman status`` and ``add`` load this, so a kind imports
its network client only when it opens a sink.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ferryman.errors import FerrymanError
from ferryman.model import Album, Job, MediaKind, SinkRecord, SinkWrite, UploadBook
from ferryman.resources import Shared
from ferryman.sinks.options import FORMS, split
from ferryman.sinks.options import NO_OPTIONS as NO_OPTIONS
from ferryman.sinks.options import DeliveryOptions as DeliveryOptions

# A job's caption at its end: (album's number, its items, the fields it was sent with).
CaptionRender = Callable[[int, int, Mapping[str, str]], str]

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.media.box.pool import Decoder
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
    # Awaited by a sink that prepares (``prepares``) once this album is prepared in its
    # ``deliver`` and before anything is sent: the engine claims the next albums there
    # (their preparation then runs beside this one's sends). None: nobody asked.
    on_prepared: Callable[[], Awaitable[None]] | None = field(default=None, compare=False)
    caption_final: bool = True  # "1/3", not "1/3+": else kept for make_captions_final
    # The caption's photo fields (``caption_template.PHOTO_FIELDS``) as filled, those not
    # empty: kept with an open caption, so its final one says the same.
    caption_fields: Mapping[str, str] = field(default_factory=dict)
    # Where a sink decodes the album's files (previews): the engine's confined workers.
    decoder: Decoder | None = field(default=None, compare=False)  # None: in this process

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

    ``refused`` (item id → why) is moved to quarantine by the engine before the album is
    recorded. A sink must return the same refused set when asked again after a crash, so it
    derives it from what it stored, never from memory. ``hashes`` (item id → sha256): items
    staged unhashed (``Item.sha256`` None) that the sink hashed as it read them; the engine
    hashes the rest before the record. Only a sink with ``hashes_as_it_reads`` set is handed
    such items unhashed. ``keep``: records of the sink's own that the engine writes in
    the album's record of delivery, not before (what its last request made: a commit
    less per album); a crash before that record repeats the delivery, so they must be
    ones a repeat makes again as they were."""

    ref: str
    refused: Mapping[int, FerrymanError] = field(default_factory=dict)
    hashes: Mapping[int, str] = field(default_factory=dict)
    keep: SinkWrite | None = None


class EarlyUpload(Protocol):
    """A reader of the entry's file as it is written (an upload ahead of delivery).

    Told from the writing thread (``failed`` also from the loop); every call is cheap and
    never raises. ``attach`` hands over a read-only descriptor of the ``.part`` file (the
    reader closes it, so a rename to the final name does not matter); ``wrote`` says how
    many bytes are in it; ``ended`` that the entry was read whole and written (its size);
    ``failed`` that what was read must not be used (staging failed, or the staged file is
    not the one delivered). ``linked``, instead of the others: the entry is a person's own
    file, linked whole at ``path`` unread, and is delivered as it is: read it now."""

    def attach(self, fd: int) -> None: ...

    def wrote(self, total: int) -> None: ...

    def ended(self, total: int) -> None: ...

    def linked(self, path: Path) -> None: ...

    def failed(self) -> None: ...


# A reader of an entry's file as it is written, for ``Sink.early_upload_starter``, or None (none
# free now); asked on the loop with the file's path and declared size before it is staged.
StartEarlyUpload = Callable[[Path, int], EarlyUpload | None]


class Sink(ABC):
    """What delivers albums to one destination: the whole contract between the engine
    and a sink. ``deliver`` is the one method a sink must write; every other method is
    an optional behaviour whose default here does nothing, so a sink written from this
    class alone is complete, and the engine calls each without asking whether it is
    there."""

    __slots__ = ()

    @abstractmethod
    async def deliver(self, delivery: Delivery) -> Delivered:
        """Deliver the album (exactly once: again after a crash, the same answer and
        nothing written twice) and say where it went and what was refused for good."""

    def warm(self) -> None:
        """A job bound here starts (or an engine with one left): begin in the background
        what the first delivery needs (a login, connections), never blocking or raising."""
        return None

    def early_upload_starter(self) -> StartEarlyUpload | None:
        """On the loop as a job's reading starts: what the reading thread asks for each big
        entry, to upload it as it is written (its delivery takes it). Default: None."""
        return None

    # Whether ``prepare`` does anything: the engine then claims the next albums and
    # prepares them while this one is sent (``engine/deliver/lookahead.py``), up to
    # ``prepares_at_once`` when more than its own (a Telegram pool: two an account).
    prepares: ClassVar[bool] = False
    prepares_at_once: int = 0
    senders: int = 1  # albums it sends side by side (a pool: its accounts): backlogs a job keeps

    async def prepare(self, delivery: Delivery) -> Mapping[int, str]:
        """Before its turn, make the album ready without sending anything (Telegram:
        upload its files); item id → the hash of a file staged unhashed, taken as it
        was read. Must be safe to repeat, and ``deliver`` must work without it.
        Default: nothing to do, no hashes."""
        return {}

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether none of the album reached the destination (asked after a bug spent
        its attempts: only then is it split, so no item goes twice). Default: False,
        cannot vouch, the album fails whole."""
        return False

    async def make_captions_final(self, job: Job, render: CaptionRender) -> int:
        """A job ended: rewrite captions kept where they can be rewritten (manifests)
        with the final number of albums, ``render(seq, items, caption_fields)`` (those
        the album was sent with); how many were rewritten. Default: none (captions
        already sent stay)."""
        return 0

    def sweep_half_built(self, job: Job, seqs: list[int]) -> int:
        """At start-up, blocking (run on a thread): remove what a killed run left half
        built of the job's albums ``seqs`` (``.NNNN.partial`` folders); how many went.
        Asked only of kinds with ``builds_folders``. Default: none."""
        return 0


class SinkState(UploadBook, Protocol):
    """All a sink may read and write of the store, scoped to its own scheme: records of
    its own per job (``SinkRecord``: a key, a JSON value, the album or item it is about),
    waits its server imposed, big uploads under way (``UploadBook``). Each sink gets its
    own; removing a job, album or item removes their records: no table of its own."""

    sink: str  # the scope its records are kept under (``SinkWrite.sink``)

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
    the engine's shared resources, and the job's delivery options."""

    settings: Settings
    state: SinkState
    policy: Policy
    resources: Shared
    options: DeliveryOptions = NO_OPTIONS


class SinkKind(ABC):
    """One kind of destination, named by its scheme: the contract between a kind and
    the engine and front doors. ``parse``, ``policy`` and ``open`` must be written;
    every other member has a default here that does nothing (or says no). Every
    method but ``open`` is cheap and offline (no network, no heavy imports): front
    doors call them."""

    scheme: str
    description: str  # the forms it takes, for help texts: "telegram:me, telegram:@name"
    album_max: int | None = None  # the largest album it takes; None: no limit of its own
    # What a remote client (the web API) may name: None, no target (a library's folder
    # is this server's business, not a client's), else the target it gets when it names
    # none (``me``), and it may name another (a chat).
    client_target: str | None = None
    personal = False  # opened with the job's person's settings (rclone: their rclone.conf)
    # Its sinks read every file whole as they deliver it and hash it then (Telegram's
    # upload): a big entry is staged unhashed, and ``Delivered.hashes`` carries it.
    hashes_as_it_reads: bool = False
    # Its sinks build album folders that a killed run may leave ``.NNNN.partial``: at
    # start-up their ``sweep_half_built`` is asked (no other sink is opened for it).
    builds_folders: bool = False
    # What it delivers is kept as files that ``ferryman web`` serves as download links
    # (``ferryman links JOB``, the page's results, the run's summary).
    keeps_results: bool = False
    # The delivery options a job here may carry (``sinks/options.py``): every sink is
    # handed the album's caption, so ``caption`` by default.
    takes: frozenset[str] = frozenset({"caption"})
    # Albums of a job's files the work area may hold while its input is read from a
    # server (a zip by Range): a sink slower than that link (an upload) would else let
    # the download run ahead and fill the disk up to ``backlog_bytes``. None: the
    # settings' bounds alone (a sink as fast as the disk).
    backlog_albums: int | None = None
    # Heavy modules its sinks import when first used (media tools): imported on a thread
    # before an album that holds an item of ``uses_for``'s kinds (None: any) is delivered.
    uses: tuple[str, ...] = ()
    uses_for: frozenset[MediaKind] | None = None
    # The scheme whose records its sinks keep (``SinkState``); None: its own. A kind
    # that delivers through another's sink (``link:telegram``: the Telegram sink) shares
    # that one's records: its sends, waits and resumable uploads.
    state_scope: str | None = None
    # Its albums are only batches: a fresh job's first ones grow (1, 2, 4… the album
    # size, ``engine/read/entry_batch``), its first file sent as soon as it is read.
    albums_grow: bool = False
    # A file over its size limit that is not a video may be cut by bytes into pieces,
    # delivered in order and joined again where it is read (``link:telegram``'s link).
    joins_pieces: bool = False
    # A backup of the person's files (a library, a remote), which decodes nothing: a file
    # no decoder here reads (a truncated JPEG, a damaged HEIC) is kept there as it is,
    # its code in the report, not held back in quarantine (``engine/read/prepare``).
    backup: bool = False

    def variant(self, target: str) -> SinkKind:
        """The kind that serves ``target`` (a scheme whose targets differ in everything:
        ``link:`` on disk, ``link:telegram`` in Telegram). Default: this one."""
        return self

    @abstractmethod
    def parse(self, target: str) -> str:
        """The target (after ``scheme:``) made canonical; ``sink.unknown`` if malformed."""

    def shorthand(self, value: str) -> str | None:
        """A full destination for a bare value a person typed in a chat (``@name``), or
        None when the value is not of this kind. Default: None."""
        return None

    @abstractmethod
    def policy(self, settings: Settings) -> Policy:
        """What media this destination accepts (sizes, formats, caption length)."""

    def album_size(self, settings: Settings) -> int:
        """The album size of a job here: the setting, within ``album_max``."""
        most = self.album_max
        return settings.album_size if most is None else min(settings.album_size, most)

    def check_ready(self, settings: Settings, target: str) -> None:
        """Raise a coded error if delivery cannot work yet (not configured, not logged
        in), so a job is refused when added instead of failing every album later.
        Default: always ready."""
        return None

    async def preflight(self, settings: Settings, resources: Shared) -> None:
        """At an engine's start, check the remote end (the results bucket) and raise a
        coded error if it is wrong, so it is said once, not album by album. Default:
        nothing to check."""
        return None

    async def check_person(self, target: str, linked: int | None, resources: Shared | None) -> None:
        """Nothing when a person (never an administrator) may send to ``target`` now,
        ``account.dest_forbidden`` else; ``linked``: the Telegram user they linked
        (``/link``), ``resources``: the engine's (its Telegram client; None: none here).
        Asked where a person names the place and again as each album goes (a chat's
        membership ends). Default: any target a client may name is theirs."""
        return None

    def words(self, target: str) -> str:
        """The destination in a person's words, for notices and the page ("the library",
        "the chat @name"). Default: ``scheme:target`` as typed."""
        return f"{self.scheme}:{target}"

    def holds(self, settings: Settings, target: str, job: Job) -> Callable[[Path], bool] | None:
        """Blocking, for ``--then``: whether the destination holds a local file's bytes
        as ``job`` sent them, read back now; None: it cannot read back. Default: None."""
        return None

    def forget(self, settings: Settings, job: Job) -> list[Path]:
        """The job is being removed: the folders on this machine that hold what it
        delivered and go with it (a link job's results). Default: none (what went to a
        library or a chat stays)."""
        return []

    @abstractmethod
    def open(self, target: str, env: SinkEnv) -> Sink:
        """The sink delivering to ``target``; may import what the network needs."""


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    target: str
    options: DeliveryOptions = NO_OPTIONS

    @property
    def text(self) -> str:
        """``scheme:target[?options]`` as a job keeps it (a library's folder made
        absolute where it was named, not where a run later starts)."""
        return f"{self.scheme}:{self.target}{self.options.query()}"


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
        """What each kind's ``preflight`` finds wrong with its remote end at start (the
        results bucket, say): a wrong key is said once, at start, not album by album
        after each one's retries."""
        found: list[FerrymanError] = []
        for kind in self._kinds:
            try:
                await kind.preflight(settings, resources)
            except FerrymanError as exc:
                found.append(exc)
        return found

    async def check_person(self, dest: str, linked: int | None, resources: Shared | None) -> None:
        """``dest``'s kind's ``SinkKind.check_person``: whether a person may send there."""
        found = self.parse(dest)
        await self.kind(found.text).check_person(found.target, linked, resources)

    def describe(self) -> str:
        """Every form a destination takes, for ``--help`` and error messages."""
        takes = [k.scheme for k in self._kinds if "as" in k.takes]
        documents = f"?as=documents ({', '.join(takes)}), " if takes else "?"
        options = FORMS.replace("?as=documents, ", documents)
        return "; ".join(self.forms()) + f"; options after the destination: {options}"

    def forms(self) -> list[str]:
        """Each kind's forms (``doctor``)."""
        return [kind.description for kind in self._kinds]

    def kind(self, dest: str) -> SinkKind:
        scheme, sep, target = dest.partition("?")[0].partition(":")
        kind = self._by_scheme.get(scheme) if sep else None
        if kind is None:
            raise FerrymanError(
                "sink.unknown",
                f"destination '{dest}' is not known{self._meant(scheme, sep, target)}; use"
                f" {self.describe()}",
            )
        return kind.variant(target)

    def _meant(self, scheme: str, sep: str, target: str) -> str:
        """`` (did you mean telegram:@chan?)`` for a kind mistyped (``telegrm:@chan``) or
        typed without its colon (``library``); nothing when no kind is near."""
        from ferryman.config.types import nearest  # lazy: start-up (`config set`'s own)

        near = [scheme] if not sep and scheme in self._by_scheme else nearest(scheme, self.schemes)
        return f" (did you mean {near[0]}:{target}?)" if near else ""

    def words(self, dest: str) -> str:
        """``dest`` in a person's words (its kind's ``words``, delivery options left
        out); a destination no kind here knows is shown as it is."""
        base = dest.partition("?")[0]
        try:
            kind = self.kind(base)
        except FerrymanError:
            return dest
        return kind.words(base.partition(":")[2])

    def parse(self, dest: str) -> Destination:
        """Check a destination now (``sink.unknown`` names what is wrong), not at delivery.
        Total: a kind whose parsing raises ``ValueError`` / ``UnicodeError`` refuses the
        destination with ``sink.unknown`` too, never a crash."""
        base, options = split(dest)
        kind = self.kind(base)
        extra = [key for key in options.given if key not in kind.takes]
        if extra:
            took = ", ".join(sorted(kind.takes)) or "none"
            raise FerrymanError(
                "sink.unknown",
                f"destination {dest!r}: a {kind.scheme}: destination takes no"
                f" {', '.join(extra)} (its options: {took})",
            )
        try:
            return Destination(kind.scheme, kind.parse(base.partition(":")[2]), options)
        except (ValueError, UnicodeError) as exc:
            raise FerrymanError(
                "sink.unknown", f"destination {dest!r} is not well formed ({exc})"
            ) from None

    def for_client(self, scheme: str, target: str | None) -> str:
        """The destination a remote client (the web API) asks for by kind, and target if
        the kind takes one from a client; ``request.invalid`` names what is wrong."""
        kind = self._by_scheme.get(scheme)
        if kind is None:
            from ferryman.config.types import nearest  # lazy: start-up (`config set`'s own)

            near = nearest(scheme, self.schemes)
            meant = f" (did you mean {near[0]}?)" if near else ""
            raise FerrymanError(
                "request.invalid",
                f"deliver.to '{scheme}' is not a destination{meant}; use {', '.join(self.schemes)}",
            )
        if target and kind.client_target is None:
            takes = [k.scheme for k in self._kinds if k.client_target is not None]
            raise FerrymanError("request.invalid", f"chat is for deliver.to = {' or '.join(takes)}")
        if target and _names_a_file(target):
            raise FerrymanError(
                "request.invalid", "thumb= names a file of the server: a client may not choose one"
            )
        return f"{scheme}:{target or kind.client_target or ''}"

    def expand(self, value: str) -> str:
        """A destination typed in a chat: ``scheme:…`` as is, else a kind's shorthand
        (``@name`` → ``telegram:@name``); unknown values are returned for ``parse`` to
        refuse with its message. Options after ``?`` stay as they are (``me?as=…``)."""
        scheme, sep, _ = value.partition(":")
        if sep and scheme in self._by_scheme:
            return value
        base, ask, options = value.partition("?")
        for kind in self._kinds:
            full = kind.shorthand(base)
            if full is not None:
                return full + ask + options
        return value

    def policy(self, settings: Settings, dest: str) -> Policy:
        return self.kind(dest).policy(settings)

    def keeps_results(self, dest: str) -> bool:
        """Whether a job to ``dest`` has download links (its kind ``keeps_results``);
        False for a destination no kind here takes."""
        try:
            return self.kind(dest).keeps_results
        except FerrymanError:
            return False

    def records_of(self, dest: str) -> str | None:
        """The scheme whose records a job to ``dest`` keeps (its kind's ``state_scope``,
        else its own); None for a destination no kind here takes."""
        try:
            kind = self.kind(dest)
        except FerrymanError:
            return None
        return kind.state_scope or kind.scheme

    def with_results(self) -> str:
        """The destinations whose jobs have download links, as ``--to`` takes them."""
        return " or ".join(f"{k.scheme}:" for k in self._kinds if k.keeps_results) or "none"

    def album_size(self, settings: Settings, dest: str) -> int:
        """The album size of a job: the setting, within what its destination takes."""
        return self.kind(dest).album_size(settings)

    def check_ready(self, settings: Settings, dest: str) -> None:
        found = self.parse(dest)
        self.kind(found.text).check_ready(settings, found.target)

    def open(self, dest: str, env: SinkEnv) -> Sink:
        found = self.parse(dest)
        return self.kind(found.text).open(found.target, env)


def _names_a_file(target: str) -> bool:
    """Whether a target carries ``thumb=`` (a path on this machine); one whose options
    are malformed is left for ``parse`` to refuse with its own words."""
    try:
        return split(target)[1].thumb is not None
    except FerrymanError:
        return False
