"""The fake's world: accounts, channels, message boxes, uploaded files, stored media."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Account:
    """A user or a bot."""

    id: int
    access_hash: int
    first_name: str
    username: str | None = None
    phone: str | None = None
    bot: bool = False
    premium: bool = False
    password: str | None = None  # two-step verification
    bot_token: str | None = None
    banned: bool = False
    login_code: str = "12345"
    dc_id: int = 2  # its home data centre (``dcs``): where its uploads are kept


@dataclass(slots=True)
class Channel:
    id: int
    access_hash: int
    title: str
    username: str | None = None
    broadcast: bool = True
    forum: bool = False
    slowmode_seconds: int = 0
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)  # may post in a broadcast channel
    topics: set[int] = field(default_factory=set)
    topic_titles: dict[int, str] = field(default_factory=dict)  # made by createForumTopic
    deleted_topics: set[int] = field(default_factory=set)  # a post to one: TOPIC_DELETED
    members_make_topics: bool = False  # else only admins may (Telegram's default)
    pinned: set[int] = field(default_factory=set)  # messages pinned (admins pin)
    banned: set[int] = field(default_factory=set)  # removed and banned by an admin


@dataclass(slots=True)
class Box:
    """One message box: an account's private chats, or one channel's history."""

    next_id: int = 1
    pts: int = 0
    messages: list[StoredMessage] = field(default_factory=list)
    updates: list[tuple[int, Any]] = field(default_factory=list)  # (pts, Update) log


@dataclass(slots=True)
class StoredFile:
    """A finished upload, assembled from its parts.

    A file kept without its bytes (``FakeTelegram.keep_part_bytes`` off) has empty
    ``data`` and carries its size and SHA-256 instead; it cannot be downloaded.
    """

    data: bytes = field(repr=False)
    name: str
    known_size: int | None = None
    known_sha256: str | None = None

    @property
    def sha256(self) -> str:
        if self.known_sha256 is not None:
            return self.known_sha256
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return self.known_size if self.known_size is not None else len(self.data)


@dataclass(slots=True)
class Upload:
    """Parts received for one client ``file_id``, before ``uploadMedia`` uses them.

    Without part bytes (big files while ``FakeTelegram.keep_part_bytes`` is off), parts
    are folded into ``digest`` in order as soon as the ones before them are in; ``parts``
    then holds only those that arrived ahead of a gap, so memory stays near the window.
    """

    parts: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None  # known for big files (saveBigFilePart)
    big: bool = False
    saves: int = 0  # how many part requests arrived (repeats included)
    sizes: dict[int, int] = field(default_factory=dict)  # part -> its length
    digest: Any = None  # hashlib.sha256 of parts 0..hashed-1, when bytes are not kept
    hashed: int = 0
    started: float | None = None  # when its first part arrived (``parts.PartLedger.ttl``)


@dataclass(slots=True)
class StoredMedia:
    """A photo or a document on the server: what a media reference points at."""

    kind: str  # photo | document
    id: int
    access_hash: int
    file_reference: bytes
    file: StoredFile
    tl: Any  # the Photo or Document as sent to clients
    mime_type: str = ""
    attributes: list[Any] = field(default_factory=list)
    thumb: StoredFile | None = None
    width: int | None = None
    height: int | None = None
    owner: int = 0
    dc_id: int = 2  # the data centre that keeps it (``dcs``), as ``tl.dc_id`` says


@dataclass(slots=True)
class StoredMessage:
    id: int
    peer: tuple[str, int]  # ("user", id) in an account's box, ("channel", id)
    from_id: int
    date: int
    text: str = ""
    media: StoredMedia | None = None
    grouped_id: int | None = None
    random_id: int | None = None
    topic_id: int | None = None
    out: bool = False
    edits: int = 0
    reply_to: int | None = None
    history: list[str] = field(default_factory=list)  # its texts before each edit
    reply_markup: Any = None  # a bot's buttons (ReplyInlineMarkup, ForceReply), as sent
    markups: list[Any] = field(default_factory=list)  # its buttons before each edit
    # Each edit's place: the newest message of the box then, and ``server.order``'s number.
    edited: list[tuple[int, int]] = field(default_factory=list)
    twin: int | None = None  # in a private chat: the same message's id in the other box
    action: Any = None  # a service message's MessageAction (a topic made), else None
