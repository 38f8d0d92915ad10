"""Plain data shared by every layer: states, kinds, and the records the store returns.

Nothing here imports anything from ferryman, so every layer may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol


class JobState(StrEnum):
    """A job's life. ``queued``/``reading`` read the input; ``active`` waits for items."""

    QUEUED = "queued"  # input not (fully) read yet; claimable by the read stage
    READING = "reading"  # a read worker holds the lease and reads entries
    ACTIVE = "active"  # every entry is an item; waiting for items to finish
    NEEDS_PASSWORD = "needs_password"  # reading stopped at an entry no known password opens
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class ItemState(StrEnum):
    """An item's life: staged in the work area, then ready, grouped, delivered."""

    CONVERT = "convert"  # needs a transcode; deferred until no deliverable work waits
    CONVERTING = "converting"
    READY = "ready"  # deliverable, not in an album yet
    GROUPED = "grouped"  # in a sealed album, waiting for its delivery
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    QUARANTINED = "quarantined"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_ITEM_STATES


TERMINAL_ITEM_STATES = frozenset(
    {
        ItemState.DELIVERED,
        ItemState.SKIPPED,
        ItemState.QUARANTINED,
        ItemState.FAILED,
        ItemState.CANCELLED,
    }
)


class AlbumState(StrEnum):
    SEALED = "sealed"  # complete; waiting for a deliver worker
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


class MediaKind(StrEnum):
    """What an entry is, decided from its content (magic bytes), not its name."""

    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    ANIMATION = "animation"
    DOCUMENT = "document"
    ARCHIVE = "archive"
    OTHER = "other"


class AlbumGroup(StrEnum):
    """Telegram's album rules: photos and videos mix; documents and audio stay apart."""

    VISUAL = "visual"
    DOCUMENT = "document"
    AUDIO = "audio"


def album_group(kind: MediaKind, plan: Plan | None = None) -> AlbumGroup:
    """Which album an item may join; a picture sent as a file travels with the documents."""
    if plan is Plan.DOCUMENT:
        return AlbumGroup.DOCUMENT
    if kind in (MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.ANIMATION):
        return AlbumGroup.VISUAL
    if kind is MediaKind.AUDIO:
        return AlbumGroup.AUDIO
    return AlbumGroup.DOCUMENT


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a probe learned about a media file; ``None`` where it does not apply."""

    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    pix_fmt: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None
    faststart: bool | None = None  # MP4 index (moov) before the data
    frames: int | None = None  # >1 for animations
    video_profile: str | None = None  # "High", "High 10", "Main"...
    bit_depth: int | None = None  # of the video's or image's samples
    rotation: int | None = None  # display rotation in degrees (width/height already swapped)
    # A video's stored width and height (before rotation) when its pixels are not square;
    # then width/height above are as displayed (the stored width scaled by the pixel shape).
    coded_width: int | None = None
    coded_height: int | None = None
    audio_channels: int | None = None
    audio_tracks: int | None = None  # how many audio streams the file holds
    size: int | None = None  # bytes on disk
    image_mode: str | None = None  # Pillow's mode: RGB, RGBA, CMYK, I;16...
    mirrored: bool | None = None  # EXIF orientation 2, 4, 5 or 7: a flip to undo as well
    pages: int | None = None  # a TIFF's pages of one size (a scan, a fax): each a photo
    other_audio: list[str] | None = None  # codecs of the audio tracks besides the main one
    title: str | None = None  # a song's tags: Telegram's music player shows them
    performer: str | None = None
    taken: float | None = None  # when it was taken (EXIF, creation_time): epoch seconds
    # Told by a sidecar beside it (Google Takeout's JSON: ``sources/takeout``): where it
    # was taken (degrees, metres), its description and the albums it is in. ``taken``
    # above is then the sidecar's.
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    description: str | None = None
    albums: list[str] | None = None
    hdr: str | None = None  # "pq" or "hlg": a video's HDR transfer (``media.hdr``)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> MediaInfo | None:
        if data is None:
            return None
        return cls(**{k: data.get(k) for k in cls.__slots__})

    def told(self, facts: PhotoFacts) -> MediaInfo:
        """These facts with what a sidecar told of the file (its time wins over the
        file's own: the person may have corrected it in Google Photos)."""
        return replace(
            self,
            taken=facts.taken if facts.taken is not None else self.taken,
            latitude=facts.latitude,
            longitude=facts.longitude,
            altitude=facts.altitude,
            description=facts.description,
            albums=list(facts.albums) or None,
        )

    def kept_from(self, before: MediaInfo | None) -> MediaInfo:
        """A converted copy's facts (these) with what a sidecar told of its original
        (``before``): its time, place, description and albums go with the copy."""
        if before is None or not (before.placed or before.albums):
            return self
        return replace(
            self,
            taken=before.taken if before.taken is not None else self.taken,
            latitude=before.latitude,
            longitude=before.longitude,
            altitude=before.altitude,
            description=before.description,
            albums=before.albums,
        )

    @property
    def placed(self) -> bool:
        """Whether a sidecar told where it was taken or what it shows."""
        return self.latitude is not None or self.description is not None


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """What a sidecar says of its photo or video (Google Takeout's JSON): when it was
    taken (epoch seconds, UTC), where (degrees, metres; None where not known) and its
    description; ``albums``: the albums it is in (``sources/takeout``)."""

    taken: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    description: str | None = None
    albums: tuple[str, ...] = ()


class Plan(StrEnum):
    """The cheapest correct action for an item, cheapest first (see ``media.plan``)."""

    AS_IS = "as_is"
    REMUX = "remux"  # container change / index to the front, stream copy
    AUDIO = "audio_transcode"  # video copied, audio re-encoded to AAC (deferred)
    IMAGE = "image"  # a picture converted to JPEG and/or fitted to the photo limits
    ANIMATION = "animation"  # GIF / animated WebP to a silent H.264 MP4 (deferred)
    TRANSCODE = "transcode"  # full re-encode, resumable by segments (deferred)
    SPLIT = "split"  # over the size limit: cut at keyframes into playable parts
    DOCUMENT = "document"  # sent as a file, unchanged
    QUARANTINE = "quarantine"  # nothing can make it deliverable


# Plans the convert stage carries out (deferred encodes, each in a child process).
ENCODED_PLANS = frozenset({Plan.TRANSCODE, Plan.AUDIO, Plan.ANIMATION})


@dataclass(slots=True)
class Job:
    id: int
    source: str
    name: str
    dest: str
    state: JobState
    priority: int
    wait_reason: str | None
    error_code: str | None
    error_message: str | None
    cursor: int
    read_done: bool
    created_at: float
    finished_at: float | None
    summary: dict[str, Any] | None = None
    passwords: tuple[str, ...] = field(default=(), repr=False)  # the job's own, in order
    paused: bool = False  # a flag, not a state: a paused job keeps its place
    attempts: int = 0
    started_at: float | None = None
    # Set by a claim only: started before (a turn given, a retry, a restart), so its
    # read resumes rather than starts (``JobResumed``, not a second ``JobStarted``).
    resumed: bool = False
    account: int | None = None  # whose job (``users.id``); None: the administrator's
    # Which run: 0 the first, one more at each retry. Progress reports name the run that
    # sent them, so a cancelled run's late report never shows as the retried job's.
    run: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """A piece of a file cut by bytes (a document over the destination's size limit),
    read in place: ``length`` bytes from ``offset`` of the staged file ``path``, never
    copied. Its name (``piece_name``) is the item's part: what the store keeps, the
    piece's identity across runs (an upload's resume record is keyed by it)."""

    path: str
    offset: int
    length: int


_PIECE = re.compile(r"(?P<path>.+)\.piece\d+@(?P<offset>\d+)\+(?P<length>\d+)")


def piece_name(path: str, number: int, offset: int, length: int) -> str:
    """The part naming piece ``number`` (from 1) of ``path``: its bytes from ``offset``."""
    return f"{path}.piece{number}@{offset}+{length}"


def window_of(part: str, whole: str | None) -> Window | None:
    """The window a part of the item whose file is ``whole`` names, if it is a piece cut
    by bytes (``piece_name``); None for a file of its own (a split video's part, a page)."""
    found = _PIECE.fullmatch(part)
    if found is None or whole is None or found["path"] != whole:
        return None
    return Window(whole, int(found["offset"]), int(found["length"]))


def parts_copied(plan: Plan | str | None, parts: Any) -> bool:
    """Whether an item's parts are files made beside its whole (a split video's parts,
    a scan's pages: as many bytes again), not windows read in place of it (a document
    cut by bytes, plan ``document``: no byte more)."""
    return bool(parts) and plan != Plan.DOCUMENT


def held(
    size: int, source_size: int | None, *, kept: bool, split: bool, encoding: bool = False
) -> tuple[int, int]:
    """The files and bytes an item still to deliver holds in the work area: its own file,
    the original kept beside a remuxed, fitted or converted copy (until the copy is
    delivered: a refused copy sends the original to quarantine), a split video's parts
    beside the whole (as large as it: ``split``, see ``parts_copied``), and for one
    still to be encoded the copy its encoder will make (taken as large as the original:
    room kept for it from the start).
    What the backlog counts: its bound is on what the work area holds, not items."""
    beside = ((kept, source_size or 0), (split, size), (encoding, size))
    return 1 + sum(on for on, _ in beside), size + sum(n for on, n in beside if on)


# An item's states while its encode is still to come or running: its copy is not made yet.
ENCODING = frozenset({ItemState.CONVERT.value, ItemState.CONVERTING.value})


@dataclass(slots=True)
class Item:
    id: int
    job_id: int
    seq: int
    source_path: str
    kind: MediaKind
    state: ItemState
    size: int
    sha256: str | None
    work_path: str | None
    plan: Plan | None
    reason: str | None
    error_code: str | None
    attempts: int
    album_id: int | None
    media: MediaInfo | None = None
    actions: list[str] = field(default_factory=list)
    error_message: str | None = None
    original_path: str | None = None
    thumb_path: str | None = None  # a video's thumbnail (JPEG within the policy's limits)
    parts: list[str] = field(default_factory=list)  # split to fit a size limit: these files
    source_size: int | None = None  # bytes as read from the input
    work_seconds: float = 0.0  # time spent making it deliverable

    @property
    def work_files(self) -> list[str]:
        """Every work-area file the item holds (its own, the original, thumbnail, parts):
        what delivery, cancelling and the crash sweep account for."""
        own = [p for p in (self.work_path, self.original_path, self.thumb_path) if p]
        return own + list(self.parts)

    @property
    def files(self) -> list[str]:
        """The files to deliver, in order: the parts of a split video, else the one file."""
        if self.parts:
            return list(self.parts)
        return [self.work_path] if self.work_path else []


@dataclass(slots=True)
class Album:
    id: int
    job_id: int
    seq: int
    group: AlbumGroup
    state: AlbumState
    attempts: int
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlbumClaim:
    """A claimed album with what its delivery needs of the job, read in the claim's own
    transaction (two reads fewer per album on the way out)."""

    album: Album
    job: Job
    albums: int  # the job's albums so far
    final: bool  # that number will not grow: the job is read and nothing is left open
    lease_until: float  # the claim's lease, in the store's clock


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One thing a sink keeps of a job (``sinks.base.SinkState``): its ``key`` among the
    job's records of that sink, a JSON-able ``value`` of the sink's own shape, and the
    album or item it is about, if any (it goes with them)."""

    key: str
    value: dict[str, Any]
    album_id: int | None = None
    item_id: int | None = None


@dataclass(frozen=True, slots=True)
class SinkWrite:
    """Records of the sink ``sink`` (its ``SinkState``'s scope) for one job, written in a
    transaction of the engine's: an album's record of delivery (``Delivered.keep``)."""

    sink: str
    job_id: int
    records: tuple[SinkRecord, ...]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A big upload under way (``sinks.base.SinkState.upload_get``): the file id chosen,
    the file it reads (``key``: its path; its size; the part size), the parts the server
    acknowledged, each part's CRC-32 as read (4 bytes each, little endian; zeros where
    not read yet), and when its first part went (parts expire on the server)."""

    account: str
    key: str
    file_id: int
    size: int
    part_size: int
    done: frozenset[int]
    checks: bytes
    started_at: float


class UploadBook(Protocol):
    """What a sink keeps of its big uploads under way (part of ``SinkState``; the store's
    ``sink_uploads``), so a run after a crash sends only the parts missing
    (``telegram/resume.py``)."""

    async def upload_get(self, account: str, key: str) -> UploadRecord | None:
        """The big upload of file ``key`` by ``account`` left under way, if any."""
        ...

    async def upload_put(self, record: UploadRecord, *, prune_before: float | None = None) -> None:
        """Keep ``record`` (replacing that file's); drop the sink's records not written
        since ``prune_before`` (their parts are gone from the server)."""
        ...

    async def upload_forget(self, account: str, key: str) -> None:
        """The upload ended (or starts over): nothing of it is kept."""
        ...


# The largest number a job, watch or other row may have: the store's INTEGER ids (32 bits
# on PostgreSQL; asked for a larger one, the database refuses with an error, not "none").
MAX_ROW_ID = 2**31 - 1

BATCH_SCHEME = "batch"  # a job of several inputs, read in order (``sources.batch``)


@dataclass(frozen=True, slots=True)
class BatchItem:
    uri: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """A job's inputs when it has several (the entries a watch found at one look), in
    order, with their titles, and the name the job goes by; its source URI is
    ``batch:`` and this as JSON. ``folder``: the library folder every look of the watch
    shares (the name before the job's ``(2)``, ``(3)``… made it unique): a camera roll
    grows one ``Camera/`` folder, not one folder per look."""

    name: str
    items: tuple[BatchItem, ...]
    folder: str | None = None

    def __str__(self) -> str:
        import json  # lazy: start-up

        listed = [[item.uri, item.title] for item in self.items]
        found: dict[str, object] = {"name": self.name, "items": listed}
        if self.folder is not None and self.folder != self.name:
            found["folder"] = self.folder
        body = json.dumps(found, ensure_ascii=False, separators=(",", ":"))
        return f"{BATCH_SCHEME}:{body}"

    @classmethod
    def parse(cls, uri: str) -> Batch:
        """Raises ValueError for what is not such a URI."""
        import json  # lazy: start-up

        try:
            found = json.loads(uri.removeprefix(f"{BATCH_SCHEME}:"))
            items = tuple(
                BatchItem(str(u), None if t is None else str(t)) for u, t in found["items"]
            )
            folder = found.get("folder")
            return cls(str(found["name"]), items, None if folder is None else str(folder))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{exc}") from None
